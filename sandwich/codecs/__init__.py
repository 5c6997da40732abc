"""Standard codecs behind the Method contract (domain = the codec's native sample format)."""

from sandwich.codecs.base import DOMAINS, DecodeError, Method, check_image

__all__ = ["DOMAINS", "DecodeError", "Method", "check_image"]
