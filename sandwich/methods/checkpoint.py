"""Shipped checkpoints: a trained network's weights, its architecture and where it came from.

`export` turns a Lightning training checkpoint into a small, self-describing file (fp16 weights:
two paper-size U-Nets are 15.7 MB in fp32, 7.9 MB in fp16; tensors of at most SMALL_FP32 values, the
scalars and the pointwise layers (MLP, colour map) whose precision a 16-bit source needs, stay
fp32). The file names the network's kind and constructor arguments: a LightningModule declares them in
`hparams["network"] = {"kind": ..., "args": {...}}` and keeps the network at `.model`. `read`
returns the fp32 weights of any kind; each method rebuilds its own network from them. A checkpoint's identity is the SHA-256 of its file: bitstreams carry its first
bytes, so a decoder refuses a file made by other weights instead of decoding it wrongly.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from sandwich.core.errors import DecodeError

FORMAT = 1
DIGEST_BYTES = 8  # of the SHA-256, written into every bitstream
SMALL_FP32 = 64  # tensors up to this size stay fp32: a 1×1 colour map in fp16 moves 16-bit codes by ~45


def export(training_checkpoint: str | Path, out: str | Path, meta: dict | None = None) -> Path:
    """Lightning .ckpt -> shipped .pt: fp16 weights, network kind and arguments, provenance in `meta`."""
    ckpt = torch.load(training_checkpoint, map_location="cpu", weights_only=False)
    hparams = dict(ckpt["hyper_parameters"])
    network = hparams["network"]
    state = {}
    for name, tensor in ckpt["state_dict"].items():
        if not name.startswith("model."):
            continue
        tensor = tensor.detach().cpu()
        state[name[len("model.") :]] = tensor.half() if tensor.is_floating_point() and tensor.numel() > SMALL_FP32 else tensor
    document = {
        "format": FORMAT,
        "kind": network["kind"],
        "model": dict(network["args"]),
        "state_dict": state,
        "meta": {"global_step": ckpt.get("global_step"), "lmbda": hparams.get("lmbda"), **(meta or {})},
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(document, out)
    return out


def _document(path: str | Path) -> tuple[dict, bytes]:
    """The file's contents and digest, from one read."""
    data = Path(path).read_bytes()
    document = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown checkpoint format {document.get('format')!r}")
    return document, hashlib.sha256(data).digest()[:DIGEST_BYTES]


def _kind(document: dict) -> str:
    return document.get("kind", "sandwich")  # files written before kinds existed are sandwiches


def network_state(document: dict) -> dict:
    """The fp32 weights of a loaded shipped checkpoint's network (names without a module prefix)."""
    return {k: v.float() if v.is_floating_point() else v for k, v in document["state_dict"].items()}


def _unpacked(document: dict, digest: bytes) -> tuple[dict, dict, dict]:
    return document["model"], network_state(document), dict(document["meta"], digest=digest)


def read(path: str | Path, kind: str) -> tuple[dict, dict, dict]:
    """(constructor arguments, fp32 state dict, meta with `digest`) of a `kind` checkpoint."""
    document, digest = _document(path)
    if _kind(document) != kind:
        raise ValueError(f"{path}: is a {_kind(document)!r} checkpoint, not {kind!r}")
    return _unpacked(document, digest)


def peek(path: str | Path) -> tuple[str, dict, dict, dict]:
    """(network kind, constructor arguments, fp32 state dict, meta with `digest`) of any shipped checkpoint."""
    document, digest = _document(path)
    return _kind(document), *_unpacked(document, digest)


def holding(digest: bytes, meta: dict) -> str:
    """Whether a bitstream's checkpoint digest is the loaded checkpoint's, in words (`sandwich info`)."""
    return "this checkout holds it" if digest == meta["digest"] else "NOT the checkpoint this checkout holds"


def require(method: str, digest: bytes, meta: dict) -> None:
    """Refuse a bitstream made by other weights than the loaded checkpoint's."""
    if digest != meta["digest"]:
        raise DecodeError(method, f"made by checkpoint {digest.hex()}; loaded is {meta['digest'].hex()}")
