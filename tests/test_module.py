"""The LightningModule: a few real optimisation steps and a real-codec validation."""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch
from conftest import sandwich_module, synthetic_linear, synthetic_sr
from lightning.pytorch.callbacks import Timer

from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8
from sandwich.core.images import linear_to_pq16
from sandwich.methods.sandwich.proxy import to_uint8_images
from sandwich.training.callbacks import Throughput
from sandwich.training.optim import adam_with_drop

SMALL = {"encoder": (8, 16), "decoder": (32, 16, 8)}


def _loader(task):
    if task == "hdr":
        images = [linear_to_pq16(synthetic_linear(48, 48, seed=i)) for i in range(4)]
    else:
        images = [synthetic_sr(48, 48, seed=i) for i in range(4)]
    tensors = torch.stack([torch.from_numpy(im.astype(np.float32)).permute(2, 0, 1) for im in images])
    return torch.utils.data.DataLoader(tensors, batch_size=2)


@pytest.mark.parametrize("task, colour, tables", [("hdr", "rgb", {}), ("sr", "ycbcr", {}), ("sr", "ycbcr", {"tilt": 1.0, "chroma": 1.5})])
def test_fit_steps_and_real_codec_validation(task, colour, tables):
    module = sandwich_module(task, SMALL, SMALL, lmbda=1e5 if task == "hdr" else 50, colour=colour, **tables)
    step_before = module.model.proxy.step.item()
    trainer = L.Trainer(
        accelerator="cpu", max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=1, num_sanity_val_steps=0, callbacks=[Throughput()],
    )  # fmt: skip
    trainer.fit(module, _loader(task), _loader(task))
    metrics = trainer.callback_metrics
    stats = ("train/loss", "train/bpp", "train/step", "train/s_post", "train/images_per_s", "val/psnr", "val/bpp",
             "val/psnr_baseline", "val/gain_db", "val/step", "val/s_pre", "val/s_post")  # fmt: skip
    for key in stats:
        assert key in metrics and torch.isfinite(metrics[key]), key
    assert metrics["val/bpp"] > 0 and metrics["val/psnr"] > 20
    assert module.model.proxy.step.item() != step_before  # Δ is learned
    assert metrics["val/step"].item() == pytest.approx(module.model.proxy.step.item())


def test_validation_figure_draws_bench_curves_and_points(tmp_path):
    import json

    from sandwich.evaluation.rd import validation_figure

    (tmp_path / "hdr").mkdir()
    curve = [{"rate_point": q, "bpp": b, "psnr": p} for q, b, p in [(50, 1.0, 40.0), (90, 3.0, 45.0), (95, 2.5, 44.0), (99, 3.5, 44.5)]]
    (tmp_path / "hdr" / "truncation_jpeg.json").write_text(json.dumps({"name": "truncation_jpeg", "curve": curve}))
    fig = validation_figure(tmp_path, "hdr", {"model": (2.0, 44.5), "baseline": (2.2, 43.0)}, title="step 5")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "truncation_jpeg" in labels and any(label.startswith("model") for label in labels)
    front = next(line for line in fig.axes[0].get_lines() if line.get_label() == "truncation_jpeg")
    assert list(front.get_xdata()) == [1.0, 2.5, 3.0]  # the Pareto line; (3.5, 44.5) is dominated
    hollow = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("_") and len(line.get_xdata()) == 1]
    assert any(list(line.get_xdata()) == [3.5] for line in hollow)


def test_post_only_log_mse_is_the_mean_log_error_and_does_not_train_step():
    torch.manual_seed(0)
    plain = sandwich_module("hdr", SMALL, SMALL, post_only=True, post_only_steps=(3,), channels_last=False, bf16=False)
    logged = sandwich_module("hdr", SMALL, SMALL, post_only=True, post_only_steps=(3,), post_only_loss="log_mse",
                            channels_last=False, bf16=False)  # fmt: skip
    logged.load_state_dict(plain.state_dict())
    with torch.no_grad():
        plain.model.post.scale.fill_(0.5)
        logged.model.post.scale.fill_(0.5)
    batch = next(iter(_loader("hdr")))
    _, stats = plain._post_only_objective(batch)
    loss, _ = logged._post_only_objective(batch)
    with torch.no_grad():
        codes = to_uint8_images(plain.model.bottleneck(batch))
        decoded = torch.from_numpy(np.stack([decode_jpeg8(encode_jpeg8(c, flat_step=3, keep_rgb=True)) for c in codes]))
        recon = plain.model.reconstruct(decoded.permute(0, 3, 1, 2).float(), batch.shape[-2:])
        mse = (recon - batch).square().flatten(1).mean(1)
    assert float(stats["loss"]) == pytest.approx(float(mse.mean()), rel=1e-4)
    assert float(loss) == pytest.approx(float(mse.log().mean()), rel=1e-4)
    logged.trainer = L.Trainer(max_steps=10, logger=False)
    optimised = [p for group in logged.configure_optimizers()["optimizer"].param_groups for p in group["params"]]
    assert not any(p is logged.model.proxy.q for p in optimised)  # post-only codes at fixed steps
    with pytest.raises(ValueError, match="post_only_loss"):
        sandwich_module("hdr", SMALL, SMALL, post_only=True, post_only_loss="l1")


