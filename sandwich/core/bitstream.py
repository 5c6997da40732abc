"""The project's versioned bitstream header and layer container.

Layout (all integers big-endian):
    magic b"SWCH" | format version u8 | method id (u8 length + utf-8) | height u32 | width u32
    | n_layers u8 | per layer: u32 length + bytes | checksum u32 (format 2)
The header rides inside a standard file: APP15 segments of a JPEG (`embed_in_jpeg`), a metadata
item of a HEIF (`codecs.heic`), so the file stays one that any viewer opens. Format 2 ends with a
CRC-32 of the complete file, read with those four bytes as zeros (`seal`, `check_seal`): base
image, method id, shape, side information and every layer, so a corrupted or patched file, or one
whose method id was changed, is refused. Format 1 files (no checksum) still decode.

Files are untrusted: `declared_sizes` reads the image sizes a JPEG/HEIF/AVIF/JPEG XL/PNG file
declares without decoding it, `check_declared_sizes` holds them (and the project header's) to the
pixel budget (`DEFAULT_MAX_PIXELS`, changed with `pixel_budget`), and `inflate` bounds zlib.
"""

from __future__ import annotations

import contextlib
import contextvars
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from sandwich.core.errors import DecodeError, NoHeader

MAGIC = b"SWCH"
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_CHECKSUM = struct.Struct(">I")
_APP15 = b"\xff\xef"
_SEGMENT_BYTES = 65533  # payload of one APP segment
_CONTINUATION = b"SWC+"


@dataclass
class Header:
    method: str
    height: int
    width: int
    layers: list[bytes] = field(default_factory=list)

    def pack(self) -> bytes:
        mid = self.method.encode()
        out = [MAGIC, struct.pack(">BB", FORMAT_VERSION, len(mid)), mid]
        out.append(struct.pack(">IIB", self.height, self.width, len(self.layers)))
        for layer in self.layers:
            out += [struct.pack(">I", len(layer)), layer]
        out.append(bytes(_CHECKSUM.size))  # the checksum, written by `seal` once the file is whole
        return b"".join(out)


def checksum_offset(packed: bytes) -> int | None:
    """Where in `packed` its checksum field starts (None: a format 1 header has none)."""
    return None if packed[4:5] == b"\x01" else len(packed) - _CHECKSUM.size


def _file_crc(data: bytes, at: int) -> int:
    """CRC-32 of `data` with its four checksum bytes at `at` read as zeros."""
    crc = zlib.crc32(data[:at])
    crc = zlib.crc32(bytes(_CHECKSUM.size), crc)
    return zlib.crc32(data[at + _CHECKSUM.size :], crc)


def seal(data: bytes, at: int) -> bytes:
    """`data` (a whole file) with the checksum field at `at` filled in."""
    return data[:at] + _CHECKSUM.pack(_file_crc(data, at)) + data[at + _CHECKSUM.size :]


def check_seal(data: bytes, at: int, who: str) -> None:
    """DecodeError unless the checksum field at `at` matches the whole file `data`."""
    if at < 0 or at + _CHECKSUM.size > len(data):
        raise DecodeError(who, "truncated header (no checksum)")
    if _CHECKSUM.unpack_from(data, at)[0] != _file_crc(data, at):
        raise DecodeError(who, "checksum mismatch: the file is corrupted or was altered")


