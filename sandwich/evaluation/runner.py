"""Evaluate one composed method config on a folder of images: the evaluator, the results file
and the run's log (none by default; W&B offline, or CSV). `python -m sandwich.eval` and
`make bench` both call `run`.

Where results go: `output_dir` when given (`make bench` passes results/<task>), else this run's
own folder, `${run_dir}/<task>` (logs/eval/<date>/<time>/<task>/): an ad-hoc or partial
evaluation never lands on the committed benchmark. A results file already at the destination
that was computed on another image set is replaced only with `overwrite=true`.

An image that cannot be read, or a rate point whose encode, decode or measurement fails, is
recorded in the results file's `errors` and the rest is evaluated; the results file is written,
then the run ends with `EvaluationFailed` (exit status 1, one line naming what failed).
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sandwich.core.domains import TASK_OF_DOMAIN
from sandwich.core.images import HDRScaling, list_images, load_for_domain
from sandwich.core.paths import CONF_DIR
from sandwich.evaluation.evaluator import (
    dataset_record,
    describe_image_set,
    error_entry,
    evaluate,
    read_results,
    results_document,
    same_image_set,
    write_results,
)


class EvaluationFailed(SystemExit):
    """Ends `python -m sandwich.eval` with exit status 1 and one line on stderr, no traceback
    (a SystemExit: Hydra passes it through). Raised after the results file is written."""


class ResultsConflict(EvaluationFailed):
    """Refusal to replace a results file computed on another image set (raised before evaluating)."""


def bench_anchor(task: str) -> str:
    """The task's anchor as `make bench` declares it (conf/bench.yaml), so the two never disagree."""
    return OmegaConf.load(CONF_DIR / "bench.yaml").tasks[task].anchor


def output_folder(cfg: DictConfig, task: str) -> Path:
    """`output_dir` when set, else this run's folder `${run_dir}/<task>`."""
    if cfg.output_dir:
        return Path(cfg.output_dir)
    return Path(cfg.run_dir) / task


def check_replace(path: Path, dataset: dict, overwrite: bool) -> None:
    """Refuse to replace `path` when it holds results on another image set, unless `overwrite`."""
    if overwrite or not path.is_file():
        return
    try:
        old = read_results(path).get("dataset", {})
    except (OSError, ValueError):
        return  # not a results file we can read: nothing worth protecting
    if same_image_set(old, dataset) is False:
        raise ResultsConflict(
            f"sandwich.eval: {path} holds results on {describe_image_set(old)}, this run is on "
            f"{describe_image_set(dataset)}; refusing to replace it: pass overwrite=true, or output_dir=DIR to write elsewhere"
        )


def failure_summary(document: dict, path: Path) -> str:
    """One line: how many images / points failed, at which stages, and the first message."""
    errors = document["errors"]
    unread = sorted({e["image"] for e in errors if e["stage"] == "read"})
    points = [e for e in errors if e["stage"] != "read"]
    total = len(document["dataset"]["images"]) * len(document["rate_points"])
    parts = []
    if unread:
        parts.append(f"{len(unread)} of {len(document['dataset']['images'])} images unreadable ({', '.join(unread[:3])}{', ...' if len(unread) > 3 else ''})")
    if points:
        stages = ", ".join(f"{stage} {n}" for stage, n in Counter(e["stage"] for e in points).items())
        parts.append(f"{len(points)} of {total} image × rate points failed ({stages})")
    first = errors[0]
    return (f"sandwich.eval {document['name']}: {'; '.join(parts)}; first: {first['message']}; "
            f"all {len(errors)} in `errors` of {path}")  # fmt: skip


def run(cfg: DictConfig) -> Path:
    method = instantiate(cfg.method, _convert_="all")
    task = TASK_OF_DOMAIN[method.domain]
    root = Path(cfg.data.root or Path(cfg.data.data_root) / task / "test")
    paths = list_images(root, cfg.data.pattern)[: cfg.data.max_images]
    if not paths:
        raise FileNotFoundError(f"no images in {root}")
    out = output_folder(cfg, task)
    dataset = dataset_record(root, paths)
    check_replace(out / f"{method.name}.json", dataset, bool(cfg.get("overwrite", False)))
    scaling = HDRScaling(**cfg.data.hdr_scaling)
    errors: list[dict] = []
    images = []
    for p in paths:
        try:
            images.append((p.name, load_for_domain(p, method.domain, scaling)))
        except Exception as err:  # an untrusted file: record it, evaluate the others
            errors.append(error_entry(p.name, None, "read", err))
    cvvdp_images = [name for name, _ in images[: cfg.cvvdp_images]] if task == "hdr" else []
    start = time.perf_counter()
    rows = evaluate(
        method,
        images,
        cvvdp_images=cvvdp_images,
        save_dir=out / method.name if cfg.save_bitstreams else None,
        workers=cfg.workers,
        progress=cfg.progress,
        errors=errors,
    )
    config = OmegaConf.to_container(cfg, resolve=True)
    config["output_dir"] = str(out)  # where this run wrote, also when the run folder chose it
    document = results_document(
        method, rows, config, dataset, cvvdp_images, cfg.workers, time.perf_counter() - start, errors
    )
    path = write_results(document, out / f"{method.name}.json")
    log_results(cfg.logger, document, out, cfg.anchor or bench_anchor(task), Path(cfg.paths.results_dir) / task)
    if errors:
        raise EvaluationFailed(failure_summary(document, path))
    return path


def log_results(logger: DictConfig, document: dict, results_dir: Path, anchor: str, bench_dir: Path | None = None) -> None:
    """The run's log: nothing, the per-image rows as CSV, or one W&B run (`wandb_log`) whose BD
    and RD plots take the anchor's results from `results_dir`, else from the benchmark's
    `bench_dir` when they were computed on the same images."""
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
    # imported here: an eval that does not log to W&B never loads it
    from sandwich.evaluation.wandb_log import log_evaluation

    reference = None if anchor == document["name"] else _anchor_document(anchor, document, [results_dir, bench_dir])
    log_evaluation(logger, document, reference)


def _anchor_document(anchor: str, document: dict, folders: list[Path | None]) -> dict | None:
    """The anchor's results on the same image set as `document`, from the first folder that has them."""
    for folder in folders:
        if folder is None:
            continue
        path = Path(folder) / f"{anchor}.json"
        if not path.is_file():
            continue
        try:
            other = read_results(path)
        except (OSError, json.JSONDecodeError):
            continue
        if same_image_set(other.get("dataset", {}), document["dataset"]) is not False:
            return other
    return None
