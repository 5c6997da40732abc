"""The optimiser schedule every LightningModule uses."""

from __future__ import annotations

import math

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer


def adam_with_drop(module: L.LightningModule, groups: list[dict], lr_drop: float):
    """Adam whose learning rates drop ×0.1 at `lr_drop` of max_steps, or of the trainer's max_time
    when that comes first (a wall-clock budget on a machine whose speed is not known beforehand)."""
    optimizer = torch.optim.Adam(groups)
    trainer = module.trainer
    total = trainer.max_steps if trainer and trainer.max_steps > 0 else None
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None) if trainer else None
    remaining = timer.time_remaining() if timer else None  # None: a Timer without a duration
    budget = None if remaining is None else remaining + timer.time_elapsed()  # the whole budget, also on resume
    if not total and budget is None:
        return optimizer
    drop_step = max(1, math.floor(lr_drop * total)) if total else math.inf
    if budget is None:
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[drop_step], gamma=0.1)
    else:

        def factor(step: int) -> float:  # the timer's elapsed time survives a resume (Timer is checkpointed)
            return 0.1 if step >= drop_step or timer.time_elapsed() >= lr_drop * budget else 1.0

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
