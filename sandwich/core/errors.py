"""The one error a decoder raises on bytes it cannot decode (NoHeader: the case of a bare file)."""


class DecodeError(ValueError):
    """Bytes that a method cannot decode: truncated, corrupted or from another method."""

    def __init__(self, method: str, reason: str):
        super().__init__(f"{method}: cannot decode bitstream: {reason}")
        self.method = method
        self.reason = reason


class NoHeader(DecodeError):
    """A file that carries no project header: a bare codec file, or not one of ours."""
