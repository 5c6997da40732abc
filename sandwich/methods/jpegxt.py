"""JPEG XT (ISO/IEC 18477-7) profiles A, B and C, simplified, as two-layer HDR codecs.

The reference software (thorfdbg/libjpeg) encodes profile C only, so all three are written here
from their decoding equations (the shared notes beside the project, `../shared/notes/methods_reference.md` §1, and docs/methods.md). Common to all three:

* base layer: the global Reinhard–Devlin TMO of the HDR image (`sandwich.methods.tmo`) as a standard
  8-bit JPEG. The bitstream *is* that JPEG file, with the project header (side information and
  the extension layer) in APP15 segments, so a plain viewer shows the base.
* closed loop: the encoder decodes its own base JPEG and derives the extension from it.
* one IJG quality (the rate point) drives both the base and the extension layer.
* colour: every 8-bit layer codes R, G, B directly (`keep_rgb`, no YCbCr), 4:4:4.

Φ(B̂) = (B̂/255)^2.2 is the base made relative-linear; L is the HDR image in cd/m².
"""

from __future__ import annotations

import struct
import zlib
from abc import abstractmethod

import imagecodecs
import numpy as np

from sandwich.codecs.jpeg import (
    decode_jpeg8,
    decode_jpeg12,
    encode_jpeg8,
    encode_jpeg12,
)
from sandwich.codecs.jpeg import versions as jpeg_versions
from sandwich.core.bitstream import (
    Header,
    check_pixels,
    embed_in_jpeg,
    extract_from_jpeg,
    inflate,
    unpack,
)
from sandwich.core.contract import Method
from sandwich.core.errors import DecodeError
from sandwich.core.transfer import REC709_LUMA, luminance, nits_to_pq16, pq16_to_nits
from sandwich.methods.tmo import GAMMA, LUMINANCE_FLOOR, itmo_lut, tonemap

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
BASE_FLOOR = (0.5 / 255) ** GAMMA  # half an LDR code: the darkest level a black base pixel stands for

def linearize(base: np.ndarray) -> np.ndarray:
    """Φ: 8-bit gamma-2.2 codes -> relative linear light in [0, 1]."""
    return (base.astype(np.float64) / 255.0) ** GAMMA


def _range32(values: np.ndarray) -> tuple[float, float]:
    """Min and max as the float32 numbers the side information carries (encoder and decoder agree)."""
    return float(np.float32(values.min())), float(np.float32(values.max()))


def _to_u8(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.round(255.0 * (values - lo) / max(hi - lo, 1e-12)), 0, 255).astype(np.uint8)


