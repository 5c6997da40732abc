"""A researcher's first day: README's "Your first day" block, extracted from README.md and run
with `bash -euo pipefail` as it stands, on tiny data, in a temporary project folder (PROJECT_ROOT,
SANDWICH_DATA and SANDWICH_CHECKPOINTS point the commands there; conf/paths/default.yaml).

The day's other two steps have their own (slow) tests: the notebook producing a figure,
tests/test_notebook.py; `pip install .` into a fresh venv giving a working `sandwich compress`,
tests/test_install.py."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_linear
from test_html_report import CHROMIUM, chromium

from sandwich.core.images import write_exr
from sandwich.core.paths import PROJECT_ROOT

BLOCK = re.compile(r"<!-- first-day:begin -->\s*```bash\n(.*?)```\s*<!-- first-day:end -->", re.S)


def first_day_block() -> str:
    found = BLOCK.search((PROJECT_ROOT / "README.md").read_text())
    assert found, "README.md has no bash block between the first-day markers"
    return found.group(1)


def tiny_data(root: Path, data_root: Path, image_name: str) -> Path:
    """conftest's two HDR test images, one under the name README's commands use, and four
    training images just above the light experiment's 128² crop."""
    test, train = root / "hdr" / "test", root / "hdr" / "train"
    test.mkdir(parents=True)
    train.mkdir(parents=True)
    shutil.copy(data_root / "hdr" / "test" / "a.exr", test / image_name)
    shutil.copy(data_root / "hdr" / "test" / "b.exr", test / "b.exr")
    for seed in range(4):
        write_exr(train / f"train_{seed}.exr", synthetic_linear(136, 168, seed=10 + seed))
    return root


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def git_status_results() -> str:
    done = subprocess.run(["git", "status", "--porcelain", "results/"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def first_day(data_root, tmp_path_factory) -> dict:
    """README's block run in a temporary project holding a copy of results/ and README.md."""
    tmp = tmp_path_factory.mktemp("first_day")
    block = first_day_block()
    variables = dict(re.findall(r"^(\w+)=([^\s;]+)", block, re.M))  # DAY, RUN: folders the block names
    image_name = re.search(r"hdr/test/(\S+)", block).group(1)
    data = tiny_data(tmp / "data", data_root, image_name)
    project = tmp / "project"
    project.mkdir()
    (project / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    shutil.copytree(PROJECT_ROOT / "results", project / "results")
    shutil.copy(PROJECT_ROOT / "README.md", project / "README.md")
    committed, readme, status = digests(project / "results"), (project / "README.md").read_bytes(), git_status_results()
    env = {
        **os.environ,
        "PROJECT_ROOT": str(project),
        "SANDWICH_DATA": str(data),
        "SANDWICH_CHECKPOINTS": str(PROJECT_ROOT / "checkpoints"),
        "WANDB_MODE": "offline",  # as `make` sets it
    }
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=project, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return {"project": project, "day": project / variables["DAY"], "run": variables["RUN"], "output": output,
            "committed": committed, "readme": readme, "status": status, "tmp": tmp}  # fmt: skip


def test_first_day_from_readme(first_day):
    project, day = first_day["project"], first_day["day"]
    assert digests(project / "results") == first_day["committed"], "the first day changed results/"
    assert git_status_results() == first_day["status"]
    assert (project / "README.md").read_bytes() == first_day["readme"]

    assert (day / "desk.exr").stat().st_size > 0  # the codec demo decoded its file
    (evaluated,) = (project / "logs" / "eval").glob("*/*/hdr/*.json")  # the one-image eval's run folder
    assert len(json.loads(evaluated.read_text())["dataset"]["images"]) == 1

    assert "Running in `fast_dev_run` mode" in first_day["output"]  # the smoke run ran
    checkpoints = [str(p.relative_to(project)) for p in (project / "logs").rglob("*.ckpt")]
    assert checkpoints and all(c.startswith(f"{first_day['run']}/") for c in checkpoints), checkpoints  # none from the smoke run

    results = day / "results"
    assert json.loads((results / "hdr" / "mine.json").read_text())["curve"]
    assert "| `mine` |" in (results / "hdr" / "bd_psnr.md").read_text()
    assert "| `mine` |" in (day / "README.md").read_text()
    assert (results / "hdr" / "rd_psnr.png").read_bytes() != (project / "results" / "hdr" / "rd_psnr.png").read_bytes()  # redrawn
    assert '"name":"mine"' in (results / "report.html").read_text()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (install it with `make browser`)")
def test_first_day_report_renders_in_headless_chromium(first_day):
    from PIL import Image

    from sandwich.evaluation.html_report import ERRORS_ID, READY_ID

    url, tmp = (first_day["day"] / "results" / "report.html").as_uri(), first_day["tmp"]
    rendered = chromium(url, tmp / "profile-dom", "--dump-dom")
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    dom = rendered.stdout
    errors = re.search(rf'<pre id="{ERRORS_ID}"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == "", errors and errors.group(1)
    assert re.search(rf'id="{READY_ID}" data-plots="[1-9]', dom)
    assert re.search(r'<text class="legendtext"[^>]*>mine</text>', dom)  # a legend entry of its own
    assert len(re.findall(r'<path class="js-line" d="M[\d.]+', dom)) >= 2  # drawn curves
    shot = tmp / "report.png"
    rendered = chromium(url, tmp / "profile-shot", f"--screenshot={shot}", "--window-size=1200,900", "--hide-scrollbars")
    assert rendered.returncode == 0 and shot.is_file(), rendered.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), float)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.005  # text and curves, not a blank page
