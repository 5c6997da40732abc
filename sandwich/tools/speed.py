"""Time a method's encode+decode against a reference codec on the same 1024×1024 HDR image.

`make speed` = `python -m sandwich.tools.speed`: the sandwich over JPEG vs 10-bit HEIC by default, both in
one process, each timed as the median of `repeats` runs, using `threads` torch threads (null: all
cores). The method codes at the middle of its rate grid; the reference at the point of its grid
whose rate is nearest (codec time grows with the rate). The image is the first HDR test image resized to
size×size in linear light, then PQ-coded like every HDR source.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from sandwich.core.images import linear_to_pq16, list_images, read_image
from sandwich.core.paths import CONF_DIR


def time_round_trip(method, image: np.ndarray, rate_point, repeats: int) -> dict:
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


def run(cfg: DictConfig) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    path = list_images(Path(cfg.paths.data_root) / "hdr" / "test")[0]
    linear = cv2.resize(read_image(path), (cfg.size, cfg.size), interpolation=cv2.INTER_AREA)
    image = linear_to_pq16(linear)
    method, reference = instantiate(cfg.method, _convert_="all"), instantiate(cfg.reference, _convert_="all")
    points = list(method.rate_points)
    ours = time_round_trip(method, image, points[len(points) // 2], cfg.repeats)
    pixels = image.shape[0] * image.shape[1]
    nearest = min(reference.rate_points, key=lambda p: abs(8 * len(reference.encode(image, p)) / pixels - ours["bpp"]))
    reference.clear_cache()  # time the reference's whole encode, not a cached intermediate
    ref = time_round_trip(reference, image, nearest, cfg.repeats)
    timings = {method.name: ours, reference.name: ref}
    print(f"{cfg.size}x{cfg.size} HDR image from {path.name}, {torch.get_num_threads()} torch threads, median of {cfg.repeats}")
    for key, t in timings.items():
        print(f"  {key:<20} {t['rate_point']!s:>12}  {t['bpp']:6.2f} bpp  encode {t['encode_s']:.3f} s  "
              f"decode {t['decode_s']:.3f} s  total {t['total_s']:.3f} s")  # fmt: skip
    print(f"  {method.name} / {reference.name}: {ours['total_s'] / ref['total_s']:.2f}x the time")
    return timings


@hydra.main(config_path=str(CONF_DIR), config_name="speed", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
