"""Generalized divisive normalisation (Ballé et al. 2016), written here in its reparametrised form.

GDN:  y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²);  IGDN: y_i = x_i · sqrt(β_i + Σ_j γ_ij x_j²).
β and γ are stored as reparametrised values p with β = max(p, bound)² − pedestal, so they stay
non-negative (β ≥ β_min > 0) under any gradient step; the pedestal keeps the gradient alive near 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_PEDESTAL = (2.0**-18) ** 2


def _to_stored(value: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(torch.clamp_min(value + _PEDESTAL, _PEDESTAL))


def _from_stored(stored: torch.Tensor, minimum: float) -> torch.Tensor:
    return torch.clamp_min(stored, (minimum + _PEDESTAL) ** 0.5) ** 2 - _PEDESTAL


class GDN(nn.Module):
    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse, self.beta_min = inverse, beta_min
        self.beta_stored = nn.Parameter(_to_stored(torch.ones(channels)))
        self.gamma_stored = nn.Parameter(_to_stored(gamma_init * torch.eye(channels)))

    @property
    def beta(self) -> torch.Tensor:
        return _from_stored(self.beta_stored, self.beta_min)

    @property
    def gamma(self) -> torch.Tensor:
        return _from_stored(self.gamma_stored, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        norm = torch.sqrt(F.conv2d(x * x, self.gamma.view(channels, channels, 1, 1), self.beta))
        return x * norm if self.inverse else x / norm


def IGDN(channels: int, **kwargs) -> GDN:
    return GDN(channels, inverse=True, **kwargs)
