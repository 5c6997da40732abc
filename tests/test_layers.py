"""The package's layers import one way: core <- codecs <- methods <- training, evaluation <- entry
points and tools. A learned method's `module.py` (its LightningModule) is training code. Every
import counts: relative ones and those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sandwich.core.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "sandwich"
LAYERS = {"core": 0, "codecs": 1, "methods": 2, "evaluation": 3, "training": 3, "tools": 4, "": 5}
FRAMEWORKS = ("lightning", "hydra", "wandb", "omegaconf")


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """Every module `name` imports (project modules resolved to the module, others to their top package)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import module` imports the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {target if target in MODULES or not target.startswith("sandwich") else _owner(target) for target in found}


def _owner(dotted: str) -> str:
    while dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted


GRAPH = {name: {t for t in imports(name) if t in MODULES and t != name} for name in MODULES}


def folder(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def layer(name: str) -> int:
    parts = name.split(".")[1:]
    if len(parts) == 3 and parts[0] == "methods" and parts[2] == "module":
        return LAYERS["training"]  # a LightningModule sits with its method but is training code
    if parts and parts[0] in LAYERS and (len(parts) > 1 or MODULES[name].name == "__init__.py"):
        return LAYERS[parts[0]]
    return LAYERS[""]  # the entry points (and the package's own __init__)


def is_inference(name: str) -> bool:
    return layer(name) <= LAYERS["methods"]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_reader_sees_relative_and_function_local_imports(tmp_path):
    assert "sandwich.core.bitstream" in GRAPH["sandwich.core.contract"]
    assert "sandwich.methods.checkpoint" in GRAPH["sandwich.methods.sandwich.model"]  # `from sandwich.methods import checkpoint`
    source = "def f():\n    from . import errors\n    from .bitstream import unpack\n"
    MODULES["sandwich.core.probe"] = tmp_path / "probe.py"
    (tmp_path / "probe.py").write_text(source)
    try:
        assert imports("sandwich.core.probe") == {"sandwich.core.errors", "sandwich.core.bitstream"}
    finally:
        del MODULES["sandwich.core.probe"]


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    assert cycles(GRAPH) == []


def test_no_import_cycle_between_folders():
    folders: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        folders.setdefault(folder(name), set()).update(folder(t) for t in targets if folder(t) != folder(name))
    assert cycles(folders) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name):
    upward = sorted(t for t in GRAPH[name] if layer(t) > layer(name))
    assert not upward, f"{name} (layer {layer(name)}) imports from higher layers: {upward}"


def test_core_imports_nothing_else_of_the_project():
    for name, targets in GRAPH.items():
        if name.startswith("sandwich.core"):
            assert all(t.startswith("sandwich.core") for t in targets), (name, targets)


def test_inference_modules_import_no_training_or_config_framework():
    offenders = {
        name: sorted(t for t in imports(name) if t.split(".")[0] in FRAMEWORKS)
        for name in MODULES
        if is_inference(name)
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert is_inference("sandwich.methods.sandwich.method") and not is_inference("sandwich.methods.sandwich.module")
