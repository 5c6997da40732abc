"""Padding images to a network's size multiple (the networks crop their output back)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "reflect") -> torch.Tensor:
    """N×C×H×W padded at the bottom and right to multiples of `multiple`. Reflection needs the pad
    to be smaller than the side, so a tiny image is replicated instead."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not (pad_h or pad_w):
        return x
    if mode == "reflect" and min(height, width) <= max(pad_h, pad_w):
        mode = "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
