"""sandwich.tools.surrogate_check: each rate surrogate's prediction beside the real JPEG's change."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import synthetic_sr

from sandwich.methods.sandwich.model import Sandwich
from sandwich.methods.sandwich.proxy import RATE_INPUTS
from sandwich.tools.surrogate_check import check, distortion_direction

SMALL = {"encoder": (8, 16), "decoder": (32, 16, 8)}


def test_check_reports_the_real_change_and_every_surrogates_prediction():
    torch.manual_seed(0)
    model = Sandwich("sr", SMALL, SMALL, colour="ycbcr", step_init=12.0).eval()
    with torch.no_grad():  # a post-processor that is not the identity, so the distortion has a direction
        model.post.scale.fill_(0.1)
    images = [synthetic_sr(64, 64, seed=i) for i in range(2)]
    row = check(model, images, eps=2.0)
    assert set(row) == {"real", *RATE_INPUTS} and all(np.isfinite(v) for v in row.values())
    assert row["real"] != 0 and row["unquantized"] != 0
    assert model.proxy.rate_input == "quantized"  # left as it was


def test_the_real_change_is_the_central_difference_along_the_distortions_descent(monkeypatch):
    """With a codec whose size is linear in the bottleneck, the central difference is exact."""
    torch.manual_seed(0)
    model = Sandwich("sr", SMALL, SMALL, colour="ycbcr", step_init=12.0).eval()
    with torch.no_grad():
        model.post.scale.fill_(0.1)
    images = [synthetic_sr(32, 32, seed=i) for i in range(2)]
    weights = torch.rand(1, 3, 16, 16) + 0.5
    monkeypatch.setattr(model.proxy, "real_bits", lambda bottleneck, step: (bottleneck * weights).flatten(1).sum(1))
    row = check(model, images, eps=2.0)
    source = torch.stack([torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1) for image in images])
    with torch.no_grad():
        bottleneck = model.bottleneck(source)
    move = 2.0 * distortion_direction(model, source, model.proxy.step.detach(), bottleneck)
    assert move.square().flatten(1).mean(1).sqrt().allclose(torch.full((2,), 2.0))  # eps grey levels RMS
    assert row["real"] == pytest.approx(float((weights * move).flatten(1).sum(1).mean()), rel=1e-4)
