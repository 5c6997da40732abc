"""The evaluator and `make bench` end to end, on tiny synthetic images."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np

from sandwich.core.images import load_hdr16
from sandwich.core.paths import PROJECT_ROOT
from sandwich.eval import run
from sandwich.evaluation.evaluator import SCHEMA_VERSION


def test_eval_writes_valid_results_and_recomputable_files(compose_cfg, data_root, tmp_path):
    out = tmp_path / "out"
    cfg = compose_cfg(
        "eval",
        [
            "method=truncation_jpeg_flat",
            f"data.root={data_root / 'hdr' / 'test'}",
            f"output_dir={out}",
            "save_bitstreams=true",
            "logger=csv",
            f"logger.save_dir={tmp_path / 'csv'}",
            "workers=2",
            "progress=false",
        ],
    )
    path = run(cfg)
    doc = json.loads(path.read_text())
    assert path == out / "truncation_jpeg_flat.json"
    assert doc["schema_version"] == SCHEMA_VERSION and doc["name"] == "truncation_jpeg_flat"
    assert doc["dataset"]["images"] == ["a.exr", "b.exr"]
    assert {"bpp", "psnr", "pu_psnr", "pu_ssim", "ldr_saturation_psnr"} <= set(doc["metrics"])
    rate_points = doc["rate_points"]
    assert len(doc["per_image"]) == 2 * len(rate_points) and len(doc["curve"]) == len(rate_points)
    for row in doc["per_image"]:
        assert row["bpp"] == 8 * row["bytes"] / (row["width"] * row["height"])
        assert 30 < row["psnr"] <= row["ldr_saturation_psnr"] + 0.5
        assert row["encode_s"] > 0 and row["decode_s"] > 0
    # rate grows as the flat step shrinks, and the mean curve is the mean of the rows
    bpps = [p["bpp"] for p in doc["curve"]]
    assert bpps == sorted(bpps, reverse=True)
    first = [r["psnr"] for r in doc["per_image"] if r["rate_point"] == rate_points[0]]
    assert math.isclose(doc["curve"][0]["psnr"], float(np.mean(first)))
    assert (tmp_path / "csv" / "truncation_jpeg_flat.csv").is_file()
    # the saved bitstream and decoded PNG reproduce bpp and PSNR with no project code
    row = doc["per_image"][0]
    stem = f"a__step_{row['rate_point']}"
    bitstream = (out / "truncation_jpeg_flat" / f"{stem}.jpg").read_bytes()
    assert len(bitstream) == row["bytes"]
    decoded = cv2.imread(str(out / "truncation_jpeg_flat" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    source = load_hdr16(data_root / "hdr" / "test" / "a.exr")
    mse = np.mean((decoded.astype(np.float64) - source) ** 2)
    assert math.isclose(10 * math.log10(65535**2 / mse), row["psnr"], rel_tol=1e-9)


def test_bench_runs_both_tasks_and_writes_tables(data_root, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\noutro\n")
    results = tmp_path / "results"
    command = [
        sys.executable, "-m", "sandwich.bench",
        f"paths.data_root={data_root}", f"paths.results_dir={results}", f"readme={readme}",
        "logger=none", "workers=1", "cvvdp_images=0",
        "tasks.hdr.methods=[truncation_jpeg,truncation_jpeg_flat]",
        "tasks.sr.methods=[bicubic_jpeg,jpeg_full]",
        f"hydra.run.dir={tmp_path / 'hydra'}",
    ]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "disabled"}
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for task, methods in {"hdr": ["truncation_jpeg", "truncation_jpeg_flat"], "sr": ["bicubic_jpeg", "jpeg_full"]}.items():
        for method in methods:
            assert (results / task / f"{method}.json").is_file()
        assert (results / task / "rd_psnr.png").stat().st_size > 10_000
        assert "BD-rate" in (results / task / "bd_psnr.md").read_text()
    text = readme.read_text()
    assert text.startswith("intro\n<!-- bench:begin -->") and text.endswith("<!-- bench:end -->\noutro\n")
    assert "\nold\n" not in text and "`truncation_jpeg_flat`" in text and "LDR saturation" in text
    assert json.loads((results / "bench_meta.json").read_text())["wall_s"] > 0


def test_results_json_is_strict(tmp_path):
    from sandwich.evaluation.evaluator import write_results

    path = write_results({"curve": [{"psnr": math.inf, "bpp": np.float32(2.5), "n": np.int64(3)}]}, tmp_path / "r.json")
    text = path.read_text()
    assert "Infinity" not in text
    assert json.loads(text) == {"curve": [{"psnr": None, "bpp": 2.5, "n": 3}]}


def test_the_mean_says_when_lossless_images_are_left_out():
    from sandwich.evaluation.evaluator import aggregate

    rows = [{"rate_point": 1, "bpp": 1.0, "bytes": 10, "psnr": 40.0}, {"rate_point": 1, "bpp": 3.0, "bytes": 30, "psnr": math.inf}]
    (point,) = aggregate(rows, [1], ["psnr"])
    assert point["psnr"] == 40.0 and point["psnr_n_finite"] == 1 and point["n_images"] == 2 and point["bpp"] == 2.0
    (point,) = aggregate(rows[:1], [1], ["psnr"])
    assert "psnr_n_finite" not in point
