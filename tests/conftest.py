"""Small synthetic images and data folders; nothing here reads the shared data set."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from sandwich.core.images import linear_to_pq16, write_exr, write_png
from sandwich.core.paths import CONF_DIR

CONF = str(CONF_DIR)
METHODS = sorted(p.stem for p in Path(CONF, "method").glob("*.yaml"))
CODECS = sorted(p.stem for p in Path(CONF, "codec").glob("*.yaml"))


def pytest_configure(config):
    """Exported ONNX graphs (sandwich.methods.sandwich.onnx_runtime) go to a scratch folder that the
    session removes, not ~/.cache; the tests' subprocesses inherit it."""
    if "SANDWICH_CACHE" not in os.environ:
        config.sandwich_cache = tempfile.mkdtemp(prefix="sandwich-cache-")
        os.environ["SANDWICH_CACHE"] = config.sandwich_cache


def pytest_unconfigure(config):
    if getattr(config, "sandwich_cache", None):
        shutil.rmtree(config.sandwich_cache, ignore_errors=True)
        del os.environ["SANDWICH_CACHE"]


def synthetic_linear(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Linear HDR RGB spanning ~12 stops: smooth light field × texture × a bright highlight."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    light = np.exp2(10 * x - 4 + 2 * np.sin(6 * y))
    texture = 0.6 + 0.4 * np.sin(23 * x + 3 * rng.random()) * np.cos(17 * y)
    colour = np.stack([1.0 + 0.3 * y, np.ones_like(x), 0.8 + 0.4 * x], axis=-1)
    image = light[..., None] * texture[..., None] * colour
    image[height // 3 : height // 3 + 3, width // 2 : width // 2 + 4] *= 40  # a small light source
    return (image * (1 + 0.02 * rng.standard_normal(image.shape))).clip(0).astype(np.float32)


def synthetic_sr(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(9 * x + 2 * y), np.cos(7 * y - 3 * x), np.sin(5 * (x + y))], -1)
    noise = 0.1 * rng.standard_normal((height, width, 3))
    return np.clip(127.5 + 110 * (base + noise) / 1.2, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def hdr_image() -> np.ndarray:
    return linear_to_pq16(synthetic_linear(45, 61))


@pytest.fixture(scope="session")
def sr_image() -> np.ndarray:
    return synthetic_sr(47, 66)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """<root>/hdr/test (two EXRs) and <root>/sr/test (two PNGs), odd sizes."""
    root = tmp_path_factory.mktemp("data")
    for task in ("hdr", "sr"):
        (root / task / "test").mkdir(parents=True)
    write_exr(root / "hdr" / "test" / "a.exr", synthetic_linear(41, 57, seed=1))
    write_exr(root / "hdr" / "test" / "b.exr", synthetic_linear(36, 50, seed=2))
    write_png(root / "sr" / "test" / "a.png", synthetic_sr(43, 58, seed=1))
    write_png(root / "sr" / "test" / "b.png", synthetic_sr(40, 49, seed=2))
    return root


@pytest.fixture
def compose_cfg():
    """compose(config_name, overrides) against the project's conf/."""

    def _compose(name: str, overrides=()):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            return compose(config_name=name, overrides=list(overrides))

    yield _compose
    GlobalHydra.instance().clear()


def sandwich_module(task: str = "hdr", pre: dict | None = None, post: dict | None = None, **kwargs):
    """A SandwichModule from the network's and the module's keyword arguments in one call."""
    import inspect

    from sandwich.methods.sandwich.model import Sandwich
    from sandwich.methods.sandwich.module import SandwichModule

    net_keys = set(inspect.signature(Sandwich).parameters)
    net = Sandwich(task, pre, post, **{k: v for k, v in kwargs.items() if k in net_keys})
    return SandwichModule(net, **{k: v for k, v in kwargs.items() if k not in net_keys})
