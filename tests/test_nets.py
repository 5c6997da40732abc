"""Pre/post-processor architecture: the paper's parameter counts, odd sizes, MLP-only start, tiles."""

from __future__ import annotations

import pytest
import torch

from sandwich.methods.sandwich.nets import (
    HALO,
    Processor,
    UNet,
    count_parameters,
    in_tiles,
)


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


def _random_paper_processor(seed: int = 0) -> Processor:
    """The paper's layout with every branch active: s = 1, He init (far context matters, as in a
    trained U-Net; PyTorch's default init lets it fade to ~1e-7)."""
    torch.manual_seed(seed)
    net = Processor()
    with torch.no_grad():
        net.scale.fill_(1.0)
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net.eval()


def test_halo_exceeds_the_unets_receptive_radius():
    net = _random_paper_processor()
    x = torch.randn(1, 3, 352, 352, requires_grad=True)
    out = net(x)
    for row, col in [
        (176, 176),
        (170, 163),
        (175, 175),
        (160, 160),
    ]:  # every phase of the 16-px pooling grid
        x.grad = None
        out[0, 0, row, col].backward(retain_graph=True)
        seen = (x.grad[0].abs().sum(0) > 0).nonzero()
        radius = (seen - torch.tensor([row, col])).abs().max().item()
        assert 64 < radius < HALO  # reaches far (a real U-Net), yet inside the halo


def test_tiles_give_the_whole_image_pass():
    net = _random_paper_processor()
    x = torch.rand(1, 3, 300, 260) - 0.5
    with torch.no_grad():
        whole = net(x)
        assert (in_tiles(net, x, tile=96, halo=HALO) - whole).abs().max() < 1e-5
        assert (
            in_tiles(net, x, tile=96, halo=32) - whole
        ).abs().max() > 1e-2  # context too short shows


# The light family ("A fast sandwich"): the processors of conf/experiment/sandwich_hdr_light.yaml.
def _light_kwargs(which: str = "pre") -> dict:
    from omegaconf import OmegaConf

    from sandwich.core.paths import CONF_DIR

    conf = OmegaConf.load(CONF_DIR / "experiment" / "sandwich_hdr_light.yaml")
    return OmegaConf.to_container(conf.model.net[which])


def test_light_processor_is_under_5000_macs_per_pixel_and_the_paper_about_54000():
    from sandwich.methods.sandwich.nets import macs_per_pixel

    for which in ("pre", "post"):
        assert macs_per_pixel(Processor(linear=True, **_light_kwargs(which))) <= 5000
    assert macs_per_pixel(Processor(linear=True)) == pytest.approx(54_000, rel=0.02)


def test_defaults_keep_the_paper_layout():
    # shipped checkpoints hold these names and shapes: the new keywords must not change them
    paper = Processor(linear=True)
    assert paper.shuffle == 1
    assert count_parameters(paper.unet) == 1_963_043
    assert all(
        not isinstance(m, torch.nn.Conv2d) or m.groups == 1 for m in paper.modules()
    )
    assert "unet.down.0.0.weight" in paper.state_dict()


@pytest.mark.parametrize("kwargs", [{}, {"separable": True}, {"shuffle": 3}])
@pytest.mark.parametrize("h, w", [(33, 47), (8, 9), (64, 64), (17, 100)])
def test_light_processor_keeps_any_size(kwargs, h, w):
    net = Processor(linear=True, **{**_light_kwargs(), **kwargs})
    with torch.no_grad():
        net.scale.fill_(0.5)
        assert net(torch.randn(2, 3, h, w)).shape == (2, 3, h, w)


def test_light_training_starts_as_mlp_only_and_the_unet_learns():
    net = Processor(**_light_kwargs())
    x = torch.randn(1, 3, 20, 24)
    assert torch.equal(net(x), net.mlp(x))
    net(x).sum().backward()
    assert net.scale.grad.abs() > 0


def test_light_unet_runs_on_the_space_to_depth_image():
    net = Processor(**_light_kwargs())
    assert net.unet.down[0][0].in_channels == 12 and net.unet.head.out_channels == 12
    with torch.no_grad():
        net.scale.fill_(1.0)
        x = torch.randn(1, 3, 32, 32)
        expected = torch.nn.functional.pixel_shuffle(
            net.unet(torch.nn.functional.pixel_unshuffle(x, 2)), 2
        )
        assert torch.allclose(net(x), net.mlp(x) + expected, atol=1e-5)


def test_light_tiles_give_the_whole_image_pass():
    torch.manual_seed(0)
    net = Processor(linear=True, **_light_kwargs())
    with torch.no_grad():
        net.scale.fill_(1.0)
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    net.eval()
    x = torch.rand(1, 3, 300, 260) - 0.5
    with torch.no_grad():
        assert (in_tiles(net, x, tile=96, halo=HALO) - net(x)).abs().max() < 1e-5
