"""Score shipped sandwich checkpoints on the validation split that training carves from the train
folder, never the test set: `python -m sandwich.tools.validate FILE.pt [...] [--factors 2 1.4 1 0.7]`.

The split and its centre crops are the training runs' own (conf/data/<task>_train.yaml, seed 0).
Each file codes them as `make bench` codes the test images: `sandwich_<task>_jpeg`'s codec (with
the file's own step tables) at Δ′ = round(f·learned Δ), the project header inside; one line per
point gives the rate of the whole files and the PSNR. Comparing checkpoints or schedules this way,
at equal rate, leaves the test set to `make bench`. `--reference OLD.pt ...`
adds each point's gain over the reference files' Pareto front at the same rate (pchip in log rate;
blank outside its range), and a last line the BD-PSNR and BD-rate of all given files' Pareto front
against the reference front (as the bench's front would move if the files replaced the
references). `--heic Q ...` codes the same bottlenecks with 8-bit HEIC at those
qualities instead, with `sandwich_<task>_heic`'s codec, since the same weights serve both codecs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from sandwich.core.domains import DOMAINS
from sandwich.core.images import load_for_domain
from sandwich.core.paths import CONF_DIR, PROJECT_ROOT
from sandwich.evaluation.metrics import psnr
from sandwich.evaluation.rd import bd, front_quality_at
from sandwich.evaluation.registry import method_config
from sandwich.methods.sandwich.method import SandwichMethod
from sandwich.methods.sandwich.model import load_sandwich
from sandwich.training.data import CropDataset, ImageFolderData


def validation_crops(
    task: str, root: str | None = None, seed: int = 0, val_images: list[str] | None = None
) -> tuple[list[str], list[np.ndarray]]:
    """(image names, H×W×3 integer crops) of the validation split a `task` training run sees
    (`val_images`: a run's `data.val_images`)."""
    data = OmegaConf.load(CONF_DIR / "data" / f"{task}_train.yaml")
    paths = OmegaConf.load(CONF_DIR / "paths" / "default.yaml")
    data = OmegaConf.to_container(OmegaConf.merge({"seed": seed, "paths": paths}, {"data": data}), resolve=True)["data"]
    data.pop("_target_")
    module = ImageFolderData(**{**data, "root": root or data["root"], "val_images": val_images or data.get("val_images")})
    paths, _ = module.split()
    crops = CropDataset([load_for_domain(p, module.domain, module.scaling) for p in paths], module.val_crop, train=False)
    dtype = DOMAINS[module.domain][0]
    images = [crops[i].permute(1, 2, 0).round().numpy().astype(dtype) for i in range(len(crops))]
    return [p.name for p in paths], images


def file_method(
    path: str | Path, factors: list[float], heic: list[int] | None = None, tables: tuple[float, float] | None = None
) -> SandwichMethod:
    """One shipped file as the bench codes it: `sandwich_<task>_jpeg`'s codec, or for a file that
    `sandwich_<task>_jpeg_light` holds that method's codec and runtime (with the step tables
    the file trained through, as for every model) swept over Δ′ = round(f·learned Δ), or
    `sandwich_<task>_heic`'s at the qualities in `heic`. `tables` = (tilt, chroma) codes the JPEG
    with other tables than the file trained through instead (a what-if: the networks are unchanged)."""
    from hydra.utils import instantiate

    model, meta = load_sandwich(path)
    name = f"sandwich_{model.task}_{'heic' if heic else 'jpeg'}"
    config = method_config(name)
    keys = {(PROJECT_ROOT / p).resolve(): k for k, p in config.checkpoints.items()}
    if not heic and Path(path).resolve() not in keys:  # a light file codes as its light method (its runtime)
        light = method_config(f"{name}_light")
        light_keys = {(PROJECT_ROOT / p).resolve(): k for k, p in light.checkpoints.items()}
        if Path(path).resolve() in light_keys:
            name, config, keys = f"{name}_light", light, light_keys
    # the header carries the model key (a few bytes): the bench's key for a file it holds, else one like them
    key = keys.get(Path(path).resolve(), f"lambda_{meta.get('lmbda', 0):g}")
    return SandwichMethod(
        name, instantiate(config.codec, _convert_="all"),
        {key: str(Path(path).resolve())}, step_factors=None if heic else factors, settings=heic, tables=tables,
        runtime=config.get("runtime", "torch"),
    )  # fmt: skip


def score(method: SandwichMethod, images: list[np.ndarray]) -> list[dict]:
    """One row per rate point of a one-file method: bpp of the whole files (header included) and
    their mean PSNR, decoded as the bench decodes them."""
    (key, model), = method.models.items()
    pixels = sum(image.shape[0] * image.shape[1] for image in images)
    bits, psnrs = dict.fromkeys(method.rate_points, 0), {point: [] for point in method.rate_points}
    for image in images:  # image by image, so that the method's cached bottleneck serves every point
        for point in method.rate_points:
            data = method.encode(image, point)
            bits[point] += 8 * len(data)
            psnrs[point].append(psnr(image, method.decode(data), model.peak))
    setting = "quality" if method.codec.rate_param == "quality" else "step"
    return [
        {"lmbda": method.meta[key].get("lmbda"), setting: int(point.partition("/")[2]), "bpp": bits[point] / pixels,
         "psnr": float(np.mean(psnrs[point]))}
        for point in method.rate_points
    ]  # fmt: skip


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
    parser.add_argument(
        "--tables", type=float, nargs=2, metavar=("TILT", "CHROMA"),
        help="code the given files (not the reference) with these step tables instead of their own, without retraining",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    methods = {path: file_method(path, args.factors, args.heic, args.tables) for path in args.checkpoints}
    references = [file_method(path, args.factors, args.heic) for path in args.reference]
    tasks = {method.task for method in (*methods.values(), *references)}
    if len(tasks) != 1:
        parser.error(f"the files mix tasks {sorted(tasks)}")
    names, images = validation_crops(tasks.pop(), args.root, val_images=args.val_images)
    print(f"validation split: {', '.join(names)} (centre crops up to {images[0].shape[0]}²)")
    reference = [row for method in references for row in score(method, images)]
    front = (np.array([r["bpp"] for r in reference]), np.array([r["psnr"] for r in reference]))
    rows = []
    for path, method in methods.items():
        for row in score(method, images):
            rows.append(row)
            gain = gain_over(front, row) if reference else None
            versus = "" if gain is None else f"  {gain:+.3f} dB vs the reference at equal rate"
            setting = f"q={row['quality']:>3}" if args.heic else f"Δ′={row['step']:>3}"
            print(f"  {path}  λ={row['lmbda']}  {setting}  {row['bpp']:.4f} bpp  {row['psnr']:.3f} dB{versus}")
    if reference:
        print(front_summary(front, rows))


def front_summary(reference: tuple[np.ndarray, np.ndarray], rows: list[dict]) -> str:
    """BD-PSNR and BD-rate of the rows' Pareto front against the reference front."""
    result = bd(reference, (np.array([r["bpp"] for r in rows]), np.array([r["psnr"] for r in rows])))
    if result.bd_quality is None:
        return f"front vs the reference front: no BD ({result.note})"
    rate = "" if result.bd_rate is None else f", BD-rate {result.bd_rate:+.2f} %"
    low, high = result.rate_overlap
    return f"front vs the reference front: BD-PSNR {result.bd_quality:+.3f} dB{rate} over {low:.3f}–{high:.3f} bpp"


if __name__ == "__main__":
    main()
