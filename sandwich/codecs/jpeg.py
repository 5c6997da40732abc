"""JPEG: 8-bit through Pillow/libjpeg-turbo, 12-bit through imagecodecs (libjpeg-turbo)."""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
import PIL
from PIL import Image, ImageFile, features

from sandwich.core.bitstream import (
    check_pixels,
    embed_in_jpeg,
    extract_from_jpeg,
    jpeg_frame,
)
from sandwich.core.contract import Method


class _EmbedsInJPEG:
    """Carry the project header in an APP15 segment of the JPEG file."""

    can_embed_header = True

    def encode_with_header(self, image, rate_point, header):
        return embed_in_jpeg(self.encode(image, rate_point), header)

    def decode_with_header(self, data, method):
        header, jpeg = extract_from_jpeg(data, method)
        return self._decode(jpeg), header


_SUBSAMPLING = {"444": 0, "422": 1, "420": 2}


def versions() -> str:
    """The 8-bit JPEG library versions, for method descriptions."""
    return f"Pillow {PIL.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}"


def table_multipliers(tilt: float = 0.0, chroma: float = 1.0) -> np.ndarray:
    """2×8×8 (luma, chroma) factors of a step table: entry (u, v) is (1 + tilt·(u+v)/14), times
    `chroma` in the chroma table. tilt 0, chroma 1 is the flat table."""
    if tilt < 0 or chroma <= 0:
        raise ValueError(f"tilt must be ≥ 0 and chroma > 0, got {tilt}, {chroma}")
    frequency = np.add.outer(np.arange(8), np.arange(8)) / 14.0
    luma = 1.0 + tilt * frequency
    return np.stack([luma, chroma * luma])


def step_tables(step: float, tilt: float = 0.0, chroma: float = 1.0) -> list[list[int]]:
    """JPEG's luma and chroma quantization tables (natural order, as Pillow takes them) for base
    step Δ: round(Δ·table_multipliers), clipped to baseline JPEG's 1..255."""
    tables = np.clip(np.round(float(step) * table_multipliers(tilt, chroma)), 1, 255).astype(int)
    return [t.ravel().tolist() for t in tables]


def encode_jpeg8(
    image: np.ndarray,
    quality: int | None = None,
    flat_step: int | None = None,
    subsampling: str = "444",
    keep_rgb: bool = False,
    ycbcr_planes: bool = False,
    tilt: float = 0.0,
    chroma: float = 1.0,
) -> bytes:
    """8-bit JPEG of an H×W×3 (or H×W) uint8 array; optimized Huffman tables always.

    Exactly one of `quality` (IJG quality tables) or `flat_step` (all 64 entries = step, the
    table of the sandwich's codec) is given. `tilt` and `chroma` shape the step table around
    `flat_step` (`step_tables`; the defaults keep it flat). `keep_rgb` codes R, G, B without YCbCr.
    `ycbcr_planes` also codes the three planes as they are, but tags them as YCbCr: for planes
    that hold a YCbCr image (the HDR sandwich's bottleneck), a plain viewer then shows natural
    colours. The coded planes are those of `keep_rgb`; decode them with `decode_jpeg8(ycbcr_planes=True)`.
    """
    if (quality is None) == (flat_step is None):
        raise ValueError("give exactly one of quality or flat_step")
    if keep_rgb and ycbcr_planes:
        raise ValueError("keep_rgb and ycbcr_planes tag the planes differently: give one")
    kwargs: dict = {"optimize": True}
    if image.ndim == 3:
        kwargs.update(subsampling=_SUBSAMPLING[subsampling], keep_rgb=keep_rgb)
    if flat_step is not None:
        if keep_rgb and chroma != 1.0:
            raise ValueError("keep_rgb codes R, G and B with the luma table: a chroma factor needs YCbCr")
        tables = step_tables(flat_step, tilt, chroma)
        # no `quality` here: in Pillow 13 quality=100 silently replaces the given tables with all ones
        kwargs.update(qtables=tables[:1] if image.ndim == 2 else tables)
    else:
        if (tilt, chroma) != (0.0, 1.0):
            raise ValueError("tilt and chroma shape a step table, not IJG quality tables")
        kwargs.update(quality=int(quality))
    buf = io.BytesIO()
    # with optimize=True libjpeg writes the file in one shot; Pillow sizes that buffer at 2·W·H,
    # which near-lossless noisy images overflow ("Suspension not allowed here")
    saved, ImageFile.MAXBLOCK = ImageFile.MAXBLOCK, max(ImageFile.MAXBLOCK, 4 * image.size + 65536)
    try:
        picture = Image.fromarray(image)
        if ycbcr_planes and image.ndim == 3:  # a YCbCr image is written without conversion
            picture = Image.frombytes("YCbCr", picture.size, np.ascontiguousarray(image).tobytes())
        picture.save(buf, format="JPEG", **kwargs)
    finally:
        ImageFile.MAXBLOCK = saved
    return buf.getvalue()


