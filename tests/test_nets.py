"""Pre/post-processor architecture: the paper's parameter counts, odd sizes, MLP-only start."""

from __future__ import annotations

import pytest
import torch

from sandwich.nets import Processor, UNet, count_parameters


@pytest.mark.parametrize(
    "encoder, decoder, params",
    [  # Guleryuz et al., Table II (3 channels in and out)
        ((16, 32, 64, 128), (256, 128, 64, 32, 16), 1_963_043),
        ((32, 64), (128, 64, 32), 472_387),
        ((8, 16, 32, 64), (128, 64, 32, 16, 8), 491_347),
        ((16, 32), (64, 32, 16), 118_691),
    ],
)
def test_unet_matches_paper_parameter_counts(encoder, decoder, params):
    assert count_parameters(UNet(3, 3, encoder, decoder)) == params


@pytest.mark.parametrize("h, w", [(33, 47), (8, 9), (64, 64), (17, 100)])
def test_processor_keeps_any_size(h, w):
    net = Processor(encoder=(8, 16), decoder=(32, 16, 8))
    with torch.no_grad():
        net.scale.fill_(0.5)
        assert net(torch.randn(2, 3, h, w)).shape == (2, 3, h, w)


def test_training_starts_as_mlp_only():
    net = Processor(encoder=(8, 16), decoder=(32, 16, 8))
    x = torch.randn(1, 3, 20, 24)
    assert net.scale.item() == 0.0
    assert torch.equal(net(x), net.mlp(x))
    net(x).sum().backward()
    assert net.scale.grad is not None and net.scale.grad.abs() > 0  # s can leave 0
