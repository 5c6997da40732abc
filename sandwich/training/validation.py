"""Validation readouts shared by every LightningModule."""

from __future__ import annotations

import logging

import lightning as L

log = logging.getLogger(__name__)


def log_validation(module: L.LightningModule) -> dict[str, float]:
    """One readable line per validation in the run's log, beside the logger's dashboards."""
    metrics = {k: float(v) for k, v in module.trainer.callback_metrics.items() if k.startswith(("val/", "train/"))}
    # Lightning's sanity check sees only its first few validation batches: not comparable with later lines
    when = "sanity check (first validation batches only)" if module.trainer.sanity_checking else f"step {module.global_step}"
    log.info("%s: %s", when, ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    return metrics