def _require_eoi(data: bytes) -> None:
    # libjpeg fills a truncated scan with grey and only warns; a complete file ends with EOI
    if data[-2:] != b"\xff\xd9":
        raise ValueError("truncated JPEG (no EOI marker)")


def _require_frame(data: bytes, bits: int, expect: tuple[int, int] | None) -> None:
    """Before decoding: the frame header must exist, have `bits`-bit samples, fit the pixel budget
    and, when `expect` is given, declare exactly that (height, width)."""
    frame = jpeg_frame(data)
    if frame is None:
        raise ValueError("not a JPEG file (no frame header before the first scan)")
    height, width, precision = frame
    if precision != bits:
        raise ValueError(f"the file is a {precision}-bit JPEG, expected {bits}-bit")
    check_pixels(height, width, f"JPEG{'' if bits == 8 else bits}", "JPEG frame header")
    if expect is not None and (height, width) != tuple(expect):
        raise ValueError(f"JPEG frame header declares {(height, width)}, expected {tuple(expect)}")


def decode_jpeg8(data: bytes, ycbcr_planes: bool = False, expect: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 array of a JPEG file; `ycbcr_planes`: a YCbCr file's planes as coded, not converted;
    `expect`: the (height, width) the frame header must declare (checked before decoding)."""
    _require_eoi(data)
    _require_frame(data, 8, expect)
    with Image.open(io.BytesIO(data)) as im:
        if im.format != "JPEG":
            raise ValueError(f"not a JPEG file ({im.format})")
        if ycbcr_planes and im.mode == "RGB":
            if im.info.get("adobe_transform", 1) != 1:  # Adobe transform 0: planes tagged RGB
                raise ValueError("not a YCbCr JPEG file")
            im.draft("YCbCr", im.size)  # libjpeg then skips its YCbCr -> RGB conversion
        im.load()
        if ycbcr_planes and im.mode == "YCbCr":
            return np.asarray(im)
        if im.mode == "L":
            return np.asarray(im)
        return np.asarray(im.convert("RGB"))


def encode_jpeg12(image: np.ndarray, quality: int, subsampling: str = "444", keep_rgb: bool = False) -> bytes:
    """12-bit lossy JPEG; `image` holds values 0..4095 (scale first: unscaled data is garbage)."""
    if image.max(initial=0) > 4095:
        raise ValueError("12-bit JPEG input must be in 0..4095")
    kwargs = {"outcolorspace": "RGB"} if keep_rgb and image.ndim == 3 else {}
    return bytes(
        imagecodecs.jpeg8_encode(
            image, level=int(quality), subsampling=subsampling, bitspersample=12, optimize=True, **kwargs
        )
    )


def decode_jpeg12(data: bytes, expect: tuple[int, int] | None = None) -> np.ndarray:
    _require_eoi(data)
    _require_frame(data, 12, expect)
    out = imagecodecs.jpeg8_decode(data)
    if out.dtype != np.uint16:
        raise ValueError(f"not a 12-bit JPEG (decoded {out.dtype})")
    return out


class JPEG(_EmbedsInJPEG, Method):
    """Baseline 8-bit JPEG. `table="quality"` sweeps IJG quality, `table="flat"` a flat table step."""

    domain = "rgb8"

    def __init__(
        self, table="quality", subsampling="444", keep_rgb=False, rate_points=None, name=None, ycbcr_planes=False,
        tilt=0.0, chroma=1.0,
    ):  # fmt: skip
        if table not in ("quality", "flat"):
            raise ValueError(f"table must be 'quality' or 'flat', got {table!r}")
        if keep_rgb and ycbcr_planes:
            raise ValueError("keep_rgb and ycbcr_planes tag the planes differently: give one")
        if table == "quality" and (tilt, chroma) != (0.0, 1.0):
            raise ValueError("tilt and chroma shape a step table (table: flat)")
        table_multipliers(tilt, chroma)  # checks them
        self.table, self.subsampling, self.keep_rgb, self.ycbcr_planes = table, subsampling, keep_rgb, ycbcr_planes
        self.tilt, self.chroma = float(tilt), float(chroma)
        self.name = name or ("jpeg" if table == "quality" else "jpeg_flat")
        self.rate_param = "quality" if table == "quality" else "step"
        self.rate_range = (1, 100) if table == "quality" else (1, 255)  # IJG quality; baseline table entries
        default = (30, 50, 70, 80, 90, 95, 98) if table == "quality" else (1, 2, 3, 4, 6, 8, 12, 16)
        self.rate_points = tuple(rate_points or default)

    def with_tables(self, tilt: float, chroma: float) -> "JPEG":
        """The same codec with other step tables (checked as the constructor checks them)."""
        return JPEG(
            self.table, self.subsampling, self.keep_rgb, self.rate_points, self.name, self.ycbcr_planes, tilt, chroma
        )

    @property
    def description(self) -> str:
        if self.keep_rgb:
            colour = "RGB (keep_rgb, no colour transform)"
        elif self.ycbcr_planes:
            colour = "planes coded as given, tagged YCbCr (no colour transform)"
        else:
            colour = "YCbCr"
        table = self.table
        if (self.tilt, self.chroma) != (0.0, 1.0):
            table = f"shaped step (Δ·(1 + {self.tilt:g}·(u+v)/14), chroma ×{self.chroma:g})"
        return f"8-bit JPEG, {table} tables, {colour} {self.subsampling}, optimized Huffman; {versions()}"

    def _encode(self, image, rate_point):
        if self.table == "quality":
            table = {"quality": rate_point}
        else:
            table = {"flat_step": rate_point, "tilt": self.tilt, "chroma": self.chroma}
        return encode_jpeg8(
            image, **table, subsampling=self.subsampling, keep_rgb=self.keep_rgb, ycbcr_planes=self.ycbcr_planes
        )

    def _decode(self, data):
        return decode_jpeg8(data, ycbcr_planes=self.ycbcr_planes)


class JPEG12(_EmbedsInJPEG, Method):
    """12-bit lossy JPEG (libjpeg-turbo through imagecodecs), quality tables."""

    domain = "rgb12"
    name = "jpeg12"
    rate_param = "quality"
    rate_range = (1, 100)

    def __init__(self, subsampling="444", keep_rgb=False, rate_points=None, name=None):
        self.subsampling, self.keep_rgb = subsampling, keep_rgb
        self.name = name or "jpeg12"
        self.rate_points = tuple(rate_points or (30, 50, 70, 80, 90, 95))

    @property
    def description(self) -> str:
        colour = "RGB (no colour transform)" if self.keep_rgb else "YCbCr"
        return (
            f"12-bit JPEG, quality tables, {colour} {self.subsampling}, optimized Huffman; "
            f"imagecodecs {imagecodecs.__version__}, libjpeg-turbo {imagecodecs.jpeg8_version()}"
        )

    def _encode(self, image, rate_point):
        return encode_jpeg12(image, rate_point, self.subsampling, self.keep_rgb)

    def _decode(self, data):
        return decode_jpeg12(data)
