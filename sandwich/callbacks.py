"""Training callbacks shared by every LightningModule of the project (wired in conf/callbacks/)."""

from __future__ import annotations

import time

import lightning as L


class Throughput(L.Callback):
    """Logs `train/images_per_s`: crops per second of each training step, codec work included."""

    def __init__(self):
        self._started = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        pl_module.log("train/images_per_s", len(batch) / (time.perf_counter() - self._started), batch_size=len(batch))
