"""vae_lib.data: MNIST shipped with the book, Fashion-MNIST found or downloaded,
binarisation.

Only this module loads the real MNIST files; the training split at most once (module
fixture).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_lib import data, photos
from vae_lib.data import (
    binarize_dynamic,
    binarize_static,
    find_dataset_files,
    load_dataset,
)
from vae_lib.files import DataFileError

MNIST_DIR = Path(__file__).resolve().parents[1] / "data" / "mnist"
# The stems of the four files of an MNIST-like data set, as LeCun named them.
FILE_STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
TEST_IMAGES, TEST_LABELS = (
    FILE_STEMS[("test", "images")],
    FILE_STEMS[("test", "labels")],
)

# Class counts of LeCun's MNIST (the published split sizes 60,000 / 10,000).
MNIST_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}


@pytest.fixture(scope="module")
def mnist():
    """Both real MNIST splits, loaded once for the module."""
    return {
        split: load_dataset("mnist", split, root=MNIST_DIR.parent)
        for split in ("train", "test")
    }


@pytest.fixture(autouse=True)
def no_data_dir_override(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_VARIABLE, raising=False)


# --- MNIST ----------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_has_the_published_class_counts(mnist, split):
    labels = mnist[split].labels
    assert labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=10).tolist() == MNIST_COUNTS[split]
    assert len(mnist[split]) == sum(MNIST_COUNTS[split])


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_images_are_float_pixels_in_the_unit_interval(mnist, split):
    dataset = mnist[split]
    images = dataset.images
    assert images.shape == (sum(MNIST_COUNTS[split]), 1, 28, 28)
    assert images.dtype == torch.float32 and images.device.type == "cpu"
    assert images.min().item() == 0.0 and images.max().item() == 1.0
    # Every value is k/255 for an integer k: the bytes were divided by 255, not
    # normalised.
    k = images[:100] * 255
    assert torch.allclose(k, k.round(), atol=1e-4)
    assert dataset.classes == tuple("0123456789")


def test_mnist_training_mean_is_the_well_known_value(mnist):
    # The mean pixel of MNIST's training set, 0.1307, is the constant every tutorial
    # normalises with.
    assert mnist["train"].images.mean().item() == pytest.approx(0.1307, abs=5e-4)


def test_subset_is_the_first_n_examples(mnist):
    subset = mnist["test"].subset(7)
    assert len(subset) == 7
    assert torch.equal(subset.images, mnist["test"].images[:7])
    assert torch.equal(subset.labels, mnist["test"].labels[:7])
    with pytest.raises(ValueError, match="n must be a positive int"):
        mnist["test"].subset(0)


def test_sample_draws_n_distinct_examples_in_order_by_seed(mnist):
    test = mnist["test"]
    first = test.sample(50, seed=3)
    assert len(first) == 50
    # each drawn image is one of the test set's, with its own label, in test-set order
    index = [
        int((test.images == image).flatten(1).all(1).nonzero()[0])
        for image in first.images
    ]
    assert index == sorted(set(index))
    assert torch.equal(first.labels, test.labels[index])
    assert torch.equal(test.sample(50, seed=3).images, first.images)
    assert not torch.equal(test.sample(50, seed=4).images, first.images)


def test_sample_refuses_more_examples_than_there_are(mnist):
    with pytest.raises(ValueError, match="n must be at most the 10000 examples"):
        mnist["test"].sample(10_001, seed=0)


def test_data_dir_is_the_repository_folder_unless_overridden(monkeypatch, tmp_path):
    assert data.data_dir() == MNIST_DIR.parent
    assert find_dataset_files("mnist") == MNIST_DIR
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path))
    assert data.data_dir() == tmp_path
    # ... and load_dataset looks there: MNIST is not in tmp_path.
    with pytest.raises(DataFileError, match="data/mnist"):
        load_dataset("mnist", "test")


@pytest.mark.parametrize(
    ("name", "split", "message"),
    [
        (
            "cifar10",
            "train",
            (
                r"dataset name must be one of \('mnist', 'fashion-mnist', .*\), "
                r"got 'cifar10'"
            ),
        ),
        ("MNIST", "test", r"dataset name must be one of \('mnist', 'fashion-mnist'"),
        (
            "mnist",
            "validation",
            r"split must be one of \('train', 'test'\), got 'validation'",
        ),
    ],
)
def test_load_dataset_rejects_unknown_names_and_splits(name, split, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(name, split)


# --- corrupted copies of MNIST --------------------------------------------------------


@pytest.fixture
def mnist_copy(tmp_path):
    """A data folder whose mnist/ holds real copies of the test files (the training
    files linked)."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for source in MNIST_DIR.glob("*.gz"):
        if source.name.startswith("t10k"):
            shutil.copyfile(source, folder / source.name)
        else:
            os.symlink(source, folder / source.name)
    return tmp_path


