"""The sandwich model: shapes, bottleneck range, baseline at initialisation, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import synthetic_sr

from baselines.resample import downsample
from baselines.truncation import midpoint, truncate
from sandwich.model import Sandwich

SMALL = {"encoder": (8, 16), "decoder": (32, 16, 8)}


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
    model = Sandwich(task, SMALL, SMALL, bf16=True).train()
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
