"""The evaluator and `make bench` end to end, on tiny synthetic images."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import synthetic_linear

from sandwich.core.images import load_hdr16, write_exr
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


# --- results you cannot corrupt by accident; the evaluator keeps going -------------------------


class Flaky:
    """A real method whose encode fails at one rate point on one image size, and whose rate
    parameter holds a '/' (as the sandwich, post-only and Han methods' do). Module level: it
    travels to worker processes."""

    def __init__(self, inner, fail_point, fail_width):
        self.inner, self.fail_point, self.fail_width = inner, fail_point, fail_width
        self.rate_param = f"model/{inner.rate_param}"

    def __getattr__(self, name):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def encode(self, image, rate_point):
        if rate_point == self.fail_point and image.shape[1] == self.fail_width:
            raise ValueError("codec refused the image")
        return self.inner.encode(image, rate_point)

    def decode(self, data):
        return self.inner.decode(data)


def _eval_cfg(compose_cfg, tmp_path, root, *extra):
    return compose_cfg(
        "eval",
        ["method=truncation_jpeg_flat", f"data.root={root}", f"paths.log_dir={tmp_path / 'logs'}",
         f"paths.results_dir={tmp_path / 'results'}", "logger=none", "workers=1", "progress=false", *extra],
    )  # fmt: skip


def test_eval_writes_to_its_run_folder_by_default_never_the_benchmark(compose_cfg, data_root, tmp_path):
    cfg = _eval_cfg(compose_cfg, tmp_path, data_root / "hdr" / "test", "data.max_images=1")
    path = run(cfg)
    run_dir = tmp_path / "logs" / "eval"
    assert path.parent.name == "hdr" and path.name == "truncation_jpeg_flat.json"
    assert path.parent.parent.parent.parent == run_dir  # logs/eval/<date>/<time>/hdr/NAME.json
    assert not (tmp_path / "results").exists()
    doc = json.loads(path.read_text())
    assert doc["config"]["output_dir"] == str(path.parent)
    # Hydra's own files go to the same run folder (and bench passes output_dir=results/<task>)
    from conftest import CONF
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        composed = compose("eval", [f"paths.log_dir={tmp_path}"], return_hydra_config=True)
    assert composed.hydra.run.dir == composed.run_dir and composed.run_dir.startswith(f"{tmp_path}/eval/")


def test_results_record_their_image_set_and_are_not_replaced_by_another(compose_cfg, data_root, tmp_path):
    import hashlib
    import shutil

    from sandwich.evaluation.evaluator import NULL_NOTE_KEY
    from sandwich.evaluation.runner import ResultsConflict

    root = tmp_path / "images"
    shutil.copytree(data_root / "hdr" / "test", root)
    out = tmp_path / "out"
    path = run(_eval_cfg(compose_cfg, tmp_path, root, f"output_dir={out}"))
    doc = json.loads(path.read_text())
    dataset = doc["dataset"]
    files = {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in ("a.exr", "b.exr")}
    assert dataset["image_sha256"] == files
    lines = "".join(f"{name}\t{files[name]}\n" for name in sorted(files))
    assert dataset["images_sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert NULL_NOTE_KEY in doc and "null" not in doc and doc["errors"] == []
    before = path.read_bytes()
    # the measured accident: a 1-image run over the file of the full set is refused ...
    with pytest.raises(ResultsConflict, match="overwrite=true"):
        run(_eval_cfg(compose_cfg, tmp_path, root, f"output_dir={out}", "data.max_images=1"))
    # ... and so is a run whose image of the same name has other bytes
    write_exr(root / "b.exr", synthetic_linear(36, 50, seed=3))
    with pytest.raises(ResultsConflict, match="2 images"):
        run(_eval_cfg(compose_cfg, tmp_path, root, f"output_dir={out}"))
    assert path.read_bytes() == before
    run(_eval_cfg(compose_cfg, tmp_path, root, f"output_dir={out}", "data.max_images=1", "overwrite=true"))
    assert json.loads(path.read_text())["dataset"]["images"] == ["a.exr"]
    run(_eval_cfg(compose_cfg, tmp_path, root, f"output_dir={out}", "data.max_images=1"))  # same set: replaced


def test_schema_1_files_are_read_with_the_renamed_note():
    from sandwich.evaluation.evaluator import (
        NULL_NOTE,
        NULL_NOTE_KEY,
        read_results,
        upgrade_document,
    )

    old = upgrade_document({"schema_version": 1, "null": NULL_NOTE, "curve": []})
    assert old[NULL_NOTE_KEY] == NULL_NOTE and "null" not in old and old["errors"] == []
    committed = PROJECT_ROOT / "results" / "hdr" / "truncation_jpeg.json"
    if committed.is_file():
        assert NULL_NOTE_KEY in read_results(committed)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_point_is_recorded_and_the_rest_evaluated(data_root, tmp_path, workers):
    from sandwich.evaluation.evaluator import evaluate
    from sandwich.evaluation.registry import build_method

    inner = build_method("truncation_jpeg_flat")
    points = list(inner.rate_points)[:2]
    images = [(name, load_hdr16(data_root / "hdr" / "test" / name)) for name in ("a.exr", "b.exr")]
    method = Flaky(inner, points[1], images[1][1].shape[1])
    errors: list[dict] = []
    rows = evaluate(method, images, points, save_dir=tmp_path / "bits", workers=workers, progress=False, errors=errors)
    assert [(r["image"], r["rate_point"]) for r in rows] == [("a.exr", points[0]), ("a.exr", points[1]), ("b.exr", points[0])]
    (error,) = errors
    assert error["image"] == "b.exr" and error["rate_point"] == points[1] and error["stage"] == "encode"
    assert error["error"] == "ValueError" and error["message"].startswith("b.exr: ")  # names the file
    assert "codec refused the image" in error["message"]
    # a rate parameter with '/' still names flat files (it crashed save_bitstreams before)
    saved = sorted(p.name for p in (tmp_path / "bits").iterdir())
    assert len(saved) == 2 * len(rows) and all(p.is_file() for p in (tmp_path / "bits").iterdir())
    assert f"a__model_step_{points[0]}.jpg" in saved
    with pytest.raises(ValueError, match="codec refused"):  # no errors list: the failure propagates
        evaluate(method, images, points, progress=False)


def test_unreadable_images_are_recorded_and_the_run_exits_non_zero_with_one_line(data_root, tmp_path):
    import shutil

    root = tmp_path / "images"
    shutil.copytree(data_root / "hdr" / "test", root)
    (root / "c.exr").write_bytes(b"not an image at all")
    command = [
        sys.executable, "-m", "sandwich.eval", "method=truncation_jpeg_flat", f"data.root={root}",
        f"paths.log_dir={tmp_path / 'logs'}", "logger=none", "workers=2", "progress=false", "save_bitstreams=true",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sandwich.eval truncation_jpeg_flat: 1 of 3 images unreadable (c.exr)"), last
    (path,) = (tmp_path / "logs" / "eval").glob("*/*/hdr/truncation_jpeg_flat.json")
    assert str(path) in last
    doc = json.loads(path.read_text())
    (error,) = doc["errors"]
    assert error["image"] == "c.exr" and error["stage"] == "read" and error["rate_point"] is None
    assert "c.exr" in error["message"]
    assert doc["dataset"]["images"] == ["a.exr", "b.exr", "c.exr"]
    assert {r["image"] for r in doc["per_image"]} == {"a.exr", "b.exr"}
    assert all(p["n_images"] == 2 for p in doc["curve"])


def test_the_failure_summary_is_one_line_naming_stages_and_the_first_message(tmp_path):
    from sandwich.evaluation.runner import failure_summary

    document = {
        "name": "m", "rate_points": [1, 2], "dataset": {"images": ["a.png", "b.png", "c.png"]},
        "errors": [{"image": "c.png", "rate_point": None, "stage": "read", "message": "c.png: unreadable"},
                   {"image": "a.png", "rate_point": 2, "stage": "encode", "message": "a.png: m encode at q=2: ValueError: no"}],
    }  # fmt: skip
    line = failure_summary(document, tmp_path / "m.json")
    assert "\n" not in line and line.startswith("sandwich.eval m: 1 of 3 images unreadable (c.png); 1 of 6 image × rate points failed (encode 1)")
    assert line.endswith(f"all 2 in `errors` of {tmp_path / 'm.json'}")
