"""sandwich.tools.compare: per-point tables, BD over a fixed interval and gains at a rate, from results JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sandwich.tools import compare


def _write(folder, name, points):
    (folder / "sr").mkdir(exist_ok=True)
    curve = [{"rate_point": key, "bpp": bpp, "psnr": psnr} for key, bpp, psnr in points]
    path = folder / "sr" / f"{name}.json"
    path.write_text(json.dumps({"name": name, "curve": curve}))
    return path


@pytest.fixture
def results(tmp_path):
    rates = [0.25, 0.5, 1.0, 2.0]
    _write(tmp_path, "base", [(q, r, 30 + 6 * np.log2(r)) for q, r in zip([10, 20, 30, 40], rates)])
    # +1 dB at every rate on the same grid; another run's file with +2 dB, passed as a path
    _write(tmp_path, "better", [(f"m/{q}", r, 31 + 6 * np.log2(r)) for q, r in zip([10, 20, 30, 40], rates)])
    old = _write(tmp_path, "older", [(q, r, 32 + 6 * np.log2(r)) for q, r in zip([10, 20, 30, 40], rates)])
    return tmp_path, old


def test_fixed_interval_bd_and_gains_at_rates(results, capsys):
    folder, old = results
    compare.main(["better", "base", "--task", "sr", "--results", str(folder), "--bd-range", "0.3", "1.5", "--at", "0.7"])
    out = capsys.readouterr().out
    assert "BD-psnr over 0.3–1.5 bpp: +1.000" in out
    assert "gain at 0.7 bpp: +1.000 (better 27.913, base 26.913)" in out  # 30 + 6·log2(0.7) = 26.913
    compare.main([str(old), "better", "--task", "sr", "--results", str(folder), "--bd-range", "0.25", "2", "--bd"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(f"| `{old}`"))
    assert "BD-psnr over 0.25–2 bpp: +1.000" in out and "| +1.00 | 0.25–2.00 |" in row  # the bench table's row
    with pytest.raises(SystemExit):  # outside the curves: no extrapolation
        compare.main(["better", "base", "--task", "sr", "--results", str(folder), "--at", "3.0"])


def test_per_point_table_matches_model_points_to_baseline_settings(results, capsys):
    folder, _ = results
    compare.main(["better", "base", "--task", "sr", "--results", str(folder)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| m/")]
    assert len(rows) == 4 and all(line.endswith("| +1.00 |") for line in rows)


def test_per_image_bd_uses_each_methods_front_settings(tmp_path, capsys):
    """Image a gains +1 dB, image b +3 dB; a dominated setting of the method (its worst point on the
    mean curve) is left out of every image's curve even where it would help that image."""
    rates = [0.25, 0.5, 1.0, 2.0]

    def document(name, offsets, extra=()):
        per_image, curve = [], []
        for key, rate in [*zip("wxyz", rates), *extra]:
            rows = [{"image": image, "rate_point": key, "bpp": rate, "psnr": 30 + 6 * np.log2(rate) + offset(key)}
                    for image, offset in offsets.items()]  # fmt: skip
            per_image += rows
            curve.append({"rate_point": key, "bpp": rate, "psnr": float(np.mean([r["psnr"] for r in rows]))})
        return {"name": name, "curve": curve, "per_image": per_image}

    base = document("base", {"a": lambda k: 0.0, "b": lambda k: 0.0})
    # "d" (dominated on the mean curve: 1 bpp, 20 dB lower on a) would lift image b by 10 dB if used
    ours = document("ours", {"a": lambda k: -20.0 if k == "d" else 1.0, "b": lambda k: 13.0 if k == "d" else 3.0}, [("d", 1.0)])
    (tmp_path / "sr").mkdir()
    for doc in (base, ours):
        (tmp_path / "sr" / f"{doc['name']}.json").write_text(json.dumps(doc))
    rows = {r["image"]: r for r in compare.per_image_bd(ours, base, "psnr")}
    assert rows["a"]["bd_quality"] == pytest.approx(1.0) and rows["b"]["bd_quality"] == pytest.approx(3.0)
    compare.main(["ours", "base", "--task", "sr", "--results", str(tmp_path), "--per-image"])
    out = capsys.readouterr().out
    assert "| a | +1.00 |" in out and "median +2.00, min +1.00, max +3.00 over 2 of 2 images" in out


def _document(name, offset, images, digest=None, files=None):
    rates = [0.25, 0.5, 1.0, 2.0]
    curve = [{"rate_point": q, "bpp": r, "psnr": 30 + offset + 6 * np.log2(r)} for q, r in zip([10, 20, 30, 40], rates)]
    dataset = {"images": images}
    if digest:
        dataset["images_sha256"] = digest
    if files:
        dataset["image_sha256"] = files
    return {"name": name, "curve": curve, "dataset": dataset}


def test_results_may_be_the_folder_one_evaluation_wrote(tmp_path, capsys):
    """eval's output_dir (and its run folder .../<task>/) holds NAME.json directly."""
    for doc in (_document("base", 0, ["a", "b"], "h1"), _document("ours", 1, ["a", "b"], "h1")):
        (tmp_path / f"{doc['name']}.json").write_text(json.dumps(doc))
    compare.main(["ours", "base", "--task", "hdr", "--results", str(tmp_path), "--bd-range", "0.3", "1.5"])
    assert "BD-psnr over 0.3–1.5 bpp: +1.000" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no results for 'missing'"):  # a message, not a traceback
        compare.main(["missing", "base", "--results", str(tmp_path)])


@pytest.mark.parametrize(
    "ours",
    [_document("ours", 1, ["a"], "h2"),  # 1 image of the 2 (the measured accident: 2 of 11)
     _document("ours", 1, ["a", "b"], "h3")],  # same names, other files
)  # fmt: skip
def test_curves_on_different_image_sets_are_refused_unless_asked_and_then_labelled(tmp_path, capsys, ours):
    (tmp_path / "base.json").write_text(json.dumps(_document("base", 0, ["a", "b"], "h1")))
    (tmp_path / "ours.json").write_text(json.dumps(ours))
    for mode in ([], ["--bd"], ["--at", "0.7"]):
        with pytest.raises(SystemExit, match="different image sets"):
            compare.main(["ours", "base", "--results", str(tmp_path), *mode])
    compare.main(["ours", "base", "--results", str(tmp_path), "--bd", "--mixed-images"])
    captured = capsys.readouterr()
    assert captured.out.startswith("WARNING: different image sets: base on 2 images") and "| `ours` |" in captured.out
    assert "WARNING" in captured.err


def test_per_image_refuses_images_whose_files_differ(tmp_path, capsys):
    def with_rows(doc):
        doc["per_image"] = [{"image": i, **p} for p in doc["curve"] for i in doc["dataset"]["images"]]
        return doc

    base = with_rows(_document("base", 0, ["a", "b"], "h1", {"a": "x", "b": "y"}))
    (tmp_path / "base.json").write_text(json.dumps(base))
    same = with_rows(_document("ours", 1, ["a"], "h2", {"a": "x"}))  # a subset: each image against itself
    (tmp_path / "ours.json").write_text(json.dumps(same))
    compare.main(["ours", "base", "--results", str(tmp_path), "--per-image"])
    assert "| a | +1.00 |" in capsys.readouterr().out
    other = with_rows(_document("ours", 1, ["a"], "h3", {"a": "z"}))
    (tmp_path / "ours.json").write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="same name but different files: a"):
        compare.main(["ours", "base", "--results", str(tmp_path), "--per-image"])
