"""Sandwiched compression (Guleryuz et al.): a pre-processor, an 8-bit standard codec, a
post-processor, trained end to end through a differentiable JPEG proxy."""
