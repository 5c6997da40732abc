"""The training run that `python -m sandwich.train` starts: data, model, callbacks, logger and
trainer instantiated from the composed config, a warm start (`init_from`) or a resume
(`ckpt_path`, "last" printing the file and step it resumes), then `Trainer.fit`."""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from sandwich.training.callbacks import Provenance
from sandwich.training.loggers import make_logger
from sandwich.training.warm_start import warm_start


def train(cfg: DictConfig) -> L.Trainer:
    L.seed_everything(cfg.seed, workers=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = instantiate(cfg.data)
    module = instantiate(cfg.model, _convert_="all")
    if cfg.init_from:
        warm_start(module, cfg.init_from)
    # a debug config removes a callback by setting it to null
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None] if cfg.callbacks else []
    callbacks.append(Provenance(_command()))
    logger = make_logger(cfg)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    ckpt_path = resume_path(cfg, callbacks)
    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    finally:
        if cfg.logger.kind == "wandb":
            import wandb

            wandb.finish()  # one run per job, also in a multirun
    return trainer


def _command() -> str | None:
    """This launch's command line, when Hydra's entry point started it (not a composed config)."""
    if not HydraConfig.initialized():
        return None
    return " ".join(["python -m sandwich.train", *HydraConfig.get().overrides.task])


def last_checkpoint(cfg: DictConfig, callbacks: list) -> tuple[Path | None, Path]:
    """The newest `last*.ckpt` of the run's checkpoint folder (the checkpoint callback's, else
    ${run_dir}/checkpoints), as Lightning's `ckpt_path="last"` picks it; and that folder."""
    folders = [Path(c.dirpath) for c in callbacks if isinstance(c, ModelCheckpoint) and c.dirpath]
    folder = folders[0] if folders else Path(cfg.run_dir) / "checkpoints"
    found = sorted(folder.glob("last*.ckpt"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    return (found[-1] if found else None), folder


def resume_path(cfg: DictConfig, callbacks: list) -> str | None:
    """`ckpt_path` for Trainer.fit; for "last", the file itself, after printing which file it is,
    the step and epoch it holds and when it was written (or that there is none to resume)."""
    if cfg.ckpt_path != "last":
        if cfg.ckpt_path:
            print(f"resuming from {cfg.ckpt_path} (step {_checkpoint_step(cfg.ckpt_path)})", flush=True)
        return cfg.ckpt_path
    path, folder = last_checkpoint(cfg, callbacks)
    if path is None:
        print(f"ckpt_path=last: no last*.ckpt in {folder}: nothing to resume, training starts at step 0", flush=True)
        return None
    written = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
    print(f"ckpt_path=last: resuming from {path} (step {_checkpoint_step(path)}, written {written})", flush=True)
    return str(path)


def _checkpoint_step(path) -> str:
    """'N, epoch E' from a Lightning checkpoint, read memory-mapped (the weights stay on disk)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # Lightning will say what is wrong with the file when it loads it
        return f"unreadable: {type(err).__name__}"
    return f"{checkpoint.get('global_step', '?')}, epoch {checkpoint.get('epoch', '?')}"
