"""vae_lib.photos: the bundled photographs, the train/test split of them, random patches
(checked by finding each patch in its source by brute force) and antialiased resizing.

Everything is offline: the photographs ship inside the scikit-image wheel.
"""

from __future__ import annotations

import pytest
import torch

from vae_lib.photos import (
    CREDITS,
    PHOTOS,
    SPLIT_PHOTOS,
    load_photo,
    patch_dataset,
    random_patches,
    resize,
)


def unique_photos(*shapes: tuple[int, int, int]) -> list[torch.Tensor]:
    """Synthetic photos in which every value (over all photos and channels) occurs
    exactly once."""
    total = sum(c * h * w for c, h, w in shapes)
    values = torch.arange(total, dtype=torch.float32) / total
    out, first = [], 0
    for c, h, w in shapes:
        out.append(values[first : first + c * h * w].reshape(c, h, w))
        first += c * h * w
    return out


def places(photo: torch.Tensor, patch: torch.Tensor) -> list[tuple[int, int, bool]]:
    """Every (top, left, mirrored) at which ``patch`` (C, s, s) occurs in ``photo``
    (C, H, W), by brute force: every place whose corner pixel matches is compared in
    full."""
    s = patch.shape[-1]
    found = []
    for mirrored, candidate in ((False, patch), (True, patch.flip(-1))):
        room = photo[:, : photo.shape[1] - s + 1, : photo.shape[2] - s + 1]
        corner = (room == candidate[:, :1, :1]).all(0)
        for t, l in corner.nonzero().tolist():
            if torch.equal(photo[:, t : t + s, l : l + s], candidate):
                found.append((t, l, mirrored))
    return found


# --- the photographs ------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_every_photo_loads_offline_as_float_pixels_in_the_unit_interval(name):
    image = load_photo(name)
    assert image.dim() == 3 and image.shape[0] == 3
    assert min(image.shape[1:]) >= 64  # big enough for the largest patches
    assert image.dtype == torch.float32 and image.device.type == "cpu"
    assert 0.0 <= image.min().item() and image.max().item() <= 1.0
    assert image.std().item() > 0.01  # a photograph, not a blank
    # The bytes were divided by 255: every value is k / 255 for an integer k.
    k = image[:, :50, :50] * 255
    assert torch.allclose(k, k.round(), atol=1e-4)


def test_a_photo_is_the_scikit_image_array_transposed_to_channels_first():
    from skimage import data as skimage_data

    pixels = torch.from_numpy(skimage_data.coffee())  # (H, W, 3) uint8
    image = load_photo("coffee")
    assert tuple(image.shape) == (3, *pixels.shape[:2])
    assert torch.equal(image, pixels.permute(2, 0, 1).float() / 255.0)


def test_load_photo_rejects_an_unknown_name():
    with pytest.raises(
        ValueError, match=r"name must be one of \('astronaut'.*got 'camera'"
    ):
        load_photo("camera")


def test_the_train_and_test_photos_are_disjoint_and_make_up_all_photos():
    assert set(SPLIT_PHOTOS) == {"train", "test"}
    train, test = set(SPLIT_PHOTOS["train"]), set(SPLIT_PHOTOS["test"])
    assert train and test
    assert not train & test
    assert train | test == set(PHOTOS)
    assert (
        len(PHOTOS)
        == len(set(PHOTOS))
        == len(SPLIT_PHOTOS["train"]) + len(SPLIT_PHOTOS["test"])
    )
    assert {"chelsea", "coffee"} <= test  # the module promises these two are held out


def test_every_photo_has_a_credit_with_a_licence():
    assert set(CREDITS) == set(PHOTOS)
    for name, credit in CREDITS.items():
        assert isinstance(credit, str) and credit.strip(), name
        assert "public domain" in credit or "CC0" in credit, name


# --- random patches -------------------------------------------------------------------


def test_random_patches_shapes_and_balanced_sources(gen):
    images = unique_photos((3, 10, 12), (3, 9, 9), (3, 15, 8))
    patches, source = random_patches(images, 10, 5, gen())
    assert patches.shape == (10, 3, 5, 5) and patches.dtype == torch.float32
    assert source.dtype == torch.int64
    assert source.tolist() == [i % 3 for i in range(10)]
    assert torch.bincount(source, minlength=3).tolist() == [4, 3, 3]


