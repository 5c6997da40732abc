"""Sample domains (what an image array holds) and tasks (what the evaluator feeds a method and
measures on): the one table of dtypes, peaks and scale factors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DOMAINS = {
    # name: (dtype, peak, what the image is)
    # task domains: what the evaluator feeds a method and measures on
    "hdr16": (np.uint16, 65535, "uint16 RGB code values (PQ, SMPTE ST 2084)"),
    "sr8": (np.uint8, 255, "uint8 RGB; codecs see it at half resolution"),
    # codec domains: what a standard codec takes natively
    "rgb8": (np.uint8, 255, "uint8 RGB"),
    "rgb10": (np.uint16, 1023, "10-bit RGB in uint16 (low bits)"),
    "rgb12": (np.uint16, 4095, "12-bit RGB in uint16 (low bits)"),
    "rgb16": (np.uint16, 65535, "uint16 RGB"),
    "linear": (np.float32, None, "linear float RGB, 1.0 = SDR white (203 cd/m²)"),
}


@dataclass(frozen=True)
class Task:
    name: str
    domain: str  # the source's domain
    scale: int  # source side / the side a codec sees (2: 2× super-resolution)

    @property
    def dtype(self) -> type:
        return DOMAINS[self.domain][0]

    @property
    def peak(self) -> int:
        return DOMAINS[self.domain][1]


TASKS = {"hdr": Task("hdr", "hdr16", 1), "sr": Task("sr", "sr8", 2)}
TASK_OF_DOMAIN = {task.domain: name for name, task in TASKS.items()}
