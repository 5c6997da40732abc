"""The sandwich's pre- and post-processors: out = MLP(x) + s·UNet(x) (Guleryuz et al., Fig. 5).

MLP: 1×1 conv to 16 channels with a sine activation, then a linear 1×1 conv (the released code's
`create_mlp_model(2, 16)`). U-Net: the paper's 4-level layout (Table II): per encoder width a block
of two 3×3 conv + ReLU then 2× downsampling, a bottleneck block, and per decoder level bilinear
2× upsampling, concatenation with the same-resolution skip and a block; linear 3×3 output; no
normalisation. `s` is a trainable scalar initialised to 0, so training starts as MLP-only.
Differences from the released TF code: 2×2 average pooling instead of plain decimation
(`x[:, 1::2, 1::2]`), and inputs of any size are reflect-padded to a multiple of 2^levels.

A light family beside it (the issue "A fast sandwich"), chosen by two Processor keywords that
default to the paper's layout: `shuffle=r` runs the U-Net on the r×r space-to-depth image
(pixel-unshuffle: 3·r² channels at 1/r the resolution, pixel-shuffled back after the head), and
`separable=True` makes every block's 3×3 convolutions depthwise 3×3 + pointwise 1×1. The MLP and
the colour map stay per pixel at full resolution (fp32). `macs_per_pixel` counts a module's
multiply-adds per input pixel (torch's FlopCounterMode, FLOPs/2).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sandwich.methods.padding import pad_to_multiple


class SineMLP(nn.Module):
    def __init__(
        self,
        channels_in: int = 3,
        channels_out: int = 3,
        hidden: int = 16,
        zero_init: bool = False,
    ):
        super().__init__()
        self.hidden = nn.Conv2d(channels_in, hidden, 1)
        self.out = nn.Conv2d(hidden, channels_out, 1)
        if zero_init:  # a residual processor then starts as the identity
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x):
        return self.out(torch.sin(self.hidden(x)))


def _conv3(channels_in: int, channels_out: int, separable: bool = False) -> nn.Module:
    if not separable:
        return nn.Conv2d(channels_in, channels_out, 3, padding=1)
    return nn.Sequential(  # depthwise 3×3, then pointwise 1×1: 9·c_in + c_in·c_out MACs instead of 9·c_in·c_out
        nn.Conv2d(channels_in, channels_in, 3, padding=1, groups=channels_in),
        nn.Conv2d(channels_in, channels_out, 1),
    )


def _block(
    channels_in: int, channels_out: int, separable: bool = False
) -> nn.Sequential:
    return nn.Sequential(
        _conv3(channels_in, channels_out, separable),
        nn.ReLU(inplace=True),
        _conv3(channels_out, channels_out, separable),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(
        self,
        channels_in: int = 3,
        channels_out: int = 3,
        encoder: Sequence[int] = (16, 32, 64, 128),
        decoder: Sequence[int] = (256, 128, 64, 32, 16),
        separable: bool = False,
    ):
        super().__init__()
        if len(decoder) != len(encoder) + 1:
            raise ValueError(
                "decoder needs one more width (the bottleneck) than encoder"
            )
        self.levels, self.channels_in = len(encoder), channels_in
        widths = [channels_in, *encoder]
        self.down = nn.ModuleList(_block(a, b, separable) for a, b in pairwise(widths))
        self.bottleneck = _block(encoder[-1], decoder[0], separable)
        skips = list(reversed(encoder))
        self.up = nn.ModuleList(
            _block(decoder[i] + skips[i], decoder[i + 1], separable)
            for i in range(len(encoder))
        )
        self.head = nn.Conv2d(decoder[-1], channels_out, 3, padding=1)

    def forward(self, x, body=None):
        """`body` (default `self.body`) runs the layers on the padded input: another runtime can
        take the layers' place (sandwich.methods.sandwich.onnx_runtime) while the padding stays here."""
        h, w = x.shape[-2:]
        return (self.body if body is None else body)(pad_to_multiple(x, 2**self.levels))[..., :h, :w]

    def body(self, x):
        """The layers, on an input whose sides are multiples of 2**levels."""
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.avg_pool2d(x, 2)
        x = self.bottleneck(x)
        for block, skip in zip(self.up, reversed(skips)):
            x = F.interpolate(
                x, size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


# Inference on images above WHOLE_MAX_PIXELS runs tile by tile, so that peak memory follows the
# tile, not the image (a 4-level U-Net holds ~50 fp32 channels per pixel at full resolution).
# HALO exceeds the U-Net's receptive radius (at most 122 px for the paper's layout, measured by
# the input gradient of single outputs) and keeps tiles on its 16-px pooling grid.
TILE, HALO, WHOLE_MAX_PIXELS = 1024, 160, 2048 * 2048


def in_tiles(
    fn, x: torch.Tensor, tile: int | None = None, halo: int | None = None
) -> torch.Tensor:
    """fn(x) for a local `fn` (receptive radius < halo), computed on tile² pieces of x (default
    TILE, HALO), each with `halo` pixels of context on every side the image has; equal to fn of
    the whole image up to float rounding."""
    tile, halo = tile or TILE, halo or HALO
    height, width = x.shape[-2:]
    out = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            y0, x0 = max(0, top - halo), max(0, left - halo)
            part = fn(x[..., y0 : top + tile + halo, x0 : left + tile + halo])
            if out is None:
                out = part.new_empty(*part.shape[:-2], height, width)
            out[..., top : top + tile, left : left + tile] = part[
                ..., top - y0 : top - y0 + tile, left - x0 : left - x0 + tile
            ]
    return out


class Processor(nn.Module):
    """MLP(x) + s·UNet(x), s trainable from 0; with `linear`, plus a linear 1×1 branch (a learned
    colour map, zero-initialised: sandwich.methods.sandwich.model sets it where a model starts from a colour transform).

    The light family: `shuffle=r` (> 1) runs the U-Net on pixel_unshuffle(x, r) (3·r² channels
    in and out, 1/r the resolution; inputs are replicate-padded to a multiple of r) and
    pixel-shuffles its output back; `separable` makes its 3×3 convolutions depthwise-separable.
    The defaults (1, False) are the paper's layout, which the shipped checkpoints hold."""

    def __init__(
        self,
        channels_in: int = 3,
        channels_out: int = 3,
        mlp_hidden: int = 16,
        encoder: Sequence[int] = (16, 32, 64, 128),
        decoder: Sequence[int] = (256, 128, 64, 32, 16),
        zero_init: bool = False,
        linear: bool = False,
        shuffle: int = 1,
        separable: bool = False,
    ):
        super().__init__()
        if int(shuffle) != shuffle or shuffle < 1:
            raise ValueError(f"shuffle must be a positive integer, got {shuffle!r}")
        self.shuffle = int(shuffle)
        self.mlp = SineMLP(channels_in, channels_out, mlp_hidden, zero_init)
        self.linear = nn.Conv2d(channels_in, channels_out, 1) if linear else None
        if self.linear is not None:
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)
        r2 = self.shuffle**2
        self.unet = UNet(
            channels_in * r2, channels_out * r2, encoder, decoder, separable
        )
        self.scale = nn.Parameter(torch.zeros(()))

    def _unet(self, x, body=None):
        if self.shuffle == 1:
            return self.unet(x, body)
        r, (h, w) = self.shuffle, x.shape[-2:]
        x = pad_to_multiple(x, r, "replicate")
        # channels-last: oneDNN's convolutions on a few channels run about 2× faster on a CPU that way
        # (training sets it anyway, conf/model/sandwich.yaml channels_last)
        x = F.pixel_unshuffle(x, r).contiguous(memory_format=torch.channels_last)
        return F.pixel_shuffle(self.unet(x, body), r)[..., :h, :w]

    def forward(self, x, unet_body=None):
        """`unet_body`: see UNet.forward."""
        # The MLP (the tone curve) and the colour map stay fp32 under autocast: bf16 keeps 8
        # significant bits, too few to see a 16-bit source's low bits. The U-Net, which costs the
        # time, may run in bf16.
        with torch.autocast(x.device.type, enabled=False):
            full = x.float()
            pointwise = (
                self.mlp(full)
                if self.linear is None
                else self.mlp(full) + self.linear(full)
            )
        return pointwise + self.scale * self._unet(x, unet_body)


def macs_per_pixel(module: nn.Module, size: int = 256, channels: int = 3) -> float:
    """Multiply-adds per input pixel of module(x) for x of 1×channels×size×size, as counted by
    torch.utils.flop_counter.FlopCounterMode (convolutions and matmuls: FLOPs/2; activations,
    pooling and resampling are not counted)."""
    x = torch.zeros(1, channels, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    return counter.get_total_flops() / 2 / (size * size)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
