"""Shared training pieces: losses, optimiser schedule, mixed precision, validation logging, the
data module and callbacks. The LightningModules live with their methods (methods/*/module.py)."""
