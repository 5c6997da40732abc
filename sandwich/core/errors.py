"""The one error a decoder raises on bytes it cannot decode."""


class DecodeError(ValueError):
    """Bytes that a method cannot decode: truncated, corrupted or from another method."""

    def __init__(self, method: str, reason: str):
        super().__init__(f"{method}: cannot decode bitstream: {reason}")
        self.method = method
        self.reason = reason
