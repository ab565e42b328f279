"""vae_lib.tiling: tile placement, the blending window, and restoring images of any size
tile by tile or by resizing, checked with restore functions whose right answer is known
(identity, constants, per-tile offsets, garbage) on small synthetic images.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from vae_lib.tiling import (
    Tiles,
    blending_window,
    restore_by_resizing,
    restore_by_tiles,
    split_tiles,
    stitch,
    tile_starts,
)


def identity(tiles: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
    return tiles.clone()


def smooth_image(c: int, h: int, w: int) -> torch.Tensor:
    """A smooth colour image (1, C, H, W) in [0.1, 0.9]."""
    yy = torch.linspace(0, 1, h)[:, None]
    xx = torch.linspace(0, 1, w)[None, :]
    channels = [0.5 + 0.4 * torch.sin(2 * yy + xx + k) for k in range(c)]
    return torch.stack(channels)[None]


class Recorder:
    """A restore function that records what it was called with and returns
    ``answer(tiles)``."""

    def __init__(self, answer=identity) -> None:
        self.calls: list[tuple[torch.Tensor, ...]] = []
        self.answer = answer

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(a.clone() for a in args))
        return self.answer(args[0])


# --- tile placement -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "tile", "overlap"),
    [
        (32, 32, 8),
        (33, 32, 8),
        (56, 32, 8),
        (100, 32, 8),
        (451, 32, 8),
        (45, 32, 0),
        (37, 32, 31),
        (7, 3, 2),
        (1, 1, 0),
        (64, 64, 16),
    ],
)
def test_tile_starts_cover_the_axis_exactly(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0
    assert starts[-1] == length - tile
    assert all(isinstance(s, int) for s in starts)
    steps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(1 <= step <= tile - overlap for step in steps), steps
    covered = set()
    for s in starts:
        covered |= set(range(s, s + tile))
    assert covered == set(range(length))


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "expected"),
    [
        (32, 32, 8, [0]),
        (33, 32, 8, [0, 1]),
        (56, 32, 8, [0, 24]),
        (100, 32, 8, [0, 24, 48, 68]),
        (64, 32, 0, [0, 32]),
        (10, 4, 2, [0, 2, 4, 6]),
    ],
)
def test_tile_starts_step_by_tile_minus_overlap_then_one_flush(
    length, tile, overlap, expected
):
    assert tile_starts(length, tile, overlap) == expected


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "message"),
    [
        (64, 32, 32, r"overlap must be an int with 0 <= overlap < tile = 32, got 32"),
        (64, 32, 40, r"0 <= overlap < tile = 32, got 40"),
        (64, 32, -1, r"0 <= overlap < tile = 32, got -1"),
        (64, 32, 8.0, r"overlap must be an int .*got 8\.0"),
        (64, 32, True, r"overlap must be an int .*got True"),
        (31, 32, 8, "length must be at least one tile of 32 pixels, got 31"),
        (0, 32, 8, "length must be a positive int, got 0"),
        (64, 0, 0, "tile must be a positive int, got 0"),
    ],
)
def test_tile_starts_rejects_bad_arguments(length, tile, overlap, message):
    with pytest.raises(ValueError, match=message):
        tile_starts(length, tile, overlap)


# --- blending window ------------------------------------------------------------------


@pytest.mark.parametrize("tile", [1, 2, 7, 8, 32])
def test_blending_window_is_positive_symmetric_and_largest_in_the_middle(tile):
    window = blending_window(tile)
    assert window.shape == (tile, tile) and window.dtype == torch.float32
    assert (window > 0).all() and (window <= 1 + 1e-6).all()
    assert torch.allclose(window, window.T)
    assert torch.allclose(window, window.flip(0))
    assert torch.allclose(window, window.flip(1))
    # one index for odd tiles, the two central for even
    middle = [
        (tile - 1) // 2,
        tile // 2,
    ]
    assert window.max().item() == pytest.approx(window[middle[0], middle[0]].item())
    assert window[middle[1], middle[1]].item() == pytest.approx(window.max().item())
    # Falls off towards the edges along each axis from the middle.
    row = window[middle[0]]
    assert all(row[i] <= row[i + 1] + 1e-7 for i in range(middle[0]))


def test_blending_window_is_the_product_of_sine_ramps():
    window = blending_window(4)
    ramp = torch.sin(torch.pi * (torch.arange(4) + 0.5) / 4)
    assert torch.allclose(window, ramp[:, None] * ramp[None, :], atol=1e-6)
    # Small but not zero at the corner of a 32-pixel tile.
    assert 0 < blending_window(32)[0, 0].item() < 0.01


# --- split_tiles and stitch -----------------------------------------------------------


def test_split_tiles_cuts_the_tiles_at_their_corners_and_stitch_puts_them_back(gen):
    image = torch.rand(3, 37, 45, generator=gen())
    tiles = split_tiles(image, 16, 4)
    tops, lefts = tile_starts(37, 16, 4), tile_starts(45, 16, 4)
    assert tiles.patches.shape == (len(tops) * len(lefts), 3, 16, 16)
    assert tiles.corners.tolist() == [[t, l] for t in tops for l in lefts]
    for patch, (t, l) in zip(tiles.patches, tiles.corners.tolist()):
        assert torch.equal(patch, image[:, t : t + 16, l : l + 16])
    assert torch.allclose(stitch(tiles, 37, 45), image, atol=1e-6)


def test_split_tiles_rejects_a_batch():
    message = (
        r"image must be one image shaped \(C, H, W\) with H, W >= tile = 16, got "
        r"shape \(1, 3, 32, 32\)"
    )
    with pytest.raises(ValueError, match=message):
        split_tiles(torch.zeros(1, 3, 32, 32), 16, 4)


def test_stitch_fails_when_the_tiles_leave_a_gap():
    tiles = Tiles(torch.ones(1, 1, 4, 4), torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match="do not cover the whole image"):
        stitch(tiles, 4, 6)


# --- restore_by_tiles -----------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [
        (1, 3, 37, 45),
        (1, 1, 32, 32),
        (1, 3, 20, 13),
        (2, 3, 40, 33),
        (1, 3, 20, 50),
        (1, 2, 70, 31),
    ],
    ids=lambda s: "x".join(map(str, s)),
)
def test_identity_restore_gives_back_the_image(shape, gen):
    y = torch.rand(*shape, generator=gen())
    out = restore_by_tiles(identity, y)
    assert out.shape == y.shape and out.dtype == y.dtype
    assert (out - y).abs().max().item() <= 1e-6


@pytest.mark.parametrize("shape", [(1, 3, 37, 45), (1, 3, 20, 13), (2, 1, 33, 64)])
def test_a_constant_restore_gives_that_constant_everywhere(shape, gen):
    y = torch.rand(*shape, generator=gen(1))
    out = restore_by_tiles(lambda t: torch.full_like(t, 0.3), y, tile=16, overlap=4)
    assert out.shape == y.shape
    assert torch.allclose(out, torch.full_like(y, 0.3), atol=1e-6)


def test_the_result_is_clamped_to_the_unit_interval(gen):
    y = torch.rand(1, 3, 40, 40, generator=gen())
    out = restore_by_tiles(lambda t: t * 10 - 3, y)
    assert 0.0 <= out.min().item() and out.max().item() <= 1.0


@pytest.mark.parametrize("shape", [(1, 3, 37, 45), (2, 3, 20, 13)])
def test_observed_pixels_are_kept_bit_for_bit_even_when_restore_returns_garbage(
    shape, gen
):
    y = torch.rand(*shape, generator=gen(2))
    mask = torch.rand(shape[0], 1, *shape[2:], generator=gen(3)) < 0.5
    out = restore_by_tiles(
        lambda t, m: torch.randn(t.shape, generator=gen(4)) * 100, y, mask
    )
    assert out.shape == y.shape
    observed = (~mask).expand_as(y)
    assert torch.equal(out[observed], y[observed])
    assert 0.0 <= out[~observed].min().item() and out[~observed].max().item() <= 1.0


def test_restore_is_called_with_the_tiles_alone_without_a_mask(gen):
    restore = Recorder()
    y = torch.rand(1, 3, 40, 40, generator=gen())
    restore_by_tiles(restore, y, tile=32, overlap=8)
    assert len(restore.calls) == 1
    (tiles,) = restore.calls[0]
    assert tiles.shape == (4, 3, 32, 32)  # starts [0, 8] on each axis
    assert torch.equal(tiles[3], y[0, :, 8:40, 8:40])


def test_restore_gets_tiles_and_masks_and_padding_is_marked_missing(gen):
    restore = Recorder()
    y = torch.rand(1, 3, 20, 13, generator=gen())
    mask = torch.zeros(1, 1, 20, 13, dtype=torch.bool)
    mask[0, 0, 5:9, 2:6] = True
    restore_by_tiles(restore, y, mask, tile=32, overlap=8)
    assert len(restore.calls) == 1
    tiles, masks = restore.calls[0]
    assert tiles.shape == (1, 3, 32, 32)
    assert masks.shape == (1, 1, 32, 32) and masks.dtype == torch.bool
    # The image's own pixels and mask are where they were ...
    assert torch.equal(tiles[0, :, :20, :13], y[0])
    assert torch.equal(masks[0, :, :20, :13], mask[0])
    # ... the padding repeats the edge pixels and is missing.
    assert torch.equal(tiles[0, :, 20:, :13], y[0, :, 19:20, :].expand(3, 12, 13))
    assert torch.equal(tiles[0, :, :20, 13:], y[0, :, :, 12:13].expand(3, 20, 19))
    assert masks[0, 0, 20:, :].all() and masks[0, 0, :, 13:].all()
    assert int(masks.sum()) == 32 * 32 - 20 * 13 + 16


def test_restore_returning_the_wrong_shape_is_a_clear_error(gen):
    y = torch.rand(1, 3, 40, 40, generator=gen())
    message = (
        r"restore must return tiles shaped like its input \(4, 3, 32, 32\), "
        r"got \(4, 3, 28, 28\)"
    )
    with pytest.raises(ValueError, match=message):
        restore_by_tiles(lambda t: t[:, :, 2:-2, 2:-2], y)
    with pytest.raises(ValueError, match=r"got \(4, 1, 32, 32\)"):
        restore_by_tiles(lambda t: t[:, :1], y)


def test_batch_size_splits_the_tiles_without_changing_the_result(gen):
    # 2 x 3 = 6 tiles of 32 in each image
    y = torch.rand(2, 3, 40, 70, generator=gen(5))

    def answer(t: torch.Tensor) -> torch.Tensor:
        return (t * t.mean(dim=(1, 2, 3), keepdim=True)).sqrt()

    small, big = Recorder(answer), Recorder(answer)
    chunked = restore_by_tiles(small, y, batch_size=4)
    whole = restore_by_tiles(big, y, batch_size=256)
    assert [c[0].shape[0] for c in small.calls] == [4, 2, 4, 2]
    assert [c[0].shape[0] for c in big.calls] == [6, 6]
    assert torch.equal(chunked, whole)


def test_per_tile_offsets_are_blended_without_seams(gen):
    y = torch.full((1, 3, 70, 90), 0.5)
    offsets = (
        torch.rand(12, generator=gen(6)) - 0.5
    ) * 0.4  # 3 x 4 tiles of 32 with overlap 8
    out = restore_by_tiles(lambda t: t + offsets[:, None, None, None], y)
    spread = (offsets.max() - offsets.min()).item()
    # Every pixel is a weighted mean of the offsets of the tiles over it ...
    assert out.min().item() >= 0.5 + offsets.min().item() - 1e-6
    assert out.max().item() <= 0.5 + offsets.max().item() + 1e-6
    # ... and it changes gradually: no jump between neighbours comes near the offsets'
    # spread, as a hard seam between tiles would.
    jump = max(out.diff(dim=2).abs().max().item(), out.diff(dim=3).abs().max().item())
    assert jump < 0.25 * spread, (jump, spread)


@pytest.mark.parametrize(
    ("mask", "error", "message"),
    [
        (
            torch.zeros(1, 3, 40, 40, dtype=torch.bool),
            ValueError,
            r"mask must be shaped \(B, 1, H, W\) = \(1, 1, 40, 40\)",
        ),
        (
            torch.zeros(1, 1, 40, 39, dtype=torch.bool),
            ValueError,
            r"got \(1, 1, 40, 39\)",
        ),
        (
            torch.zeros(2, 1, 40, 40, dtype=torch.bool),
            ValueError,
            r"mask must be shaped",
        ),
        (torch.zeros(1, 1, 40, 40), TypeError, "mask must have dtype torch.bool"),
        (
            torch.ones(1, 1, 40, 40, dtype=torch.bool),
            ValueError,
            "at least one pixel observed",
        ),
    ],
    ids=["three-channels", "narrow", "batch-of-two", "float", "all-missing"],
)
@pytest.mark.parametrize("method", [restore_by_tiles, restore_by_resizing])
def test_bad_masks_are_rejected(method, mask, error, message, gen):
    y = torch.rand(1, 3, 40, 40, generator=gen())
    with pytest.raises(error, match=message):
        method(identity, y, mask)


@pytest.mark.parametrize(
    ("y", "kwargs", "error", "message"),
    [
        (
            torch.rand(3, 40, 40),
            {},
            ValueError,
            r"y must be a batch of images shaped \(B, C, H, W\)",
        ),
        (
            torch.full((1, 3, 40, 40), 1.5),
            {},
            ValueError,
            r"y must hold pixel values in \[0, 1\]",
        ),
        (
            torch.zeros(1, 3, 40, 40),
            {"batch_size": 0},
            ValueError,
            "batch_size must be a positive int, got 0",
        ),
        (
            torch.zeros(1, 3, 40, 40),
            {"overlap": 32},
            ValueError,
            "overlap must be an int",
        ),
    ],
    ids=["3-d", "out-of-range", "batch-size-0", "overlap-too-big"],
)
def test_restore_by_tiles_rejects_bad_arguments(y, kwargs, error, message):
    with pytest.raises(error, match=message):
        restore_by_tiles(identity, y, **kwargs)


# --- restore_by_resizing --------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 48, 80), (3, 20, 13), (1, 100, 37)])
def test_resizing_with_identity_keeps_a_smooth_image_close(shape):
    y = smooth_image(*shape)
    out = restore_by_resizing(identity, y)
    assert out.shape == y.shape and out.dtype == y.dtype
    assert (out - y).abs().max().item() < 0.03


def test_resizing_an_image_of_the_network_size_changes_nothing(gen):
    y = torch.rand(2, 3, 32, 32, generator=gen())
    assert torch.allclose(restore_by_resizing(identity, y), y, atol=1e-6)


def test_resizing_calls_restore_on_small_images_and_small_masks():
    restore = Recorder()
    y = smooth_image(3, 48, 80)
    mask = torch.zeros(1, 1, 48, 80, dtype=torch.bool)
    mask[..., :40] = True  # the left half missing
    restore_by_resizing(restore, y, mask, size=16)
    assert len(restore.calls) == 1
    small, small_mask = restore.calls[0]
    assert small.shape == (1, 3, 16, 16)
    assert small_mask.shape == (1, 1, 16, 16) and small_mask.dtype == torch.bool
    assert small_mask[..., :8].all() and not small_mask[..., 8:].any()


def test_resizing_without_a_mask_calls_restore_with_the_small_images_alone():
    restore = Recorder()
    restore_by_resizing(restore, smooth_image(3, 40, 40), size=8)
    assert [tuple(a.shape for a in call) for call in restore.calls] == [((1, 3, 8, 8),)]


def test_resizing_keeps_observed_pixels_bit_for_bit(gen):
    y = torch.rand(2, 3, 45, 37, generator=gen(7))
    mask = torch.rand(2, 1, 45, 37, generator=gen(8)) < 0.3
    out = restore_by_resizing(lambda t, m: torch.zeros_like(t), y, mask)
    assert out.shape == y.shape
    observed = (~mask).expand_as(y)
    assert torch.equal(out[observed], y[observed])
    assert (out[~observed] == 0).all()
