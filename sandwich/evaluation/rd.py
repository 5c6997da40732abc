"""Rate–distortion tools on results JSON: curves, Pareto frontier, BD-rate / BD-PSNR, plots."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_POINTS = 4  # fewer points do not pin down a BD interpolation
BD_INTERPOLATION = "pchip"  # monotone, no overshoot between sparse points


def load_results(folder) -> dict[str, dict]:
    """Every `<method>.json` results file in `folder`, by method name."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "curve" in data and "name" in data:
            out[data["name"]] = data
    return out


def curve(results: dict, metric: str = "psnr") -> tuple[np.ndarray, np.ndarray]:
    """(mean bpp, mean metric) per rate point, sorted by rate; points without the metric dropped."""
    pts = [(p["bpp"], p[metric]) for p in results["curve"] if p.get(metric) is not None and math.isfinite(p[metric])]
    pts.sort()
    return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)


def pareto_front(rate, quality) -> tuple[np.ndarray, np.ndarray]:
    """Points not beaten by any cheaper or equally cheap point: rate and quality both strictly
    increase along it."""
    order = np.lexsort((-np.asarray(quality, float), np.asarray(rate, float)))  # at a tie in rate the best first
    keep, best = [], -np.inf
    for i in order:
        if quality[i] > best:
            keep.append(i)
            best = quality[i]
    return np.asarray(rate)[keep], np.asarray(quality)[keep]


@dataclass
class BDResult:
    bd_rate: float | None  # % rate change at equal quality (negative = test saves rate)
    bd_quality: float | None  # quality gain at equal rate (dB for PSNR)
    rate_overlap: tuple[float, float] | None
    quality_overlap: tuple[float, float] | None
    note: str = ""


