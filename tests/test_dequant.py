"""Dequantization-Net: architecture, the method's real bitstream, identity of the weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sandwich.codecs.heic import HEIC
from sandwich.codecs.jpeg import JPEG, decode_jpeg8
from sandwich.core.errors import DecodeError
from sandwich.methods import checkpoint
from sandwich.methods.dequant.method import Dequantization
from sandwich.methods.dequant.model import DequantizationNet
from sandwich.methods.dequant.module import DequantModule
from sandwich.methods.sandwich.model import load_sandwich
from sandwich.methods.truncation import Truncation, midpoint, truncate


def _net(seed: int = 0) -> DequantizationNet:
    torch.manual_seed(seed)
    return DequantizationNet().eval()


def test_parameter_count_matches_singlehdr():
    assert sum(p.numel() for p in _net().parameters()) == pytest.approx(2.0e6, rel=0.05)


@pytest.mark.parametrize("size", [(17, 23), (31, 45), (64, 48), (5, 9)])
def test_odd_sizes_keep_their_shape(size):
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        assert _net()(x).shape == x.shape


def test_zeroed_head_is_the_identity():
    net = _net()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        x = torch.rand(1, 3, 21, 30)
        assert torch.equal(net(x), x)


def _shipped(tmp_path, seed=0, name="dq"):
    """A Lightning-style checkpoint of a DequantModule with random weights, exported."""
    inputs = {"jpeg": Truncation(JPEG(keep_rgb=True), "truncation_jpeg", rate_points=[70, 90])}
    module = DequantModule(inputs, channels_last=False)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.05)
    ckpt = tmp_path / f"{name}.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(), "global_step": 3}, ckpt)
    return checkpoint.export(ckpt, tmp_path / f"{name}.pt"), module


@pytest.fixture
def method(tmp_path):
    path, _ = _shipped(tmp_path)
    return Dequantization("dequant_test", JPEG(keep_rgb=True), str(path), rate_points=[70, 90], root="/")


def test_decode_is_the_network_on_the_codecs_midpoint_and_deterministic(method, hdr_image):
    data = method.encode(hdr_image, 90)
    first, second = method.decode(data), method.decode(data)
    assert first.dtype == np.uint16 and first.shape == hdr_image.shape
    assert np.array_equal(first, second)
    assert np.array_equal(first, method.net.restore(midpoint(decode_jpeg8(data), 8)))
    plain = midpoint(decode_jpeg8(JPEG(keep_rgb=True).encode(truncate(hdr_image, 8), 90)), 8)
    assert not np.array_equal(first, plain)  # the random net changes the truncation baseline


def test_export_round_trip_matches_the_training_module(tmp_path, hdr_image):
    path, module = _shipped(tmp_path)
    method = Dequantization("dq", JPEG(keep_rgb=True), str(path), root="/")
    module.model.eval()
    codes = midpoint(truncate(hdr_image, 8), 8)
    a = module.model.restore(codes).astype(int)
    b = method.net.restore(codes).astype(int)
    assert np.abs(a - b).max() <= 64  # fp16 weights, 16-bit output: well under one 8-bit step (256)


def test_other_weights_refuse_the_file(method, tmp_path, hdr_image):
    other_path, _ = _shipped(tmp_path, seed=1, name="other")
    other = Dequantization("dequant_test", JPEG(keep_rgb=True), str(other_path), root="/")
    with pytest.raises(DecodeError, match="made by checkpoint"):
        other.decode(method.encode(hdr_image, 70))


def test_a_sandwich_checkpoint_is_not_a_dequantization_net(tmp_path):
    path, _ = _shipped(tmp_path)
    with pytest.raises(ValueError, match="'dequant' checkpoint, not 'sandwich'"):
        load_sandwich(path)


def test_heic_method_round_trip(tmp_path, hdr_image):
    path, _ = _shipped(tmp_path)
    method = Dequantization("dq_heic", HEIC(rgb=True), str(path), root="/")
    decoded = method.decode(method.encode(hdr_image, 70))
    assert decoded.shape == hdr_image.shape and decoded.dtype == np.uint16


def test_training_input_is_the_truncation_baselines_output(hdr_image):
    baseline = Truncation(JPEG(keep_rgb=True), "truncation_jpeg", rate_points=[80])
    module = DequantModule({"jpeg": baseline}, channels_last=False)
    batch = torch.from_numpy(hdr_image.astype(np.float32)).permute(2, 0, 1)[None]
    x = module._degrade(batch, [("jpeg", 80)])
    expected = baseline.decode(baseline.encode(hdr_image, 80))
    assert np.array_equal((x[0].permute(1, 2, 0).numpy() * 65535).round().astype(np.uint16), expected)


def test_log_mse_weighs_each_crops_db_gain_equally(hdr_image):
    """Scaling one crop's error by k changes the log_mse loss by log(k)/N whatever its size, so a
    high-quality crop (small error) counts as much as a low-quality one."""
    baseline = Truncation(JPEG(keep_rgb=True), "truncation_jpeg", rate_points=[40, 95])
    module = DequantModule({"jpeg": baseline}, channels_last=False, bf16=False)
    with pytest.raises(ValueError, match="loss"):
        DequantModule({"jpeg": baseline}, loss="l1")
    batch = torch.from_numpy(hdr_image[:32, :32].astype(np.float32)).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    module._draw = lambda count: [("jpeg", 40), ("jpeg", 95)]
    loss = module.training_step(batch, 0)
    restored = module._restore(module._degrade(batch, module._draw(2)))
    mse = (restored - batch / 65535).square().flatten(1).mean(1)
    assert mse[0] > 3 * mse[1]  # q40 vs q95: very different errors
    assert float(loss) == pytest.approx(float(mse.log().mean()), rel=1e-6)
