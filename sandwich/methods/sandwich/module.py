"""LightningModule: train a Sandwich through the JPEG proxy, validate it through the real JPEG.

Loss per image = MSE in the source's integer scale + λ·(bits per source sample, fitted to the real
JPEG size with the proxy's tables) + a penalty on bottleneck values outside [0, 255] (the released
code's 255·Σ(relu(B−255) + relu(−B))/26.5, normalised the same way). `step_jitter` > 1 codes each
training batch at a random multiple of Δ.
Validation codes each image's bottleneck with the real JPEG (tables at round(Δ)) and measures the
reconstruction, and the codec-only baseline (truncation / bicubic+Lanczos) at the same step on the
same images, so `val/gain_db` compares like with like.
With `post_only` (the ablation) there is no pre-processor and no rate term: the post-processor
learns from the real codec's decoded baseline bottlenecks at steps drawn from the bench's grid.
"""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from sandwich.codecs.jpeg import decode_jpeg8
from sandwich.core.domains import TASKS
from sandwich.evaluation.metrics import psnr
from sandwich.evaluation.rd import validation_figure
from sandwich.methods.resample import downsample, upsample
from sandwich.methods.sandwich.model import Sandwich
from sandwich.methods.sandwich.proxy import JPEGProxy, fitted_rate, to_uint8_images
from sandwich.methods.truncation import midpoint, truncate
from sandwich.training.losses import CROP_LOSSES, crop_loss, psnr_db
from sandwich.training.optim import adam_with_drop
from sandwich.training.precision import resolve_bf16
from sandwich.training.validation import log_validation

# what validation logs (as `val/<name>`), each through its own torchmetrics mean
VAL_STATS = ("loss", "psnr", "bpp", "step", "s_pre", "s_post", "psnr_baseline", "bpp_baseline", "gain_db", "proxy_psnr")


