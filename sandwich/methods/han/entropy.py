"""Coding the autoencoder's bits: fixed-length packing, or adaptive binary arithmetic coding.

The bits of all iterations form a K×32×h×w array (iteration, latent channel, position). The
arithmetic coder (constriction's range coder) codes them plane by plane (iteration k, channel c)
and each plane in two checkerboard phases. A bit's context is
  (channel c, iteration bucket min(k, 3), the same bit in iteration k−1 (0, 1 or none),
   in phase 1: how many of its 4 neighbours in the same plane are 1 (0..4; phase 0: none)),
all known to the decoder before it decodes the bit. Each context keeps adaptive counts (n0, n1)
that start at zero and are updated after every chunk of `CHUNK` bits (raster order within a phase;
no bit's context depends on its own phase, so chunks need no sequential decoding inside them);
p(1) = (n1 + ½)/(n0 + n1 + 1) (the Krichevsky–Trofimov estimator). Encoder and decoder run the same float64 arithmetic, so their
probabilities are identical; no model is transmitted.
"""

from __future__ import annotations

import constriction
import numpy as np

_STAGES, _PREVIOUS, _NEIGHBOURS = 4, 3, 6
CHUNK = 64  # bits coded between model updates: smaller adapts faster, costs more coder calls
CONTEXTS_PER_CHANNEL = _STAGES * _PREVIOUS * _NEIGHBOURS
_FAMILY = constriction.stream.model.Bernoulli(perfect=False)


def pack_fixed(bits: np.ndarray) -> bytes:
    """Fixed-length code: one bit per latent bit, in (iteration, channel, row, column) order."""
    return np.packbits(bits.astype(np.uint8).ravel()).tobytes()


def unpack_fixed(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape))
    if len(data) != -(-count // 8):
        raise ValueError(f"{len(data)} bytes of bits, expected {-(-count // 8)} for {shape}")
    return np.unpackbits(np.frombuffer(data, np.uint8), count=count).reshape(shape)


class _Contexts:
    """The adaptive model shared by encoder and decoder; `planes` yields what both need per phase."""

    def __init__(self, shape: tuple[int, int, int, int]):
        self.shape = shape
        _, channels, height, width = shape
        self.n0 = np.zeros(channels * CONTEXTS_PER_CHANNEL)
        self.n1 = np.zeros(channels * CONTEXTS_PER_CHANNEL)
        rows, cols = np.mgrid[0:height, 0:width]
        self.phase_masks = [((rows + cols) % 2) == phase for phase in (0, 1)]

    def probabilities(self, context: np.ndarray) -> np.ndarray:
        return (self.n1[context] + 0.5) / (self.n0[context] + self.n1[context] + 1.0)

    def update(self, context: np.ndarray, bits: np.ndarray) -> None:
        size = self.n0.size
        ones = np.bincount(context, weights=bits, minlength=size)
        self.n1 += ones
        self.n0 += np.bincount(context, minlength=size) - ones

    def context(self, decoded: np.ndarray, k: int, c: int, phase: int) -> np.ndarray:
        """Context indices of phase `phase` of plane (k, c), from bits decoded before it."""
        mask = self.phase_masks[phase]
        previous = decoded[k - 1, c][mask].astype(np.int64) if k else np.full(int(mask.sum()), 2)
        if phase == 0:
            neighbours = np.full(int(mask.sum()), 5)
        else:
            padded = np.pad(decoded[k, c].astype(np.int64), 1)  # outside the plane counts as 0
            around = padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
            neighbours = around[mask]
        local = (min(k, _STAGES - 1) * _PREVIOUS + previous) * _NEIGHBOURS + neighbours
        return c * CONTEXTS_PER_CHANNEL + local

    def chunks(self, decoded: np.ndarray):
        """(k, c, phase, positions of this chunk within the phase, their contexts), in coding order."""
        iterations, channels = self.shape[:2]
        for k in range(iterations):
            for c in range(channels):
                for phase in (0, 1):
                    context = self.context(decoded, k, c, phase)
                    for start in range(0, context.size, CHUNK):
                        yield k, c, phase, slice(start, start + CHUNK), context[start : start + CHUNK]


def encode_arithmetic(bits: np.ndarray) -> tuple[bytes, float]:
    """K×32×h×w bits -> (range-coded bytes, the model's ideal code length in bits)."""
    bits = bits.astype(np.uint8)
    model = _Contexts(bits.shape)
    encoder = constriction.stream.queue.RangeEncoder()
    ideal = 0.0
    for k, c, phase, part, context in model.chunks(bits):
        symbols = bits[k, c][model.phase_masks[phase]][part]
        p1 = model.probabilities(context)
        encoder.encode(symbols.astype(np.int32), _FAMILY, p1)
        ideal -= float(np.sum(np.log2(np.where(symbols == 1, p1, 1.0 - p1))))
        model.update(context, symbols)
    return encoder.get_compressed().tobytes(), ideal


def decode_arithmetic(data: bytes, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Inverse of `encode_arithmetic`; ValueError if the bytes cannot be a coded array of `shape`."""
    if shape[0] == 0:
        if data:
            raise ValueError(f"{len(data)} bytes of bits for zero iterations")
        return np.zeros(shape, np.uint8)
    if len(data) % 4:
        raise ValueError(f"{len(data)} bytes is not a whole number of 32-bit words")
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, np.uint32).copy())
    decoded = np.zeros(shape, np.uint8)
    model = _Contexts(shape)
    phase_bits = None
    for k, c, phase, part, context in model.chunks(decoded):
        if part.start == 0:
            phase_bits = np.zeros(int(model.phase_masks[phase].sum()), np.uint8)
        symbols = np.asarray(decoder.decode(_FAMILY, model.probabilities(context)), np.uint8)
        phase_bits[part] = symbols
        if part.stop >= phase_bits.size:  # the phase is complete: later contexts may read it
            decoded[k, c][model.phase_masks[phase]] = phase_bits
        model.update(context, symbols)
    if decoder.maybe_exhausted() is False:
        raise ValueError("bytes left over after the last bit: not the coded array of this shape")
    return decoded
