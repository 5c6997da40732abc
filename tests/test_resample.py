"""Differentiable resamplers agree with the Pillow filters of the SR baseline."""

from __future__ import annotations

import numpy as np
import torch
from conftest import synthetic_sr

from sandwich.methods.resample import downsample, upsample
from sandwich.methods.sandwich.resample import bicubic_down, lanczos_up


def _t(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.float64)).permute(2, 0, 1)[None]


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


def test_bicubic_down_matches_pillow_up_to_rounding():
    image = synthetic_sr(47, 66)
    ours, pillow = _np(bicubic_down(_t(image))), downsample(image).astype(np.float64)
    assert ours.shape == pillow.shape == (24, 33, 3)
    assert np.abs(ours - pillow).mean() < 0.4 and np.abs(ours - pillow).max() < 1.5


def test_lanczos_up_matches_pillow_up_to_rounding():
    small = downsample(synthetic_sr(47, 66))
    ours = np.clip(np.round(_np(lanczos_up(_t(small), 47, 66))), 0, 255)
    pillow = upsample(small, 47, 66).astype(np.float64)
    assert ours.shape == pillow.shape == (47, 66, 3)
    assert np.mean(np.abs(ours - pillow) <= 1) > 0.99 and np.abs(ours - pillow).max() <= 2


def test_resamplers_pass_gradients():
    x = torch.rand(1, 3, 20, 22, requires_grad=True)
    lanczos_up(bicubic_down(x), 20, 22).sum().backward()
    assert x.grad.abs().sum() > 0
