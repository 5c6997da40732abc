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

from baselines.han.layers import base_layer, itmo_table, map_residual, residual_ranges
from baselines.han.model import FACTOR, LATENT_CHANNELS, HanModel, pad_to_multiple
from sandwich.module import adam_with_drop, log_validation, psnr_db

STAGES = ("autoencoder", "post")
PEAK = 65535


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
    ):
        super().__init__()
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        self.save_hyperparameters()
        args = {"channels": channels, "iterations": iterations, "post_channels": post_channels, "post_blocks": post_blocks}
        self.hparams["network"] = {"kind": "han", "args": args}
        self.model = HanModel(**args)
        if stage == "post":
            self.model.autoencoder.requires_grad_(False)

    def _layers(self, batch: torch.Tensor, qualities: list[int]):
        """Per crop: (RM'd residual, ITMO prediction, residual low, high) as batched tensors."""
        mapped, predictions, lows, highs = [], [], [], []
        for image, quality in zip(batch.permute(0, 2, 3, 1).round().cpu().numpy().astype(np.uint16), qualities):
            _, base_hat = base_layer(image, quality)
            prediction = itmo_table(base_hat, image)[base_hat]
            low, high = residual_ranges(image, prediction)
            mapped.append(map_residual(image, prediction, low, high))
            predictions.append(prediction.astype(np.float32))
            lows.append(low.astype(np.float32))
            highs.append(high.astype(np.float32))
        as_tensor = lambda arrays: torch.from_numpy(np.stack(arrays)).to(batch.device)  # noqa: E731
        x = as_tensor(mapped).permute(0, 3, 1, 2)
        return x, as_tensor(predictions).permute(0, 3, 1, 2), as_tensor(lows)[..., None, None], as_tensor(highs)[..., None, None]

    @staticmethod
    def _hdr(mapped: torch.Tensor, prediction: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """ITMO + RM⁻¹, clipped to the PQ range (as the codec does before post-processing)."""
        scale = torch.maximum(low.abs(), high.abs()).clamp_min(1)
        return (prediction + mapped * scale).clamp(0, PEAK)

    def _draw(self, values) -> int:
        return values[int(torch.randint(len(values), ()))]

    def training_step(self, batch, batch_idx):
        x, prediction, low, high = self._layers(batch, [self._draw(self.hparams.qualities) for _ in batch])
        ae = self.model.autoencoder
        if self.hparams.stage == "autoencoder":
            recons, _ = ae.iterate(pad_to_multiple(x), self.hparams.iterations, stochastic=True)
            losses = torch.stack([(r[..., : x.shape[-2], : x.shape[-1]] - x).square().mean() for r in recons])
            loss = losses.mean()
            self.log_dict({"train/loss": loss, "train/mse_first": losses[0], "train/mse_last": losses[-1]}, batch_size=len(batch))
            return loss
        with torch.no_grad():
            iterations = int(torch.randint(1, self.hparams.iterations + 1, ()))
            recons, _ = ae.iterate(pad_to_multiple(x), iterations)
            hdr = self._hdr(recons[-1][..., : x.shape[-2], : x.shape[-1]], prediction, low, high) / PEAK
        mse = (self.model.post(hdr) - batch / PEAK).square().mean()
        self.log_dict({"train/loss": mse, "train/psnr": psnr_db(mse.detach(), 1.0)}, batch_size=len(batch))
        return mse

    def validation_step(self, batch, batch_idx):
        quality, iterations = self.hparams.val_quality, self.hparams.val_iterations
        x, prediction, low, high = self._layers(batch, [quality] * len(batch))
        recons, _ = self.model.autoencoder.iterate(pad_to_multiple(x), iterations)
        hdr = self._hdr(recons[-1][..., : x.shape[-2], : x.shape[-1]], prediction, low, high)
        post = self.model.post(hdr / PEAK).clamp(0, 1) * PEAK
        height, width = batch.shape[-2:]
        base_bytes = np.mean([len(base_layer(im, quality)[0]) for im in batch.permute(0, 2, 3, 1).round().cpu().numpy().astype(np.uint16)])
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
