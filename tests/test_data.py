"""The training DataModule on tiny synthetic folders."""

from __future__ import annotations

import numpy as np
import torch
from conftest import synthetic_linear, synthetic_sr

from sandwich.core.images import write_exr, write_png
from sandwich.training.data import CropDataset, ImageFolderData


def test_hdr_folder_split_crops_and_augmentation(tmp_path):
    for i in range(5):
        write_exr(tmp_path / f"{i}.exr", synthetic_linear(40 + i, 52, seed=i))
    data = ImageFolderData(str(tmp_path), "hdr16", crop=32, batch_size=4, val_fraction=0.2, samples_per_epoch=8)
    data.setup()
    assert len(data.val_paths) == 1 and len(data.train_paths) == 4
    assert not set(data.val_paths) & set(data.train_paths)
    batch = next(iter(data.train_dataloader()))
    assert batch.shape == (4, 3, 32, 32) and batch.dtype == torch.float32
    assert batch.max() > 255  # uint16 PQ code values, not normalised
    val = next(iter(data.val_dataloader()))
    assert val.shape == (1, 3, 32, 32)
    assert torch.equal(val, next(iter(data.val_dataloader())))  # validation is deterministic


def test_named_validation_images_replace_the_seeded_carve(tmp_path):
    import pytest

    for i in range(4):
        write_png(tmp_path / f"{i}.png", synthetic_sr(30, 30, seed=i))
    data = ImageFolderData(str(tmp_path), "sr8", crop=16, val_images=["3.png", "1.png"])
    val, train = data.split()
    assert [p.name for p in val] == ["1.png", "3.png"] and [p.name for p in train] == ["0.png", "2.png"]
    with pytest.raises(ValueError, match="not in the folder: 9.png"):
        ImageFolderData(str(tmp_path), "sr8", val_images=["9.png", "1.png"]).split()
    with pytest.raises(ValueError, match="no training image"):
        ImageFolderData(str(tmp_path), "sr8", val_images=[f"{i}.png" for i in range(4)]).split()


def test_crops_cover_flips_and_rotations():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    crops = CropDataset([image], crop=4, train=True, samples_per_epoch=64)
    seen = {crops[i].numpy().tobytes() for i in range(64)}
    assert len(seen) == 8  # the dihedral group of the square


def test_small_images_are_skipped_and_downscale_keeps_the_crop(tmp_path):
    import pytest

    for name, (h, w) in {"a": (20, 30), "b": (60, 90), "c": (50, 50)}.items():
        write_png(tmp_path / f"{name}.png", synthetic_sr(h, w))
    data = ImageFolderData(str(tmp_path), "sr8", crop=24, batch_size=2, val_fraction=0.3, samples_per_epoch=16, min_scale=0.3)
    with pytest.warns(UserWarning, match="smaller than 24"):
        data.setup()
    assert all(min(im.shape[:2]) >= 24 for im in data.train_images)
    batches = list(data.train_dataloader())
    assert len(batches) == 8 and all(b.shape == (2, 3, 24, 24) for b in batches)


def test_random_downscale_reads_a_larger_window():
    """With min_scale < 1 a crop covers more of the source than crop×crop pixels (area-averaged)."""
    y, x = np.mgrid[0:32, 0:32]
    image = np.repeat((x + y).astype(np.uint8)[..., None], 3, axis=2)
    crops = CropDataset([image], crop=8, train=True, samples_per_epoch=64, min_scale=0.25)
    samples = [crops[i] for i in range(64)]
    spans = [float(c.max() - c.min()) for c in samples]
    assert all(c.shape == (3, 8, 8) for c in samples)
    assert max(spans) > 2 * (8 - 1) + 4  # an unscaled 8×8 crop of x+y spans exactly 14
    assert min(spans) >= 2 * (8 - 1) - 1e-6 and max(spans) <= 62
