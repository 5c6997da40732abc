"""Loggers of a training run (conf/logger/) and the Hydra callback that groups a sweep's runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from omegaconf import DictConfig, OmegaConf

SWEEP_STAMP = "SANDWICH_SWEEP_STAMP"


class SweepStamp(Callback):
    """Hydra callback (conf/hydra/default.yaml): stamps a multirun with its start time, once, in
    the launching process's environment, which its jobs inherit (the basic launcher runs them
    in-process; sbatch passes the environment to submitit's SLURM jobs by default), so that they
    share one W&B group and two sweeps of an experiment do not. It also keeps the sweep's
    definition as `<runs_root>/multirun-<stamp>.yaml`: Hydra's own `multirun.yaml` there is
    overwritten by the next sweep."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        os.environ[SWEEP_STAMP] = stamp
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(config, sweep_dir / f"multirun-{stamp}.yaml")


def wandb_group(cfg: DictConfig) -> str:
    if cfg.logger.group:
        return cfg.logger.group
    stamp = os.environ.get(SWEEP_STAMP)
    return f"{cfg.name}-{stamp}" if stamp else cfg.name


class ConfigOnceWandbLogger(WandbLogger):
    """The run's config is the composed Hydra config, given to `wandb.init`. Lightning's own call
    with the module's hyperparameters, a part of that config, would log it a second time."""

    def log_hyperparams(self, params) -> None:
        pass


def make_logger(cfg: DictConfig):
    kind = cfg.logger.kind
    if kind == "none":
        return False
    if kind == "csv":
        return CSVLogger(save_dir=cfg.run_dir, name="csv")
    if kind == "wandb":
        return ConfigOnceWandbLogger(
            project=cfg.logger.project,
            save_dir=cfg.logger.save_dir,
            # an offline WandbLogger sets WANDB_MODE=dryrun (wandb's old word for offline), which the
            # next job of a sweep in this process then reads
            offline=cfg.logger.mode in ("offline", "dryrun"),
            group=wandb_group(cfg),
            name=cfg.run_name,
            tags=list(cfg.logger.tags),
            job_type="train",
            config=OmegaConf.to_container(cfg, resolve=True),
        )
    raise ValueError(f"unknown logger kind {kind!r}")
