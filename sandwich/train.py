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

`-m hparams_search=NAME` (conf/hparams_search/): an Optuna search; each trial returns the values of
`optimized_metric` after its training, which the sweeper optimizes.
"""

from __future__ import annotations

import math

import hydra
import lightning as L
from omegaconf import DictConfig

from sandwich.core.paths import CONF_DIR
from sandwich.training.fit import train


def optimized_metric(cfg: DictConfig, trainer: L.Trainer) -> float | list[float] | None:
    """The value, or values in order, of `optimized_metric` (a metric name or a list of names) in
    the trainer's callback metrics after fit: the last validation's for `val/*`."""
    names = cfg.optimized_metric
    if not names:
        return None
    wanted = [names] if isinstance(names, str) else list(names)
    missing = [n for n in wanted if n not in trainer.callback_metrics]
    if missing:
        logged = sorted(trainer.callback_metrics)
        raise KeyError(f"optimized_metric {missing} was not logged (did a validation run?); logged: {logged}")
    values = [float(trainer.callback_metrics[n]) for n in wanted]
    # a diverged trial fails, so that the sweeper records it as failed (Optuna refuses a NaN)
    if not all(math.isfinite(v) for v in values):
        raise FloatingPointError(f"optimized_metric {dict(zip(wanted, values))} is not finite: training diverged")
    return values[0] if isinstance(names, str) else values


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | list[float] | None:
    return optimized_metric(cfg, train(cfg))


if __name__ == "__main__":
    main()
