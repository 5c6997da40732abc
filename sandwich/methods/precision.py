"""The one bf16 autocast of the learned methods' training forward passes. Whether it is on comes
from `bf16: auto|true|false` (sandwich.training.precision.resolve_bf16); coding always runs fp32."""

from __future__ import annotations

import torch


def bf16_autocast(device_type: str, enabled: bool):
    """bf16 autocast on `device_type` when `enabled`, else a no-op."""
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=enabled)
