"""`pip install .` (not editable) into a fresh venv: the installed `sandwich` and `sandwich-eval`
run from their own configs, outside the checkout, with the checkpoints named by SANDWICH_CHECKPOINTS.

The venv borrows this venv's dependencies (a .pth file) instead of installing them: nothing is
downloaded, torch is never reinstalled. This venv's editable `sandwich` is left out of what it
borrows, so every import of `sandwich` there is the installed copy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from sandwich.core.images import read_image, write_png
from sandwich.core.paths import CONF_DIR, PROJECT_ROOT

METHODS = sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml"))


def _packages(root: Path) -> set[str]:
    return {str(p.parent.relative_to(root)) for p in root.rglob("__init__.py") if "__pycache__" not in p.parts}


def _yaml(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.yaml")}


def _installed_venv(tmp_path: Path) -> Path:
    """A fresh venv holding `pip install --no-deps --no-build-isolation` of a copy of the package
    (an in-tree build would leave build/ in the checkout and rewrite the editable install's egg-info)."""
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT / "sandwich", source / "sandwich", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(CONF_DIR, source / "conf")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    deps = tmp_path / "deps"  # this venv's site-packages without the editable sandwich
    deps.mkdir()
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if "sandwich" not in entry.name:
            (deps / entry.name).symlink_to(entry)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(site, "borrowed_dependencies.pth").write_text(f"{deps}\n")
    install = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(source)]
    done = subprocess.run(install, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


@pytest.mark.slow  # 67-83 s on 2 busy cores (≈ 35 s of CPU): seven commands, each importing torch afresh
def test_pip_install_gives_a_working_cli_and_evaluator(tmp_path, hdr_image):
    venv = _installed_venv(tmp_path)
    work = tmp_path / "work"  # outside the checkout: no conf/, no checkpoints/
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PROJECT_ROOT", "PYTHONPATH", "SANDWICH_CHECKPOINTS")}
    env["WANDB_MODE"] = "disabled"

    def run(*command: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / command[0]), *command[1:]], cwd=work, env={**env, **extra_env},
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    where = run("python", "-c", "import sandwich, sandwich.core.paths as p; print(sandwich.__file__, p.CONF_DIR, p.PROJECT_ROOT)")
    module, conf, root = (Path(p).resolve() for p in where.stdout.split())
    assert module.is_relative_to(venv.resolve()) and conf.is_relative_to(venv.resolve()) and root == work.resolve()
    installed = module.parent
    assert _packages(installed) == _packages(PROJECT_ROOT / "sandwich"), "a package missing from pyproject.toml's list"
    assert _yaml(conf) == _yaml(CONF_DIR)

    listed = run("sandwich", "methods")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == METHODS

    write_png(work / "tiny.png", hdr_image)
    baseline = run("sandwich", "compress", "tiny.png", "t.jpg", "--method", "truncation_jpeg")
    assert baseline.returncode == 0, baseline.stderr
    assert run("sandwich", "decompress", "t.jpg", "t.png").returncode == 0
    assert read_image(work / "t.png").shape == hdr_image.shape

    missing = run("sandwich", "compress", "tiny.png", "s.jpg", "--method", "sandwich_hdr_jpeg_light")
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1
    assert "SANDWICH_CHECKPOINTS" in missing.stderr and str(work / "checkpoints" / "sandwich_hdr_light") in missing.stderr
    checkpoints = str(PROJECT_ROOT / "checkpoints")
    learned = run("sandwich", "compress", "tiny.png", "s.jpg", "--method", "sandwich_hdr_jpeg_light", SANDWICH_CHECKPOINTS=checkpoints)
    assert learned.returncode == 0, learned.stderr
    assert run("sandwich", "decompress", "s.jpg", "s.png", SANDWICH_CHECKPOINTS=checkpoints).returncode == 0
    decoded = read_image(work / "s.png").astype(np.float64)
    assert 10 * np.log10(65535**2 / np.mean((decoded - hdr_image) ** 2)) > 30

    images = work / "images"
    images.mkdir()
    shutil.copy(work / "tiny.png", images)
    evaluated = run("sandwich-eval", "method=truncation_jpeg", f"data.root={images}", "workers=1", "progress=false")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    (result,) = (work / "logs" / "eval").glob("*/*/hdr/truncation_jpeg.json")  # the working directory's logs/
    assert json.loads(result.read_text())["dataset"]["images"] == ["tiny.png"]
