"""Every registered codec and method: round trip, bitstream errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import CODECS, METHODS
from hydra.utils import instantiate
from PIL import Image

from sandwich.core.domains import DOMAINS
from sandwich.core.errors import DecodeError
from sandwich.evaluation.metrics import psnr

# PSNR (dB) a method must reach at its highest rate point on the synthetic images: far below what
# they reach (so not flaky), far above what a broken pipeline gives (wrong bits, shifts, colours)
MIN_PSNR_AT_TOP = {"hdr16": 44.0, "sr8": 24.0}
# Han's top point is a q95 tone-mapped base + ≤ 1 bpp of residual: on this 45×61 synthetic image
# (unlike its training data) rate control codes no residual, so the ITMO prediction bounds it
MIN_PSNR_AT_TOP_OF = {"han_cnn": 40.0, "han_rc": 40.0, "han_pp": 40.0}


def _method(compose_cfg, name):
    cfg = compose_cfg("eval", [f"method={name}"])
    return instantiate(cfg.method, _convert_="all")


@pytest.mark.parametrize("name", CODECS)
def test_codec_config_instantiates_and_round_trips(compose_cfg, name):
    cfg = compose_cfg("eval", [f"+codec={name}"])
    codec = instantiate(cfg.codec, _convert_="all")
    dtype, peak, _ = DOMAINS[codec.domain]
    y, x = np.mgrid[0:33, 0:47] / 47
    smooth = (0.5 + 0.4 * np.sin(5 * x + 3 * y))[..., None] * np.array([1.0, 0.8, 0.6])
    image = (smooth * (peak or 4.0)).astype(dtype)  # the linear domain: up to 4× SDR white
    scores = []
    for rate_point in (codec.rate_points[0], codec.rate_points[-1]):  # grids run either way
        data = codec.encode(image, rate_point)
        assert isinstance(data, bytes) and len(data) > 0
        decoded = codec.decode(data)
        assert decoded.shape == image.shape and decoded.dtype == image.dtype
        scores.append(psnr(image.astype(np.float64), decoded.astype(np.float64), peak or 4.0))
    assert max(scores) > 35, f"{name}: {scores}"  # a smooth image at the codec's best setting


@pytest.mark.parametrize("name", METHODS)
def test_method_round_trip(compose_cfg, hdr_image, sr_image, name):
    method = _method(compose_cfg, name)
    assert method.name == name and method.description and len(method.rate_points) >= 4
    image = hdr_image if method.domain == "hdr16" else sr_image
    peak = DOMAINS[method.domain][1]
    scores, sizes = [], []
    fresh = _method(compose_cfg, name)  # has seen no encode: everything a decoder needs is in the bytes
    for rate_point in (method.rate_points[0], method.rate_points[-1]):
        data = method.encode(image, rate_point)
        assert isinstance(data, bytes)
        decoded = method.decode(data)
        assert decoded.shape == image.shape and decoded.dtype == image.dtype
        assert np.array_equal(fresh.decode(data), decoded), f"{name}: decode depends on encode-side state"
        scores.append(psnr(image, decoded, peak))
        sizes.append(len(data))
    best = max(scores)
    assert best >= MIN_PSNR_AT_TOP_OF.get(name, MIN_PSNR_AT_TOP[method.domain]), f"{name}: {scores}"
    assert sizes[0] != sizes[1], f"{name}: the rate grid does not change the bitstream"


@pytest.mark.parametrize("name", METHODS)
def test_bad_bitstreams_raise_clear_error(compose_cfg, hdr_image, sr_image, name):
    method = _method(compose_cfg, name)
    image = hdr_image if method.domain == "hdr16" else sr_image
    data = method.encode(image, method.rate_points[len(method.rate_points) // 2])
    rng = np.random.default_rng(1)
    corrupted = bytearray(data)
    corrupted[: min(64, len(data))] = rng.integers(0, 256, min(64, len(data)), dtype=np.uint8).tobytes()
    for bad in (data[: len(data) // 2], data[:10], bytes(corrupted), b"", b"not an image at all" * 10):
        with pytest.raises(DecodeError, match=name):
            method.decode(bad)


def test_foreign_bitstream_is_refused(compose_cfg, hdr_image):
    jpeg = _method(compose_cfg, "truncation_jpeg")
    flat = _method(compose_cfg, "truncation_jpeg_flat")
    with pytest.raises(DecodeError, match="written by 'truncation_jpeg'"):
        flat.decode(jpeg.encode(hdr_image, 90))
    plain = io.BytesIO()
    Image.fromarray((hdr_image >> 8).astype(np.uint8)).save(plain, format="JPEG")
    with pytest.raises(DecodeError, match="no sandwich header"):
        jpeg.decode(plain.getvalue())


def test_pipeline_files_stay_standard_images(compose_cfg, hdr_image, sr_image):
    """A viewer opens a truncation JPEG/HEIC (it shows the top 8 bits) and a bicubic JPEG (half size)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    for name, image, shape in [
        ("truncation_jpeg", hdr_image, hdr_image.shape[:2]),
        ("truncation_heic", hdr_image, hdr_image.shape[:2]),
        ("bicubic_jpeg", sr_image, ((sr_image.shape[0] + 1) // 2, (sr_image.shape[1] + 1) // 2)),
    ]:
        method = _method(compose_cfg, name)
        with Image.open(io.BytesIO(method.encode(image, method.rate_points[-1]))) as im:
            im.load()
            assert (im.height, im.width) == shape


def test_flat_tables_are_applied(compose_cfg, hdr_image):
    """Pillow silently drops `qtables` when `quality` is also given: the step must change the file."""
    from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8

    codes = (hdr_image >> 8).astype(np.uint8)
    sizes = [len(encode_jpeg8(codes, flat_step=s, keep_rgb=True)) for s in (1, 4, 16)]
    assert sizes[0] > sizes[1] > sizes[2]
    with Image.open(io.BytesIO(encode_jpeg8(codes, flat_step=6))) as im:
        assert set(im.quantization[0]) == {6}
    # step 1 in RGB is near-lossless: only the DCT rounding remains
    assert np.abs(decode_jpeg8(encode_jpeg8(codes, flat_step=1, keep_rgb=True)).astype(int) - codes).max() <= 1


def test_truncation_midpoint_and_saturation(hdr_image):
    from sandwich.methods.truncation import midpoint, truncate

    codes = truncate(hdr_image, 8)
    assert codes.dtype == np.uint8
    assert np.array_equal(midpoint(codes, 8), (hdr_image & 0xFF00) | 0x80)
    assert np.array_equal(midpoint(truncate(hdr_image, 16), 16), hdr_image)


def test_ycbcr_planes_code_the_planes_of_keep_rgb_and_show_them_as_ycbcr():
    from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8

    rng = np.random.default_rng(0)
    planes = (rng.random((40, 56, 3)) * 60 + np.linspace(0, 150, 56)[None, :, None]).astype(np.uint8)
    tagged = encode_jpeg8(planes, flat_step=3, ycbcr_planes=True)
    rgb_coded = encode_jpeg8(planes, flat_step=3, keep_rgb=True)
    # the same quantized planes: only the colour tag (and so the header) differs
    assert np.array_equal(decode_jpeg8(tagged, ycbcr_planes=True), decode_jpeg8(rgb_coded))
    assert abs(len(tagged) - len(rgb_coded)) < 100
    # a plain decoder converts the planes as YCbCr for display
    shown = decode_jpeg8(tagged).astype(int)
    expected = np.asarray(Image.frombytes("YCbCr", (56, 40), decode_jpeg8(rgb_coded).tobytes()).convert("RGB"))
    assert np.abs(shown - expected).max() <= 2
    with pytest.raises(ValueError, match="YCbCr"):
        decode_jpeg8(rgb_coded, ycbcr_planes=True)
