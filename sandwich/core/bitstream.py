"""The project's versioned bitstream header and layer container.

Layout (all integers big-endian):
    magic b"SWCH" | format version u8 | method id (u8 length + utf-8) | height u32 | width u32
    | n_layers u8 | per layer: u32 length + bytes
Where the payload is itself a standard JPEG, the packed header rides in an APP15 segment inside
it (`embed_in_jpeg`), so the file stays a valid JPEG that any viewer opens.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from sandwich.core.errors import DecodeError

MAGIC = b"SWCH"
FORMAT_VERSION = 1
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
        return b"".join(out)


def unpack(data: bytes, method: str | None) -> Header:
    """Parse a packed header; `method` is who expects it (named in every error, and the writer
    must match it); None reads a header of any method (`sandwich info`)."""
    who = method or "header"
    if len(data) < 6 or data[:4] != MAGIC:
        raise DecodeError(who, "not a sandwich bitstream (bad magic)")
    version, n = struct.unpack_from(">BB", data, 4)
    if version != FORMAT_VERSION:
        raise DecodeError(who, f"unsupported format version {version}")
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
    return jpeg[:at] + segments + jpeg[at:]


def extract_from_jpeg(jpeg: bytes, method: str | None) -> tuple[bytes, bytes]:
    """Return (packed header, the JPEG without its segments); errors name `method`."""
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
        raise DecodeError(method or "header", "JPEG carries no sandwich header (APP15)")
    kept.append(jpeg[pos:])
    return b"".join(parts), b"".join(kept)


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
