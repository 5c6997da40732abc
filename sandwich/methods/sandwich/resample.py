"""Differentiable 2× resamplers matching the SR baseline's Pillow filters.

Down: antialiased bicubic (torch `interpolate(..., antialias=True)`, Pillow's a = -0.5 kernel
stretched by the factor). Up: Lanczos-3, separable, exact 2× (output sample centres at
(i + 0.5)/2 - 0.5 in input coordinates), edge-replicated like Pillow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bicubic_down(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """N×C×H×W -> N×C×ceil(H/f)×ceil(W/f)."""
    h, w = x.shape[-2:]
    size = (-(-h // factor), -(-w // factor))
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)


def _lanczos(t: torch.Tensor, a: int = 3) -> torch.Tensor:
    t = t.abs()
    out = torch.sinc(t) * torch.sinc(t / a)
    return torch.where(t < a, out, torch.zeros_like(t))


def _upsample_axis(x: torch.Tensor, size: int, axis: int, a: int = 3) -> torch.Tensor:
    """Lanczos-a resample along `axis` (-1 or -2) from its length n to `size` (Pillow's mapping)."""
    n = x.shape[axis]
    scale = n / size
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) * scale - 0.5
    first = torch.floor(centres).long() - a + 1
    taps = first[:, None] + torch.arange(2 * a)[None, :]
    weights = _lanczos(centres[:, None] - taps.double(), a)
    weights = (weights / weights.sum(1, keepdim=True)).to(x)  # x's dtype and device
    index = taps.clamp(0, n - 1).to(x.device)  # replicate the edge
    moved = x.movedim(axis, -1)
    gathered = moved[..., index]  # ...×size×2a
    return (gathered * weights).sum(-1).movedim(-1, axis)


def lanczos_up(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """N×C×h×w -> N×C×height×width with a separable Lanczos-3 kernel."""
    return _upsample_axis(_upsample_axis(x, height, -2), width, -1)


