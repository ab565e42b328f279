"""Chapter 7's helpers for its reference comparisons and figures:
vae_lib.plots.mask_window (the crop that shows a damage mask)."""

from __future__ import annotations

import pytest
import torch

from vae_lib.corrupt import square_mask
from vae_lib.plots import mask_window


def hole(h: int, w: int, top: int, left: int, size: int) -> torch.Tensor:
    """A (h, w) bool mask with one size x size hole at (top, left)."""
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_a_small_hole_is_centred_in_the_window():
    # hole rows 6-7, columns 7-8: centred 4 x 4 window is rows 5-8, columns 6-9
    rows, cols = mask_window(hole(10, 10, 6, 7, 2), 4, 4)
    assert (rows, cols) == (slice(5, 9), slice(6, 10))


def test_the_window_stays_inside_the_image():
    # a hole in the corner: the window cannot be centred on it, it is flush instead
    rows, cols = mask_window(hole(10, 12, 0, 10, 2), 4, 6)
    assert (rows, cols) == (slice(0, 4), slice(6, 12))


def test_the_window_holds_every_missing_pixel_of_a_square_hole():
    image = torch.zeros(1, 3, 300, 451)
    mask = square_mask(image, 40)[0, 0]  # the chapter's 40 x 40 hole
    rows, cols = mask_window(mask, 96, 120)
    assert mask[rows, cols].sum() == mask.sum() == 1600
    assert rows.stop - rows.start == 96 and cols.stop - cols.start == 120


def test_the_window_prefers_more_missing_pixels_to_the_centroid():
    # a big hole on the left and a single pixel far right: the centroid lies between
    # them, but the window must hold the big hole
    mask = hole(20, 40, 5, 2, 6)
    mask[10, 38] = True
    rows, cols = mask_window(mask, 8, 8)
    assert mask[rows, cols].sum() == 36


@pytest.mark.parametrize(
    "mask, height, width, message",
    [
        (torch.zeros(5, 5), 2, 2, "bool tensor"),
        (torch.zeros(1, 5, 5, dtype=torch.bool), 2, 2, "bool tensor"),
        (hole(5, 5, 1, 1, 1), 6, 2, "must fit"),
        (hole(5, 5, 1, 1, 1), 2, 0, "width"),
        (torch.zeros(5, 5, dtype=torch.bool), 2, 2, "at least one missing"),
    ],
)
def test_bad_inputs_are_named(mask, height, width, message):
    with pytest.raises((TypeError, ValueError), match=message):
        mask_window(mask, height, width)


def test_a_mask_that_is_not_a_tensor_is_refused():
    with pytest.raises(TypeError, match="mask"):
        mask_window([[True]], 1, 1)