def _flip_a_content_byte(path: Path) -> None:
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[len(content) // 2] ^= 0x01
    path.write_bytes(gzip.compress(bytes(content), compresslevel=1))


def _flip_a_compressed_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def test_a_copied_mnist_loads_like_the_original(mnist, mnist_copy):
    copy = load_dataset("mnist", "test", root=mnist_copy)
    assert torch.equal(copy.images, mnist["test"].images)
    assert torch.equal(copy.labels, mnist["test"].labels)


@pytest.mark.parametrize("stem", [TEST_IMAGES, TEST_LABELS])
def test_a_changed_content_byte_fails_naming_the_file_and_its_checksum(
    mnist_copy, stem
):
    path = mnist_copy / "mnist" / f"{stem}.gz"
    _flip_a_content_byte(path)
    with pytest.raises(DataFileError, match="does not match its checksum") as info:
        load_dataset("mnist", "test", root=mnist_copy)
    assert str(path) in str(info.value)
    assert data.DATASETS["mnist"].sha256[stem] in str(info.value)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_truncate, "truncated or not valid gzip"),
        (_flip_a_compressed_byte, "not valid gzip|checksum"),
    ],
    ids=["truncated", "flipped-compressed-byte"],
)
def test_a_damaged_gzip_fails_as_a_data_file_error_naming_the_file(
    mnist_copy, corrupt, message
):
    path = mnist_copy / "mnist" / f"{TEST_LABELS}.gz"
    corrupt(path)
    with pytest.raises(DataFileError, match=message) as info:
        load_dataset("mnist", "test", root=mnist_copy)
    assert str(path) in str(info.value)


def test_a_missing_mnist_file_says_how_to_restore_it(mnist_copy):
    (mnist_copy / "mnist" / f"{TEST_LABELS}.gz").unlink()
    with pytest.raises(DataFileError, match="git checkout data/mnist"):
        load_dataset("mnist", "test", root=mnist_copy)


# --- Fashion-MNIST: local folder, system folder, download -----------------------------


@pytest.fixture
def fashion_spec(monkeypatch, synthetic_sha256):
    """Replace the Fashion-MNIST spec (for this test) by one for the synthetic data
    set."""

    def replace(**changes) -> data.DatasetSpec:
        spec = dataclasses.replace(
            data.DATASETS["fashion-mnist"], sha256=synthetic_sha256, **changes
        )
        monkeypatch.setitem(data.DATASETS, "fashion-mnist", spec)
        return spec

    return replace


def test_fashion_mnist_falls_back_to_the_system_folder(
    tmp_path, fashion_spec, write_dataset
):
    system = write_dataset(tmp_path / "usr-share" / "fashion-mnist")
    fashion_spec(system_dirs=(str(system),), url=None)
    assert find_dataset_files("fashion-mnist", root=tmp_path / "empty") == system


def test_fashion_mnist_prefers_the_book_folder(tmp_path, fashion_spec, write_dataset):
    system = write_dataset(tmp_path / "usr-share" / "fashion-mnist")
    local = write_dataset(tmp_path / "data" / "fashion-mnist")
    fashion_spec(system_dirs=(str(system),), url=None)
    assert find_dataset_files("fashion-mnist", root=tmp_path / "data") == local


def test_fashion_mnist_is_not_taken_from_an_incomplete_folder(
    tmp_path, fashion_spec, write_dataset
):
    system = write_dataset(tmp_path / "usr-share" / "fashion-mnist")
    local = write_dataset(tmp_path / "data" / "fashion-mnist")
    (local / f"{TEST_LABELS}.gz").unlink()
    fashion_spec(system_dirs=(str(system),), url=None)
    assert find_dataset_files("fashion-mnist", root=tmp_path / "data") == system


@pytest.mark.skipif(
    not all(
        (Path(d) / f"{TEST_IMAGES}.gz").is_file()
        for d in data.DATASETS["fashion-mnist"].system_dirs
    ),
    reason="the dataset-fashion-mnist package is not installed",
)
def test_fashion_mnist_is_found_in_the_installed_package(tmp_path):
    found = find_dataset_files("fashion-mnist", root=tmp_path)
    assert str(found) in data.DATASETS["fashion-mnist"].system_dirs


