"""The sandwich: pre-processor -> bottleneck -> (proxy or real) 8-bit codec -> post-processor.

HDR (16-bit source, 8-bit codec): the pre-processor works in the 16-bit scale; its output is
floored by 256 (straight-through) into the bottleneck, which the codec clips to [0, 255]; the
post-processor starts from 256·B̂ + 128 (truncation's midpoint) and adds its correction.
SR (2× resolution): the pre-processor works at full resolution, then antialiased bicubic 2× down
is the bottleneck; the post-processor starts from a Lanczos-3 2× upsample of the decoded image.

Deviation from the paper (stated): both processors are residual, x + MLP(x̃) + s·UNet(x̃), with
the MLP's last layer zero-initialised, so the untrained model is exactly the truncation (HDR) or
bicubic/Lanczos (SR) baseline and training never starts from a garbage bottleneck.
With `post_only` there is no pre-processor: the bottleneck is the baseline's (the ablation).

`colour_skip` (a second stated deviation, for the HDR sandwich whose codec codes R, G and B as
they come): `fixed` is the identity skip above; `identity` adds a learned linear 1×1 colour map to
both processors, starting at zero (the baseline); `ycbcr` starts that map at JPEG's full-range
BT.601 YCbCr transform in the pre-processor and its inverse in the post-processor, so the
untrained bottleneck is the source's YCbCr (offset 128) and the codec's three channels are
decorrelated from step 0. Both maps keep training with the networks. Why: 5000 training steps from
`fixed` reached +0.95 dB BD-PSNR over flat-table RGB truncation, about what JPEG's own fixed
YCbCr buys (`truncation_jpeg_flat_ycbcr`, docs/methods.md, the sandwich's deviations).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torch import nn

from sandwich.codecs.jpeg import decode_jpeg8
from sandwich.core.domains import TASKS
from sandwich.methods import checkpoint
from sandwich.methods.determinism import inference_threads
from sandwich.methods.precision import bf16_autocast
from sandwich.methods.sandwich import nets
from sandwich.methods.sandwich.nets import Processor
from sandwich.methods.sandwich.onnx_runtime import OnnxBody
from sandwich.methods.sandwich.proxy import (
    RGB_TO_YCBCR,
    JPEGProxy,
    ste_floor,
    to_uint8_images,
)
from sandwich.methods.sandwich.resample import bicubic_down, lanczos_up

COLOUR_SKIPS = ("fixed", "identity", "ycbcr")


class Sandwich(nn.Module):
    def __init__(
        self,
        task: str = "hdr",
        pre: dict | None = None,
        post: dict | None = None,
        step_init: float = 4.0,
        colour: str = "rgb",
        post_only: bool = False,
        colour_skip: str = "fixed",
        tilt: float = 0.0,
        chroma: float = 1.0,
        rate_input: str = "quantized",
    ):
        super().__init__()
        # what a shipped checkpoint records to rebuild this network (sandwich.methods.checkpoint)
        self.args = {"task": task, "pre": pre, "post": post, "step_init": step_init, "colour": colour, "post_only": post_only,
                     "colour_skip": colour_skip, "tilt": tilt, "chroma": chroma, "rate_input": rate_input}  # fmt: skip
        if task not in TASKS:
            raise ValueError(f"task must be 'hdr' or 'sr', got {task!r}")
        if colour_skip not in COLOUR_SKIPS:
            raise ValueError(f"colour_skip must be one of {COLOUR_SKIPS}, got {colour_skip!r}")
        if colour_skip == "ycbcr" and post_only:
            raise ValueError("colour_skip='ycbcr' needs a pre-processor: post-only's bottleneck is the baseline's RGB")
        self.task, self.peak = task, float(TASKS[task].peak)
        self.bf16 = False  # autocast while training; the LightningModule decides (training.precision)
        self.unet_bodies: dict[str, OnnxBody] = {}  # ONNX Runtime per processor at inference (use_onnxruntime)
        linear = colour_skip != "fixed"
        # post-only ablation: no pre-processor, the bottleneck is the plain baseline's
        self.pre = None if post_only else Processor(**{"zero_init": True, "linear": linear, **(pre or {})})
        self.post = Processor(**{"zero_init": True, "linear": linear, **(post or {})})
        self.proxy = JPEGProxy(step_init=step_init, colour=colour, tilt=tilt, chroma=chroma, rate_input=rate_input)
        if colour_skip == "ycbcr":  # JPEG's own transform; chroma offset 128 in 8 bits, 128·256 in 16
            matrix = RGB_TO_YCBCR.double().numpy()
            offset = np.array([0.0, 1.0, 1.0]) * (self.peak + 1) / 2
            inverse = np.linalg.inv(matrix)
            if self.pre is not None:
                self._start_linear_at(self.pre, matrix, offset)
            self._start_linear_at(self.post, inverse, -inverse @ offset)

    def _start_linear_at(self, processor: Processor, matrix: np.ndarray, offset: np.ndarray) -> None:
        """Set the colour map so that the residual processor computes matrix·x + offset (source scale)
        while its other branches are zero: x + peak·(D·x̃ + d) with x̃ = x/peak − 0.5."""
        d = 0.5 * matrix.sum(1) + offset / self.peak - 0.5
        with torch.no_grad():
            processor.linear.weight.copy_(torch.from_numpy(matrix - np.eye(3)).float()[:, :, None, None])
            processor.linear.bias.copy_(torch.from_numpy(d).float())

    def use_onnxruntime(self) -> None:
        """Run the processors' U-Net layers in ONNX Runtime whenever autograd is off (coding)."""
        self.unet_bodies = {name: OnnxBody(getattr(self, name).unet) for name in ("pre", "post") if getattr(self, name) is not None}

    def _residual(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """x + peak·processor(x/peak − 0.5) for the processor `name` ("pre" or "post"): the networks
        see inputs in about [−0.5, 0.5]."""
        coding = not torch.is_grad_enabled()
        run = partial(getattr(self, name), unet_body=self.unet_bodies.get(name) if coding else None)
        if coding and x.shape[-2] * x.shape[-1] > nets.WHOLE_MAX_PIXELS:  # coding a large image
            correction = nets.in_tiles(run, x / self.peak - 0.5)
        else:
            with bf16_autocast(x.device.type, self.bf16 and self.training):
                correction = run(x / self.peak - 0.5)
        return x + self.peak * correction.float()

    def bottleneck(self, source: torch.Tensor) -> torch.Tensor:
        """Real-valued bottleneck in the codec's 0..255 scale (not yet clipped: the codec clips)."""
        pre = source if self.pre is None else self._residual("pre", source)
        if self.task == "hdr":
            return ste_floor(pre / 256.0)
        return bicubic_down(pre)

    def reconstruct(self, decoded: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Source-scale image from the decoded bottleneck (0..255)."""
        if self.task == "hdr":
            start = 256.0 * decoded + 128.0
        else:
            start = lanczos_up(decoded, *size)
        return self._residual("post", start)

    def forward(self, source: torch.Tensor, step: torch.Tensor | None = None):
        """(reconstruction, bottleneck, the DCT coefficients the rate surrogate counts) through the
        proxy, at the learned Δ or at `step`."""
        bottleneck = self.bottleneck(source)
        decoded, coefficients = self.proxy(bottleneck, step)
        return self.reconstruct(decoded, source.shape[-2:]), bottleneck, coefficients

    @torch.no_grad()
    def encode_image(self, image: np.ndarray) -> np.ndarray:
        """Integer H×W×3 source -> uint8 bottleneck for a real codec."""
        x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None].to(self.proxy.q.device)
        with inference_threads():
            return to_uint8_images(self.bottleneck(x))[0]

    def jpeg_round_trip(self, image: np.ndarray, step: int) -> tuple[bytes, np.ndarray]:
        """(the real JPEG of the bottleneck at base step Δ′ with the proxy's tables and colour
        handling, the reconstruction decoded from it): what training validation measures."""
        data = self.proxy.encode(self.encode_image(image), step)
        return data, self.decode_image(decode_jpeg8(data), *image.shape[:2], image.dtype)

    @torch.no_grad()
    def decode_image(self, decoded: np.ndarray, height: int, width: int, dtype) -> np.ndarray:
        """uint8 decoded bottleneck -> integer H×W×3 reconstruction of `dtype`."""
        b = torch.from_numpy(decoded.astype(np.float32)).permute(2, 0, 1)[None].to(self.proxy.q.device)
        with inference_threads():
            out = self.reconstruct(b, (height, width)).clamp(0, self.peak).round()
        return out[0].permute(1, 2, 0).cpu().numpy().astype(dtype)


def load_sandwich(path) -> tuple[Sandwich, dict]:
    """(fp32 Sandwich in eval mode, meta with `digest` and `learned_step` added) of a shipped file."""
    args, state, meta = checkpoint.read(path, "sandwich")
    model = Sandwich(**args)
    model.load_state_dict(state)
    model.eval()
    return model, dict(meta, learned_step=float(model.proxy.step.detach()))
