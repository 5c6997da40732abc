"""The shared evaluator: sweep a Method over images and rate points, measure, write results JSON.

Only this module computes metrics, and only on decoded integer images in the method's task domain.
Rate is 8*len(bitstream)/(H*W): the complete bitstream the method returned.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
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
from sandwich.core.files import write_atomic
from sandwich.core.images import write_png
from sandwich.evaluation import metrics

SCHEMA_VERSION = 2  # 2: `null_metric_note` (was "null"), dataset.images_sha256, `errors`
BPP_DEFINITION = "8*len(bitstream)/(H*W) of the complete bitstream (header, side info, every layer), H×W of the source"
NULL_NOTE = "a metric of null means infinite (decoded image identical to the source) or not computed"
NULL_NOTE_KEY = "null_metric_note"  # schema 1 called it "null"
IMAGES_SHA256_DEFINITION = (
    "sha256 of the lines '<file name>\\t<sha256 of the file's bytes>\\n', one per image, sorted by name"
)
ERRORS_NOTE = (
    "one entry per image (rate_point null: it could not be read) or image × rate point that failed: "
    "stage read | encode | decode | measure | save | worker; the curve's n_images says how many images each point averages"
)
METRICS_OF_TASK = {
    "hdr": ("psnr", "pu_psnr", "pu_ssim", "cvvdp_jod", "ldr_saturation_psnr"),
    "sr": ("psnr", "ms_ssim"),
}


def _rate_label(rate_point: Any) -> str:
    return str(rate_point).replace(".", "p").replace("/", "_")


def safe_name(text: Any) -> str:
    """A file-name part with no path separator or odd character: a rate parameter such as
    "model/step" or a rate point such as "lmbda_2e5/q50" would otherwise name a subfolder."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(text)).strip(".") or "_"


def bitstream_stem(name: str, rate_param: str, rate_point: Any) -> str:
    """`<image stem>__<rate param>_<rate point>` with every part made safe for a file name."""
    return f"{safe_name(Path(name).stem)}__{safe_name(rate_param)}_{safe_name(_rate_label(rate_point))}"


def error_entry(image: str, rate_point: Any, stage: str, err: BaseException) -> dict:
    """One `errors` entry of the results file: what failed where, with the exception's one line."""
    message = " ".join(str(err).split()) or type(err).__name__
    return {"image": image, "rate_point": rate_point, "stage": stage, "error": type(err).__name__, "message": message}


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def image_set_sha256(file_hashes: dict[str, str | None]) -> str:
    """The image set's hash (IMAGES_SHA256_DEFINITION) from each file's sha256 by name."""
    lines = "".join(f"{name}\t{file_hashes[name] or 'unreadable'}\n" for name in sorted(file_hashes))
    return hashlib.sha256(lines.encode()).hexdigest()


def dataset_record(root: str | os.PathLike, paths: list[Path]) -> dict:
    """`dataset` of a results file: the folder, the image names in evaluation order, each file's
    sha256 and the set's hash (two results files compare only when the latter agree)."""
    hashes: dict[str, str | None] = {}
    for path in paths:
        try:
            hashes[path.name] = file_sha256(path)
        except OSError:
            hashes[path.name] = None  # recorded as unreadable; the read error is in `errors`
    return {
        "root": str(root),
        "images": [p.name for p in paths],
        "image_sha256": hashes,
        "images_sha256": image_set_sha256(hashes),
        "images_sha256_definition": IMAGES_SHA256_DEFINITION,
    }


def upgrade_document(document: dict) -> dict:
    """A results document read from disk in the current schema's key names (schema 1 files keep
    their values; their note on null metrics was under the key "null")."""
    if "null" in document and NULL_NOTE_KEY not in document:
        document[NULL_NOTE_KEY] = document.pop("null")
    document.setdefault("errors", [])
    return document


def read_results(path: str | os.PathLike) -> dict:
    return upgrade_document(json.loads(Path(path).read_text()))


def same_image_set(old: dict, new: dict) -> bool | None:
    """Whether two `dataset` records name the same images: by `images_sha256` when both have one,
    else by the sorted names (schema-1 files). None when either records no images."""
    if not old.get("images") or not new.get("images"):
        return None
    if old.get("images_sha256") and new.get("images_sha256"):
        return old["images_sha256"] == new["images_sha256"]
    return sorted(old["images"]) == sorted(new["images"])


def describe_image_set(dataset: dict) -> str:
    images = dataset.get("images") or []
    digest = dataset.get("images_sha256")
    return f"{len(images)} images" + (f" (images_sha256 {digest[:12]})" if digest else " (no hash recorded)")


