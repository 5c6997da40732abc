"""The learned methods' inference runs on one torch thread, so a decode (and an encode) gives the
same integers whatever thread count the caller set: the CLI's all cores, the evaluator's one per
worker, a library user's.

Why one thread rather than the caller's count: PyTorch picks a 1×1 convolution's kernel by the
thread count (its own GEMM on one thread, oneDNN on more), and MKL and oneDNN promise the same
floats only for a fixed thread count; rounded to integers, a few hundred code values of a 512²
image moved by one between 1 and 2 threads. A fixed count > 1 would oversubscribe the evaluator's
one-thread workers, and one thread is what the bench's results were made with. The price is the
caller's other cores during the networks (docs/experiments.md, "Thread-independent decodes").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def inference_threads() -> Iterator[None]:
    """One torch thread for the body while autograd is off (a codec's network), the caller's count
    restored after; with autograd on (training) the caller's count throughout."""
    if torch.is_grad_enabled():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
