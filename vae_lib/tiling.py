"""Restoring a whole photograph with a network made for small square patches
(Chapter 7).

A VAE trained on 32 x 32 patches cannot take a 300 x 451 photograph. Two ways round it:

* **Tiling** (:func:`restore_by_tiles`): cut the photo into overlapping tiles of the
  network's size, restore each, and blend them back. Each output pixel is a weighted
  mean of the tiles that cover it, the weight falling smoothly towards a tile's edge
  (:func:`blending_window`), so no seams show. The result has the input's size exactly,
  and an inpainting method's observed pixels stay as they were.
* **Resizing** (:func:`restore_by_resizing`): shrink the whole photo to the network's
  size, restore it, and enlarge the result, as the introductory articles do. Detail
  finer than the small image's pixels is lost on the way down and cannot come back.

``restore`` functions take a batch of tiles (N, C, T, T) -- and, for inpainting, their
masks (N, 1, T, T), ``True`` = missing -- and return restored tiles (N, C, T, T).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .corrupt import check_mask, keep_observed
from .photos import resize
from .validate import (
    check_callable,
    check_finite,
    check_images,
    check_instance,
    check_positive_int,
    check_tensor,
)

# (tiles (N, C, T, T)[, masks (N, 1, T, T)]) -> (N, C, T, T)
Restore = Callable[..., torch.Tensor]


class Tiles(NamedTuple):
    """Tiles of one image: ``patches`` (N, C, T, T) and the (top, left) corner of each
    (N, 2)."""

    patches: torch.Tensor
    corners: torch.Tensor


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """First index of each tile along an axis of ``length`` >= ``tile`` pixels: every
    ``tile - overlap`` pixels, plus one tile flush with the far end, so the tiles cover
    the axis exactly."""
    check_positive_int(length, "length")
    check_positive_int(tile, "tile")
    if (
        isinstance(overlap, bool)
        or not isinstance(overlap, int)
        or not 0 <= overlap < tile
    ):
        raise ValueError(
            f"overlap must be an int with 0 <= overlap < tile = {tile}, got {overlap!r}"
        )
    if length < tile:
        raise ValueError(
            f"length must be at least one tile of {tile} pixels, got {length}"
        )
    starts = list(range(0, length - tile + 1, tile - overlap))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def blending_window(tile: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """Weights (T, T): sin(pi (i + 1/2) / T) along each axis, multiplied. Largest in the
    middle, small but never zero at the edges, so every covered pixel gets a positive
    total weight."""
    check_positive_int(tile, "tile")
    ramp = torch.sin(math.pi * (torch.arange(tile, device=device) + 0.5) / tile)  # (T,)
    return ramp[:, None] * ramp[None, :]


def split_tiles(image: torch.Tensor, tile: int, overlap: int) -> Tiles:
    """Cut one image (C, H, W), H and W >= ``tile``, into overlapping tiles
    (see :func:`tile_starts`)."""
    image = check_tensor(image, "image")
    check_positive_int(tile, "tile")
    if image.dim() != 3 or min(image.shape[1:]) < tile:
        raise ValueError(
            f"image must be one image shaped (C, H, W) with H, W >= tile = {tile}, got "
            f"shape {tuple(image.shape)}"
        )
    tops, lefts = (tile_starts(image.shape[d], tile, overlap) for d in (1, 2))
    corners = torch.tensor([(t, l) for t in tops for l in lefts])  # (N, 2)
    patches = torch.stack(
        [image[:, t : t + tile, l : l + tile] for t, l in corners.tolist()]
    )
    return Tiles(patches, corners)


def stitch(tiles: Tiles, height: int, width: int) -> torch.Tensor:
    """Blend tiles back into one image (C, height, width): each pixel is the
    window-weighted mean of the tiles covering it."""
    check_instance(tiles, "tiles", Tiles)
    patches, corners = check_tensor(tiles.patches, "tiles"), tiles.corners
    if patches.dim() != 4 or corners.shape != (patches.shape[0], 2):
        raise ValueError(
            "tiles must hold patches (N, C, T, T) and their corners (N, 2), got "
            f"{tuple(patches.shape)} and {tuple(corners.shape)}"
        )
    check_positive_int(height, "height")
    check_positive_int(width, "width")
    _n, c, t, _ = patches.shape
    if patches.shape[0] and (
        int(corners[:, 0].max()) + t > height or int(corners[:, 1].max()) + t > width
    ):
        raise ValueError(
            f"height and width must hold every tile, reaching "
            f"({int(corners[:, 0].max()) + t}, {int(corners[:, 1].max()) + t}), got "
            f"({height}, {width})"
        )
    window = blending_window(t, tiles.patches.device).to(tiles.patches.dtype)
    total = tiles.patches.new_zeros(c, height, width)
    weight = tiles.patches.new_zeros(1, height, width)
    for patch, (top, left) in zip(tiles.patches, tiles.corners.tolist()):
        total[:, top : top + t, left : left + t] += window * patch
        weight[:, top : top + t, left : left + t] += window
    if not (weight > 0).all():
        raise ValueError(
            f"the tiles do not cover the whole image of height {height} and width "
            f"{width}"
        )
    return total / weight


def _in_chunks(
    restore: Restore, patches: torch.Tensor, masks: torch.Tensor | None, batch_size: int
) -> torch.Tensor:
    out = []
    for first in range(0, patches.shape[0], batch_size):
        args = [patches[first : first + batch_size]]
        if masks is not None:
            args.append(masks[first : first + batch_size])
        restored = check_tensor(restore(*args), "restore's output")
        if restored.shape != args[0].shape:
            raise ValueError(
                "restore must return tiles shaped like its input "
                f"{tuple(args[0].shape)}, got {tuple(restored.shape)}"
            )
        out.append(check_finite(restored.detach(), "restore's output"))
    return torch.cat(out)


def _keep_observed(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    out = out.clamp(0, 1).to(y.dtype)
    return out if mask is None else keep_observed(out, y, mask)


def restore_by_tiles(
    restore: Restore,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    tile: int = 32,
    overlap: int = 8,
    batch_size: int = 256,
) -> torch.Tensor:
    """Restore damaged images y (B, C, H, W) of any size tile by tile; returns
    (B, C, H, W).

    ``restore(tiles)`` -- or ``restore(tiles, masks)`` when an inpainting ``mask``
    (B, 1, H, W) is given -- is called on at most ``batch_size`` tiles at a time. An
    image smaller than a tile is padded by repeating its edge pixels (marked missing in
    the mask) and cropped back. Where a mask is given, observed pixels of the result are
    y's, bit for bit.
    """
    check_callable(restore, "restore")
    y = check_images(y, "y")
    mask = check_mask(mask, y) if mask is not None else None
    check_positive_int(tile, "tile")
    check_positive_int(batch_size, "batch_size")
    b, _c, h, w = y.shape
    pad = (0, max(tile - w, 0), 0, max(tile - h, 0))  # left, right, top, bottom
    padded = F.pad(y, pad, mode="replicate") if any(pad) else y
    padded_mask = None if mask is None else F.pad(mask, pad, value=True)
    out = []
    for i in range(b):
        tiles = split_tiles(padded[i], tile, overlap)
        masks = (
            None
            if padded_mask is None
            else split_tiles(padded_mask[i], tile, overlap).patches
        )
        restored = _in_chunks(restore, tiles.patches, masks, batch_size)
        out.append(stitch(Tiles(restored, tiles.corners), *padded.shape[2:])[:, :h, :w])
    return _keep_observed(torch.stack(out), y, mask)


def restore_by_resizing(
    restore: Restore,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    size: int = 32,
) -> torch.Tensor:
    """Restore damaged images y (B, C, H, W) by shrinking each to (size, size),
    restoring, and enlarging back to (H, W). A small pixel counts as missing when more
    than half of the region it summarises is missing. Where a mask is given, observed
    pixels of the result are y's."""
    check_callable(restore, "restore")
    y = check_images(y, "y")
    mask = check_mask(mask, y) if mask is not None else None
    check_positive_int(size, "size")
    small = resize(y, (size, size))
    if mask is None:
        restored = restore(small)
    else:
        small_mask = resize(mask.float(), (size, size)) > 0.5
        restored = restore(small, small_mask)
    restored = check_tensor(restored, "restore's output")
    if restored.shape != small.shape:
        raise ValueError(
            "restore must return images shaped like its input "
            f"{tuple(small.shape)}, got {tuple(restored.shape)}"
        )
    restored = check_finite(restored.detach(), "restore's output")
    return _keep_observed(resize(restored, (y.shape[2], y.shape[3])), y, mask)
