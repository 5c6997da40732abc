"""Differentiable JPEG proxy and the real-JPEG rate fit (Guleryuz et al., Fig. 6 and eq. 39–40).

Bottleneck B (N×3×H×W, real values meant to lie in [0, 255]) → clip → straight-through round →
pad to a multiple of 8 → (optional JFIF RGB→YCbCr, as the real codec does) → −128 → orthonormal
8×8 DCT-II (JPEG's FDCT is exactly this) → quantize with one learnable step Δ = elu(q)+1 by
straight-through rounding → IDCT → +128 → round → (YCbCr→RGB, round) → crop, all
rounding straight-through.

The table is flat (every coefficient at Δ, the paper's) unless `tilt`/`chroma` shape it: coefficient
(u, v) then has step Δ·(1 + tilt·(u+v)/14), times `chroma` in Cb and Cr, and the real codec gets
the same tables rounded (`sandwich.codecs.jpeg.step_tables`). A stated deviation from the paper.

Rate: R = a·Σ log(1 + |x̂|/Δ_k) per image (Δ_k: coefficient k's step), with `a` re-fitted at every
step (gradient stopped) so that R equals the size in bits of the real JPEG of round(B) with the
tables at round(Δ), headers included. The loss therefore sees the true JPEG size, with gradients
from the smooth surrogate.

`rate_input` picks the x̂ of that surrogate. `quantized` (the paper's): the straight-through
quantized coefficients. A coefficient quantized to zero then has no rate gradient, so the
surrogate cannot see a change that makes zeros non-zero. Measured with `python -m
sandwich.tools.surrogate_check` on the SR λ = 400 model's validation crops: one grey level along the
distortion's descent direction raised the real JPEG by ~500 bits per 256² crop, and the quantized
surrogate predicted ~20. `unquantized` (the DCT coefficients before rounding) predicted ~640 and
`noisy` (those plus uniform noise of one step, the usual learned-compression proxy) ~120. A stated
deviation, off by default: in joint training it kept the rate from running away but did not beat
the shipped files (`docs/experiments.md`, 2026-11-30, "Why joint training raises the rate: the rate surrogate").
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sandwich.codecs.jpeg import encode_jpeg8, step_tables, table_multipliers
from sandwich.methods.padding import pad_to_multiple

BLOCK = 8
# JFIF full-range RGB <-> YCbCr (what libjpeg applies when keep_rgb is off); chroma offset 128
RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]]
)
_YCBCR_TO_RGB = torch.linalg.inv(RGB_TO_YCBCR.double()).float()
_CHROMA_OFFSET = torch.tensor([0.0, 128.0, 128.0])


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity backward."""
    return x + (torch.round(x) - x).detach()


def ste_floor(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.floor(x) - x).detach()


def dct_matrix(n: int = BLOCK, dtype=torch.float32) -> torch.Tensor:
    """Orthonormal DCT-II matrix C (C @ C.T = I): coefficients = C @ block @ C.T."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    c = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    c[0] /= math.sqrt(2)
    return c.to(dtype)


def to_blocks(x: torch.Tensor) -> torch.Tensor:
    """N×C×H×W (H, W multiples of 8) -> N×C×(H/8)×(W/8)×8×8."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(3, 4)


def from_blocks(b: torch.Tensor) -> torch.Tensor:
    n, c, bh, bw, _, _ = b.shape
    return b.transpose(3, 4).reshape(n, c, bh * BLOCK, bw * BLOCK)


