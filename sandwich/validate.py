"""Score shipped sandwich checkpoints on the validation split that training carves from the train
folder, never the test set: `python -m sandwich.validate FILE.pt [...] [--factors 2 1.4 1 0.7]`.

The split and its centre crops are the training runs' own (conf/data/<task>_train.yaml, seed 0).
Each file codes them with the real JPEG (its own step tables) at Δ′ = round(f·learned Δ), as its
validation does; one line per point gives the rate of the whole files and the PSNR. Comparing checkpoints or
schedules this way, at equal rate, leaves the test set to `make bench`. `--reference OLD.pt ...`
adds each point's gain over the reference files' Pareto front at the same rate (pchip in log rate;
blank outside its range). `--heic Q ...` codes the same bottlenecks with 8-bit HEIC at those
qualities instead, as `sandwich_<task>_heic` does, since the same weights serve both codecs.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from omegaconf import OmegaConf

from sandwich import checkpoint
from sandwich.codecs.base import DOMAINS
from sandwich.codecs.heic import HEIC
from sandwich.codecs.jpeg import decode_jpeg8
from sandwich.data import CropDataset, ImageFolderData
from sandwich.images import load_for_domain
from sandwich.method import swept_steps
from sandwich.metrics import psnr
from sandwich.model import Sandwich
from sandwich.rd import front_quality_at


def validation_crops(
    task: str, root: str | None = None, seed: int = 0, val_images: list[str] | None = None
) -> tuple[list[str], list[np.ndarray]]:
    """(image names, H×W×3 integer crops) of the validation split a `task` training run sees
    (`val_images`: a run's `data.val_images`)."""
    data = OmegaConf.load(checkpoint.PROJECT_ROOT / "conf" / "data" / f"{task}_train.yaml")
    data = OmegaConf.to_container(OmegaConf.merge({"seed": seed}, {"data": data}), resolve=True)["data"]
    data.pop("_target_")
    module = ImageFolderData(**{**data, "root": root or data["root"], "val_images": val_images or data.get("val_images")})
    paths, _ = module.split()
    crops = CropDataset([load_for_domain(p, module.domain, module.scaling) for p in paths], module.val_crop, train=False)
    dtype = DOMAINS[module.domain][0]
    images = [crops[i].permute(1, 2, 0).round().numpy().astype(dtype) for i in range(len(crops))]
    return [p.name for p in paths], images


# the colour handling of the HEIC that `sandwich_<task>_heic` codes the bottleneck with
# (conf/method/sandwich_hdr_heic.yaml: heic_rgb; sandwich_sr_heic.yaml: heic)
HEIC_RGB = {"hdr": True, "sr": False}


def score(model: Sandwich, meta: dict, images: list[np.ndarray], factors: list[float], heic: list[int] | None = None) -> list[dict]:
    """One row per Δ′ = round(f·learned Δ), or per HEIC quality in `heic`: bpp of the real files
    and their mean PSNR."""
    if heic:
        codec = HEIC(bits=8, rgb=HEIC_RGB[model.task])
        key, settings, encode, decode = "quality", heic, codec.encode, codec.decode
    else:  # the proxy's own tables and colour handling, as training validation codes them
        key, settings, encode, decode = "step", swept_steps(meta["learned_step"], factors), model.proxy.encode, decode_jpeg8
    bottlenecks = [model.encode_image(image) for image in images]  # one pre-processor pass per image
    pixels = sum(image.shape[0] * image.shape[1] for image in images)
    rows = []
    for setting in settings:
        bits, psnrs = 0, []
        for image, bottleneck in zip(images, bottlenecks):
            data = encode(bottleneck, setting)
            restored = model.decode_image(decode(data), *image.shape[:2], image.dtype)
            bits += 8 * len(data)
            psnrs.append(psnr(image, restored, model.peak))
        rows.append({"lmbda": meta.get("lmbda"), key: setting, "bpp": bits / pixels, "psnr": float(np.mean(psnrs))})
    return rows


def gain_over(front: tuple[np.ndarray, np.ndarray], row: dict) -> float | None:
    """The row's PSNR minus the reference front (bpp, PSNR arrays) at the row's rate; None outside
    the front's rate range."""
    level = front_quality_at(front, row["bpp"])
    return None if level is None else row["psnr"] - level


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="shipped sandwich .pt files of one task")
    parser.add_argument("--factors", type=float, nargs="+", default=[2.0, 1.4, 1.0, 0.7, 0.5])
    parser.add_argument("--root", help="train folder (default: conf/data/<task>_train.yaml's)")
    parser.add_argument("--val-images", nargs="+", metavar="NAME", help="the runs' data.val_images (default: the seeded carve)")
    parser.add_argument("--reference", nargs="+", default=[], help="files whose Pareto front each point is compared with")
    parser.add_argument("--heic", type=int, nargs="+", metavar="Q", help="8-bit HEIC at these qualities instead of JPEG")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    models = {path: checkpoint.load(path) for path in args.checkpoints}
    references = {path: checkpoint.load(path) for path in args.reference}
    tasks = {model.task for model, _ in (*models.values(), *references.values())}
    if len(tasks) != 1:
        parser.error(f"the files mix tasks {sorted(tasks)}")
    names, images = validation_crops(tasks.pop(), args.root, val_images=args.val_images)
    print(f"validation split: {', '.join(names)} (centre crops up to {images[0].shape[0]}²)")
    reference = [row for model, meta in references.values() for row in score(model, meta, images, args.factors, args.heic)]
    front = (np.array([r["bpp"] for r in reference]), np.array([r["psnr"] for r in reference]))
    for path, (model, meta) in models.items():
        for row in score(model, meta, images, args.factors, args.heic):
            gain = gain_over(front, row) if reference else None
            versus = "" if gain is None else f"  {gain:+.3f} dB vs the reference at equal rate"
            setting = f"q={row['quality']:>3}" if args.heic else f"Δ′={row['step']:>3}"
            print(f"  {path}  λ={row['lmbda']}  {setting}  {row['bpp']:.4f} bpp  {row['psnr']:.3f} dB{versus}")

if __name__ == "__main__":
    main()
