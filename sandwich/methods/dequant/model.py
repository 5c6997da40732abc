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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sandwich.core.domains import TASKS
from sandwich.methods.determinism import inference_threads
from sandwich.methods.padding import pad_to_multiple

PEAK = TASKS["hdr"].peak


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
        x = pad_to_multiple(x, 16)
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
        with inference_threads():
            out = (self.forward(x) * PEAK).round()
        return out[0].permute(1, 2, 0).numpy().astype(np.uint16)
