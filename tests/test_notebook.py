"""`make test-full` executes the RD notebook against results made here (slow: starts a kernel)."""

from __future__ import annotations

import os
import shutil

import pytest

from sandwich.core.paths import PROJECT_ROOT


@pytest.mark.slow
def test_rd_notebook_runs(compose_cfg, data_root, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    from sandwich.evaluation.runner import run

    for method in ("truncation_jpeg", "truncation_jpeg_flat"):
        cfg = compose_cfg(
            "eval",
            [f"method={method}", f"data.root={data_root / 'hdr' / 'test'}", f"output_dir={tmp_path / 'hdr'}",
             "logger=none", "workers=1", "progress=false"],
        )  # fmt: skip
        run(cfg)
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "rd_comparison.ipynb", as_version=4)
    os.environ["SANDWICH_RESULTS"] = str(tmp_path)
    try:
        NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}}).execute()
    finally:
        del os.environ["SANDWICH_RESULTS"]
    outputs = "".join(str(o) for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "truncation_jpeg_flat" in outputs and "BD-rate" in outputs
    figures = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if "image/png" in o.get("data", {})]
    assert figures, "the notebook drew no figure"
    shutil.rmtree(tmp_path / "hdr")
