"""The sandwich as a Method: shipped checkpoints, real bitstreams, identity of the weights."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import sandwich_module
from PIL import Image

from sandwich.codecs.heic import HEIC
from sandwich.codecs.jpeg import JPEG, decode_jpeg8, step_tables
from sandwich.core.bitstream import extract_from_jpeg
from sandwich.core.domains import DOMAINS
from sandwich.core.errors import DecodeError
from sandwich.core.paths import PROJECT_ROOT
from sandwich.methods import checkpoint
from sandwich.methods.sandwich.method import SandwichMethod
from sandwich.methods.sandwich.model import Sandwich, load_sandwich
from sandwich.methods.sandwich.module import SandwichModule

SMALL = {"encoder": [8, 16], "decoder": [32, 16, 8]}


def _training_checkpoint(path, task="hdr", seed=0, **kwargs):
    """A Lightning-style checkpoint of a module with random (non-identity) weights."""
    colour = "rgb" if task == "hdr" else "ycbcr"
    module = sandwich_module(task=task, pre=SMALL, post=SMALL, colour=colour, channels_last=False, **kwargs)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.model.named_parameters():
            if name != "proxy.q":
                p.copy_(torch.randn(p.shape, generator=generator) * 0.05)
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(), "global_step": 7}, path)
    return path


@pytest.fixture
def hdr_method(tmp_path):
    ckpt = checkpoint.export(_training_checkpoint(tmp_path / "a.ckpt", step_init=5.0), tmp_path / "a.pt")
    codec = JPEG(table="flat", keep_rgb=True)
    return SandwichMethod("sandwich_test", codec, {"lam1": str(ckpt)}, step_factors=[0.5, 1.0, 2.0])


def test_export_is_fp16_and_loads_the_same_function(tmp_path, hdr_image):
    ckpt = _training_checkpoint(tmp_path / "a.ckpt")
    shipped = checkpoint.export(ckpt, tmp_path / "a.pt", meta={"command": "x"})
    model, meta = load_sandwich(shipped)
    document = torch.load(shipped, weights_only=True)
    for value in document["state_dict"].values():
        if value.is_floating_point():
            assert value.dtype == (torch.float16 if value.numel() > checkpoint.SMALL_FP32 else torch.float32)
    assert meta["global_step"] == 7 and meta["command"] == "x" and len(meta["digest"]) == checkpoint.DIGEST_BYTES
    hparams = torch.load(ckpt, weights_only=False)["hyper_parameters"]
    original = SandwichModule(Sandwich(**hparams["network"]["args"]), **{k: v for k, v in hparams.items() if k != "network"})
    original.load_state_dict(torch.load(ckpt, weights_only=False)["state_dict"])
    original.model.eval()
    crop = hdr_image[:48, :40]
    a, b = original.model.encode_image(crop).astype(int), model.encode_image(crop).astype(int)
    assert np.abs(a - b).max() <= 1 and np.mean(a != b) < 0.05  # fp16 weights: at most a rare 1-level flip


def test_rate_points_sweep_around_the_learned_step(hdr_method):
    learned = hdr_method.meta["lam1"]["learned_step"]
    assert learned == pytest.approx(5.0, abs=1e-4)
    assert hdr_method.rate_points == ("lam1/10", "lam1/5", "lam1/2")
    # a target-rate search (sandwich compress --target-bpp) may use every JPEG step
    assert hdr_method.rate_search_grids() == [[f"lam1/{step}" for step in range(255, 0, -1)]]


def test_decode_equals_the_models_own_path_and_is_a_standard_jpeg(hdr_method, hdr_image):
    image = hdr_image[:50, :42]
    height, width = image.shape[:2]
    data = hdr_method.encode(image, "lam1/5")
    model = hdr_method.models["lam1"]
    # the model's own real-codec path (what training validation measures), built without the method
    own_jpeg, own_decode = model.jpeg_round_trip(image, 5)
    _, inner = extract_from_jpeg(data, "sandwich_test")
    assert inner == own_jpeg  # the file is that JPEG plus the header segment
    assert np.array_equal(hdr_method.decode(data), own_decode)
    with Image.open(io.BytesIO(data)) as viewer:  # any viewer shows the bottleneck
        assert viewer.format == "JPEG" and viewer.size == (width, height)
    assert len(hdr_method.encode(image, "lam1/10")) < len(data)


def test_a_reloaded_checkpoint_decodes_an_old_bitstream_identically(hdr_method, hdr_image, tmp_path):
    """A file written earlier, decoded by a fresh process that loads the checkpoint from disk
    with another thread count, gives the identical image."""
    image = hdr_image[:40, :40]
    (tmp_path / "old.jpg").write_bytes(hdr_method.encode(image, "lam1/5"))
    first = hdr_method.decode((tmp_path / "old.jpg").read_bytes())
    script = f"""
