"""HEIC (HEVC in HEIF) through pillow-heif: 8-bit, and 10/12-bit with left-aligned samples."""

from __future__ import annotations

import io
import threading

import numpy as np
import pillow_heif

from sandwich.core.bitstream import check_pixels, check_seal, checksum_offset, seal
from sandwich.core.contract import Method, check_image
from sandwich.core.errors import DecodeError, NoHeader

# pillow-heif picks 10 vs 12 bit from a process-global option; guard it.
_BIT_DEPTH_LOCK = threading.Lock()
METADATA_TYPE = "uri "  # pillow-heif reads every 'mime' item back as XMP; 'uri ' items come back intact
METADATA_URI = "urn:sandwich:header"


def encode_heic(
    image: np.ndarray,
    quality: int,
    bits: int = 8,
    rgb: bool = False,
    chroma: str = "444",
    metadata: bytes | None = None,
) -> bytes:
    """HEIC of H×W×3 samples with `bits` bits (uint8 for 8, low-aligned uint16 for 10/12).

    `rgb=True` codes R, G, B directly (matrix_coefficients=0). `metadata` is stored as a HEIF
    metadata item, so the file stays a standard HEIC.
    """
    h, w = image.shape[:2]
    if bits == 8:
        heif = pillow_heif.from_bytes(mode="RGB", size=(w, h), data=np.ascontiguousarray(image, np.uint8).tobytes())
    elif bits in (10, 12):
        # pillow-heif wants the samples left-aligned in 16 bits; raw values would be truncated
        data = (image.astype(np.uint16) << (16 - bits)).tobytes()
        heif = pillow_heif.from_bytes(mode="RGB;16", size=(w, h), data=data)
    else:
        raise ValueError(f"HEIC bit depth must be 8, 10 or 12, got {bits}")
    kwargs: dict = {"quality": int(quality), "chroma": int(chroma)}
    if rgb:
        kwargs["matrix_coefficients"] = 0
    if metadata is not None:
        kwargs["metadata"] = [{"type": METADATA_TYPE, "content_type": METADATA_URI, "data": metadata}]
    buf = io.BytesIO()
    with _BIT_DEPTH_LOCK:
        saved = pillow_heif.options.SAVE_HDR_TO_12_BIT
        pillow_heif.options.SAVE_HDR_TO_12_BIT = bits == 12
        try:
            heif.save(buf, **kwargs)
        finally:
            pillow_heif.options.SAVE_HDR_TO_12_BIT = saved
    return buf.getvalue()


def decode_heic(data: bytes, bits: int = 8) -> np.ndarray:
    """The samples with `bits` bits, low-aligned."""
    heif = _open(data)  # lazy: the headers only
    depth = heif.info["bit_depth"]
    if depth != bits:
        raise ValueError(f"expected a {bits}-bit HEIC, file is {depth}-bit")
    image = np.asarray(heif)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected RGB, file has shape {image.shape}")
    if bits > 8:
        image = image >> (16 - bits)
    return np.ascontiguousarray(image)


def _open(data: bytes):
    """pillow-heif's lazy open of the primary image, its declared size within the pixel budget."""
    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)
    width, height = heif.size
    check_pixels(height, width, "HEIC", "HEIF image")
    return heif


def _header_item(heif) -> bytes | None:
    return next((m["data"] for m in heif.info.get("metadata", []) if m.get("type") == METADATA_TYPE), None)


def _item_offset(data: bytes, item: bytes, who: str) -> int:
    """Where the header item's bytes lie in the file: stored as they are, once."""
    at = data.find(item)
    if at < 0 or data.find(item, at + 1) >= 0:
        raise DecodeError(who, "the HEIF header item is not stored exactly once")
    return at


def read_heic_header(data: bytes, who: str = "header") -> bytes:
    """The embedded project header item of a HEIC file, its checksum checked, without decoding the
    image; NoHeader when it has none."""
    return _sealed_header(data, _open(data), who)


def _sealed_header(data: bytes, heif, who: str) -> bytes:
    header = _header_item(heif)
    if header is None:
        raise NoHeader(who, "HEIC carries no sandwich header item")
    offset = checksum_offset(header)
    if offset is not None:
        check_seal(data, _item_offset(data, header, who) + offset, who)
    return header


def versions() -> str:
    info = pillow_heif.libheif_info()
    return f"pillow-heif {pillow_heif.__version__}, libheif {info['libheif']}, {info['HEIF']}"


class HEIC(Method):
    """HEIC at 8, 10 or 12 bits, 4:4:4 by default, quality sweep."""

    rate_param = "quality"
    rate_range = (0, 100)  # x265 quality through pillow-heif (-1, lossless, is not a lossy setting)

    can_embed_header = True

    def __init__(self, bits=8, rgb=False, chroma="444", rate_points=None, name=None):
        self.bits, self.rgb, self.chroma = bits, rgb, chroma
        self.domain = {8: "rgb8", 10: "rgb10", 12: "rgb12"}[bits]
        self.name = name or ("heic" if bits == 8 else f"heic{bits}")
        self.rate_points = tuple(rate_points or (30, 50, 70, 80, 90, 95))

    @property
    def description(self) -> str:
        colour = "RGB (matrix_coefficients=0)" if self.rgb else "YCbCr (BT.601)"
        return f"{self.bits}-bit HEIC, {colour} {self.chroma}, x265 quality sweep; {versions()}"

    def _encode(self, image, rate_point):
        return encode_heic(image, rate_point, self.bits, self.rgb, self.chroma)

    def _decode(self, data):
        return decode_heic(data, self.bits)

    def encode_with_header(self, image, rate_point, header):
        check_image(image, self.domain, self.name)
        data = encode_heic(image, rate_point, self.bits, self.rgb, self.chroma, metadata=header)
        offset = checksum_offset(header)
        return data if offset is None else seal(data, _item_offset(data, header, self.name) + offset)

    def peek_with_header(self, data, method):
        try:
            heif = _open(data)
            header, (width, height) = _sealed_header(data, heif, method), heif.size
        except DecodeError as err:
            raise type(err)(method, err.reason) from None
        return header, (height, width)

    def decode_with_header(self, data, method):
        header, _ = self.peek_with_header(data, method)
        return decode_heic(data, self.bits), header
