"""Read and write images; turn any accepted file into a task's canonical integer image.

Accepted: OpenEXR, Radiance .hdr and PFM (linear float RGB), 16-bit PNG/TIFF, 8-bit PNG/JPEG (and
8-bit TIFF). The format is the file's content (its magic bytes), not its name: a PNG named .exr is
read as the PNG it is (with a warning). The size the file declares is checked against the pixel
budget (`sandwich.core.bitstream.max_pixels`) before anything is decoded. Anything else, and files with no positive value or that cannot be read, raise
`ImageError` naming the file and the reason. Each with a warning: NaN/Inf samples are replaced,
alpha is dropped, and a gray file (one channel, e.g. a luminance-only EXR, or gray + alpha)
becomes R = G = B, since every codec here takes RGB.

HDR task: linear files are scaled to absolute luminance (by default the 99.5th-percentile
luminance maps to 1000 cd/m²) and PQ-encoded to uint16; 16-bit PNG/TIFF are taken as they are
(assumed PQ code values). SR task: uint8 RGB.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # must precede the first cv2 import

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from sandwich.core.bitstream import jpeg_frame, max_pixels, png_size  # noqa: E402
from sandwich.core.files import atomic_path  # noqa: E402
from sandwich.core.transfer import luminance, nits_to_pq16  # noqa: E402

LINEAR_SUFFIXES = {".exr", ".hdr", ".pfm"}
INTEGER_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg"}
SUFFIXES = LINEAR_SUFFIXES | INTEGER_SUFFIXES


class ImageError(ValueError):
    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True)
class HDRScaling:
    """How relative linear radiance becomes absolute luminance before PQ encoding."""

    percentile: float = 99.5
    nits: float = 1000.0


# format: (what the suffixes promise, the suffixes)
_FORMATS = {
    "OpenEXR": {".exr"},
    "Radiance": {".hdr"},
    "PFM": {".pfm"},
    "PNG": {".png"},
    "TIFF": {".tif", ".tiff"},
    "JPEG": {".jpg", ".jpeg"},
}


def sniff(head: bytes) -> str | None:
    """The image format of a file from its first bytes (a key of `_FORMATS`), None if unknown."""
    if head[:4] == b"\x76\x2f\x31\x01":
        return "OpenEXR"
    if head[:2] == b"#?":
        return "Radiance"
    if head[:2] in (b"PF", b"Pf") and head[2:3].isspace():
        return "PFM"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    return None


def declared_size(path, kind: str, head: bytes) -> tuple[int, int] | None:
    """(height, width) the file's header declares, read without decoding; None if not found."""
    if kind == "OpenEXR":
        return _exr_size(head)
    if kind == "Radiance":
        match = re.search(rb"\n\s*\n([-+])([YX]) (\d+) ([-+])([YX]) (\d+)", head)
        if not match:
            return None
        first, second = int(match.group(3)), int(match.group(6))
        return (first, second) if match.group(2) == b"Y" else (second, first)
    if kind == "PFM":
        fields = head.split(None, 3)
        try:
            return int(fields[2]), int(fields[1])
        except (IndexError, ValueError):
            return None
    if kind == "PNG":
        return png_size(head)
    if kind == "JPEG":
        frame = jpeg_frame(head)
        return frame[:2] if frame else None
    with warnings.catch_warnings():  # TIFF: Pillow's lazy open reads the first IFD only
        warnings.simplefilter("ignore")
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # our budget decides, below
        try:
            with Image.open(path) as im:  # lazy: reads the header only
                return im.size[1], im.size[0]
        except Exception:
            return None
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _exr_size(head: bytes) -> tuple[int, int] | None:
    pos = 8  # magic, version
    while pos < len(head) and head[pos] != 0:
        name_end = head.find(b"\0", pos)
        type_end = head.find(b"\0", name_end + 1)
        if name_end < 0 or type_end < 0 or type_end + 5 > len(head):
            return None
        (size,) = struct.unpack_from("<i", head, type_end + 1)
        value = type_end + 5
        if head[pos:name_end] == b"dataWindow" and size == 16 and value + 16 <= len(head):
            xmin, ymin, xmax, ymax = struct.unpack_from("<4i", head, value)
            return ymax - ymin + 1, xmax - xmin + 1
        if size < 0:
            return None
        pos = value + size
    return None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Return H×W×3 RGB: float32 linear for EXR/.hdr/.pfm, uint16 or uint8 for integer files."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImageError(path, f"unsupported file type {suffix or '(none)'}; accepted: {', '.join(sorted(SUFFIXES))}")
    if not path.is_file():
        raise ImageError(path, "no such file")
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as err:
        raise ImageError(path, f"unreadable ({err.strerror or err})") from None
    kind = sniff(head)
    if kind is None:
        raise ImageError(path, f"unreadable: not a file of an accepted image format (its content is no {suffix[1:].upper()})")
    if suffix not in _FORMATS[kind]:
        warnings.warn(f"{path}: named {suffix} but holds a {kind} file; read as {kind}", stacklevel=2)
        suffix = sorted(_FORMATS[kind])[0]
    size = declared_size(path, kind, head)
    if size is None and len(head) == 1 << 16:  # a long header (EXIF, ICC profile, EXR preview...)
        with open(path, "rb") as f:
            size = declared_size(path, kind, f.read(1 << 24))
    if size is None:
        raise ImageError(path, f"unreadable {kind} header (no image size)")
    height, width = size
    if height <= 0 or width <= 0:
        raise ImageError(path, f"{kind} header declares an empty image {width}x{height}")
    if height * width > max_pixels():
        raise ImageError(path, f"{kind} header declares {width}x{height} = {height * width / 1e6:.1f} Mpx, over the "
                               f"{max_pixels() / 1e6:g} Mpx budget (--max-pixels)")  # fmt: skip
    if suffix in LINEAR_SUFFIXES:
        # cv2 reads every EXR here, including luminance/chroma (Y, RY, BY) files, as BGR(A)
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ImageError(path, "unreadable (not a valid OpenEXR/Radiance/PFM file)")
        image = _finite(path, _to_rgb(path, image, bgr=True).astype(np.float32))
        if not (image > 0).any():
            raise ImageError(path, "has no positive value (negative-only or black)")
        return np.maximum(image, 0.0)  # tiny negatives from lossy EXR compression
    if suffix in {".png", ".tif", ".tiff"}:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ImageError(path, "unreadable image file")
        if image.dtype not in (np.uint8, np.uint16):
            raise ImageError(path, f"unsupported sample type {image.dtype}; need 8- or 16-bit integers")
        return _to_rgb(path, image, bgr=True)
    try:  # JPEG: Pillow handles CMYK/ICC/EXIF variants
        with Image.open(path) as im:
            im.load()
            if im.mode in ("L", "LA", "1"):
                _warn_gray(path, stacklevel=3)
            image = np.asarray(im.convert("RGB"))
    except ImageError:
        raise
    except Exception as err:
        raise ImageError(path, f"unreadable image file ({err})") from err
    return image


