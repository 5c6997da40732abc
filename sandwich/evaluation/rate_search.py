"""A rate budget: the best rate point of a method whose real bitstream fits in a target bpp."""

from __future__ import annotations

import numpy as np

from sandwich.core.domains import DOMAINS
from sandwich.evaluation.metrics import psnr


def best_within_target(method, image: np.ndarray, target_bpp: float) -> tuple[object, bytes]:
    """The best rate point whose real bitstream fits in `target_bpp`. Each of the method's rate
    search grids (one per λ model of a sandwich; every JPEG step Δ′ there, not only the bench's)
    is bisected (assumed monotone in rate, direction measured) for its largest point that fits,
    and of those the one whose decode has the highest PSNR against the source wins: models
    differ in quality at equal rate, so the closest rate alone could pick a weaker model. If
    nothing fits, the smallest file tried."""
    pixels = image.shape[0] * image.shape[1]
    tried: dict[object, bytes] = {}

    def bpp(point) -> float:
        if point not in tried:
            tried[point] = method.encode(image, point)
        return 8 * len(tried[point]) / pixels

    fitting = []
    for grid in method.rate_search_grids():
        order = grid if bpp(grid[-1]) >= bpp(grid[0]) else grid[::-1]  # rising rate
        if bpp(order[0]) > target_bpp:
            continue
        lo, hi = 0, len(order)  # order[lo] fits; order[hi] (if any) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if bpp(order[mid]) <= target_bpp else (lo, mid)
        fitting.append(order[lo])
    if not fitting:
        best = min(tried, key=lambda point: len(tried[point]))
    elif len(fitting) == 1:
        best = fitting[0]
    else:
        peak = DOMAINS[method.domain][1]
        best = max(fitting, key=lambda point: psnr(image, method.decode(tried[point]), peak))
    return best, tried[best]
