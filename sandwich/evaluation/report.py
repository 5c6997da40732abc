"""The bench's report: RD plots, BD tables and the README block between the bench markers,
and README's codec example picture."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from sandwich.core.images import list_images, load_hdr16
from sandwich.evaluation import rd
from sandwich.evaluation.registry import build_method

PLOTS = {
    "hdr": [("psnr", "RGB PSNR, peak 65535 (dB)"), ("pu_psnr", "PU21-PSNR (dB)"), ("pu_ssim", "PU21-SSIM")],
    "sr": [("psnr", "RGB PSNR, peak 255 (dB)"), ("ms_ssim", "MS-SSIM")],
}
BD_METRICS = {"hdr": [("psnr", "dB"), ("pu_psnr", "dB")], "sr": [("psnr", "dB")]}
MARKERS = ("<!-- bench:begin -->", "<!-- bench:end -->")


def summarise(
    task: str, folder: Path, anchor: str, methods: list[str], everything: dict[str, dict], groups: dict[str, list[str]] | None = None
) -> str:
    """Plots and BD tables of one task from its loaded results (`rd.load_results(folder)`);
    returns the Markdown section. The plots have one panel per method group (`groups`: name ->
    methods, conf/bench.yaml), each with the anchor for reference."""
    results = {m: everything[m] for m in methods if m in everything}
    lines = [f"### {task.upper()} ({len(next(iter(results.values()))['dataset']['images'])} images)", ""]
    hline = None
    if task == "hdr":
        sat = [r["ldr_saturation_psnr"] for r in results[anchor]["per_image"] if r["rate_point"] == results[anchor]["rate_points"][0]]
        hline = (sum(sat) / len(sat), f"LDR saturation ({sum(sat) / len(sat):.2f} dB)")
    for metric, label in PLOTS[task]:
        if not any(rd.rd_has(r, metric) for r in results.values()):
            continue
        rd.plot_rd_groups(
            results, metric, folder / f"rd_{metric}.png", groups, anchor, f"{task.upper()} test set (mean over images)", label,
            hline if metric == "psnr" else None,
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
    method = build_method(method_name)
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
