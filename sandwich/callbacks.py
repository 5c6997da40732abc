"""Training callbacks shared by every LightningModule of the project (wired in conf/callbacks/)."""

from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class Throughput(L.Callback):
    """Logs `train/images_per_s`: crops per second of each training step, codec work included."""

    def __init__(self):
        self._started = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        pl_module.log("train/images_per_s", len(batch) / (time.perf_counter() - self._started), batch_size=len(batch))


class StepCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that also writes `last.ckpt` at the final step. Lightning's own writes `last`
    only with the every-n-steps checkpoints, so a run whose max_steps is not a multiple of n ended
    with `last.ckpt` behind the trained weights (and exported the older ones)."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and trainer.global_step != self._last_global_step_saved:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        super().on_train_end(trainer, pl_module)
