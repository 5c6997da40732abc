"""The differentiable JPEG proxy against the real codec."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8, step_tables
from sandwich.methods.sandwich.proxy import (
    JPEGProxy,
    dct2,
    dct_matrix,
    fitted_rate,
    idct2,
    rate_surrogate,
    rgb_to_ycbcr,
    ste_floor,
    ste_round,
    ycbcr_to_rgb,
)


def _image(h=37, w=45, seed=0):
    from conftest import synthetic_sr

    return torch.from_numpy(synthetic_sr(h, w, seed)).permute(2, 0, 1)[None].float()


def test_dct_is_orthonormal_and_exactly_inverted():
    c = dct_matrix(dtype=torch.float64)
    assert torch.allclose(c @ c.T, torch.eye(8, dtype=torch.float64), atol=1e-12)
    x = torch.randn(2, 3, 16, 24, dtype=torch.float64)
    assert torch.allclose(idct2(dct2(x, c), c), x, atol=1e-10)
    # the DC coefficient of a constant block is 8× its value (JPEG's FDCT scaling)
    assert dct2(torch.full((1, 1, 8, 8), 3.0, dtype=torch.float64), c)[0, 0, 0, 0, 0, 0].item() == pytest.approx(24)


def test_colour_transform_round_trip():
    x = torch.rand(1, 3, 8, 8) * 255
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-3)


def test_straight_through_gradients_flow():
    x = torch.linspace(-2, 2, 9, requires_grad=True)
    (ste_round(x).sum() + ste_floor(x).sum()).backward()
    assert torch.equal(x.grad, torch.full_like(x, 2.0))
    proxy = JPEGProxy(step_init=6.0)
    bottleneck = _image().requires_grad_(True)
    decoded, quantized = proxy(bottleneck)
    bits = proxy.real_bits(bottleneck, proxy.step.item())
    (decoded.square().mean() + fitted_rate(quantized, proxy.step, bits).sum()).backward()
    assert bottleneck.grad.abs().sum() > 0 and proxy.q.grad.abs() > 0


def test_step_parametrisation():
    for step in (1.0, 1.5, 4.0, 12.0):
        assert JPEGProxy(step_init=step).step.item() == pytest.approx(step, rel=1e-5)
    with pytest.raises(ValueError, match="at least 1"):
        JPEGProxy(step_init=0.5)


@pytest.mark.parametrize("colour,tilt,chroma", [("rgb", 0.0, 1.0), ("ycbcr", 0.0, 1.0), ("rgb", 1.0, 1.0), ("ycbcr", 1.0, 1.5)])
@pytest.mark.parametrize("step", [1, 4, 8])
def test_proxy_matches_real_jpeg(colour, tilt, chroma, step):
    """Odd size: the proxy's padding and crop follow libjpeg; decoded images agree to a few levels,
    with the flat table and with shaped tables alike."""
    image = _image(37, 45)
    proxy = JPEGProxy(step_init=step, colour=colour, tilt=tilt, chroma=chroma)
    decoded, _ = proxy(image)
    assert decoded.shape == image.shape
    u8 = image[0].permute(1, 2, 0).numpy().astype(np.uint8)
    if (tilt, chroma) == (0.0, 1.0):  # the shaped-table defaults are the flat table
        assert proxy.encode(u8, step) == encode_jpeg8(u8, flat_step=step, keep_rgb=colour == "rgb")
    real = decode_jpeg8(proxy.encode(u8, step)).astype(np.float64)
    proxy = decoded[0].permute(1, 2, 0).detach().numpy()
    mse = np.mean((real - proxy) ** 2)
    codec_mse = np.mean((real - u8) ** 2)
    # libjpeg's fixed-point DCT and colour conversion flip a few coefficients across a rounding
    # boundary. Measured proxy-vs-real MSE over the codec's own: 0.13-0.27 at step 4, 0.06-0.11 at
    # step 8 (bounds about 1.5-3x that); at step 1 the codec is near lossless (MSE 0.1-1.6) and
    # the proxy within 0.12-0.82 of it
    limit = {1: 1.0, 4: 0.4 * codec_mse, 8: 0.2 * codec_mse}[step]
    assert mse < limit, f"proxy vs real JPEG MSE {mse:.3f}, codec MSE {codec_mse:.3f}"


@pytest.mark.parametrize("colour,tilt,chroma", [("rgb", 0.0, 1.0), ("ycbcr", 1.0, 1.5)])
def test_fitted_rate_equals_real_jpeg_size(colour, tilt, chroma):
    """The rate the loss sees is the size of the real JPEG of the clipped, rounded bottleneck at
    the rounded step; its gradient is a·∂/∂x Σ log(1 + |x|/Δ_k) = a·sign(x)/(Δ_k + |x|)."""
    generator = torch.Generator().manual_seed(3)
    # fractional values and values outside [0, 255]: the real file is made from clip(round(x))
    image = torch.cat([_image(seed=1), _image(seed=2)]) * 1.2 - 20 + torch.rand(2, 3, 37, 45, generator=generator)
    proxy = JPEGProxy(step_init=5.6, colour=colour, tilt=tilt, chroma=chroma)  # the file is made at step 6
    _, coefficients = proxy(image)
    bits = proxy.real_bits(image, proxy.step.item())
    steps = proxy.coefficient_steps().detach()
    rate = fitted_rate(coefficients, steps, bits)
    for k in range(2):
        u8 = np.clip(np.round(image[k].permute(1, 2, 0).numpy()), 0, 255).astype(np.uint8)
        real = encode_jpeg8(np.ascontiguousarray(u8), flat_step=6, keep_rgb=colour == "rgb", tilt=tilt, chroma=chroma)
        assert rate[k].item() == pytest.approx(8 * len(real), rel=1e-5)
    coefficients = coefficients.detach().requires_grad_(True)
    fitted_rate(coefficients, steps, bits).sum().backward()
    with torch.no_grad():
        scale = (bits / torch.log1p(coefficients.abs() / steps).flatten(1).sum(1))[:, None, None, None, None, None]
        expected = scale * torch.sign(coefficients) / (steps + coefficients.abs())
    assert torch.allclose(coefficients.grad, expected, rtol=1e-4, atol=1e-9) and expected.abs().sum() > 0


def test_step_tables_are_what_the_file_carries_and_what_the_proxy_quantizes_with():
    import io

    from PIL import Image

    flat = step_tables(7)
    assert flat == [[7] * 64, [7] * 64]
    luma, chroma = step_tables(10, tilt=1.0, chroma=1.5)
    assert luma[0] == 10 and luma[63] == 20 and luma[1] == luma[8] == round(10 * (1 + 1 / 14))
    assert chroma[0] == 15 and chroma[63] == 30
    assert max(step_tables(200, tilt=1.0, chroma=1.5)[1]) == 255  # baseline JPEG's 8-bit entries
    u8 = _image(16, 16)[0].permute(1, 2, 0).numpy().astype(np.uint8)
    proxy = JPEGProxy(step_init=10.0, colour="ycbcr", tilt=1.0, chroma=1.5)
    with Image.open(io.BytesIO(proxy.encode(u8, 10))) as im:
        written = [list(im.quantization[k]) for k in (0, 1)]
    assert written == [luma, chroma]  # natural order in and out
    steps = proxy.coefficient_steps()[:, 0, 0]  # channel × 8 × 8
    assert torch.allclose(steps[0].flatten().round(), torch.tensor(luma, dtype=torch.float32))
    assert torch.allclose(steps[1].flatten().round(), torch.tensor(chroma, dtype=torch.float32))
    with pytest.raises(ValueError, match="chroma"):
        JPEGProxy(colour="rgb", chroma=1.5)
    with pytest.raises(ValueError, match="step table"):
        encode_jpeg8(u8, quality=80, tilt=1.0)


@pytest.mark.parametrize("rate_input, sees_zeros", [("quantized", False), ("unquantized", True), ("noisy", True)])
def test_only_the_unquantized_rate_inputs_see_coefficients_quantized_to_zero(rate_input, sees_zeros):
    """A faint texture whose AC coefficients all quantize to zero: growing it would make them
    non-zero and cost bits. The quantized surrogate's gradient is blind to that (its AC part is
    zero: constant over each 8×8 block); the unquantized one pushes the texture down, the noisy
    one (one noise draw) at least sees it."""
    torch.manual_seed(0)
    y, x = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    texture = 2.0 * torch.sin(x * 1.3) * torch.cos(y * 0.9)
    image = (100.0 + texture).expand(1, 3, 16, 16).clone().requires_grad_(True)
    proxy = JPEGProxy(step_init=40.0, colour="ycbcr", rate_input=rate_input)
    _, coefficients = proxy(image)
    quantized = JPEGProxy(step_init=40.0, colour="ycbcr")(image)[1].detach()
    assert quantized.flatten(-2)[..., 1:].abs().max() == 0  # every AC coefficient quantizes to zero
    rate_surrogate(coefficients, proxy.coefficient_steps()).sum().backward()
    blocks = image.grad.reshape(1, 3, 2, 8, 2, 8)
    ac_part = (blocks - blocks.mean(dim=(3, 5), keepdim=True)).abs().max().item()
    assert (ac_part > 1e-4) == sees_zeros
    if rate_input == "unquantized":  # descent flattens the texture
        assert (image.grad * (texture - texture.mean())).sum() > 0


def test_an_unknown_rate_input_is_refused():
    with pytest.raises(ValueError, match="rate_input"):
        JPEGProxy(rate_input="soft")
