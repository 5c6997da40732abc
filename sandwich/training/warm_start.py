"""Start a run from another run's weights (`init_from=`)."""

from __future__ import annotations

import lightning as L
import torch

from sandwich.methods.checkpoint import network_state


def warm_start(module: L.LightningModule, checkpoint: str) -> None:
    """Initialise the networks from another run (another λ, or an earlier training stage): a
    Lightning .ckpt, or a shipped checkpoint (sandwich.export, fp16 weights of `module.model`),
    so that training can go on from what is committed when the run folders are gone. The module's
    `restart_on_warm_start` parameters (the sandwich's Δ) keep their initial values."""
    restart = set(getattr(module, "restart_on_warm_start", ()))
    document = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if "format" in document:  # shipped: the network's own state, without the module's prefix
        state = {f"model.{k}": v for k, v in network_state(document).items()}
    else:
        state = document["state_dict"]
    state = {k: v for k, v in state.items() if k not in restart}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if unexpected or set(missing) != restart:
        raise ValueError(f"{checkpoint}: does not fit this model (missing {missing}, unexpected {unexpected})")
