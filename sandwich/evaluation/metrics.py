"""Image quality metrics, computed only by the evaluator on decoded integer images.

HDR images are uint16 H×W×3 PQ code values (SMPTE ST 2084, 65535 = 10000 cd/m²); SR images are
uint8 H×W×3. No Hydra or W&B imports here.

Conventions
-----------
* ``psnr`` is over all RGB samples in code values, accumulated in float64.
* PU21 metrics work on absolute Rec.709 luminance (cd/m², PQ-decoded per channel) encoded with
  PU21 ``banding_glare``; PU-PSNR peak and PU-SSIM data range are both 256 (``PU21_PEAK``), as in
  gfxdisp/pu21 ``pu21_metric``.
* ``pu_ssim`` is the Wang et al. (2004) SSIM: Gaussian window 11×11, σ = 1.5, K1 = 0.01,
  K2 = 0.03, averaged over the 'valid' region (no padding), as the reference ``ssim_index.m``.
  torchmetrics 1.9 instead reflect-pads the image and averages the full-size map; pass
  ``border="reflect"`` to reproduce that. The two differ only through the 5-px border.
* ``ms_ssim`` is torchmetrics' MS-SSIM (5 scales, 11-px Gaussian, normalize="relu") on RGB uint8
  with data_range 255; ``None`` where torchmetrics cannot evaluate it (shorter side < 176 px).
* ``cvvdp_jod`` is ColorVideoVDP 0.5.7 (``pycvvdp``) with display ``standard_hdr_linear`` on
  absolute linear RGB (cd/m²), on CPU.

Speed (2-core CPU, 1024×1024, measured with a second process busy on one core): ``hdr_metrics``
62–70 ms (it builds the reference each time), ``HDRReference(ref).metrics(test)`` 45–55 ms, the
SSIM part alone 13 ms; ``cvvdp_jod`` ≈ 0.8–0.95 s warm.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import math
import os
import sys
import threading
import types
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sandwich.core.transfer import PU21_PEAK, luminance, pq16_to_nits, pu21_encode

__all__ = [
    "METRIC_DEFINITIONS",
    "HDRReference",
    "cvvdp_jod",
    "hdr_luminance_nits",
    "hdr_metrics",
    "ldr_saturation_psnr",
    "ms_ssim",
    "ms_ssim_min_side",
    "psnr",
    "pu_psnr",
    "pu_ssim",
    "sr_metrics",
    "ssim",
]

METRIC_DEFINITIONS: dict[str, str] = {
    "psnr": "RGB PSNR in dB over all samples of the decoded integer image: peak 65535 on uint16 PQ "
    "code values for HDR, peak 255 on uint8 for SR; inf when identical.",
    "pu_psnr": "PSNR in dB of PU21 (banding_glare) encoded absolute Rec.709 luminance (cd/m² from PQ "
    "decode of each channel), peak 256 (gfxdisp/pu21); inf when identical.",
    "pu_ssim": "SSIM (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, data range 256, 'valid' border) of "
    "PU21 (banding_glare) encoded absolute Rec.709 luminance.",
    "ms_ssim": "torchmetrics 1.9 MS-SSIM (5 scales, Gaussian 11x11 sigma 1.5, normalize='relu') on RGB "
    "uint8 with data range 255; null when the shorter side is under 176 px.",
    "cvvdp_jod": "ColorVideoVDP 0.5.7 (pycvvdp) JOD, display 'standard_hdr_linear', on absolute linear RGB "
    "in cd/m² (PQ decode of each channel); 10 = indistinguishable from the reference.",
    "ldr_saturation_psnr": "RGB PSNR in dB (peak 65535) of the reference reconstructed from its top 8 bits "
    "only, (ref >> 8) * 256 + 128: the ceiling for an exact 8-bit representation of PQ codes.",
}

# ----------------------------------------------------------------------------------------------
# Basic helpers
# ----------------------------------------------------------------------------------------------

def _check_pair(ref: np.ndarray, test: np.ndarray, dtype: type | None = None) -> None:
    ref, test = np.asarray(ref), np.asarray(test)
    if ref.shape != test.shape:
        raise ValueError(f"shape mismatch: ref {ref.shape} vs test {test.shape}")
    if dtype is not None and (ref.dtype != dtype or test.dtype != dtype):
        raise TypeError(f"expected {np.dtype(dtype).name} images, got {ref.dtype} and {test.dtype}")


def _check_rgb(img: np.ndarray, dtype: type) -> None:
    if img.dtype != dtype:
        raise TypeError(f"expected {np.dtype(dtype).name} image, got {img.dtype}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 image, got shape {img.shape}")


def _psnr_from_mse(mse: float, peak: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(ref: np.ndarray, test: np.ndarray, peak: float) -> float:
    """PSNR in dB over all samples (float64 accumulation); ``inf`` for identical images."""
    ref, test = np.asarray(ref), np.asarray(test)
    _check_pair(ref, test)
    d = (ref.astype(np.float64) - test.astype(np.float64)).ravel()
    mse = float(np.dot(d, d)) / d.size
    return _psnr_from_mse(mse, float(peak))


def hdr_luminance_nits(code_u16: np.ndarray) -> np.ndarray:
    """uint16 PQ RGB (H×W×3) -> float32 absolute Rec.709 luminance (cd/m², H×W)."""
    return luminance(pq16_to_nits(code_u16)).astype(np.float32, copy=False)


def _pu21_of_codes(code_u16: np.ndarray) -> np.ndarray:
    return pu21_encode(hdr_luminance_nits(code_u16)).astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------
# SSIM (separable Gaussian, torch conv2d)
# ----------------------------------------------------------------------------------------------

_SSIM_K1, _SSIM_K2, _SSIM_SIGMA, _SSIM_WIN = 0.01, 0.03, 1.5, 11


def _gauss1d(size: int, sigma: float, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return (g / g.sum()).to(dtype)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """'valid' separable Gaussian of a stack of 2-D maps (N, H, W) -> (N, H-k+1, W-k+1).

    Written as in-place shift-and-add (k multiply-adds per pass): on CPU this is ~40x faster than
    ``F.conv2d`` with a single-channel 1×k / k×1 kernel (5 ms vs 190 ms for 3 MPixel, 2 cores) and
    agrees with it to float32 rounding.
    """
    k = g.numel()
    h, w = x.shape[-2] - k + 1, x.shape[-1] - k + 1
    taps = [float(t) for t in g]
    a = torch.mul(x[..., :, 0:w], taps[0])
    for i in range(1, k):
        a.add_(x[..., :, i:i + w], alpha=taps[i])
    b = torch.mul(a[..., 0:h, :], taps[0])
    for i in range(1, k):
        b.add_(a[..., i:i + h, :], alpha=taps[i])
    return b


class _SSIMRef:
    """Reference-side SSIM statistics (2-D image), so that each test image needs 3 blurred maps, not 5."""

    def __init__(self, ref: np.ndarray | torch.Tensor, data_range: float, border: str = "valid",
                 dtype: torch.dtype = torch.float32):
        if border not in ("valid", "reflect"):
            raise ValueError(f"border must be 'valid' or 'reflect', got {border!r}")
        x = torch.as_tensor(np.ascontiguousarray(ref) if isinstance(ref, np.ndarray) else ref)
        if x.ndim != 2:
            raise ValueError(f"SSIM expects a 2-D image, got shape {tuple(x.shape)}")
        if min(x.shape) < _SSIM_WIN:
            raise ValueError(f"SSIM needs at least {_SSIM_WIN}×{_SSIM_WIN} pixels, got {tuple(x.shape)}")
        self.shape, self.border, self.dtype = tuple(x.shape), border, dtype
        self.c1 = (_SSIM_K1 * data_range) ** 2
        self.c2 = (_SSIM_K2 * data_range) ** 2
        self.g = _gauss1d(_SSIM_WIN, _SSIM_SIGMA, dtype)
        x = x.to(dtype)
        # Variances/covariance are shift invariant: shift both images by the reference mean so that
        # E[x²] - mu² does not cancel catastrophically in float32 (the means get the shift back).
        self.shift = float(x.double().mean())
        self.x = self._prep(x)
        mu, xx = _blur(torch.stack([self.x, self.x * self.x]), self.g)
        self.mu_x = mu
        self.var_x = (xx - mu * mu).clamp_(min=0.0)

    def _prep(self, img: torch.Tensor) -> torch.Tensor:
        img = img.to(self.dtype) - self.shift
        if self.border == "reflect":
            p = _SSIM_WIN // 2
            img = F.pad(img[None, None], (p, p, p, p), mode="reflect")[0, 0]
        return img

    def ssim(self, test: np.ndarray | torch.Tensor) -> float:
        y = torch.as_tensor(np.ascontiguousarray(test) if isinstance(test, np.ndarray) else test)
        if tuple(y.shape) != self.shape:
            raise ValueError(f"shape mismatch: ref {self.shape} vs test {tuple(y.shape)}")
        y = self._prep(y)
        mu_y, yy, xy = _blur(torch.stack([y, y * y, self.x * y]), self.g)
        mu_x = self.mu_x
        var_y = (yy - mu_y * mu_y).clamp_(min=0.0)
        cov = xy - mu_x * mu_y
        mx, my = mu_x + self.shift, mu_y + self.shift
        num = (2.0 * mx * my + self.c1) * (2.0 * cov + self.c2)
        den = (mx * mx + my * my + self.c1) * (self.var_x + var_y + self.c2)
        return float((num / den).double().mean())


def ssim(ref: np.ndarray, test: np.ndarray, data_range: float, border: str = "valid") -> float:
    """SSIM of two 2-D images (Gaussian 11×11, σ 1.5, K1 0.01, K2 0.03), float32 with shifted moments.

    ``border="valid"``: mean over the unpadded valid region (Wang et al. reference);
    ``border="reflect"``: reflect-pad by 5 px and average the full-size map (torchmetrics 1.9).
    """
    return _SSIMRef(ref, data_range, border).ssim(test)


# ----------------------------------------------------------------------------------------------
# HDR metrics
# ----------------------------------------------------------------------------------------------


def pu_psnr(ref_u16: np.ndarray, test_u16: np.ndarray) -> float:
    """PSNR (peak ``PU21_PEAK`` = 256) of PU21-encoded absolute luminance."""
    return HDRReference(ref_u16).pu_psnr(test_u16)


def pu_ssim(ref_u16: np.ndarray, test_u16: np.ndarray, border: str = "valid") -> float:
    """SSIM (data range 256) of PU21-encoded absolute luminance; see :func:`ssim` for ``border``."""
    _check_pair(ref_u16, test_u16, np.uint16)
    return ssim(_pu21_of_codes(ref_u16), _pu21_of_codes(test_u16), PU21_PEAK, border)


class HDRReference:
    """Precomputed reference-side quantities for HDR metrics of one image at many rate points.

    >>> r = HDRReference(ref_u16)
    >>> [r.metrics(t) for t in decoded_images]
    """

    def __init__(self, ref_u16: np.ndarray):
        ref_u16 = np.asarray(ref_u16)
        _check_rgb(ref_u16, np.uint16)
        self.ref = ref_u16
        self._ssim: _SSIMRef | None = None
        self._nits: torch.Tensor | None = None

    @functools.cached_property
    def pu(self) -> np.ndarray:
        """PU21 of the reference, on first use (ColorVideoVDP alone never needs it)."""
        return _pu21_of_codes(self.ref)

    def _check(self, test_u16: np.ndarray) -> np.ndarray:
        test_u16 = np.asarray(test_u16)
        _check_rgb(test_u16, np.uint16)
        if test_u16.shape != self.ref.shape:
            raise ValueError(f"shape mismatch: ref {self.ref.shape} vs test {test_u16.shape}")
        return test_u16

    def psnr(self, test_u16: np.ndarray) -> float:
        return psnr(self.ref, self._check(test_u16), 65535.0)

    def _pu_psnr(self, test_pu: np.ndarray) -> float:
        d = (self.pu - test_pu).astype(np.float64).ravel()
        return _psnr_from_mse(float(np.dot(d, d)) / d.size, PU21_PEAK)

    def pu_psnr(self, test_u16: np.ndarray) -> float:
        return self._pu_psnr(_pu21_of_codes(self._check(test_u16)))

    def _pu_ssim(self, test_pu: np.ndarray) -> float:
        if self._ssim is None:
            self._ssim = _SSIMRef(self.pu, PU21_PEAK, "valid")
        return self._ssim.ssim(test_pu)

    def pu_ssim(self, test_u16: np.ndarray) -> float:
        return self._pu_ssim(_pu21_of_codes(self._check(test_u16)))

    def cvvdp_jod(self, test_u16: np.ndarray) -> float:
        test_u16 = self._check(test_u16)
        if self._nits is None:
            self._nits = torch.from_numpy(pq16_to_nits(self.ref))
        return _cvvdp_predict(self._nits, torch.from_numpy(pq16_to_nits(test_u16)))

    def metrics(self, test_u16: np.ndarray, with_cvvdp: bool = False) -> dict[str, float]:
        test_u16 = self._check(test_u16)
        test_pu = _pu21_of_codes(test_u16)
        out = {
            "psnr": psnr(self.ref, test_u16, 65535.0),
            "pu_psnr": self._pu_psnr(test_pu),
            "pu_ssim": self._pu_ssim(test_pu),
        }
        if with_cvvdp:
            out["cvvdp_jod"] = self.cvvdp_jod(test_u16)
        return out


def hdr_metrics(ref: np.ndarray, test: np.ndarray, with_cvvdp: bool = False) -> dict[str, float]:
    """{"psnr", "pu_psnr", "pu_ssim"[, "cvvdp_jod"]} of uint16 PQ images (one pair; for many test
    images of one reference, keep an `HDRReference`)."""
    return HDRReference(ref).metrics(test, with_cvvdp=with_cvvdp)


def ldr_saturation_psnr(ref_u16: np.ndarray) -> float:
    """PSNR (peak 65535) of keeping only the top 8 bits: ``(ref >> 8) * 256 + 128``."""
    ref_u16 = np.asarray(ref_u16)
    if ref_u16.dtype != np.uint16:
        raise TypeError(f"expected uint16 PQ codes, got {ref_u16.dtype}")
    rec = (ref_u16 >> 8).astype(np.uint16) * np.uint16(256) + np.uint16(128)
    return psnr(ref_u16, rec, 65535.0)


# ----------------------------------------------------------------------------------------------
# SR metrics
# ----------------------------------------------------------------------------------------------

_MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_min_side(kernel_size: int = _SSIM_WIN, scales: int = len(_MS_SSIM_BETAS)) -> int:
    """Smallest side torchmetrics 1.9 accepts: side // (scales-1)² > kernel_size-1 (176 for 11 px, 5 scales)."""
    div = max(1, scales - 1) ** 2
    return max(2**scales, kernel_size * div)


