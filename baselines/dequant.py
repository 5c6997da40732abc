"""Dequantization-Net (SingleHDR, Liu et al. CVPR 2020) behind truncation + a real 8-bit codec.

Architecture as in SingleHDR's `dequantization_net.py`: a U-Net with 4 downsamplings (input padded
to a multiple of 16); stem conv7×7(16) → conv7×7(16); down steps 2×2 average pooling then two
convolutions (32 with 5×5, then 64, 128, 256 with 3×3); up steps bilinear ×2 → conv3×3(C) →
concatenate the skip → conv3×3(C) for C = 128, 64, 32, 16; LeakyReLU 0.1 after every convolution,
no normalisation; head conv3×3(3) → tanh; output = input + residual, clipped to [0, 1].

Differences from the original, all forced by the task (16-bit PQ source through an 8-bit codec
instead of a camera's 8-bit JPEG):
- input: truncation's midpoint reconstruction (256·B̂ + 128)/65535 of the decoded 8-bit image
  rather than B̂/255, so a zero residual is exactly the truncation baseline;
- target: the 16-bit source /65535 (SingleHDR's is the un-quantized LDR before the CRF's rounding);
- degradations: the real codec at a rate point drawn per crop from the bench's grid (SingleHDR:
  synthetic exposure, noise, CRF and JPEG 90–100);
- padding: reflect to the next multiple of 16, cropped after (SingleHDR pads 32 px at test time);
- no over/under-exposure masking of training crops (the source is HDR, nothing is clipped);
- the head starts at zero (the identity), not at a random residual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.truncation import midpoint, truncate
from sandwich import checkpoint
from sandwich.bitstream import Header
from sandwich.codecs.base import Method
from sandwich.metrics import psnr
from sandwich.module import CROP_LOSSES, adam_with_drop, crop_loss, log_validation, psnr_db
from sandwich.nets import training_autocast

PEAK = 65535


def _conv(channels_in: int, channels_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, kernel, padding=kernel // 2), nn.LeakyReLU(0.1))


class DequantizationNet(nn.Module):
    def __init__(self, channels: int = 3):
        super().__init__()
        self.stem = nn.Sequential(_conv(channels, 16, 7), _conv(16, 16, 7))
        self.down = nn.ModuleList(
            [
                nn.Sequential(_conv(16, 32, 5), _conv(32, 32, 5)),
                nn.Sequential(_conv(32, 64, 3), _conv(64, 64, 3)),
                nn.Sequential(_conv(64, 128, 3), _conv(128, 128, 3)),
                nn.Sequential(_conv(128, 256, 3), _conv(256, 256, 3)),
            ]
        )
        widths = [(256, 128), (128, 64), (64, 32), (32, 16)]
        self.up_first = nn.ModuleList(_conv(a, b, 3) for a, b in widths)
        self.up_second = nn.ModuleList(_conv(2 * b, b, 3) for _, b in widths)
        self.head = nn.Conv2d(16, channels, 3, padding=1)
        # starts as the identity (truncation's output) instead of a random residual: short CPU
        # training budgets then spend no steps unlearning the initial noise
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % 16, -width % 16
        if pad_h or pad_w:
            # reflect needs the pad to be smaller than the side; tiny images replicate instead
            mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(F.avg_pool2d(skips[-1], 2)))
        y = skips.pop()
        for first, second in zip(self.up_first, self.up_second):
            skip = skips.pop()
            y = first(F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False))
            y = second(torch.cat([y, skip], dim=1))
        return torch.tanh(self.head(y))[..., :height, :width]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x in [0, 1] (N×3×H×W) -> dequantized image in [0, 1]."""
        return (x + self.residual(x)).clamp(0, 1)

    @torch.no_grad()
    def restore(self, image16: np.ndarray) -> np.ndarray:
        """uint16 H×W×3 (truncation's reconstruction) -> uint16 H×W×3."""
        x = torch.from_numpy(image16.astype(np.float32) / PEAK).permute(2, 0, 1)[None]
        out = (self.forward(x) * PEAK).round()
        return out[0].permute(1, 2, 0).numpy().astype(np.uint16)


class Dequantization(Method):
    """Top 8 bits of the 16-bit source -> 8-bit `codec` -> midpoint -> Dequantization-Net.

    The file is the codec's standard file with the project header inside; the header's one layer
    is the first bytes of the network checkpoint's SHA-256, so other weights refuse to decode it.
    """

    domain = "hdr16"

    def __init__(self, name: str, codec: Method, checkpoint_path: str, rate_points=None, root: str | Path = checkpoint.PROJECT_ROOT):
        if codec.domain != "rgb8" or not codec.can_embed_header:
            raise ValueError(f"{name}: needs an 8-bit codec that carries the header, got {codec.name}")
        self.name, self.codec = name, codec
        self.rate_param = codec.rate_param
        self.rate_points = tuple(rate_points or codec.rate_points)
        self.path = Path(root) / checkpoint_path
        args, state, self.meta = checkpoint.read(self.path, "dequant")
        self.net = DequantizationNet(**args)
        self.net.load_state_dict(state)
        self.net.eval()

    @property
    def description(self) -> str:
        return (
            f"top 8 of 16 bits -> {self.codec.description} -> midpoint -> Dequantization-Net "
            f"({self.path.name}, {self.meta.get('global_step')} steps, sha256 {self.meta['digest'].hex()})"
        )

    def describe_layers(self, layers: list[bytes]) -> list[str]:
        digest = b"".join(layers)
        return [f"checkpoint: sha256 {digest.hex()}...: {checkpoint.holding(digest, self.meta)}"]

    def _encode(self, image, rate_point):
        header = Header(self.name, *image.shape[:2], [self.meta["digest"]]).pack()
        return self.codec.encode_with_header(truncate(image, 8), rate_point, header)

    def _decode(self, data):
        codes, header = self.codec.decode_checked(data, self.name)
        checkpoint.require(self.name, b"".join(header.layers), self.meta)
        return self.net.restore(midpoint(codes, 8))


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
        bf16: bool = True,
        channels_last: bool = True,
        loss: str = "log_mse",
    ):
        super().__init__()
        if loss not in CROP_LOSSES:
            raise ValueError(f"loss must be one of {CROP_LOSSES}, got {loss!r}")
        self.save_hyperparameters(ignore=["inputs"])
        self.hparams["inputs"] = {key: method.name for key, method in inputs.items()}
        self.hparams["network"] = {"kind": "dequant", "args": {"channels": 3}}
        self.inputs = dict(inputs)
        self.model = DequantizationNet()
        self._val_inputs: dict[tuple[int, str], tuple[torch.Tensor, float]] = {}  # (batch, input) -> (decode, PSNR)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)

    def _degrade(self, batch: torch.Tensor, choices: list[tuple[str, object]]) -> torch.Tensor:
        """The inputs' real encode/decode of each crop, as a float batch in [0, 1]."""
        images = batch.permute(0, 2, 3, 1).round().cpu().numpy().astype(np.uint16)
        decoded = [self.inputs[key].decode(self.inputs[key].encode(image, point)) for image, (key, point) in zip(images, choices)]
        return torch.from_numpy(np.stack(decoded).astype(np.float32) / PEAK).permute(0, 3, 1, 2).to(batch.device)

    def _restore(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else x
        with training_autocast(self, x.device.type, self.hparams.bf16):
            residual = self.model.residual(x)
        return (x + residual.float()).clamp(0, 1)

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
