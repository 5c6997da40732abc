"""The Optuna search (`-m hparams_search=sandwich_hdr_optuna`, conf/hparams_search/) and each
entry point's --help, which names that command's own config groups."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONF
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from sandwich.core.paths import PROJECT_ROOT
from sandwich.methods.sandwich.module import VAL_STATS
from sandwich.train import optimized_metric
from sandwich.training.fit import train

SEARCH = ["experiment=sandwich_hdr_light", "hparams_search=sandwich_hdr_optuna"]
TINY = [
    "data.crop=32", "data.val_crop=32", "data.batch_size=2", "data.samples_per_epoch=4", "trainer.max_steps=2",
    "trainer.val_check_interval=2", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
]  # fmt: skip


def _with_hydra(overrides):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            return compose("train", overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


def test_the_search_composes_its_objective_sampler_and_space():
    cfg = _with_hydra(SEARCH)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.sampler.seed == 0
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler" and sweeper.n_trials == 20
    # an RD point per trial (Pareto front): higher PSNR, fewer bits; both logged by the module
    assert list(cfg.optimized_metric) == ["val/psnr", "val/bpp"] and list(sweeper.direction) == ["maximize", "minimize"]
    assert {name.removeprefix("val/") for name in cfg.optimized_metric} <= set(VAL_STATS)
    assert set(sweeper.search_space) == {"model.lmbda", "model.lr", "model.net.step_init"}
    for key, space in sweeper.search_space.items():
        recipe = OmegaConf.select(cfg, key)  # the key exists, and the experiment's own value is in the range
        assert space.type == "float" and space.log and space.low <= recipe <= space.high, key
    assert cfg.runs_root.endswith("logs/hparams_search/sandwich_hdr_light")
    assert cfg.run_name == "lmbda_200000.0_lr_0.0005_step_init_3.0"
    plain = _with_hydra(["experiment=sandwich_hdr_light"])
    assert plain.optimized_metric is None and plain.hydra.sweeper._target_.endswith("BasicSweeper")


def test_a_trial_returns_its_last_validation_rd_point(compose_cfg, data_root, tmp_path):
    overrides = [*SEARCH, *TINY, f"data.root={data_root / 'hdr' / 'test'}", f"runs_root={tmp_path}", "logger=none"]
    cfg = compose_cfg("train", overrides)
    trainer = train(cfg)
    psnr, bpp = optimized_metric(cfg, trainer)
    assert trainer.global_step == 2 and math.isfinite(psnr) and math.isfinite(bpp) and bpp > 0
    assert (psnr, bpp) == (float(trainer.callback_metrics["val/psnr"]), float(trainer.callback_metrics["val/bpp"]))
    cfg.optimized_metric = "val/gain_db"  # one name: one value, a single-objective search's
    assert optimized_metric(cfg, trainer) == float(trainer.callback_metrics["val/gain_db"])
    cfg.optimized_metric = "val/nothing"
    with pytest.raises(KeyError, match="val/nothing"):
        optimized_metric(cfg, trainer)


def test_a_tiny_search_runs_both_trials_and_writes_the_pareto_front(data_root, tmp_path):
    overrides = ["-m", *SEARCH, "hydra.sweeper.n_trials=2", *TINY, f"data.root={data_root / 'hdr' / 'test'}",
                 f"runs_root={tmp_path}", "logger=csv"]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "offline"}
    done = subprocess.run([sys.executable, "-m", "sandwich.train", *overrides], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "Failed experiment" not in output and "Number of Pareto solutions" in output  # the sweeper's log
    trials = sorted(p.parent for p in tmp_path.glob("lmbda_*/.hydra"))
    assert len(trials) == 2, trials  # one run folder per trial, named by its values
    for trial in trials:
        assert (trial / "checkpoints" / "last.ckpt").is_file() and list(trial.glob("csv/version_*/metrics.csv"))
    results = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert results.name == "optuna" and 1 <= len(results.solutions) <= 2
    for solution in results.solutions:
        assert set(solution.params) == {"model.lmbda", "model.lr", "model.net.step_init"}
        assert len(solution["values"]) == 2 and all(math.isfinite(v) for v in solution["values"])
        params = solution.params
        folder = f"lmbda_{params['model.lmbda']}_lr_{params['model.lr']}_step_init_{params['model.net.step_init']}"
        assert (tmp_path / folder) in trials  # a solution of the front names its run folder


# the config groups each command's --help names: its own, no other command's
HELP = {
    "sandwich.train": {"experiment", "data", "model", "trainer", "logger", "callbacks", "hparams_search", "debug", "paths"},
    "sandwich.eval": {"method", "codec@method.codec", "data", "logger", "paths"},
    "sandwich.bench": {"logger", "paths"},
}


# `python -m MODULE --help` for each entry point, in one interpreter (each start imports torch)
HELP_OF_EACH = """
import runpy, sys
from hydra.core.global_hydra import GlobalHydra
for module in sys.argv[1:]:
    sys.argv = [module, "--help"]
    try:
        runpy.run_module(module, run_name="__main__")
    except SystemExit as done:
        assert done.code == 0, module
    GlobalHydra.instance().clear()
    print("\\f", flush=True)  # a form feed between the texts
"""


@pytest.fixture(scope="module")
def help_texts():
    modules = sorted(HELP)
    done = subprocess.run([sys.executable, "-c", HELP_OF_EACH, *modules], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(zip(modules, done.stdout.split("\f")))


@pytest.mark.parametrize("module", sorted(HELP))
def test_help_lists_the_commands_own_groups_and_options_that_exist(help_texts, module):
    text = help_texts[module]
    section = text.split("== Config groups")[1].split("== Examples ==")[0].splitlines()[1:]
    listed = dict(line.split(": ", 1) for line in section if line.strip())
    assert set(listed) == HELP[module]
    for group, options in listed.items():
        named = options.split(" (")[0].split("e.g. ")[-1]  # the options, before any explanation
        for option in named.split(", "):
            assert Path(CONF, group.split("@")[0], f"{option}.yaml").is_file(), (group, option)
    examples = text.split("== Examples ==")[1].split("== Config ==")[0]
    assert f"python -m {module}" in examples


def test_eval_help_leaves_out_trainings_groups(help_texts):
    groups = help_texts["sandwich.eval"].split("== Examples ==")[0]
    for training_only in ("trainer:", "callbacks:", "hparams_search:", "experiment:", "debug:", "model:"):
        assert training_only not in groups
    assert "hparams_search: sandwich_hdr_optuna" in help_texts["sandwich.train"]
