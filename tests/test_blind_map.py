"""vae_lib.corrupt.estimate_sigma, the noise level that blind MAP (Chapter 5) reads off
the noisy image itself: an exact small case written out by hand, the estimate against
the true sigma on a large black image, and bad inputs."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import norm

from vae_lib.corrupt import (
    BlindClippedGaussianNoise,
    ClippedGaussianNoise,
    estimate_sigma,
)


def test_estimate_is_the_median_positive_background_pixel_over_0_6745():
    # 4 pixels at 0, so about 4 positive background pixels, the 4 smallest positive
    # values; their median (2nd smallest) over Phi^-1(3/4) is the estimate.
    values = [0.0, 0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 0.4, 0.9, 1.0, 1.0, 0.95]
    y = torch.tensor(values).view(1, 1, 3, 4)
    expected = 0.2 / norm.ppf(0.75)
    assert estimate_sigma(y).item() == pytest.approx(expected, rel=1e-6)


def test_each_image_gets_its_own_estimate(gen):
    black = torch.zeros(2, 1, 64, 64)
    y = torch.cat(
        [
            ClippedGaussianNoise(0.1).sample(black[:1], gen(1)),
            ClippedGaussianNoise(0.4).sample(black[1:], gen(2)),
        ]
    )
    estimate = estimate_sigma(y)
    assert estimate.shape == (2,)
    assert estimate[0].item() < estimate[1].item()


@pytest.mark.parametrize("sigma", [0.05, 0.3, 0.6])
def test_estimate_recovers_sigma_on_a_black_image(gen, sigma):
    # 40,000 pixels, about 20,000 positive: the median's relative standard error is
    # about 1.3%, so 7% is over five standard errors.
    y = ClippedGaussianNoise(sigma).sample(torch.zeros(1, 1, 200, 200), gen(3))
    assert estimate_sigma(y).item() == pytest.approx(sigma, rel=0.07)


def test_estimate_is_on_the_input_device_and_dtype():
    y = torch.tensor([0.0, 0.0, 0.2, 0.5], dtype=torch.float64).view(1, 1, 2, 2)
    estimate = estimate_sigma(y)
    assert estimate.dtype == torch.float64 and estimate.device == y.device


def test_an_image_without_black_pixels_is_refused():
    y = torch.cat([torch.tensor([0.0, 0.2, 0.3, 0.4]), torch.full((4,), 0.5)])
    with pytest.raises(ValueError, match="image 1 has 0 at 0"):
        estimate_sigma(y.view(2, 1, 2, 2))


def test_an_all_black_image_is_refused():
    with pytest.raises(ValueError, match="y must hold pixels"):
        estimate_sigma(torch.zeros(1, 1, 4, 4))


def test_non_images_are_refused():
    with pytest.raises((TypeError, ValueError), match="y"):
        estimate_sigma(torch.zeros(4, 4))


def test_blind_likelihood_is_the_clipped_one_with_each_images_estimate(gen):
    x = torch.rand(3, 1, 8, 8, generator=gen(7)) * (torch.rand(3, 1, 8, 8) > 0.6)
    y = ClippedGaussianNoise(0.3).sample(x, gen(8))
    x_hat = torch.rand(3, 1, 8, 8, generator=gen(9))
    blind = BlindClippedGaussianNoise().log_prob(y, x_hat)
    sigma = estimate_sigma(y)
    told = [
        ClippedGaussianNoise(sigma[i].item()).log_prob(y[i : i + 1], x_hat[i : i + 1])
        for i in range(3)
    ]
    torch.testing.assert_close(blind, torch.cat(told))


def test_blind_noise_cannot_damage_images(gen):
    with pytest.raises(TypeError, match="no sigma"):
        BlindClippedGaussianNoise().sample(torch.zeros(1, 1, 4, 4), gen(0))
