"""Training entry point: every experiment composes and runs, resume from `last`, CPU DDP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import CONF
from hydra.utils import instantiate

from sandwich.core.domains import TASK_OF_DOMAIN
from sandwich.core.paths import PROJECT_ROOT
from sandwich.export import provenance
from sandwich.methods.checkpoint import SMALL_FP32, export, peek, read
from sandwich.training.data import CropDataset
from sandwich.training.fit import train
from sandwich.training.loggers import SweepStamp, make_logger, wandb_group
from sandwich.training.warm_start import warm_start

EXPERIMENTS = sorted(p.stem for p in Path(CONF, "experiment").glob("*.yaml"))
TINY_SANDWICH = [
    "model.net.pre.encoder=[8,16]", "model.net.pre.decoder=[32,16,8]",
    "model.net.post.encoder=[8,16]", "model.net.post.decoder=[32,16,8]",
]  # fmt: skip
TINY = [
    "data.crop=32", "data.val_crop=32", "data.batch_size=2", "data.samples_per_epoch=4",
    "logger=none", "trainer.enable_progress_bar=false", "trainer.max_steps=2",
    "data.val_images=null",  # recipes that pin validation files name real training photos
]  # fmt: skip


@pytest.fixture
def train_folders(data_root):
    """Synthetic train folders: the shared test images double as a train set here."""
    return {"hdr": data_root / "hdr" / "test", "sr": data_root / "sr" / "test"}


def _cfg(compose_cfg, experiment, folders, tmp_path, extra=()):
    composed = compose_cfg("train", [f"experiment={experiment}"])
    task = TASK_OF_DOMAIN[composed.data.domain]
    tiny = TINY_SANDWICH + TINY if composed.model._target_.endswith(".SandwichModule") else TINY
    return compose_cfg(
        "train", [f"experiment={experiment}", f"data.root={folders[task]}", f"run_dir={tmp_path}", *tiny, *extra]
    )


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_fast_dev_run(compose_cfg, train_folders, tmp_path, experiment):
    """Every experiment, the shipped checkpoints' recipes too (from scratch: their `init_from`
    files are other runs'), composes and trains a step."""
    on_this_machine = [] if torch.cuda.is_available() else ["trainer.accelerator=cpu"]  # a GPU recipe, tested on the CPU
    cfg = _cfg(compose_cfg, experiment, train_folders, tmp_path, ["trainer.fast_dev_run=true", "init_from=null", *on_this_machine])
    trainer = train(cfg)
    assert trainer.global_step == 1 and any(k.startswith("val/psnr") for k in trainer.callback_metrics)
    assert not list(tmp_path.rglob("*.ckpt")), "a smoke run wrote a checkpoint into the run folder"


def test_resume_from_last_checkpoint(compose_cfg, train_folders, tmp_path, capsys):
    extra = ["trainer.max_steps=4", "trainer.val_check_interval=2", "callbacks.checkpoint.every_n_train_steps=2"]
    first = train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path, [*extra, "ckpt_path=last"]))
    assert "ckpt_path=last: no last*.ckpt in " in capsys.readouterr().out  # nothing to resume: said so
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file() and first.global_step == 4
    weights = {k: v.clone() for k, v in first.lightning_module.state_dict().items()}
    # resuming at the step it stopped trains nothing: the weights are the first run's, restored
    # (another seed, so a run that ignored the checkpoint could not reproduce them by retraining)
    same = train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path, [*extra, "ckpt_path=last", "seed=1"]))
    out = capsys.readouterr().out
    assert f"ckpt_path=last: resuming from {tmp_path / 'checkpoints' / 'last.ckpt'} (step 4, epoch " in out
    restored = same.lightning_module.state_dict()
    assert same.global_step == 4 and all(torch.equal(restored[k], weights[k]) for k in weights)
    more = ["trainer.max_steps=6", "trainer.val_check_interval=2", "callbacks.checkpoint.every_n_train_steps=2"]
    second = train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path, [*more, "ckpt_path=last"]))
    assert second.global_step == 6  # continued, not restarted
    assert first.train_dataloader.dataset.seed == [0, 0, 0]
    assert second.train_dataloader.dataset.seed == [0, 0, 4]  # new crops from the restored step on


