"""Train a method: `python -m sandwich.train experiment=sandwich_hdr [model.lmbda=...]`.

Thin Hydra entry point: data, model, callbacks, logger and trainer come from conf/. A λ sweep is
`-m model.lmbda=a,b,c,d`; each job ends its own W&B run, and the jobs of one sweep share a W&B
group, `<experiment>-<sweep start time>` (a single run's group: `<experiment>`). Re-running the
same command with `ckpt_path=last` resumes from the run folder's last checkpoint;
`init_from=PATH` instead starts a new run from another run's weights (fine-tuning the other λ of
a sweep from one well-trained model).
"""

from __future__ import annotations

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
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
