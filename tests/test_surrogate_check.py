"""sandwich.surrogate_check: each rate surrogate's prediction beside the real JPEG's change."""

from __future__ import annotations

import numpy as np
import torch
from conftest import synthetic_sr

from sandwich.model import Sandwich
from sandwich.proxy import RATE_INPUTS
from sandwich.surrogate_check import check

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
