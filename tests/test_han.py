"""Han et al.'s two-layer codec: binarizer, GDN, arithmetic coder, bit-exact decoding, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import synthetic_linear

from sandwich.core.bitstream import embed_in_jpeg, extract_from_jpeg, unpack
from sandwich.core.errors import DecodeError
from sandwich.core.images import linear_to_pq16
from sandwich.methods import checkpoint
from sandwich.methods.han import entropy
from sandwich.methods.han.gdn import GDN, IGDN
from sandwich.methods.han.layers import (
    SideInfo,
    analyse,
    map_residual,
    residual_ranges,
    unmap_residual,
)
from sandwich.methods.han.method import Han, parse_rate_point
from sandwich.methods.han.model import binarize, pad_for_autoencoder
from sandwich.methods.han.module import HanModule

TINY = {"channels": 8, "iterations": 3, "post_channels": 4, "post_blocks": 1}


def test_binarizer_test_time_thresholds_at_one_half():
    y = torch.tensor([0.0, 0.2, 0.5, 0.51, 0.9, 1.0])
    assert binarize(y, stochastic=False).tolist() == [0, 0, 0, 1, 1, 1]


def test_binarizer_training_is_unbiased_binary_and_passes_the_gradient_straight_through():
    torch.manual_seed(0)
    y = torch.full((200_000,), 0.3, requires_grad=True)
    b = binarize(y, stochastic=True)
    assert set(b.detach().unique().tolist()) <= {0.0, 1.0}
    assert b.detach().mean().item() == pytest.approx(0.3, abs=0.005)
    (b * torch.arange(len(b), dtype=torch.float32)).sum().backward()
    assert torch.equal(y.grad, torch.arange(len(b), dtype=torch.float32))


def test_gdn_and_igdn_match_the_direct_formula():
    torch.manual_seed(0)
    gdn = GDN(4)
    with torch.no_grad():
        gdn.beta_stored.uniform_(0.5, 1.5)
        gdn.gamma_stored.uniform_(0.0, 0.6)
    x = torch.randn(2, 4, 5, 3)
    beta, gamma = gdn.beta, gdn.gamma
    norm = torch.sqrt(beta[None, :, None, None] + torch.einsum("ij,njhw->nihw", gamma, x * x))
    assert torch.allclose(gdn(x), x / norm, atol=1e-6)
    igdn = IGDN(4)
    igdn.load_state_dict(gdn.state_dict())
    assert torch.allclose(igdn(x), x * norm, atol=1e-6)


def test_gdn_parameters_stay_non_negative_under_any_step():
    gdn = GDN(3)
    with torch.no_grad():
        gdn.beta_stored.fill_(-5.0)
        gdn.gamma_stored.fill_(-5.0)
    assert (gdn.beta > 0).all() and (gdn.gamma >= 0).all()


def _bits(seed=0, shape=(3, 32, 24, 30)):
    """Bits with structure the context model can exploit: channel-dependent bias, persistence
    across iterations, spatial clusters."""
    rng = np.random.default_rng(seed)
    bias = rng.uniform(0.05, 0.95, shape[1])[None, :, None, None]
    field = rng.random(shape) < bias
    field[1:] = np.where(rng.random(shape[1:]) < 0.7, field[:-1], field[1:])
    return field.astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1])
def test_arithmetic_coder_round_trip_is_lossless_and_near_the_ideal_length(seed):
    bits = _bits(seed)
    data, ideal_bits = entropy.encode_arithmetic(bits)
    assert np.array_equal(entropy.decode_arithmetic(data, bits.shape), bits)
    assert 8 * len(data) >= ideal_bits
    assert len(data) <= 1.01 * ideal_bits / 8 + 8
    assert len(data) < bits.size / 8  # the context model beats fixed-length on structured bits


def test_fixed_length_code_is_one_bit_per_latent_bit():
    bits = _bits()
    data = entropy.pack_fixed(bits)
    assert len(data) == -(-bits.size // 8) and np.array_equal(entropy.unpack_fixed(data, bits.shape), bits)
    with pytest.raises(ValueError):
        entropy.unpack_fixed(data[:-1], bits.shape)


def test_residual_mapping_round_trip_and_side_info(hdr_image):
    prediction = np.clip(hdr_image.astype(np.int32) + 700, 0, 65535).astype(np.uint16)
    low, high = residual_ranges(hdr_image, prediction)
    mapped = map_residual(hdr_image, prediction, low, high)
    assert np.abs(mapped).max() == pytest.approx(1.0)  # a constant residual maps to the edge
    varied = map_residual(hdr_image, hdr_image // 2 + 9, *residual_ranges(hdr_image, hdr_image // 2 + 9))
    assert np.abs(varied).max() <= 1.0
    back = prediction + unmap_residual(mapped, low, high)
    assert np.abs(back - hdr_image).max() < 0.05
    side = SideInfo(3, np.arange(256, dtype=np.uint16) * 200, low, high)
    again = SideInfo.unpack(side.pack())
    assert again.iterations == 3 and np.array_equal(again.lut, side.lut) and np.array_equal(again.high, high)


def _shipped(tmp_path, seed=0, name="han"):
    torch.manual_seed(seed)
    module = HanModule(**TINY)
    with torch.no_grad():  # networks that change the image (both start as the identity)
        module.model.post.tail.weight.normal_(0, 0.01)
        module.model.autoencoder.up[-1].weight.normal_(0, 0.05)
    ckpt = tmp_path / f"{name}.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(), "global_step": 5}, ckpt)
    return checkpoint.export(ckpt, tmp_path / f"{name}.pt")


@pytest.fixture
def shipped(tmp_path):
    return _shipped(tmp_path)


def _method(path, coder="arithmetic", post=False, name="han_test"):
    """A codec on random weights, whose iterations rate control would drop: it codes all of them."""
    method = Han(name, str(path), coder, post, ["50/1", "70/3"], root="/")

    def every_iteration(mapped, iterations):
        x = pad_for_autoencoder(torch.from_numpy(mapped).permute(2, 0, 1)[None])
        with torch.no_grad():
            return torch.cat(method.model.autoencoder.iterate(x, iterations)[1]).to(torch.uint8).numpy()

    method.bits = every_iteration
    return method


@pytest.mark.parametrize("coder, post", [("fixed", False), ("arithmetic", False), ("arithmetic", True)])
def test_decode_of_encode_equals_the_models_own_quantized_path(shipped, hdr_image, coder, post):
    method = _method(shipped, coder, post)
    data = method.encode(hdr_image, "70/3")
    decoded = method.decode(data)
    assert decoded.dtype == np.uint16 and decoded.shape == hdr_image.shape
    assert np.array_equal(decoded, method.model_path(hdr_image, "70/3"))
    assert np.array_equal(decoded, method.decode(data))  # deterministic


def test_the_decoders_replay_is_the_encoders_iterative_reconstruction(shipped):
    """What the decoder rebuilds from the bits alone (`replay`) is, float for float, the encoder's
    running reconstruction (`iterate`), the model's own quantized path, at every iteration count."""
    autoencoder = _method(shipped).model.autoencoder
    x = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        recons, bits = autoencoder.iterate(x, 3)
        for k in range(1, 4):
            assert torch.equal(autoencoder.replay(bits[:k]), recons[k - 1])
    assert not torch.equal(recons[0], recons[-1])  # later iterations change the reconstruction


