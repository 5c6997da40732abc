"""Ship a trained model: `python -m sandwich.export RUN/checkpoints/last.ckpt checkpoints/NAME.pt`.

Writes the fp16, self-describing checkpoint (sandwich/methods/checkpoint.py) with its provenance: every
launch of the run (command, start time and step; a resumed run has several), steps, training wall time
summed over the launches, device, and any stage it was started from.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import torch
import yaml

from sandwich.methods import checkpoint
from sandwich.methods.sandwich.proxy import JPEGProxy


def provenance(training_checkpoint: Path, stage1: str | None = None) -> dict:
    """The run's launches (each one's command, start time and step; a resumed run has several),
    its training wall time summed over them, and the device, from the checkpoint's `Provenance`
    state and the run folder's `.hydra/config.yaml`."""
    run_dir = training_checkpoint.resolve().parent.parent
    hydra_dir = run_dir / ".hydra"
    config = yaml.safe_load((hydra_dir / "config.yaml").read_text()) if hydra_dir.is_dir() else {}
    state = torch.load(training_checkpoint, map_location="cpu", weights_only=False, mmap=True)["callbacks"]
    launches = state.get("Provenance", {}).get("launches", [])
    wall = state.get("Provenance", {}).get("train_seconds")
    accelerator = config.get("trainer", {}).get("accelerator", "?")
    device = f"{accelerator}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    if accelerator != "cpu" and torch.cuda.is_available():
        device = f"{accelerator}: {torch.cuda.get_device_name()}"
    return {
        "command": launches[-1]["command"] if launches else None,  # the last launch's (docs/checkpoints.md)
        "launches": launches,
        "run_dir": os.path.relpath(run_dir),
        "wall_time_s": round(wall, 1) if wall else None,
        "device": device,
        "threads": config.get("threads"),
        "started_from": stage1,
    }


def summary(path: Path) -> tuple[str, dict]:
    """(network kind, meta with `digest`, plus `learned_step` for a sandwich with a pre-processor)."""
    kind, args, state, meta = checkpoint.peek(path)
    if kind == "sandwich" and not args.get("post_only"):  # Δ is trained only with a pre-processor
        proxy = JPEGProxy()
        proxy.q.data.copy_(state["proxy.q"])
        meta["learned_step"] = float(proxy.step.detach())
    return kind, meta


def table(folder: Path) -> str:
    """Markdown table of every shipped checkpoint under `folder`, from the files' own metadata."""
    rows = ["| file | MB | network | λ | learned Δ | steps | wall (min) | device | sha256 (first 8 bytes) | command |",
            "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for path in sorted(folder.rglob("*.pt")):
        kind, meta = summary(path)
        trained_rate = "learned_step" in meta  # post-only and baselines have no rate term: no λ, no Δ
        lmbda = f"{meta.get('lmbda'):g}" if trained_rate else "—"
        step = f"{meta['learned_step']:.2f}" if trained_rate else "—"
        network = kind if trained_rate or kind != "sandwich" else "sandwich (post-only)"
        wall = f"{meta['wall_time_s'] / 60:.1f}" if meta.get("wall_time_s") else "?"
        start = f" (`init_from` {meta['started_from']})" if meta.get("started_from") else ""
        rows.append(
            f"| `{path.relative_to(folder)}` | {path.stat().st_size / 1e6:.2f} | {network} | {lmbda} | "
            f"{step} | {meta.get('global_step')} | {wall} | {meta.get('device', '?')} | "
            f"`{meta['digest'].hex()}` | `{meta.get('command', '?')}`{start} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("training_checkpoint", type=Path, nargs="?")
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--stage1", help="the checkpoint this run was initialised from (init_from)")
    parser.add_argument("--table", type=Path, help="print a markdown table of the checkpoints in this folder")
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return
    if not (args.training_checkpoint and args.out):
        parser.error("give TRAINING_CHECKPOINT and OUT (or --table FOLDER)")
    path = checkpoint.export(args.training_checkpoint, args.out, provenance(args.training_checkpoint, args.stage1))
    kind, meta = summary(path)
    step = f", learned Δ {meta['learned_step']:.3f}" if "learned_step" in meta else ""
    print(f"{path}: {kind}, {path.stat().st_size / 1e6:.2f} MB, step {meta['global_step']}{step}, sha256 {meta['digest'].hex()}")


if __name__ == "__main__":
    main()
