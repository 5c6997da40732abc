"""The shared evaluator: sweep a Method over images and rate points, measure, write results JSON.

Only this module computes metrics, and only on decoded integer images in the method's task domain.
Rate is 8*len(bitstream)/(H*W): the complete bitstream the method returned.
"""

from __future__ import annotations

import json
import math
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from sandwich.core.bitstream import CONTAINER_SUFFIX, container
from sandwich.core.contract import Method
from sandwich.core.domains import DOMAINS, TASK_OF_DOMAIN
from sandwich.core.images import write_png
from sandwich.evaluation import metrics

SCHEMA_VERSION = 1
BPP_DEFINITION = "8*len(bitstream)/(H*W) of the complete bitstream (header, side info, every layer), H×W of the source"
NULL_NOTE = "a metric of null means infinite (decoded image identical to the source) or not computed"
METRICS_OF_TASK = {
    "hdr": ("psnr", "pu_psnr", "pu_ssim", "cvvdp_jod", "ldr_saturation_psnr"),
    "sr": ("psnr", "ms_ssim"),
}
def _rate_label(rate_point: Any) -> str:
    return str(rate_point).replace(".", "p").replace("/", "_")


def evaluate_image(
    method: Method,
    name: str,
    image: np.ndarray,
    rate_points: Iterable[Any],
    with_cvvdp: bool = False,
    save_dir: Path | None = None,
) -> list[dict]:
    """Rows for one image: one per rate point."""
    task = TASK_OF_DOMAIN[method.domain]
    height, width = image.shape[:2]
    if task == "hdr":
        reference = metrics.HDRReference(image)  # reference-side work done once per image

        def measure(decoded):
            return reference.metrics(decoded, with_cvvdp=with_cvvdp)

        fixed = {"ldr_saturation_psnr": metrics.ldr_saturation_psnr(image)}
    else:

        def measure(decoded):
            return metrics.sr_metrics(image, decoded)

        fixed = {}
    rows = []
    for rate_point in rate_points:
        t0 = time.perf_counter()
        data = method.encode(image, rate_point)
        t1 = time.perf_counter()
        decoded = method.decode(data)
        t2 = time.perf_counter()
        if decoded.shape != image.shape or decoded.dtype != image.dtype:
            raise RuntimeError(f"{method.name}: decoded {decoded.shape} {decoded.dtype} for {image.shape} {image.dtype}")
        row = {
            "image": name,
            "width": width,
            "height": height,
            "rate_point": rate_point,
            "bytes": len(data),
            "bpp": 8 * len(data) / (height * width),
        }
        row.update(measure(decoded))
        row.update(fixed)
        row.update(encode_s=t1 - t0, decode_s=t2 - t1)
        rows.append(row)
        if save_dir is not None:
            stem = f"{Path(name).stem}__{method.rate_param}_{_rate_label(rate_point)}"
            (save_dir / (stem + CONTAINER_SUFFIX[container(data)])).write_bytes(data)
            write_png(save_dir / (stem + ".png"), decoded)
    return rows


_worker_method: Method | None = None  # set once per worker process: a method can weigh tens of MB


def _start_worker(method: Method) -> None:
    import torch

    global _worker_method
    torch.set_num_threads(1)  # one image per worker process; the workers share the cores
    _worker_method = method


def _evaluate_job(name, image, rate_points, with_cvvdp, save_dir):
    return evaluate_image(_worker_method, name, image, rate_points, with_cvvdp, save_dir)


def evaluate(
    method: Method,
    images: list[tuple[str, np.ndarray]],
    rate_points: Iterable[Any] | None = None,
    cvvdp_images: Iterable[str] = (),
    save_dir: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
) -> list[dict]:
    """Rows for every image × rate point, in image order; `workers` > 1 runs images in processes."""
    from tqdm.auto import tqdm

    rate_points = list(rate_points if rate_points is not None else method.rate_points)
    cvvdp_images = set(cvvdp_images)
    if save_dir is not None:
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(method, name, image, rate_points, name in cvvdp_images, save_dir) for name, image in images]
    bar = tqdm(total=len(jobs) * len(rate_points), desc=method.name, unit="pt", disable=not progress)
    results: dict[str, list[dict]] = {}
    if workers <= 1:
        for job in jobs:
            results[job[1]] = evaluate_image(*job)
            bar.update(len(rate_points))
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(method,)) as pool:
            futures = {pool.submit(_evaluate_job, *job[1:]): job[1] for job in jobs}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(len(rate_points))
    bar.close()
    return [row for name, _ in images for row in results[name]]


def aggregate(rows: list[dict], rate_points: Iterable[Any], keys: Iterable[str]) -> list[dict]:
    """Mean over images at each rate point (metrics in dB averaged in dB, as is customary)."""
    curve = []
    for rate_point in rate_points:
        at = [r for r in rows if r["rate_point"] == rate_point]
        if not at:
            continue
        point = {"rate_point": rate_point, "n_images": len(at)}
        for key in ("bpp", "bytes", *keys, "encode_s", "decode_s"):
            values = [r[key] for r in at if r.get(key) is not None]
            finite = [v for v in values if math.isfinite(v)]
            point[key] = float(np.mean(finite)) if finite else (math.inf if values else None)
            if 0 < len(finite) < len(values):  # lossless images (PSNR = inf) are left out of the mean: say so
                point[f"{key}_n_finite"] = len(finite)
            if key == "cvvdp_jod" and values:
                point["cvvdp_n_images"] = len(values)
        curve.append(point)
    return curve


def library_versions() -> dict:
    import imagecodecs
    import PIL
    import pillow_heif
    import torch

    return {
        "sandwich": version("sandwich"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "Pillow": PIL.__version__,
        "pillow_heif": pillow_heif.__version__,
        "libheif": pillow_heif.libheif_info()["libheif"],
        "imagecodecs": imagecodecs.__version__,
    }


def results_document(
    method: Method,
    rows: list[dict],
    config: dict,
    dataset_root: str,
    image_names: list[str],
    cvvdp_images: Iterable[str] = (),
    workers: int = 1,
    wall_s: float | None = None,
) -> dict:
    task = TASK_OF_DOMAIN[method.domain]
    keys = METRICS_OF_TASK[task]
    present = [k for k in keys if any(r.get(k) is not None for r in rows)]
    return {
        "schema_version": SCHEMA_VERSION,
        "name": method.name,
        "task": task,
        "description": method.description,
        "domain": {"name": method.domain, "definition": DOMAINS[method.domain][2]},
        "rate_param": method.rate_param,
        "rate_points": list(method.rate_points),
        "config": config,
        "dataset": {"root": str(dataset_root), "images": image_names},
        "metrics": {"bpp": BPP_DEFINITION, **{k: metrics.METRIC_DEFINITIONS[k] for k in present}},
        "null": NULL_NOTE,
        "cvvdp_images": sorted(cvvdp_images) if "cvvdp_jod" in present else [],
        "timing": {
            "note": f"encode_s/decode_s are wall-clock per call, {workers} worker process(es) on this machine",
            "wall_s": wall_s,
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "versions": library_versions(),
        "curve": aggregate(rows, [r for r in method.rate_points if any(x["rate_point"] == r for x in rows)], present),
        "per_image": rows,
    }


def _strict_json(value):
    """JSON has no infinity: a lossless point's PSNR (inf) is written as null."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_results(document: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_strict_json(document), indent=1, allow_nan=False) + "\n")
    return path