def unpack(data: bytes, method: str | None) -> Header:
    """Parse a packed header; `method` is who expects it (named in every error, and the writer
    must match it); None reads a header of any method (`sandwich info`)."""
    who = method or "header"
    if len(data) < 6 or data[:4] != MAGIC:
        raise DecodeError(who, "not a sandwich bitstream (bad magic)")
    version, n = struct.unpack_from(">BB", data, 4)
    if version not in _READABLE_VERSIONS:
        raise DecodeError(who, f"unsupported format version {version}")
    if version > 1:  # the checksum, checked against the whole file by whoever read the header from it
        data = data[: -_CHECKSUM.size]
    pos = 6
    if len(data) < pos + n + 9:
        raise DecodeError(who, "truncated header")
    found = data[pos : pos + n].decode(errors="replace")
    if method is not None and found != method:
        raise DecodeError(who, f"bitstream was written by {found!r}")
    pos += n
    height, width, n_layers = struct.unpack_from(">IIB", data, pos)
    pos += 9
    if not (0 < height < 1 << 16 and 0 < width < 1 << 16):
        raise DecodeError(who, f"implausible image shape {height}x{width}")
    layers = []
    for i in range(n_layers):
        if len(data) < pos + 4:
            raise DecodeError(who, f"truncated before layer {i}")
        (size,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if len(data) < pos + size:
            raise DecodeError(who, f"layer {i} truncated ({len(data) - pos} of {size} bytes)")
        layers.append(data[pos : pos + size])
        pos += size
    if pos != len(data):
        raise DecodeError(who, f"{len(data) - pos} trailing bytes")
    return Header(found, height, width, layers)


def _jpeg_segments(jpeg: bytes):
    """Yield (marker, start, end) of the segments before the first SOS."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file (no SOI marker)")
    pos = 2
    while pos + 4 <= len(jpeg):
        if jpeg[pos] != 0xFF:
            raise ValueError(f"bad JPEG marker at byte {pos}")
        marker = jpeg[pos + 1]
        (length,) = struct.unpack_from(">H", jpeg, pos + 2)
        end = pos + 2 + length
        if end > len(jpeg):
            raise ValueError("truncated JPEG segment")
        yield marker, pos, end
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        pos = end
    raise ValueError("truncated JPEG (no start of scan)")


def embed_in_jpeg(jpeg: bytes, header: bytes) -> bytes:
    """Insert `header` as APP15 segment(s) after the JFIF APP0 (or right after SOI).

    One APP segment holds 65533 bytes; a longer header (e.g. a large extension layer) continues in
    APP15 segments tagged `SWC+`, in order (JPEG XT splits its boxes over APP11 segments alike).
    """
    if header[:4] != MAGIC:
        raise ValueError("header must be a packed sandwich header")
    step = _SEGMENT_BYTES - len(_CONTINUATION)
    chunks = [header[:_SEGMENT_BYTES]]
    chunks += [_CONTINUATION + header[i : i + step] for i in range(_SEGMENT_BYTES, len(header), step)]
    segments = b"".join(_APP15 + struct.pack(">H", len(chunk) + 2) + chunk for chunk in chunks)
    at = 2
    for marker, start, end in _jpeg_segments(jpeg):
        if marker == 0xE0:
            at = end
        break
    data = jpeg[:at] + segments + jpeg[at:]
    return data if checksum_offset(header) is None else seal(data, at + len(segments) - _CHECKSUM.size)


def extract_from_jpeg(jpeg: bytes, method: str | None) -> tuple[bytes, bytes]:
    """Return (packed header, the JPEG without its segments), the file's checksum checked; errors
    name `method`. A file without a header raises NoHeader."""
    parts, kept, pos = [], [], 0
    try:
        for marker, start, end in _jpeg_segments(jpeg):
            if marker != 0xEF:
                continue
            tag = jpeg[start + 4 : start + 8]
            if tag == MAGIC and not parts:
                parts.append(jpeg[start + 4 : end])
            elif tag == _CONTINUATION and parts:
                parts.append(jpeg[start + 8 : end])
            else:
                continue
            kept.append(jpeg[pos:start])
            pos = end
    except ValueError as err:
        raise DecodeError(method or "header", str(err)) from err
    if not parts:
        raise NoHeader(method or "header", "JPEG carries no sandwich header (APP15)")
    kept.append(jpeg[pos:])
    packed = b"".join(parts)
    if checksum_offset(packed) is not None:  # the field ends the last header segment
        check_seal(jpeg, pos - _CHECKSUM.size, method or "header")
    return packed, b"".join(kept)


CONTAINER_SUFFIX = {"JPEG": ".jpg", "HEIF": ".heic", "AVIF": ".avif", "JPEG XL": ".jxl", "unknown": ".bin"}


def container(data: bytes) -> str:
    """The standard file format of a bitstream, from its magic bytes (a key of CONTAINER_SUFFIX)."""
    if data[:2] == b"\xff\xd8":
        return "JPEG"
    if data[4:8] == b"ftyp":
        return "AVIF" if data[8:12] in (b"avif", b"avis") else "HEIF"
    if data[:2] == b"\xff\x0a" or data[:8] == b"\x00\x00\x00\x0cJXL ":
        return "JPEG XL"
    return "unknown"


# --- untrusted files: the sizes a container declares, checked before any decoder allocates ------

DEFAULT_MAX_PIXELS = 100_000_000  # about 100 megapixels: the largest image any decoder here may make
_pixel_budget = contextvars.ContextVar("sandwich_max_pixels", default=DEFAULT_MAX_PIXELS)


def max_pixels() -> int:
    """The pixel budget now in force (`DEFAULT_MAX_PIXELS` unless `pixel_budget` set another)."""
    return _pixel_budget.get()


@contextlib.contextmanager
def pixel_budget(pixels: int | None):
    """Decode under another pixel budget (None: the default) inside the `with` block."""
    if pixels is not None and (not isinstance(pixels, (int, np.integer)) or pixels < 1):
        raise ValueError(f"the pixel budget must be a positive integer, got {pixels!r}")
    token = _pixel_budget.set(DEFAULT_MAX_PIXELS if pixels is None else int(pixels))
    try:
        yield
    finally:
        _pixel_budget.reset(token)


def check_pixels(height: int, width: int, who: str, what: str = "image") -> None:
    """DecodeError when a declared `height`×`width` exceeds the pixel budget (or is empty)."""
    if height <= 0 or width <= 0:
        raise DecodeError(who, f"{what} declares an empty size {width}x{height}")
    budget = max_pixels()
    if height * width > budget:
        raise DecodeError(
            who, f"{what} declares {width}x{height} = {height * width / 1e6:.1f} Mpx, over the "
            f"{budget / 1e6:g} Mpx budget (--max-pixels)"
        )  # fmt: skip


def inflate(data: bytes, max_length: int, who: str, what: str = "side information") -> bytes:
    """zlib-decompress at most `max_length` bytes; a stream that would inflate further, or does
    not end, is refused (a few KB of zlib can otherwise inflate to gigabytes)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_length)
        more = inflater.unconsumed_tail or (not inflater.eof and inflater.decompress(b"", 1))
    except zlib.error as err:
        raise DecodeError(who, f"{what} does not decompress: {err}") from None
    if more or len(out) > max_length:
        raise DecodeError(who, f"{what} inflates beyond {max_length} bytes")
    if not inflater.eof:
        raise DecodeError(who, f"{what}: truncated zlib stream")
    if inflater.unused_data:
        raise DecodeError(who, f"{what}: {len(inflater.unused_data)} bytes after the zlib stream")
    return out


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_frame(jpeg: bytes) -> tuple[int, int, int] | None:
    """(height, width, sample precision) from a JPEG's frame header (SOFn), None when the file has
    none before its first scan."""
    try:
        for marker, start, end in _jpeg_segments(jpeg):
            if marker in _SOF_MARKERS:
                if end - start < 9:
                    return None
                precision, height, width = struct.unpack_from(">BHH", jpeg, start + 4)
                return height, width, precision
    except (ValueError, struct.error):
        return None
    return None


