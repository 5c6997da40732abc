"""`make train-speed`: full training steps timed in fp32 and bf16 autocast in one process."""

from __future__ import annotations

import pytest

from sandwich.tools.train_speed import MODES, run
from sandwich.tools.train_time import measure

TINY = ["model.net.pre.encoder=[8,16]", "model.net.pre.decoder=[32,16,8]", "model.net.post.encoder=[8,16]",
        "model.net.post.decoder=[32,16,8]", "data.crop=32", "data.val_crop=32", "data.batch_size=2", "data.val_fraction=0.5"]  # fmt: skip


def test_both_modes_are_timed_with_the_rate_fit_share(data_root, capsys):
    report = run([f"data.root={data_root / 'hdr' / 'test'}", *TINY], steps=1)
    assert set(report) == set(MODES)
    for mode in report.values():
        assert mode["crops_per_s"] > 0 and 0 < mode["rate_fit_share"] < 1
    printed = capsys.readouterr().out
    assert "MAC/px per processor" in printed and "native bf16" in printed and "crops/s" in printed


def test_a_default_run_is_timed_from_real_steps_and_capped_by_its_time_budget(data_root):
    """`make train-time`: the step time of the experiment's own loop times its default steps; a
    recipe with a wall-clock budget (max_time) takes that budget."""
    tiny = [f"data.root={data_root / 'hdr' / 'test'}", *TINY]
    paper = measure("sandwich_hdr", tiny)
    assert paper["steps"] == 20000 and paper["step_s"] > 0
    assert paper["hours"] == pytest.approx(20000 * paper["step_s"] / 3600)
    light = measure("sandwich_hdr_light", tiny)  # max_time 70 min, far below a million tiny steps
    assert light["hours"] == pytest.approx(70 / 60) and light["steps"] < 1_000_000
