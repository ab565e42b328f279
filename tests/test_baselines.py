"""vae_lib.baselines: the classical restorations. The filters against SciPy and
scikit-image called directly, best_setting against psnr, and the inpainting fills on
images whose right answer is known (a linear ramp) and against scikit-image.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.restoration import denoise_nl_means, inpaint_biharmonic

from conftest import MASKS
from vae_lib.baselines import (
    BestSetting,
    best_setting,
    biharmonic,
    gaussian_filter,
    mean_fill,
    median_filter,
    nl_means,
)
from vae_lib.corrupt import gaussian_noise, hide, random_mask, square_mask
from vae_lib.metrics import psnr


def assert_observed_exact(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
) -> None:
    """Every observed pixel of ``out`` (B, C, H, W) is y's, bit for bit."""
    observed = ~mask.expand_as(y)
    assert torch.equal(out[observed], y[observed])


# Every baseline as (y, mask) -> restored images; the denoisers ignore the mask.
BASELINES = {
    "gaussian_filter": lambda y, mask: gaussian_filter(y, 1.0),
    "median_filter": lambda y, mask: median_filter(y),
    "nl_means": lambda y, mask: nl_means(y, 0.1),
    "mean_fill": mean_fill,
    "biharmonic": biharmonic,
}


# --- conventions ----------------------------------------------------------------------


@pytest.mark.parametrize("restore", BASELINES.values(), ids=BASELINES.keys())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [1, 3])
def test_baselines_return_ys_shape_dtype_and_device(restore, dtype, channels, gen):
    y = torch.rand(2, channels, 8, 8, generator=gen(3), dtype=dtype)
    mask = random_mask(y, 0.3, gen(4))
    before = y.clone()
    out = restore(y, mask)
    assert out.shape == y.shape
    assert out.dtype == dtype and out.device == y.device
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(y, before)


@pytest.mark.parametrize("restore", BASELINES.values(), ids=BASELINES.keys())
def test_baselines_keep_float64_precision(restore, gen):
    """A float64 image comes back computed in float64, not rounded through float32."""
    y = torch.rand(2, 1, 8, 8, generator=gen(5), dtype=torch.float64)
    mask = random_mask(y, 0.3, gen(6))
    out = restore(y, mask)
    assert not torch.equal(out, out.float().double())


@pytest.mark.parametrize("restore", BASELINES.values(), ids=BASELINES.keys())
def test_baselines_name_the_damaged_image_y_in_their_errors(restore):
    """The argument is ``y``; ``x`` means the clean image, so a message about "x"
    misleads."""
    with pytest.raises(ValueError, match=r"^y must hold pixel values in \[0, 1\]"):
        restore(
            torch.full((1, 1, 8, 8), 1.5), torch.zeros(1, 1, 8, 8, dtype=torch.bool)
        )


# --- Gaussian and median filters ------------------------------------------------------


def test_gaussian_filter_matches_scipy_on_one_grey_image(gen):
    y = torch.rand(1, 1, 12, 10, generator=gen(2))
    expected = ndimage.gaussian_filter(
        y[0, 0].double().numpy(), sigma=1.3, mode="nearest"
    )
    got = gaussian_filter(y, 1.3)
    assert got.shape == y.shape and got.dtype == torch.float32
    np.testing.assert_allclose(got[0, 0].numpy(), expected, atol=1e-6)


def test_median_filter_matches_scipy_on_one_grey_image(gen):
    y = torch.rand(1, 1, 12, 10, generator=gen(3))
    for size in (3, 5):
        expected = ndimage.median_filter(
            y[0, 0].double().numpy(), size=size, mode="nearest"
        )
        got = median_filter(y, size)
        assert got.shape == y.shape and got.dtype == torch.float32
        np.testing.assert_array_equal(got[0, 0].numpy(), expected.astype(np.float32))