import numpy as np, torch
torch.set_num_threads({torch.get_num_threads() % 4 + 1})
from sandwich.codecs.jpeg import JPEG
from sandwich.methods.sandwich.method import SandwichMethod
method = SandwichMethod("sandwich_test", JPEG(table="flat", keep_rgb=True), {{"lam1": {str(hdr_method.paths["lam1"])!r}}}, step_factors=[1.0])
np.save({str(tmp_path / "again.npy")!r}, method.decode(open({str(tmp_path / "old.jpg")!r}, "rb").read()))
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=PROJECT_ROOT)
    assert np.array_equal(np.load(tmp_path / "again.npy"), first)
    assert not np.array_equal(first, image)  # the weights are random: the test would see a wrong decode


def test_other_weights_under_the_same_key_are_refused(hdr_method, hdr_image, tmp_path):
    data = hdr_method.encode(hdr_image[:40, :40], "lam1/5")
    other = checkpoint.export(_training_checkpoint(tmp_path / "b.ckpt", seed=1, step_init=5.0), tmp_path / "b.pt")
    impostor = SandwichMethod("sandwich_test", hdr_method.codec, {"lam1": str(other)}, step_factors=[1.0])
    with pytest.raises(DecodeError, match="checkpoint"):
        impostor.decode(data)
    with pytest.raises(DecodeError):
        hdr_method.decode(data[: len(data) // 2])


def test_sr_sandwich_over_heic_round_trip(tmp_path, sr_image):
    ckpt = checkpoint.export(_training_checkpoint(tmp_path / "s.ckpt", task="sr"), tmp_path / "s.pt")
    method = SandwichMethod("sandwich_sr_test", HEIC(), {"lam": str(ckpt)}, settings=[50, 90])
    image = sr_image[:45, :38]
    data = method.encode(image, "lam/90")
    decoded = method.decode(data)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.array_equal(method.decode(data), decoded)
    assert method.rate_points == ("lam/50", "lam/90")
    assert method.rate_search_grids() == [[f"lam/{quality}" for quality in range(50, 91)]]


def test_post_only_checkpoint_bottleneck_is_plain_truncation(tmp_path, hdr_image):
    from sandwich.methods.truncation import truncate

    ckpt = checkpoint.export(_training_checkpoint(tmp_path / "p.ckpt", post_only=True), tmp_path / "p.pt")
    method = SandwichMethod("post_only_test", JPEG(table="flat", keep_rgb=True), {"p": str(ckpt)}, settings=[4])
    image = hdr_image[:33, :29]
    assert np.array_equal(method.bottleneck(image, "p"), truncate(image, 8))
    assert method.decode(method.encode(image, "p/4")).shape == image.shape


def test_each_model_codes_with_its_own_tables(tmp_path, sr_image):
    """Models trained through different step tables share one method: every rate point's file holds
    its own model's tables, and the description names both."""
    files = {}
    for key, tilt in (("steep", 3.0), ("mild", 1.0)):
        trained = _training_checkpoint(tmp_path / f"{key}.ckpt", task="sr", step_init=8.0, tilt=tilt, chroma=1.5)
        files[key] = str(checkpoint.export(trained, tmp_path / f"{key}.pt"))
    method = SandwichMethod("sandwich_sr_test", JPEG(table="flat"), files, step_factors=[1.0])
    image = sr_image[:48, :40]
    for key, tilt in (("steep", 3.0), ("mild", 1.0)):
        data = method.encode(image, f"{key}/8")
        with Image.open(io.BytesIO(data)) as jpeg:
            assert [list(jpeg.quantization[k]) for k in (0, 1)] == step_tables(8, tilt=tilt, chroma=1.5)
        assert method.decode(data).shape == image.shape
    assert "Δ·(1 + 3·(u+v)/14)" in method.description and "Δ·(1 + 1·(u+v)/14)" in method.description


def test_bad_configuration_is_refused(tmp_path):
    ckpt = checkpoint.export(_training_checkpoint(tmp_path / "a.ckpt"), tmp_path / "a.pt")
    with pytest.raises(ValueError, match="exactly one"):
        SandwichMethod("x", JPEG(table="flat"), {"a": str(ckpt)})
    with pytest.raises(ValueError, match="step-table"):
        SandwichMethod("x", JPEG(), {"a": str(ckpt)}, step_factors=[1.0])


def test_shaped_tables_travel_from_training_to_the_bitstream(tmp_path, sr_image):
    """A model trained with shaped step tables keeps them through export and reload; its method
    codes with exactly those tables, decodes what the model's own path gives, and refuses a codec
    that names tables of its own."""
    ckpt = checkpoint.export(
        _training_checkpoint(tmp_path / "s.ckpt", task="sr", step_init=8.0, tilt=1.0, chroma=1.5), tmp_path / "s.pt"
    )
    model, _ = load_sandwich(ckpt)
    assert (model.proxy.tilt, model.proxy.chroma) == (1.0, 1.5)
    method = SandwichMethod("sandwich_sr_test", JPEG(table="flat"), {"lam": str(ckpt)}, step_factors=[1.0])
    image = sr_image[:48, :40]
    data = method.encode(image, "lam/8")
    with Image.open(io.BytesIO(data)) as jpeg:
        tables = [list(jpeg.quantization[k]) for k in (0, 1)]
    assert tables == step_tables(8, tilt=1.0, chroma=1.5) and tables[0] != tables[1]
    expected = model.decode_image(decode_jpeg8(data), *image.shape[:2], np.uint8)
    assert np.array_equal(method.decode(data), expected)
    assert model.jpeg_round_trip(image, 8)[1].tolist() == expected.tolist()
    for codec in (JPEG(table="flat", tilt=1.0, chroma=1.5), JPEG(table="flat", chroma=2.0)):
        with pytest.raises(ValueError, match="each model's own"):
            SandwichMethod("sandwich_sr_test", codec, {"lam": str(ckpt)}, step_factors=[1.0])
        with pytest.raises(ValueError, match="each model's own"):  # an explicit step grid too
            SandwichMethod("sandwich_sr_test", codec, {"lam": str(ckpt)}, settings=[8])
    SandwichMethod("sandwich_sr_test", HEIC(), {"lam": str(ckpt)}, settings=[50])  # HEIC has no step tables


@pytest.mark.parametrize(
    "method_name, stem",
    [("sandwich_sr_jpeg", "sandwich_sr_jpeg_lambda_400_15"), ("sandwich_hdr_jpeg", "sandwich_hdr_jpeg_lambda_2e5_3")],
)
def test_the_shipped_checkpoints_still_decode_a_stored_bitstream(method_name, stem):
    """Files written on 2026-12-01 (commit 1928911) by the bench's methods (tests/data/*.jpg, with their decodes):
    today's code and checkpoints must accept them and decode the same image. Another CPU's fp32
    kernels may flip a rounded sample now and then (docs/experiments.md, reproducibility), so a few samples
    may move; a change to the decoder moves far more."""
    from sandwich.core.images import read_image
    from sandwich.evaluation.registry import build_method

    data = (PROJECT_ROOT / "tests" / "data" / f"{stem}.jpg").read_bytes()
    stored = read_image(PROJECT_ROOT / "tests" / "data" / f"{stem}.decoded.png").astype(np.float64)
    method = build_method(method_name)
    decoded = method.decode(data)
    assert decoded.shape == stored.shape and decoded.dtype == method.dtype
    difference = np.abs(decoded - stored) / DOMAINS[method.domain][1]
    assert np.mean(difference > 0) < 0.01 and difference.max() < 0.02, (np.mean(difference > 0), difference.max())