def bd(anchor: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> BDResult:
    """Bjøntegaard deltas over the overlapping interval, on the Pareto part of each curve.

    BD-PSNR integrates over the shared log-rate interval, BD-rate over the shared quality interval
    (pchip interpolation, `bjontegaard` package); each needs >= MIN_POINTS points per curve.
    """
    import bjontegaard

    ra, qa = pareto_front(*anchor)
    rt, qt = pareto_front(*test)
    if len(ra) < MIN_POINTS or len(rt) < MIN_POINTS:
        return BDResult(None, None, None, None, f"fewer than {MIN_POINTS} Pareto points")
    rate_lo, rate_hi = max(ra.min(), rt.min()), min(ra.max(), rt.max())
    q_lo, q_hi = max(qa.min(), qt.min()), min(qa.max(), qt.max())
    result = BDResult(None, None, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = dict(method=BD_INTERPOLATION, require_matching_points=False, min_overlap=0)
        if rate_hi > rate_lo:
            result.bd_quality = float(bjontegaard.bd_psnr(ra, qa, rt, qt, **kwargs))
            result.rate_overlap = (float(rate_lo), float(rate_hi))
        if q_hi > q_lo:
            result.bd_rate = float(bjontegaard.bd_rate(ra, qa, rt, qt, **kwargs))
            result.quality_overlap = (float(q_lo), float(q_hi))
    if result.bd_quality is None and result.bd_rate is None:
        result.note = "no overlap"
    return result


def _pchip_in_log_rate(curve_points: tuple[np.ndarray, np.ndarray]):
    from scipy.interpolate import PchipInterpolator

    rate, quality = pareto_front(*curve_points)
    return PchipInterpolator(np.log10(rate), quality), float(rate.min()), float(rate.max())


def bd_quality_over(anchor: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], rate_range: tuple[float, float]) -> float:
    """BD-PSNR over a fixed rate interval instead of the curves' overlap: the mean quality gap
    of the two Pareto fronts' pchip interpolants in log-rate. Two results of one method whose
    overlaps with the anchor differ compare over a common interval this way. Refuses an interval
    that either curve does not cover (that would be extrapolation)."""
    lo, hi = rate_range
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < lo < hi, got {rate_range}")
    fits = []
    for name, points in (("anchor", anchor), ("test", test)):
        fit, low, high = _pchip_in_log_rate(points)
        if not _covers(low, high, lo, hi):
            raise ValueError(f"the {name} curve covers {low:.3f}–{high:.3f} bpp, not {lo:.3f}–{hi:.3f}")
        fits.append(fit)
    a, b = np.log10(lo), np.log10(hi)
    return float((fits[1].integrate(a, b) - fits[0].integrate(a, b)) / (b - a))


def _covers(low: float, high: float, lo: float, hi: float) -> bool:
    return low * (1 - 1e-9) <= lo and hi <= high * (1 + 1e-9)  # ends given to 3 digits still count


def front_quality_at(points: tuple[np.ndarray, np.ndarray], rate: float) -> float | None:
    """The Pareto front's quality at `rate` (pchip in log-rate); None outside its rate range."""
    if len(pareto_front(*points)[0]) < 2:
        return None
    fit, low, high = _pchip_in_log_rate(points)
    return float(fit(np.log10(rate))) if _covers(low, high, rate, rate) else None


def _fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def bd_table(results: dict[str, dict], anchor: str, metric: str = "psnr", unit: str = "dB") -> str:
    """Markdown table of every method against `anchor`."""
    if anchor not in results:
        raise KeyError(f"anchor {anchor!r} has no results")
    ref = curve(results[anchor], metric)
    lines = [
        f"| method | BD-rate vs `{anchor}` | BD-{metric} ({unit}) | rate overlap (bpp) | {metric} overlap | points |",
        "|---|---:|---:|---|---|---:|",
    ]
    for name, res in results.items():
        if name == anchor:
            continue
        test = curve(res, metric)
        r = bd(ref, test)
        rate_iv = "—" if r.rate_overlap is None else f"{r.rate_overlap[0]:.2f}–{r.rate_overlap[1]:.2f}"
        q_iv = "—" if r.quality_overlap is None else f"{r.quality_overlap[0]:.2f}–{r.quality_overlap[1]:.2f}"
        bdr = _fmt(r.bd_rate, "+.1f") + ("%" if r.bd_rate is not None else "")
        lines.append(
            f"| `{name}` | {bdr} | {_fmt(r.bd_quality, '+.2f')} | {rate_iv} | {q_iv} | "
            f"{len(pareto_front(*test)[0])}/{len(test[0])}{' (' + r.note + ')' if r.note else ''} |"
        )
    return "\n".join(lines)


def target_table(results: dict[str, dict], targets: list[dict]) -> str:
    """Markdown table checking BD-PSNR targets: each target is {method, over: [baselines],
    min_db}; the method must gain at least `min_db` over the better of the baselines (the smallest
    BD-PSNR over the curves' overlap, as in the BD tables). `results` maps names to results."""
    lines = ["| target | BD-PSNR (dB) over each baseline | verdict |", "|---|---|---|"]
    for target in targets:
        method, over, need = target["method"], list(target["over"]), float(target["min_db"])
        gains = {}
        for baseline in over:
            if method in results and baseline in results:
                gains[baseline] = bd(curve(results[baseline]), curve(results[method])).bd_quality
        measured = ", ".join(f"{_fmt(g, '+.2f')} vs `{b}`" for b, g in gains.items()) or "no results"
        known = [g for g in gains.values() if g is not None]
        if len(known) < len(over):
            verdict = "not measured"
        elif min(known) >= need:
            verdict = f"**met** ({min(known) - need:+.2f} dB to spare)"
        else:
            verdict = f"**missed by {need - min(known):.2f} dB**"
        better = " / ".join(f"`{b}`" for b in over)
        what = f"`{method}` ≥ {need:g} dB over {'the better of ' if len(over) > 1 else ''}{better}"
        lines.append(f"| {what} | {measured} | {verdict} |")
    return "\n".join(lines)


def plot_rd(
    results: dict[str, dict],
    metric: str,
    path,
    title: str = "",
    ylabel: str | None = None,
    hline: tuple[float, str] | None = None,
    xlim: tuple[float, float] | None = None,
):
    """One RD figure: every method's mean curve (Pareto line, dominated points hollow); optional
    horizontal reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    markers = "os^vD<>phX*P"
    colours = plt.get_cmap("tab20").colors  # distinct colours for up to 20 methods
    for i, (name, res) in enumerate(results.items()):
        x, y = curve(res, metric)
        if not len(x):
            continue
        # the line is the Pareto front (what BD uses; across the λ models of a sandwich);
        # dominated points stay visible as hollow markers
        fx, fy = pareto_front(x, y)
        style = dict(marker=markers[i % len(markers)], color=colours[(2 * i) % 20 + (2 * i) // 20])
        ax.plot(fx, fy, ms=4, lw=1.3, label=name, **style)
        on_front = set(zip(fx.tolist(), fy.tolist()))
        dominated = [(a, b) for a, b in zip(x.tolist(), y.tolist()) if (a, b) not in on_front]
        if dominated:
            ax.plot(*zip(*dominated), ms=4, ls="none", mfc="none", alpha=0.6, **style)
    if hline is not None:
        ax.axhline(hline[0], color="k", ls="--", lw=1, label=hline[1])
    ax.set_xlabel("bits per pixel (complete bitstream)")
    ax.set_ylabel(ylabel or metric)
    if xlim:
        ax.set_xlim(*xlim)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


VALIDATION_BASELINES = {"hdr": ("truncation_jpeg", "truncation_jpeg_flat"), "sr": ("bicubic_jpeg", "jpeg_full")}


def validation_figure(results_dir, task: str, points: dict[str, tuple[float, float]], title: str = ""):
    """Training's RD figure: the bench's baseline curves (test set, from `results_dir/<task>`) and
    this validation's real-codec points (validation crops: a different image set, so compare the
    points with each other and read the curves for shape and scale)."""
    results = {}
    for name in VALIDATION_BASELINES[task]:  # read only the two curves drawn, not the whole folder
        path = Path(results_dir) / task / f"{name}.json"
        if path.is_file():
            results[name] = json.loads(path.read_text())
    fig = plot_rd(results, "psnr", None)
    ax = fig.axes[0]
    for (label, (bpp, quality)), marker in zip(points.items(), "*Xo"):
        ax.plot([bpp], [quality], marker=marker, ms=12, ls="none", label=f"{label} (validation crops)")
    ax.legend(fontsize=8)
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{title} — curves: {task}/test bench results" if results else title)
    return fig
