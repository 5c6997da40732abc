"""`make speed`: each sandwich and its reference timed on the same image, the reference at the
rate nearest the method's, and the networks alone."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sandwich.core.domains import TASKS
from sandwich.core.paths import PROJECT_ROOT
from sandwich.evaluation.registry import build_method
from sandwich.tools.speed import run, task_image


def test_speed_times_each_pair_and_picks_the_reference_point_nearest_in_rate(data_root, tmp_path):
    overrides = [f"paths.data_root={data_root}", "only=[sandwich_hdr_jpeg,sandwich_sr_jpeg]", "size=64", "repeats=1",
                 "threads=1", f"hydra.run.dir={tmp_path}"]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "sandwich.speed", *overrides], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    timings = json.loads((tmp_path / "speed.json").read_text())["pairs"]
    assert list(timings) == ["sandwich_hdr_jpeg", "sandwich_sr_jpeg"]
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
        networks = ours["networks"]  # the networks alone, timed apart from the round trip
        assert networks["encode_ms_per_mp"] > 0 and networks["decode_ms_per_mp"] > 0
        assert networks["macs_per_pixel"]["post"] == pytest.approx(54_000, rel=0.02)
        assert any(line.startswith(f"  {name} networks alone: ") for line in lines)


def test_speed_refuses_a_name_outside_its_pairs(compose_cfg, data_root):
    cfg = compose_cfg("speed", [f"paths.data_root={data_root}", "only=[jpeg]"])
    with pytest.raises(ValueError, match="not in pairs"):
        run(cfg)
