"""Training throughput of the sandwich per architecture and precision, side by side in one process.

`make train-speed` = `python -m sandwich.tools.train_speed [experiment=...] [model.net.pre...=...]`:
composes the training config as `python -m sandwich.train` does, takes real training crops, and
times full training steps (processors, JPEG proxy, the real-JPEG rate fit, backward, Adam) in fp32
and in bf16 autocast, alternating the two so that both see the same machine load. It prints
crops/s per mode, whether this device runs bf16 natively (what `bf16: auto` chooses), and the
share of a step spent in the real-JPEG rate fit.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from sandwich.core.paths import CONF_DIR
from sandwich.methods.sandwich.nets import macs_per_pixel
from sandwich.training.precision import native_bf16

MODES = {"fp32": False, "bf16 autocast": True}


def timed_step(module, optimizer, batch: torch.Tensor) -> tuple[float, float]:
    """(seconds of one training step, of which seconds in the real-JPEG rate fit)."""
    proxy = module.model.proxy
    fit = [0.0]
    real_bits = proxy.real_bits

    def counted(*args, **kwargs):
        start = time.perf_counter()
        out = real_bits(*args, **kwargs)
        fit[0] += time.perf_counter() - start
        return out

    proxy.real_bits = counted
    try:
        start = time.perf_counter()
        loss, _ = module._objective(batch, jitter=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start, fit[0]
    finally:
        del proxy.real_bits  # back to the class's method


def run(overrides: list[str], steps: int = 3) -> dict[str, dict[str, float]]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        default = [] if any(o.startswith("experiment=") for o in overrides) else ["experiment=sandwich_hdr"]
        cfg = compose("train", overrides=[*default, "data.num_workers=0", *overrides])
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    data = instantiate(cfg.data)
    data.setup("fit")
    batch = next(iter(data.train_dataloader())).float()
    module = instantiate(cfg.model, _convert_="all").train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-6)
    times: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for _ in range(steps + 1):  # the first round warms up
        for mode, bf16 in MODES.items():
            module.model.bf16 = bf16
            times[mode].append(timed_step(module, optimizer, batch))
    native, why = native_bf16(torch.device("cpu"))
    pre = module.model.pre if module.model.pre is not None else module.model.post
    print(f"{cfg.name}: {len(batch)} crops of {batch.shape[-1]}², {torch.get_num_threads()} threads, median of {steps} steps; "
          f"{macs_per_pixel(pre):,.0f} MAC/px per processor; native bf16: {native} ({why})")  # fmt: skip
    report = {}
    for mode, samples in times.items():
        step = statistics.median(s for s, _ in samples[1:])
        fit = statistics.median(f for _, f in samples[1:])
        report[mode] = {"crops_per_s": len(batch) / step, "step_s": step, "rate_fit_share": fit / step}
        print(f"  {mode:<14} {len(batch) / step:7.2f} crops/s  {step:7.2f} s/step  real-JPEG rate fit {100 * fit / step:4.1f} % of the step")
    return report


def main() -> None:
    run(sys.argv[1:])


if __name__ == "__main__":
    main()