def _from_u8(codes: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return lo + codes.astype(np.float64) / 255.0 * max(hi - lo, 1e-12)


class _JpegXT(Method):
    domain = "hdr16"
    rate_param = "quality"
    profile = ""
    extension = ""  # what the extension layer holds, for `description`

    def __init__(self, keep_rgb: bool = True, rate_points=None, name: str | None = None):
        self.name = name or self.name
        self.keep_rgb = keep_rgb
        self.rate_points = tuple(rate_points or QUALITIES)
        self.rate_range = (1, 100)  # the IJG quality of both layers

    @property
    def description(self) -> str:
        colour = "RGB (keep_rgb, no colour transform)" if self.keep_rgb else "YCbCr"
        return (
            f"JPEG XT profile {self.profile}, simplified: base = global Reinhard–Devlin TMO as 8-bit JPEG "
            f"{colour} 4:4:4; extension = {self.extension}; one IJG quality for both layers; "
            f"{jpeg_versions()}, imagecodecs {imagecodecs.__version__}"
        )

    def _encode(self, image, rate_point):
        quality = int(rate_point)
        nits = pq16_to_nits(image).astype(np.float64)
        base = self._jpeg8(tonemap(nits), quality)
        side, extension = self._encode_extension(nits, decode_jpeg8(base), quality)
        header = Header(self.name, image.shape[0], image.shape[1], [side, extension]).pack()
        return embed_in_jpeg(base, header)

    def _decode(self, data):
        packed, base = extract_from_jpeg(data, self.name)
        header = unpack(packed, self.name)
        if len(header.layers) != 2:
            raise DecodeError(self.name, f"expected 2 layers (side info, extension), got {len(header.layers)}")
        check_pixels(header.height, header.width, self.name, "project header")
        shape = (header.height, header.width)
        try:  # each layer's frame header must declare the header's shape before it is decoded
            base_hat = self._expect(decode_jpeg8(base, expect=shape), shape + (3,), "base layer")
        except ValueError as err:
            raise DecodeError(self.name, f"base layer: {err}") from None
        return nits_to_pq16(self._decode_extension(base_hat, *header.layers))

    @abstractmethod
    def _encode_extension(self, nits: np.ndarray, base_hat: np.ndarray, quality: int) -> tuple[bytes, bytes]:
        """(side information, extension layer) from the HDR image and the decoded base."""

    @abstractmethod
    def _decode_extension(self, base_hat: np.ndarray, side: bytes, extension: bytes) -> np.ndarray:
        """HDR image in cd/m² from the decoded base and the two layers."""

    def _jpeg8(self, image: np.ndarray, quality: int) -> bytes:
        return encode_jpeg8(image, quality=quality, subsampling="444", keep_rgb=self.keep_rgb)

    def _expect(self, array: np.ndarray, shape: tuple, what: str) -> np.ndarray:
        if array.shape != shape:
            raise DecodeError(self.name, f"{what} is {array.shape}, expected {shape}")
        return array

    def _side(self, layout: struct.Struct, side: bytes) -> tuple:
        if len(side) != layout.size:
            raise DecodeError(self.name, f"side information is {len(side)} bytes, expected {layout.size}")
        return layout.unpack(side)


class JpegXTA(_JpegXT):
    """Profile A: HDR = μ(RE_Y)·[Φ(B̂) + ν].

    μ is the luminance ratio Y(L)/Y(Φ(B̂)), coded as 8-bit log between per-image ln Rmin and ln Rmax.
    ν is a chroma correction with no luminance (μ carries it): ν_G = −(0.2126·ν_R + 0.0722·ν_B)/0.7152.
    ν_R and ν_B are coded per unit of base luminance, ν = Y(Φ(B̂))·ν̃ with ν̃ a difference of
    chromaticities, as 8-bit planes between their per-image min and max: coded in absolute units,
    their quantization error would light up black pixels (μ·δν) and cost more rate. Ratio, ν̃_R
    and ν̃_B are the three channels of one 8-bit JPEG.
    """

    name = "jpegxt_a"
    profile = "A"
    extension = "8-bit JPEG of (log luminance ratio, chroma corrections ν_R, ν_B per unit base luminance)"
    _layout = struct.Struct(">6f")  # ln Rmin, ln Rmax, ν_R min, ν_R max, ν_B min, ν_B max

    def _encode_extension(self, nits, base_hat, quality):
        linear = linearize(base_hat)
        base_lum = np.maximum(luminance(linear), BASE_FLOOR)
        log_ratio = np.log(np.maximum(luminance(nits), LUMINANCE_FLOOR) / base_lum)
        ratio_range = _range32(log_ratio)
        ratio_code = _to_u8(log_ratio, *ratio_range)
        # ν must correct the ratio the decoder will see; with keep_rgb each channel is coded on its
        # own, so the ratio plane decodes the same here as inside the final extension
        probe = decode_jpeg8(self._jpeg8(np.repeat(ratio_code[..., None], 3, axis=2), quality))[..., 0]
        ratio_hat = np.exp(_from_u8(probe, *ratio_range))
        nu = (nits / ratio_hat[..., None] - linear) / base_lum[..., None]
        nu_r_range, nu_b_range = _range32(nu[..., 0]), _range32(nu[..., 2])
        planes = np.stack([ratio_code, _to_u8(nu[..., 0], *nu_r_range), _to_u8(nu[..., 2], *nu_b_range)], axis=-1)
        side = self._layout.pack(*ratio_range, *nu_r_range, *nu_b_range)
        return side, self._jpeg8(planes, quality)

    def _decode_extension(self, base_hat, side, extension):
        ln_rmin, ln_rmax, nu_r_min, nu_r_max, nu_b_min, nu_b_max = self._side(self._layout, side)
        planes = self._expect(decode_jpeg8(extension, expect=base_hat.shape[:2]), base_hat.shape, "extension layer")
        ratio = np.exp(_from_u8(planes[..., 0], ln_rmin, ln_rmax))
        nu_r = _from_u8(planes[..., 1], nu_r_min, nu_r_max)
        nu_b = _from_u8(planes[..., 2], nu_b_min, nu_b_max)
        wr, wg, wb = REC709_LUMA
        linear = linearize(base_hat)
        base_lum = np.maximum(luminance(linear), BASE_FLOOR)
        nu = np.stack([nu_r, -(wr * nu_r + wb * nu_b) / wg, nu_b], axis=-1) * base_lum[..., None]
        return np.maximum(ratio[..., None] * (linear + nu), 0.0)


class JpegXTB(_JpegXT):
    """Profile B: HDR_c = σ·Φ(B̂_c)/Ψ(RE_c) per channel, Ψ(v) = (v/255)^γ.

    σ (float32 side info) is the `SIGMA_PERCENTILE`-th percentile of L_c/Φ(B̂_c) over all samples,
    so Ψ = σ·Φ/L ≤ 1 almost everywhere (the rest clips to 1). RE is a 3-channel 8-bit JPEG.
    """

    name = "jpegxt_b"
    profile = "B"
    GAMMA_EXT = 3.0  # between 2.4 and 5, 3 and 4 gave the best rate–PSNR on training images
    SIGMA_PERCENTILE = 0.1
    extension = f"8-bit JPEG of the per-channel divisor RE, Ψ(RE) = (RE/255)^{GAMMA_EXT}"
    _layout = struct.Struct(">f")  # σ

    def _encode_extension(self, nits, base_hat, quality):
        linear = np.maximum(linearize(base_hat), BASE_FLOOR)
        hdr_over_base = np.maximum(nits, LUMINANCE_FLOOR) / linear
        (sigma,) = self._layout.unpack(self._layout.pack(np.percentile(hdr_over_base, self.SIGMA_PERCENTILE)))
        divisor = np.minimum(sigma / hdr_over_base, 1.0)
        # code 0 would divide by zero: 1 is the smallest divisor code
        codes = np.clip(np.round(255.0 * divisor ** (1.0 / self.GAMMA_EXT)), 1, 255).astype(np.uint8)
        return self._layout.pack(sigma), self._jpeg8(codes, quality)

    def _decode_extension(self, base_hat, side, extension):
        (sigma,) = self._side(self._layout, side)
        codes = self._expect(decode_jpeg8(extension, expect=base_hat.shape[:2]), base_hat.shape, "extension layer")
        divisor = (np.maximum(codes, 1) / 255.0) ** self.GAMMA_EXT
        return sigma * np.maximum(linearize(base_hat), BASE_FLOOR) / divisor


HALF_MIN_NORMAL = 2.0**-14
HALF_MAX_BITS = 0x7BFF  # bit pattern of 65504, the largest finite half


def psi_log(values: np.ndarray) -> np.ndarray:
    """ψlog: positive floats -> IEEE half bit patterns as int32 (≈ 1024·(log2 x + 15))."""
    return np.clip(values, HALF_MIN_NORMAL, 65504.0).astype(np.float16).view(np.uint16).astype(np.int32)


def psi_exp(bits: np.ndarray) -> np.ndarray:
    """ψexp: the exact inverse of `psi_log` (bit patterns clipped to finite, non-negative halves)."""
    return np.clip(bits, 0, HALF_MAX_BITS).astype(np.uint16).view(np.float16).astype(np.float64)


class JpegXTC(_JpegXT):
    """Profile C: HDR = ψexp(Φ̂_C(B̂) + s·(RE − 2048)).

    Φ̂_C = ψlog∘ITMO is a 256-entry table (side info, uint16, zlib) of the mean ψlog(L) behind each
    decoded base code, channels pooled. The residual ψlog(L) − Φ̂_C(B̂) is coded as a 12-bit JPEG
    centred at 2048, divided by the smallest integer scale s ≥ 1 (side info) that fits it in 0..4095.
    """

    name = "jpegxt_c"
    profile = "C"
    extension = "12-bit JPEG of the residual in ψlog (half-float bit pattern) space, RGB"
    _scale = struct.Struct(">H")
    _CENTRE = 2048

    def _encode_extension(self, nits, base_hat, quality):
        log_hdr = psi_log(nits)
        table = np.round(itmo_lut(base_hat, log_hdr)).astype(np.uint16)
        residual = log_hdr - table[base_hat]
        scale = max(1, int(np.ceil(np.abs(residual).max() / (self._CENTRE - 1))))
        codes = np.clip(self._CENTRE + np.round(residual / scale), 0, 4095).astype(np.uint16)
        side = self._scale.pack(scale) + zlib.compress(table.astype(">u2").tobytes(), 9)
        return side, encode_jpeg12(codes, quality, keep_rgb=True)

    def _decode_extension(self, base_hat, side, extension):
        (scale,) = self._side(self._scale, side[: self._scale.size])
        table = np.frombuffer(inflate(side[self._scale.size :], 512, self.name, "ITMO table"), ">u2")
        if table.size != 256 or scale < 1:
            raise DecodeError(self.name, "bad side information (ITMO table or scale)")
        codes = self._expect(decode_jpeg12(extension, expect=base_hat.shape[:2]), base_hat.shape, "extension layer")
        return psi_exp(table.astype(np.int32)[base_hat] + scale * (codes.astype(np.int32) - self._CENTRE))
