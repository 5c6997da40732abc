"""Which methods exist, and building one: every method is a config file, `conf/method/NAME.yaml`.

A method's config is composed as the evaluator composes it (its codec's defaults merged in), so the
CLI, the tools and the bench build exactly the same object.
"""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from sandwich.core.paths import CONF_DIR


class UnknownMethod(KeyError):
    """A method name with no config file."""


def method_names() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml"))


def method_summary(name: str) -> str:
    """The first line of the comment that opens `conf/method/NAME.yaml` (what the method is)."""
    for line in (CONF_DIR / "method" / f"{name}.yaml").read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def method_config(name: str):
    """`conf/method/NAME.yaml` as the evaluator composes it (codec defaults merged in)."""
    if name not in method_names():
        raise UnknownMethod(f"unknown method {name!r}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("eval", overrides=[f"method={name}"]).method


def build_method(name: str):
    """The method as `conf/method/NAME.yaml` composes it (what the evaluator runs)."""
    return instantiate(method_config(name), _convert_="all")
