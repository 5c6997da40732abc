"""Training Dequantization-Net (net.py) on real-codec decodes of truncation."""

from __future__ import annotations

from typing import Mapping

import lightning as L
import numpy as np
import torch

from sandwich.core.contract import Method
from sandwich.evaluation.metrics import psnr
from sandwich.methods.dequant.model import PEAK, DequantizationNet
from sandwich.methods.precision import bf16_autocast
from sandwich.training.losses import CROP_LOSSES, crop_loss, psnr_db
from sandwich.training.optim import adam_with_drop
from sandwich.training.precision import resolve_bf16
from sandwich.training.validation import log_validation


class DequantModule(L.LightningModule):
    """Train Dequantization-Net on real-codec decodes: each crop goes through one of `inputs`
    (truncation methods, e.g. truncation_jpeg and truncation_heic, drawn uniformly) at one of its
    rate points (drawn uniformly); the error against the 16-bit source, all in [0, 1], is
    `loss="log_mse"` (mean over crops of log MSE, each crop's dB gain counts equally; a stated
    deviation from SingleHDR) or `loss="mse"` (SingleHDR's plain MSE).

    Validation runs every input at its middle rate point and reports the gain over the input.
    """

    def __init__(
        self,
        inputs: Mapping[str, Method],
        lr: float = 1e-4,
        lr_drop: float = 0.8,
        bf16: bool | str = "auto",
        channels_last: bool = True,
        loss: str = "log_mse",
    ):
        super().__init__()
        if loss not in CROP_LOSSES:
            raise ValueError(f"loss must be one of {CROP_LOSSES}, got {loss!r}")
        self.save_hyperparameters(ignore=["inputs"])
        self.hparams["inputs"] = {key: method.name for key, method in inputs.items()}
        args = {"channels": 3}
        self.hparams["network"] = {"kind": "dequant", "args": args}
        self.inputs = dict(inputs)
        self.model = DequantizationNet(**args)
        self.autocast_bf16 = False  # decided at fit start (bf16: auto)
        self._val_inputs: dict[tuple[int, str], tuple[torch.Tensor, float]] = {}  # (batch, input) -> (decode, PSNR)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)

    def on_fit_start(self) -> None:
        self.autocast_bf16 = resolve_bf16(self.hparams.bf16, self.device)

    def _degrade(self, batch: torch.Tensor, choices: list[tuple[str, object]]) -> torch.Tensor:
        """The inputs' real encode/decode of each crop, as a float batch in [0, 1]."""
        images = batch.permute(0, 2, 3, 1).round().cpu().numpy().astype(np.uint16)
        decoded = [self.inputs[key].decode(self.inputs[key].encode(image, point)) for image, (key, point) in zip(images, choices)]
        return torch.from_numpy(np.stack(decoded).astype(np.float32) / PEAK).permute(0, 3, 1, 2).to(batch.device)

    def _restore(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else x
        with bf16_autocast(x.device.type, self.autocast_bf16 and self.training):
            return self.model(x).float()

    def _draw(self, count: int) -> list[tuple[str, object]]:
        """(input, rate point) per crop, each uniform."""
        keys, choices = list(self.inputs), []
        for _ in range(count):
            key = keys[int(torch.randint(len(keys), ()))]
            points = self.inputs[key].rate_points
            choices.append((key, points[int(torch.randint(len(points), ()))]))
        return choices

    def training_step(self, batch, batch_idx):
        x = self._degrade(batch, self._draw(len(batch)))
        target = batch / PEAK
        mse = (self._restore(x) - target).square().flatten(1).mean(1)
        mse_in = (x - target).square().flatten(1).mean(1)
        # plain MSE let the low qualities rule: the net learned to smooth the high ones
        # (measured: -1.9 dB at JPEG q100 on its own training crops)
        loss = crop_loss(mse, self.hparams.loss)
        self.log("train/loss", loss, batch_size=len(batch))
        self.log("train/psnr", psnr_db(mse.detach().mean(), 1.0), batch_size=len(batch))
        self.log("train/gain_db", (psnr_db(mse.detach(), 1.0) - psnr_db(mse_in, 1.0)).mean(), batch_size=len(batch))
        return loss

    def validation_step(self, batch, batch_idx):
        sources = batch.round().cpu().numpy().astype(np.uint16).transpose(0, 2, 3, 1)
        gains = []
        for key, method in self.inputs.items():
            if (batch_idx, key) not in self._val_inputs:  # fixed crops and point: code them once
                point = method.rate_points[len(method.rate_points) // 2]
                x = self._degrade(batch, [(key, point)] * len(batch))
                degraded = (x * PEAK).round().permute(0, 2, 3, 1).cpu().numpy().astype(np.uint16)
                baseline = float(np.mean([psnr(s, d, PEAK) for s, d in zip(sources, degraded)]))
                self._val_inputs[batch_idx, key] = x, baseline
            x, baseline = self._val_inputs[batch_idx, key]
            out = (self._restore(x) * PEAK).round().permute(0, 2, 3, 1).cpu().numpy().astype(np.uint16)
            restored = float(np.mean([psnr(s, o, PEAK) for s, o in zip(sources, out)]))
            self.log_dict({f"val/psnr_{key}": restored, f"val/psnr_baseline_{key}": baseline,
                           f"val/gain_db_{key}": restored - baseline}, batch_size=len(batch))  # fmt: skip
            gains.append(restored - baseline)
        self.log("val/gain_db", float(np.mean(gains)), batch_size=len(batch), prog_bar=True)

    def on_validation_epoch_end(self):
        log_validation(self)

    def configure_optimizers(self):
        return adam_with_drop(self, [{"params": self.model.parameters(), "lr": self.hparams.lr}], self.hparams.lr_drop)