def ms_ssim(ref_u8: np.ndarray, test_u8: np.ndarray) -> float | None:
    """torchmetrics MS-SSIM (data_range 255, RGB, defaults of ``MultiScaleStructuralSimilarityIndexMeasure``).

    Returns ``None`` when the shorter side is below :func:`ms_ssim_min_side` (176 px), where
    torchmetrics refuses to compute 5 scales.
    """
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure,
    )

    ref_u8, test_u8 = np.asarray(ref_u8), np.asarray(test_u8)
    _check_rgb(ref_u8, np.uint8)
    _check_pair(ref_u8, test_u8, np.uint8)
    if min(ref_u8.shape[:2]) < ms_ssim_min_side():
        return None

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float()[None]

    with torch.no_grad():
        v = multiscale_structural_similarity_index_measure(to_t(test_u8), to_t(ref_u8), data_range=255.0)
    return float(v)


def sr_metrics(ref: np.ndarray, test: np.ndarray) -> dict[str, float | None]:
    """{"psnr" (peak 255, RGB), "ms_ssim"} of uint8 H×W×3 images."""
    ref, test = np.asarray(ref), np.asarray(test)
    _check_rgb(ref, np.uint8)
    _check_pair(ref, test, np.uint8)
    return {"psnr": psnr(ref, test, 255.0), "ms_ssim": ms_ssim(ref, test)}


