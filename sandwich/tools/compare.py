"""Per-rate-point comparison of two benched methods that share a rate grid (a post-processor and
its plain baseline, an ablation and its parent): `python -m sandwich.tools.compare dequant_jpeg
truncation_jpeg [--task hdr] [--metric psnr]` prints a markdown table from results/<task>/*.json,
with each point's distance to the LDR saturation line for HDR.

Any two curves, grids shared or not: `--bd` prints the bench's BD table row (BD over their
overlap) against any baseline; `--bd-range LO HI` BD-PSNR over that fixed interval instead (so
two results of one method compare over the same interval); `--at R ...` the gain at those rates,
with both curves' values there (pchip over each Pareto front); `--per-image` the BD row of every
test image, each method on the rate points of its mean curve's Pareto front (the settings the
bench's curve uses, not a per-image choice of them). A method may be a results JSON path, e.g. an
older run's (`git show REV:results/sr/sandwich_sr_jpeg.json > old.json`).

`--results DIR` is the benchmark's shape (DIR/<task>/NAME.json, results/ by default) or the folder
one evaluation wrote (DIR/NAME.json: `output_dir=`, or logs/eval/<date>/<time>/<task>).

Two curves measured on different image sets (their results files' `dataset.images_sha256`, or the
image names for older files) do not compare: compare refuses, unless `--mixed-images`, which
prints the comparison under a warning line naming both sets. `--per-image` compares only the
images both files measured, and refuses when a name's file differs between them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sandwich.evaluation.evaluator import (
    describe_image_set,
    read_results,
    same_image_set,
)


def results_path(results_dir: Path, task: str, method: str) -> Path:
    """A results JSON path as given, else DIR/<task>/NAME.json (the benchmark's shape), else
    DIR/NAME.json (the folder one evaluation writes)."""
    if method.endswith(".json"):
        candidates = [Path(method)]
    else:
        candidates = [Path(results_dir) / task / f"{method}.json", Path(results_dir) / f"{method}.json"]
    for path in candidates:
        if path.is_file():
            return path
    raise SystemExit(f"compare: no results for {method!r}: none of {', '.join(map(str, candidates))}")


def _document(results_dir: Path, task: str, method: str) -> dict:
    path = results_path(results_dir, task, method)
    try:
        return read_results(path)
    except ValueError as err:
        raise SystemExit(f"compare: {path} is not a results JSON: {err}") from err


def image_set_mismatch(documents: dict[str, dict]) -> str | None:
    """A line naming the image sets when the documents' differ; None when they agree or a file
    does not record its images (older or hand-made files)."""
    (first, first_doc), *others = documents.items()
    for name, doc in others:
        if same_image_set(first_doc.get("dataset") or {}, doc.get("dataset") or {}) is False:
            return (f"different image sets: {first} on {describe_image_set(first_doc['dataset'])}, "
                    f"{name} on {describe_image_set(doc['dataset'])}")  # fmt: skip
    return None


def per_image_mismatch(documents: dict[str, dict]) -> str | None:
    """For --per-image: an image name both files measured whose file differs between them."""
    hashes = [(doc.get("dataset") or {}).get("image_sha256") or {} for doc in documents.values()]
    if len(hashes) == 2:
        differing = sorted(n for n in set(hashes[0]) & set(hashes[1]) if hashes[0][n] != hashes[1][n])
        if differing:
            return f"images with the same name but different files: {', '.join(differing)}"
    return None


def check_images(documents: dict[str, dict], mixed: bool, per_image: bool = False) -> str | None:
    """Refuse (SystemExit) when the documents' image sets differ, unless `mixed`; then return the
    warning line to print above the table. Also warns on stderr about recorded evaluation errors."""
    for name, doc in documents.items():
        if doc.get("errors"):
            print(f"compare: warning: {name} recorded {len(doc['errors'])} evaluation errors: some points "
                  "average fewer images (see `errors` and each point's n_images)", file=sys.stderr)  # fmt: skip
    if per_image:
        problem = per_image_mismatch(documents)
        if problem:
            raise SystemExit(f"compare: {problem}")
        return None
    problem = image_set_mismatch(documents)
    if problem is None:
        return None
    if not mixed:
        raise SystemExit(f"compare: {problem}; their curves do not compare (--mixed-images shows them anyway, labelled)")
    warning = f"WARNING: {problem}: the numbers below compare different images"
    print(warning, file=sys.stderr)
    return warning


def gain_rows(method: dict[str, dict], baseline: dict[str, dict], metric: str) -> list[dict]:
    """One row per rate point both methods measured, in the method's order. A method point
    "<model>/<setting>" (a sandwich or post-only) matches the baseline's "<setting>"."""
    rows = []
    for point, ours in method.items():
        match = point if point in baseline else point.rsplit("/", 1)[-1]
        if match not in baseline or ours.get(metric) is None or baseline[match].get(metric) is None:
            continue
        theirs = baseline[match]
        row = {"rate_point": point, "bpp": ours["bpp"], "baseline_bpp": theirs["bpp"], metric: ours[metric],
               "gain_db": ours[metric] - theirs[metric]}  # fmt: skip
        if "ldr_saturation_psnr" in ours and metric == "psnr":
            row["below_ldr_line_db"] = ours["ldr_saturation_psnr"] - ours[metric]
        rows.append(row)
    return rows


def per_image_bd(method: dict, baseline: dict, metric: str) -> list[dict]:
    """BD of `method` over `baseline` on each image both measured: every image's points at the rate
    points of each method's mean Pareto front (`rd.bd` then keeps each image's own Pareto part)."""
    from sandwich.evaluation.rd import bd, pareto_front
    from sandwich.evaluation.rd import curve as rd_curve

    def image_curves(document: dict) -> dict[str, tuple]:
        on_front = set(zip(*pareto_front(*rd_curve(document, metric))))
        front = {p["rate_point"] for p in document["curve"] if (p["bpp"], p.get(metric)) in on_front}
        points: dict[str, list] = {}
        for row in document["per_image"]:
            if row["rate_point"] in front and row.get(metric) is not None:
                points.setdefault(row["image"], []).append((row["bpp"], row[metric]))
        return {image: tuple(np.array(v, float) for v in zip(*sorted(pts))) for image, pts in points.items()}

    ours, theirs = image_curves(method), image_curves(baseline)
    rows = []
    for image in sorted(set(ours) & set(theirs)):
        result = bd(theirs[image], ours[image])
        rows.append({"image": image, "bd_quality": result.bd_quality, "bd_rate": result.bd_rate,
                     "rate_overlap": result.rate_overlap, "note": result.note})  # fmt: skip
    return rows


def per_image_markdown(rows: list[dict], metric: str) -> str:
    lines = [f"| image | BD-{metric} | BD-rate | rate overlap (bpp) |", "|---|---:|---:|---|"]
    for r in rows:
        quality = "—" if r["bd_quality"] is None else f"{r['bd_quality']:+.2f}"
        rate = "—" if r["bd_rate"] is None else f"{r['bd_rate']:+.1f}%"
        overlap = r["note"] if r["rate_overlap"] is None else f"{r['rate_overlap'][0]:.2f}–{r['rate_overlap'][1]:.2f}"
        lines.append(f"| {r['image']} | {quality} | {rate} | {overlap} |")
    values = [r["bd_quality"] for r in rows if r["bd_quality"] is not None]
    if values:
        lines.append(f"\nBD-{metric} per image: median {np.median(values):+.2f}, min {min(values):+.2f}, "
                     f"max {max(values):+.2f} over {len(values)} of {len(rows)} images")  # fmt: skip
    return "\n".join(lines)


def markdown(rows: list[dict], metric: str) -> str:
    ldr = any("below_ldr_line_db" in r for r in rows)
    head = f"| rate point | bpp (baseline bpp) | {metric} | gain (dB) |" + (" below the LDR line (dB) |" if ldr else "")
    lines = [head, "|---" * (5 if ldr else 4) + "|"]
    for r in rows:
        line = f"| {r['rate_point']} | {r['bpp']:.2f} ({r['baseline_bpp']:.2f}) | {r[metric]:.2f} | {r['gain_db']:+.2f} |"
        lines.append(line + (f" {r['below_ldr_line_db']:.2f} |" if ldr else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method")
    parser.add_argument("baseline")
    parser.add_argument("--task", default="hdr")
    parser.add_argument("--metric", default="psnr")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--bd", action="store_true", help="BD-PSNR and BD-rate over the overlap, as the bench table")
    parser.add_argument("--bd-range", type=float, nargs=2, metavar=("LO", "HI"), help="BD over this bpp interval")
    parser.add_argument("--at", type=float, nargs="+", default=[], metavar="BPP", help="gains at these rates")
    parser.add_argument("--per-image", action="store_true", help="BD per test image")
    parser.add_argument("--mixed-images", action="store_true",
                        help="compare curves measured on different image sets anyway, under a warning")  # fmt: skip
    args = parser.parse_args(argv)
    documents = {name: _document(args.results, args.task, name) for name in (args.baseline, args.method)}
    warning = check_images(documents, args.mixed_images, args.per_image)
    if warning:
        print(warning + "\n")
    if args.per_image:
        pair = [documents[name] for name in (args.method, args.baseline)]
        print(per_image_markdown(per_image_bd(*pair, args.metric), args.metric))
        return
    if args.bd or args.bd_range or args.at:
        from sandwich.evaluation.rd import bd_quality_over, bd_table, front_quality_at
        from sandwich.evaluation.rd import curve as rd_curve

        test, anchor = (rd_curve(documents[name], args.metric) for name in (args.method, args.baseline))
        if args.bd:  # the bench's own table row
            print(bd_table(documents, args.baseline, args.metric))
        if args.bd_range:
            try:
                print(f"BD-{args.metric} over {args.bd_range[0]:g}–{args.bd_range[1]:g} bpp: "
                      f"{bd_quality_over(anchor, test, tuple(args.bd_range)):+.3f}")  # fmt: skip
            except ValueError as error:
                parser.error(str(error))
        for rate in args.at:
            levels = [front_quality_at(points, rate) for points in (test, anchor)]
            if None in levels:
                parser.error(f"{rate:g} bpp lies outside a curve's Pareto front")
            print(f"gain at {rate:g} bpp: {levels[0] - levels[1]:+.3f} ({args.method} {levels[0]:.3f}, "
                  f"{args.baseline} {levels[1]:.3f})")  # fmt: skip
        return
    method, baseline = ({str(p["rate_point"]): p for p in documents[name]["curve"]} for name in (args.method, args.baseline))
    rows = gain_rows(method, baseline, args.metric)
    if not rows:
        raise SystemExit(f"{args.method} and {args.baseline} share no rate point with {args.metric}")
    print(markdown(rows, args.metric))


if __name__ == "__main__":
    main()
