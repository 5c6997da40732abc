"""Training Han's networks, in two stages (the paper trains its parts separately):

- stage "autoencoder": crops of the 16-bit source get a base JPEG at a quality drawn from
  `qualities`; the RM'd residual is coded by all `iterations` with the stochastic binarizer; the
  loss is the mean over iterations of the MSE of the running reconstruction (Toderici's sum of
  per-iteration residual losses, normalised);
- stage "post": the autoencoder is frozen (hard binarizer, an iteration count drawn per batch) and
  the group CNN learns to correct the summed HDR reconstruction; MSE in PQ code values /65535.

Validation codes every validation crop at (`val_quality`, `val_iterations`) with the fixed-length
bit count and reports PSNR of the base alone (ITMO), after the residual layer, and after the post.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

from sandwich.core.domains import TASKS
from sandwich.methods.han.layers import analyse, residual_scale
from sandwich.methods.han.model import (
    FACTOR,
    LATENT_CHANNELS,
    HanModel,
    pad_for_autoencoder,
)
from sandwich.methods.precision import bf16_autocast
from sandwich.training.losses import psnr_db
from sandwich.training.optim import adam_with_drop
from sandwich.training.precision import resolve_bf16
from sandwich.training.validation import log_validation

STAGES = ("autoencoder", "post")
PEAK = TASKS["hdr"].peak


class HanModule(L.LightningModule):
    def __init__(
        self,
        stage: str = "autoencoder",
        channels: int = 64,
        iterations: int = 8,
        post_channels: int = 16,
        post_blocks: int = 10,
        qualities: tuple[int, ...] = (30, 50, 70, 85, 90, 95),
        val_quality: int = 70,
        val_iterations: int = 4,
        lr: float = 1e-4,
        lr_drop: float = 0.8,
        bf16: bool | str = "auto",
    ):
        super().__init__()
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        self.save_hyperparameters()
        args = {"channels": channels, "iterations": iterations, "post_channels": post_channels, "post_blocks": post_blocks}
        self.hparams["network"] = {"kind": "han", "args": args}
        self.model = HanModel(**args)
        self.autocast_bf16 = False  # decided at fit start (bf16: auto)
        if stage == "post":
            self.model.autoencoder.requires_grad_(False)

    def on_fit_start(self) -> None:
        self.autocast_bf16 = resolve_bf16(self.hparams.bf16, self.device)

    def _layers(self, batch: torch.Tensor, qualities: list[int]):
        """Per crop: the analysis at its base quality, batched as (RM'd residual, ITMO prediction,
        RM scale) tensors, plus the base JPEGs' mean size in bytes."""
        images = batch.permute(0, 2, 3, 1).round().cpu().numpy().astype(np.uint16)
        analyses = [analyse(image, quality) for image, quality in zip(images, qualities)]

        def batched(arrays):
            return torch.from_numpy(np.stack(arrays).astype(np.float32)).to(batch.device)

        x = batched([a.mapped for a in analyses]).permute(0, 3, 1, 2)
        prediction = batched([a.prediction for a in analyses]).permute(0, 3, 1, 2)
        scale = batched([residual_scale(a.low, a.high) for a in analyses])[..., None, None]
        return x, prediction, scale, float(np.mean([len(a.base) for a in analyses]))

    @staticmethod
    def _hdr(mapped: torch.Tensor, prediction: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """ITMO + RM⁻¹, clipped to the PQ range (as the codec does before post-processing)."""
        return (prediction + mapped * scale).clamp(0, PEAK)

    def _draw(self, values) -> int:
        return values[int(torch.randint(len(values), ()))]

    def training_step(self, batch, batch_idx):
        x, prediction, scale, _ = self._layers(batch, [self._draw(self.hparams.qualities) for _ in batch])
        ae = self.model.autoencoder
        if self.hparams.stage == "autoencoder":
            with bf16_autocast(x.device.type, self.autocast_bf16):
                recons, _ = ae.iterate(pad_for_autoencoder(x), self.hparams.iterations, stochastic=True)
            recons = [r.float() for r in recons]
            losses = torch.stack([(r[..., : x.shape[-2], : x.shape[-1]] - x).square().mean() for r in recons])
            loss = losses.mean()
            self.log_dict({"train/loss": loss, "train/mse_first": losses[0], "train/mse_last": losses[-1]}, batch_size=len(batch))
            return loss
        with torch.no_grad():
            iterations = int(torch.randint(1, self.hparams.iterations + 1, ()))
            recons, _ = ae.iterate(pad_for_autoencoder(x), iterations)
            hdr = self._hdr(recons[-1][..., : x.shape[-2], : x.shape[-1]], prediction, scale) / PEAK
        with bf16_autocast(x.device.type, self.autocast_bf16):
            corrected = self.model.post(hdr)
        mse = (corrected.float() - batch / PEAK).square().mean()
        self.log_dict({"train/loss": mse, "train/psnr": psnr_db(mse.detach(), 1.0)}, batch_size=len(batch))
        return mse

    def validation_step(self, batch, batch_idx):
        quality, iterations = self.hparams.val_quality, self.hparams.val_iterations
        x, prediction, scale, base_bytes = self._layers(batch, [quality] * len(batch))
        recons, _ = self.model.autoencoder.iterate(pad_for_autoencoder(x), iterations)
        hdr = self._hdr(recons[-1][..., : x.shape[-2], : x.shape[-1]], prediction, scale)
        post = self.model.post(hdr / PEAK).clamp(0, 1) * PEAK
        height, width = batch.shape[-2:]
        latent_bits = iterations * LATENT_CHANNELS * -(-height // FACTOR) * -(-width // FACTOR)
        mse = lambda y: (y.round() - batch.round()).square().mean()  # noqa: E731
        stats = {
            "psnr_base": psnr_db(mse(prediction), PEAK),
            "psnr": psnr_db(mse(hdr), PEAK),
            "psnr_post": psnr_db(mse(post), PEAK),
            "bpp_fixed": (8 * base_bytes + latent_bits) / (height * width),
        }
        stats["gain_db"] = stats["psnr"] - stats["psnr_base"]
        self.log_dict({f"val/{k}": float(v) for k, v in stats.items()}, batch_size=len(batch))

    def on_validation_epoch_end(self):
        log_validation(self)

    def configure_optimizers(self):
        trained = self.model.autoencoder if self.hparams.stage == "autoencoder" else self.model.post
        return adam_with_drop(self, [{"params": trained.parameters(), "lr": self.hparams.lr}], self.hparams.lr_drop)