def test_fixed_length_bits_cost_exactly_one_eighth_bpp_per_iteration(shipped, hdr_image):
    method = _method(shipped, "fixed")
    height, width = hdr_image.shape[:2]
    sizes = {}
    for point in ("70/1", "70/3"):
        sizes[point] = len(unpack(extract_from_jpeg(method.encode(hdr_image, point), "han_test")[0], "han_test").layers[2])
    blocks = -(-height // 16) * -(-width // 16)
    assert sizes["70/1"] == -(-32 * blocks // 8) and sizes["70/3"] == -(-3 * 32 * blocks // 8)


def test_the_file_is_a_viewable_base_jpeg(shipped, hdr_image):
    import io

    from PIL import Image

    data = _method(shipped).encode(hdr_image, "50/1")
    with Image.open(io.BytesIO(data)) as viewer:
        assert viewer.format == "JPEG" and viewer.size == (hdr_image.shape[1], hdr_image.shape[0])


def _rebuild(data: bytes, name: str, edit) -> bytes:
    packed, base = extract_from_jpeg(data, name)
    header = unpack(packed, name)
    edit(header)
    return embed_in_jpeg(base, header.pack())


def test_corrupted_bitstreams_raise_a_clear_error(shipped, tmp_path, hdr_image):
    method = _method(shipped)
    data = method.encode(hdr_image, "70/3")

    def flip_bits(header):
        header.layers[2] = bytes([header.layers[2][0] ^ 0xFF]) + header.layers[2][1:]

    def drop_layer(header):
        header.layers = header.layers[:2]

    def bad_side(header):
        header.layers[1] = b"\x03" + header.layers[1][1:10]

    cases = {"CRC-32": flip_bits, "expected 3 layers": drop_layer, "CRC-32|side information": bad_side}
    for message, edit in cases.items():
        with pytest.raises(DecodeError, match=message):
            method.decode(_rebuild(data, "han_test", edit))
    with pytest.raises(DecodeError):
        method.decode(data[: len(data) // 2])
    other = _method(_shipped(tmp_path, seed=1, name="other"))
    with pytest.raises(DecodeError, match="made by checkpoint"):
        other.decode(data)
    with pytest.raises(DecodeError, match="written by"):
        _method(shipped, name="han_other").decode(data)


def test_rate_points_are_quality_and_iterations(shipped):
    assert parse_rate_point("85/4") == (85, 4)
    with pytest.raises(ValueError):
        parse_rate_point("85")
    with pytest.raises(ValueError, match="out of range"):
        Han("h", str(shipped), "arithmetic", False, ["70/4"], root="/")  # the tiny model has 3 iterations


def test_each_iteration_of_the_shipped_model_lowers_the_residual_error():
    """On a test image with a coarse base (q30), every one of the trained model's iterations lowers
    the residual's MSE, and rate control keeps all of them; with a finer base (q70) this image's
    first iteration would not help, and rate control codes none rather than a worse image."""
    method = Han("han_rc", "checkpoints/han.pt", "arithmetic", False, ["70/1"])
    iterations = method.model.autoencoder.iterations
    hdr_image = linear_to_pq16(synthetic_linear(160, 192, seed=3))
    coarse = analyse(hdr_image, 30)
    x = pad_for_autoencoder(torch.from_numpy(coarse.mapped).permute(2, 0, 1)[None])
    with torch.no_grad():
        recons, _ = method.model.autoencoder.iterate(x, iterations)
    crop = (..., slice(0, hdr_image.shape[0]), slice(0, hdr_image.shape[1]))
    errors = [float(x[crop].square().mean())] + [float((r - x)[crop].square().mean()) for r in recons]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert len(method.bits(coarse.mapped, iterations)) == iterations
    fine = analyse(hdr_image, 70)
    assert len(method.bits(fine.mapped, iterations)) == 0
    assert np.array_equal(method.model_path(hdr_image, f"70/{iterations}"), fine.prediction)


def test_zero_coded_iterations_decode_to_the_base_prediction(shipped, hdr_image):
    method = _method(shipped, "arithmetic")
    method.bits = lambda mapped, iterations: np.zeros((0, 32, 3, 4), np.uint8)  # rate control kept none
    decoded = method.decode(method.encode(hdr_image, "70/3"))
    assert np.array_equal(decoded, analyse(hdr_image, 70).prediction)
