"""Does a rate surrogate see what the real JPEG's size does? `python -m sandwich.tools.surrogate_check FILE.pt`.

Training moves the bottleneck B where the loss's gradient points; the rate term only restrains
that move as much as the surrogate's gradient predicts the real file grows. This takes a shipped
sandwich and its validation crops (never the test set) at the learned Δ, moves B by `eps` grey
levels (RMS per crop) along the distortion's descent direction, measures the real JPEG's change
by central difference, (R(B+d) − R(B−d))/2, and prints beside it each surrogate's first-order
prediction (a·∇S)·d, with `a` fitted to the real size as in training (`sandwich.methods.sandwich.proxy`).
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

from sandwich.methods.sandwich.model import Sandwich, load_sandwich
from sandwich.methods.sandwich.proxy import RATE_INPUTS, fitted_rate

NOISE_DRAWS = 4  # the noisy surrogate's gradient, averaged over this many draws


def distortion_direction(
    model: Sandwich, source: torch.Tensor, step: torch.Tensor, bottleneck: torch.Tensor
) -> torch.Tensor:
    """−∂MSE/∂B through the proxy and the post-processor, per crop scaled to RMS 1."""
    b = bottleneck.clone().requires_grad_(True)
    decoded, _ = model.proxy(b, step)
    mse = (model.reconstruct(decoded, source.shape[-2:]) - source).square().flatten(1).mean(1).sum()
    (grad,) = torch.autograd.grad(mse, b)
    return -grad / grad.square().flatten(1).mean(1).sqrt().clamp_min(1e-12)[:, None, None, None]


def surrogate_gradient(
    model: Sandwich, bottleneck: torch.Tensor, step: torch.Tensor, rate_input: str, real_bits: torch.Tensor
) -> torch.Tensor:
    """∂R/∂B of the fitted rate (value: the real bits) with the surrogate counting `rate_input`."""
    proxy = copy.deepcopy(model.proxy)  # the model's own proxy keeps its setting and mode
    proxy.rate_input = rate_input
    proxy.train()  # the noisy input draws its noise only in training mode
    draws = NOISE_DRAWS if rate_input == "noisy" else 1
    total = torch.zeros_like(bottleneck)
    for _ in range(draws):
        b = bottleneck.clone().requires_grad_(True)
        _, coefficients = proxy(b, step)
        rate = fitted_rate(coefficients, proxy.coefficient_steps(step), real_bits)
        total += torch.autograd.grad(rate.sum(), b)[0] / draws
    return total


def check(model: Sandwich, images: list[np.ndarray], eps: float = 1.0, seed: int = 0) -> dict[str, float]:
    """Mean bits per crop: `real` (central difference of the real JPEG along the distortion's descent
    direction, `eps` grey levels RMS) and each rate input's first-order prediction."""
    torch.manual_seed(seed)
    source = torch.stack([torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1) for image in images])
    step = model.proxy.step.detach()
    with torch.no_grad():
        bottleneck = model.bottleneck(source)
    move = eps * distortion_direction(model, source, step, bottleneck)
    real_bits = model.proxy.real_bits(bottleneck, step.item())
    change = (model.proxy.real_bits(bottleneck + move, step.item()) - model.proxy.real_bits(bottleneck - move, step.item())) / 2
    row = {"real": float(change.mean())}
    for rate_input in RATE_INPUTS:
        grad = surrogate_gradient(model, bottleneck, step, rate_input, real_bits)
        row[rate_input] = float((grad * move).flatten(1).sum(1).mean())
    return row


def main(argv: list[str] | None = None) -> None:
    from sandwich.tools.validate import validation_crops

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="shipped sandwich .pt files")
    parser.add_argument("--crop", type=int, default=256, help="top-left crop of each validation image")
    parser.add_argument("--eps", type=float, nargs="+", default=[0.5, 1.0, 2.0], help="move, grey levels RMS")
    args = parser.parse_args(argv)
    for path in args.checkpoints:
        model, meta = load_sandwich(path)
        _, images = validation_crops(model.task)
        images = [image[: args.crop, : args.crop] for image in images]
        for eps in args.eps:
            row = check(model, images, eps)
            predicted = "  ".join(f"{k} {row[k]:+8.1f}" for k in RATE_INPUTS)
            print(f"{path}  Δ={meta['learned_step']:.2f}  eps {eps}: real {row['real']:+8.1f} bits/crop;  predicted: {predicted}")


if __name__ == "__main__":
    main()
