"""Data sets the book uses, shipped or found offline, as tensors on the device.

Each data set is a :class:`DatasetSpec` in :data:`DATASETS`: four IDX files and the
SHA-256 of their uncompressed content. :func:`load_dataset` finds them (see
:func:`find_dataset_files`), verifies and parses them with NumPy, and returns float32
images in [0, 1] shaped (N, 1, 28, 28) moved to the device in one copy. Introduced in
Chapter 1; binarisation in Chapter 2.

The colour patch data sets of :data:`PATCH_DATASETS` (Chapter 7) are cut, seeded, from
photographs bundled with scikit-image (:mod:`vae_lib.photos`); their labels say which
photograph each patch came from, and the test split's photographs are never seen in
training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import photos
from .files import DataFileError, download_verified, parse_idx, read_verified
from .runtime import resolve_device
from .validate import (
    check_choice,
    check_generator,
    check_images,
    check_positive_int,
    check_seed,
    check_tensor,
)

DATA_DIR_VARIABLE = "VAE_BOOK_DATA"


class DatasetNotFoundError(DataFileError, ValueError):
    """A data set's files are not where the library looked: the message names each
    folder searched and the first file missing there. A :class:`DataFileError`, and a
    ValueError about the location given (``root``, ``$VAE_BOOK_DATA``)."""


SPLITS = ("train", "test")
_FILE_STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set may be found and the SHA-256 of each file's uncompressed
    content."""

    name: str
    folder: str  # under the data directory
    sha256: dict[str, str]  # file stem -> checksum of the uncompressed IDX bytes
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()  # e.g. a Debian package's folder
    url: str | None = None  # base URL of a download mirror, files as <url>/<stem>.gz
    how_to_get: str = ""


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        folder="mnist",
        sha256={
            "train-images-idx3-ubyte": (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
            ),
            "train-labels-idx1-ubyte": (
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
            ),
            "t10k-images-idx3-ubyte": (
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
            ),
            "t10k-labels-idx1-ubyte": (
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
            ),
        },
        classes=tuple(str(d) for d in range(10)),
        how_to_get=(
            "MNIST ships with the book in data/mnist/; restore it with "
            "`git checkout data/mnist`."
        ),
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        folder="fashion-mnist",
        sha256={
            "train-images-idx3-ubyte": (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
            ),
            "train-labels-idx1-ubyte": (
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
            ),
            "t10k-images-idx3-ubyte": (
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
            ),
            "t10k-labels-idx1-ubyte": (
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
            ),
        },
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        how_to_get=(
            "Fashion-MNIST was not found. Get it one of three ways: (1) put the four "
            "IDX .gz files in data/fashion-mnist/; (2) on Debian or Ubuntu, "
            "`apt-get install dataset-fashion-mnist` (files in "
            "/usr/share/datasets/fashion-mnist); (3) with a network, call "
            "load_dataset('fashion-mnist', download=True), which verifies each file's "
            "checksum."
        ),
    ),
}


@dataclass(frozen=True)
class PatchSpec:
    """Square colour patches of side ``size``: ``num_train`` from the training
    photographs and ``num_test`` from the held-out ones
    (:data:`vae_lib.photos.SPLIT_PHOTOS`), drawn with ``seed``."""

    size: int
    num_train: int
    num_test: int
    seed: int = 0


PATCH_DATASETS: dict[str, PatchSpec] = {
    "photo-patches-32": PatchSpec(size=32, num_train=48_000, num_test=2_000),
    "photo-patches-64": PatchSpec(size=64, num_train=24_000, num_test=1_000),
}


@dataclass(frozen=True)
class ImageDataset:
    """Images (N, C, H, W) float32 in [0, 1] and labels (N,) int64, on one device."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        images = check_images(self.images, "images", unit_range=False)
        labels = check_tensor(self.labels, "labels")
        if labels.shape != images.shape[:1]:
            raise ValueError(
                f"labels must be shaped ({images.shape[0]},), one per image, got "
                f"{tuple(labels.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, n: int) -> ImageDataset:
        """The first ``n`` examples (a fixed, reproducible subset)."""
        n = check_positive_int(n, "n")
        return ImageDataset(self.images[:n], self.labels[:n], self.classes)

    def sample(self, n: int, seed: int) -> ImageDataset:
        """``n`` examples drawn at random without replacement, in their original order:
        another subset for another seed (``make robustness``)."""
        n = check_positive_int(n, "n")
        if n > len(self):
            raise ValueError(f"n must be at most the {len(self)} examples, got {n}")
        generator = torch.Generator().manual_seed(check_seed(seed))
        index = torch.randperm(len(self), generator=generator)[:n].sort().values
        index = index.to(self.images.device)
        return ImageDataset(self.images[index], self.labels[index], self.classes)


def data_dir() -> Path:
    """The data directory: ``$VAE_BOOK_DATA`` if set (it must name an existing
    folder), else the repository's ``data/``."""
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override:
        folder = Path(override)
        if not folder.is_dir():
            raise DatasetNotFoundError(
                f"{DATA_DIR_VARIABLE} must name an existing folder, got {override!r} "
                f"(resolved to {folder.resolve()}, which "
                f"{'is not a folder' if folder.exists() else 'does not exist'}): "
                f"create it or unset {DATA_DIR_VARIABLE} to use the book's data/"
            )
        return folder
    return Path(__file__).resolve().parent.parent / "data"


