"""Tests for sandwich.evaluation.metrics (fast: a few seconds, cvvdp included)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sandwich.core.transfer import nits_to_pq16, pq16_to_nits, pu21_encode
from sandwich.evaluation import metrics as M


def _hdr_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth PQ-coded test pattern with texture, 10 to a few thousand cd/m²."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 30000 + 12000 * np.sin(x / 17.0) * np.cos(y / 23.0) + rng.normal(0, 1500, (h, w))
    rgb = np.stack([base, 0.9 * base + 3000, 1.1 * base - 2000], axis=-1)
    return np.clip(rgb, 0, 65535).astype(np.uint16)


def _perturb(img: np.ndarray, amp: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    info = np.iinfo(img.dtype)
    noisy = img.astype(np.int64) + rng.integers(-amp, amp + 1, img.shape)
    return np.clip(noisy, info.min, info.max).astype(img.dtype)


# ------------------------------------------------------------------ PSNR, transfer functions


def test_psnr_hand_computed():
    ref = np.full((8, 8, 3), 100, np.uint8)
    assert M.psnr(ref, ref + 1, 255) == pytest.approx(10 * math.log10(255**2), abs=1e-12)
    assert M.psnr(ref, ref + 1, 255) == pytest.approx(48.1308, abs=1e-4)
    assert M.psnr(ref, ref, 255) == math.inf
    # half the samples off by 2 -> mse 2
    test = ref.copy()
    test[:4] += 2
    assert M.psnr(ref, test, 255) == pytest.approx(10 * math.log10(255**2 / 2), abs=1e-12)
    # uint16: no wrap-around in the difference
    a = np.zeros((4, 4, 3), np.uint16)
    assert M.psnr(a, a + 65535, 65535) == pytest.approx(0.0, abs=1e-12)


def test_pu21_anchor_and_monotonic():
    assert pu21_encode(np.float64(100.0)) == pytest.approx(256.4, abs=0.05)
    y = np.logspace(np.log10(0.005), 4, 2000)
    assert np.all(np.diff(pu21_encode(y)) > 0)


def test_pq_round_trip():
    nits = np.logspace(-2, 4, 5000)
    back = pq16_to_nits(nits_to_pq16(nits)).astype(np.float64)
    assert np.max(np.abs(back / nits - 1)) < 1e-3


def test_hdr_luminance_nits():
    white = np.full((2, 2, 3), nits_to_pq16(np.float64(100.0)), np.uint16)
    assert np.allclose(M.hdr_luminance_nits(white), 100.0, rtol=1e-3)
    img = _hdr_image(16, 16)
    lum = M.hdr_luminance_nits(img)
    rgb = pq16_to_nits(img)
    assert lum.shape == (16, 16) and lum.dtype == np.float32
    assert np.allclose(lum, 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2], rtol=1e-6)


# ------------------------------------------------------------------ PU-PSNR, PU-SSIM


def test_pu_psnr():
    ref = _hdr_image(64, 64)
    assert M.pu_psnr(ref, ref) == math.inf
    small, large = M.pu_psnr(ref, _perturb(ref, 50)), M.pu_psnr(ref, _perturb(ref, 500))
    assert math.isfinite(small) and math.isfinite(large)
    assert small > large


@pytest.mark.parametrize("shape", [(96, 128), (61, 75)])
def test_pu_ssim_matches_torchmetrics(shape):
    from torchmetrics.functional.image import (
        structural_similarity_index_measure as tm_ssim,
    )

    ref = _hdr_image(*shape)
    test = _perturb(ref, 2000)
    pr, pt = (torch.from_numpy(M._pu21_of_codes(a)).double()[None, None] for a in (ref, test))
    tm_val, tm_map = tm_ssim(pt, pr, data_range=256.0, sigma=1.5, kernel_size=11, k1=0.01, k2=0.03,
                             return_full_image=True)
    # torchmetrics reflect-pads and averages the whole map; its interior is the 'valid' SSIM
    tm_valid = float(tm_map[..., 5:-5, 5:-5].mean())
    ours = M.pu_ssim(ref, test)
    assert 0.5 < ours < 0.999
    assert ours == pytest.approx(tm_valid, abs=1e-4)
    assert M.pu_ssim(ref, test, border="reflect") == pytest.approx(float(tm_val), abs=1e-4)
    assert M.pu_ssim(ref, ref) == pytest.approx(1.0, abs=1e-6)


def test_blur_matches_conv2d():
    x = torch.randn(3, 40, 50)
    g = M._gauss1d(11, 1.5, torch.float32)
    ref = F.conv2d(x[:, None], torch.outer(g, g)[None, None])[:, 0]
    assert torch.allclose(M._blur(x, g), ref, atol=1e-5)


def test_hdr_reference_and_definitions():
    ref = _hdr_image(64, 80)
    test = _perturb(ref, 300)
    r = M.HDRReference(ref)
    out = M.hdr_metrics(ref, test)
    assert set(out) == {"psnr", "pu_psnr", "pu_ssim"}
    assert r.metrics(test) == out
    assert out["psnr"] == pytest.approx(M.psnr(ref, test, 65535))
    assert out["pu_psnr"] == pytest.approx(M.pu_psnr(ref, test))
    assert out["pu_ssim"] == pytest.approx(M.pu_ssim(ref, test))
    for key in ("psnr", "pu_psnr", "pu_ssim", "ms_ssim", "cvvdp_jod", "ldr_saturation_psnr"):
        assert isinstance(M.METRIC_DEFINITIONS[key], str) and M.METRIC_DEFINITIONS[key]
    with pytest.raises(TypeError):
        M.hdr_metrics(ref.astype(np.uint8), test.astype(np.uint8))
    with pytest.raises(ValueError):
        M.hdr_metrics(ref, test[:32])


def test_ldr_saturation_psnr():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 65536, (256, 256, 3)).astype(np.uint16)
    expected = 10 * math.log10(65535**2 * 12 / (256**2 - 1))  # ≈ 58.96 dB
    assert M.ldr_saturation_psnr(ref) == pytest.approx(expected, abs=0.1)


# ------------------------------------------------------------------ SR


def test_ms_ssim_sizes():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert M.ms_ssim(small, small) is None
    assert M.ms_ssim_min_side() == 176
    edge = rng.integers(0, 256, (175, 300, 3), dtype=np.uint8)
    assert M.ms_ssim(edge, edge) is None
    img = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    noisy = _perturb(img, 20)
    v = M.ms_ssim(img, noisy)
    assert isinstance(v, float) and 0.0 < v <= 1.0
    assert M.ms_ssim(img, img) == pytest.approx(1.0, abs=1e-5)
    out = M.sr_metrics(img, noisy)
    assert set(out) == {"psnr", "ms_ssim"} and out["ms_ssim"] == v


def test_ms_ssim_matches_torchmetrics_class():
    from torchmetrics.image import MultiScaleStructuralSimilarityIndexMeasure

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (192, 200, 3), dtype=np.uint8)
    noisy = _perturb(img, 30)
    to_t = lambda a: torch.from_numpy(a.transpose(2, 0, 1).copy()).float()[None]  # noqa: E731
    ref_val = float(MultiScaleStructuralSimilarityIndexMeasure(data_range=255.0)(to_t(noisy), to_t(img)))
    assert M.ms_ssim(img, noisy) == pytest.approx(ref_val, abs=1e-6)


# ------------------------------------------------------------------ ColorVideoVDP


def test_gaussian_blur_standin_matches_torchvision_algorithm():
    """The stand-in vs torchvision's tensor algorithm (2-D outer-product kernel, reflect pad, conv2d)."""
    blur = M._GaussianBlur(33, 8.0)
    x = torch.rand(2, 3, 40, 48)
    # torchvision's _get_gaussian_kernel1d, written out here rather than taken from the stand-in
    offsets = torch.arange(33, dtype=torch.float32) - 16
    k1 = torch.exp(-0.5 * (offsets / 8.0) ** 2)
    k1 = k1 / k1.sum()
    assert k1[16] == k1.max() and k1[0] == pytest.approx(k1[16] * np.exp(-2.0))  # 16 px = 2σ
    k2 = torch.mm(k1[:, None], k1[None, :]).expand(3, 1, 33, 33)
    ref = F.conv2d(F.pad(x, [16, 16, 16, 16], mode="reflect"), k2, groups=3)
    assert torch.allclose(blur(x), ref, atol=1e-6)
    assert blur(x[0]).shape == (3, 40, 48)
    with pytest.raises(ValueError):
        M._GaussianBlur(4, 1.0)
    with pytest.raises(RuntimeError):
        M._MLPPlaceholder(in_channels=3, hidden_channels=[4])


def test_cvvdp_jod(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = _hdr_image(64, 64)
    same = M.cvvdp_jod(ref, ref)
    noisy = M.cvvdp_jod(ref, _perturb(ref, 800))
    assert same > 9.9
    assert noisy < same
    assert "torchvision" not in sys.modules
    assert not any(k.startswith("torchvision") for k in sys.modules)
    out = M.hdr_metrics(ref, ref, with_cvvdp=True)
    assert out["cvvdp_jod"] == pytest.approx(same)
