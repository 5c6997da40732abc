"""Training data: a LightningDataModule over one image folder (HDR -> uint16 PQ, SR -> uint8).

Each file is decoded once into a cached array (a 2-core machine cannot afford re-decoding EXRs);
training samples are random crops (optionally after a random downscale) with random flips and
90° rotations; validation is a fixed, seeded split of the same folder with centre crops.
The crop stream is seeded by (seed, rank, the step training starts at): DDP ranks draw different
crops, and a resumed run goes on with new ones instead of replaying the first steps' crops.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sandwich.core.images import HDRScaling, list_images, load_for_domain


def _shrink(window: np.ndarray, size: int) -> np.ndarray:
    """Area-average downscale of a square integer window to size×size, keeping its dtype."""
    import cv2

    return window if window.shape[0] == size else cv2.resize(window, (size, size), interpolation=cv2.INTER_AREA)


class CropDataset(Dataset):
    """Random (train) or centre (validation) crops of cached images, as C×H×W tensors of the
    integer dtype's values (float32, not normalised: models normalise themselves)."""

    def __init__(
        self,
        images: list[np.ndarray],
        crop: int,
        train: bool,
        samples_per_epoch: int | None = None,
        min_scale: float = 1.0,
        seed: int | list[int] = 0,
    ):
        if not images:
            raise ValueError("no images")
        if train and min(min(im.shape[:2]) for im in images) < crop:
            raise ValueError(f"an image is smaller than the {crop}-pixel crop")
        self.images, self.crop, self.train = images, crop, train
        self.length = samples_per_epoch if train and samples_per_epoch else len(images)
        self.min_scale = min_scale
        self.reseed(seed)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        if not self.train:
            return self._to_tensor(self._centre(self.images[index % len(self.images)]))
        image = self.images[self.rng.integers(len(self.images))]
        h, w = image.shape[:2]
        window = self.crop  # source pixels per crop side: a random downscale reads a larger window
        if self.min_scale < 1.0:
            smallest = max(self.min_scale, self.crop / min(h, w))
            if smallest < 1.0:
                window = min(h, w, round(self.crop / self.rng.uniform(smallest, 1.0)))
        top, left = self.rng.integers(h - window + 1), self.rng.integers(w - window + 1)
        # only the window is resized, never the whole photo
        patch = _shrink(image[top : top + window, left : left + window], self.crop)
        if self.rng.random() < 0.5:
            patch = patch[:, ::-1]
        patch = np.rot90(patch, self.rng.integers(4))
        return self._to_tensor(patch)

    def _centre(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        crop = min(self.crop, h, w)
        top, left = (h - crop) // 2, (w - crop) // 2
        return image[top : top + crop, left : left + crop]

    @staticmethod
    def _to_tensor(patch: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(patch).astype(np.float32)).permute(2, 0, 1)

    def reseed(self, seed: int | list[int]) -> None:
        self.seed = [int(s) for s in np.atleast_1d(seed)]
        self.rng = np.random.default_rng(self.seed)


def _seed_worker(worker_id: int) -> None:
    """Each loader worker draws its own stream, derived from the dataset's seed."""
    info = torch.utils.data.get_worker_info()
    info.dataset.reseed([*info.dataset.seed, worker_id])


class ImageFolderData(L.LightningDataModule):
    """Crops from `root` (a folder of images) for the task `domain` ("hdr16" or "sr8")."""

    def __init__(
        self,
        root: str,
        domain: str,
        crop: int = 256,
        batch_size: int = 8,
        val_fraction: float = 0.1,
        val_images: list[str] | None = None,
        val_crop: int | None = None,
        samples_per_epoch: int = 2000,
        min_scale: float = 1.0,
        num_workers: int = 0,
        max_images: int | None = None,
        seed: int = 0,
        hdr_scaling: dict | None = None,
    ):
        super().__init__()
        self.root, self.domain = Path(root), domain
        self.crop, self.batch_size, self.val_fraction = crop, batch_size, val_fraction
        self.val_images_named = list(val_images) if val_images else None
        self.val_crop = val_crop or crop
        self.samples_per_epoch, self.min_scale = samples_per_epoch, min_scale
        self.num_workers, self.max_images, self.seed = num_workers, max_images, seed
        self.scaling = HDRScaling(**(hdr_scaling or {}))
        self.train_images: list[np.ndarray] = []
        self.val_images: list[np.ndarray] = []

    def split(self) -> tuple[list[Path], list[Path]]:
        """(validation, training) paths: the files named in `val_images`, or else a seeded carve of
        `val_fraction` of the folder, whatever the crop size."""
        paths = list_images(self.root)[: self.max_images]
        if len(paths) < 2:
            raise ValueError(f"{self.root}: need at least 2 images to carve a validation split")
        if self.val_images_named:  # e.g. to hold out both photographs and panoramas
            chosen = set(self.val_images_named)
            missing = sorted(chosen - {p.name for p in paths})
            if missing:
                raise ValueError(f"{self.root}: val_images not in the folder: {', '.join(missing)}")
            if len(chosen) == len(paths):
                raise ValueError(f"{self.root}: val_images leave no training image")
            return [p for p in paths if p.name in chosen], [p for p in paths if p.name not in chosen]
        order = np.random.default_rng(self.seed).permutation(len(paths))
        n_val = max(1, round(self.val_fraction * len(paths)))
        return [paths[i] for i in sorted(order[:n_val])], [paths[i] for i in sorted(order[n_val:])]

    def setup(self, stage: str | None = None) -> None:
        if self.train_images:
            return
        self.val_paths, train_paths = self.split()
        self.val_images = [load_for_domain(p, self.domain, self.scaling) for p in self.val_paths]
        train, small = [], []
        for path in train_paths:
            image = load_for_domain(path, self.domain, self.scaling)
            (train if min(image.shape[:2]) >= self.crop else small).append((path, image))
        if small:  # crops of one batch must share a size
            names = ", ".join(p.name for p, _ in small)
            warnings.warn(f"skipping training images smaller than {self.crop} px: {names}", stacklevel=2)
        self.train_paths = [p for p, _ in train]
        self.train_images = [im for _, im in train]
        if not self.train_images:
            raise ValueError(f"{self.root}: no training image is at least {self.crop} px on its short side")

    def _loader(self, dataset: Dataset, batch_size: int) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            num_workers=self.num_workers,
            worker_init_fn=_seed_worker if self.num_workers else None,
            persistent_workers=self.num_workers > 0,
            drop_last=dataset.train,
        )

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer  # None outside a Trainer; a resumed run has its restored step here
        stream = [self.seed, trainer.global_rank, trainer.global_step] if trainer else [self.seed, 0, 0]
        dataset = CropDataset(self.train_images, self.crop, True, self.samples_per_epoch, self.min_scale, stream)
        return self._loader(dataset, self.batch_size)  # crops are already random: no shuffling

    def val_dataloader(self) -> DataLoader:
        # one image a batch: centre crops of images smaller than `val_crop` differ in size
        return self._loader(CropDataset(self.val_images, self.val_crop, False), 1)