def test_step_jitter_codes_training_batches_across_the_sweep_range_and_validation_at_the_learned_step():
    module = sandwich_module("sr", SMALL, SMALL, lmbda=50, colour="ycbcr", step_init=8.0, step_jitter=2.0)
    seen = []
    proxy_forward = module.model.proxy.forward
    module.model.proxy.forward = lambda b, step=None: seen.append(float(step)) or proxy_forward(b, step)
    module.log = module.log_dict = lambda *args, **kwargs: None  # no trainer to log to
    batch = next(iter(_loader("sr")))
    torch.manual_seed(0)
    for _ in range(12):
        module.training_step(batch, 0)
    assert all(4.0 <= s <= 16.0 for s in seen) and min(seen) < 7.0 and max(seen) > 9.0
    seen.clear()
    module.validation_step(batch, 0)
    assert seen == [pytest.approx(8.0)]  # validation's proxy statistics stay at the learned Δ
    with pytest.raises(ValueError, match="step_jitter"):
        sandwich_module("sr", SMALL, SMALL, step_jitter=0.5)


def test_range_penalty_counts_only_values_outside_0_255_and_pushes_them_back():
    module = sandwich_module("sr", SMALL, SMALL, lmbda=50, colour="ycbcr")
    source = torch.from_numpy(synthetic_sr(32, 32).astype(np.float32)).permute(2, 0, 1)[None]
    _, inside = module._objective(source)
    assert inside["range_penalty"].item() == 0.0
    with torch.no_grad():
        module.model.pre.mlp.out.bias.copy_(torch.tensor([0.5, 0.0, 0.0]))  # channel 0 over 255 in places
    _, outside = module._objective(source)
    assert outside["range_penalty"].item() > 0
    outside["range_penalty"].backward()
    grad = module.model.pre.mlp.out.bias.grad
    assert grad[0] > 0 and grad[1] == 0  # descent lowers only the overshooting channel


def test_loss_is_mse_plus_lambda_times_the_real_bits_per_sample():
    module = sandwich_module("sr", SMALL, SMALL, lmbda=50, colour="ycbcr").eval()  # eval: fp32, no jitter
    source = torch.from_numpy(np.stack([synthetic_sr(32, 40, seed=i) for i in range(2)]).astype(np.float32)).permute(0, 3, 1, 2)
    real_bits = torch.tensor([4000.0, 6000.0])
    loss, stats = module._objective(source, real_bits=real_bits)
    with torch.no_grad():
        recon, _, _ = module.model(source)
    mse = (recon - source).square().flatten(1).mean(1)
    expected = (mse + 50 * real_bits / (3 * 32 * 40)).mean()  # range penalty: 0 inside [0, 255]
    assert stats["range_penalty"].item() == 0 and loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert stats["bpp"].item() == pytest.approx(5000 / (32 * 40))


def _lr_after(optimizer, scheduler) -> float:
    optimizer.step()
    scheduler.step()
    return optimizer.param_groups[0]["lr"]


def test_lr_drops_at_the_fraction_of_max_steps_without_a_time_budget():
    trainer = SimpleNamespace(max_steps=10, callbacks=[])
    setup = adam_with_drop(SimpleNamespace(trainer=trainer), [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1.0}], 0.5)
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert [_lr_after(optimizer, scheduler) for _ in range(6)] == pytest.approx([1, 1, 1, 1, 0.1, 0.1])


def test_lr_drops_at_the_fraction_of_max_time_when_that_comes_first(monkeypatch):
    timer = Timer(duration={"seconds": 100})
    elapsed = [30.0]  # a resumed run: the budget still counts from the first start
    monkeypatch.setattr(timer, "time_elapsed", lambda stage="train": elapsed[0])
    trainer = SimpleNamespace(max_steps=1000, callbacks=[timer])
    setup = adam_with_drop(SimpleNamespace(trainer=trainer), [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1.0}], 0.8)
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert _lr_after(optimizer, scheduler) == 1.0
    elapsed[0] = 79.0
    assert _lr_after(optimizer, scheduler) == 1.0
    elapsed[0] = 80.0
    assert _lr_after(optimizer, scheduler) == pytest.approx(0.1)
