"""An evaluation as one W&B run (`logger=wandb`): its RD curve against bpp, a line plot per metric
with the reference method's curve beside it; the per-image rows; and BD-rate / BD-quality against
the reference (the bench's BD, `rd.bd`, on the bench's BD metrics). The history's `curve/*` are
charted against `curve/bpp`, so that the runs of a bench's group compare in one chart. wandb is
imported only when a run logs to it."""

from __future__ import annotations

from pathlib import Path

from sandwich.evaluation import rd
from sandwich.evaluation.report import BD_METRICS

CONFIG_KEYS = ("name", "task", "description", "rate_param", "rate_points", "config")
BD_COLUMNS = ["reference", "metric", "bd_rate_pct", "bd_quality", "unit", "rate_overlap_bpp", "quality_overlap", "note"]


def log_evaluation(logger, document: dict, reference: dict | None) -> None:
    """One run: `logger` holds conf/logger/wandb.yaml's settings, `document` is the results file's
    content (left as it is), `reference` the results BD is measured against, or None."""
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
        config={k: document[k] for k in CONFIG_KEYS},
        reinit="finish_previous",
    )
    run.define_metric("curve/bpp")
    run.define_metric("curve/*", step_metric="curve/bpp")
    for point in sorted(document["curve"], key=lambda p: p["bpp"]):
        run.log({f"curve/{k}": v for k, v in point.items() if isinstance(v, (int, float))})
    shown = {document["name"]: document} | ({reference["name"]: reference} if reference else {})
    logged = {"per_image": _table(wandb, document["per_image"])}
    for metric in document["metrics"]:
        if metric == "bpp":
            continue
        points = [[name, float(x), float(y)] for name, res in shown.items() for x, y in zip(*rd.curve(res, metric))]
        table = wandb.Table(columns=["method", "bpp", metric], data=points)
        logged[f"rd/{metric}"] = wandb.plot.line(table, "bpp", metric, stroke="method", title=f"{document['task']}: {metric} against bpp")
    summary = {"n_images": len(document["dataset"]["images"]), "wall_s": document["timing"]["wall_s"],
               "n_errors": len(document.get("errors", []))}  # fmt: skip
    if reference is not None:
        rows = bd_rows(document, reference)
        logged["bd"] = wandb.Table(columns=BD_COLUMNS, data=rows)
        for _, metric, bd_rate, bd_quality, *_ in rows:  # sortable columns of the project's runs table
            summary |= {f"bd/{metric}/rate_pct": bd_rate, f"bd/{metric}/quality": bd_quality}
    run.log(logged)
    run.summary.update(summary)
    run.finish()


def bd_rows(document: dict, reference: dict) -> list[list]:
    """BD of `document` against `reference` on each BD metric of the task, as `BD_COLUMNS` rows."""
    rows = []
    for metric, unit in BD_METRICS[document["task"]]:
        result = rd.bd(rd.curve(reference, metric), rd.curve(document, metric))
        rows.append([
            reference["name"], metric, result.bd_rate, result.bd_quality, unit,
            _interval(result.rate_overlap), _interval(result.quality_overlap), result.note,
        ])  # fmt: skip
    return rows


def _interval(bounds: tuple[float, float] | None) -> str:
    return "" if bounds is None else f"{bounds[0]:.3f}–{bounds[1]:.3f}"


def _table(wandb, rows: list[dict]):
    columns = sorted({k for r in rows for k in r})
    return wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows])
