"""W&B as a researcher reads it, offline on tiny data: an eval's RD line plots against bpp, its
per-image and BD tables, each run's files inside its run folder, the config logged once, and a
short training run's history from its first steps."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sandwich.core.paths import PROJECT_ROOT
from sandwich.evaluation import wandb_log
from sandwich.evaluation.runner import run
from sandwich.training.fit import train

TINY_TRAIN = [
    "experiment=sandwich_hdr", "model.net.pre.encoder=[8,16]", "model.net.pre.decoder=[32,16,8]",
    "model.net.post.encoder=[8,16]", "model.net.post.decoder=[32,16,8]", "data.crop=32", "data.val_crop=32",
    "data.batch_size=2", "data.samples_per_epoch=4", "trainer.enable_progress_bar=false",
]  # fmt: skip


@pytest.fixture
def wandb_runs(tmp_path, monkeypatch):
    """Offline W&B with every wandb folder in tmp; records each run started and each `log` call."""
    import wandb
    from wandb.sdk.wandb_run import Run

    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb_home" / name.lower()))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("SANDWICH_SWEEP_STAMP", raising=False)
    runs, logged = [], []
    init, log = wandb.init, Run.log

    def recording_init(*args, **kwargs):
        runs.append(init(*args, **kwargs))
        return runs[-1]

    def recording_log(self, data, *args, **kwargs):
        logged.append(dict(data))
        return log(self, data, *args, **kwargs)

    monkeypatch.setattr(wandb, "init", recording_init)
    monkeypatch.setattr(Run, "log", recording_log)
    yield runs, logged
    wandb.finish()


def _eval_cfg(compose_cfg, tmp_path, data_root, method, logger):
    return compose_cfg(
        "eval",
        [f"method={method}", f"data.root={data_root / 'hdr' / 'test'}", "data.max_images=1", f"logger={logger}",
         f"paths.log_dir={tmp_path / 'logs'}", f"paths.results_dir={tmp_path / 'results'}", f"output_dir={tmp_path / 'out'}",
         "workers=1", "progress=false"],
    )  # fmt: skip


def test_eval_logs_rd_line_plots_against_bpp_and_the_per_image_and_bd_tables(compose_cfg, data_root, tmp_path, wandb_runs, monkeypatch):
    runs, logged = wandb_runs
    run(_eval_cfg(compose_cfg, tmp_path, data_root, "truncation_jpeg", "none"))  # the HDR anchor, BD's reference
    assert not runs
    log_evaluation, documents = wandb_log.log_evaluation, []

    def untouched(logger, document, reference):
        before = copy.deepcopy(document)
        log_evaluation(logger, document, reference)
        assert document == before  # the results document is not W&B's to change
        documents.append(document)

    monkeypatch.setattr(wandb_log, "log_evaluation", untouched)
    run(_eval_cfg(compose_cfg, tmp_path, data_root, "truncation_jpeg_flat", "wandb"))
    (document,) = documents

    (wandb_run,) = runs
    assert set(wandb_run.config.keys()) == set(wandb_log.CONFIG_KEYS)  # once, at init
    # the run's files are in the eval's run folder
    (folder,) = (tmp_path / "logs" / "eval").glob("*/*/wandb/offline-run-*")
    assert folder.parent.parent == Path(document["config"]["run_dir"])

    tables = {k: v for entry in logged for k, v in entry.items()}
    metrics = [m for m in document["metrics"] if m != "bpp"]
    assert {"psnr", "pu_psnr"} <= set(metrics)
    for metric in metrics:
        chart = tables[f"rd/{metric}"]
        assert chart.spec.fields == {"x": "bpp", "y": metric, "stroke": "method"}
        assert chart.table.columns == ["method", "bpp", metric]
        assert {row[0] for row in chart.table.data} == {"truncation_jpeg_flat", "truncation_jpeg"}
    assert len(tables["per_image"].data) == len(document["per_image"])
    bd = {row[1]: dict(zip(tables["bd"].columns, row)) for row in tables["bd"].data}
    assert set(bd) == {"psnr", "pu_psnr"} and all(r["reference"] == "truncation_jpeg" for r in bd.values())
    assert all(isinstance(r["bd_quality"], float) and isinstance(r["bd_rate_pct"], float) for r in bd.values())
    # what goes to W&B: the tables' files and the line plots' panels, keyed by bpp
    media = folder / "files" / "media" / "table"
    assert list(media.glob("bd_*.table.json")) and list(media.glob("per_image_*.table.json"))
    for metric in metrics:
        (table,) = (media / "rd").glob(f"{metric}_table_*.table.json")
        assert json.loads(table.read_text())["columns"] == ["method", "bpp", metric]
    wanted = (b'"panelDefId":"wandb/line/v0","fieldSettings":{"x":"bpp","y":"psnr","stroke":"method"}',
              b"bd/psnr/quality", b"bd/pu_psnr/rate_pct")  # the panel; columns of the runs table  # fmt: skip
    deadline = time.monotonic() + 60  # W&B's service process writes the record behind the run
    while not all(w in (record := next(folder.glob("run-*.wandb")).read_bytes()) for w in wanted):
        assert time.monotonic() < deadline, record[:200]
        time.sleep(0.5)


def test_a_benchs_runs_share_one_group_in_the_benchs_run_folder(data_root, tmp_path):
    (tmp_path / "data" / "hdr" / "test").mkdir(parents=True)
    (tmp_path / "data" / "hdr" / "test" / "a.exr").symlink_to(data_root / "hdr" / "test" / "a.exr")
    bench = tmp_path / "bench"
    command = [
        sys.executable, "-m", "sandwich.bench", "only=[truncation_jpeg,truncation_jpeg_flat]", "~tasks.sr", "targets=[]",
        "logger=wandb", f"paths.data_root={tmp_path / 'data'}", f"paths.results_dir={tmp_path / 'results'}",
        "cvvdp_images=0", "workers=1", f"readme={tmp_path / 'no_readme.md'}", "report.html=null", f"hydra.run.dir={bench}",
    ]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(tmp_path / "wandb_home")}
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [p.read_bytes() for p in bench.glob("wandb/offline-run-*/run-*.wandb")]
    assert len(records) == 2
    groups = [set(re.findall(rb"bench-\d{8}-\d{6}", record)) for record in records]
    assert len(groups[0]) == 1 and groups[0] == groups[1], groups


def test_eval_logs_nothing_and_never_imports_wandb_unless_a_logger_is_chosen(compose_cfg, data_root, tmp_path):
    assert compose_cfg("eval", []).logger.kind == "none" and compose_cfg("bench", []).logger.kind == "none"
    code = (
        "import sys\n"
        "from hydra import compose, initialize_config_dir\n"
        "from sandwich.core.paths import CONF_DIR\n"
        "from sandwich.evaluation.runner import run\n"
        "with initialize_config_dir(config_dir=str(CONF_DIR), version_base='1.3'):\n"
        f"    cfg = compose('eval', ['method=truncation_jpeg_flat', 'data.root={data_root / 'hdr' / 'test'}', 'data.max_images=1',\n"
        f"                           'paths.log_dir={tmp_path / 'logs'}', 'workers=1', 'progress=false'])\n"
        "run(cfg)\n"
        "assert 'wandb' not in sys.modules, 'an eval without a logger imported wandb'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "WANDB_MODE": "offline"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list((tmp_path / "logs").rglob("wandb"))


def test_a_short_training_run_logs_its_first_steps_and_its_config_once_into_its_run_folder(compose_cfg, data_root, tmp_path, wandb_runs):
    runs, logged = wandb_runs
    run_dir = tmp_path / "runs" / "mine"
    cfg = compose_cfg(
        "train",
        [*TINY_TRAIN, f"data.root={data_root / 'hdr' / 'test'}", f"run_dir={run_dir}", "logger=wandb",
         "trainer.max_steps=3", "trainer.val_check_interval=2", "callbacks.checkpoint.every_n_train_steps=100"],
    )  # fmt: skip
    train(cfg)
    (wandb_run,) = runs
    # the composed config, once: not also the module's hyperparameters beside it
    assert wandb_run.config.as_dict().keys() - {"_wandb"} == OmegaConf.to_container(cfg, resolve=True).keys()
    assert wandb_run.config["model"]["lmbda"] == cfg.model.lmbda and "lmbda" not in wandb_run.config
    steps = [entry["trainer/global_step"] for entry in logged if "train/loss" in entry]
    assert steps == [0, 1, 2]
    # Lightning logs at the 0-based index of the step: the validation after the second step at 1
    assert [entry["trainer/global_step"] for entry in logged if "val/psnr" in entry] == [1]
    assert len(list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))) == 1
