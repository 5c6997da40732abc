"""Time each sandwich method's encode+decode against its reference codec on the same image.

`make speed` = `python -m sandwich.speed`: every pair of `pairs` (conf/speed.yaml: the HDR
sandwiches against 10-bit HEIC, the SR sandwiches against full-resolution HEIC; `only=[...]` keeps
some, `+pairs.NAME=REFERENCE` adds one, since a Hydra override of a map merges into it), all in one
process, each timed as the median of `repeats` runs after one untimed warm-up, using `threads`
torch threads (null: all cores). The method codes at the middle of its rate grid; the reference at the point of its grid
whose rate is nearest (codec time grows with the rate). The image is the task's first test image
resized to size×size (HDR in linear light, then PQ-coded like every HDR source).

For a learned sandwich it also times the networks alone, as the codec runs them (one thread, fp32):
the encoder's pre-processor with the resampling, and the decoder's resampling with the post-processor,
in ms per megapixel of the source, beside the processors' multiply-adds per pixel. Everything printed
is also written to `speed.json` in the run folder.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import cv2
import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sandwich.core.domains import TASK_OF_DOMAIN
from sandwich.core.files import write_atomic
from sandwich.core.images import linear_to_pq16, list_images, read_image
from sandwich.core.paths import CONF_DIR
from sandwich.evaluation.registry import build_method
from sandwich.methods.sandwich.nets import macs_per_pixel


def time_round_trip(method, image: np.ndarray, rate_point, repeats: int) -> dict:
    method.decode(method.encode(image, rate_point))  # warm-up: one-off set-up (sessions, caches) is not timed
    method.clear_cache()
    encode, decode = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        data = method.encode(image, rate_point)
        encode.append(time.perf_counter() - start)
        start = time.perf_counter()
        method.decode(data)
        decode.append(time.perf_counter() - start)
        method.clear_cache()  # time the pre-processor on every run, not a cached bottleneck
    encode_s, decode_s = statistics.median(encode), statistics.median(decode)
    bpp = 8 * len(data) / (image.shape[0] * image.shape[1])
    return {"rate_point": rate_point, "bpp": bpp, "encode_s": encode_s, "decode_s": decode_s, "total_s": encode_s + decode_s}


def task_image(task: str, data_root: Path, size: int) -> tuple[str, np.ndarray]:
    path = list_images(data_root / task / "test")[0]
    resized = cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)
    return path.name, linear_to_pq16(resized) if task == "hdr" else resized


def time_pair(method, reference, image: np.ndarray, repeats: int) -> tuple[dict, dict]:
    points = list(method.rate_points)
    ours = time_round_trip(method, image, points[len(points) // 2], repeats)
    pixels = image.shape[0] * image.shape[1]
    nearest = min(reference.rate_points, key=lambda p: abs(8 * len(reference.encode(image, p)) / pixels - ours["bpp"]))
    reference.clear_cache()  # time the reference's whole encode, not a cached intermediate
    return ours, time_round_trip(reference, image, nearest, repeats)


def network_cost(method, image: np.ndarray, rate_point, repeats: int) -> dict | None:
    """The networks of the model that codes `rate_point`, timed alone (median of `repeats`), or None
    for a method without a learned sandwich model."""
    if not hasattr(method, "model_at"):
        return None
    model = method.model_at(rate_point)
    model.decode_image(model.encode_image(image), *image.shape[:2], image.dtype)  # warm-up
    encode, decode = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        bottleneck = model.encode_image(image)
        encode.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.decode_image(bottleneck, *image.shape[:2], image.dtype)
        decode.append(time.perf_counter() - start)
    megapixels = image.shape[0] * image.shape[1] / 1e6
    return {
        "macs_per_pixel": {name: macs_per_pixel(getattr(model, name)) for name in ("pre", "post") if getattr(model, name) is not None},
        "encode_ms_per_mp": 1e3 * statistics.median(encode) / megapixels,
        "decode_ms_per_mp": 1e3 * statistics.median(decode) / megapixels,
    }


def run(cfg: DictConfig) -> dict[str, dict]:
    """{method: {method's timing, "reference": the reference's timing, "ratio"}} per pair."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pairs = dict(cfg.pairs)
    if cfg.only is not None:
        only = [cfg.only] if isinstance(cfg.only, str) else list(cfg.only)
        unknown = sorted(set(only) - set(pairs))
        if unknown:
            raise ValueError(f"only: {unknown} not in pairs ({sorted(pairs)})")
        pairs = {name: pairs[name] for name in only}
    images, timings = {}, {}
    print(f"{cfg.size}x{cfg.size} images, {torch.get_num_threads()} torch threads, median of {cfg.repeats}")
    for name, reference_name in pairs.items():
        method, reference = build_method(name), build_method(reference_name)
        task = TASK_OF_DOMAIN[method.domain]
        if task not in images:
            images[task] = task_image(task, Path(cfg.paths.data_root), cfg.size)
            print(f"  {task}: {images[task][0]}")
        ours, ref = time_pair(method, reference, images[task][1], cfg.repeats)
        for key, t in ((name, ours), (reference_name, ref)):
            print(f"  {key:<20} {t['rate_point']!s:>12}  {t['bpp']:6.2f} bpp  encode {t['encode_s']:.3f} s  "
                  f"decode {t['decode_s']:.3f} s  total {t['total_s']:.3f} s")  # fmt: skip
        networks = network_cost(method, images[task][1], ours["rate_point"], cfg.repeats)
        if networks:
            macs = ", ".join(f"{k} {v:,.0f}" for k, v in networks["macs_per_pixel"].items())
            print(f"  {name} networks alone: encode {networks['encode_ms_per_mp']:.0f} ms/MP, "
                  f"decode {networks['decode_ms_per_mp']:.0f} ms/MP; MAC/px {macs}")  # fmt: skip
        timings[name] = {**ours, "reference": ref, "ratio": ours["total_s"] / ref["total_s"], "networks": networks}
    for name, reference_name in pairs.items():
        print(f"{name} / {reference_name}: {timings[name]['ratio']:.2f}x the time")
    return timings


@hydra.main(config_path=str(CONF_DIR), config_name="speed", version_base="1.3")
def main(cfg: DictConfig) -> None:
    timings = run(cfg)
    record = {"size": cfg.size, "repeats": cfg.repeats, "threads": torch.get_num_threads(), "pairs": timings}
    path = Path(HydraConfig.get().runtime.output_dir) / "speed.json"
    write_atomic(path, json.dumps(record, indent=1, default=str))
    print(f"written {path}")


if __name__ == "__main__":
    main()
