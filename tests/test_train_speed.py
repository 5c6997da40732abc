"""`make train-speed`: full training steps timed in fp32 and bf16 autocast in one process."""

from __future__ import annotations

from sandwich.tools.train_speed import MODES, run

TINY = ["model.net.pre.encoder=[8,16]", "model.net.pre.decoder=[32,16,8]", "model.net.post.encoder=[8,16]",
        "model.net.post.decoder=[32,16,8]", "data.crop=32", "data.val_crop=32", "data.batch_size=2", "data.val_fraction=0.5"]  # fmt: skip


def test_both_modes_are_timed_with_the_rate_fit_share(data_root, capsys):
    report = run([f"data.root={data_root / 'hdr' / 'test'}", *TINY], steps=1)
    assert set(report) == set(MODES)
    for mode in report.values():
        assert mode["crops_per_s"] > 0 and 0 < mode["rate_fit_share"] < 1
    printed = capsys.readouterr().out
    assert "MAC/px per processor" in printed and "native bf16" in printed and "crops/s" in printed
