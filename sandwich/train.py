"""Train a method: `python -m sandwich.train experiment=sandwich_hdr [model.lmbda=...]`.

Thin Hydra entry point: data, model, callbacks, logger and trainer come from conf/. A λ sweep is
`-m model.lmbda=a,b,c,d`; each job ends its own W&B run, and the jobs of one sweep share a W&B
group, `<experiment>-<sweep start time>` (a single run's group: `<experiment>`). Re-running the
same command with `ckpt_path=last` resumes from the run folder's last checkpoint;
`init_from=PATH` instead starts a new run from another run's weights (fine-tuning the other λ of
a sweep from one well-trained model).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sandwich.core.paths import CONF_DIR
from sandwich.methods.checkpoint import network_state

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


def make_logger(cfg: DictConfig):
    kind = cfg.logger.kind
    if kind == "none":
        return False
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=cfg.run_dir, name="csv")
    if kind == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        logger = WandbLogger(
            project=cfg.logger.project,
            save_dir=cfg.logger.save_dir,
            # an offline WandbLogger sets WANDB_MODE=dryrun (wandb's old word for offline), which the
            # next job of a sweep in this process then reads
            offline=cfg.logger.mode in ("offline", "dryrun"),
            group=wandb_group(cfg),
            name=cfg.run_name,
            tags=list(cfg.logger.tags),
            job_type="train",
        )
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        return logger
    raise ValueError(f"unknown logger kind {kind!r}")


def warm_start(module: L.LightningModule, checkpoint: str) -> None:
    """Initialise the networks from another run (another λ, or an earlier training stage): a
    Lightning .ckpt, or a shipped checkpoint (sandwich.export, fp16 weights of `module.model`),
    so that training can go on from what is committed when the run folders are gone. The module's
    `restart_on_warm_start` parameters (the sandwich's Δ) keep their initial values."""
    restart = set(getattr(module, "restart_on_warm_start", ()))
    document = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if "format" in document:  # shipped: the network's own state, without the module's prefix
        state = {f"model.{k}": v for k, v in network_state(document).items()}
    else:
        state = document["state_dict"]
    state = {k: v for k, v in state.items() if k not in restart}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if unexpected or set(missing) != restart:
        raise ValueError(f"{checkpoint}: does not fit this model (missing {missing}, unexpected {unexpected})")


def train(cfg: DictConfig) -> L.Trainer:
    L.seed_everything(cfg.seed, workers=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = instantiate(cfg.data)
    module = instantiate(cfg.model, _convert_="all")
    if cfg.init_from:
        warm_start(module, cfg.init_from)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()] if cfg.callbacks else []
    logger = make_logger(cfg)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    try:
        trainer.fit(module, datamodule=data, ckpt_path=cfg.ckpt_path)
    finally:
        if cfg.logger.kind == "wandb":
            import wandb

            wandb.finish()  # one run per job, also in a multirun
    return trainer


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
