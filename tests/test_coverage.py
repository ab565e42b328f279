"""vae_lib.metrics.interval_coverage, the coverage of posterior intervals (Chapter 5):
exact small cases counted by hand, the nominal rate for draws from the truth's own
distribution, the mask, and bad inputs."""

from __future__ import annotations

import pytest
import torch

from vae_lib.metrics import interval_coverage


def test_coverage_counts_pixels_within_num_sd_of_the_draws_mean():
    # two draws per pixel: 0 and 1 -> mean 0.5, std (Bessel) sqrt(0.5) = 0.707
    draws = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1, 1).expand(2, 1, 1, 2, 2).clone()
    x = torch.tensor([0.5, 1.0, 0.0, 0.9]).view(1, 1, 2, 2)
    # |x - 0.5| = 0, 0.5, 0.5, 0.4: all within 0.707 at num_sd 1, only the first at 0.1
    assert interval_coverage(draws, x, num_sd=1.0).tolist() == [1.0]
    assert interval_coverage(draws, x, num_sd=0.1).tolist() == [0.25]


def test_the_mask_restricts_the_pixels_counted():
    draws = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1, 1).expand(2, 1, 1, 2, 2).clone()
    x = torch.tensor([0.5, 1.0, 0.0, 0.9]).view(1, 1, 2, 2)
    where = torch.tensor([True, True, False, False]).view(1, 1, 2, 2)
    assert interval_coverage(draws, x, num_sd=0.1, where=where).tolist() == [0.5]


def test_draws_from_the_truths_own_distribution_cover_about_95_percent(gen):
    # x and the 200 draws all from N(0.5, 0.1^2): +-2 sd covers 95.4% (a little less
    # with the sample's mean and sd); 4 images of 4096 pixels each
    noise = torch.randn(201, 4, 1, 64, 64, generator=gen(5))
    draws, x = 0.5 + 0.1 * noise[1:], 0.5 + 0.1 * noise[0]
    coverage = interval_coverage(draws, x)
    assert coverage.shape == (4,)
    assert coverage.mean().item() == pytest.approx(0.954, abs=0.01)


def test_draws_that_agree_cover_only_the_exact_truth():
    draws = torch.full((3, 2, 1, 2, 2), 0.3)
    x = torch.full((2, 1, 2, 2), 0.3)
    x[1, 0, 0, 0] = 0.4
    assert interval_coverage(draws, x).tolist() == [1.0, 0.75]


def test_bad_shapes_and_settings_are_refused():
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="draws must hold"):
        interval_coverage(torch.zeros(3, 1, 1, 4, 4), x)
    with pytest.raises(ValueError, match="draws must hold"):
        interval_coverage(torch.zeros(1, 2, 1, 4, 4), x)
    with pytest.raises(ValueError, match="num_sd"):
        interval_coverage(torch.zeros(3, 2, 1, 4, 4), x, num_sd=0)
    with pytest.raises(TypeError, match="where"):
        interval_coverage(torch.zeros(3, 2, 1, 4, 4), x, where=torch.ones(2, 1, 4, 4))
