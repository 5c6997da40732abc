"""A method built around one standard codec: it codes at the codec's rate points, named by the
codec's rate parameter, unless its config gives its own grid."""

from __future__ import annotations

from typing import Any, Sequence

from sandwich.core.contract import Method


def require_8bit_with_header(codec: Method, name: str) -> None:
    """Methods whose file is an 8-bit codec's standard file with the project header inside."""
    if codec.domain != "rgb8" or not codec.can_embed_header:
        raise ValueError(f"{name}: needs an 8-bit codec that carries the header, got {codec.name}")


class WrappedMethod(Method):
    def __init__(self, codec: Method, name: str, rate_points: Sequence[Any] | None = None):
        self.codec, self.name = codec, name
        self.rate_param = codec.rate_param
        self.rate_points = tuple(rate_points or codec.rate_points)
        self.rate_range = codec.rate_range