def _finite(path, image: np.ndarray) -> np.ndarray:
    """+Inf (a half-float overflow, e.g. the sun) becomes the largest finite value, NaN and -Inf
    become 0, with a warning: one bad sample should not keep a scene out of a benchmark."""
    bad = ~np.isfinite(image)
    if not bad.any():
        return image
    finite = image[~bad]
    if finite.size == 0:
        raise ImageError(path, "has no finite value")
    warnings.warn(f"{path}: {int(bad.sum())} NaN/Inf samples: +Inf set to the largest finite value, NaN and -Inf to 0", stacklevel=3)
    return np.where(np.isposinf(image), finite.max(), np.where(bad, 0.0, image)).astype(np.float32)


def _warn_gray(path, stacklevel: int) -> None:
    warnings.warn(f"{path}: grayscale, coded as R = G = B", stacklevel=stacklevel)


def _to_rgb(path, image: np.ndarray, bgr: bool) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] in (2, 4):
        warnings.warn(f"{path}: alpha channel dropped", stacklevel=3)
    if image.shape[2] in (1, 2):  # gray (+ alpha)
        _warn_gray(path, stacklevel=4)
        return np.ascontiguousarray(np.repeat(image[..., :1], 3, axis=2))
    if image.shape[2] not in (3, 4):
        raise ImageError(path, f"{image.shape[2]} channels; RGB or gray is required")
    image = image[..., :3]
    return np.ascontiguousarray(image[..., ::-1] if bgr else image)


def linear_to_pq16(linear: np.ndarray, scaling: HDRScaling = HDRScaling()) -> np.ndarray:
    """Relative linear RGB -> absolute luminance (percentile -> `nits`) -> PQ uint16."""
    y = luminance(linear.astype(np.float64))
    anchor = np.percentile(y, scaling.percentile)
    if anchor <= 0:
        anchor = y.max()
    return nits_to_pq16(linear * (scaling.nits / anchor))


def load_hdr16(path, scaling: HDRScaling = HDRScaling()) -> np.ndarray:
    """Canonical HDR source: uint16 H×W×3 PQ code values."""
    image = read_image(path)
    if image.dtype == np.float32:
        return linear_to_pq16(image, scaling)
    if image.dtype == np.uint16:
        return image
    raise ImageError(path, "8-bit image given to the HDR task; provide EXR, .hdr, .pfm or 16-bit PNG/TIFF")


def load_sr8(path) -> np.ndarray:
    """Canonical SR source: uint8 H×W×3."""
    image = read_image(path)
    if image.dtype == np.uint8:
        return image
    raise ImageError(path, f"the SR task takes 8-bit images, this one is {image.dtype}")


def load_for_domain(path, domain: str, scaling: HDRScaling = HDRScaling()) -> np.ndarray:
    if domain == "hdr16":
        return load_hdr16(path, scaling)
    if domain == "sr8":
        return load_sr8(path)
    raise ValueError(f"unknown task domain {domain!r}")


def list_images(root, pattern: str = "*") -> list[Path]:
    """Image files directly in `root` (sorted by name) whose type the readers accept."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    return sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in SUFFIXES)


def write_png(path, image: np.ndarray) -> None:
    """8- or 16-bit RGB PNG (16-bit for HDR code values), written atomically (`core.files`): a
    failed write leaves whatever file was there."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"PNG needs uint8 or uint16, got {image.dtype}")
    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(image[..., ::-1])) or tmp.stat().st_size == 0:
            raise OSError(f"could not write {path}")


def write_exr(path, linear: np.ndarray) -> None:
    """Linear float RGB OpenEXR (half float, ZIP), written atomically (`core.files`)."""
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with atomic_path(path, suffix=".exr") as tmp:
        OpenEXR.File(header, {"RGB": np.ascontiguousarray(linear, np.float16)}).write(str(tmp))
        if tmp.stat().st_size == 0:
            raise OSError(f"could not write {path}")

