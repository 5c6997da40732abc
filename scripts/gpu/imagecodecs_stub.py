"""Device-machine stand-in: imagecodecs (12-bit JPEG, JPEG XL, AVIF) is not installed there and
training never calls it; any use fails loudly."""
__version__ = "absent"


def __getattr__(name):
    raise AttributeError(f"imagecodecs.{name}: imagecodecs is not installed on this machine")
