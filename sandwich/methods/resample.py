"""SR baseline: bicubic 2x down -> standard codec at half size -> Lanczos-3 up to full size."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sandwich.core.bitstream import Header
from sandwich.core.contract import Method
from sandwich.methods.wrapped import WrappedMethod, require_8bit_with_header


def downsample(image: np.ndarray, factor: int = 2) -> np.ndarray:
    """Bicubic (antialiased, Pillow) to ceil(H/f) × ceil(W/f)."""
    h, w = image.shape[:2]
    size = (-(-w // factor), -(-h // factor))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


def upsample(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Lanczos-3 (Pillow) to exactly height × width."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


class Resample(WrappedMethod):
    """The codec sees a `factor`× smaller image; the header (in the file) keeps the full size."""

    domain = "sr8"

    def __init__(self, codec: Method, name: str, factor: int = 2, rate_points=None):
        require_8bit_with_header(codec, name)
        super().__init__(codec, name, rate_points)
        self.factor = factor

    @property
    def description(self) -> str:
        return (
            f"bicubic {self.factor}x down (Pillow, antialiased), Lanczos-3 up (Pillow), "
            f"project header inside the file; codec: {self.codec.description}"
        )

    def _encode(self, image, rate_point):
        header = Header(self.name, *image.shape[:2]).pack()
        return self.codec.encode_with_header(downsample(image, self.factor), rate_point, header)

    def _decode(self, data):
        small, header = self.codec.decode_checked(data, self.name, self.factor)
        return upsample(small, header.height, header.width)


class FullResolution(WrappedMethod):
    """A standard 8-bit codec at full resolution: the reference the SR methods must beat."""

    domain = "sr8"

    def __init__(self, codec: Method, name: str, rate_points=None):
        if codec.domain != "rgb8":
            raise ValueError(f"{name}: needs an 8-bit RGB codec, got {codec.name} ({codec.domain})")
        super().__init__(codec, name, rate_points)

    @property
    def description(self) -> str:
        return f"full resolution, the codec's own file format; codec: {self.codec.description}"

    def _encode(self, image, rate_point):
        return self.codec.encode(image, rate_point)

    def _decode(self, data):
        return self.codec.decode(data)
