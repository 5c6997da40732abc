"""JPEG XT profiles A/B/C (sandwich.methods.jpegxt) and the Reinhard–Devlin TMO they share (sandwich.methods.tmo)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8
from sandwich.core.bitstream import MAGIC
from sandwich.core.errors import DecodeError
from sandwich.core.transfer import nits_to_pq16, pq16_to_nits
from sandwich.methods.jpegxt import JpegXTA, JpegXTB, JpegXTC
from sandwich.methods.tmo import itmo_lut, tonemap

PROFILES = [JpegXTA, JpegXTB, JpegXTC]
# PSNR (dB, peak 65535) on the synthetic image at the lowest / highest quality; measured values are
# about A 61/71, B 56/67, C 68/89, so each bound leaves 2-4 dB of margin
PSNR_BOUNDS = {"jpegxt_a": (47.0, 66.0), "jpegxt_b": (43.0, 62.0), "jpegxt_c": (59.0, 78.0)}  # ~3 dB under measured (q10, q95)


def hdr_ramp_nits(height: int = 67, width: int = 93) -> np.ndarray:
    """~10 stops left to right (0.05 to 51 cd/m²), tinted by smooth colour gradients."""
    y, x = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    lum = 0.05 * 2.0 ** (10 * x) * (1 + 0.3 * np.sin(9 * y))
    tint = np.stack([0.6 + 0.4 * y, 0.8 + 0.2 * np.sin(6 * x), 1.0 - 0.5 * y], axis=-1)
    return lum[..., None] * tint


def _black_block(height: int, width: int) -> np.ndarray:
    mask = np.ones((height, width, 1))
    mask[height // 5 : height // 2, width // 5 : width // 2] = 0
    return mask


def psnr16(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(65535.0**2 / mse)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return nits_to_pq16(hdr_ramp_nits())


@pytest.fixture(scope="module", params=PROFILES, ids=lambda cls: cls.name)
def sweep(request, image):
    """(method, {quality: (bitstream, decoded)}) over the method's whole rate grid."""
    method = request.param()
    results = {}
    for quality in method.rate_points:
        data = method.encode(image, quality)
        results[quality] = (data, method.decode(data))
    return method, results


def test_round_trip_shape_and_dtype(sweep, image):
    _, results = sweep
    for _, decoded in results.values():
        assert decoded.dtype == np.uint16 and decoded.shape == image.shape


def test_bitstream_is_a_jpeg_showing_the_base(sweep, image):
    _, results = sweep
    for data, _ in results.values():
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "JPEG" and im.size == (image.shape[1], image.shape[0])
        base = decode_jpeg8(data)
        # the base is the tone-mapped image: it follows the 10-stop ramp from dark to bright
        assert base[:, :4].mean() < 60 and base[:, -4:].mean() > 180


def test_quality_improves_with_rate(sweep, image):
    method, results = sweep
    qualities = sorted(results)
    sizes = np.array([len(results[q][0]) for q in qualities])
    # the closed loop moves per-image ranges a little, so neighbouring rate points may tie
    assert np.all(sizes[1:] >= 0.99 * sizes[:-1]) and sizes[-1] > 2.5 * sizes[0]
    low, high = (psnr16(image, results[q][1]) for q in (qualities[0], qualities[-1]))
    low_bound, high_bound = PSNR_BOUNDS[method.name]
    assert low > low_bound
    assert high > high_bound and high > low + 3.0


@pytest.mark.parametrize("cls", PROFILES, ids=lambda cls: cls.name)
@pytest.mark.parametrize(
    "make",
    [
        lambda: nits_to_pq16(hdr_ramp_nits(9, 13)),
        lambda: np.full((9, 13, 3), 30000, np.uint16),
        lambda: np.zeros((9, 13, 3), np.uint16),
        lambda: np.full((1, 1, 3), 65535, np.uint16),
        lambda: nits_to_pq16(hdr_ramp_nits(40, 48) * _black_block(40, 48)),
    ],
    ids=["tiny", "constant", "black", "single_pixel", "zeros"],
)
def test_awkward_images(cls, make):
    source = make()
    method = cls()
    with np.errstate(all="raise"):  # no division by zero or log of zero anywhere
        decoded = method.decode(method.encode(source, 80))
    assert decoded.shape == source.shape and decoded.dtype == np.uint16
    # 45 dB ≈ an RMS error of 370 PQ codes: a black pixel clamped at the 1e-4 cd/m² floor stays within it
    assert psnr16(source, decoded) > 45.0


