"""Transfer functions: PQ (SMPTE ST 2084) and PU21 (Mantiuk & Azimi 2021, banding_glare).

Every function works on numpy arrays and torch tensors alike (only elementwise arithmetic).
"""

from __future__ import annotations

import functools

import numpy as np

PQ_PEAK = 10000.0  # cd/m² at PQ code 1.0
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32

# PU21 "banding_glare" parameters (gfxdisp/pu21); PU(100 cd/m²) ≈ 256.4
PU21_PARAMS = (0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627, 0.09150303166, 0.9099517204, 596.3148142)
PU21_L_MIN, PU21_L_MAX = 0.005, 10000.0
PU21_PEAK = 256.0  # the peak PU21's PU-PSNR uses

REC709_LUMA = (0.2126, 0.7152, 0.0722)


def _clip(x, lo, hi):
    return x.clamp(lo, hi) if hasattr(x, "clamp") else np.clip(x, lo, hi)


def pq_encode(nits):
    """Absolute luminance (cd/m²) -> PQ signal in [0, 1]."""
    y = _clip(nits / PQ_PEAK, 0.0, 1.0) ** _M1
    return ((_C1 + _C2 * y) / (1 + _C3 * y)) ** _M2


def pq_decode(signal):
    """PQ signal in [0, 1] -> absolute luminance (cd/m²)."""
    e = _clip(signal, 0.0, 1.0) ** (1 / _M2)
    return PQ_PEAK * (_clip(e - _C1, 0.0, None) / (_C2 - _C3 * e)) ** (1 / _M1)


@functools.cache
def _pq16_table() -> np.ndarray:
    return pq_decode(np.arange(65536, dtype=np.float64) / 65535.0).astype(np.float32)


def pq16_to_nits(code: np.ndarray) -> np.ndarray:
    """uint16 PQ code values -> float32 cd/m² (a 65536-entry table: ~10× faster than decoding)."""
    code = np.asarray(code)
    if code.dtype != np.uint16:
        raise TypeError(f"expected uint16 PQ codes, got {code.dtype}")
    return _pq16_table()[code]


def nits_to_pq16(nits: np.ndarray) -> np.ndarray:
    """cd/m² -> uint16 PQ code values (rounded)."""
    return np.round(pq_encode(np.asarray(nits, np.float64)) * 65535.0).astype(np.uint16)


def luminance(rgb):
    """Rec.709 luminance of linear RGB (last axis)."""
    r, g, b = REC709_LUMA
    return r * rgb[..., 0] + g * rgb[..., 1] + b * rgb[..., 2]


def pu21_encode(nits):
    """Absolute luminance (cd/m²) -> PU21 units (perceptually uniform; 100 cd/m² ≈ 256.4)."""
    p0, p1, p2, p3, p4, p5, p6 = PU21_PARAMS
    y = _clip(nits, PU21_L_MIN, PU21_L_MAX)
    yp = y**p3
    return p6 * (((p0 + p1 * yp) / (1 + p2 * yp)) ** p4 - p5)
