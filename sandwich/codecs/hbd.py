"""High-bit-depth codecs from imagecodecs: AVIF (libavif/aom), JPEG XL (libjxl), Ultra HDR (libultrahdr)."""

from __future__ import annotations

import imagecodecs
import numpy as np

from sandwich.core.bitstream import heif_properties
from sandwich.core.contract import Method

_IC = f"imagecodecs {imagecodecs.__version__}"


class AVIF(Method):
    """AVIF at 10 or 12 bits, 4:4:4, libavif's quality `level` (100 = lossless)."""

    rate_param = "quality"
    rate_range = (0, 100)

    def __init__(self, bits=10, speed=6, rate_points=None, name=None):
        self.bits, self.speed = bits, speed
        self.domain = {10: "rgb10", 12: "rgb12"}[bits]
        self.name = name or f"avif{bits}"
        self.rate_points = tuple(rate_points or (30, 50, 70, 80, 90, 95))

    @property
    def description(self) -> str:
        return (
            f"{self.bits}-bit AVIF, YCbCr 4:4:4 (imagecodecs exposes no identity matrix), speed {self.speed}; "
            f"{_IC}, {imagecodecs.avif_version()}"
        )

    def _encode(self, image, rate_point):
        # libavif reads `bitspersample` samples from the low bits: 16-bit data here is garbage
        if image.max(initial=0) >= 1 << self.bits:
            raise ValueError(f"{self.name}: samples exceed {self.bits} bits")
        return bytes(
            imagecodecs.avif_encode(
                image, level=int(rate_point), speed=self.speed, bitspersample=self.bits, pixelformat="444", numthreads=1
            )
        )

    def _decode(self, data):
        depths = set(heif_properties(data)[1])  # `pixi` / `av1C`: the depth the file states
        if depths and depths != {self.bits}:
            raise ValueError(f"a {'/'.join(map(str, sorted(depths)))}-bit AVIF; {self.name} decodes {self.bits}-bit files")
        out = imagecodecs.avif_decode(data, numthreads=1)
        if out.dtype != np.uint16 or out.ndim != 3 or out.shape[2] != 3:
            raise ValueError(f"unexpected AVIF content {out.dtype} {out.shape}")
        return out


class JPEGXL(Method):
    """JPEG XL of 16-bit RGB (libjxl's own XYB transform), swept by butteraugli distance."""

    domain = "rgb16"
    name = "jxl"
    rate_param = "distance"
    rate_range = (0.0, 25.0)  # butteraugli distance, libjxl's range

    def __init__(self, effort=7, rate_points=None, name=None):
        self.effort = effort
        self.name = name or "jxl"
        self.rate_points = tuple(rate_points or (0.3, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0))

    @property
    def description(self) -> str:
        return f"JPEG XL, 16-bit input, effort {self.effort}; {_IC}, {imagecodecs.jpegxl_version()}"

    def _encode(self, image, rate_point):
        return bytes(imagecodecs.jpegxl_encode(image, distance=float(rate_point), effort=self.effort, numthreads=1))

    def _decode(self, data):
        out = imagecodecs.jpegxl_decode(data, numthreads=1)
        if out.dtype != np.uint16 or out.ndim != 3 or out.shape[2] != 3:
            raise ValueError(f"unexpected JPEG XL content {out.dtype} {out.shape}")
        return out


class UltraHDR(Method):
    """Ultra HDR (JPEG_R): SDR JPEG base + gain-map JPEG + metadata, from linear float RGB.

    Domain `linear`: 1.0 = SDR white (203 cd/m²); libultrahdr clips at 10000/203 ≈ 49.3.
    """

    domain = "linear"
    name = "ultrahdr"
    rate_param = "quality"
    rate_range = (1, 100)

    def __init__(self, rate_points=None, name=None):
        self.name = name or "ultrahdr"
        self.rate_points = tuple(rate_points or (30, 50, 70, 85, 90, 95, 98))

    @property
    def description(self) -> str:
        return f"Ultra HDR gain-map JPEG (base and map at `level`); {_IC}, {imagecodecs.ultrahdr_version()}"

    def _encode(self, image, rate_point):
        if min(image.shape[:2]) < 8:
            raise ValueError(f"{self.name}: libultrahdr needs at least 8x8 pixels, got {image.shape[1]}x{image.shape[0]}")
        rgba = np.ones(image.shape[:2] + (4,), np.float16)  # the encoder wants float16 RGBA
        rgba[..., :3] = np.clip(image, 0, 65504)
        return bytes(imagecodecs.ultrahdr_encode(rgba, level=int(rate_point)))

    def _decode(self, data):
        out = imagecodecs.ultrahdr_decode(data)
        if out.ndim != 3 or out.shape[2] != 4:
            raise ValueError(f"unexpected Ultra HDR content {out.dtype} {out.shape}")
        return np.ascontiguousarray(out[..., :3], dtype=np.float32)
