"""Han et al.'s networks: the binarized residual autoencoder (with iterative coding) and the
group-CNN post-processor.

Choices the paper does not fix (stated in docs/methods.md, Han et al.):
- widths: `channels` filters in every encoder/decoder layer (64 shipped), 5×5 strided convolutions;
- feature fusion: the features after each of the 4 GDN stages are brought to H/16 by a learned
  k×k stride-k convolution (k = 8, 4, 2, 1), concatenated and fused by a 1×1 convolution;
- the decoder sees the bits as ±1;
- iterations share one autoencoder; iteration k scales what is left by a learned gain g_k before
  encoding and divides the output by it (what is left shrinks with k, the network's range does not).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sandwich.methods.determinism import inference_threads
from sandwich.methods.han.gdn import GDN, IGDN
from sandwich.methods.padding import pad_to_multiple

LATENT_CHANNELS = 32  # bits per 16×16 block and iteration: 1/8 bpp before entropy coding
FACTOR = 16


def binarize(probabilities: torch.Tensor, stochastic: bool) -> torch.Tensor:
    """b ∈ {0, 1}. Training: b = y + ε with b = 1 with probability y (E[b] = y) and the gradient
    straight through; test: b = 1[y > 0.5]."""
    if not stochastic:
        return (probabilities > 0.5).to(probabilities.dtype)
    sample = (torch.rand_like(probabilities) < probabilities).to(probabilities.dtype)
    return probabilities + (sample - probabilities).detach()


class ResidualAutoencoder(nn.Module):
    def __init__(self, channels: int = 64, iterations: int = 8):
        super().__init__()
        c = channels
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(3 if i == 0 else c, c, 5, stride=2, padding=2), GDN(c)) for i in range(4)
        )
        # feature fusion: every scale to H/16, concatenated, fused
        self.to_latent_grid = nn.ModuleList(nn.Conv2d(c, c, k, stride=k) for k in (8, 4, 2, 1))
        self.fuse = nn.Sequential(nn.Conv2d(4 * c, c, 1), nn.LeakyReLU(0.1), nn.Conv2d(c, LATENT_CHANNELS, 1))
        self.up = nn.Sequential(
            nn.Conv2d(LATENT_CHANNELS, c, 1), IGDN(c),
            nn.ConvTranspose2d(c, c, 5, stride=2, padding=2, output_padding=1), IGDN(c),
            nn.ConvTranspose2d(c, c, 5, stride=2, padding=2, output_padding=1), IGDN(c),
            nn.ConvTranspose2d(c, c, 5, stride=2, padding=2, output_padding=1), IGDN(c),
            nn.ConvTranspose2d(c, 3, 5, stride=2, padding=2, output_padding=1),
        )  # fmt: skip
        # the last layer starts at zero: an untrained autoencoder adds nothing to the ITMO prediction
        nn.init.zeros_(self.up[-1].weight)
        nn.init.zeros_(self.up[-1].bias)
        self.log_gain = nn.Parameter(torch.arange(iterations, dtype=torch.float32) * math.log(2) / 2)

    @property
    def iterations(self) -> int:
        return self.log_gain.numel()

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×H×W (H, W multiples of 16) -> N×32×H/16×W/16 in (0, 1)."""
        features, fused = x, []
        with inference_threads():
            for stage, project in zip(self.down, self.to_latent_grid):
                features = stage(features)
                fused.append(project(features))
            return torch.sigmoid(self.fuse(torch.cat(fused, dim=1)))

    def reconstruct(self, bits: torch.Tensor) -> torch.Tensor:
        with inference_threads():
            return self.up(2 * bits - 1)

    def gain(self, iteration: int) -> torch.Tensor:
        return torch.exp(self.log_gain[iteration])

    def steps(self, x: torch.Tensor, iterations: int, stochastic: bool = False):
        """Iterative residual coding: iteration k codes what iterations < k left of x. Yields
        (reconstruction after this iteration, its bits), one iteration at a time, so a caller that
        stops early computes no more."""
        if not 1 <= iterations <= self.iterations:
            raise ValueError(f"iterations must be 1..{self.iterations}, got {iterations}")
        total = torch.zeros_like(x)
        for k in range(iterations):
            gain = self.gain(k)
            b = binarize(self.probabilities((x - total) * gain), stochastic)
            total = total + self.reconstruct(b) / gain
            yield total, b

    def iterate(self, x: torch.Tensor, iterations: int, stochastic: bool = False):
        """All of `steps`: (reconstruction after each iteration, bits of each iteration)."""
        recons, bits = zip(*self.steps(x, iterations, stochastic))
        return list(recons), list(bits)

    def replay(self, bits: list[torch.Tensor]) -> torch.Tensor:
        """The decoder's side of `iterate`: the same sum in the same order, hence the same floats."""
        total = None
        for k, b in enumerate(bits):
            out = self.reconstruct(b) / self.gain(k)
            total = out if total is None else total + out
        return total


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, kernel, padding=kernel // 2), nn.ReLU(),
            nn.Conv2d(channels, channels, kernel, padding=kernel // 2),
        )  # fmt: skip

    def forward(self, x):
        return x + self.body(x)


class GroupCNN(nn.Module):
    """Post-processing of the summed HDR reconstruction: a 3×3 branch and a 5×5 branch of residual
    blocks side by side, fused by a 1×1 convolution into a correction (zero at initialisation)."""

    def __init__(self, channels: int = 16, blocks: int = 10):
        super().__init__()
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.branches = nn.ModuleList(
            nn.Sequential(*(ResidualBlock(channels, kernel) for _ in range(blocks))) for kernel in (3, 5)
        )
        self.tail = nn.Conv2d(2 * channels, 3, 1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: HDR in [0, 1] (PQ code values /65535)."""
        with inference_threads():
            h = self.head(x - 0.5)
            return x + self.tail(torch.cat([branch(h) for branch in self.branches], dim=1))


class HanModel(nn.Module):
    def __init__(self, channels: int = 64, iterations: int = 8, post_channels: int = 16, post_blocks: int = 10):
        super().__init__()
        self.autoencoder = ResidualAutoencoder(channels, iterations)
        self.post = GroupCNN(post_channels, post_blocks)


def pad_for_autoencoder(x: torch.Tensor) -> torch.Tensor:
    """Replicate-padded to the autoencoder's size multiple (FACTOR)."""
    return pad_to_multiple(x, FACTOR, "replicate")