@pytest.mark.parametrize(
    "restore",
    [lambda y: gaussian_filter(y, 0.8), median_filter],
    ids=["gaussian", "median"],
)
def test_filters_treat_each_channel_and_image_on_its_own(restore, gen):
    y = torch.rand(2, 3, 9, 9, generator=gen(4))
    got = restore(y)
    assert got.shape == y.shape and got.dtype == torch.float32
    assert got.min() >= 0 and got.max() <= 1
    for b in range(2):
        for c in range(3):
            torch.testing.assert_close(
                got[b, c], restore(y[b : b + 1, c : c + 1].contiguous())[0, 0]
            )


@pytest.mark.parametrize(
    ("row", "col"), [(4, 4), (0, 0), (8, 3)], ids=["centre", "corner", "edge"]
)
def test_median_filter_removes_isolated_salt_and_pepper_exactly(row, col):
    y = torch.full((1, 1, 9, 9), 0.4)
    y[0, 0, row, col] = 1.0
    y[0, 0, 2, 6] = 0.0  # a pepper pixel too, away from the salt
    assert torch.equal(median_filter(y), torch.full((1, 1, 9, 9), 0.4))
    # a blur only spreads it
    assert not torch.equal(gaussian_filter(y, 1.0), torch.full((1, 1, 9, 9), 0.4))


def test_median_filter_keeps_a_straight_edge_that_the_gaussian_filter_blurs():
    y = torch.zeros(1, 1, 8, 8)
    y[..., 4:] = 1.0
    assert torch.equal(median_filter(y), y)
    blurred = gaussian_filter(y, 1.0)
    assert 0 < blurred[0, 0, 0, 3] < 0.5 < blurred[0, 0, 0, 4] < 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda y: gaussian_filter(y, 0), "sigma must be a positive number, got 0"),
        (
            lambda y: gaussian_filter(y, -1.0),
            "sigma must be a positive number, got -1.0",
        ),
        (lambda y: median_filter(y, 0), "size must be a positive int, got 0"),
        (lambda y: median_filter(y, 2.5), "size must be a positive int, got 2.5"),
        (lambda y: nl_means(y, 0.0), "noise_sigma must be a positive number, got 0.0"),
        (
            lambda y: nl_means(y, 0.1, strength=-1),
            "strength must be a positive number, got -1",
        ),
    ],
)
def test_baselines_reject_bad_settings(y, call, message):
    with pytest.raises(ValueError, match=message):
        call(y)


@pytest.mark.parametrize(
    "restore",
    [lambda y: gaussian_filter(y, 1.0), median_filter, lambda y: nl_means(y, 0.1)],
    ids=["gaussian", "median", "nl-means"],
)
def test_baselines_need_batches_of_images_in_the_unit_interval(restore):
    with pytest.raises(
        ValueError,
        match=(
            r"must be a batch of images shaped \(B, C, H, W\), "
            r"got a tensor of shape \(8, 8\)"
        ),
    ):
        restore(torch.rand(8, 8))
    with pytest.raises(
        ValueError, match=r"must hold pixel values in \[0, 1\], got values from 2 to 2"
    ):
        restore(torch.full((1, 1, 8, 8), 2.0))


# --- non-local means ------------------------------------------------------------------


def test_nl_means_matches_scikit_image_on_a_grey_image(gen):
    y = torch.rand(1, 1, 16, 16, generator=gen(5))
    expected = denoise_nl_means(
        y[0, 0].double().numpy(),
        h=0.8 * 0.1,
        sigma=0.1,
        fast_mode=True,
        patch_size=5,
        patch_distance=6,
        channel_axis=None,
    )
    got = nl_means(y, 0.1)
    assert got.shape == y.shape and got.dtype == torch.float32
    np.testing.assert_allclose(got[0, 0].numpy(), np.clip(expected, 0, 1), atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3], ids=["grey", "rgb"])