def test_random_patches_is_seeded(gen):
    images = unique_photos((3, 20, 24), (3, 18, 18))
    first, source = random_patches(images, 40, 6, gen(7))
    again, source_again = random_patches(images, 40, 6, gen(7))
    other, _ = random_patches(images, 40, 6, gen(8))
    assert torch.equal(first, again) and torch.equal(source, source_again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("flips", [False, True])
def test_each_patch_occurs_in_its_source_photo_and_nowhere_else(flips, gen):
    images = unique_photos((2, 10, 12), (2, 7, 9), (2, 12, 6))
    patches, source = random_patches(images, 60, 4, gen(3), flips=flips)
    mirrored = 0
    for i, (patch, k) in enumerate(zip(patches, source.tolist())):
        assert k == i % len(images)
        found = places(images[k], patch)
        # Values are unique, so a patch of side > 1 fits in exactly one place of one
        # photo.
        assert len(found) == 1, (i, found)
        mirrored += found[0][2]
        for other in set(range(len(images))) - {k}:
            assert places(images[other], patch) == []
    if flips:
        assert 10 <= mirrored <= 50  # about half of 60 are mirrored
    else:
        assert mirrored == 0


def test_patch_places_are_uniform_over_every_possible_corner(gen):
    image = unique_photos((1, 6, 7))[0]
    patches, _ = random_patches([image], 1200, 4, gen(11), flips=False)
    # 3 x 4 = 12 possible corners, 100 draws expected at each; the value at the corner
    # names it.
    corner_values = patches[:, 0, 0, 0]
    counts = torch.stack(
        [(corner_values == image[0, t, l]).sum() for t in range(3) for l in range(4)]
    )
    assert counts.sum().item() == 1200
    assert counts.min().item() >= 60 and counts.max().item() <= 140, counts.tolist()


def test_a_patch_as_large_as_the_photo_is_the_whole_photo(gen):
    image = unique_photos((3, 5, 5))[0]
    patches, _ = random_patches([image], 6, 5, gen(), flips=False)
    assert torch.equal(patches, image.expand(6, 3, 5, 5))


def test_patches_cut_from_a_real_photo_occur_in_it(gen):
    coffee = load_photo("coffee")
    patches, source = random_patches([coffee], 3, 8, gen(5))
    assert source.tolist() == [0, 0, 0]
    for patch in patches:
        assert places(coffee, patch), "patch not found in its photo, mirrored or not"
    # the search can say no
    assert places(coffee, torch.rand(3, 8, 8, generator=gen())) == []


@pytest.mark.parametrize(
    ("images", "num_patches", "size", "error", "message"),
    [
        (
            [torch.zeros(3, 8, 10)],
            4,
            9,
            ValueError,
            r"photos\[0\] must be \(C, H, W\) with H, W >= size = 9",
        ),
        (
            [torch.zeros(3, 12, 12), torch.zeros(3, 12, 5)],
            4,
            6,
            ValueError,
            r"photos\[1\] must be .*got \(3, 12, 5\)",
        ),
        ([torch.zeros(12, 12)], 4, 6, ValueError, r"photos\[0\] must be \(C, H, W\)"),
        ([], 4, 6, ValueError, "photos must be a non-empty list"),
        (
            [[[0.0] * 8] * 8],
            4,
            6,
            TypeError,
            r"photos\[0\] must be a torch.Tensor, got list",
        ),
        (
            [torch.zeros(3, 8, 8)],
            0,
            4,
            ValueError,
            "num_patches must be a positive int, got 0",
        ),
        (
            [torch.zeros(3, 8, 8)],
            4,
            0,
            ValueError,
            "size must be a positive int, got 0",
        ),
        (
            [torch.zeros(3, 8, 8)],
            2.0,
            4,
            ValueError,
            r"num_patches must be a positive int, got 2\.0",
        ),
    ],
    ids=[
        "patch-too-big",
        "second-photo-too-narrow",
        "2-d-photo",
        "empty",
        "not-a-tensor",
        "zero-patches",
        "zero-size",
        "float-count",
    ],
)
def test_random_patches_rejects_bad_input(
    images, num_patches, size, error, message, gen
):
    with pytest.raises(error, match=message):
        random_patches(images, num_patches, size, gen())


def test_random_patches_given_one_photo_instead_of_a_list_says_so(gen):
    with pytest.raises((TypeError, ValueError), match="photos"):
        random_patches(torch.zeros(3, 8, 8), 4, 4, gen())


# --- patch data sets ------------------------------------------------------------------


def test_patch_dataset_of_the_test_split():
    images, source, names = patch_dataset("test", 16, 10, seed=2)
    assert names == SPLIT_PHOTOS["test"]
    assert images.shape == (10, 3, 16, 16) and images.dtype == torch.float32
    assert 0.0 <= images.min().item() and images.max().item() <= 1.0
    assert source.tolist() == [i % len(names) for i in range(10)]
    again, _, _ = patch_dataset("test", 16, 10, seed=2)
    other, _, _ = patch_dataset("test", 16, 10, seed=3)
    assert torch.equal(images, again)
    assert not torch.equal(images, other)
    # Each patch comes from the photograph its label names.
    for patch, k in zip(images[:4], source[:4].tolist()):
        assert places(load_photo(names[k]), patch)


def test_patch_dataset_rejects_an_unknown_split():
    with pytest.raises(
        ValueError, match=r"split must be one of \('train', 'test'\), got 'valid'"
    ):
        patch_dataset("valid", 16, 10)


# --- resizing -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(8, 5), (17, 23), (40, 50), (1, 1)])
def test_resize_shape_and_range(size, gen):
    x = torch.rand(2, 3, 17, 23, generator=gen())
    out = resize(x, size)
    assert out.shape == (2, 3, *size) and out.dtype == torch.float32
    assert 0.0 <= out.min().item() and out.max().item() <= 1.0


@pytest.mark.parametrize("size", [(8, 5), (17, 23), (40, 50)])
@pytest.mark.parametrize("level", [0.0, 0.37, 1.0])
def test_resizing_a_constant_image_gives_the_same_constant(size, level):
    out = resize(torch.full((1, 3, 17, 23), level), size)
    assert torch.allclose(out, torch.full_like(out, level), atol=1e-6)


def test_resize_to_the_same_size_changes_nothing_and_shrinking_averages(gen):
    x = torch.rand(1, 3, 12, 12, generator=gen(4))
    assert torch.allclose(resize(x, (12, 12)), x, atol=1e-6)
    # Halving with antialiasing averages: the mean is kept closely, the spread shrinks.
    small = resize(x, (6, 6))
    assert small.mean().item() == pytest.approx(x.mean().item(), abs=0.02)
    assert small.std().item() < x.std().item()


def test_resize_clamps_to_the_unit_interval():
    x = torch.full((1, 1, 4, 4), 1.5)
    assert torch.equal(resize(x, (2, 2)), torch.ones(1, 1, 2, 2))


@pytest.mark.parametrize(
    ("x", "size", "error", "message"),
    [
        (torch.zeros(3, 8, 8), (4, 4), ValueError, r"\(B, C, H, W\)"),
        (
            torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
            (4, 4),
            TypeError,
            "floating-point",
        ),
        (
            torch.zeros(1, 3, 8, 8),
            (4, 4, 4),
            ValueError,
            r"size must be \(height, width\)",
        ),
        (
            torch.zeros(1, 3, 8, 8),
            (4, 0),
            ValueError,
            "each of size must be a positive int, got 0",
        ),
    ],
    ids=["3-d", "uint8", "three-sizes", "zero-width"],
)
def test_resize_rejects_bad_input(x, size, error, message):
    with pytest.raises(error, match=message):
        resize(x, size)


def test_resize_given_one_int_says_size_must_be_a_pair():
    with pytest.raises(
        (TypeError, ValueError), match=r"size must be \(height, width\)"
    ):
        resize(torch.zeros(1, 3, 8, 8), 16)
