"""Colour photographs bundled with scikit-image, and random patches cut from them
(Chapter 7).

The seven photographs ship inside the scikit-image wheel, so nothing is downloaded. Five
are for training and two are held out whole for testing: no pixel of ``chelsea`` (a cat)
or ``coffee`` (a cup of coffee) is ever seen in training. :func:`random_patches` cuts
square patches at random places (seeded), the same number from each photograph so that
the large ones do not dominate. Images are float32 (C, H, W) or (N, C, H, W) in [0, 1],
C = 3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from skimage import data as skimage_data

from .runtime import resolve_device
from .validate import (
    check_bool,
    check_choice,
    check_images,
    check_instance,
    check_positive_int,
    check_seed,
    check_tensor,
)

PHOTOS = (
    "astronaut",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "chelsea",
    "coffee",
)
SPLIT_PHOTOS = {"train": PHOTOS[:5], "test": PHOTOS[5:]}
# Source and licence of each photograph, as scikit-image's documentation gives them.
CREDITS = {
    "astronaut": "Eileen Collins, NASA (public domain)",
    "rocket": "SpaceX Falcon 9 launch, SpaceX (CC0)",
    "hubble_deep_field": "Hubble eXtreme Deep Field, NASA (public domain)",
    "immunohistochemistry": (
        "immunohistochemical staining of colonic tissue, Wikimedia Commons "
        "(public domain)"
    ),
    "retina": "human retina, Mikael Haggstrom, Wikimedia Commons (CC0)",
    "chelsea": "Chelsea the cat, Stefan van der Walt (CC0)",
    "coffee": "a cup of coffee, Rachel Michetti (CC0)",
}


def load_photo(name: str, device: str | torch.device | None = "cpu") -> torch.Tensor:
    """One of :data:`PHOTOS` as a float32 tensor (3, H, W) in [0, 1]."""
    check_choice(name, "name", PHOTOS)
    pixels = np.asarray(getattr(skimage_data, name)())
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(
            f"scikit-image's {name} should be an (H, W, 3) uint8 colour photograph, "
            f"got {pixels.shape} {pixels.dtype}"
        )
    image = torch.from_numpy(pixels.transpose(2, 0, 1).copy())  # (3, H, W) uint8
    return image.to(resolve_device(device)).float().div_(255.0)


def random_patches(
    photos: Sequence[torch.Tensor],
    num_patches: int,
    size: int,
    generator: torch.Generator,
    flips: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut ``num_patches`` square patches of side ``size`` from the photos (each
    (C, H, W)).

    Patch i comes from photo ``i % len(photos)`` at a uniformly random place; with
    ``flips`` it is mirrored left-right with probability 1/2. Returns the patches
    (N, C, size, size) and the index of each one's photo (N,). The random draws come
    from ``generator`` (on the CPU).
    """
    check_positive_int(num_patches, "num_patches")
    check_positive_int(size, "size")
    check_instance(generator, "generator", torch.Generator)
    check_bool(flips, "flips")
    if (
        isinstance(photos, torch.Tensor)
        or not isinstance(photos, Sequence)
        or len(photos) == 0
    ):
        raise ValueError(
            "photos must be a non-empty list of images (C, H, W), got "
            f"{type(photos).__name__}"
            + (
                f" of shape {tuple(photos.shape)}"
                if isinstance(photos, torch.Tensor)
                else ""
            )
        )
    for k, photo in enumerate(photos):
        photo = check_tensor(photo, f"photos[{k}]")
        if photo.dim() != 3 or min(photo.shape[1:]) < size:
            raise ValueError(
                f"photos[{k}] must be (C, H, W) with H, W >= size = {size}, got "
                f"{tuple(photo.shape)}"
            )
        check_images(photo[None], f"photos[{k}]")
    source = torch.arange(num_patches) % len(photos)  # (N,)
    # (N, 2) places per axis
    room = torch.tensor(
        [
            [photos[i].shape[1] - size + 1, photos[i].shape[2] - size + 1]
            for i in source.tolist()
        ]
    )
    corners = (
        torch.rand(num_patches, 2, generator=generator) * room
    ).long()  # (N, 2) top, left
    flip = torch.rand(num_patches, generator=generator) < 0.5
    # (N, C, size, size)
    patches = torch.stack(
        [
            photos[i][:, t : t + size, l : l + size]
            for i, (t, l) in zip(source.tolist(), corners.tolist())
        ]
    )
    if flips:
        patches = torch.where(
            flip[:, None, None, None].to(patches.device), patches.flip(-1), patches
        )
    return patches, source


def patch_dataset(
    split: str,
    size: int,
    num_patches: int,
    seed: int = 0,
    device: str | torch.device | None = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Patches of one split's photos: images (N, 3, size, size), source photo indices
    (N,), photo names."""
    check_choice(split, "split", tuple(SPLIT_PHOTOS))
    check_seed(seed)
    names = SPLIT_PHOTOS[split]
    photos = [load_photo(name, device) for name in names]
    generator = torch.Generator().manual_seed(seed)
    patches, source = random_patches(photos, num_patches, size, generator)
    return patches, source.to(patches.device), names


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize images (B, C, H, W) to (B, C, *size) with antialiased bilinear
    interpolation."""
    x = check_images(x, "x", unit_range=False)
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    for s in size:
        check_positive_int(s, "each of size")
    out = torch.nn.functional.interpolate(
        x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True
    )
    return out.clamp(0, 1)
