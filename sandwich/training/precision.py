"""Mixed precision that fits the machine: bf16 autocast only where the device runs bf16 natively.

On a CPU without AVX-512-BF16 or AMX, PyTorch emulates bf16 and a training step of the paper-size
U-Net is about 20× slower than in fp32 (measured on an AVX2-only AMD EPYC); with native bf16 it is
about 2× faster. `bf16: auto` decides at start-up and the modules log what they chose.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)
NATIVE_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """(whether `device` computes bf16 natively, why)."""
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
        return native, f"{torch.cuda.get_device_name(device)} {'supports' if native else 'lacks'} bf16"
    if device.type == "cpu":
        found = sorted(set(NATIVE_CPU_FLAGS) & cpu_flags())
        if found:
            return True, f"CPU has {', '.join(found)}"
        return False, f"CPU lacks {' and '.join(NATIVE_CPU_FLAGS)} (capability {torch.backends.cpu.get_cpu_capability()})"
    return False, f"no native bf16 check for device type {device.type!r}"


def resolve_bf16(setting: bool | str, device: torch.device) -> bool:
    """`setting` (true, false or "auto") for `device`, logged with the reason."""
    if setting not in (True, False, "auto"):
        raise ValueError(f"bf16 must be true, false or auto, got {setting!r}")
    native, why = native_bf16(device)
    chosen = native if setting == "auto" else bool(setting)
    note = "" if setting == "auto" or chosen == native else " (set by config against the device's native support)"
    log.info("bf16 autocast %s: bf16=%s, %s%s", "on" if chosen else "off", setting, why, note)
    return chosen
