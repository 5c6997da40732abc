"""How long each experiment's default training run takes on this machine, measured.

`make train-time` = `python -m sandwich.tools.train_time [EXPERIMENT ...]`: runs each experiment's
own training loop (`sandwich.training.fit.train`, its data, model, precision choice and thread count) for
a few steps without validation, logging or checkpoints, takes the start-up throughput that the
`Throughput` callback measures (steps 2-4), and multiplies the step time by the experiment's
`trainer.max_steps`, capped by its `trainer.max_time` budget. Validation is left out, so a real
run takes somewhat longer.
"""

from __future__ import annotations

import sys
import tempfile

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from sandwich.core.paths import CONF_DIR
from sandwich.training.callbacks import Throughput
from sandwich.training.fit import train

# the experiments a reader starts from (the others are the shipped files' recipes)
EXPERIMENTS = ["sandwich_hdr_light", "sandwich_sr_light", "sandwich_hdr", "sandwich_sr",
               "post_only_hdr", "post_only_sr", "dequant", "han", "han_pp"]  # fmt: skip


def _seconds(budget: str | None) -> float | None:
    """Lightning's "DD:HH:MM:SS" max_time in seconds."""
    if not budget:
        return None
    days, hours, minutes, seconds = (int(part) for part in str(budget).split(":"))
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def measure(experiment: str, overrides: list[str] = ()) -> dict:
    """{experiment, crops per step, s per step, default steps, default run in hours}."""
    with tempfile.TemporaryDirectory() as run_dir:
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("train", overrides=[
                f"experiment={experiment}", f"run_dir={run_dir}", "logger=none", "callbacks.checkpoint=null",
                "trainer.max_steps=5", "+trainer.limit_val_batches=0", "+trainer.num_sanity_val_steps=0",
                "trainer.enable_progress_bar=false", "init_from=null", *overrides,
            ])  # fmt: skip
            default = compose("train", overrides=[f"experiment={experiment}", *overrides])
        trainer = train(cfg)
    throughput = next(c for c in trainer.callbacks if isinstance(c, Throughput))
    crops = cfg.data.batch_size
    step_s = crops / throughput.startup_rate
    steps = default.trainer.max_steps
    seconds = steps * step_s
    budget = _seconds(default.trainer.get("max_time"))
    if budget is not None and budget < seconds:
        seconds, steps = budget, int(budget / step_s)
    return {"experiment": experiment, "crops": crops, "crop": cfg.data.crop, "step_s": step_s,
            "steps": steps, "hours": seconds / 3600}  # fmt: skip


def main() -> None:
    rows = [measure(name) for name in (sys.argv[1:] or EXPERIMENTS)]
    print("| experiment | batch | s/step | default steps | default run |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        run = f"{row['hours']:.1f} h" if row["hours"] >= 1 else f"{60 * row['hours']:.0f} min"
        print(f"| `{row['experiment']}` | {row['crops']} × {row['crop']}² | {row['step_s']:.2f} | {row['steps']:,} | {run} |")


if __name__ == "__main__":
    main()