# ----------------------------------------------------------------------------------------------
# ColorVideoVDP
# ----------------------------------------------------------------------------------------------

_CVVDP_LOCK = threading.Lock()
_CVVDP_METRIC: Any = None
_PYCVVDP: types.ModuleType | None = None


def _tv_gaussian_kernel1d(kernel_size: int, sigma: float, dtype: torch.dtype, device) -> torch.Tensor:
    # torchvision.transforms.functional_tensor._get_gaussian_kernel1d
    ksize_half = (kernel_size - 1) * 0.5
    x = torch.linspace(-ksize_half, ksize_half, steps=kernel_size, dtype=dtype, device=device)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    return pdf / pdf.sum()


class _GaussianBlur(torch.nn.Module):
    """Stand-in for ``torchvision.transforms.GaussianBlur`` on tensors (…, C, H, W).

    Kernel as torchvision's (linspace/exp/normalise, kernel_size[0] along width), reflect padding
    by kernel_size // 2, applied separably (equal to torchvision's 2-D outer-product kernel up to
    float rounding). A (min, max) sigma range is sampled uniformly per call, as torchvision does.
    """

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(ks) == 1:
            ks = (ks[0], ks[0])
        if len(ks) != 2 or any(int(k) != k or k <= 0 or k % 2 == 0 for k in ks):
            raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, (int, float)):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (float(sigma), float(sigma))
        else:
            sigma = tuple(float(s) for s in sigma)
            if len(sigma) == 1:
                sigma = (sigma[0], sigma[0])
            if len(sigma) != 2 or not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError("sigma values should be positive and of the form (min, max).")
        self.kernel_size = (int(ks[0]), int(ks[1]))
        self.sigma = sigma

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        s = float(torch.empty(1).uniform_(self.sigma[0], self.sigma[1]).item())
        kx, ky = self.kernel_size
        shape = img.shape
        if img.ndim < 3:
            raise ValueError(f"expected a tensor (..., C, H, W), got shape {tuple(shape)}")
        out_dtype = img.dtype
        x = img if img.is_floating_point() else img.to(torch.float32)
        c, h, w = shape[-3:]
        x = x.reshape(-1, c, h, w)
        gx = _tv_gaussian_kernel1d(kx, s, x.dtype, x.device).view(1, 1, 1, kx).expand(c, 1, 1, kx)
        gy = _tv_gaussian_kernel1d(ky, s, x.dtype, x.device).view(1, 1, ky, 1).expand(c, 1, ky, 1)
        x = F.pad(x, [kx // 2, kx // 2, ky // 2, ky // 2], mode="reflect")
        x = F.conv2d(F.conv2d(x, gx, groups=c), gy, groups=c)
        if not img.is_floating_point():
            x = torch.round(x).to(out_dtype)
        return x.reshape(shape)

    def __repr__(self) -> str:
        return f"GaussianBlur(kernel_size={self.kernel_size}, sigma={self.sigma}) [sandwich stand-in]"


class _MLPPlaceholder(torch.nn.Module):
    """Stand-in for ``torchvision.ops.MLP``: only the cvvdp_ml_* variants use it; they are not supported."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("torchvision.ops.MLP is a placeholder (torchvision is not installed); "
                           "the cvvdp_ml_* metrics are unavailable")


def _make_torchvision_standin() -> dict[str, types.ModuleType]:
    def mod(name: str, is_pkg: bool) -> types.ModuleType:
        m = types.ModuleType(name, "sandwich.evaluation.metrics stand-in (import of pycvvdp only)")
        m.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=is_pkg)
        if is_pkg:
            m.__path__ = []
        m.__sandwich_standin__ = True
        return m

    tv, tr, ops = mod("torchvision", True), mod("torchvision.transforms", False), mod("torchvision.ops", False)
    tv.__version__ = "0.0.0+sandwich-standin"
    tr.GaussianBlur = _GaussianBlur
    ops.MLP = _MLPPlaceholder
    tv.transforms, tv.ops = tr, ops
    return {"torchvision": tv, "torchvision.transforms": tr, "torchvision.ops": ops}


def _import_pycvvdp() -> types.ModuleType:
    """Import ``pycvvdp`` with a temporary torchvision stand-in; undo its global side effects.

    * ``torchvision``, ``.transforms``, ``.ops`` stand-ins live in ``sys.modules`` only during the
      import (unless a real torchvision is installed, which is then used).
    * ``pycvvdp`` appends its own folder to ``sys.path`` and sets ``HF_HUB_TOKEN=""`` at import; both
      are restored afterwards.
    * Upstream import-cycle bug: names from ``pycvvdp.video_source`` missing in ``pycvvdp.vq_metric``
      (``vvdp_display_photometry``, ``video_source_array``, …) are copied in.
    """
    global _PYCVVDP
    if _PYCVVDP is not None:
        return _PYCVVDP
    if "pycvvdp" in sys.modules and hasattr(sys.modules["pycvvdp"], "cvvdp"):
        p = sys.modules["pycvvdp"]
    else:
        real_tv = "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None
        standin = {} if real_tv else _make_torchvision_standin()
        saved_path = list(sys.path)
        had_token, token = "HF_HUB_TOKEN" in os.environ, os.environ.get("HF_HUB_TOKEN")
        sys.modules.update(standin)
        try:
            import pycvvdp as p
        finally:
            for name, m in standin.items():
                if sys.modules.get(name) is m:
                    del sys.modules[name]
            sys.path[:] = saved_path
            if had_token:
                os.environ["HF_HUB_TOKEN"] = token  # type: ignore[assignment]
            else:
                os.environ.pop("HF_HUB_TOKEN", None)
    import pycvvdp.video_source as vs
    import pycvvdp.vq_metric as vq

    for name in dir(vs):
        if not name.startswith("__") and not hasattr(vq, name):
            setattr(vq, name, getattr(vs, name))
    _PYCVVDP = p
    return p


def _get_cvvdp():
    global _CVVDP_METRIC
    with _CVVDP_LOCK:
        if _CVVDP_METRIC is None:
            p = _import_pycvvdp()
            _CVVDP_METRIC = p.cvvdp(display_name="standard_hdr_linear", device=torch.device("cpu"), quiet=True)
        return _CVVDP_METRIC


def _cvvdp_predict(ref_nits: torch.Tensor, test_nits: torch.Tensor) -> float:
    metric = _get_cvvdp()
    with torch.no_grad():
        jod, _ = metric.predict(test_nits, ref_nits, dim_order="HWC")
    return float(jod)


def cvvdp_jod(ref_u16: np.ndarray, test_u16: np.ndarray) -> float:
    """ColorVideoVDP JOD (display 'standard_hdr_linear', CPU, quiet) of uint16 PQ RGB images.

    Inputs are PQ-decoded per channel to absolute linear RGB in cd/m². The metric object is created
    on first use and cached. Needs no network (runs with HF_HUB_OFFLINE=1 / no network namespace).
    Measured on a 2-core CPU (another process busy on one core), 1024×1024: first call in a process
    2.5–4.5 s (``import pycvvdp`` ≈ 1.5 s + metric setup + run), warm 0.77–0.95 s per image.
    """
    return HDRReference(ref_u16).cvvdp_jod(test_u16)