def test_nl_means_reduces_the_error_of_a_noisy_smooth_image(channels, gen):
    ramp = torch.linspace(0.2, 0.8, 16)
    clean = (ramp[None, :] * torch.ones(16, 1)).expand(2, channels, 16, 16).contiguous()
    noisy = gaussian_noise(clean, 0.1, gen(6))
    restored = nl_means(noisy, 0.1)
    assert restored.shape == clean.shape
    assert restored.min() >= 0 and restored.max() <= 1
    mse_noisy = (noisy - clean).pow(2).mean().item()
    mse_restored = (restored - clean).pow(2).mean().item()
    assert mse_restored < 0.5 * mse_noisy


# --- best_setting ---------------------------------------------------------------------


@pytest.fixture
def pair(gen):
    clean = torch.rand(2, 1, 8, 8, generator=gen(7))
    return gaussian_noise(clean, 0.2, gen(8)), clean


def blend(clean: torch.Tensor, peak: float):
    """A fake restorer that moves the damaged image towards ``clean``, closest when the
    setting is ``peak``."""

    def restore(damaged: torch.Tensor, setting: float) -> torch.Tensor:
        return clean + min(1.0, 0.1 + abs(setting - peak)) * (damaged - clean)

    return restore


@pytest.mark.parametrize("peak", [0.5, 2.0])
def test_best_setting_picks_the_candidate_with_the_highest_psnr(pair, peak):
    damaged, clean = pair
    restore = blend(clean, peak)
    candidates = [0.25, 0.5, 1.0, 2.0, 4.0]
    result = best_setting(restore, damaged, clean, candidates)
    assert isinstance(result, BestSetting)
    best, scores = result  # it still unpacks
    assert best == result.value == peak and scores is result.scores
    assert list(scores) == candidates
    for c in candidates:
        assert scores[c] == pytest.approx(
            psnr(restore(damaged, c), clean).mean().item()
        )
    assert scores[peak] == max(scores.values())


def test_best_setting_accepts_a_real_restorer(pair):
    damaged, clean = pair
    best, scores = best_setting(gaussian_filter, damaged, clean, (0.3, 1.0, 5.0))
    assert best in (0.3, 1.0, 5.0) and scores[best] == max(scores.values())


def test_best_setting_needs_candidates(pair):
    with pytest.raises(ValueError, match="candidates must hold at least one setting"):
        best_setting(gaussian_filter, *pair, [])


def test_best_setting_needs_matching_pairs_of_images(pair):
    damaged, clean = pair
    with pytest.raises(
        ValueError,
        match=(
            r"damaged and clean must have the same shape, "
            r"got \(2, 1, 8, 8\) and \(1, 1, 8, 8\)"
        ),
    ):
        best_setting(gaussian_filter, damaged, clean[:1], [1.0])
    with pytest.raises(ValueError, match=r"clean must hold pixel values in \[0, 1\]"):
        best_setting(gaussian_filter, damaged, clean + 2, [1.0])


def test_best_setting_accepts_a_numpy_array_of_candidates(pair):
    """np.linspace / np.geomspace are the natural way to write a grid of settings."""
    damaged, clean = pair
    best, scores = best_setting(
        gaussian_filter, damaged, clean, np.array([0.3, 1.0, 5.0])
    )
    assert best in (0.3, 1.0, 5.0) and len(scores) == 3


# --- mean_fill and biharmonic ---------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_mean_fill_fills_with_each_images_mean_of_its_observed_pixels_per_channel(
    channels, gen
):
    y = torch.rand(3, channels, 8, 8, generator=gen(7))
    y[1] *= 0.3  # the images differ in brightness
    mask = random_mask(y, 0.5, gen(8))
    out = mean_fill(y, mask)
    assert_observed_exact(out, y, mask)
    for b in range(3):
        observed = ~mask[b, 0]
        for c in range(channels):
            expected = y[b, c][observed].double().mean().item()
            hole = out[b, c][~observed]
            assert hole.numel() == 32
            torch.testing.assert_close(
                hole, torch.full_like(hole, expected), rtol=1e-6, atol=1e-6
            )


