"""Rate–distortion tools on results JSON: curves, Pareto frontier, BD-rate / BD-PSNR, plots."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sandwich.evaluation.evaluator import read_results

MIN_POINTS = 4  # fewer points do not pin down a BD interpolation
BD_INTERPOLATION = "pchip"  # monotone, no overshoot between sparse points


def load_results(folder) -> dict[str, dict]:
    """Every `<method>.json` results file in `folder`, by method name."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        data = read_results(path)
        if "curve" in data and "name" in data:
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
    xscale: str = "linear",
):
    """One RD figure: every method's mean curve (Pareto line, dominated points hollow); optional
    horizontal reference line; `xscale="log"` for a log rate axis."""
    import matplotlib.pyplot as plt  # Agg where there is no display; inline in a notebook

    fig, ax = plt.subplots(figsize=(9, 6))
    markers = "os^vD<>phX*P"
    colours = plt.get_cmap("tab20").colors  # distinct colours for up to 20 methods
    for i, (name, res) in enumerate(results.items()):
        x, y = curve(res, metric)
        if not len(x):
            continue
        # the line is the Pareto front (what BD uses; across the λ models of a sandwich)
        style = dict(marker=markers[i % len(markers)], color=colours[(2 * i) % 20 + (2 * i) // 20])
        _draw_curve(ax, x, y, name, ms=4, lw=1.3, **style)
    if hline is not None:
        ax.axhline(hline[0], color="k", ls="--", lw=1, label=hline[1])
    ax.set_xlabel("bits per pixel (complete bitstream)")
    ax.set_ylabel(ylabel or metric)
    if xscale == "log":
        _log_rate_axis(ax)
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


def group_methods(methods: list[str], groups: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """`methods` sorted into the configured groups (each group in the methods' order, groups in the
    configuration's order); methods in no group go to "other", empty groups are dropped."""
    out, placed = {}, set()
    for name, members in (groups or {}).items():
        members = [m for m in methods if m in set(members) and m not in placed]
        placed.update(members)
        if members:
            out[str(name)] = members
    rest = [m for m in methods if m not in placed]
    if rest:
        out["other" if out else "methods"] = rest
    return out


def _log_rate_axis(ax) -> None:
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    ax.set_xscale("log")
    ticks = [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4, 8, 16, 32]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _draw_curve(ax, x, y, label, **style) -> None:
    """The Pareto front as a line, dominated points as hollow markers of the same style."""
    fx, fy = pareto_front(x, y)
    ax.plot(fx, fy, label=label, **style)
    on_front = set(zip(fx.tolist(), fy.tolist()))
    dominated = [(a, b) for a, b in zip(x.tolist(), y.tolist()) if (a, b) not in on_front]
    if dominated:
        hollow = {k: v for k, v in style.items() if k not in ("ls", "lw")}
        ax.plot(*zip(*dominated), ls="none", mfc="none", alpha=0.6, **hollow)


def plot_rd_groups(
    results: dict[str, dict],
    metric: str,
    path,
    groups: dict[str, list[str]] | None,
    anchor: str | None = None,
    title: str = "",
    ylabel: str | None = None,
    hline: tuple[float, str] | None = None,
    xscale: str = "log",
    xlim: tuple[float, float] | None = None,
):
    """RD figure with one panel per method group (`group_methods`), stacked, sharing the rate axis;
    the anchor is drawn in every panel (black, dashed) as the common reference (each panel scales
    its quality axis to its curves). Few curves per panel, so tab10's colours do not repeat within
    one; the legends sit right of the panels, off the curves."""
    import matplotlib.pyplot as plt  # Agg where there is no display; inline in a notebook

    grouped = group_methods([m for m in results if rd_has(results[m], metric) and m != anchor], groups)
    if not grouped:
        grouped = {"methods": []}
    fig, axes = plt.subplots(len(grouped), 1, figsize=(11, 0.6 + 3.6 * len(grouped)), sharex=True, squeeze=False)
    colours = plt.get_cmap("tab10").colors
    markers = "os^vD<>phX*P"
    for ax, (group, members) in zip(axes[:, 0], grouped.items()):
        if anchor in results and rd_has(results[anchor], metric):
            _draw_curve(ax, *curve(results[anchor], metric), f"{anchor} (anchor)", color="k", ls="--", lw=1.4, marker=".", ms=5)
        for i, name in enumerate(members):
            style = dict(color=colours[i % 10], marker=markers[i % len(markers)], ms=4, lw=1.3)
            _draw_curve(ax, *curve(results[name], metric), name, **style)
        if hline is not None:
            ax.axhline(hline[0], color="0.4", ls=":", lw=1, label=hline[1])
        ax.set_title(group, fontsize=10, loc="left")
        ax.set_ylabel(ylabel or metric)
        ax.grid(alpha=0.3, which="both" if xscale == "log" else "major")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    bottom = axes[-1, 0]
    if xscale == "log":
        _log_rate_axis(bottom)
    if xlim:
        bottom.set_xlim(*xlim)
    bottom.set_xlabel("bits per pixel (complete bitstream)" + (", log scale" if xscale == "log" else ""))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def rd_has(results: dict, metric: str) -> bool:
    """Whether `results` has any finite mean value of `metric`."""
    return bool(curve(results, metric)[0].size)


VALIDATION_BASELINES = {"hdr": ("truncation_jpeg", "truncation_jpeg_flat"), "sr": ("bicubic_jpeg", "jpeg_full")}


def validation_figure(results_dir, task: str, points: dict[str, tuple[float, float]], title: str = ""):
    """Training's RD figure: the bench's baseline curves (test set, from `results_dir/<task>`) and
    this validation's real-codec points (validation crops: a different image set, so compare the
    points with each other and read the curves for shape and scale)."""
    results = {}
    for name in VALIDATION_BASELINES[task]:  # read only the two curves drawn, not the whole folder
        path = Path(results_dir) / task / f"{name}.json"
        if path.is_file():
            results[name] = read_results(path)
    fig = plot_rd(results, "psnr", None)
    ax = fig.axes[0]
    for (label, (bpp, quality)), marker in zip(points.items(), "*Xo"):
        ax.plot([bpp], [quality], marker=marker, ms=12, ls="none", label=f"{label} (validation crops)")
    ax.legend(fontsize=8)
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{title} — curves: {task}/test bench results" if results else title)
    return fig


# --- bootstrap confidence intervals of BD over images -------------------------------------------


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Node derivatives of the monotone piecewise-cubic Hermite interpolant, as scipy's
    PchipInterpolator sets them (Fritsch–Carlson weighted harmonic mean, one-sided 3-point ends)."""
    h = np.diff(x)
    m = np.diff(y) / h
    if len(x) == 2:
        return np.array([m[0], m[0]])
    d = np.zeros_like(y)
    m0, m1, h0, h1 = m[:-1], m[1:], h[:-1], h[1:]
    same = (np.sign(m0) == np.sign(m1)) & (m0 != 0) & (m1 != 0)
    w1, w2 = 2 * h1 + h0, h1 + 2 * h0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / m0 + w2 / m1)
    d[1:-1] = np.where(same, harmonic, 0.0)
    for i, (ha, hb, ma, mb) in ((0, (h[0], h[1], m[0], m[1])), (-1, (h[-1], h[-2], m[-1], m[-2]))):
        end = ((2 * ha + hb) * ma - ha * mb) / (ha + hb)
        if np.sign(end) != np.sign(ma):
            end = 0.0
        elif np.sign(ma) != np.sign(mb) and abs(end) > abs(3 * ma):
            end = 3 * ma
        d[i] = end
    return d


def _pchip_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """∫ of the pchip interpolant of (x, y) over [lo, hi] ⊆ [x0, xn], in closed form."""
    d = _pchip_slopes(x, y)
    h = np.diff(x)

    def primitive(t: float) -> float:
        k = int(np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2))
        full = h[:k] * ((y[:k] + y[1 : k + 1]) / 2 + h[:k] * (d[:k] - d[1 : k + 1]) / 12)
        s = (t - x[k]) / h[k]
        s2, s3, s4 = s * s, s**3, s**4
        part = h[k] * (
            y[k] * (s4 / 2 - s3 + s)
            + h[k] * d[k] * (s4 / 4 - 2 * s3 / 3 + s2 / 2)
            + y[k + 1] * (-s4 / 2 + s3)
            + h[k] * d[k + 1] * (s4 / 4 - s3 / 3)
        )
        return float(full.sum() + part)

    return primitive(hi) - primitive(lo)


def bd_fast(anchor: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(BD-rate %, BD-quality) as `bd` computes them (Pareto fronts, pchip, overlap interval), NaN
    where `bd` gives None; a closed-form pchip integral, ~50× faster than the `bjontegaard` package,
    for the bootstrap's thousands of BD evaluations."""
    ra, qa = pareto_front(*anchor)
    rt, qt = pareto_front(*test)
    if len(ra) < MIN_POINTS or len(rt) < MIN_POINTS:
        return math.nan, math.nan
    la, lt = np.log10(ra), np.log10(rt)
    bd_q = bd_r = math.nan
    lo, hi = max(la[0], lt[0]), min(la[-1], lt[-1])
    if hi > lo:
        bd_q = (_pchip_integral(lt, qt, lo, hi) - _pchip_integral(la, qa, lo, hi)) / (hi - lo)
    lo, hi = max(qa[0], qt[0]), min(qa[-1], qt[-1])
    if hi > lo:
        bd_r = (10 ** ((_pchip_integral(qt, lt, lo, hi) - _pchip_integral(qa, la, lo, hi)) / (hi - lo)) - 1) * 100
    return float(bd_r), float(bd_q)


def per_image_matrix(results: dict, metric: str, images: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(bpp[point, image], metric[point, image]) over the rate points the rows measured, from a results' per-image rows; NaN
    where a row or a finite value is missing (the evaluator's mean leaves those out too)."""
    points = [p for p in results["rate_points"] if any(r["rate_point"] == p for r in results["per_image"])]
    row, col = {p: i for i, p in enumerate(points)}, {name: j for j, name in enumerate(images)}
    bpp = np.full((len(points), len(images)), np.nan)
    quality = np.full_like(bpp, np.nan)
    for r in results["per_image"]:
        i, j = row.get(r["rate_point"]), col.get(r["image"])
        if i is None or j is None:
            continue
        for target, key in ((bpp, "bpp"), (quality, metric)):
            value = r.get(key)
            if value is not None and math.isfinite(value):
                target[i, j] = value
    return bpp, quality


def _weighted_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean over images of values[point, image] under each weight row (counts of a resample):
    [resample, point], NaN-aware."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0) @ weights.T
    count = finite.astype(float) @ weights.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).T


@dataclass
class BDInterval:
    bd: BDResult  # the point estimate: `bd` on the stored mean curves (as in the BD tables)
    bd_rate_ci: tuple[float, float] | None  # percentile interval over the resamples
    bd_quality_ci: tuple[float, float] | None
    n_images: int  # images both methods share, the unit resampled
    n_valid: int  # resamples in which BD could be computed (the rate and the quality count apart)
    n_boot: int
    level: float


def bd_bootstrap(
    anchor: dict, test: dict, metric: str = "psnr", n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> BDInterval:
    """BD of `test` against `anchor` with bootstrap confidence intervals over images.

    Each resample draws the images both results share, with replacement (the same draw for both
    methods: a paired bootstrap), recomputes each method's mean curve per rate point from its
    per-image rows, and recomputes BD-rate and BD-quality on those curves (`bd_fast`, the same
    numbers as `bd`). The interval is the (1-level)/2 and (1+level)/2 percentiles of the resampled
    BDs; None when fewer than half the resamples give a BD (too little overlap). Seeded: the same
    inputs give the same interval."""
    point = bd(curve(anchor, metric), curve(test, metric))
    shared = sorted({r["image"] for r in anchor["per_image"]} & {r["image"] for r in test["per_image"]})
    n = len(shared)
    if n == 0:
        return BDInterval(point, None, None, 0, 0, n_boot, level)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
    means = []
    for res in (anchor, test):
        bpp, quality = per_image_matrix(res, metric, shared)
        means.append((_weighted_means(bpp, weights), _weighted_means(quality, weights)))
    draws = np.full((n_boot, 2), np.nan)
    for b in range(n_boot):
        curves = []
        for rate, quality in means:
            ok = np.isfinite(rate[b]) & np.isfinite(quality[b]) & (rate[b] > 0)
            order = np.argsort(rate[b][ok], kind="stable")
            curves.append((rate[b][ok][order], quality[b][ok][order]))
        draws[b] = bd_fast(*curves)
    tail = 100 * (1 - level) / 2

    def interval(column: np.ndarray):
        column = column[np.isfinite(column)]
        if len(column) < n_boot / 2:
            return None
        return float(np.percentile(column, tail)), float(np.percentile(column, 100 - tail))

    valid = int(np.sum(np.isfinite(draws).all(axis=1)))
    return BDInterval(point, interval(draws[:, 0]), interval(draws[:, 1]), n, valid, n_boot, level)
