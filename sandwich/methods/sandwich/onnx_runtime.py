"""ONNX Runtime for a U-Net's layers at inference (`runtime: onnxruntime` of a sandwich method).

On the 2-core AVX2 machine, whole methods coded a 1-MP image in 0.44–0.54× PyTorch's time (one
thread) with the paper-size U-Nets and 0.87–0.98× with the light ones (docs/experiments.md, "ONNX
Runtime for the sandwiches' U-Nets"). Only `UNet.body` runs in ONNX Runtime: padding,
space-to-depth, the per-pixel MLP and the colour map stay in PyTorch, so the image size is free and
the graph has dynamic height and width. The decode is bit-identical run to run and across thread
counts, not bit-identical to PyTorch's (float rounding moves a few code values by one), so the
runtime is part of a method's definition.

The graph is exported once (about 2 s) into the cache folder (`SANDWICH_CACHE`, default
~/.cache/sandwich), named by a hash of everything that shapes it: the weights, the layers' code and
this file, the torch and onnx versions and the opset. Later processes read it; the folder can be
deleted at any time. The exporter is PyTorch's TorchScript one (`dynamo=False`), which handles the
free sides without tracing guards.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sandwich.core.files import write_atomic
from sandwich.methods.sandwich import nets
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


def graph_key(unet: UNet) -> str:
    import onnx

    digest = hashlib.sha256(f"torch {torch.__version__} onnx {onnx.__version__} opset {OPSET}\0".encode())
    for source in (nets.__file__, __file__):
        digest.update(Path(source).read_bytes() + b"\0")
    for name, tensor in unet.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name} {tuple(tensor.shape)} {tensor.dtype}\0".encode() + tensor.numpy().tobytes())
    return digest.hexdigest()[:32]


def export_graph(unet: UNet) -> bytes:
    """The ONNX graph of unet.body (from the cache, or exported into it)."""
    path = cache_dir() / f"unet-{graph_key(unet)}.onnx"
    if path.is_file():
        return path.read_bytes()
    body = _Body(copy.deepcopy(unet).cpu().eval())  # a copy: the caller's module keeps its device and mode
    side = 2 ** (unet.levels + 1)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)  # "the TorchScript exporter is legacy"
        torch.onnx.export(body, (torch.zeros(1, unet.channels_in, side, side),), buffer,
                          input_names=["x"], output_names=["y"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"x": {2: "height", 3: "width"}, "y": {2: "height", 3: "width"}})  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue())
    return buffer.getvalue()


class OnnxBody:
    """unet.body(x) computed by ONNX Runtime on one thread (a callable for UNet.forward's `body`).
    The graph is read or exported on first use, so a command that codes with one model of a method
    prepares only that one; each process opens its own session."""

    def __init__(self, unet: UNet):
        self.unet = unet
        self._session = None

    def __getstate__(self):  # a session does not pickle; a worker opens its own
        return {**self.__dict__, "_session": None}

    def session(self):
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1  # as inference_threads()
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = onnxruntime.InferenceSession(export_graph(self.unet), options, providers=["CPUExecutionProvider"])
        return self._session

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or x.dtype != torch.float32:
            raise ValueError("ONNX Runtime runs the fp32 inference path only (autograd off)")
        out = self.session().run(None, {"x": np.ascontiguousarray(x.cpu().numpy())})[0]
        return torch.from_numpy(out).to(x.device)
