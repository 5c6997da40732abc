"""`make speed`: each sandwich and its reference timed on the same image, the reference at the
rate nearest the method's."""

from __future__ import annotations

import numpy as np

from sandwich.core.domains import TASKS
from sandwich.evaluation.registry import build_method
from sandwich.tools.speed import run, task_image


def test_speed_times_each_pair_and_picks_the_reference_point_nearest_in_rate(compose_cfg, data_root, capsys):
    pairs = "pairs={sandwich_hdr_jpeg:heic10,sandwich_sr_jpeg:heic_full}"
    cfg = compose_cfg("speed", [f"paths.data_root={data_root}", pairs, "size=64", "repeats=1", "threads=1"])
    timings = run(cfg)
    lines = capsys.readouterr().out.splitlines()
    for name, reference_name, task in (("sandwich_hdr_jpeg", "heic10", "hdr"), ("sandwich_sr_jpeg", "heic_full", "sr")):
        ours, ref = timings[name], timings[name]["reference"]
        assert all(t["encode_s"] > 0 and t["decode_s"] > 0 for t in (ours, ref))
        assert f"{name} / {reference_name}: {ours['total_s'] / ref['total_s']:.2f}x the time" in lines
        _, image = task_image(task, data_root, 64)  # the first test image, as run() codes it
        assert image.dtype == TASKS[task].dtype
        reference = build_method(reference_name)
        rates = {p: 8 * len(reference.encode(image, p)) / 64**2 for p in reference.rate_points}
        assert ref["rate_point"] == min(rates, key=lambda p: abs(rates[p] - ours["bpp"]))
        assert np.isclose(ref["bpp"], rates[ref["rate_point"]])
