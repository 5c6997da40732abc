"""The bench's interactive report: one self-contained HTML file (plotly.js inlined, nothing fetched
at view time) with, per task and metric, the RD curves of every method (mean over images, or one
image picked from a dropdown; log or linear rate axis; methods in legend groups with a button per
group) and the BD tables against the task's anchor with bootstrap confidence intervals over images
(`rd.bd_bootstrap`).

`make bench` and `make plot` write it to results/report.html (conf/bench.yaml `report:`)."""

from __future__ import annotations

import html
import json
import math
import time
from pathlib import Path

from sandwich.evaluation import rd

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "star")  # one per group
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
READY_ID = "report-ready"  # the DOM marker the page adds once every plot is drawn
ERRORS_ID = "js-errors"  # where the page writes any JavaScript error ("JS-ERROR: ...")


def _points(rows: list[dict], metric: str, label_key: str = "rate_point"):
    """(bpp, metric, rate point label) of the rows with a finite bpp and metric, by rate."""
    pts = [
        (float(r["bpp"]), float(r[metric]), str(r.get(label_key, "")))
        for r in rows
        if r.get(metric) is not None and r.get("bpp") is not None and math.isfinite(r[metric]) and math.isfinite(r["bpp"])
    ]
    return sorted(pts)


def _trace_arrays(pts, symbol: str) -> dict:
    """One trace's x, y, text and per-point marker symbols: the Pareto front as a connected line,
    each dominated point after a gap (null) so it is drawn as a lone hollow marker."""
    if not pts:
        return {"x": [], "y": [], "text": [], "symbol": []}
    x, y = [p[0] for p in pts], [p[1] for p in pts]
    fx, fy = rd.pareto_front(x, y)
    front = set(zip(fx.tolist(), fy.tolist()))
    on, off = [p for p in pts if (p[0], p[1]) in front], [p for p in pts if (p[0], p[1]) not in front]
    out = {"x": [p[0] for p in on], "y": [p[1] for p in on], "text": [p[2] for p in on], "symbol": [symbol] * len(on)}
    for p in off:
        out["x"] += [None, p[0]]
        out["y"] += [None, p[1]]
        out["text"] += ["", p[2] + " (dominated)"]
        out["symbol"] += [symbol, symbol + "-open"]
    return out


def _images(results: dict[str, dict]) -> list[str]:
    seen = []
    for res in results.values():
        for name in res.get("dataset", {}).get("images", []) or sorted({r["image"] for r in res.get("per_image", [])}):
            if name not in seen:
                seen.append(name)
    return seen


def rd_figure(results: dict[str, dict], metric: str, anchor: str | None, groups: dict[str, list[str]], title: str, ylabel: str):
    """The plotly figure of one task and metric (see the module docstring)."""
    import plotly.graph_objects as go

    names = [m for m in results if rd.rd_has(results[m], metric)]
    grouped = rd.group_methods([m for m in names if m != anchor], groups)
    order = ([("anchor", anchor)] if anchor in names else []) + [(g, m) for g, members in grouped.items() for m in members]
    images = _images({m: results[m] for _, m in order})
    fig = go.Figure()
    styles = []
    for g_index, (group, members) in enumerate(grouped.items()):
        for i, name in enumerate(members):
            styles.append((group, name, PALETTE[i % len(PALETTE)], SYMBOLS[g_index % len(SYMBOLS)], DASHES[g_index % len(DASHES)]))
    if anchor in names:
        styles.insert(0, ("anchor", anchor, "#000000", "circle", "dash"))
    per_view = {}  # view -> per-trace arrays; view None is the mean
    for group, name, colour, symbol, dash in styles:
        res = results[name]
        views = {None: _trace_arrays(_points(res["curve"], metric), symbol)}
        for image in images:
            views[image] = _trace_arrays(_points([r for r in res.get("per_image", []) if r.get("image") == image], metric), symbol)
        for view, arrays in views.items():
            per_view.setdefault(view, []).append(arrays)
        mean = views[None]
        fig.add_trace(
            go.Scatter(
                x=mean["x"], y=mean["y"], text=mean["text"], name=name, mode="lines+markers",
                legendgroup=group, legendgrouptitle_text=group if (group, name) == next((s[:2] for s in styles if s[0] == group)) else None,
                line=dict(color=colour, dash=dash, width=2 if group == "anchor" else 1.6),
                marker=dict(symbol=mean["symbol"], size=7, color=colour, line=dict(color=colour, width=1.2)),
                connectgaps=False,
                hovertemplate=f"<b>{html.escape(name)}</b><br>%{{text}}<br>%{{x:.3f}} bpp<br>{html.escape(metric)} %{{y:.4g}}<extra></extra>",
            )
        )  # fmt: skip
    n = len(styles)

    def restyle(view):
        arrays = per_view[view]
        return {"x": [a["x"] for a in arrays], "y": [a["y"] for a in arrays], "text": [a["text"] for a in arrays],
                "marker.symbol": [a["symbol"] for a in arrays]}  # fmt: skip

    n_images = len(images)
    image_buttons = [dict(label=f"mean over {n_images} images", method="update", args=[restyle(None), {"title.text": f"{title} — mean over {n_images} images"}])]
    image_buttons += [
        dict(label=image, method="update", args=[restyle(image), {"title.text": f"{title} — image {image}"}]) for image in images
    ]  # fmt: skip
    group_buttons = [dict(label="all methods", method="restyle", args=[{"visible": [True] * n}])]
    for group in grouped:
        visible = [True if s[0] in ("anchor", group) else "legendonly" for s in styles]
        group_buttons.append(dict(label=group + (" + anchor" if anchor in names else ""), method="restyle", args=[{"visible": visible}]))
    axis_buttons = [
        dict(label="log rate", method="relayout", args=[{"xaxis.type": "log", "xaxis.autorange": True}]),
        dict(label="linear rate", method="relayout", args=[{"xaxis.type": "linear", "xaxis.autorange": True}]),
    ]
    menu = dict(pad={"r": 4, "t": 4}, showactive=True, xanchor="left", yanchor="bottom", font=dict(size=11))
    fig.update_layout(
        title=dict(text=f"{title} — mean over {n_images} images", x=0.01, y=0.98, font=dict(size=15)),
        xaxis=dict(type="log", title="bits per pixel (complete bitstream)", showgrid=True),
        yaxis=dict(title=ylabel, showgrid=True),
        legend=dict(groupclick="toggleitem", font=dict(size=11), tracegroupgap=12),
        height=max(600, 190 + 21 * (n + len(grouped) + 1)), margin=dict(t=120, l=70, r=20, b=60), template="plotly_white", hovermode="closest",
        updatemenus=[
            dict(type="buttons", direction="right", buttons=axis_buttons, x=0.0, y=1.09, **menu),
            dict(type="buttons", direction="right", buttons=group_buttons, x=0.0, y=1.01, **menu),
            dict(type="dropdown", direction="down", buttons=image_buttons, x=0.22, y=1.09, **menu),
        ],
    )  # fmt: skip
    return fig