@pytest.mark.parametrize("download", [False, True])
def test_fashion_mnist_not_found_names_all_three_ways_to_get_it(
    tmp_path, fashion_spec, download
):
    fashion_spec(system_dirs=(), url=None)
    with pytest.raises(DataFileError) as info:
        load_dataset("fashion-mnist", "test", root=tmp_path, download=download)
    message = str(info.value)
    for way in (
        "data/fashion-mnist",
        "apt-get install dataset-fashion-mnist",
        "download=True",
    ):
        assert way in message


def test_fashion_mnist_downloads_verifies_and_loads(
    tmp_path, http_server, fashion_spec, synthetic_dataset
):
    for stem, (_, _, gz) in synthetic_dataset.items():
        http_server.serve(f"fashion/{stem}.gz", gz)
    fashion_spec(system_dirs=(), url=f"{http_server.base_url}/fashion")

    for split, count in (("test", 4), ("train", 6)):
        dataset = load_dataset("fashion-mnist", split, root=tmp_path, download=True)
        images, labels = (
            synthetic_dataset[FILE_STEMS[(split, kind)]][0]
            for kind in ("images", "labels")
        )
        assert (
            dataset.images.shape == (count, 1, 28, 28)
            and dataset.images.dtype == torch.float32
        )
        np.testing.assert_allclose(
            dataset.images[:, 0].numpy(), images / 255.0, rtol=1e-6
        )
        assert dataset.labels.dtype == torch.int64
        assert dataset.labels.tolist() == labels.tolist()
        assert dataset.classes[0] == "T-shirt/top"

    # Each file was fetched once and kept; loading again needs no network.
    assert sorted(http_server.requests) == sorted(
        f"/fashion/{stem}.gz" for stem in synthetic_dataset
    )
    assert sorted(p.name for p in (tmp_path / "fashion-mnist").iterdir()) == sorted(
        f"{stem}.gz" for stem in synthetic_dataset
    )
    http_server.routes.clear()
    assert len(load_dataset("fashion-mnist", "test", root=tmp_path)) == 4


def test_fashion_mnist_download_with_a_bad_file_keeps_nothing_of_it(
    tmp_path, http_server, fashion_spec, synthetic_dataset
):
    for stem, (_, _, gz) in synthetic_dataset.items():
        http_server.serve(f"fashion/{stem}.gz", gz)
    http_server.serve(f"fashion/{TEST_LABELS}.gz", gzip.compress(b"tampered"))
    fashion_spec(system_dirs=(), url=f"{http_server.base_url}/fashion")
    with pytest.raises(
        DataFileError, match=f"{TEST_LABELS}.gz does not match its checksum"
    ):
        load_dataset("fashion-mnist", "test", root=tmp_path, download=True)
    assert not (tmp_path / "fashion-mnist" / f"{TEST_LABELS}.gz").exists()
    assert not list((tmp_path / "fashion-mnist").glob("*.part"))


# --- binarisation ---------------------------------------------------------------------


@pytest.fixture
def grey():
    """A batch of grey levels spread over [0, 1], including both ends."""
    return torch.linspace(0, 1, 4 * 1 * 5 * 5).reshape(4, 1, 5, 5)


def _is_binary(t: torch.Tensor) -> bool:
    return bool(((t == 0) | (t == 1)).all())


def test_binarize_static_is_binary_deterministic_and_seed_dependent(grey):
    first, again, other = (
        binarize_static(grey, seed=3),
        binarize_static(grey, seed=3),
        binarize_static(grey, seed=4),
    )
    assert first.shape == grey.shape and first.dtype == grey.dtype
    assert _is_binary(first)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    # Pixels at 0 and 1 are certain.
    assert first.flatten()[0] == 0 and first.flatten()[-1] == 1


def test_binarize_static_ignores_the_global_generator(grey):
    torch.manual_seed(0)
    first = binarize_static(grey, seed=5)
    torch.manual_seed(1)
    assert torch.equal(binarize_static(grey, seed=5), first)


def test_binarize_dynamic_draws_afresh_and_is_unbiased(grey):
    first, second = binarize_dynamic(grey), binarize_dynamic(grey)
    assert _is_binary(first) and _is_binary(second)
    assert not torch.equal(first, second)
    # The mean of n draws has standard error sqrt(p (1 - p) / n) <= 0.5 / sqrt(n); allow
    # 5 of them.
    n = 4000
    generator = torch.Generator().manual_seed(0)
    mean = torch.stack([binarize_dynamic(grey, generator) for _ in range(n)]).mean(0)
    assert (mean - grey).abs().max().item() < 5 * 0.5 / n**0.5


