"""Training callbacks shared by every LightningModule of the project (wired in conf/callbacks/)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


class Throughput(L.Callback):
    """Logs `train/images_per_s`: crops per second of each training step, codec work included.
    Once, after `first_steps` steps past the first, it also writes the start-up throughput with
    the precision mode the module chose (bf16: auto) to the run's log."""

    def __init__(self, first_steps: int = 3):
        self.first_steps = first_steps
        self._started = 0.0
        self._first: list[float] = []

    @property
    def startup_rate(self) -> float:
        """Mean crops/s of steps 2 to `first_steps` + 1 (`sandwich.tools.train_time` reads it)."""
        if len(self._first) < self.first_steps:
            raise RuntimeError(f"the run took fewer than {self.first_steps + 1} steps")
        return sum(self._first) / len(self._first)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        rate = len(batch) / (time.perf_counter() - self._started)
        pl_module.log("train/images_per_s", rate, batch_size=len(batch))
        if batch_idx == 0 or len(self._first) >= self.first_steps:
            return  # the first step pays for warm-up
        self._first.append(rate)
        if len(self._first) == self.first_steps:
            mode = "bf16 autocast" if getattr(pl_module, "autocast_bf16", False) else "fp32"
            log.info("training throughput: %.2f crops/s (%s, mean of steps 2-%d)", self.startup_rate, mode, self.first_steps + 1)


class Provenance(L.Callback):
    """Every launch of a run (its command, start time and start step) and the training wall time
    summed over launches, saved in the run's checkpoints: the export of a resumed run reports the
    whole chain, where `.hydra/` holds only the last launch's overrides."""

    def __init__(self, command: str | None = None):
        self.command = command
        self.launches: list[dict] = []
        self.earlier_seconds = 0.0  # the launches before this one
        self._started: float | None = None

    def on_train_start(self, trainer, pl_module):
        self._started = time.monotonic()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        self.launches.append({"command": self.command, "started": started, "step": trainer.global_step})

    def state_dict(self) -> dict:
        now = time.monotonic() - self._started if self._started is not None else 0.0
        return {"launches": self.launches, "train_seconds": self.earlier_seconds + now}

    def load_state_dict(self, state_dict: dict) -> None:
        self.launches = list(state_dict["launches"])
        self.earlier_seconds = state_dict["train_seconds"]


class StepCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that also writes `last.ckpt` at the final step. Lightning's own writes `last`
    only with the every-n-steps checkpoints, so a run whose max_steps is not a multiple of n ended
    with `last.ckpt` behind the trained weights (and exported the older ones). A smoke run
    (`trainer.fast_dev_run`) writes none: Lightning (2.6) skips its periodic checkpoints then, but
    its own `on_train_end` still wrote `last.ckpt` (13-47 MB) into the run folder."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.fast_dev_run:
            return  # neither ours nor Lightning's train-end last.ckpt
        # public API only: rewrite last.ckpt at the final step (the same step again is a harmless
        # rewrite); `ckpt_path=last` resumes from it
        if self.save_last and self.dirpath is not None:
            path = str(Path(self.dirpath) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}")
            trainer.save_checkpoint(path)
            self.last_model_path = path
        super().on_train_end(trainer, pl_module)
