"""vae_lib.corrupt, its masks: masks of missing pixels (Chapter 6), the checks every
inpainting method runs on them, and hiding pixels and pasting a completion into the
holes. (Its noise: test_corrupt.py.)

A mask is bool (B, 1, H, W), True where a pixel is missing; every mask leaves at least
one pixel of each image observed. Statistical tolerances are about five standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_lib.corrupt import (
    check_mask,
    half_mask,
    hide,
    keep_observed,
    random_mask,
    rows_mask,
    square_mask,
    stroke_mask,
    training_mask,
)


@pytest.fixture
def x(gen):
    return torch.rand(3, 1, 8, 8, generator=gen(100))


@pytest.fixture
def colour(gen):
    return torch.rand(2, 3, 7, 10, generator=gen(101))


def hidden_per_image(mask: torch.Tensor) -> list[int]:
    return mask.flatten(1).sum(dim=1).tolist()


# Every mask maker with settings that hide some but not all pixels of an 8x8 or 7x10
# image; each takes the images and the ``gen`` fixture.
MAKERS = {
    "square": lambda x, gen: square_mask(x, 4),
    "square-at": lambda x, gen: square_mask(x, 3, top=1, left=2),
    "half": lambda x, gen: half_mask(x, "left"),
    "rows": lambda x, gen: rows_mask(x, 2, 5),
    "random": lambda x, gen: random_mask(x, 0.3, gen(1)),
    "stroke": lambda x, gen: stroke_mask(x, 2, 2.0, gen(2)),
    "training": lambda x, gen: training_mask(x, gen(3)),
}


# --- shared behaviour -----------------------------------------------------------------


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
@pytest.mark.parametrize("images", ["x", "colour"])
def test_masks_are_bool_b_1_h_w_and_leave_the_input_alone(make, images, request, gen):
    images = request.getfixturevalue(images)
    before = images.clone()
    mask = make(images, gen)
    b, _, h, w = images.shape
    assert mask.shape == (b, 1, h, w) and mask.dtype == torch.bool
    assert torch.equal(images, before)
    assert (~mask).flatten(1).any(dim=1).all()  # at least one observed pixel per image
    assert check_mask(mask, images) is mask


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_masks_do_not_touch_the_global_random_state(x, make, gen):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make(x, gen)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (
            torch.full((1, 1, 8, 8), 1.5),
            ValueError,
            r"x must hold pixel values in \[0, 1\]",
        ),
        (
            torch.full((1, 1, 8, 8), -0.1),
            ValueError,
            r"x must hold pixel values in \[0, 1\]",
        ),
        (
            torch.rand(1, 8, 8),
            ValueError,
            r"x must be a batch of images shaped \(B, C, H, W\)",
        ),
        (
            torch.rand(1, 1, 1, 8, 8),
            ValueError,
            r"x must be a batch of images shaped \(B, C, H, W\)",
        ),
        (
            torch.ones(1, 1, 8, 8, dtype=torch.uint8),
            TypeError,
            "x must be a floating-point tensor",
        ),
    ],
    ids=["above-one", "below-zero", "3-d", "5-d", "integer"],
)
def test_masks_reject_bad_images(make, image, error, message, gen):
    with pytest.raises(error, match=message):
        make(image, gen)


RANDOM_MAKERS = {
    "random": lambda x, g: random_mask(x, 0.3, g),
    "stroke": lambda x, g: stroke_mask(x, 2, 2.0, g),
    "training": training_mask,
}


@pytest.mark.parametrize("make", RANDOM_MAKERS.values(), ids=RANDOM_MAKERS.keys())
def test_random_masks_follow_their_seed_and_differ_between_images(make, gen):
    x = torch.rand(6, 1, 16, 16, generator=gen(5))
    first, again, other = (make(x, gen(s)) for s in (7, 7, 8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    # not one mask copied to every image
    assert len({tuple(m.flatten().tolist()) for m in first}) > 1


@pytest.mark.parametrize("make", RANDOM_MAKERS.values(), ids=RANDOM_MAKERS.keys())
@pytest.mark.parametrize(
    "generator",
    [None, 0, "seed", np.random.default_rng(0)],
    ids=["none", "int", "str", "numpy"],
)
def test_random_masks_need_a_torch_generator(x, make, generator):
    with pytest.raises(
        TypeError,
        match=f"generator must be a torch.Generator .*got {type(generator).__name__}",
    ):
        make(x, generator)


# --- square ---------------------------------------------------------------------------


def test_square_mask_is_centred_by_default(gen):
    x = torch.rand(2, 1, 7, 10, generator=gen())
    mask = square_mask(x, 3)
    expected = torch.zeros(2, 1, 7, 10, dtype=torch.bool)
    expected[:, :, 2:5, 3:6] = True  # top = (7 - 3) // 2, left = (10 - 3) // 2
    assert torch.equal(mask, expected)


@pytest.mark.parametrize(
    ("size", "top", "left"), [(1, 0, 0), (3, 5, 2), (4, 0, 4), (2, 3, 0)]
)
def test_square_mask_puts_its_top_left_corner_at_top_left(x, size, top, left):
    mask = square_mask(x, size, top=top, left=left)
    rows, cols = mask[0, 0].nonzero(as_tuple=True)
    assert hidden_per_image(mask) == [size * size] * 3
    assert (rows.min().item(), cols.min().item()) == (top, left)
    assert (rows.max().item(), cols.max().item()) == (top + size - 1, left + size - 1)


def test_square_mask_may_span_the_short_side_of_a_rectangle(gen):
    x = torch.rand(1, 1, 5, 9, generator=gen())
    mask = square_mask(x, 5, left=0)
    assert hidden_per_image(mask) == [25] and not mask[0, 0, :, 5:].any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, r"size must be an int in \[1, 8\], got 0"),
        ({"size": 9}, r"size must be an int in \[1, 8\], got 9"),
        ({"size": 2.0}, r"size must be an int in \[1, 8\], got 2.0"),
        ({"size": True}, r"size must be an int in \[1, 8\], got True"),
        ({"size": 3, "top": 6}, r"top must be an int in \[0, 5\], got 6"),
        ({"size": 3, "top": -1}, r"top must be an int in \[0, 5\], got -1"),
        ({"size": 3, "left": 6}, r"left must be an int in \[0, 5\], got 6"),
        ({"size": 3, "left": -1}, r"left must be an int in \[0, 5\], got -1"),
        (
            {"size": 8},
            "a mask must leave at least one pixel observed",
        ),  # the whole 8x8 image
    ],
)
def test_square_mask_rejects_bad_sizes_and_corners(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        square_mask(x, **kwargs)


# --- half -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "region"),
    [
        ("top", (slice(0, 3), slice(None))),
        ("bottom", (slice(3, None), slice(None))),
        ("left", (slice(None), slice(0, 5))),
        ("right", (slice(None), slice(5, None))),
    ],
)
def test_half_mask_hides_the_named_half(colour, side, region):
    mask = half_mask(colour, side)  # 7 x 10: the top half is the first 7 // 2 = 3 rows
    expected = torch.zeros(2, 1, 7, 10, dtype=torch.bool)
    expected[(slice(None), slice(None), *region)] = True
    assert torch.equal(mask, expected)


def test_half_mask_defaults_to_the_bottom_and_opposite_halves_tile_the_image(x):
    assert torch.equal(half_mask(x), half_mask(x, "bottom"))
    for a, b in (("top", "bottom"), ("left", "right")):
        ma, mb = half_mask(x, a), half_mask(x, b)
        assert torch.equal(ma ^ mb, torch.ones_like(ma))
    assert hidden_per_image(half_mask(x, "top")) == [32] * 3


@pytest.mark.parametrize("side", ["middle", "Top", "", None, 0])
def test_half_mask_rejects_unknown_sides(x, side):
    with pytest.raises(
        ValueError, match=r"side must be one of \('top', 'bottom', 'left', 'right'\)"
    ):
        half_mask(x, side)


def test_half_mask_of_a_one_row_image_would_hide_everything():
    with pytest.raises(ValueError, match="at least one pixel observed"):
        half_mask(torch.rand(1, 1, 1, 6), "bottom")


# --- rows -----------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "stop"), [(2, 5), (0, 1), (7, 8), (0, 7)])
def test_rows_mask_hides_rows_start_to_stop_minus_one(x, start, stop):
    mask = rows_mask(x, start, stop)
    assert torch.equal(
        mask.all(dim=3)[0, 0], (torch.arange(8) >= start) & (torch.arange(8) < stop)
    )
    assert torch.equal(mask.any(dim=3), mask.all(dim=3))  # whole rows
    assert hidden_per_image(mask) == [(stop - start) * 8] * 3


@pytest.mark.parametrize(
    ("start", "stop", "message"),
    [
        (5, 5, r"stop must be an int in \[6, 8\], got 5"),
        (5, 3, r"stop must be an int in \[6, 8\], got 3"),
        (2, 9, r"stop must be an int in \[3, 8\], got 9"),
        (8, 8, r"start must be an int in \[0, 7\], got 8"),
        (-1, 3, r"start must be an int in \[0, 7\], got -1"),
        (1.0, 3, r"start must be an int in \[0, 7\], got 1.0"),
        (0, 8, "a mask must leave at least one pixel observed"),
    ],
)
def test_rows_mask_rejects_bad_bands(x, start, stop, message):
    with pytest.raises(ValueError, match=message):
        rows_mask(x, start, stop)


# --- random ---------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.3, 0.5, 0.75, 0.99])
def test_random_mask_hides_exactly_round_fraction_h_w_pixels_per_image(fraction, gen):
    x = torch.rand(5, 1, 7, 9, generator=gen())
    mask = random_mask(x, fraction, gen(1))
    assert hidden_per_image(mask) == [round(fraction * 63)] * 5


def test_random_mask_is_uniform_over_pixels(gen):
    """Each pixel is missing with probability fraction; 2000 images of 4x4 give a
    standard error of 0.01."""
    x = torch.rand(2000, 1, 4, 4, generator=gen())
    mask = random_mask(x, 0.25, gen(2))
    per_pixel = mask.float().mean(dim=0)[0]
    assert (per_pixel - 0.25).abs().max().item() < 0.05
    # and the images are independent: two images agree no more than chance says
    # (0.25^2 + 0.75^2 = 0.625)
    agreement = (mask[::2] == mask[1::2]).float().mean().item()
    assert agreement == pytest.approx(0.625, abs=0.02)


def test_random_mask_with_fraction_one_hides_everything_and_is_refused(x, gen):
    with pytest.raises(ValueError, match="at least one pixel observed"):
        random_mask(x, 1.0, gen())


@pytest.mark.parametrize(
    ("fraction", "message"),
    [
        (-0.1, r"fraction must be in \[0, 1\], got -0.1"),
        (1.01, r"fraction must be in \[0, 1\], got 1.01"),
        (float("nan"), "fraction must be a finite number, got nan"),
        (float("inf"), "fraction must be a finite number, got inf"),
        (True, "fraction must be a finite number, got True"),
        ("0.5", "fraction must be a finite number"),
    ],
)
def test_random_mask_rejects_bad_fractions(x, fraction, message, gen):
    with pytest.raises(ValueError, match=message):
        random_mask(x, fraction, gen())


# --- strokes --------------------------------------------------------------------------


def test_stroke_mask_is_reproducible_and_never_empty(gen):
    x = torch.rand(8, 1, 28, 28, generator=gen())
    for seed in range(5):
        mask = stroke_mask(x, 1, 2.0, gen(seed))
        assert torch.equal(mask, stroke_mask(x, 1, 2.0, gen(seed)))
        assert min(hidden_per_image(mask)) > 0


def test_a_wider_brush_covers_every_pixel_of_a_narrower_one_and_more(gen):
    x = torch.rand(6, 1, 28, 28, generator=gen())
    thin, wide = stroke_mask(x, 2, 1.5, gen(4)), stroke_mask(x, 2, 4.0, gen(4))
    assert not (thin & ~wide).any()  # same strokes (same seed), fatter brush
    assert all(t < w for t, w in zip(hidden_per_image(thin), hidden_per_image(wide)))


def test_stroke_pixels_lie_close_to_a_chain_of_segments(gen):
    """A brush of diameter w hides pixels within w / 2 of the stroke: a one-pixel brush
    leaves a thin line, so few pixels compared with the stroke's length, and a single
    connected piece."""
    x = torch.rand(1, 1, 28, 28, generator=gen())
    mask = stroke_mask(x, 1, 1.0, gen(9), segments=1)[0, 0]
    n = int(mask.sum())
    # at most the longest segment (0.5 * 28) times sqrt(2), plus the ends
    assert 0 < n <= 0.5 * 28 * 1.5 + 2
    # connected: flood fill from one hidden pixel (8-neighbourhood) reaches all of them
    seen, todo = set(), [tuple(mask.nonzero()[0].tolist())]
    while todo:
        r, c = todo.pop()
        if (r, c) in seen:
            continue
        seen.add((r, c))
        todo += [
            (r + dr, c + dc)
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if 0 <= r + dr < 28 and 0 <= c + dc < 28 and mask[r + dr, c + dc]
        ]
    assert len(seen) == n


def test_stroke_mask_with_no_strokes_hides_nothing(x, gen):
    assert not stroke_mask(x, 0, 3.0, gen()).any()


def test_a_brush_wider_than_the_image_hides_everything_and_is_refused(x, gen):
    with pytest.raises(ValueError, match="at least one pixel observed"):
        stroke_mask(x, 1, 40.0, gen())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 2.0), "num_strokes must be a non-negative int, got -1"),
        ((1.5, 2.0), "num_strokes must be a non-negative int, got 1.5"),
        ((True, 2.0), "num_strokes must be a non-negative int, got True"),
        ((1, 0.0), "width must be positive, got 0"),
        ((1, -1.0), "width must be non-negative, got -1.0"),
        ((1, float("nan")), "width must be a finite number, got nan"),
    ],
)
def test_stroke_mask_rejects_bad_settings(x, args, message, gen):
    with pytest.raises(ValueError, match=message):
        stroke_mask(x, *args, gen())


@pytest.mark.parametrize("segments", [0, 101, 2.0])
def test_stroke_mask_rejects_bad_segment_counts(x, segments, gen):
    with pytest.raises(ValueError, match=r"segments must be an int in \[1, 100\]"):
        stroke_mask(x, 1, 2.0, gen(), segments=segments)


# --- training masks -------------------------------------------------------------------


def classify(mask: torch.Tensor) -> str:
    """Which of the five kinds a (H, W) mask looks like: half, band, square or other
    (random/strokes)."""
    h, w = mask.shape
    halves = {
        "top": (slice(0, h // 2), slice(None)),
        "bottom": (slice(h // 2, None), slice(None)),
        "left": (slice(None), slice(0, w // 2)),
        "right": (slice(None), slice(w // 2, None)),
    }
    for region in halves.values():
        expected = torch.zeros_like(mask)
        expected[region] = True
        if torch.equal(mask, expected):
            return "half"
    rows = mask.all(dim=1)
    if torch.equal(mask.any(dim=1), rows) and rows.any():
        r = rows.nonzero()[:, 0]
        if r.max() - r.min() + 1 == len(r) and 4 <= len(r) <= 14:
            return "band"
    if mask.any():
        r, c = mask.nonzero(as_tuple=True)
        side = int(r.max() - r.min() + 1)
        if (
            side == int(c.max() - c.min() + 1)
            and 6 <= side <= 20
            and int(mask.sum()) == side * side
        ):
            return "square"
    return "other"


def test_training_mask_mixes_every_kind_of_hole_and_observes_a_pixel_of_each_image(gen):
    x = torch.rand(200, 1, 28, 28, generator=gen())
    mask = training_mask(x, gen(11))
    assert mask.shape == (200, 1, 28, 28) and mask.dtype == torch.bool
    assert (~mask).flatten(1).any(dim=1).all()
    kinds = [classify(m[0]) for m in mask]
    counts = {k: kinds.count(k) for k in ("half", "band", "square", "other")}
    # five kinds in equal shares: 40 expected of each, 80 of random pixels and strokes
    # together
    assert (
        counts["half"] >= 20
        and counts["band"] >= 20
        and counts["square"] >= 20
        and counts["other"] >= 50
    ), counts
    fractions = mask.float().mean(dim=(1, 2, 3))
    # small squares to halves and more
    assert fractions.min() < 0.1 and fractions.max() > 0.45


@pytest.mark.parametrize("size", [2, 3, 4])
def test_training_mask_of_tiny_images_keeps_at_least_one_pixel_observed(size, gen):
    x = torch.rand(64, 1, size, size, generator=gen())
    mask = training_mask(x, gen())
    assert (~mask).flatten(1).any(dim=1).all()


# --- check_mask, hide and keep_observed -----------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8, torch.int64])
def test_check_mask_needs_dtype_bool(x, dtype):
    mask = torch.zeros(3, 1, 8, 8, dtype=dtype)
    with pytest.raises(
        TypeError, match=f"mask must have dtype torch.bool .*got {dtype}"
    ):
        check_mask(mask, x)
    with pytest.raises(TypeError, match="torch.bool"):
        hide(x, mask)


def test_check_mask_needs_a_tensor(x):
    with pytest.raises(TypeError, match="mask must be a torch.Tensor of dtype bool"):
        check_mask([[True]], x)
    with pytest.raises(TypeError, match="holes must be a torch.Tensor"):
        check_mask(None, x, name="holes")


@pytest.mark.parametrize(
    "shape", [(3, 8, 8), (1, 1, 8, 8), (3, 1, 8, 7), (3, 2, 8, 8), (3, 1, 1, 8, 8)]
)
def test_check_mask_names_the_shape_it_expects(x, shape):
    with pytest.raises(
        ValueError, match=r"mask must be shaped \(B, 1, H, W\) = \(3, 1, 8, 8\)"
    ):
        check_mask(torch.zeros(shape, dtype=torch.bool), x)


def test_check_mask_refuses_a_mask_that_hides_a_whole_image(x):
    mask = torch.zeros(3, 1, 8, 8, dtype=torch.bool)
    mask[1] = True
    with pytest.raises(
        ValueError,
        match=r"at least one pixel observed.*1 image\(s\) \(first: index 1\)",
    ):
        check_mask(mask, x)
    with pytest.raises(ValueError, match="at least one pixel observed"):
        hide(x, mask)
    mask[1, 0, 4, 4] = False  # one observed pixel is enough
    assert check_mask(mask, x) is mask


def test_hide_sets_missing_pixels_to_fill_and_keeps_the_rest_bit_for_bit(colour, gen):
    mask = random_mask(colour, 0.4, gen(3))
    before = colour.clone()
    for fill in (0.0, 0.5, 1, 1.0):
        y = hide(colour, mask, fill)
        full = mask.expand_as(colour)
        assert y.shape == colour.shape and y.dtype == colour.dtype
        assert (y[full] == fill).all()
        assert torch.equal(y[~full], colour[~full])
    assert torch.equal(hide(colour, mask), hide(colour, mask, 0.0))
    assert torch.equal(colour, before)


def test_hide_rejects_a_mask_per_channel(colour):
    mask = torch.zeros(2, 3, 7, 10, dtype=torch.bool)
    mask[:, 1, 2:4, 3:6] = True
    with pytest.raises(
        ValueError, match=r"mask must be shaped \(B, 1, H, W\) = \(2, 1, 7, 10\)"
    ):
        hide(colour, mask, 1.0)


@pytest.mark.parametrize(
    ("fill", "message"),
    [
        (1.5, r"fill must be in \[0, 1\], got 1.5"),
        (-0.1, r"fill must be in \[0, 1\], got -0.1"),
        (float("nan"), "fill must be a finite number"),
    ],
)
def test_hide_rejects_fills_outside_the_unit_interval(x, fill, message):
    with pytest.raises(ValueError, match=message):
        hide(x, square_mask(x, 3), fill)


def test_hide_rejects_images_outside_the_unit_interval():
    x = torch.full((1, 1, 4, 4), 2.0)
    with pytest.raises(ValueError, match=r"x must hold pixel values in \[0, 1\]"):
        hide(x, torch.zeros(1, 1, 4, 4, dtype=torch.bool))


@pytest.mark.parametrize("channels", [1, 3])
def test_keep_observed_pastes_the_completion_into_the_holes_only(channels, gen):
    y = torch.rand(2, channels, 6, 5, generator=gen(3))
    completion = torch.rand(2, channels, 6, 5, generator=gen(4))
    mask = random_mask(y, 0.5, gen(5))
    before = y.clone(), completion.clone()
    out = keep_observed(completion, y, mask)
    full = mask.expand_as(y)
    assert out.shape == y.shape
    assert torch.equal(out[full], completion[full])
    assert torch.equal(out[~full], y[~full])
    assert torch.equal(y, before[0]) and torch.equal(completion, before[1])


def test_keep_observed_keeps_ys_dtype(gen):
    y = torch.rand(2, 3, 5, 5, generator=gen(3), dtype=torch.float64)
    completion = torch.rand(2, 3, 5, 5, generator=gen(4))
    mask = torch.rand(2, 1, 5, 5, generator=gen(6)) < 0.5
    out = keep_observed(completion, y, mask)
    full = mask.expand_as(y)
    assert out.dtype == torch.float64 and out.device == y.device
    assert torch.equal(out[~full], y[~full])
    assert torch.equal(out[full], completion[full].double())


def test_keep_observed_rejects_bad_completions_and_masks(x):
    mask = square_mask(x, 3)
    with pytest.raises(ValueError, match="completion and y must have the same shape"):
        keep_observed(torch.rand(3, 1, 8, 7), x, mask)
    with pytest.raises(
        ValueError, match=r"completion must hold pixel values in \[0, 1\]"
    ):
        keep_observed(torch.full_like(x, 1.5), x, mask)
    with pytest.raises(ValueError, match=r"y must hold pixel values in \[0, 1\]"):
        keep_observed(x, x + 1, mask)
    with pytest.raises(TypeError, match="torch.bool"):
        keep_observed(x, x, mask.float())
    with pytest.raises(
        ValueError, match=r"mask must be shaped \(B, 1, H, W\) = \(3, 1, 8, 8\)"
    ):
        keep_observed(x, x, mask[:2])
    with pytest.raises(ValueError, match="at least one pixel observed"):
        keep_observed(x, x, torch.ones(3, 1, 8, 8, dtype=torch.bool))


def test_keep_observed_rejects_a_mask_per_channel(colour):
    """A pixel is missing in all its channels at once: masks are (B, 1, H, W), nothing
    else."""
    mask = torch.zeros(2, 3, 7, 10, dtype=torch.bool)
    mask[:, 0, 2:4, 2:4] = True
    with pytest.raises(
        ValueError, match=r"mask must be shaped \(B, 1, H, W\) = \(2, 1, 7, 10\)"
    ):
        keep_observed(colour, colour, mask)