@pytest.mark.parametrize("cls", PROFILES, ids=lambda cls: cls.name)
def test_header_larger_than_one_jpeg_segment(cls):
    # fine texture makes the extension layer larger than the 64 KiB one APP segment holds
    rng = np.random.default_rng(0)
    textured = hdr_ramp_nits(256, 256) * rng.uniform(0.5, 1.5, (256, 256, 3))
    source = nits_to_pq16(textured)
    method = cls()
    data = method.encode(source, 98)
    assert len(data) > 2 * 65536
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (256, 256)
    decoded = method.decode(data)
    assert decoded.shape == source.shape and psnr16(source, decoded) > 45.0


def _header_at(data: bytes) -> int:
    return data.index(MAGIC)


def _too_many_layers(data: bytes, method_id: str) -> bytes:
    # the layer count sits after magic (4), version and id length (2), the id, height and width (8)
    out = bytearray(data)
    out[_header_at(data) + 6 + len(method_id) + 8] = 3
    return bytes(out)


CORRUPTIONS = {
    "half": lambda data, name: data[: len(data) // 2],
    "no_eoi": lambda data, name: data[:-2],
    "header_cut": lambda data, name: data[: _header_at(data) + 20],
    "no_header": lambda data, name: data.replace(MAGIC, b"XXXX", 1),
    "layer_count": _too_many_layers,
    "garbage": lambda data, name: b"\xff\xd8" + np.random.default_rng(1).bytes(500),
    "plain_jpeg": lambda data, name: encode_jpeg8(np.zeros((8, 8, 3), np.uint8), quality=90),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
@pytest.mark.parametrize("cls", PROFILES, ids=lambda cls: cls.name)
def test_bad_bitstreams_raise_decode_error(cls, corrupt, image):
    method = cls()
    with pytest.raises(DecodeError):
        method.decode(corrupt(method.encode(image, 80), method.name))


def test_profile_mismatch_raises_decode_error(image):
    data = JpegXTA().encode(image, 80)
    for other in (JpegXTB(), JpegXTC()):
        with pytest.raises(DecodeError, match="jpegxt_a"):
            other.decode(data)


def test_description_names_profile_and_versions():
    for cls in PROFILES:
        text = cls().description
        assert f"profile {cls.name[-1].upper()}" in text and "Pillow" in text and "imagecodecs" in text


def test_tmo_is_uint8_and_monotone_in_luminance():
    gray = np.repeat(np.geomspace(1e-3, 1e4, 500)[None, :, None], 3, axis=2)
    ldr = tonemap(gray)
    assert ldr.dtype == np.uint8 and ldr.shape == gray.shape
    assert np.all(np.diff(ldr[0, :, 0].astype(int)) >= 0)
    assert ldr.min() == 0 and ldr.max() == 255
    with np.errstate(all="raise"):
        assert tonemap(np.zeros((3, 4, 3))).dtype == np.uint8
        flat = tonemap(np.full((3, 4, 3), 100.0))
    assert np.ptp(flat) == 0


def test_itmo_lut_is_non_decreasing_and_fills_gaps():
    nits = hdr_ramp_nits()
    ldr = tonemap(nits)
    decoded = decode_jpeg8(encode_jpeg8(ldr, quality=30, keep_rgb=True))  # noisy codes: raw means zig-zag
    lut = itmo_lut(decoded, nits)
    assert lut.shape == (256,) and np.all(np.diff(lut) >= 0)
    assert lut[0] >= 0 and lut[-1] <= nits.max()
    # on the exact tone-mapped image a code's entry is the mean of the HDR values behind it
    exact = itmo_lut(ldr, nits)
    for code in np.unique(ldr)[:: 17]:
        assert exact[code] == pytest.approx(nits[ldr == code].mean(), rel=1e-9)
    sparse = itmo_lut(np.array([[10, 200]], np.uint8), np.array([[1.0, 5.0]]))
    assert sparse[10] == 1.0 and sparse[200] == 5.0
    assert sparse[100] == pytest.approx(1 + 4 * 90 / 190) and np.all(np.diff(sparse) >= 0)


def test_tmo_round_trip_through_lut_tracks_the_source():
    nits = pq16_to_nits(nits_to_pq16(hdr_ramp_nits())).astype(np.float64)
    ldr = tonemap(nits)
    recovered = itmo_lut(ldr, np.log2(nits))[ldr]
    assert np.abs(recovered - np.log2(nits)).mean() < 0.1  # within a tenth of a stop on average