def test_provenance_survives_a_resume_and_the_export(compose_cfg, train_folders, tmp_path):
    """Both launches of a resumed run, with their start steps, and the wall time of both."""
    extra = ["trainer.val_check_interval=2", "callbacks.checkpoint.every_n_train_steps=2", "ckpt_path=last"]
    train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path, ["trainer.max_steps=2", *extra]))
    last = tmp_path / "checkpoints" / "last.ckpt"
    first_seconds = torch.load(last, weights_only=False)["callbacks"]["Provenance"]["train_seconds"]
    train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path, ["trainer.max_steps=4", *extra]))
    meta = peek(export(last, tmp_path / "shipped.pt", provenance(last)))[3]
    assert [launch["step"] for launch in meta["launches"]] == [0, 2] and meta["global_step"] == 4
    assert meta["wall_time_s"] > first_seconds > 0


def test_a_time_budget_trains_saves_and_resumes(compose_cfg, train_folders, tmp_path):
    # trainer.max_time (a GPU run of unknown speed): the lr schedule also follows the budget
    extra = ["trainer.max_steps=3", "+trainer.limit_val_batches=0", "+trainer.max_time='00:00:10:00'"]
    first = train(_cfg(compose_cfg, "sandwich_sr", train_folders, tmp_path, extra))
    assert first.global_step == 3 and (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert isinstance(first.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.LambdaLR)
    more = ["trainer.max_steps=5", "+trainer.limit_val_batches=0", "+trainer.max_time='00:00:10:00'", "ckpt_path=last"]
    assert train(_cfg(compose_cfg, "sandwich_sr", train_folders, tmp_path, more)).global_step == 5


def test_last_checkpoint_holds_the_final_step_between_periodic_saves(compose_cfg, train_folders, tmp_path):
    extra = ["trainer.max_steps=3", "callbacks.checkpoint.every_n_train_steps=2", "+trainer.limit_val_batches=0"]
    trainer = train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path, extra))
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    periodic = torch.load(tmp_path / "checkpoints" / "step000002.ckpt", map_location="cpu", weights_only=False)
    assert trainer.global_step == 3 and last["global_step"] == 3 and periodic["global_step"] == 2
    weights = trainer.lightning_module.state_dict()
    assert all(torch.equal(last["state_dict"][k], weights[k]) for k in weights)


class BatchRecorder(L.Callback):
    """Writes, per rank, a digest of each training batch and the step training ended at."""

    def __init__(self, folder: str):
        self.folder = folder

    def _write(self, trainer, line: str) -> None:
        with open(Path(self.folder) / f"rank{trainer.global_rank}.txt", "a") as out:
            out.write(line + "\n")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._write(trainer, "batch " + hashlib.sha256(batch.cpu().numpy().tobytes()).hexdigest())

    def on_train_end(self, trainer, pl_module):
        self._write(trainer, f"ended at step {trainer.global_step}")


def test_two_process_cpu_ddp_trains_a_step_on_each_rank_with_its_own_crops(compose_cfg, train_folders, tmp_path):
    extra = [
        "trainer=ddp", "trainer.accelerator=cpu", "trainer.max_steps=1", "+trainer.limit_val_batches=0",
        f"+callbacks.record._target_={__name__}.BatchRecorder", f"+callbacks.record.folder={tmp_path}",
    ]  # fmt: skip
    trainer = train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path, extra))
    assert trainer.world_size == 2
    ranks = [(tmp_path / f"rank{r}.txt").read_text().splitlines() for r in range(2)]
    assert all(lines[-1] == "ended at step 1" and len(lines) == 2 for lines in ranks)
    assert ranks[0][0] != ranks[1][0], "both ranks trained on the same crops"


