"""Shipped checkpoints: a trained network's weights, its architecture and where it came from.

`export` turns a Lightning training checkpoint into a small, self-describing file (fp16 weights:
two paper-size U-Nets are 15.7 MB in fp32, 7.9 MB in fp16; scalars stay fp32). The file names the
network's kind and constructor arguments: a LightningModule declares them in
`hparams["network"] = {"kind": ..., "args": {...}}` and keeps the network at `.model`; a module
without it is a sandwich (SandwichModule). `read` returns the fp32 weights of any kind, `load`
rebuilds a Sandwich. A checkpoint's identity is the SHA-256 of its file: bitstreams carry its first
bytes, so a decoder refuses a file made by other weights instead of decoding it wrongly.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from sandwich.model import Sandwich

FORMAT = 1
DIGEST_BYTES = 8  # of the SHA-256, written into every bitstream
MODEL_ARGS = ("task", "pre", "post", "step_init", "colour", "post_only")


def file_digest(path: str | Path) -> bytes:
    return hashlib.sha256(Path(path).read_bytes()).digest()[:DIGEST_BYTES]


def export(training_checkpoint: str | Path, out: str | Path, meta: dict | None = None) -> Path:
    """Lightning .ckpt -> shipped .pt: fp16 weights, network kind and arguments, provenance in `meta`."""
    ckpt = torch.load(training_checkpoint, map_location="cpu", weights_only=False)
    hparams = dict(ckpt["hyper_parameters"])
    network = hparams.get("network") or {"kind": "sandwich", "args": {k: hparams[k] for k in MODEL_ARGS if k in hparams}}
    state = {}
    for name, tensor in ckpt["state_dict"].items():
        if not name.startswith("model."):
            continue
        tensor = tensor.detach().cpu()
        state[name[len("model.") :]] = tensor.half() if tensor.is_floating_point() and tensor.numel() > 1 else tensor
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


def read(path: str | Path, kind: str) -> tuple[dict, dict, dict]:
    """(constructor arguments, fp32 state dict, meta with `digest`) of a `kind` checkpoint."""
    document = torch.load(path, map_location="cpu", weights_only=True)
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown checkpoint format {document.get('format')!r}")
    found = document.get("kind", "sandwich")  # files written before kinds existed are sandwiches
    if found != kind:
        raise ValueError(f"{path}: is a {found!r} checkpoint, not {kind!r}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in document["state_dict"].items()}
    return document["model"], state, dict(document["meta"], digest=file_digest(path))


def peek(path: str | Path) -> tuple[str, dict]:
    """(network kind, meta with `digest`, plus `learned_step` for a sandwich with a pre-processor)."""
    document = torch.load(path, map_location="cpu", weights_only=True)
    kind = document.get("kind", "sandwich")
    if kind == "sandwich":
        model, meta = load(path)
        return kind, meta if model.pre is not None else {k: v for k, v in meta.items() if k != "learned_step"}
    return kind, dict(document["meta"], digest=file_digest(path))


def load(path: str | Path) -> tuple[Sandwich, dict]:
    """(fp32 Sandwich in eval mode, meta with `digest` and `learned_step` added)."""
    args, state, meta = read(path, "sandwich")
    model = Sandwich(**args)
    model.load_state_dict(state)
    model.eval()
    return model, dict(meta, learned_step=float(model.proxy.step.detach()))
