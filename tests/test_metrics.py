"""vae_lib.metrics: PSNR against a hand computation, SSIM against scikit-image called
directly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from vae_lib.metrics import psnr, ssim


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_psnr_of_a_constant_error_is_ten_log10_of_one_over_its_square():
    x = torch.zeros(2, 1, 4, 4)
    x_hat = torch.stack([torch.full((1, 4, 4), 0.1), torch.full((1, 4, 4), 0.5)])
    torch.testing.assert_close(psnr(x_hat, x), torch.tensor([20.0, 10 * math.log10(4)]))


def test_psnr_matches_a_hand_computation_per_image(gen):
    x, x_hat = (
        torch.rand(3, 3, 5, 6, generator=gen),
        torch.rand(3, 3, 5, 6, generator=gen),
    )
    a, b = x.double().numpy(), x_hat.double().numpy()
    expected = [10 * math.log10(1 / np.mean((b[i] - a[i]) ** 2)) for i in range(3)]
    got = psnr(x_hat, x)
    assert got.shape == (3,)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


def test_psnr_is_symmetric_and_grows_as_the_error_shrinks(gen):
    x = torch.rand(1, 1, 8, 8, generator=gen)
    noise = torch.randn(1, 1, 8, 8, generator=gen)
    values = [psnr((x + s * noise).clamp(0, 1), x).item() for s in (0.3, 0.1, 0.01)]
    assert values[0] < values[1] < values[2]
    assert torch.equal(
        psnr(x, (x + 0.1 * noise).clamp(0, 1)), psnr((x + 0.1 * noise).clamp(0, 1), x)
    )


def test_psnr_of_identical_images_is_capped_at_100_db(gen):
    x = torch.rand(2, 1, 4, 4, generator=gen)
    got = psnr(x, x.clone())
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, torch.full((2,), 100.0))


def test_psnr_cap_follows_min_mse(gen):
    x = torch.rand(1, 1, 4, 4, generator=gen)
    torch.testing.assert_close(psnr(x, x, min_mse=1e-4), torch.tensor([40.0]))


def test_psnr_returns_float32_without_a_graph(gen):
    x_hat = torch.rand(2, 1, 4, 4, generator=gen, requires_grad=True)
    got = psnr(x_hat, torch.rand(2, 1, 4, 4, generator=gen))
    assert not got.requires_grad and got.dtype == torch.float32


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_metrics_reject_mismatched_shapes(metric):
    with pytest.raises(
        ValueError,
        match=(
            r"x_hat and x must have the same shape, "
            r"got \(2, 1, 8, 8\) and \(2, 1, 8, 9\)"
        ),
    ):
        metric(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 9))


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_metrics_need_batches_of_images_in_the_unit_interval(metric):
    with pytest.raises(
        ValueError, match=r"x_hat must be a batch of images shaped \(B, C, H, W\)"
    ):
        metric(torch.zeros(8, 8), torch.zeros(8, 8))
    with pytest.raises(
        ValueError,
        match=r"x must hold pixel values in \[0, 1\], got values from 2 to 2",
    ):
        metric(torch.zeros(1, 1, 8, 8), torch.full((1, 1, 8, 8), 2.0))


# --- SSIM -----------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_of_identical_images_is_one(gen, channels):
    x = torch.rand(2, channels, 16, 16, generator=gen)
    torch.testing.assert_close(ssim(x, x.clone()), torch.ones(2))


def test_ssim_of_grey_images_matches_scikit_image(gen):
    x = torch.rand(2, 1, 16, 20, generator=gen)
    x_hat = (x + 0.2 * torch.randn(2, 1, 16, 20, generator=gen)).clamp(0, 1)
    expected = [
        structural_similarity(
            a[0].double().numpy(), b[0].double().numpy(), data_range=1.0
        )
        for a, b in zip(x_hat, x)
    ]
    got = ssim(x_hat, x)
    assert got.shape == (2,) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert (got < 0.99).all()  # the noise shows


def test_ssim_of_colour_images_matches_scikit_image(gen):
    x = torch.rand(1, 3, 18, 16, generator=gen)
    x_hat = (0.8 * x + 0.1).clamp(0, 1)  # lower contrast, same structure
    expected = structural_similarity(
        x_hat[0].permute(1, 2, 0).double().numpy(),
        x[0].permute(1, 2, 0).double().numpy(),
        data_range=1.0,
        channel_axis=2,
    )
    np.testing.assert_allclose(ssim(x_hat, x).numpy(), [expected], rtol=1e-4, atol=1e-5)


def test_ssim_falls_as_noise_grows(gen):
    x = torch.rand(1, 1, 16, 16, generator=gen)
    noise = torch.randn(1, 1, 16, 16, generator=gen)
    values = [ssim((x + s * noise).clamp(0, 1), x).item() for s in (0.01, 0.1, 0.5)]
    assert values[0] > values[1] > values[2]