def evaluate_image(
    method: Method,
    name: str,
    image: np.ndarray,
    rate_points: Iterable[Any],
    with_cvvdp: bool = False,
    save_dir: Path | None = None,
    errors: list[dict] | None = None,
) -> list[dict]:
    """Rows for one image: one per rate point. With an `errors` list, a rate point whose encode,
    decode, measurement or saving fails adds an entry there (naming the file, the rate point and
    the stage) and the other points go on; without one, the failure propagates."""
    task = TASK_OF_DOMAIN[method.domain]
    height, width = image.shape[:2]
    rate_points = list(rate_points)

    def failed(rate_point, stage: str, err: Exception) -> None:
        if errors is None:
            raise err
        message = f"{name}: {method.name} {stage} at {method.rate_param}={rate_point}: {type(err).__name__}: {err}"
        entry = error_entry(name, rate_point, stage, RuntimeError(message))
        entry["error"] = type(err).__name__
        errors.append(entry)

    try:
        if task == "hdr":
            reference = metrics.HDRReference(image)  # reference-side work done once per image

            def measure(decoded):
                return reference.metrics(decoded, with_cvvdp=with_cvvdp)

            fixed = {"ldr_saturation_psnr": metrics.ldr_saturation_psnr(image)}
        else:

            def measure(decoded):
                return metrics.sr_metrics(image, decoded)

            fixed = {}
    except Exception as err:  # the source itself defeats the metrics: every point fails
        for rate_point in rate_points:
            failed(rate_point, "measure", err)
        return []
    rows = []
    for rate_point in rate_points:
        stage = "encode"
        try:
            t0 = time.perf_counter()
            data = method.encode(image, rate_point)
            t1 = time.perf_counter()
            stage = "decode"
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
            stage = "measure"
            row.update(measure(decoded))
            row.update(fixed)
            row.update(encode_s=t1 - t0, decode_s=t2 - t1)
        except Exception as err:
            failed(rate_point, stage, err)
            continue
        rows.append(row)
        if save_dir is not None:  # the point is measured; a file that cannot be written is its own error
            try:
                stem = bitstream_stem(name, method.rate_param, rate_point)
                (save_dir / (stem + CONTAINER_SUFFIX[container(data)])).write_bytes(data)
                write_png(save_dir / (stem + ".png"), decoded)
            except Exception as err:
                failed(rate_point, "save", err)
    return rows


_worker_method: Method | None = None  # set once per worker process: a method can weigh tens of MB


def _start_worker(method: Method) -> None:
    import torch

    global _worker_method
    torch.set_num_threads(1)  # one image per worker process; the workers share the cores
    _worker_method = method


def _evaluate_job(name, image, rate_points, with_cvvdp, save_dir, keep_going):
    errors: list[dict] | None = [] if keep_going else None
    rows = evaluate_image(_worker_method, name, image, rate_points, with_cvvdp, save_dir, errors)
    return rows, errors or []


def evaluate(
    method: Method,
    images: list[tuple[str, np.ndarray]],
    rate_points: Iterable[Any] | None = None,
    cvvdp_images: Iterable[str] = (),
    save_dir: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
    errors: list[dict] | None = None,
) -> list[dict]:
    """Rows for every image × rate point, in image order; `workers` > 1 runs images in processes.
    With an `errors` list, failures are recorded there (see `evaluate_image`) and the rest is
    evaluated; a worker process that dies fails its image's every point."""
    from tqdm.auto import tqdm

    rate_points = list(rate_points if rate_points is not None else method.rate_points)
    cvvdp_images = set(cvvdp_images)
    if save_dir is not None:
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
    keep_going = errors is not None
    jobs = [(name, image, rate_points, name in cvvdp_images, save_dir) for name, image in images]
    bar = tqdm(total=len(jobs) * len(rate_points), desc=method.name, unit="pt", disable=not progress)
    results: dict[str, list[dict]] = {}
    if workers <= 1:
        for job in jobs:
            results[job[0]] = evaluate_image(method, *job, errors=errors)
            bar.update(len(rate_points))
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(method,)) as pool:
            futures = {pool.submit(_evaluate_job, *job, keep_going): job[0] for job in jobs}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    results[name], image_errors = future.result()
                except Exception as err:
                    if not keep_going:
                        raise
                    results[name], image_errors = [], [error_entry(name, p, "worker", err) for p in rate_points]
                if keep_going:
                    errors.extend(image_errors)
                bar.update(len(rate_points))
    bar.close()
    if keep_going:  # in image order, then rate point order, whatever order the workers finished in
        order = {name: i for i, (name, _) in enumerate(images)}
        points = {str(p): i for i, p in enumerate(rate_points)}
        errors.sort(key=lambda e: (order.get(e["image"], -1), points.get(str(e["rate_point"]), -1)))
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
    dataset: dict,
    cvvdp_images: Iterable[str] = (),
    workers: int = 1,
    wall_s: float | None = None,
    errors: list[dict] = (),
) -> dict:
    """The results file. `dataset` is the image set's record (`dataset_record`: names and hashes);
    `errors` lists what failed (`evaluate`)."""
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
        "dataset": dataset,
        "metrics": {"bpp": BPP_DEFINITION, **{k: metrics.METRIC_DEFINITIONS[k] for k in present}},
        NULL_NOTE_KEY: NULL_NOTE,
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
        "errors_note": ERRORS_NOTE,
        "errors": list(errors),
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
    """Write the results file atomically: an interrupted run leaves the previous file whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(_strict_json(document), indent=1, allow_nan=False) + "\n")
    return path
