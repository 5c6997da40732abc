"""Dequantization-Net's codec: truncation + a real 8-bit codec + the network (net.py)."""

from __future__ import annotations

from pathlib import Path

from sandwich.core.bitstream import Header
from sandwich.core.contract import Method
from sandwich.core.paths import PROJECT_ROOT
from sandwich.methods import checkpoint
from sandwich.methods.dequant.model import DequantizationNet
from sandwich.methods.truncation import midpoint, truncate
from sandwich.methods.wrapped import WrappedMethod, require_8bit_with_header


class Dequantization(WrappedMethod):
    """Top 8 bits of the 16-bit source -> 8-bit `codec` -> midpoint -> Dequantization-Net.

    The file is the codec's standard file with the project header inside; the header's one layer
    is the first bytes of the network checkpoint's SHA-256, so other weights refuse to decode it.
    """

    domain = "hdr16"

    def __init__(self, name: str, codec: Method, checkpoint_path: str, rate_points=None, root: str | Path = PROJECT_ROOT):
        require_8bit_with_header(codec, name)
        super().__init__(codec, name, rate_points)
        self.path = Path(root) / checkpoint_path
        args, state, self.meta = checkpoint.read(self.path, "dequant")
        self.net = DequantizationNet(**args)
        self.net.load_state_dict(state)
        self.net.eval()

    @property
    def description(self) -> str:
        return (
            f"top 8 of 16 bits -> {self.codec.description} -> midpoint -> Dequantization-Net "
            f"({self.path.name}, {self.meta.get('global_step')} steps, sha256 {self.meta['digest'].hex()})"
        )

    def describe_layers(self, layers: list[bytes]) -> list[str]:
        digest = b"".join(layers)
        return [f"checkpoint: sha256 {digest.hex()}...: {checkpoint.holding(digest, self.meta)}"]

    def _encode(self, image, rate_point):
        header = Header(self.name, *image.shape[:2], [self.meta["digest"]]).pack()
        return self.codec.encode_with_header(truncate(image, 8), rate_point, header)

    def _decode(self, data):
        codes, header = self.codec.decode_checked(data, self.name, layers=1)
        checkpoint.require(self.name, header.layers[0], self.meta)
        return self.net.restore(midpoint(codes, 8))
