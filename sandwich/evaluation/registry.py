"""Which methods exist, and building one: every method is a config file, `conf/method/NAME.yaml`.

A method's config is composed as the evaluator composes it (its codec's defaults merged in), so the
CLI, the tools and the bench build exactly the same object.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from sandwich.core.paths import CONF_DIR


class UnknownMethod(KeyError):
    """A method name with no config file."""


class MissingCheckpoint(FileNotFoundError):
    """A method's checkpoint file is not in `paths.checkpoints_dir` (SANDWICH_CHECKPOINTS)."""


def method_names() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml"))


def method_summary(name: str) -> str:
    """The first line of the comment that opens `conf/method/NAME.yaml` (what the method is)."""
    for line in (CONF_DIR / "method" / f"{name}.yaml").read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def _composed(name: str):
    """The evaluator's config with `method=NAME` (codec defaults merged in, paths resolvable)."""
    if name not in method_names():
        raise UnknownMethod(f"unknown method {name!r}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("eval", overrides=[f"method={name}"])


def method_config(name: str):
    """`conf/method/NAME.yaml` as the evaluator composes it (codec defaults merged in)."""
    return _composed(name).method


def build_method(name: str):
    """The method as `conf/method/NAME.yaml` composes it (what the evaluator runs)."""
    config = _composed(name)
    try:
        return instantiate(config.method, _convert_="all")
    except InstantiationException as err:
        missing, folder = err.__cause__, Path(config.paths.checkpoints_dir)
        if isinstance(missing, FileNotFoundError) and Path(missing.filename or "").is_relative_to(folder):
            raise MissingCheckpoint(
                f"{name}: checkpoint {missing.filename} not found: set SANDWICH_CHECKPOINTS to the folder "
                "holding the checkpoints (a checkout's checkpoints/)"
            ) from None
        raise
