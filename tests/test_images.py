"""Image reading: accepted formats, canonical HDR/SR images, clear errors on bad files."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import synthetic_linear, synthetic_sr

from sandwich.core.images import (
    HDRScaling,
    ImageError,
    linear_to_pq16,
    load_hdr16,
    load_sr8,
    read_image,
    write_exr,
    write_png,
)
from sandwich.core.transfer import luminance, pq16_to_nits


def test_exr_round_trip_and_pq_anchor(tmp_path):
    linear = synthetic_linear(31, 45)
    write_exr(tmp_path / "x.exr", linear)
    back = read_image(tmp_path / "x.exr")
    assert back.dtype == np.float32 and back.shape == (31, 45, 3)
    np.testing.assert_allclose(back, linear.astype(np.float16), rtol=1e-3)
    code = load_hdr16(tmp_path / "x.exr")
    assert code.dtype == np.uint16 and code.shape == (31, 45, 3)
    # the 99.5th-percentile luminance lands at 1000 cd/m² (up to PQ quantisation)
    nits = luminance(pq16_to_nits(code).astype(np.float64))
    assert np.percentile(nits, 99.5) == pytest.approx(1000, rel=0.01)
    brighter = load_hdr16(tmp_path / "x.exr", HDRScaling(nits=4000))
    assert brighter.mean() > code.mean()


def test_radiance_hdr_is_read(tmp_path):
    import cv2

    linear = synthetic_linear(20, 33)
    cv2.imwrite(str(tmp_path / "x.hdr"), linear[..., ::-1])
    back = read_image(tmp_path / "x.hdr")
    np.testing.assert_allclose(back, linear, rtol=0.02, atol=1e-3)  # RGBE keeps ~8 bits of mantissa


def test_pfm_is_read_exactly(tmp_path):
    import cv2

    linear = synthetic_linear(20, 33).astype(np.float32)
    cv2.imwrite(str(tmp_path / "x.pfm"), linear[..., ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / "x.pfm"), linear)


def test_png16_taken_as_is_and_png8_for_sr(tmp_path):
    code = linear_to_pq16(synthetic_linear(17, 23))
    write_png(tmp_path / "c.png", code)
    assert np.array_equal(load_hdr16(tmp_path / "c.png"), code)
    photo = synthetic_sr(19, 21)
    write_png(tmp_path / "p.png", photo)
    assert np.array_equal(load_sr8(tmp_path / "p.png"), photo)
    with pytest.raises(ImageError, match="8-bit image given to the HDR task"):
        load_hdr16(tmp_path / "p.png")
    with pytest.raises(ImageError, match="takes 8-bit images"):
        load_sr8(tmp_path / "c.png")


def test_alpha_is_dropped_with_warning(tmp_path):
    import cv2

    rgba = np.dstack([synthetic_sr(10, 12), np.full((10, 12), 255, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    with pytest.warns(UserWarning, match="alpha channel dropped"):
        assert read_image(tmp_path / "a.png").shape == (10, 12, 3)


@pytest.mark.parametrize(
    "name, make, reason",
    [
        ("x.bmp", lambda p: p.write_bytes(b"BM" + bytes(100)), "unsupported file type"),
        ("missing.exr", None, "no such file"),
        ("junk.exr", lambda p: p.write_bytes(b"\x76\x2f\x31\x01garbage" * 20), "unreadable"),
        ("junk.png", lambda p: p.write_bytes(b"\x89PNG garbage" * 20), "unreadable"),
        ("junk.jpg", lambda p: p.write_bytes(b"\xff\xd8 garbage" * 20), "unreadable"),
        ("allnan.exr", lambda p: write_exr(p, np.full((8, 9, 3), np.nan, np.float32)), "no finite value"),
        ("neg.exr", lambda p: write_exr(p, -np.ones((8, 9, 3), np.float32)), "no positive value"),
    ],
)
def test_bad_files_raise_clear_error(tmp_path, name, make, reason):
    path = tmp_path / name
    if make:
        make(path)
    with pytest.raises(ImageError, match=reason) as info:
        read_image(path)
    assert name in str(info.value)


@pytest.mark.parametrize("name", ["y.exr", "ya.exr", "gray.png", "gray16.png", "gray.jpg"])
def test_grayscale_becomes_equal_rgb_with_warning(tmp_path, name):
    """A luminance-only EXR (OpenEXR's own test images have them), gray + alpha, 8/16-bit gray PNG
    and gray JPEG: the codecs take RGB, so the gray plane is coded as R = G = B."""
    import OpenEXR
    from PIL import Image

    path = tmp_path / name
    gray = np.linspace(0.1, 4.0, 72).reshape(8, 9)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    if name == "y.exr":
        OpenEXR.File(header, {"Y": gray.astype(np.float16)}).write(str(path))
    elif name == "ya.exr":
        OpenEXR.File(header, {"Y": gray.astype(np.float16), "A": np.ones((8, 9), np.float16)}).write(str(path))
    elif name == "gray16.png":
        Image.fromarray((gray * 10000).astype(np.uint16)).save(path)
    else:
        Image.fromarray((gray * 60).astype(np.uint8)).save(path, quality=95)
    with pytest.warns(UserWarning, match="grayscale"):
        image = read_image(path)
    assert image.shape == (8, 9, 3)
    assert (image == image[..., :1]).all()
    if name.endswith(".exr"):
        np.testing.assert_allclose(image[..., 0], gray.astype(np.float16), rtol=0)


@pytest.mark.parametrize("value, expected", [(np.inf, 2.0), (np.nan, 0.0), (-np.inf, 0.0)])
def test_non_finite_samples_are_replaced_with_warning(tmp_path, value, expected):
    """+Inf (a half-float overflow such as the sun) saturates at the image's largest finite value;
    NaN and -Inf become 0. Every other sample is kept."""
    linear = np.ones((8, 9, 3), np.float32)
    linear[0, 0] = 2.0
    linear[3, 4, 1] = value
    write_exr(tmp_path / "x.exr", linear)
    with pytest.warns(UserWarning, match="1 NaN/Inf samples"):
        image = read_image(tmp_path / "x.exr")
    assert image[3, 4, 1] == expected
    image[3, 4, 1] = 1.0
    np.testing.assert_array_equal(image, np.where(np.isfinite(linear), linear, 1.0))
