"""Evaluate one composed method config on a folder of images: the evaluator, the results file
and the run's log (W&B offline by default, or CSV, or nothing). `python -m sandwich.eval` and
`make bench` both call `run`."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sandwich.core.domains import TASK_OF_DOMAIN
from sandwich.core.images import HDRScaling, list_images, load_for_domain
from sandwich.core.paths import CONF_DIR
from sandwich.evaluation import rd
from sandwich.evaluation.evaluator import evaluate, results_document, write_results


def bench_anchor(task: str) -> str:
    """The task's anchor as `make bench` declares it (conf/bench.yaml), so the two never disagree."""
    return OmegaConf.load(CONF_DIR / "bench.yaml").tasks[task].anchor


def run(cfg: DictConfig) -> Path:
    method = instantiate(cfg.method, _convert_="all")
    task = TASK_OF_DOMAIN[method.domain]
    root = Path(cfg.data.root or Path(cfg.data.data_root) / task / "test")
    paths = list_images(root, cfg.data.pattern)[: cfg.data.max_images]
    if not paths:
        raise FileNotFoundError(f"no images in {root}")
    scaling = HDRScaling(**cfg.data.hdr_scaling)
    images = [(p.name, load_for_domain(p, method.domain, scaling)) for p in paths]
    cvvdp_images = [name for name, _ in images[: cfg.cvvdp_images]] if task == "hdr" else []
    out = Path(cfg.output_dir or Path(cfg.paths.results_dir) / task)
    start = time.perf_counter()
    rows = evaluate(
        method,
        images,
        cvvdp_images=cvvdp_images,
        save_dir=out / method.name if cfg.save_bitstreams else None,
        workers=cfg.workers,
        progress=cfg.progress,
    )
    config = OmegaConf.to_container(cfg, resolve=True)
    document = results_document(
        method, rows, config, str(root), [n for n, _ in images], cvvdp_images, cfg.workers, time.perf_counter() - start
    )
    path = write_results(document, out / f"{method.name}.json")
    log_results(cfg.logger, document, out, cfg.anchor or bench_anchor(task))
    return path


def log_results(logger: DictConfig, document: dict, results_dir: Path, anchor: str) -> None:
    """One run per evaluation: per-image table, mean curve, RD figure against the anchor."""
    if logger.kind == "none":
        return
    if logger.kind == "csv":
        path = Path(logger.save_dir) / f"{document['name']}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = document["per_image"]
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
            writer.writeheader()
            writer.writerows(rows)
        return
    if logger.kind != "wandb":
        raise ValueError(f"unknown logger kind {logger.kind!r}")
    import wandb

    Path(logger.save_dir).mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=logger.project,
        mode=logger.mode,
        dir=logger.save_dir,
        group=logger.group,
        tags=list(logger.tags),
        name=document["name"],
        job_type="eval",
        config={k: document[k] for k in ("name", "task", "description", "rate_param", "rate_points", "config")},
        reinit="finish_previous",
    )
    rows = document["per_image"]
    columns = sorted({k for r in rows for k in r})
    run.log({"per_image": wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows])})
    for point in document["curve"]:
        run.log({f"curve/{k}": v for k, v in point.items() if isinstance(v, (int, float))})
    shown = {document["name"]: document}
    others = rd.load_results(results_dir)
    if anchor in others and anchor != document["name"]:
        shown[anchor] = others[anchor]
    figure = rd.plot_rd(shown, "psnr", None, title=f"{document['task']}: {document['name']}", ylabel="PSNR (dB)")
    run.log({"rd/psnr": wandb.Image(figure)})
    run.summary.update({"n_images": len(document["dataset"]["images"]), "wall_s": document["timing"]["wall_s"]})
    run.finish()