def test_crop_stream_depends_on_rank_and_start_step(data_root):
    images = [np.zeros((64, 64, 3), np.uint8) + np.arange(64, dtype=np.uint8)[:, None, None] * 3]

    def first_crops(seed):
        data = CropDataset(images, 16, train=True, samples_per_epoch=4, seed=seed)
        return torch.stack([data[i] for i in range(4)])

    assert torch.equal(first_crops([0, 0, 0]), first_crops([0, 0, 0]))
    assert not torch.equal(first_crops([0, 0, 0]), first_crops([0, 1, 0]))  # another rank
    assert not torch.equal(first_crops([0, 0, 0]), first_crops([0, 0, 500]))  # resumed at step 500


def test_init_from_starts_from_another_runs_weights_with_a_fresh_step(compose_cfg, train_folders, tmp_path):
    extra = ["trainer.max_steps=2", "callbacks.checkpoint.every_n_train_steps=2", "+trainer.limit_val_batches=0"]
    first = train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path / "a", extra))
    source = tmp_path / "a" / "checkpoints" / "last.ckpt"
    cfg = _cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path / "b", ["model.net.step_init=9.0"])
    module = instantiate(cfg.model, _convert_="all")
    warm_start(module, str(source))
    trained = first.lightning_module.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in module.state_dict().items() if k != "model.proxy.q")
    assert float(module.model.proxy.step) == pytest.approx(9.0, abs=1e-4)


def test_init_from_a_shipped_checkpoint_takes_its_weights(compose_cfg, train_folders, tmp_path):
    """Training goes on from a committed .pt (sandwich.export) when the run folders are gone."""
    extra = ["trainer.max_steps=2", "callbacks.checkpoint.every_n_train_steps=2", "+trainer.limit_val_batches=0"]
    first = train(_cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path / "a", extra))
    shipped = export(tmp_path / "a" / "checkpoints" / "last.ckpt", tmp_path / "shipped.pt")
    cfg = _cfg(compose_cfg, "sandwich_hdr", train_folders, tmp_path / "b", ["model.net.step_init=9.0"])
    module = instantiate(cfg.model, _convert_="all")
    warm_start(module, str(shipped))
    trained = first.lightning_module.state_dict()
    for name, value in module.state_dict().items():
        if name != "model.proxy.q":  # fp16 in the file: the trained weights rounded to half precision
            expected = trained[name].half().float() if trained[name].numel() > SMALL_FP32 else trained[name]
            assert torch.equal(value, expected), name
    assert float(module.model.proxy.step) == pytest.approx(9.0, abs=1e-4)


def test_init_from_the_shipped_han_checkpoint(compose_cfg, train_folders, tmp_path):
    module = instantiate(_cfg(compose_cfg, "han", train_folders, tmp_path).model, _convert_="all")
    warm_start(module, str(PROJECT_ROOT / "checkpoints" / "han.pt"))
    _, state, _ = read(PROJECT_ROOT / "checkpoints" / "han.pt", "han")
    assert all(torch.equal(module.model.state_dict()[k], v) for k, v in state.items())


def test_freeze_pre_trains_only_the_post_processor_from_the_loaded_step(compose_cfg, train_folders, tmp_path):
    """`model.freeze_pre`: a warm start keeps the file's Δ, and training moves the post-processor
    only (the bottleneck, hence every rate, stays the loaded model's)."""
    extra = ["trainer.max_steps=2", "callbacks.checkpoint.every_n_train_steps=2", "+trainer.limit_val_batches=0"]
    train(_cfg(compose_cfg, "sandwich_sr", train_folders, tmp_path / "a", extra + ["model.net.step_init=7.0"]))
    shipped = export(tmp_path / "a" / "checkpoints" / "last.ckpt", tmp_path / "shipped.pt")
    options = ["model.freeze_pre=true", "model.net.tilt=1.0", "model.net.chroma=1.5", f"init_from={shipped}", "model.lr=1e-2"]
    second = train(_cfg(compose_cfg, "sandwich_sr", train_folders, tmp_path / "b", extra + options))
    loaded = {k: v for k, v in read(shipped, "sandwich")[1].items()}
    after = second.lightning_module.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in loaded.items() if k.startswith(("pre.", "proxy.")))
    assert any(not torch.equal(after[k], v) for k, v in loaded.items() if k.startswith("post."))
    assert float(second.lightning_module.model.proxy.step) == pytest.approx(7.0, abs=0.1)  # not the default 10


