"""Han's two layers outside the networks: the tone-mapped JPEG base with its ITMO table, and the
residual mapping (RM) of HDR − ITMO(decoded base) to [0, 255].

Domain: the residual lives in 16-bit PQ code values (the project's HDR domain), where equal steps
are roughly equal visible steps. TMO: global Reinhard–Devlin (`sandwich.methods.tmo`, as JPEG XT's
encoder); ITMO: the 256-entry table of the mean PQ value behind each decoded base code, channels
pooled, rounded to uint16 and sent as side information. RM: per channel, with the integer minimum
m and maximum M of the residual r sent as side information and s = max(|m|, |M|, 1),
R' = 127.5·(1 + r/s) maps [m, M] into [0, 255] with "no residual" at the centre. The autoencoder
codes R'/127.5 − 1 = r/s ∈ [−1, 1], so an all-zero output means the ITMO prediction (the ITMO
table holds per-code means, so m ≤ 0 ≤ M and [m, M] fills the range on at least one side).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8
from sandwich.core.bitstream import inflate
from sandwich.core.transfer import pq16_to_nits
from sandwich.methods.tmo import itmo_lut, tonemap

_RANGES = struct.Struct(">B6i")  # iterations, per-channel residual minima and maxima


@dataclass
class SideInfo:
    iterations: int
    lut: np.ndarray  # uint16[256]: ITMO, decoded base code -> PQ code value
    low: np.ndarray  # int32[3]: residual minimum per channel
    high: np.ndarray  # int32[3]: residual maximum per channel

    def pack(self) -> bytes:
        return _RANGES.pack(self.iterations, *self.low.tolist(), *self.high.tolist()) + zlib.compress(
            self.lut.astype(">u2").tobytes(), 9
        )

    @classmethod
    def unpack(cls, data: bytes) -> "SideInfo":
        """Raises ValueError on anything malformed."""
        if len(data) < _RANGES.size:
            raise ValueError(f"side information is {len(data)} bytes, shorter than {_RANGES.size}")
        iterations, *ranges = _RANGES.unpack(data[: _RANGES.size])
        # at most the table's 512 bytes: a few KB of zlib could otherwise inflate to gigabytes
        table = inflate(data[_RANGES.size :], 2 * 256, "side information", "ITMO table")
        lut = np.frombuffer(table, ">u2").astype(np.uint16)
        low, high = np.array(ranges[:3], np.int32), np.array(ranges[3:], np.int32)
        if lut.size != 256 or np.any(high < low):
            raise ValueError("bad ITMO table or residual range")
        return cls(iterations, lut, low, high)


@dataclass
class Analysis:
    """Everything the encoder derives from the source before the autoencoder."""

    base: bytes  # the base JPEG file
    base_hat: np.ndarray  # its decoded uint8 image
    lut: np.ndarray  # ITMO table
    prediction: np.ndarray  # lut[base_hat], uint16
    low: np.ndarray
    high: np.ndarray
    mapped: np.ndarray  # RM'd residual, what the autoencoder codes

    def side(self, iterations: int) -> SideInfo:
        return SideInfo(iterations, self.lut, self.low, self.high)


def analyse(image: np.ndarray, quality: int) -> Analysis:
    """16-bit PQ source -> base layer, ITMO prediction and mapped residual at base `quality`."""
    base, base_hat = base_layer(image, quality)
    lut = itmo_table(base_hat, image)
    prediction = lut[base_hat]
    low, high = residual_ranges(image, prediction)
    return Analysis(base, base_hat, lut, prediction, low, high, map_residual(image, prediction, low, high))


def base_layer(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    """16-bit PQ source -> (base JPEG file, its decoded uint8 image): Reinhard–Devlin TMO, then a
    standard 8-bit JPEG (YCbCr 4:4:4)."""
    data = encode_jpeg8(tonemap(pq16_to_nits(image)), quality=quality, subsampling="444")
    return data, decode_jpeg8(data)


def itmo_table(base_hat: np.ndarray, image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(itmo_lut(base_hat, image.astype(np.float64))), 0, 65535).astype(np.uint16)


def residual_ranges(image: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = image.astype(np.int32) - prediction.astype(np.int32)
    return r.reshape(-1, 3).min(0), r.reshape(-1, 3).max(0)


def residual_scale(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(np.abs(low), np.abs(high)), 1).astype(np.float64)


def map_residual(image: np.ndarray, prediction: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """RM, as the autoencoder sees it: (image − prediction) -> r/s in [−1, 1], float32 H×W×3."""
    r = image.astype(np.float64) - prediction.astype(np.float64)
    return (r / residual_scale(low, high)).astype(np.float32)


def unmap_residual(mapped: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """RM⁻¹: r/s -> residual in PQ code values (float64)."""
    return mapped.astype(np.float64) * residual_scale(low, high)
