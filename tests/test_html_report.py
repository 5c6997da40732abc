"""The bench's interactive report (results/report.html), the grouped static RD plots, and the
bootstrap confidence intervals of BD over images; the report is rendered in headless Chromium
where one is installed (`make browser`)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from sandwich.evaluation import rd
from sandwich.evaluation.evaluator import aggregate

RATES = (0.2, 0.4, 0.8, 1.6, 3.2, 6.4)


def synthetic(name: str, task: str, n_images: int, gain_db: float, rate_factor: float = 1.0, seed: int = 0, noise: float = 0.8) -> dict:
    """A results document as the evaluator writes it: per-image rows (an image-dependent offset,
    noise per row and an image-dependent gain, so the images disagree), and their mean curve."""
    rng = np.random.default_rng(seed)
    images = [f"img{i:03d}.png" for i in range(n_images)]
    rows = []
    for i, image in enumerate(images):
        image_rng = np.random.default_rng([seed, i])
        base, own_gain = 30 + 4 * image_rng.standard_normal(), gain_db + 1.0 * image_rng.standard_normal()
        for k, r in enumerate(RATES):
            bpp = r * rate_factor * (1 + 0.1 * image_rng.random())
            psnr = base + own_gain + 6 * np.log2(bpp) + noise * rng.standard_normal() * 0.1
            rows.append({"image": image, "rate_point": f"q{k}", "bytes": bpp * 1000, "bpp": float(bpp), "psnr": float(psnr),
                         "ms_ssim": float(1 - 0.5 / (1 + bpp))})  # fmt: skip
    points = [f"q{k}" for k in range(len(RATES))]
    return {
        "name": name, "task": task, "rate_points": points, "dataset": {"images": images},
        "curve": aggregate(rows, points, ["psnr", "ms_ssim"]), "per_image": rows,
    }  # fmt: skip


def synthetic_task(n_images: int = 6) -> dict[str, dict]:
    return {
        "anchor_codec": synthetic("anchor_codec", "sr", n_images, 0.0, seed=1),
        "better_codec": synthetic("better_codec", "sr", n_images, 2.0, seed=2),
        "deep_method": synthetic("deep_method", "sr", n_images, 0.5, rate_factor=0.8, seed=3),
        "ungrouped": synthetic("ungrouped", "sr", n_images, -1.0, seed=4),
    }


GROUPS = {"baselines": ["anchor_codec", "better_codec"], "learned methods": ["deep_method"]}


# --- BD and its bootstrap ---------------------------------------------------------------------


def test_bd_fast_is_bd():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n_a, n_t = rng.integers(3, 9, size=2)
        anchor = (np.sort(rng.uniform(0.1, 8, n_a)), np.sort(rng.uniform(25, 50, n_a)))
        test = (np.sort(rng.uniform(0.1, 8, n_t)), np.sort(rng.uniform(25, 50, n_t)) + rng.normal(0, 2, n_t))
        reference, fast = rd.bd(anchor, test), rd.bd_fast(anchor, test)
        for want, got in zip((reference.bd_rate, reference.bd_quality), fast):
            assert np.isnan(got) if want is None else got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    results = synthetic_task(8)
    anchor, test = results["anchor_codec"], results["better_codec"]
    ci = rd.bd_bootstrap(anchor, test, "psnr", n_boot=400, seed=3)
    point = rd.bd(rd.curve(anchor), rd.curve(test))
    assert ci.bd.bd_quality == point.bd_quality and ci.bd.bd_rate == point.bd_rate  # the table's number
    assert ci.bd_quality_ci[0] <= ci.bd.bd_quality <= ci.bd_quality_ci[1]
    assert ci.bd_rate_ci[0] <= ci.bd.bd_rate <= ci.bd_rate_ci[1]
    assert ci.bd_quality_ci[1] - ci.bd_quality_ci[0] > 0.05  # 8 images that disagree: not a point
    assert (ci.n_images, ci.n_valid, ci.n_boot) == (8, 400, 400)
    again = rd.bd_bootstrap(anchor, test, "psnr", n_boot=400, seed=3)
    assert (again.bd_quality_ci, again.bd_rate_ci) == (ci.bd_quality_ci, ci.bd_rate_ci)
    other = rd.bd_bootstrap(anchor, test, "psnr", n_boot=400, seed=4)
    assert other.bd_quality_ci != ci.bd_quality_ci
    wider = rd.bd_bootstrap(anchor, test, "psnr", n_boot=400, seed=3, level=0.99)
    assert wider.bd_quality_ci[0] <= ci.bd_quality_ci[0] and ci.bd_quality_ci[1] <= wider.bd_quality_ci[1]


def test_bootstrap_interval_narrows_with_more_images():
    def width(n):
        ci = rd.bd_bootstrap(synthetic("a", "sr", n, 0.0, seed=1), synthetic("b", "sr", n, 1.0, seed=2), "psnr", n_boot=300, seed=0)
        return ci.bd_quality_ci[1] - ci.bd_quality_ci[0]

    few, many = width(6), width(96)
    assert many < 0.5 * few  # ~ 1/sqrt(n): 4x the images for 16x


def test_bootstrap_is_paired_over_images():
    """A method against itself: every resample draws the same images for both, so BD is 0 in all."""
    anchor = synthetic("a", "sr", 7, 0.0, seed=1)
    ci = rd.bd_bootstrap(anchor, {**anchor, "name": "copy"}, "psnr", n_boot=200, seed=0)
    assert ci.bd_quality_ci == pytest.approx((0.0, 0.0), abs=1e-9)
    assert ci.bd_rate_ci == pytest.approx((0.0, 0.0), abs=1e-7)


def test_bootstrap_without_overlap_has_no_interval():
    far = synthetic("far", "sr", 5, 60.0, rate_factor=100, seed=2)
    ci = rd.bd_bootstrap(synthetic("a", "sr", 5, 0.0, seed=1), far, "psnr", n_boot=50)
    assert ci.bd_quality_ci is None and ci.bd_rate_ci is None and ci.n_valid == 0


# --- groups and the static plots --------------------------------------------------------------


def test_group_methods_keeps_the_configured_order_and_collects_the_rest():
    grouped = rd.group_methods(["x", "deep_method", "anchor_codec", "better_codec"], {**GROUPS, "empty": ["nothing"]})
    assert grouped == {"baselines": ["anchor_codec", "better_codec"], "learned methods": ["deep_method"], "other": ["x"]}
    assert rd.group_methods(["a", "b"], None) == {"methods": ["a", "b"]}


def test_static_plot_has_a_panel_per_group_each_with_the_anchor(tmp_path):
    results = synthetic_task()
    fig = rd.plot_rd_groups(results, "psnr", None, GROUPS, "anchor_codec", "SR", "PSNR (dB)", xscale="log")
    axes = fig.axes
    assert [ax.get_title(loc="left") for ax in axes] == ["baselines", "learned methods", "other"]
    for ax in axes:
        labels = ax.get_legend_handles_labels()[1]
        assert labels[0] == "anchor_codec (anchor)" and ax.get_xscale() == "log"
    assert axes[0].get_legend_handles_labels()[1] == ["anchor_codec (anchor)", "better_codec"]
    rd.plot_rd_groups(results, "psnr", tmp_path / "rd_psnr.png", GROUPS, "anchor_codec")
    assert (tmp_path / "rd_psnr.png").stat().st_size > 10_000
    rd.plot_rd(results, "psnr", tmp_path / "flat.png", xscale="log")  # the old single-panel figure still works


# --- the HTML report --------------------------------------------------------------------------


def write_synthetic_report(tmp_path, n_boot=200):
    from sandwich.evaluation.html_report import write_report

    results = synthetic_task()
    tasks = {"sr": {"anchor": "anchor_codec", "methods": list(results), "groups": GROUPS}}
    plots = {"sr": [("psnr", "PSNR (dB)"), ("ms_ssim", "MS-SSIM")]}
    return write_report(tmp_path / "report.html", tasks, {"sr": results}, n_boot=n_boot, plots=plots, bd_metrics={"sr": [("psnr", "dB")]})


def test_report_is_self_contained_and_has_every_part(tmp_path):
    text = write_synthetic_report(tmp_path).read_text()
    assert not re.search(r"<script[^>]+src=", text) and not re.search(r"<link[^>]+href=", text)  # nothing fetched
    assert len(text) > 1_000_000 and "Plotly.newPlot" in text  # plotly.js inlined
    for div in ("rd-sr-psnr", "rd-sr-ms_ssim"):
        assert f"id='{div}'" in text
    for label in ("log rate", "linear rate", "all methods", "baselines + anchor", "learned methods + anchor", "mean over 6 images", "img005.png"):
        assert label in text
    table = text[text.index("<table class=bd") : text.index("</table>")]
    for name in ("better_codec", "deep_method", "ungrouped"):
        assert f"<code>{name}</code>" in table
    assert "anchor_codec</code></td>" not in table  # the anchor has no row against itself
    assert table.count("[95 % CI]") == 2 and len(re.findall(r"\[[-+]\d+\.\d+%?, [-+]\d+\.\d+%?\]", table)) == 6
    assert "200/200" in table


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def chromium(url: str, user_data, *extra: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={user_data}", "--virtual-time-budget=10000", *extra, url,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (install it with `make browser`)")
def test_report_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    from sandwich.evaluation.html_report import ERRORS_ID, READY_ID

    url = write_synthetic_report(tmp_path).as_uri()
    done = chromium(url, tmp_path / "profile-dom", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    errors = re.search(rf'<pre id="{ERRORS_ID}"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == "", errors and errors.group(1)
    assert re.search(r"<title>ready: ", dom), re.search(r"<title>[^<]*", dom)
    assert re.search(rf'id="{READY_ID}" data-plots="2"', dom)
    assert dom.count('class="scatterlayer') == 2
    assert len(re.findall(r'class="trace scatter', dom)) == 2 * 4  # every method in both plots
    assert len(re.findall(r'<path class="js-line" d="M[\d.]+', dom)) >= 2 * 4  # drawn lines with points
    shot = tmp_path / "shot.png"
    done = chromium(url, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1200,900", "--hide-scrollbars")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), float)
    assert pixels.shape == (900, 1200)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.005  # text and curves, not a blank page


def test_make_plot_writes_the_report(tmp_path):
    """`make plot` (bench plot_only=true) redraws the grouped PNGs and writes report.html from the
    results JSON alone."""
    import json
    import os
    import sys

    from sandwich.core.paths import PROJECT_ROOT

    results = tmp_path / "results"
    (results / "sr").mkdir(parents=True)
    for name, document in synthetic_task().items():
        (results / "sr" / f"{name}.json").write_text(json.dumps(document))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- bench:begin -->\n<!-- bench:end -->\n")
    command = [
        sys.executable, "-m", "sandwich.bench", "plot_only=true", "logger=none", f"paths.results_dir={results}",
        f"readme={readme}", "~tasks.hdr", "targets=[]", "tasks.sr.anchor=anchor_codec",
        "tasks.sr.methods=[anchor_codec,better_codec,deep_method,ungrouped]",
        "~tasks.sr.groups", "+tasks.sr.groups={baselines:[anchor_codec,better_codec],learned:[deep_method]}",
        "report.n_boot=50", f"hydra.run.dir={tmp_path / 'hydra'}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=PROJECT_ROOT, env={**os.environ, "WANDB_MODE": "disabled"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    text = (results / "report.html").read_text()
    assert "id='rd-sr-psnr'" in text and "<code>deep_method</code>" in text and "50/50" in text and "learned + anchor" in text
    assert (results / "sr" / "rd_psnr.png").stat().st_size > 10_000 and "deep_method" in readme.read_text()