def test_a_sweep_composes_for_slurm_and_ddp(compose_cfg):
    """README's Slurm sweep: the cluster configs compose, the launcher's plugin is installed, and
    each job gets one Slurm task per device with strategy ddp (under Slurm, Lightning takes the
    ranks from Slurm; ddp_spawn there would make every process rank 0)."""
    import importlib

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "train",
            ["experiment=sandwich_sr", "hydra/launcher=submitit_slurm", "hydra.launcher.gpus_per_node=2",
             "hydra.launcher.tasks_per_node=2", "trainer=ddp", "trainer.strategy=ddp"],
            return_hydra_config=True,
        )  # fmt: skip
    GlobalHydra.instance().clear()
    module, _, name = cfg.hydra.launcher._target_.rpartition(".")
    assert name == "SlurmLauncher" and hasattr(importlib.import_module(module), name)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == cfg.hydra.launcher.tasks_per_node == 2


def test_a_lambda_sweep_makes_one_run_folder_and_one_wandb_run_per_job_in_one_group(train_folders, tmp_path):
    """`-m model.lmbda=a,b`: Hydra's files and the checkpoints share each job's run folder, and each
    job ends its own offline W&B run, in the sweep's group `<experiment>-<sweep start time>`."""
    import os
    import re
    import subprocess
    import sys

    overrides = [
        "-m", "experiment=sandwich_sr", "model.lmbda=10,20", f"data.root={train_folders['sr']}",
        "logger=wandb", f"logger.save_dir={tmp_path}",
        f"runs_root={tmp_path}/train",
        *TINY_SANDWICH, *[o for o in TINY if not o.startswith("logger=")], "+trainer.limit_val_batches=0",
    ]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    done = subprocess.run([sys.executable, "-m", "sandwich.train", *overrides], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    for lmbda in ("10", "20"):
        run = tmp_path / "train" / "sandwich_sr" / f"lmbda_{lmbda}"
        assert (run / "train.log").exists() and (run / ".hydra" / "overrides.yaml").exists()
        assert (run / "checkpoints" / "last.ckpt").exists()
    runs = sorted((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 2 and runs[0].parent.name[-8:] != runs[1].parent.name[-8:]
    groups = [set(re.findall(rb"sandwich_sr-\d{8}-\d{6}", run.read_bytes())) for run in runs]
    assert len(groups[0]) == 1 and groups[0] == groups[1], groups
    (kept,) = (tmp_path / "train").glob("multirun-*.yaml")  # the sweep's definition, by its stamp
    assert kept.name == f"multirun-{groups[0].pop().decode().removeprefix('sandwich_sr-')}.yaml"
    assert "model.lmbda=10,20" in kept.read_text()


@pytest.mark.parametrize("group, expected", [(None, "sandwich_sr"), ("ablation_7", "ablation_7")])
def test_wandb_runs_are_grouped_by_experiment_unless_a_group_is_given(compose_cfg, train_folders, tmp_path, monkeypatch, group, expected):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "dryrun")  # what wandb leaves behind for a sweep's next job
    monkeypatch.delenv("SANDWICH_SWEEP_STAMP", raising=False)  # a single run, not a sweep's job
    extra = ["logger=wandb", f"logger.save_dir={tmp_path}"] + ([f"logger.group={group}"] if group else [])
    tiny = [o for o in TINY_SANDWICH + TINY if not o.startswith("logger=")]
    cfg = compose_cfg("train", ["experiment=sandwich_sr", f"data.root={train_folders['sr']}", f"run_dir={tmp_path}", *tiny, *extra])
    logger = make_logger(cfg)
    try:
        assert logger.experiment.group == expected and logger.experiment.name == cfg.run_name
        assert logger.experiment.offline
    finally:
        wandb.finish()


def test_sweep_stamp_names_the_group_of_a_sweeps_jobs_unless_a_group_is_given(compose_cfg, monkeypatch, tmp_path):
    from omegaconf import open_dict


    monkeypatch.setenv("SANDWICH_SWEEP_STAMP", "")  # so that teardown removes what the callback sets
    monkeypatch.delenv("SANDWICH_SWEEP_STAMP")
    cfg = compose_cfg("train", ["experiment=sandwich_sr"])
    assert wandb_group(cfg) == "sandwich_sr"
    with open_dict(cfg):  # what Hydra's own config carries in a multirun
        cfg.hydra = {"sweep": {"dir": str(tmp_path)}}
    SweepStamp().on_multirun_start(cfg)
    assert len(list(tmp_path.glob("multirun-*.yaml"))) == 1
    group = wandb_group(cfg)
    assert group.startswith("sandwich_sr-") and len(group) == len("sandwich_sr-20261130-144311")
    cfg.logger.group = "ablation_7"
    assert wandb_group(cfg) == "ablation_7"


def _debug_cfg(compose_cfg, train_folders, tmp_path, debug, extra=()):
    """A debug config on the tiny data, with the log folder (hence logs/train and logs/debug) in tmp."""
    return compose_cfg(
        "train",
        ["experiment=sandwich_hdr", f"debug={debug}", f"data.root={train_folders['hdr']}", f"paths.log_dir={tmp_path / 'logs'}",
         *TINY_SANDWICH, *[o for o in TINY if not o.startswith(("logger=", "trainer.max_steps"))], *extra],
    )  # fmt: skip


@pytest.mark.parametrize(
    "debug, extra, steps",
    [
        ("fdr", [], 1),
        ("limit", ["trainer.max_epochs=2", "trainer.limit_train_batches=1"], 2),  # kept short: 2 epochs of 1 batch
        ("overfit", ["trainer.max_steps=2", "trainer.val_check_interval=2"], 2),
        ("profiler", ["trainer.max_steps=2", "trainer.val_check_interval=2"], 2),
    ],
)
def test_debug_configs_train_and_leave_no_checkpoint(compose_cfg, train_folders, tmp_path, caplog, debug, extra, steps):
    cfg = _debug_cfg(compose_cfg, train_folders, tmp_path, debug, extra)
    assert cfg.run_dir.startswith(str(tmp_path / "logs" / "debug")) and cfg.logger.kind == "none"
    assert cfg.callbacks.checkpoint is None and cfg.trainer.enable_checkpointing is False
    trainer = train(cfg)
    assert trainer.global_step == steps
    assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "logs" / "train").exists()
    if debug == "profiler":
        assert "FIT Profiler Report" in caplog.text  # Lightning logs the report at the end
    if debug == "overfit":
        assert trainer.overfit_batches == 2  # conf/debug/overfit.yaml


def test_debug_fdr_from_the_command_line_writes_only_to_logs_debug(train_folders, tmp_path):
    import subprocess
    import sys

    overrides = ["experiment=sandwich_hdr", "debug=fdr", f"data.root={train_folders['hdr']}", f"paths.log_dir={tmp_path}",
                 *TINY_SANDWICH, *[o for o in TINY if not o.startswith("trainer.max_steps")]]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "sandwich.train", *overrides], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "debug" / "sandwich_hdr" / "lmbda_200000.0" / ".hydra" / "overrides.yaml").is_file()
    assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "train").exists()
