"""ONNX Runtime for a U-Net's layers at inference (`runtime: onnxruntime` of a sandwich method).

On the 2-core AVX2 machine the light processors' layers ran in 0.68–0.81× PyTorch's time on one
thread (docs/experiments.md, "ONNX Runtime for the light processors"). Only `UNet.body` runs here:
padding, space-to-depth, the per-pixel MLP and the colour map stay in PyTorch, so the image size
is free and the graph has dynamic height and width. The decode is bit-identical run to run and
across thread counts, not bit-identical to PyTorch's (float rounding moves a few code values by
one), so the runtime is part of a method's definition.

The graph is exported once per set of weights (about 2 s) and kept in the cache folder
(`SANDWICH_CACHE`, default ~/.cache/sandwich), named by a hash of the weights, the torch version
and the opset; later processes only open it.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sandwich.core.files import write_atomic
from sandwich.methods.sandwich.nets import UNet

OPSET = 17


def cache_dir() -> Path:
    return Path(os.environ.get("SANDWICH_CACHE") or Path.home() / ".cache" / "sandwich") / "onnx"


class _Body(nn.Module):
    def __init__(self, unet: UNet):
        super().__init__()
        self.unet = unet

    def forward(self, x):
        return self.unet.body(x)


class OnnxBody:
    """unet.body(x) computed by ONNX Runtime on one thread (a callable for UNet.forward's `body`)."""

    def __init__(self, unet: UNet):
        self.unet = unet
        self._session = None

    def weights_key(self) -> str:
        digest = hashlib.sha256(f"torch {torch.__version__} opset {OPSET}".encode())
        for name, tensor in self.unet.state_dict().items():
            digest.update(name.encode() + tensor.detach().float().contiguous().numpy().tobytes())
        return digest.hexdigest()[:32]

    def graph(self) -> bytes:
        path = cache_dir() / f"unet-{self.weights_key()}.onnx"
        if path.is_file():
            return path.read_bytes()
        side = 2 ** (self.unet.levels + 1)
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about shapes: the sides are free axes here
            torch.onnx.export(_Body(self.unet).eval(), (torch.zeros(1, self.unet.channels_in, side, side),), buffer,
                              input_names=["x"], output_names=["y"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"x": {2: "height", 3: "width"}, "y": {2: "height", 3: "width"}})  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
        return buffer.getvalue()

    def session(self):
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1  # as inference_threads()
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = onnxruntime.InferenceSession(self.graph(), options, providers=["CPUExecutionProvider"])
        return self._session

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32 or x.requires_grad:
            raise ValueError("ONNX Runtime runs the fp32 inference path only")
        out = self.session().run(None, {"x": np.ascontiguousarray(x.cpu().numpy())})[0]
        return torch.from_numpy(out).to(x.device)
