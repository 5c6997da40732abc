"""`make bench`: every method in conf/bench.yaml on the shared test sets, then plots and BD tables.

Writes results/<task>/<method>.json, results/<task>/rd_*.png, results/<task>/bd_*.md,
results/bench_meta.json, and the tables (with the measured run time, and the verdict on each
`targets` entry of conf/bench.yaml) into README.md between the `<!-- bench:begin -->` /
`<!-- bench:end -->` markers.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import hydra
import numpy as np
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sandwich import rd
from sandwich.eval import run

PLOTS = {
    "hdr": [("psnr", "RGB PSNR, peak 65535 (dB)"), ("pu_psnr", "PU21-PSNR (dB)"), ("pu_ssim", "PU21-SSIM")],
    "sr": [("psnr", "RGB PSNR, peak 255 (dB)"), ("ms_ssim", "MS-SSIM")],
}
BD_METRICS = {"hdr": [("psnr", "dB"), ("pu_psnr", "dB")], "sr": [("psnr", "dB")]}
MARKERS = ("<!-- bench:begin -->", "<!-- bench:end -->")
XLIM = {"hdr": (0, 16), "sr": (0, 4)}  # bpp shown; points beyond stay in the JSON and BD tables


def summarise(task: str, folder: Path, anchor: str, methods: list[str], everything: dict[str, dict]) -> str:
    """Plots and BD tables of one task from its loaded results (`rd.load_results(folder)`);
    returns the Markdown section."""
    results = {m: everything[m] for m in methods if m in everything}
    lines = [f"### {task.upper()} ({len(next(iter(results.values()))['dataset']['images'])} images)", ""]
    hline = None
    if task == "hdr":
        sat = [r["ldr_saturation_psnr"] for r in results[anchor]["per_image"] if r["rate_point"] == results[anchor]["rate_points"][0]]
        hline = (sum(sat) / len(sat), f"LDR saturation ({sum(sat) / len(sat):.2f} dB)")
    for metric, label in PLOTS[task]:
        if not any(rd.curve(r, metric)[0].size for r in results.values()):
            continue
        rd.plot_rd(
            results, metric, folder / f"rd_{metric}.png", f"{task.upper()} test set (mean over images)", label,
            hline if metric == "psnr" else None, xlim=XLIM[task],
        )  # fmt: skip
        lines.append(f"![{task} {metric}](results/{task}/rd_{metric}.png)")
    lines.append("")
    for metric, unit in BD_METRICS[task]:
        table = rd.bd_table(results, anchor, metric, unit)
        (folder / f"bd_{metric}.md").write_text(table + "\n")
        lines += [f"BD against `{anchor}` on {metric}:", "", table, ""]
    if hline:
        lines.append(f"LDR saturation (top 8 bits lossless, midpoint): {hline[0]:.2f} dB mean over the images.")
    return "\n".join(lines)


def splice_readme(readme: Path, body: str) -> None:
    if not readme.is_file():
        return
    text = readme.read_text()
    start, end = text.find(MARKERS[0]), text.find(MARKERS[1])
    if start < 0 or end < start:
        return
    readme.write_text(text[: start + len(MARKERS[0])] + "\n" + body + "\n" + text[end:])


def codec_example(method_name: str, data_root: Path, out: Path) -> Path:
    """README's picture: the first HDR test image, the sandwich file as any JPEG viewer shows it
    (the 8-bit bottleneck), and the sandwich decode of the same file; the two HDR images are shown
    by their PQ code values' top 8 bits (PQ as a display curve, the same view for both)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from hydra.utils import instantiate
    from PIL import Image

    from sandwich.images import list_images, load_hdr16

    method = instantiate(compose(config_name="eval", overrides=[f"method={method_name}"]).method, _convert_="all")
    path = list_images(data_root / "hdr" / "test")[0]
    source = load_hdr16(path)
    point = method.rate_points[len(method.rate_points) // 2]
    data = method.encode(source, point)
    with Image.open(io.BytesIO(data)) as viewer:
        shown = np.asarray(viewer.convert("RGB"))
    decoded = method.decode(data)
    bpp = 8 * len(data) / (source.shape[0] * source.shape[1])
    panels = [
        ((source >> 8).astype(np.uint8), f"source {path.name} (PQ, top 8 bits)"),
        (shown, f"the {len(data) // 1024} KiB file in a plain JPEG viewer"),
        ((decoded >> 8).astype(np.uint8), f"sandwich decode of that file, {bpp:.2f} bpp (PQ, top 8 bits)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 5 * source.shape[0] / source.shape[1] + 0.6))
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(image)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{method_name} at {method.rate_param}={point}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


@hydra.main(config_path="../conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    results = Path(cfg.results_dir)
    meta_path = results / "bench_meta.json"
    logger_choice = HydraConfig.get().runtime.choices.logger
    group = f"bench-{time.strftime('%Y%m%d-%H%M%S')}"
    if not cfg.plot_only:
        timings = {}
        for task, spec in cfg.tasks.items():
            for name in spec.methods:
                if cfg.only and name not in cfg.only:
                    continue
                overrides = [
                    f"method={name}",
                    f"data.root={Path(cfg.data_root) / task / 'test'}",
                    f"output_dir={results / task}",
                    f"workers={cfg.workers}",
                    f"cvvdp_images={cfg.cvvdp_images}",
                    f"anchor={spec.anchor}",
                    f"logger={logger_choice}",
                ]
                if logger_choice == "wandb":
                    overrides.append(f"logger.group={group}")
                t0 = time.perf_counter()
                run(compose(config_name="eval", overrides=overrides))
                timings[f"{task}/{name}"] = round(time.perf_counter() - t0, 1)
    # read after the runs: two `only=` benches run side by side then keep each other's timings
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if not cfg.plot_only:
        meta.update(
            method_wall_s={**meta.get("method_wall_s", {}), **timings},
            cores=os.cpu_count(),
            machine=platform.platform(),
            finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        # methods run one after another: the bench's time is the sum, also after an `only=` rerun
        listed = {f"{task}/{name}" for task, spec in cfg.tasks.items() for name in spec.methods}
        meta["wall_s"] = round(sum(t for k, t in meta["method_wall_s"].items() if k in listed), 1)
        results.mkdir(parents=True, exist_ok=True)
        if cfg.example_method and (not cfg.only or cfg.example_method in cfg.only):
            codec_example(cfg.example_method, Path(cfg.data_root), results / "hdr" / "codec_example.png")
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    loaded = {task: rd.load_results(results / task) for task in cfg.tasks}
    sections = [
        summarise(task, results / task, spec.anchor, list(spec.methods), loaded[task]) for task, spec in cfg.tasks.items()
    ]
    if cfg.targets:
        every_task = {name: res for by_name in loaded.values() for name, res in by_name.items()}
        sections.append("### Targets (BD-PSNR over the curves' overlap)\n\n" + rd.target_table(every_task, list(cfg.targets)))
    minutes = f"{meta['wall_s'] / 60:.1f} min" if meta.get("wall_s") else "not measured"
    body = (
        f"Measured `make bench` run time (sum of the per-method evaluation times, venv present): **{minutes}** on "
        f"{meta.get('cores', '?')} cores ({meta.get('finished', '')}).\n\n" + "\n\n".join(sections)
    )
    (results / "summary.md").write_text(body.replace("](results/", "](") + "\n")
    splice_readme(Path(cfg.readme), body)
    print(body)


if __name__ == "__main__":
    main()