def _ci(value, interval, spec: str, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{format(value, spec)}{suffix}"
    if interval is None:
        return f"{text} <span class=ci>[CI n/a]</span>"
    lo, hi = interval
    cls = "sig" if lo > 0 or hi < 0 else "ns"  # the interval excludes zero: distinguishable from the anchor
    return f"<span class={cls}>{text}</span> <span class=ci>[{format(lo, spec)}, {format(hi, spec)}]</span>"


def bd_table_html(results: dict[str, dict], anchor: str, metric: str, unit: str, groups, n_boot: int, seed: int, level: float) -> str:
    """The BD table of every method against `anchor` with bootstrap intervals, as HTML."""
    names = [m for m in results if m != anchor]
    grouped = rd.group_methods(names, groups)
    rows = []
    for group, members in grouped.items():
        for name in members:
            ci = rd.bd_bootstrap(results[anchor], results[name], metric, n_boot=n_boot, seed=seed, level=level)
            rows.append(
                f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(group)}</td>"
                f"<td class=num>{_ci(ci.bd.bd_rate, ci.bd_rate_ci, '+.1f', '%')}</td>"
                f"<td class=num>{_ci(ci.bd.bd_quality, ci.bd_quality_ci, '+.2f')}</td>"
                f"<td class=num>{ci.n_images}</td><td class=num>{ci.n_valid}/{ci.n_boot}</td>"
                f"<td>{html.escape(ci.bd.note)}</td></tr>"
            )  # fmt: skip
    pct = f"{100 * level:g} %"
    head = (
        f"<tr><th>method</th><th>group</th><th>BD-rate vs <code>{html.escape(anchor)}</code> [{pct} CI]</th>"
        f"<th>BD-{html.escape(metric)} ({html.escape(unit)}) [{pct} CI]</th><th>images</th><th>resamples with BD</th><th>note</th></tr>"
    )
    return f"<table class=bd data-metric='{html.escape(metric)}'>{head}{''.join(rows)}</table>"


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 1.2em 2em; color: #222; max-width: 1500px; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
table.bd { border-collapse: collapse; font-size: 0.88em; margin: 0.5em 0 1.5em; }
table.bd td, table.bd th { border: 1px solid #ddd; padding: 3px 8px; } table.bd th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; } .ci { color: #777; font-size: 0.92em; }
.sig { font-weight: 600; } .ns { color: #999; } .note { color: #555; font-size: 0.9em; max-width: 70em; }
#js-errors { display: none; color: #b00; background: #fee; padding: 0.5em; white-space: pre-wrap; }
.plot { border: 1px solid #eee; margin-bottom: 0.8em; }
"""

ERROR_JS = f"""
function reportError(message) {{
  var box = document.getElementById('{ERRORS_ID}');
  box.textContent += 'JS-ERROR: ' + message + '\\n'; box.style.display = 'block'; document.title = 'JS-ERROR';
}}
window.addEventListener('error', function (e) {{ reportError(e.message); }});
window.addEventListener('unhandledrejection', function (e) {{ reportError(String(e.reason)); }});
"""

DRAW_JS = f"""
Promise.all(Object.keys(FIGURES).map(function (id) {{
  var f = FIGURES[id];
  return Plotly.newPlot(id, f.data, f.layout, {{responsive: true, displaylogo: false}});
}})).then(function () {{
  var marker = document.createElement('div');
  marker.id = '{READY_ID}'; marker.setAttribute('data-plots', String(Object.keys(FIGURES).length));
  document.body.appendChild(marker);
  if (document.title !== 'JS-ERROR') document.title = 'ready: ' + document.title;
}}).catch(function (e) {{ reportError(String(e)); }});
"""


def _script_json(value) -> str:
    return value.replace("</", "<\\/")  # a JSON string inside <script>


def write_report(
    out,
    tasks: dict[str, dict],
    loaded: dict[str, dict[str, dict]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    plots: dict[str, list[tuple[str, str]]] | None = None,
    bd_metrics: dict[str, list[tuple[str, str]]] | None = None,
    title: str = "sandwich bench report",
    header: str = "",
) -> Path:
    """Write the report to `out`. `tasks`: task -> {anchor, methods, groups} (conf/bench.yaml's
    `tasks`, as plain containers); `loaded`: task -> results by method (`rd.load_results`);
    `plots` / `bd_metrics`: task -> [(metric, label or unit)] (default: report.PLOTS / BD_METRICS,
    psnr for other tasks)."""
    import plotly.offline

    from sandwich.evaluation.report import BD_METRICS, PLOTS

    plots = plots if plots is not None else PLOTS
    bd_metrics = bd_metrics if bd_metrics is not None else BD_METRICS
    figures, body = {}, []
    for task, spec in tasks.items():
        methods = list(spec.get("methods") or loaded.get(task, {}).keys())
        results = {m: loaded.get(task, {})[m] for m in methods if m in loaded.get(task, {})}
        if not results:
            continue
        anchor, groups = spec.get("anchor"), dict(spec.get("groups") or {})
        n_images = len(_images(results))
        body.append(f"<h2 id='{html.escape(task)}'>{html.escape(task.upper())} ({n_images} images, anchor <code>{html.escape(str(anchor))}</code>)</h2>")
        for metric, label in plots.get(task, [("psnr", "PSNR (dB)")]):
            if not any(rd.rd_has(r, metric) for r in results.values()):
                continue
            div = f"rd-{task}-{metric}"
            fig = rd_figure(results, metric, anchor, groups, f"{task.upper()}: {label}", label)
            figures[div] = fig.to_json()
            body.append(f"<div id='{div}' class=plot></div>")
        if anchor in results:
            for metric, unit in bd_metrics.get(task, [("psnr", "dB")]):
                if not rd.rd_has(results[anchor], metric):
                    continue
                body.append(f"<h3>BD against <code>{html.escape(anchor)}</code> on {html.escape(metric)}</h3>")
                body.append(bd_table_html(results, anchor, metric, unit, groups, n_boot, seed, level))
    note = (
        f"<p class=note>Lines: each method's Pareto front (what BD uses); hollow markers: dominated rate points. "
        f"Click a legend entry to hide a method, a group title to hide its group; the buttons show one group with the "
        f"anchor, the dropdown one image's curves. BD: pchip over the curves' overlap (as in README's tables). "
        f"Confidence intervals: paired bootstrap over images ({n_boot} resamples, seed {seed}): each resample draws "
        f"the test images with replacement, recomputes both methods' mean curves and the BD; the interval is the "
        f"{100 * level:g} % percentile interval (over the resamples where BD exists: a resample can leave a curve "
        f"with too few Pareto points or no overlap; see 'resamples with BD'). <span class=sig>Bold</span>: the interval excludes 0; "
        f"<span class=ns>grey</span>: not distinguishable from the anchor on these images.</p>"
    )
    figures_js = "const FIGURES = {" + ",".join(f"{json.dumps(k)}: {_script_json(v)}" for k, v in figures.items()) + "};"
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f"<script>{ERROR_JS}</script>"
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><pre id='{ERRORS_ID}'></pre>"
        f"<p class=note>Generated {time.strftime('%Y-%m-%d %H:%M:%S')}. {header}</p>{note}"
        + "\n".join(body)
        + f"<script>{figures_js}\n{DRAW_JS}</script></body></html>"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
