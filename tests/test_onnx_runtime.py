"""`runtime: onnxruntime`: ONNX Runtime computes the U-Nets' layers of the sandwich methods. Its
outputs match PyTorch's up to float rounding at any image size, its decodes are the method's own
and repeat exactly, and the exported graph is cached by the weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import synthetic_linear

from sandwich.core.images import linear_to_pq16
from sandwich.evaluation.registry import build_method
from sandwich.methods.sandwich import onnx_runtime
from sandwich.methods.sandwich.model import Sandwich
from sandwich.methods.sandwich.nets import Processor
from sandwich.methods.sandwich.onnx_runtime import OnnxBody

LIGHT = {"shuffle": 2, "encoder": [12, 24, 48], "decoder": [48, 24, 12, 12]}


@pytest.mark.parametrize("layout", [LIGHT, {"encoder": [8, 16], "decoder": [16, 8, 8]}], ids=["light", "paper-like"])
def test_onnx_body_matches_pytorch_at_sizes_off_the_pooling_grid(layout, tmp_path, monkeypatch):
    monkeypatch.setenv("SANDWICH_CACHE", str(tmp_path))
    torch.manual_seed(0)
    processor = Processor(linear=True, **layout).eval()
    with torch.no_grad():
        processor.scale.fill_(0.5)  # the U-Net branch counts in the output
        body = OnnxBody(processor.unet)
        for height, width in ((37, 50), (64, 64), (131, 90)):
            x = torch.rand(1, 3, height, width) - 0.5
            expected, got = processor(x), processor(x, unet_body=body)
            assert got.shape == expected.shape
            assert torch.allclose(got, expected, atol=1e-5), float((got - expected).abs().max())
    assert body._session is not None  # the layers did run in ONNX Runtime


def test_the_graph_is_exported_once_per_set_of_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDWICH_CACHE", str(tmp_path))
    torch.manual_seed(0)
    processor = Processor(**LIGHT).eval()
    x = torch.rand(1, 3, 32, 32) - 0.5
    with torch.no_grad():
        processor.scale.fill_(0.5)  # the U-Net branch counts in the output
        first = processor(x, unet_body=OnnxBody(processor.unet))
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_runtime.torch.onnx, "export", refuse)
    with torch.no_grad():
        assert torch.equal(processor(x, unet_body=OnnxBody(processor.unet)), first)  # read from the cache
        processor.unet.head.bias.add_(1.0)
        with pytest.raises(AssertionError, match="exported again"):  # other weights, another graph
            processor(x, unet_body=OnnxBody(processor.unet))


def test_training_never_goes_through_onnx_runtime():
    """With autograd on, the model ignores its ONNX bodies (the U-Nets get gradients) and a body
    refuses to run."""
    model = Sandwich(task="sr", pre=LIGHT, post=LIGHT, colour="ycbcr")
    with torch.no_grad():
        model.pre.scale.fill_(0.5)
        model.post.scale.fill_(0.5)
    model.use_onnxruntime()
    model.train()
    reconstruction, _, _ = model(torch.rand(1, 3, 32, 32) * 255)
    reconstruction.mean().backward()
    for processor in (model.pre, model.post):
        assert processor.unet.head.weight.grad is not None and processor.unet.head.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="inference path only"):
        model.unet_bodies["post"](torch.zeros(1, 12, 8, 8))


def test_light_method_decodes_repeat_exactly_and_stay_within_a_code_value_of_pytorch():
    method = build_method("sandwich_hdr_jpeg_light")
    assert method.runtime == "onnxruntime" and all(model.unet_bodies for model in method.models.values())
    assert "ONNX Runtime" in method.description
    image = linear_to_pq16(synthetic_linear(96, 128, seed=5))
    point = method.rate_points[len(method.rate_points) // 2]
    data = method.encode(image, point)
    decoded = method.decode(data)
    assert np.array_equal(method.decode(data), decoded)
    method.clear_cache()
    assert method.encode(image, point) == data
    model = method.model_at(point)
    model.unet_bodies = {}  # the same weights in PyTorch
    by_torch = method.decode(data)
    assert np.abs(by_torch.astype(np.int64) - decoded).max() <= 1  # float rounding: a code value at most
    assert np.count_nonzero(by_torch != decoded) < 0.01 * decoded.size
