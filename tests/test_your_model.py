"""A researcher's own model beside the baselines: train, export, evaluate the file as a method, and
see it in the bench's plots, BD tables and report (README, "Your model beside the baselines")."""

from __future__ import annotations

import subprocess
import sys

from sandwich.core.paths import PROJECT_ROOT
from sandwich.evaluation.runner import run
from sandwich.methods.checkpoint import export
from sandwich.training.fit import train

TINY = ["model.net.pre.encoder=[8,16]", "model.net.pre.decoder=[32,16,8]", "model.net.post.encoder=[8,16]",
        "model.net.post.decoder=[32,16,8]", "data.crop=32", "data.val_crop=32", "data.batch_size=2",
        "data.samples_per_epoch=4", "logger=none", "trainer.enable_progress_bar=false", "trainer.max_steps=2"]  # fmt: skip


def test_train_export_evaluate_and_plot_your_own_model(compose_cfg, data_root, tmp_path):
    hdr = data_root / "hdr" / "test"
    trained = train(compose_cfg("train", ["experiment=sandwich_hdr", f"data.root={hdr}", f"run_dir={tmp_path / 'run'}", *TINY]))
    assert trained.global_step == 2
    mine = export(tmp_path / "run" / "checkpoints" / "last.ckpt", tmp_path / "mine.pt")
    results = tmp_path / "results"
    common = [f"data.root={hdr}", f"output_dir={results / 'hdr'}", "logger=none", "workers=1", "progress=false"]
    as_method = ["method=sandwich_hdr_jpeg", "method.name=mine", "~method.checkpoints", f"+method.checkpoints={{mine: {mine}}}"]
    run(compose_cfg("eval", [*as_method, *common]))
    run(compose_cfg("eval", ["method=truncation_jpeg", *common]))
    bench = [f"paths.results_dir={results}", "plot_only=true", "~tasks.sr", "extra=[mine]", "targets=[]",
             f"readme={tmp_path / 'no_readme.md'}", "report.n_boot=20", "logger=none"]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "sandwich.bench", *bench], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = (results / "summary.md").read_text()
    assert "| `mine` |" in summary  # in the BD table against the anchor
    assert (results / "hdr" / "rd_psnr.png").stat().st_size > 0
    assert '"name":"mine"' in (results / "report.html").read_text()  # a trace of its own
