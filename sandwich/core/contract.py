"""The one contract every codec and every method implements.

A method takes an integer image in its declared domain and returns the complete bitstream; its
decoder takes those bytes back to an image of the same shape and dtype. Rate is always
8*len(bytes)/(H*W) of the source, so whatever a decoder needs (header, shapes, side information,
every layer) must be inside the bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from sandwich.core.bitstream import unpack
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

    @property
    @abstractmethod
    def description(self) -> str: ...

    @abstractmethod
    def _encode(self, image: np.ndarray, rate_point: Any) -> bytes: ...

    @abstractmethod
    def _decode(self, data: bytes) -> np.ndarray: ...

    def encode(self, image: np.ndarray, rate_point: Any) -> bytes:
        check_image(image, self.domain, self.name)
        data = self._encode(image, rate_point)
        assert isinstance(data, bytes), f"{self.name}: encoder returned {type(data).__name__}"
        return data

    def decode(self, data: bytes) -> np.ndarray:
        if not isinstance(data, (bytes, bytearray)) or len(data) == 0:
            raise DecodeError(self.name, "empty input")
        try:
            image = self._decode(bytes(data))
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

    def decode_checked(self, data: bytes, method: str, factor: int = 1):
        """(image, Header) of a file `method` wrote: the header must be `method`'s and the image
        must have the header's shape divided by `factor` (rounded up)."""
        image, packed = self.decode_with_header(data, method)
        header = unpack(packed, method)
        expected = (-(-header.height // factor), -(-header.width // factor))
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
