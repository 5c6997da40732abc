"""sandwich.validate: shipped checkpoints scored on the training runs' own validation crops."""

from __future__ import annotations

import numpy as np

from sandwich import checkpoint
from sandwich.codecs.jpeg import decode_jpeg8, encode_jpeg8
from sandwich.data import ImageFolderData
from sandwich.images import write_png
from sandwich.metrics import psnr
from sandwich.validate import gain_over, score, validation_crops
from conftest import synthetic_sr

SHIPPED_SR = checkpoint.PROJECT_ROOT / "checkpoints" / "sandwich_sr" / "lambda_20.pt"


def test_validation_crops_are_the_ones_training_validates_on(tmp_path):
    for i, (h, w) in enumerate([(40, 52), (36, 44), (48, 40)]):
        write_png(tmp_path / f"{i}.png", synthetic_sr(h, w, seed=i))
    names, crops = validation_crops("sr", root=str(tmp_path))
    module = ImageFolderData(root=str(tmp_path), domain="sr8", crop=32, val_fraction=0.1, val_crop=512, seed=0)
    module.setup("fit")
    batches = [b[0].permute(1, 2, 0).numpy() for b in module.val_dataloader()]
    assert names == [p.name for p in module.val_paths] and len(crops) == len(batches) == 1
    assert crops[0].dtype == np.uint8 and np.array_equal(crops[0], batches[0].astype(np.uint8))
    names, crops = validation_crops("sr", root=str(tmp_path), val_images=["0.png", "2.png"])  # a run's data.val_images
    assert names == ["0.png", "2.png"] and len(crops) == 2


def test_score_counts_the_real_files_and_measures_their_decodes(sr_image):
    crop = sr_image[:40, :48]
    model, meta = checkpoint.load(SHIPPED_SR)
    rows = score(model, meta, [crop], [2.0, 1.0])
    steps = sorted({max(1, round(meta["learned_step"] * f)) for f in (2.0, 1.0)}, reverse=True)
    assert [r["step"] for r in rows] == steps
    # the shipped model's own tables (flat or shaped) in YCbCr
    data = encode_jpeg8(model.encode_image(crop), flat_step=steps[0], tilt=model.proxy.tilt, chroma=model.proxy.chroma)
    restored = model.decode_image(decode_jpeg8(data), 40, 48, np.uint8)
    assert rows[0]["bpp"] == 8 * len(data) / (40 * 48) and rows[0]["psnr"] == psnr(crop, restored, 255)
    assert rows[0]["bpp"] < rows[1]["bpp"]  # the coarser step makes the smaller file


def test_gain_over_the_reference_front_at_equal_rate():
    # reference: 30 dB at 0.25 bpp, 36 dB at 1 bpp; 6 dB per doubling is linear in log rate
    reference = (np.array([0.25, 0.5, 1.0, 0.5]), np.array([30.0, 33.0, 36.0, 32.0]))
    assert gain_over(reference, {"bpp": 0.5, "psnr": 33.5}) == 0.5  # the dominated 32 dB point is off the front
    assert abs(gain_over(reference, {"bpp": 2 ** -1.5, "psnr": 31.0}) - (-0.5)) < 1e-9
    assert gain_over(reference, {"bpp": 0.2, "psnr": 31.0}) is None  # below the reference's range


def test_heic_scores_the_files_the_heic_methods_make(sr_image, compose_cfg):
    from sandwich.codecs.heic import HEIC
    from sandwich.validate import HEIC_RGB

    for task in HEIC_RGB:  # the same colour handling as sandwich_<task>_heic
        codec = compose_cfg("eval", [f"method=sandwich_{task}_heic"]).method.codec
        assert codec.rgb == HEIC_RGB[task] and codec.bits == 8 and codec.chroma == "444"
    crop = sr_image[:40, :48]
    model, meta = checkpoint.load(SHIPPED_SR)
    rows = score(model, meta, [crop], [1.0], heic=[50, 90])
    data = HEIC(bits=8, rgb=False).encode(model.encode_image(crop), 50)
    restored = model.decode_image(HEIC(bits=8).decode(data), 40, 48, np.uint8)
    assert [r["quality"] for r in rows] == [50, 90]
    assert rows[0]["bpp"] == 8 * len(data) / (40 * 48) and rows[0]["psnr"] == psnr(crop, restored, 255)
    assert rows[0]["bpp"] < rows[1]["bpp"] and rows[0]["psnr"] < rows[1]["psnr"]