def _spec(name: str) -> DatasetSpec:
    check_choice(name, "dataset name", tuple(DATASETS))
    return DATASETS[name]


def find_dataset_files(
    name: str, *, download: bool = False, root: Path | None = None
) -> Path:
    """The folder that holds all four files of data set ``name``.

    Looks in ``<data dir>/<folder>``, then the spec's system folders (a Debian package),
    then, when ``download`` is true and the spec has a mirror, downloads into
    ``<data dir>/<folder>`` with checksums. Otherwise raises :class:`DataFileError`
    saying the ways to get it.
    """
    spec = _spec(name)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path or None, got {root!r}")
    local = Path(root if root is not None else data_dir()) / spec.folder
    missing: dict[Path, str] = {}
    for folder in (local, *map(Path, spec.system_dirs)):
        absent = [
            f"{stem}.gz"
            for stem in spec.sha256
            if not (folder / f"{stem}.gz").is_file()
        ]
        if not absent:
            return folder
        missing[folder] = absent[0]
    if download and spec.url:
        for stem, sha in spec.sha256.items():
            target = local / f"{stem}.gz"
            if not target.is_file():
                download_verified(f"{spec.url}/{stem}.gz", target, sha)
        return local
    where = "root" if root is not None else f"the data directory ({DATA_DIR_VARIABLE})"
    searched = "; ".join(
        f"{folder} (missing {file})"
        if folder.is_dir()
        else f"{folder} (no such folder)"
        for folder, file in missing.items()
    )
    raise DatasetNotFoundError(
        f"data set {name!r} not found under {where}: looked in {searched}. "
        f"{spec.how_to_get}".strip()
    )


def load_dataset(
    name: str = "mnist",
    split: str = "train",
    *,
    device: str | torch.device | None = "cpu",
    download: bool = False,
    root: Path | None = None,
) -> ImageDataset:
    """Load a split of a data set as float32 images in [0, 1], shaped (N, 1, 28, 28).

    The checksums are verified on every load (about a second for MNIST's training set).
    ``device=None`` picks the fastest device; the data are moved there in one copy. A
    patch data set (``"photo-patches-32"``, ``"photo-patches-64"``) gives
    (N, 3, size, size) and labels naming the source photograph among ``classes``.
    """
    check_choice(name, "dataset name", (*DATASETS, *PATCH_DATASETS))
    check_choice(split, "split", SPLITS)
    if name in PATCH_DATASETS:
        patch = PATCH_DATASETS[name]
        count = patch.num_train if split == "train" else patch.num_test
        images, labels, names = photos.patch_dataset(
            split, patch.size, count, patch.seed, resolve_device(device)
        )
        return ImageDataset(images=images, labels=labels, classes=names)
    spec = _spec(name)
    folder = find_dataset_files(name, download=download, root=root)
    arrays: dict[str, np.ndarray] = {}
    for kind in ("images", "labels"):
        stem = _FILE_STEMS[(split, kind)]
        arrays[kind] = parse_idx(
            read_verified(folder / f"{stem}.gz", spec.sha256[stem]), name=stem
        )
    image_array, label_array = arrays["images"], arrays["labels"]
    if image_array.ndim != 3 or len(image_array) != len(label_array):
        raise DataFileError(
            f"{name} {split}: {image_array.shape} images do not match "
            f"{label_array.shape} labels"
        )
    target = resolve_device(device)
    # (N, 1, 28, 28) uint8, one copy
    pixels = torch.from_numpy(image_array.copy()).unsqueeze(1).to(target)
    return ImageDataset(
        images=pixels.float().div_(255.0),
        labels=torch.from_numpy(label_array.astype(np.int64)).to(target),
        classes=spec.classes,
    )


def binarize_static(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One fixed Bernoulli draw per pixel, the same every call for the same ``seed``.

    x: (B, C, H, W) in [0, 1] -> (B, C, H, W) of 0.0/1.0. The draws are made on the CPU
    so that they do not depend on the device.
    """
    check_images(x)
    generator = torch.Generator().manual_seed(check_seed(seed))
    return torch.bernoulli(x.detach().cpu(), generator=generator).to(x.device)


def binarize_dynamic(
    x: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A fresh Bernoulli draw per pixel each call: dynamic binarisation (Chapter 2).

    x: (B, C, H, W) in [0, 1] -> same shape of 0.0/1.0; ``generator`` must be on x's
    device.
    """
    check_images(x)
    check_generator(generator)
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(f"generator is on {generator.device} but x is on {x.device}")
    return torch.bernoulli(x, generator=generator)
