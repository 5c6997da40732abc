"""Global Reinhard–Devlin photoreceptor tone mapping and its lookup-table inverse.

Reinhard & Devlin, "Dynamic Range Reduction Inspired by Photoreceptor Physiology", IEEE TVCG 2005,
with light adaptation a = 0 (one global adaptation level), chromatic adaptation c = 0, intensity
f = 1 and contrast m = 0.3 + 0.7·k^1.4 from the log-luminance statistics: the default tone mapper
of the JPEG XT reference software (thorfdbg/libjpeg, cmd/defaulttmoc.cpp). The inverse is a
256-entry table of the mean HDR value behind each LDR code (libjpeg's cmd/tmo.cpp).
"""

from __future__ import annotations

import numpy as np

from sandwich.core.transfer import luminance

GAMMA = 2.2  # display gamma of the LDR image
LUMINANCE_FLOOR = 1e-4  # cd/m²; keeps log statistics finite on black pixels


def photoreceptor(rgb: np.ndarray) -> np.ndarray:
    """Linear RGB (cd/m², H×W×3) -> display-linear RGB in [0, 1]."""
    rgb = np.maximum(np.asarray(rgb, np.float64), 0.0)
    lum = np.maximum(luminance(rgb), LUMINANCE_FLOOR)
    log_lum = np.log(lum)
    log_min, log_max, log_mean = log_lum.min(), log_lum.max(), log_lum.mean()
    # k: how far the log-average sits below the maximum; darker ("low key") scenes get more contrast
    k = (log_max - log_mean) / (log_max - log_min) if log_max > log_min else 0.0
    contrast = 0.3 + 0.7 * k**1.4
    semi_saturation = lum.mean() ** contrast  # (f·I_a)^m with f = 1 and I_a the global mean luminance
    response = rgb / (rgb + semi_saturation)
    lo, hi = response.min(), response.max()
    # the paper stretches the response to the display range; a flat image has nothing to stretch
    return (response - lo) / (hi - lo) if hi - lo > 1e-9 else response


def tonemap(rgb: np.ndarray) -> np.ndarray:
    """Linear RGB (cd/m²) -> uint8 gamma-2.2 LDR image."""
    return np.round(255.0 * photoreceptor(rgb) ** (1.0 / GAMMA)).astype(np.uint8)


def itmo_lut(ldr_u8: np.ndarray, hdr_values: np.ndarray) -> np.ndarray:
    """Inverse-TMO table: float64[256], the mean of `hdr_values` behind each code of `ldr_u8`.

    The two arrays have the same shape; channels are pooled into one table. The means are made
    non-decreasing (a decoded JPEG's noise breaks their order) by a count-weighted least-squares
    fit, and codes that never occur are interpolated between their neighbours.
    """
    if ldr_u8.shape != hdr_values.shape:
        raise ValueError(f"itmo_lut: LDR {ldr_u8.shape} and HDR {hdr_values.shape} differ in shape")
    codes = ldr_u8.ravel().astype(np.intp)
    counts = np.bincount(codes, minlength=256)[:256]
    sums = np.bincount(codes, weights=np.asarray(hdr_values, np.float64).ravel(), minlength=256)[:256]
    used = np.flatnonzero(counts)
    if used.size == 0:
        raise ValueError("itmo_lut: empty image")
    means = _non_decreasing_fit(sums[used] / counts[used], counts[used].astype(np.float64))
    return np.interp(np.arange(256), used, means)


def _non_decreasing_fit(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    means: list[float] = []
    masses: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(values, weights):
        means.append(value)
        masses.append(weight)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            mass = masses[-2] + masses[-1]
            means[-2] = (means[-2] * masses[-2] + means[-1] * masses[-1]) / mass
            masses[-2], sizes[-2] = mass, sizes[-2] + sizes[-1]
            del means[-1], masses[-1], sizes[-1]
    return np.repeat(means, sizes)