def dct2(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return c @ to_blocks(x) @ c.T


def idct2(coeffs: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return from_blocks(c.T @ coeffs @ c)


def _mix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(x), x)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    return _mix(x, RGB_TO_YCBCR) + _CHROMA_OFFSET.to(x)[None, :, None, None]


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    return _mix(x - _CHROMA_OFFSET.to(x)[None, :, None, None], _YCBCR_TO_RGB)


MIN_STEP = 1.0  # the finest flat JPEG step
RATE_INPUTS = ("quantized", "unquantized", "noisy")


class JPEGProxy(nn.Module):
    """Differentiable stand-in for JPEG with step tables Δ·multipliers (flat by default);
    `colour` "rgb" (keep_rgb) or "ycbcr"; `rate_input`: the coefficients the rate surrogate counts."""

    def __init__(
        self, step_init: float = 4.0, colour: str = "rgb", tilt: float = 0.0, chroma: float = 1.0, rate_input: str = "quantized"
    ):
        super().__init__()
        if colour not in ("rgb", "ycbcr"):
            raise ValueError(f"colour must be 'rgb' or 'ycbcr', got {colour!r}")
        if rate_input not in RATE_INPUTS:
            raise ValueError(f"rate_input must be one of {RATE_INPUTS}, got {rate_input!r}")
        if step_init < MIN_STEP:
            raise ValueError(f"step_init must be at least {MIN_STEP}, got {step_init}")
        if colour == "rgb" and chroma != 1.0:
            raise ValueError("keep_rgb JPEG codes R, G and B with the luma table: chroma needs colour='ycbcr'")
        self.colour, self.tilt, self.chroma, self.rate_input = colour, float(tilt), float(chroma), rate_input
        # Δ = elu(q) + MIN_STEP = step_init: elu is the identity for q ≥ 0
        self.q = nn.Parameter(torch.tensor(float(step_init - MIN_STEP)))
        self.register_buffer("dct", dct_matrix(), persistent=False)
        table_multipliers(tilt, chroma)  # checks them

    def coefficient_steps(self, step: torch.Tensor | None = None) -> torch.Tensor:
        """Every coefficient's step at base step Δ (the learned one by default), 3×1×1×8×8 to
        broadcast over N×3×(H/8)×(W/8)×8×8 coefficients: Δ times the shape of the real tables at
        round(Δ) (their entries' rounding included; gradient to Δ through that fixed shape). The flat
        table is Δ itself, the paper's continuous step."""
        step = self.step if step is None else step
        base = max(1, round(float(torch.as_tensor(step).detach())))
        luma, chroma = torch.tensor(step_tables(base, self.tilt, self.chroma), dtype=torch.float32).view(2, 8, 8) / base
        tables = [luma, chroma, chroma] if self.colour == "ycbcr" else [luma] * 3  # keep_rgb: luma for all
        return step * torch.stack(tables).to(self.q.device)[:, None, None]

    def encode(self, image: np.ndarray, step: float) -> bytes:
        """The real JPEG of a uint8 H×W×3 bottleneck at base step round(Δ), with this proxy's
        tables and colour handling."""
        return encode_jpeg8(image, flat_step=step, keep_rgb=self.colour == "rgb", tilt=self.tilt, chroma=self.chroma)

    def real_bits(self, bottleneck: torch.Tensor, step: float) -> torch.Tensor:
        """Bits of the real JPEG (tables at round(Δ), optimize, 4:4:4, headers) of each image."""
        step = round(float(step))  # encode_jpeg8 clips the tables to 1..255
        bits = [8 * len(self.encode(image, step)) for image in to_uint8_images(bottleneck)]
        return torch.tensor(bits, dtype=torch.float32, device=bottleneck.device)

    @property
    def step(self) -> torch.Tensor:
        """Δ = elu(q, 0.01) + MIN_STEP (PIL JPEG does not tell steps 0 and 1 apart)."""
        return F.elu(self.q, alpha=0.01) + MIN_STEP

    def forward(self, bottleneck: torch.Tensor, step: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(decoded bottleneck N×3×H×W in [0, 255], the DCT coefficients the rate surrogate counts:
        by default the quantized ones), at the learned Δ or at `step`."""
        h, w = bottleneck.shape[-2:]
        x = ste_round(bottleneck.clamp(0, 255)).float()
        x = pad_to_multiple(x, BLOCK, "replicate")  # libjpeg replicates the edge into partial blocks
        if self.colour == "ycbcr":
            x = ste_round(rgb_to_ycbcr(x))
        steps = self.coefficient_steps(step)
        coeffs = dct2(x - 128.0, self.dct)
        quantized = steps * ste_round(coeffs / steps)
        # a real decoder outputs integers after the IDCT and after the colour conversion
        y = ste_round((idct2(quantized, self.dct) + 128.0).clamp(0, 255))
        if self.colour == "ycbcr":
            y = ste_round(ycbcr_to_rgb(y).clamp(0, 255))
        if self.rate_input == "unquantized":
            return y[..., :h, :w], coeffs
        if self.rate_input == "noisy":  # the noise only while training: validation draws no random numbers
            noise = (torch.rand_like(coeffs) - 0.5) * steps if self.training else 0.0
            return y[..., :h, :w], coeffs + noise
        return y[..., :h, :w], quantized


def rate_surrogate(quantized: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Σ log(1 + |x̂|/Δ_k) per image (a smooth count of non-zero coefficients); `steps` is Δ or
    the per-coefficient steps (`JPEGProxy.coefficient_steps`)."""
    return torch.log1p(quantized.abs() / steps).flatten(1).sum(1)


def to_uint8_images(bottleneck: torch.Tensor) -> np.ndarray:
    """N×3×H×W real-valued bottleneck -> the N×H×W×3 uint8 images a real codec takes (clipped, rounded)."""
    images = bottleneck.detach().clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    return np.ascontiguousarray(images.cpu().numpy())


def fitted_rate(quantized: torch.Tensor, steps: torch.Tensor, real_bits: torch.Tensor) -> torch.Tensor:
    """R = a·surrogate with a = real/surrogate held constant: value = real bits, gradient = a·∂surrogate."""
    surrogate = rate_surrogate(quantized, steps)
    scale = (real_bits / surrogate.clamp_min(1e-6)).detach()
    return scale * surrogate