def ramp(channels: int = 1) -> torch.Tensor:
    """A linear ramp per channel (biharmonic, so biharmonic inpainting reproduces it):
    (1, C, 12, 10)."""
    i, j = torch.arange(12.0)[:, None], torch.arange(10.0)[None, :]
    slopes = [(0.5, 0.3), (-0.2, 0.6), (0.1, -0.4)][:channels]
    return torch.stack(
        [((a * i + b * j) - (a * i + b * j).min()) / 10 for a, b in slopes]
    )[None]


@pytest.mark.parametrize("channels", [1, 3])
def test_biharmonic_restores_a_linear_ramp_through_a_square_hole(channels):
    x = ramp(channels)
    mask = square_mask(x, 4)
    out = biharmonic(hide(x, mask), mask)
    assert out.shape == x.shape
    assert_observed_exact(out, hide(x, mask), mask)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)
    assert (hide(x, mask) - x).abs().max() > 0.2  # the hole really was damaged


def test_biharmonic_restores_a_ramp_through_scattered_holes_closely(gen):
    x = ramp()
    mask = random_mask(x, 0.5, gen(10))
    error = (biharmonic(hide(x, mask), mask) - x).abs()[0, 0]
    # away from the border, where holes are surrounded
    assert error[2:-2, 2:-2].max() < 0.01
    assert error.max() < 0.1 and error.mean() < 0.005  # hiding them cost 0.2 on average


def test_biharmonic_matches_scikit_image_called_directly(y, mask):
    out = biharmonic(y, mask)
    for b in range(3):
        expected = inpaint_biharmonic(y[b, 0].double().numpy(), mask[b, 0].numpy())
        np.testing.assert_allclose(
            out[b, 0].numpy(), np.clip(expected, 0, 1), atol=1e-6
        )


@pytest.mark.parametrize(
    "fill", [mean_fill, biharmonic], ids=["mean_fill", "biharmonic"]
)
@pytest.mark.parametrize("channels", [1, 3])
def test_classical_fills_ignore_the_values_in_the_holes(fill, channels, gen):
    y = torch.rand(2, channels, 8, 8, generator=gen(11))
    mask = random_mask(y, 0.3, gen(12))
    black, white = fill(hide(y, mask, 0.0), mask), fill(hide(y, mask, 1.0), mask)
    torch.testing.assert_close(black, white, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "fill", [mean_fill, biharmonic], ids=["mean_fill", "biharmonic"]
)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("make", MASKS.values(), ids=MASKS.keys())
def test_classical_fills_keep_observed_pixels_exactly(fill, channels, make, gen):
    y = torch.rand(2, channels, 8, 8, generator=gen(13))
    mask = make(y, gen)
    out = fill(y, mask)
    assert out.shape == y.shape and out.dtype == y.dtype
    assert_observed_exact(out, y, mask)


@pytest.mark.parametrize(
    "fill", [mean_fill, biharmonic], ids=["mean_fill", "biharmonic"]
)
def test_classical_fills_check_their_mask_and_images(fill, y):
    with pytest.raises(TypeError, match="torch.bool"):
        fill(y, torch.zeros(3, 1, 8, 8))
    with pytest.raises(ValueError, match="at least one pixel observed"):
        fill(y, torch.ones(3, 1, 8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"y must hold pixel values in \[0, 1\]"):
        fill(y + 1, square_mask(y, 2))


@pytest.mark.parametrize(
    "fill", [mean_fill, biharmonic], ids=["mean_fill", "biharmonic"]
)
def test_classical_fills_reject_a_mask_per_channel(fill, gen):
    """A pixel is missing in all its channels at once: masks are (B, 1, H, W), nothing
    else."""
    y = torch.rand(1, 3, 6, 6, generator=gen(9))
    mask = torch.zeros(1, 3, 6, 6, dtype=torch.bool)
    mask[0, 0, 2:4, 2:4] = True
    with pytest.raises(
        ValueError, match=r"mask must be shaped \(B, 1, H, W\) = \(1, 1, 6, 6\)"
    ):
        fill(y, mask)
