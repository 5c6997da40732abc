"""sandwich: HDR and high-resolution images through standard 8-bit codecs.

Shared machinery (images, codecs, metrics, evaluator) and the sandwich itself. No Hydra or W&B
imports here: the entry points (`sandwich.eval`, `sandwich.bench`) wire those.
"""

__version__ = "0.1.0"
