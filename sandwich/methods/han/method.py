"""Han et al.'s two-layer HDR codec as a Method, with real bitstreams.

Encoder: TMO -> base JPEG -> decode it -> ITMO table -> residual HDR − ITMO(basê) -> RM -> the
autoencoder's iterations, closed loop (each codes what the earlier ones left), bits coded
fixed-length (`han_cnn`) or by the adaptive arithmetic coder (`han_rc`, `han_pp`).
Decoder: basê -> ITMO + RM⁻¹(Σ iteration outputs) -> the group CNN (`han_pp` only).

The file is the base JPEG itself (any viewer shows the tone-mapped image) with the project header
in APP15 segments; its layers are the checkpoint digest, the side information (iterations, ITMO
table, residual ranges, CRC-32 of the bits) and the bits. A rate point is "<quality>/<iterations>"
(at most that many iterations: the encoder stops when one would not lower the residual's error).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from sandwich.codecs.jpeg import decode_jpeg8
from sandwich.codecs.jpeg import versions as jpeg_versions
from sandwich.core.bitstream import (
    Header,
    check_pixels,
    embed_in_jpeg,
    extract_from_jpeg,
    unpack,
)
from sandwich.core.contract import Method
from sandwich.core.errors import DecodeError
from sandwich.core.paths import PROJECT_ROOT
from sandwich.methods import checkpoint
from sandwich.methods.determinism import inference_threads
from sandwich.methods.han import entropy
from sandwich.methods.han.layers import SideInfo, analyse, unmap_residual
from sandwich.methods.han.model import (
    FACTOR,
    LATENT_CHANNELS,
    HanModel,
    pad_for_autoencoder,
)

CODERS = ("fixed", "arithmetic")
_CRC = struct.Struct(">I")


def load_model(path: str | Path) -> tuple[HanModel, dict]:
    args, state, meta = checkpoint.read(path, "han")
    model = HanModel(**args)
    model.load_state_dict(state)
    return model.eval(), meta


def parse_rate_point(rate_point) -> tuple[int, int]:
    quality, _, iterations = str(rate_point).partition("/")
    if not (quality.isdigit() and iterations.isdigit()):
        raise ValueError(f"rate point {rate_point!r} is not '<base JPEG quality>/<iterations>'")
    return int(quality), int(iterations)


class Han(Method):
    domain = "hdr16"
    rate_param = "quality/iterations"

    def __init__(self, name: str, checkpoint_path: str, coder: str, post: bool, rate_points, root: str | Path = PROJECT_ROOT):
        if coder not in CODERS:
            raise ValueError(f"{name}: coder must be one of {CODERS}, got {coder!r}")
        self.name, self.coder, self.post = name, coder, post
        self.path = Path(root) / checkpoint_path
        self.model, self.meta = load_model(self.path)
        for point in rate_points:
            quality, iterations = parse_rate_point(point)
            if not (1 <= quality <= 100 and 1 <= iterations <= self.model.autoencoder.iterations):
                raise ValueError(f"{name}: rate point {point!r} out of range (quality 1..100, iterations "
                                 f"1..{self.model.autoencoder.iterations})")  # fmt: skip
        self.rate_points = tuple(str(p) for p in rate_points)

    def check_rate_point(self, rate_point):
        """'<quality>/<iterations>', quality 1..100 and iterations 1..the model's."""
        most = self.model.autoencoder.iterations
        try:
            quality, iterations = parse_rate_point(rate_point)
        except ValueError:
            quality = iterations = -1
        if not (1 <= quality <= 100 and 1 <= iterations <= most):
            raise ValueError(f"{self.name}: rate point {rate_point!r}: {self.rate_param} must be "
                             f"'<1..100>/<1..{most}>'")  # fmt: skip
        return rate_point

    @property
    def description(self) -> str:
        coder = "fixed-length bits" if self.coder == "fixed" else "adaptive binary arithmetic coding (constriction)"
        post = ", group-CNN post-processing" if self.post else ""
        return (
            f"Han et al. two-layer: Reinhard–Devlin TMO -> base JPEG (YCbCr 4:4:4, {jpeg_versions()}); "
            f"residual in PQ code values, min/max mapped, binarized autoencoder ({self.path.name}, "
            f"{self.meta.get('global_step')} steps, sha256 {self.meta['digest'].hex()}), iterative, {coder}{post}"
        )

    def describe_layers(self, layers: list[bytes]) -> list[str]:
        digest = layers[0] if layers else b""
        return [f"checkpoint: sha256 {digest.hex()}...: {checkpoint.holding(digest, self.meta)}",
                f"side information: {len(layers[1]) if len(layers) > 1 else 0} bytes",
                f"residual bits ({self.coder}): {len(layers[2]) if len(layers) > 2 else 0} bytes"]  # fmt: skip

    # --- the shared path: what the encoder's closed loop and the decoder both compute ----------

    def latent_shape(self, height: int, width: int, iterations: int) -> tuple[int, int, int, int]:
        return iterations, LATENT_CHANNELS, -(-height // FACTOR), -(-width // FACTOR)

    @torch.no_grad()
    def bits(self, mapped: np.ndarray, iterations: int) -> np.ndarray:
        """RM'd residual (H×W×3) -> K×32×h×w bits of the hard (test-time) binarizer, K ≤ `iterations`.

        Rate control stops at the first iteration that would not lower the residual's MSE (over
        the image, not the padding): what is coded never makes the reconstruction worse, and K = 0
        (the base layer alone) is possible. The side information carries K."""
        height, width = mapped.shape[:2]
        kept = []
        with inference_threads():  # the stop rule compares means, whose rounding depends on the thread count
            x = pad_for_autoencoder(torch.from_numpy(mapped).permute(2, 0, 1)[None])
            error = float(x[..., :height, :width].square().mean())
            for recon, b in self.model.autoencoder.steps(x, iterations):
                now = float((recon - x)[..., :height, :width].square().mean())
                if now >= error:
                    break
                error = now
                kept.append(b[0])
        if not kept:
            return np.zeros(self.latent_shape(height, width, 0), np.uint8)
        return torch.stack(kept).to(torch.uint8).numpy()

    @torch.no_grad()
    def reconstruct(self, bits: np.ndarray, base_hat: np.ndarray, side: SideInfo) -> np.ndarray:
        height, width = base_hat.shape[:2]
        hdr = side.lut[base_hat].astype(np.float64)
        if len(bits):
            planes = [torch.from_numpy(plane[None].astype(np.float32)) for plane in bits]
            mapped = self.model.autoencoder.replay(planes)[0, :, :height, :width].permute(1, 2, 0).numpy()
            hdr = hdr + unmap_residual(mapped, side.low, side.high)
        hdr = np.clip(hdr, 0, 65535)
        if self.post:
            x = torch.from_numpy((hdr / 65535).astype(np.float32)).permute(2, 0, 1)[None]
            hdr = self.model.post(x)[0].permute(1, 2, 0).double().numpy().clip(0, 1) * 65535
        return np.round(hdr).astype(np.uint16)

    def model_path(self, image: np.ndarray, rate_point) -> np.ndarray:
        """The module's own quantized forward path, no bitstream: what decode(encode(x)) must equal."""
        quality, iterations = parse_rate_point(rate_point)
        analysis = analyse(image, quality)
        bits = self.bits(analysis.mapped, iterations)
        return self.reconstruct(bits, analysis.base_hat, analysis.side(len(bits)))

    # --- the bitstream ------------------------------------------------------------------------

    def _encode(self, image, rate_point):
        quality, iterations = parse_rate_point(rate_point)
        analysis = analyse(image, quality)
        bits = self.bits(analysis.mapped, iterations)
        coded = entropy.pack_fixed(bits) if self.coder == "fixed" else entropy.encode_arithmetic(bits)[0]
        side = analysis.side(len(bits)).pack() + _CRC.pack(zlib.crc32(coded))
        header = Header(self.name, *image.shape[:2], [self.meta["digest"], side, coded]).pack()
        return embed_in_jpeg(analysis.base, header)

    def _decode(self, data):
        packed, base = extract_from_jpeg(data, self.name)
        header = unpack(packed, self.name)
        if len(header.layers) != 3:
            raise DecodeError(self.name, f"expected 3 layers (checkpoint, side info, bits), got {len(header.layers)}")
        digest, side_bytes, coded = header.layers
        checkpoint.require(self.name, digest, self.meta)
        if len(side_bytes) < _CRC.size or _CRC.unpack(side_bytes[-_CRC.size :])[0] != zlib.crc32(coded):
            raise DecodeError(self.name, "residual bits fail their CRC-32 (corrupted)")
        check_pixels(header.height, header.width, self.name, "project header")
        try:
            side = SideInfo.unpack(side_bytes[: -_CRC.size])
        except ValueError as error:
            raise DecodeError(self.name, f"side information: {error}") from None
        if side.iterations > self.model.autoencoder.iterations:
            raise DecodeError(self.name, f"{side.iterations} iterations; this model has at most {self.model.autoencoder.iterations}")
        try:
            base_hat = decode_jpeg8(base, expect=(header.height, header.width))
        except (ValueError, OSError) as error:
            raise DecodeError(self.name, f"base layer: {error}") from None
        if base_hat.shape != (header.height, header.width, 3):
            raise DecodeError(self.name, f"base layer is {base_hat.shape}, header says {header.height}x{header.width}")
        shape = self.latent_shape(header.height, header.width, side.iterations)
        try:
            bits = entropy.unpack_fixed(coded, shape) if self.coder == "fixed" else entropy.decode_arithmetic(coded, shape)
        except ValueError as error:
            raise DecodeError(self.name, f"residual bits: {error}") from None
        return self.reconstruct(bits, base_hat, side)
