"""The sandwich model: shapes, bottleneck range, baseline at initialisation, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import synthetic_linear, synthetic_sr

from sandwich.core.images import linear_to_pq16
from sandwich.core.paths import PROJECT_ROOT
from sandwich.methods.resample import downsample
from sandwich.methods.sandwich.model import Sandwich, load_sandwich
from sandwich.methods.sandwich.nets import in_tiles
from sandwich.methods.sandwich.proxy import RGB_TO_YCBCR
from sandwich.methods.truncation import midpoint, truncate

SMALL = {"encoder": (8, 16), "decoder": (32, 16, 8)}
SHIPPED = {task: PROJECT_ROOT / "checkpoints" / f"sandwich_{task}" / name
           for task, name in [("hdr", "lambda_2e5.pt"), ("sr", "lambda_400.pt")]}  # fmt: skip


def test_untrained_hdr_sandwich_is_truncation(hdr_image):
    model = Sandwich("hdr", SMALL, SMALL).eval()
    bottleneck = model.encode_image(hdr_image)
    assert bottleneck.dtype == np.uint8 and bottleneck.shape == hdr_image.shape
    assert np.array_equal(bottleneck, truncate(hdr_image, 8))
    restored = model.decode_image(bottleneck, *hdr_image.shape[:2], np.uint16)
    assert np.array_equal(restored, midpoint(bottleneck, 8))


def test_untrained_sr_sandwich_is_the_resampling_baseline():
    image = synthetic_sr(47, 66)
    model = Sandwich("sr", SMALL, SMALL, colour="ycbcr").eval()
    bottleneck = model.encode_image(image)
    assert bottleneck.shape == (24, 33, 3)
    assert np.abs(bottleneck.astype(int) - downsample(image)).max() <= 1
    assert model.decode_image(bottleneck, 47, 66, np.uint8).shape == image.shape


@pytest.mark.parametrize("task, shape", [("hdr", (2, 3, 37, 45)), ("sr", (2, 3, 38, 46))])
def test_proxy_path_shapes_range_and_gradients(task, shape):
    model = Sandwich(task, SMALL, SMALL).train()
    model.bf16 = True
    with torch.no_grad():  # leave the identity start so every part receives a gradient
        for processor in (model.pre, model.post):
            processor.scale.fill_(0.1)
            torch.nn.init.normal_(processor.mlp.out.weight, std=0.01)
    source = torch.rand(shape) * model.peak
    recon, bottleneck, quantized = model(source)
    assert recon.shape == source.shape and recon.dtype == torch.float32
    expected = shape[-2:] if task == "hdr" else ((shape[2] + 1) // 2, (shape[3] + 1) // 2)
    assert bottleneck.shape[-2:] == expected
    ((recon - source) ** 2).mean().backward()
    for name, param in model.named_parameters():
        if param.requires_grad and not name.endswith(("hidden.bias",)):
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_ycbcr_colour_skip_starts_at_jpegs_ycbcr_and_its_inverse(hdr_image):
    from PIL import Image

    model = Sandwich("hdr", SMALL, SMALL, colour_skip="ycbcr").eval()
    bottleneck = model.encode_image(hdr_image)
    # the bottleneck is the source's YCbCr, as Pillow's JPEG conversion makes it from 8 bits
    # (computed here from 16 bits and floored, there from 8 bits and rounded: within 2 codes)
    pillow = np.asarray(Image.fromarray(truncate(hdr_image, 8)).convert("YCbCr"))
    assert np.abs(bottleneck.astype(int) - pillow).max() <= 2
    restored = model.decode_image(bottleneck, *hdr_image.shape[:2], np.uint16).astype(float)
    # the inverse map undoes it up to the flooring (at most 1/256 of each channel's range, ×|inverse|)
    error = np.abs(restored - hdr_image).max()
    assert error <= 256 * np.abs(np.linalg.inv(RGB_TO_YCBCR.double().numpy())).sum(1).max()


def test_learned_identity_colour_skip_starts_as_truncation(hdr_image):
    model = Sandwich("hdr", SMALL, SMALL, colour_skip="identity").eval()
    assert np.array_equal(model.encode_image(hdr_image), truncate(hdr_image, 8))


def test_colour_skip_trains_and_refuses_a_post_only_ycbcr():
    model = Sandwich("hdr", SMALL, SMALL, colour_skip="ycbcr").train()
    recon, _, _ = model(torch.rand(1, 3, 16, 16) * model.peak)
    recon.square().mean().backward()
    assert model.pre.linear.weight.grad.abs().sum() > 0 and model.post.linear.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pre-processor"):
        Sandwich("hdr", SMALL, SMALL, post_only=True, colour_skip="ycbcr")


@pytest.mark.parametrize("task", ["hdr", "sr"])
def test_a_bottleneck_outside_0_255_reaches_the_codec_clipped(task):
    """The pre-processor may overshoot; the proxy and the real codec's uint8 image both clip to
    [0, 255] (a plain uint8 cast would wrap 300 to 44)."""
    model = Sandwich(task, SMALL, SMALL).eval()
    with torch.no_grad():  # push channel 0 a peak up and channel 1 a peak down
        model.pre.mlp.out.bias.copy_(torch.tensor([1.0, -1.0, 0.0]))
    image = synthetic_sr(32, 40) if task == "sr" else (np.random.default_rng(0).random((32, 40, 3)) * 65535).astype(np.uint16)
    source = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        bottleneck = model.bottleneck(source)
        decoded, _ = model.proxy(bottleneck)
    assert bottleneck[:, 0].min() > 255 and bottleneck[:, 1].max() < 0  # the overshoot is real
    assert decoded.min() >= 0 and decoded.max() <= 255
    codes = model.encode_image(image)
    assert (codes[..., 0] == 255).all() and (codes[..., 1] == 0).all()


@pytest.mark.parametrize("task", ["hdr", "sr"])
def test_a_large_image_is_coded_tile_by_tile_as_a_whole_one(task, monkeypatch):
    from sandwich.methods.sandwich import nets

    model, _ = load_sandwich(SHIPPED[task])
    image = linear_to_pq16(synthetic_linear(130, 170, seed=3)) if task == "hdr" else synthetic_sr(130, 170, seed=3)
    bottleneck = model.encode_image(image)
    restored = model.decode_image(bottleneck, 130, 170, image.dtype)
    monkeypatch.setattr(nets, "WHOLE_MAX_PIXELS", 64 * 64)  # everything above is "large" now
    monkeypatch.setattr(nets, "TILE", 48)  # 48² tiles: 9 or more per image
    calls = []
    monkeypatch.setattr(nets, "in_tiles", lambda *a, **k: calls.append(1) or in_tiles(*a, **k))
    tiled_bottleneck = model.encode_image(image)
    tiled = model.decode_image(tiled_bottleneck, 130, 170, image.dtype)
    assert calls  # the tiled path ran
    # equal up to float rounding: an integer moves by at most one, rarely
    for a, b in [(bottleneck, tiled_bottleneck), (restored, tiled)]:
        diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
