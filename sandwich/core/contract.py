"""The one contract every codec and every method implements.

A method takes an integer image in its declared domain and returns the complete bitstream; its
decoder takes those bytes back to an image of the same shape and dtype. Rate is always
8*len(bytes)/(H*W) of the source, so whatever a decoder needs (header, shapes, side information,
every layer) must be inside the bytes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from numbers import Real
from typing import Any, Sequence

import numpy as np

from sandwich.core.bitstream import (
    check_declared_sizes,
    check_pixels,
    extract_from_jpeg,
    jpeg_frame,
    unpack,
)
from sandwich.core.domains import DOMAINS
from sandwich.core.errors import DecodeError


class Method(ABC):
    """`encode(image, rate_point) -> bytes`, `decode(bytes) -> image`.

    Subclasses set `name`, `domain`, `rate_param` (what the rate grid controls) and `rate_points`,
    and describe themselves (with the versions of the libraries they call) in `description`.
    """

    name: str = ""
    domain: str = "hdr16"
    rate_param: str = "quality"
    rate_points: Sequence[Any] = ()
    # (low, high): the legal values of a numeric rate point, inclusive; integers when both are
    # ints. None: any value the method's own `check_rate_point` accepts.
    rate_range: tuple[Any, Any] | None = None

    @property
    @abstractmethod
    def description(self) -> str: ...

    @abstractmethod
    def _encode(self, image: np.ndarray, rate_point: Any) -> bytes: ...

    @abstractmethod
    def _decode(self, data: bytes) -> np.ndarray: ...

    def check_rate_point(self, rate_point: Any) -> Any:
        """`rate_point` if the method can code at it, else ValueError naming the legal range: an
        out-of-range setting is refused, never clamped or reinterpreted."""
        if self.rate_range is None:
            return rate_point
        low, high = self.rate_range
        integral = isinstance(low, int) and isinstance(high, int)
        legal = f"{self.rate_param} must be {'an integer' if integral else 'a number'} in {low}..{high}"
        if isinstance(rate_point, (bool, np.bool_)) or not isinstance(rate_point, Real):
            raise ValueError(f"{self.name}: rate point {rate_point!r}: {legal}")
        value = float(rate_point)
        if not math.isfinite(value) or not low <= value <= high or (integral and value != int(value)):
            raise ValueError(f"{self.name}: rate point {rate_point!r}: {legal}")
        return rate_point

    def encode(self, image: np.ndarray, rate_point: Any) -> bytes:
        check_image(image, self.domain, self.name)
        self.check_rate_point(rate_point)
        data = self._encode(image, rate_point)
        assert isinstance(data, bytes), f"{self.name}: encoder returned {type(data).__name__}"
        return data

    def decode(self, data: bytes) -> np.ndarray:
        """The image in `data`. Every size the file declares (its container's frame headers, the
        project header) is checked against the pixel budget (`bitstream.max_pixels`) first; any
        failure is a DecodeError naming this method."""
        if not isinstance(data, (bytes, bytearray)) or len(data) == 0:
            raise DecodeError(self.name, "empty input")
        try:
            data = bytes(data)
            check_declared_sizes(data, self.name)  # before any decoder allocates
            image = self._decode(data)
        except DecodeError as err:
            if err.method == self.name:
                raise
            raise DecodeError(self.name, f"{err.method}: {err.reason}") from err  # name the pipeline
        except Exception as err:  # any library failure on bad bytes becomes one clear error
            raise DecodeError(self.name, f"{type(err).__name__}: {err}") from err
        check_image(image, self.domain, self.name)
        return image

    # Codecs whose files can carry the project header inside a standard container override these
    # two, so a pipeline's bitstream stays a valid JPEG/HEIC that any viewer opens.
    can_embed_header = False

    def encode_with_header(self, image: np.ndarray, rate_point: Any, header: bytes) -> bytes:
        raise NotImplementedError(f"{self.name} cannot embed a header")

    def decode_with_header(self, data: bytes, method: str) -> tuple[np.ndarray, bytes]:
        """(image, packed header); errors name `method`, the pipeline that owns the bytes."""
        raise NotImplementedError(f"{self.name} cannot embed a header")

    def peek_with_header(self, data: bytes, method: str) -> tuple[bytes, tuple[int, int] | None]:
        """(packed header, (height, width) the container declares or None) without decoding any
        pixel; errors name `method`. The default reads a JPEG file."""
        packed, jpeg = extract_from_jpeg(data, method)
        frame = jpeg_frame(jpeg)
        return packed, frame[:2] if frame else None

    def decode_checked(self, data: bytes, method: str, factor: int = 1, layers: int = 0):
        """(image, Header) of a file `method` wrote: the header must be `method`'s, with `layers`
        layers, and the image must have the header's shape divided by `factor` (rounded up),
        exactly. The header's shape (within the pixel budget) and the size the container declares
        are checked before decoding."""
        packed, declared = self.peek_with_header(data, method)
        header = unpack(packed, method)
        if len(header.layers) != layers:
            raise DecodeError(method, f"expected {layers} header layers, got {len(header.layers)}")
        check_pixels(header.height, header.width, method, "project header")
        expected = (-(-header.height // factor), -(-header.width // factor))
        if declared is not None and tuple(declared) != expected:
            raise DecodeError(method, f"the file declares an image of {tuple(declared)}, the header implies {expected}")
        image, packed_again = self.decode_with_header(data, method)
        if packed_again != packed:
            raise DecodeError(method, "the header changed between reads")
        if image.shape[:2] != expected:
            raise DecodeError(method, f"decoded image is {image.shape[:2]}, the header implies {expected}")
        return image, header

    def describe_layers(self, layers: list[bytes]) -> list[str]:
        """Lines for `sandwich info` about what a header's layers hold (e.g. the checkpoint)."""
        return []

    def clear_cache(self) -> None:
        """Drop work a method caches across calls (a sandwich's last bottleneck); timing needs it."""

    def rate_search_grids(self) -> list[list[Any]]:
        """Rate points a target-rate search may try, as grids each bisected as monotone in rate.
        Integer settings (qualities, steps): every integer between the smallest and largest, since a
        target often falls between the bench's points. Other rate points (few, and not always
        monotone in rate) are each tried on their own."""
        points = list(self.rate_points)
        if points and all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in points):
            return [list(range(min(points), max(points) + 1))]
        return [[point] for point in points]

    def info(self) -> dict:
        return {
            "name": self.name,
            "domain": self.domain,
            "rate_param": self.rate_param,
            "rate_points": list(self.rate_points),
            "description": self.description,
        }


def check_image(image: np.ndarray, domain: str, who: str) -> None:
    dtype = DOMAINS[domain][0]
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{who}: expected an H×W×3 array, got {getattr(image, 'shape', type(image))}")
    if image.dtype != dtype:
        raise ValueError(f"{who}: domain {domain} needs {np.dtype(dtype).name}, got {image.dtype}")
