"""sandwich: HDR and high-resolution images through standard 8-bit codecs.

The layers (README, Architecture): core <- codecs <- methods <- training, evaluation <- entry
points and tools.
"""

from importlib.metadata import version

__version__ = version("sandwich")