class SandwichModule(L.LightningModule):
    def __init__(
        self,
        net: Sandwich,
        lmbda: float = 2e5,
        lr: float = 2e-4,
        step_lr: float = 1e-2,
        lr_drop: float = 0.8,
        range_weight: float = 1.0,
        bf16: bool | str = "auto",
        channels_last: bool = True,
        post_only_steps: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16),
        post_only_loss: str = "mse",
        rd_results: str = "results",
        step_jitter: float = 1.0,
        freeze_pre: bool = False,
    ):
        super().__init__()
        if step_jitter < 1.0:
            raise ValueError(f"step_jitter is a factor ≥ 1 (1: off), got {step_jitter}")
        if freeze_pre and net.pre is None:
            raise ValueError("freeze_pre: post-only has no pre-processor to freeze")
        if post_only_loss not in CROP_LOSSES:
            raise ValueError(f"post_only_loss must be one of {CROP_LOSSES}, got {post_only_loss!r}")
        self.save_hyperparameters(ignore=["net"])
        self.hparams["network"] = {"kind": "sandwich", "args": net.args}
        self.model = net
        self.post_only = net.pre is None
        if freeze_pre:  # the bottleneck and its rate stay as loaded: only the post-processor learns
            self.model.pre.requires_grad_(False)
            self.model.proxy.q.requires_grad_(False)
        self._baselines: dict[tuple[int, int, int], tuple[float, int]] = {}  # (batch, image, Δ) -> (PSNR, bytes)
        # validation means: batch-size weighted, reset per validation and synchronised across DDP ranks
        self.val_means = nn.ModuleDict({name: MeanMetric() for name in VAL_STATS})
        if channels_last:
            for processor in (self.model.pre, self.model.post):
                if processor is not None:
                    processor.to(memory_format=torch.channels_last)

    @property
    def restart_on_warm_start(self) -> tuple[str, ...]:
        """Parameters a warm start leaves at their initial values: a fine-tune from another λ learns
        its own Δ; with `freeze_pre` the loaded Δ is kept."""
        return () if self.hparams.freeze_pre else ("model.proxy.q",)

    def on_fit_start(self) -> None:
        self.model.bf16 = resolve_bf16(self.hparams.bf16, self.device)

    @property
    def autocast_bf16(self) -> bool:
        return self.model.bf16

    def forward(self, source: torch.Tensor):
        return self.model(source)

    def _objective(self, source: torch.Tensor, real_bits: torch.Tensor | None = None, jitter: bool = False) -> tuple[torch.Tensor, dict]:
        """Loss and statistics through the proxy; `real_bits` (per image) when already measured.
        `jitter`: code the batch at Δ·f, f log-uniform in [1/step_jitter,
        step_jitter], the range the evaluator sweeps Δ′ over, so that the networks also learn the
        steps they will be used at, not only the learned Δ."""
        step = self.model.proxy.step
        if jitter and self.hparams.step_jitter > 1.0:
            spread = math.log(self.hparams.step_jitter)
            step = step * math.exp(float(torch.empty(()).uniform_(-spread, spread)))
        recon, bottleneck, coefficients = self.model(source, step)
        if real_bits is None:
            real_bits = self.model.proxy.real_bits(bottleneck, step.item())
        bits = fitted_rate(coefficients, self.model.proxy.coefficient_steps(step), real_bits)
        samples = source[0].numel()
        mse = (recon - source).square().flatten(1).mean(1)
        outside = (torch.relu(bottleneck - 255) + torch.relu(-bottleneck)).flatten(1).sum(1) * (255 / 26.5) / samples
        loss = (mse + self.hparams.lmbda * bits / samples + self.hparams.range_weight * outside).mean()
        height, width = source.shape[-2:]
        stats = {
            "loss": loss,
            "psnr": psnr_db(mse, self.model.peak).mean(),
            "bpp": (real_bits / (height * width)).mean(),
            "step": self.model.proxy.step,
            "s_pre": self.model.pre.scale if self.model.pre is not None else torch.zeros(()),
            "s_post": self.model.post.scale,
            "range_penalty": outside.mean(),
        }
        return loss, stats

    def _post_only_objective(self, source: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Post-only ablation: the baseline's bottleneck through the real JPEG at a step drawn per
        image from `post_only_steps` (the bench's grid), then the post-processor; MSE only."""
        steps = self.hparams.post_only_steps
        with torch.no_grad():
            codes = to_uint8_images(self.model.bottleneck(source))
        decoded = []
        for image in codes:
            step = steps[int(torch.randint(len(steps), ()))]
            decoded.append(decode_jpeg8(self.model.proxy.encode(image, step)))
        decoded = torch.from_numpy(np.stack(decoded)).to(source.device).permute(0, 3, 1, 2).float()
        recon = self.model.reconstruct(decoded, source.shape[-2:])
        mse = (recon - source).square().flatten(1).mean(1)
        loss = crop_loss(mse, self.hparams.post_only_loss)
        return loss, {"loss": loss, "psnr": psnr_db(mse, self.model.peak).mean(), "s_post": self.model.post.scale}

    def training_step(self, batch, batch_idx):
        if self.post_only:
            loss, stats = self._post_only_objective(batch)
        else:
            loss, stats = self._objective(batch, jitter=True)
        # the step's own values (rank 0's, every trainer.log_every_n_steps)
        self.log_dict({f"train/{k}": v for k, v in stats.items()}, prog_bar=False, batch_size=len(batch))
        self.log("train/psnr_pb", stats["psnr"], prog_bar=True, logger=False, batch_size=len(batch))
        return loss

    def validation_step(self, batch, batch_idx):
        step = int(round(self.model.proxy.step.item()))
        peak, dtype = self.model.peak, TASKS[self.model.task].dtype
        psnrs, sizes, baseline = [], [], []
        for source in batch:
            image = source.permute(1, 2, 0).round().cpu().numpy().astype(dtype)
            data, restored = self.model.jpeg_round_trip(image, step)
            psnrs.append(psnr(image, restored, peak))
            sizes.append(len(data))
            key = (batch_idx, len(baseline), step)  # validation crops are fixed: each baseline is coded once
            if key not in self._baselines:
                self._baselines[key] = _baseline(image, self.model.task, step, self.model.proxy)
            baseline.append(self._baselines[key])
        # the real JPEG just made is the one the rate fit would encode again: reuse its size
        bits = torch.tensor(sizes, dtype=torch.float32, device=batch.device) * 8
        _, proxy_stats = self._objective(batch, real_bits=bits)
        height, width = batch.shape[-2:]
        stats = {
            "psnr": float(np.mean(psnrs)),
            "bpp": float(bits.mean()) / (height * width),
            "psnr_baseline": float(np.mean([b[0] for b in baseline])),
            "bpp_baseline": 8 * float(np.mean([b[1] for b in baseline])) / (height * width),
            "gain_db": float(np.mean(psnrs) - np.mean([b[0] for b in baseline])),
            "proxy_psnr": float(proxy_stats["psnr"]),
            "loss": float(proxy_stats["loss"]),
            **{k: float(proxy_stats[k]) for k in ("step", "s_pre", "s_post")},
        }
        for name, value in stats.items():
            self.val_means[name].update(torch.tensor(value, dtype=torch.float32, device=self.device), len(batch))
            self.log(f"val/{name}", self.val_means[name], on_step=False, on_epoch=True, batch_size=len(batch))
        self.log("val/psnr_pb", stats["psnr"], prog_bar=True, logger=False, batch_size=len(batch))

    def on_validation_epoch_end(self):
        # one readable line per validation in the run's log, beside the logger's dashboards
        metrics = log_validation(self)
        if hasattr(self.logger, "log_image") and "val/psnr" in metrics and not self.trainer.sanity_checking:
            figure = validation_figure(
                self.hparams.rd_results,
                self.model.task,
                {
                    f"this model, Δ={self.model.proxy.step.item():.2f}": (metrics["val/bpp"], metrics["val/psnr"]),
                    "codec-only baseline, same Δ": (metrics["val/bpp_baseline"], metrics["val/psnr_baseline"]),
                },
                title=f"step {self.global_step}",
            )
            self.logger.log_image(key="val/rd", images=[figure], step=self.global_step)
            figure.clf()

    def configure_optimizers(self):
        networks = [p for n, p in self.model.named_parameters() if not n.startswith("proxy.") and p.requires_grad]
        groups = [{"params": networks, "lr": self.hparams.lr}]
        if self.model.proxy.q.requires_grad and not self.post_only:  # post-only codes at fixed steps
            groups.append({"params": [self.model.proxy.q], "lr": self.hparams.step_lr})
        return adam_with_drop(self, groups, self.hparams.lr_drop)


def _baseline(image: np.ndarray, task: str, step: int, proxy: JPEGProxy) -> tuple[float, int]:
    """(PSNR, JPEG bytes) of the codec-only baseline with the same JPEG tables and colour handling
    at the same step: truncation+midpoint, or bicubic+Lanczos."""
    if task == "hdr":
        data = proxy.encode(truncate(image, 8), step)
        restored = midpoint(decode_jpeg8(data), 8)
    else:
        data = proxy.encode(downsample(image), step)
        restored = upsample(decode_jpeg8(data), *image.shape[:2])
    return psnr(image, restored, TASKS[task].peak), len(data)