def test_binarize_dynamic_is_reproducible_with_a_seeded_generator(grey):
    draws = [binarize_dynamic(grey, torch.Generator().manual_seed(9)) for _ in range(2)]
    assert torch.equal(*draws)


@pytest.mark.parametrize("binarize", [binarize_static, binarize_dynamic])
@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (torch.full((2, 1, 3, 3), 1.5), ValueError, r"\[0, 1\]"),
        (torch.zeros(1, 3, 3), ValueError, r"\(B, C, H, W\)"),
        (torch.zeros(2, 1, 3, 3, dtype=torch.uint8), TypeError, "floating-point"),
    ],
    ids=["out-of-range", "3-d", "uint8"],
)
def test_binarize_rejects_bad_images(binarize, x, error, message):
    with pytest.raises(error, match=message):
        binarize(x)


# --- colour patches cut from the bundled photographs ----------------------------------


@pytest.mark.parametrize(
    ("name", "size", "count"),
    [("photo-patches-32", 32, 2000), ("photo-patches-64", 64, 1000)],
)
def test_patch_test_sets_are_colour_patches_labelled_by_their_photo(name, size, count):
    dataset = load_dataset(name, "test")
    assert (
        data.PATCH_DATASETS[name].size == size
        and data.PATCH_DATASETS[name].num_test == count
    )
    assert dataset.images.shape == (count, 3, size, size)
    assert dataset.images.dtype == torch.float32 and dataset.images.device.type == "cpu"
    assert 0.0 <= dataset.images.min().item() and dataset.images.max().item() <= 1.0
    assert dataset.classes == photos.SPLIT_PHOTOS["test"] == ("chelsea", "coffee")
    assert dataset.labels.dtype == torch.int64 and dataset.labels.shape == (count,)
    # Label i is photo i % 2: every label names a class, and both photos give the same
    # number.
    assert dataset.labels.tolist() == [i % len(dataset.classes) for i in range(count)]
    assert torch.bincount(dataset.labels).tolist() == [count // 2] * 2
    # The first patch of each label is cut from (possibly mirrored) that photograph: try
    # every place whose corner pixel matches.
    for k, photo_name in enumerate(dataset.classes):
        photo = photos.load_photo(photo_name)
        found = False
        for candidate in (dataset.images[k], dataset.images[k].flip(-1)):
            room = photo[:, : photo.shape[1] - size + 1, : photo.shape[2] - size + 1]
            corner = (room == candidate[:, :1, :1]).all(0)
            found |= any(
                torch.equal(photo[:, t : t + size, l : l + size], candidate)
                for t, l in corner.nonzero().tolist()
            )
        assert found, photo_name


def test_patch_sets_are_the_same_on_every_load():
    first = load_dataset("photo-patches-32", "test")
    again = load_dataset("photo-patches-32", "test")
    assert torch.equal(first.images, again.images) and torch.equal(
        first.labels, again.labels
    )
    spec = data.PATCH_DATASETS["photo-patches-32"]
    images, labels, names = photos.patch_dataset(
        "test", spec.size, spec.num_test, spec.seed
    )
    assert torch.equal(first.images, images) and torch.equal(first.labels, labels)
    assert first.classes == names


def test_patch_training_set_comes_from_the_training_photos_only(monkeypatch):
    # The real training split holds 48,000 patches; a 50-patch version of the spec is
    # enough here.
    small = dataclasses.replace(data.PATCH_DATASETS["photo-patches-32"], num_train=50)
    monkeypatch.setitem(data.PATCH_DATASETS, "photo-patches-32", small)
    train = load_dataset("photo-patches-32", "train")
    assert train.images.shape == (50, 3, 32, 32)
    assert train.classes == photos.SPLIT_PHOTOS["train"]
    assert not set(train.classes) & set(photos.SPLIT_PHOTOS["test"])
    assert set(train.labels.tolist()) == set(range(len(train.classes)))
    assert torch.bincount(train.labels).tolist() == [10] * 5
    assert train.subset(7).images.shape == (7, 3, 32, 32)


def test_an_unknown_dataset_name_lists_the_patch_sets_too():
    with pytest.raises(ValueError) as info:
        load_dataset("photo-patches-16", "test")
    message = str(info.value)
    assert "got 'photo-patches-16'" in message
    for name in ("mnist", "fashion-mnist", "photo-patches-32", "photo-patches-64"):
        assert repr(name) in message
    with pytest.raises(
        ValueError, match=r"split must be one of \('train', 'test'\), got 'valid'"
    ):
        load_dataset("photo-patches-32", "valid")
