"""Losses and their readouts shared by every LightningModule."""

from __future__ import annotations

import torch

CROP_LOSSES = ("mse", "log_mse")


def psnr_db(mse: torch.Tensor | float, peak: float) -> torch.Tensor:
    return 10 * torch.log10(peak**2 / torch.as_tensor(mse).clamp_min(1e-10))


def crop_loss(mse: torch.Tensor, kind: str) -> torch.Tensor:
    """Batch loss from per-crop MSEs. `log_mse` counts every crop's dB gain equally: over a grid
    of codec steps the errors differ about 100×, and under plain MSE the coarsest steps rule."""
    if kind not in CROP_LOSSES:
        raise ValueError(f"loss must be one of {CROP_LOSSES}, got {kind!r}")
    return mse.clamp_min(1e-12).log().mean() if kind == "log_mse" else mse.mean()
