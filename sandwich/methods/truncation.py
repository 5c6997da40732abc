"""Bit-depth reduction: keep the top bits of the 16-bit HDR source, code them with a standard codec,
reconstruct at the middle of each dropped-bits bin.

With an 8-bit codec this is the "truncation + midpoint" baseline of the sandwich paper; with a
10/12/16-bit codec it is that codec used directly on the HDR image.
"""

from __future__ import annotations

import numpy as np

from sandwich.core.bitstream import Header
from sandwich.core.contract import Method
from sandwich.core.domains import DOMAINS
from sandwich.core.errors import DecodeError
from sandwich.methods.wrapped import WrappedMethod

_CODEC_BITS = {"rgb8": 8, "rgb10": 10, "rgb12": 12, "rgb16": 16}


def truncate(image16: np.ndarray, bits: int) -> np.ndarray:
    out = image16 >> (16 - bits)
    return out.astype(np.uint8) if bits == 8 else out


def midpoint(codes: np.ndarray, bits: int) -> np.ndarray:
    """Top-`bits` codes back to 16 bits at the centre of each bin (exact for bits == 16)."""
    shift = 16 - bits
    restored = codes.astype(np.uint16) << shift
    return restored | np.uint16((1 << shift) >> 1) if shift else restored


class Truncation(WrappedMethod):
    """`codec` on the top bits of the 16-bit source; header embedded when `header` is set."""

    domain = "hdr16"

    def __init__(self, codec: Method, name: str, header: bool = True, rate_points=None):
        if codec.domain not in _CODEC_BITS:
            raise ValueError(f"{name}: codec {codec.name} takes {codec.domain}, not integer RGB")
        if header and not codec.can_embed_header:
            raise ValueError(f"{name}: codec {codec.name} cannot carry the project header")
        super().__init__(codec, name, rate_points)
        self.header = header
        self.bits = _CODEC_BITS[codec.domain]

    @property
    def description(self) -> str:
        recon = "midpoint reconstruction" if self.bits < 16 else "no truncation"
        wrap = "project header inside the file" if self.header else "the codec's own file format"
        return f"top {self.bits} of 16 bits (PQ code values), {recon}, {wrap}; codec: {self.codec.description}"

    def _encode(self, image, rate_point):
        codes = truncate(image, self.bits)
        if not self.header:
            return self.codec.encode(codes, rate_point)
        header = Header(self.name, *image.shape[:2]).pack()
        return self.codec.encode_with_header(codes, rate_point, header)

    def _decode(self, data):
        if self.header:
            codes, _ = self.codec.decode_checked(data, self.name)
        else:
            codes = self.codec.decode(data)
        if codes.dtype != DOMAINS[self.codec.domain][0] or codes.max(initial=0) >= 1 << self.bits:
            raise DecodeError(self.name, f"decoded samples are not {self.bits}-bit")
        return midpoint(codes, self.bits)
