"""vae_lib.dequantization: levels, uniform dequantisation and the discrete bound,
against exact small cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vae_lib.dequantization import dequantize, discrete_nll_bound, pixel_levels


def quantised(shape=(3, 1, 4, 4), seed=0):
    levels = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed))
    return levels.float() / 255, levels


def test_pixel_levels_recovers_the_integer_levels():
    x, levels = quantised()
    assert torch.equal(pixel_levels(x), levels)
    assert torch.equal(
        pixel_levels(torch.tensor([[[[0.0, 1.0]]]]), 2), torch.tensor([[[[0, 1]]]])
    )


def test_dequantize_puts_each_pixel_in_its_own_bin():
    x, levels = quantised()
    y = dequantize(x, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal((y * 256).floor().long(), levels)
    assert (y >= 0).all() and (y < 1).all()


def test_dequantize_is_uniform_within_the_bin():
    x = torch.full((20_000, 1, 1, 1), 10 / 255)
    y = dequantize(x, generator=torch.Generator().manual_seed(2)) * 256 - 10
    assert abs(y.mean().item() - 0.5) < 0.01
    assert abs(y.var().item() - 1 / 12) < 0.005


def test_dequantize_is_seeded():
    x, _ = quantised()
    a = dequantize(x, generator=torch.Generator().manual_seed(3))
    b = dequantize(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_discrete_bound_holds_for_a_one_pixel_gaussian():
    # one pixel, density N(0.3, 0.05^2) on [0, 1]: the bin masses against the bound
    density = Normal(torch.tensor(0.3, dtype=torch.float64), 0.05)
    for k in (60, 77, 90):
        mass = density.cdf(torch.tensor((k + 1) / 256)) - density.cdf(
            torch.tensor(k / 256)
        )
        u = (torch.arange(10_000, dtype=torch.float64) + 0.5) / 10_000  # midpoint rule
        mean_log_density = density.log_prob((k + u) / 256).mean()
        bound = discrete_nll_bound(-mean_log_density, 1)
        assert -mass.log() <= bound + 1e-9
        assert bound == pytest.approx(-mean_log_density.item() + math.log(256))


def test_discrete_bound_adds_d_log_levels():
    assert discrete_nll_bound(0.0, 784) == pytest.approx(784 * math.log(256))
    assert discrete_nll_bound(1.0, 2, num_levels=2) == pytest.approx(
        1 + 2 * math.log(2)
    )
    nats = torch.tensor([1.0, 2.0])
    assert torch.allclose(discrete_nll_bound(nats, 3), nats + 3 * math.log(256))


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (torch.full((1, 1, 2, 2), 0.5), ValueError, "quantised"),
        (torch.full((1, 1, 2, 2), 1.5), ValueError, r"\[0, 1\]"),
        (torch.zeros(2, 2), ValueError, r"\(B, C, H, W\)"),
        ([[0.0]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_images_are_refused(x, error, message):
    with pytest.raises(error, match=message):
        dequantize(x)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="num_levels"):
        pixel_levels(torch.zeros(1, 1, 2, 2), num_levels=1)
    with pytest.raises(ValueError, match="num_dims"):
        discrete_nll_bound(1.0, 0)
    with pytest.raises(TypeError, match="continuous_nll"):
        discrete_nll_bound("1", 3)
