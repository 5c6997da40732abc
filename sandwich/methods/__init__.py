"""Everything the bench compares, on one footing: classical methods here, each learned method a
subpackage (network, Method, LightningModule)."""