def jpeg_frames(data: bytes) -> list[tuple[int, int, int]]:
    """The frame headers of every JPEG in `data`: the file's own and any embedded JPEG (an Ultra
    HDR gain map after the primary image, an EXIF thumbnail). An entropy-coded scan never holds
    FF D8, so only a damaged file can show a JPEG that is not there. Call it on a file without
    its project header: the header's layers hold arbitrary bytes (`declared_sizes` does that)."""
    frames, at = [], 0
    while True:
        at = data.find(b"\xff\xd8\xff", at)
        if at < 0:
            return frames
        frame = jpeg_frame(data[at:])
        if frame is not None:
            frames.append(frame)
        at += 3


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """Yield (type, payload start, payload end) of the ISOBMFF boxes in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


_CONTAINER_BOXES = {b"meta": 4, b"iprp": 0, b"ipco": 0}  # box -> bytes before its children


def heif_properties(data: bytes) -> tuple[list[tuple[int, int]], list[int]]:
    """(every `ispe` (height, width), every bit depth of a `pixi` or `av1C`) of a HEIF/AVIF file,
    read from its boxes without decoding anything."""
    sizes, depths = [], []

    def walk(start, end, depth=0):
        for kind, lo, hi in _boxes(data, start, end):
            if kind in _CONTAINER_BOXES and depth < 8:
                walk(lo + _CONTAINER_BOXES[kind], hi, depth + 1)
            elif kind == b"ispe" and hi - lo >= 12:
                width, height = struct.unpack_from(">II", data, lo + 4)
                sizes.append((height, width))
            elif kind == b"pixi" and hi - lo >= 5:
                n = data[lo + 4]
                depths.extend(data[lo + 5 : min(hi, lo + 5 + n)])
            elif kind == b"av1C" and hi - lo >= 3:
                flags = data[lo + 2]
                high, twelve = bool(flags & 0x40), bool(flags & 0x20)
                depths.append(12 if high and twelve else 10 if high else 8)

    walk(0, len(data))
    return sizes, depths


class _Bits:
    """LSB-first bit reader (JPEG XL's order)."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        value = 0
        for i in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("truncated JPEG XL header")
            value |= ((self.data[byte] >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return value

    def u32(self, *bits: int) -> int:
        return self.read(bits[self.read(2)])


_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def jxl_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from a JPEG XL SizeHeader (bare codestream or ISOBMFF container)."""
    if data[:8] == b"\x00\x00\x00\x0cJXL ":
        stream = b""
        for kind, lo, hi in _boxes(data):
            if kind == b"jxlc":
                stream = data[lo:hi]
                break
            if kind == b"jxlp":
                stream += data[lo + 4 : hi]
                if len(stream) >= 64:
                    break
        data = stream
    if data[:2] != b"\xff\x0a":
        return None
    bits = _Bits(data[2:])
    try:
        if bits.read(1):  # small
            height = (bits.read(5) + 1) * 8
            ratio = bits.read(3)
            width = (bits.read(5) + 1) * 8 if ratio == 0 else None
        else:
            height = bits.u32(9, 13, 18, 30) + 1
            ratio = bits.read(3)
            width = bits.u32(9, 13, 18, 30) + 1 if ratio == 0 else None
    except ValueError:
        return None
    if width is None:
        num, den = _JXL_RATIOS[ratio]
        width = height * num // den
    return height, width


def png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return height, width


def declared_sizes(data: bytes) -> list[tuple[int, int]]:
    """Every image size (height, width) the file's container declares, read from its headers
    without decoding: JPEG frame headers (the file's, any embedded JPEG's, e.g. an Ultra HDR
    gain map or a JPEG XT extension layer), HEIF/AVIF `ispe`, JPEG XL's SizeHeader, PNG's IHDR."""
    kind = container(data)
    if kind == "JPEG":
        try:
            packed, data = extract_from_jpeg(data, None)
            layers = unpack(packed, None).layers
        except DecodeError:
            layers = []
        frames = jpeg_frames(data)  # the file without the project header's segments
        frames += [frame for layer in layers if layer[:3] == b"\xff\xd8\xff" and (frame := jpeg_frame(layer))]
        return [(h, w) for h, w, _ in frames]
    if kind in ("HEIF", "AVIF"):
        return heif_properties(data)[0]
    if kind == "JPEG XL":
        size = jxl_size(data)
        return [size] if size else []
    size = png_size(data)
    return [size] if size else []


def check_declared_sizes(data: bytes, who: str) -> None:
    """Refuse (DecodeError) a file whose container, or the project header inside a JPEG, declares
    an image over the pixel budget: checked before any decoder allocates."""
    for height, width in declared_sizes(data):  # a JPEG height of 0 (DNL): libjpeg-turbo refuses it too
        check_pixels(height, width, who, f"{container(data)} file")
    if container(data) == "JPEG":
        try:
            header = unpack(extract_from_jpeg(data, None)[0], None)
        except DecodeError:
            return
        check_pixels(header.height, header.width, who, "project header")
