"""Train a method: `python -m sandwich.train experiment=sandwich_hdr [model.lmbda=...]`.

Thin Hydra entry point: data, model, callbacks, logger and trainer come from conf/. A λ sweep is
`-m model.lmbda=a,b,c,d`; each job ends its own W&B run, and the jobs of one sweep share a W&B
group, `<experiment>-<sweep start time>` (a single run's group: `<experiment>`). Re-running the
same command with `ckpt_path=last` resumes from the run folder's last checkpoint;
`init_from=PATH` instead starts a new run from another run's weights (fine-tuning the other λ of
a sweep from one well-trained model). A resume prints the checkpoint it loads and its step (or
that there is none, and training starts at step 0).

`debug=fdr|limit|overfit|profiler` (conf/debug/): smoke and debugging runs, in logs/debug/, with
no checkpoint and no logger; `trainer.fast_dev_run=true` alone also writes no checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from sandwich.core.paths import CONF_DIR
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


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
