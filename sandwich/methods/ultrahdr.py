"""Ultra HDR gain-map JPEG on the HDR task: PQ codes -> linear (1.0 = 203 cd/m²) -> JPEG_R -> PQ codes."""

from __future__ import annotations

from sandwich.codecs.hbd import UltraHDR
from sandwich.core.transfer import nits_to_pq16, pq16_to_nits
from sandwich.methods.wrapped import WrappedMethod

SDR_WHITE_NITS = 203.0  # ITU-R BT.2408 reference white, libultrahdr's 1.0


class UltraHDRMethod(WrappedMethod):
    domain = "hdr16"

    def __init__(self, codec: UltraHDR | None = None, name: str = "ultrahdr", rate_points=None):
        super().__init__(codec or UltraHDR(), name, rate_points)

    @property
    def description(self) -> str:
        return (
            f"PQ -> linear (1.0 = {SDR_WHITE_NITS:g} cd/m², clipped at 10000 cd/m² by libultrahdr) -> "
            f"{self.codec.description} -> PQ"
        )

    def _encode(self, image, rate_point):
        return self.codec.encode(pq16_to_nits(image) / SDR_WHITE_NITS, rate_point)

    def _decode(self, data):
        return nits_to_pq16(self.codec.decode(data) * SDR_WHITE_NITS)
