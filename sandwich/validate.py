"""Score shipped sandwich checkpoints on the validation split that training carves from the train
folder, never the test set: `python -m sandwich.validate FILE.pt [...] [--factors 2 1.4 1 0.7]`.

The split and its centre crops are the training runs' own (conf/data/<task>_train.yaml, seed 0).
Each file codes them with the real flat-table JPEG at Δ′ = round(f·learned Δ), as its validation
does; one line per point gives the rate of the whole files and the PSNR. Comparing checkpoints or
schedules this way, at equal rate, leaves the test set to `make bench`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from sandwich import checkpoint
from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8
from sandwich.data import CropDataset, ImageFolderData
from sandwich.images import load_for_domain
from sandwich.metrics import psnr

CONF = Path(__file__).resolve().parents[1] / "conf"
_DTYPE = {"hdr": np.uint16, "sr": np.uint8}


def validation_crops(task: str, root: str | None = None, seed: int = 0) -> tuple[list[str], list[np.ndarray]]:
    """(image names, H×W×3 integer crops) of the validation split a `task` training run sees."""
    data = OmegaConf.load(CONF / "data" / f"{task}_train.yaml")
    data = OmegaConf.to_container(OmegaConf.merge({"seed": seed}, {"data": data}), resolve=True)["data"]
    data.pop("_target_")
    module = ImageFolderData(**{**data, "root": root or data["root"]})
    paths, _ = module.split()
    crops = CropDataset([load_for_domain(p, module.domain, module.scaling) for p in paths], module.val_crop, train=False)
    dtype = _DTYPE[task]
    images = [crops[i].permute(1, 2, 0).round().numpy().astype(dtype) for i in range(len(crops))]
    return [p.name for p in paths], images


def score(path: str | Path, images: list[np.ndarray], factors: list[float]) -> list[dict]:
    """One row per Δ′ = round(f·learned Δ): bpp of the real JPEG files and their mean PSNR."""
    model, meta = checkpoint.load(path)
    dtype, peak = images[0].dtype, model.peak
    rows = []
    for step in sorted({max(1, round(meta["learned_step"] * f)) for f in factors}, reverse=True):
        bits, pixels, psnrs = 0, 0, []
        for image in images:
            data = encode_jpeg8(model.encode_image(image), flat_step=step, keep_rgb=model.proxy.colour == "rgb")
            restored = model.decode_image(decode_jpeg8(data), *image.shape[:2], dtype)
            bits, pixels = bits + 8 * len(data), pixels + image.shape[0] * image.shape[1]
            psnrs.append(psnr(image, restored, peak))
        rows.append({"file": str(path), "lmbda": meta.get("lmbda"), "step": step,
                     "bpp": bits / pixels, "psnr": float(np.mean(psnrs))})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="shipped sandwich .pt files of one task")
    parser.add_argument("--factors", type=float, nargs="+", default=[2.0, 1.4, 1.0, 0.7, 0.5])
    parser.add_argument("--root", help="train folder (default: conf/data/<task>_train.yaml's)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    task = checkpoint.load(args.checkpoints[0])[0].task
    names, images = validation_crops(task, args.root)
    print(f"{task} validation split: {', '.join(names)} (centre crops up to {images[0].shape[0]}²)")
    for path in args.checkpoints:
        for row in score(path, images, args.factors):
            print(f"  {row['file']}  λ={row['lmbda']}  Δ′={row['step']:>3}  {row['bpp']:.4f} bpp  {row['psnr']:.3f} dB")


if __name__ == "__main__":
    main()
