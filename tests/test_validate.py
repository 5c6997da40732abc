"""sandwich.tools.validate: shipped checkpoints scored on the training runs' own validation crops."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from conftest import synthetic_sr
from PIL import Image

from sandwich.codecs.jpeg import JPEG, step_tables
from sandwich.core.images import write_png
from sandwich.core.paths import PROJECT_ROOT
from sandwich.evaluation.metrics import psnr
from sandwich.evaluation.registry import build_method
from sandwich.tools.validate import file_method, gain_over, score, validation_crops
from sandwich.training.data import ImageFolderData

SHIPPED_SR = PROJECT_ROOT / "checkpoints" / "sandwich_sr" / "lambda_20.pt"


def test_validation_crops_are_the_ones_training_validates_on(tmp_path):
    for i, (h, w) in enumerate([(40, 52), (36, 44), (48, 40)]):
        write_png(tmp_path / f"{i}.png", synthetic_sr(h, w, seed=i))
    names, crops = validation_crops("sr", root=str(tmp_path))
    module = ImageFolderData(root=str(tmp_path), domain="sr8", crop=32, val_fraction=0.1, val_crop=512, seed=0)
    module.setup("fit")
    batches = [b[0].permute(1, 2, 0).numpy() for b in module.val_dataloader()]
    assert names == [p.name for p in module.val_paths] and len(crops) == len(batches) == 1
    assert crops[0].dtype == np.uint8 and np.array_equal(crops[0], batches[0].astype(np.uint8))
    names, crops = validation_crops("sr", root=str(tmp_path), val_images=["0.png", "2.png"])  # a run's data.val_images
    assert names == ["0.png", "2.png"] and len(crops) == 2


def test_score_counts_the_bench_files_and_measures_their_decodes(sr_image):
    crop = sr_image[:40, :48]
    method = file_method(SHIPPED_SR, [2.0, 1.0])
    bench = build_method("sandwich_sr_jpeg")  # the shipped file's λ key, as the bench codes the test images
    meta = method.meta["lambda_20"]
    steps = sorted({max(1, round(meta["learned_step"] * f)) for f in (2.0, 1.0)}, reverse=True)
    rows = score(method, [crop])
    assert [r["step"] for r in rows] == steps and all(r["lmbda"] == meta["lmbda"] for r in rows)
    data = bench.encode(crop, f"lambda_20/{steps[0]}")
    assert rows[0]["bpp"] == 8 * len(data) / (40 * 48)  # the whole file, header included
    assert rows[0]["psnr"] == psnr(crop, bench.decode(data), 255)
    assert rows[0]["bpp"] < rows[1]["bpp"]  # the coarser step makes the smaller file
    (key,) = file_method(bench.paths["lambda_1000_tilt4"], [1.0]).models  # the bench's key, though not lambda_<λ>
    assert key == "lambda_1000_tilt4"


def test_a_file_trained_for_other_tables_is_scored_with_its_own(tmp_path):
    document = torch.load(SHIPPED_SR, weights_only=True)
    document["model"].update(tilt=0.0, chroma=1.0)  # as a flat-table run would have trained it
    torch.save(document, tmp_path / "flat.pt")
    (codec,) = file_method(tmp_path / "flat.pt", [1.0]).codecs.values()
    assert (codec.tilt, codec.chroma) == (0.0, 1.0) and codec.subsampling == "444" and not codec.keep_rgb
    shipped = {(c.tilt, c.chroma) for c in build_method("sandwich_sr_jpeg").codecs.values()}
    assert (0.0, 1.0) not in shipped and (1.0, 1.5) in shipped  # the shipped ones differ


def test_tables_code_a_file_with_other_tables_than_it_trained_through(sr_image):
    crop = sr_image[:40, :48]
    method = file_method(SHIPPED_SR, [1.0], tables=(4.0, 1.5))
    ((key, codec),) = method.codecs.items()
    assert (codec.tilt, codec.chroma) == (4.0, 1.5) and method.models[key].proxy.tilt == 1.0
    with Image.open(io.BytesIO(method.encode(crop, method.rate_points[0]))) as jpeg:
        step = int(method.rate_points[0].split("/")[1])
        assert [list(jpeg.quantization[k]) for k in (0, 1)] == step_tables(step, tilt=4.0, chroma=1.5)
    with pytest.raises(ValueError, match="has none"):
        file_method(SHIPPED_SR, [1.0], heic=[50], tables=(4.0, 1.5))
    with pytest.raises(ValueError, match="tilt must be"):  # checked as the constructor checks them
        JPEG(table="flat").with_tables(-1.0, 1.5)


def test_gain_over_the_reference_front_at_equal_rate():
    # reference: 30 dB at 0.25 bpp, 36 dB at 1 bpp; 6 dB per doubling is linear in log rate
    reference = (np.array([0.25, 0.5, 1.0, 0.5]), np.array([30.0, 33.0, 36.0, 32.0]))
    assert gain_over(reference, {"bpp": 0.5, "psnr": 33.5}) == 0.5  # the dominated 32 dB point is off the front
    assert abs(gain_over(reference, {"bpp": 2 ** -1.5, "psnr": 31.0}) - (-0.5)) < 1e-9
    assert gain_over(reference, {"bpp": 0.2, "psnr": 31.0}) is None  # below the reference's range


def test_heic_scores_the_files_the_heic_method_makes(sr_image):
    crop = sr_image[:40, :48]
    method = file_method(SHIPPED_SR, [1.0], heic=[50, 90])
    bench = build_method("sandwich_sr_heic")
    rows = score(method, [crop])
    data = bench.encode(crop, "lambda_20/50")
    assert [r["quality"] for r in rows] == [50, 90]
    assert rows[0]["bpp"] == 8 * len(data) / (40 * 48) and rows[0]["psnr"] == psnr(crop, bench.decode(data), 255)
    assert rows[0]["bpp"] < rows[1]["bpp"] and rows[0]["psnr"] < rows[1]["psnr"]


def test_the_command_prints_each_point_and_its_gain(tmp_path, capsys):
    from sandwich.tools.validate import main

    for i in range(3):
        write_png(tmp_path / f"{i}.png", synthetic_sr(48, 64, seed=i))
    other = SHIPPED_SR.with_name("lambda_50.pt")
    main([str(SHIPPED_SR), "--root", str(tmp_path), "--factors", "1", "0.5", "--reference", str(other)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("validation split: ") and len(lines) == 4
    # each printed gain is the point's PSNR minus the reference front's at its rate
    _, images = validation_crops("sr", str(tmp_path))
    reference = score(file_method(other, [1.0, 0.5]), images)
    front = (np.array([r["bpp"] for r in reference]), np.array([r["psnr"] for r in reference]))
    gains = []
    for row, line in zip(score(file_method(SHIPPED_SR, [1.0, 0.5]), images), lines[1:3]):
        gains.append(gain_over(front, row))
        expected = "" if gains[-1] is None else f"{gains[-1]:+.3f} dB vs the reference at equal rate"
        assert f"{row['psnr']:.3f} dB" in line and line.endswith(expected)
    assert any(gain is not None and abs(gain) > 0.001 for gain in gains)
    assert lines[3].startswith("front vs the reference front: no BD")  # two points are too few for a BD fit


def test_front_summary_is_the_bd_of_the_two_fronts():
    from sandwich.tools.validate import front_summary

    reference = (np.array([0.25, 0.5, 1.0, 2.0]), np.array([30.0, 33.0, 36.0, 39.0]))  # 3 dB per doubling
    rows = [{"bpp": r, "psnr": q + 0.5} for r, q in zip(*reference)]
    assert front_summary(reference, rows).startswith("front vs the reference front: BD-PSNR +0.500 dB, BD-rate -10.91 %")
    assert "no BD" in front_summary(reference, rows[:2])
