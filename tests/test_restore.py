"""vae_lib.restore: the classical filters against SciPy and scikit-image called
directly, the noise log-likelihoods against torch.distributions and scipy.stats, and the
VAE methods against their definitions on a tiny untrained VAE (8x8 images, two latent
dimensions).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.stats import norm
from skimage.restoration import denoise_nl_means
from torch.distributions import Normal

from vae_lib.corrupt import gaussian_noise
from vae_lib.metrics import psnr
from vae_lib.models import VAE, VAEConfig
from vae_lib.restore import (
    best_setting,
    clipped_gaussian_log_likelihood,
    gaussian_filter,
    gaussian_noise_log_likelihood,
    langevin_samples,
    map_latent,
    median_filter,
    naive_vae,
    nl_means,
    outlier_log_likelihood,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_vae(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(image_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16,)))


@pytest.fixture
def model():
    return make_vae()


@pytest.fixture
def y():
    return torch.rand(3, 1, 8, 8, generator=gen(1))


def flat(x_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A log-likelihood that ignores the data: the posterior is the prior."""
    return torch.zeros(x_hat.shape[0])


# --- Gaussian and median filters ------------------------------------------------------


def test_gaussian_filter_matches_scipy_on_one_grey_image():
    y = torch.rand(1, 1, 12, 10, generator=gen(2))
    expected = ndimage.gaussian_filter(
        y[0, 0].double().numpy(), sigma=1.3, mode="nearest"
    )
    got = gaussian_filter(y, 1.3)
    assert got.shape == y.shape and got.dtype == torch.float32
    np.testing.assert_allclose(got[0, 0].numpy(), expected, atol=1e-6)


def test_median_filter_matches_scipy_on_one_grey_image():
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
def test_filters_treat_each_channel_and_image_on_its_own(restore):
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


def test_nl_means_matches_scikit_image_on_a_grey_image():
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
def test_nl_means_reduces_the_error_of_a_noisy_smooth_image(channels):
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
def pair():
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
    best, scores = best_setting(restore, damaged, clean, candidates)
    assert best == peak
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
    """np.linspace / np.geomspace are the natural way to write a grid of settings. BUG:
    ``if not candidates`` on an array raises 'The truth value of an array ... is
    ambiguous'."""
    damaged, clean = pair
    best, scores = best_setting(
        gaussian_filter, damaged, clean, np.array([0.3, 1.0, 5.0])
    )
    assert best in (0.3, 1.0, 5.0) and len(scores) == 3


# --- naive VAE ------------------------------------------------------------------------


def test_naive_vae_decodes_the_encoders_mean(model, y):
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(model.encode(y)[0]))
    got = naive_vae(model, y)
    assert got.shape == y.shape and not got.requires_grad
    torch.testing.assert_close(got, expected)


# --- noise log-likelihoods ------------------------------------------------------------


@pytest.fixture
def images():
    g = gen(9)
    # x_hat_a, x_hat_b, y
    return tuple(torch.rand(3, 2, 4, 4, generator=g) for _ in range(3))


def test_gaussian_noise_log_likelihood_is_normal_log_prob_up_to_a_constant(images):
    x_hat_a, x_hat_b, y = images
    sigma = 0.2
    log_likelihood = gaussian_noise_log_likelihood(sigma)
    exact = [
        Normal(x_hat, sigma).log_prob(y).flatten(1).sum(1)
        for x_hat in (x_hat_a, x_hat_b)
    ]
    got = [log_likelihood(x_hat, y) for x_hat in (x_hat_a, x_hat_b)]
    assert got[0].shape == (3,)
    torch.testing.assert_close(got[0] - got[1], exact[0] - exact[1])
    constant = exact[0] - got[0]  # the normaliser, the same for every image
    torch.testing.assert_close(
        constant, torch.full((3,), -32 * math.log(sigma * math.sqrt(2 * math.pi)))
    )


def test_outlier_log_likelihood_is_a_mixture_of_a_narrow_gaussian_and_a_uniform():
    p, tau = 0.1, 0.05
    x_hat = torch.tensor([0.2, 0.7, 0.4]).view(1, 1, 1, 3)
    y = torch.tensor([0.25, 1.0, 0.4]).view(1, 1, 1, 3)
    # (x_hat, y) per pixel; the uniform's density is 1
    pairs = [
        (0.2, 0.25),
        (0.7, 1.0),
        (0.4, 0.4),
    ]
    expected = sum(math.log((1 - p) * norm.pdf(b, a, tau) + p * 1.0) for a, b in pairs)
    got = outlier_log_likelihood(p, tau)(x_hat, y)
    assert got.shape == (1,)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_outlier_log_likelihood_caps_the_cost_of_an_outlier_at_log_p():
    x_hat, y = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)  # 20 tau away
    got = outlier_log_likelihood(0.05, 0.05)(x_hat, y).item()
    assert got == pytest.approx(math.log(0.05), abs=1e-6)
    # a Gaussian pays dearly
    assert gaussian_noise_log_likelihood(0.05)(x_hat, y).item() == pytest.approx(-200.0)


@pytest.mark.parametrize("p", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan"), True, "0.1"])
def test_outlier_log_likelihood_needs_p_strictly_inside_the_unit_interval(p):
    with pytest.raises(ValueError, match="p must lie strictly between 0 and 1, got"):
        outlier_log_likelihood(p)


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (
            gaussian_noise_log_likelihood,
            {"sigma": 0},
            "sigma must be a positive number, got 0",
        ),
        (
            gaussian_noise_log_likelihood,
            {"sigma": True},
            "sigma must be a positive number, got True",
        ),
        (
            clipped_gaussian_log_likelihood,
            {"sigma": -0.1},
            "sigma must be a positive number, got -0.1",
        ),
        (
            outlier_log_likelihood,
            {"p": 0.1, "tau": 0.0},
            "tau must be a positive number, got 0.0",
        ),
    ],
)
def test_log_likelihoods_need_positive_scales(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)


def test_clipped_gaussian_is_the_normal_density_inside_the_unit_interval(images):
    x_hat, _, y = images
    y = 0.05 + 0.9 * y  # strictly inside (0, 1)
    sigma = 0.15
    expected = Normal(x_hat, sigma).log_prob(y).flatten(1).sum(1)
    torch.testing.assert_close(
        clipped_gaussian_log_likelihood(sigma)(x_hat, y), expected
    )


@pytest.mark.parametrize("sigma", [0.1, 0.01], ids=["moderate", "far-tail"])
def test_clipped_gaussian_puts_the_mass_beyond_each_end_on_that_end(images, sigma):
    x_hat = images[0].double()
    a = x_hat.numpy().reshape(3, -1)
    log_likelihood = clipped_gaussian_log_likelihood(sigma)
    at_zero = log_likelihood(x_hat, torch.zeros_like(x_hat))
    at_one = log_likelihood(x_hat, torch.ones_like(x_hat))
    assert torch.isfinite(at_zero).all() and torch.isfinite(at_one).all()
    np.testing.assert_allclose(
        at_zero.numpy(), norm.logcdf(-a / sigma).sum(1), rtol=1e-6
    )
    np.testing.assert_allclose(
        at_one.numpy(), norm.logcdf((a - 1) / sigma).sum(1), rtol=1e-6
    )


def test_clipped_gaussian_mixes_the_three_cases_pixel_by_pixel():
    sigma = 0.2
    x_hat = torch.tensor([0.1, 0.5, 0.9, 0.3], dtype=torch.float64).view(1, 1, 2, 2)
    y = torch.tensor([0.0, 0.6, 1.0, 0.0], dtype=torch.float64).view(1, 1, 2, 2)
    # y = 1 at x_hat 0.9; y = 0
    expected = (
        norm.logcdf(-0.1 / sigma)
        + norm.logpdf(0.6, 0.5, sigma)  # y = 0 at x_hat 0.1; y inside
        + norm.logcdf((0.9 - 1) / sigma)
        + norm.logcdf(-0.3 / sigma)
    )
    assert clipped_gaussian_log_likelihood(sigma)(x_hat, y).item() == pytest.approx(
        expected, rel=1e-9
    )


def test_clipped_gaussian_is_normalised_over_its_point_masses_and_density():
    """P(y = 0) + integral of the density over (0, 1) + P(y = 1) = 1 for each x_hat: the
    point masses and the density are weighed against each other correctly, with no
    constant dropped."""
    sigma = 0.3
    x_hat = torch.tensor([0.05, 0.5, 0.8], dtype=torch.float64).view(3, 1, 1, 1)
    log_likelihood = clipped_gaussian_log_likelihood(sigma)
    ends = [log_likelihood(x_hat, torch.full_like(x_hat, v)).exp() for v in (0.0, 1.0)]
    grid = torch.linspace(1e-12, 1 - 1e-12, 401, dtype=torch.float64)
    density = torch.stack(
        [log_likelihood(x_hat, torch.full_like(x_hat, float(v))).exp() for v in grid]
    )
    inside = torch.trapezoid(density, grid, dim=0)
    torch.testing.assert_close(
        ends[0] + inside + ends[1],
        torch.ones(3, dtype=torch.float64),
        atol=1e-4,
        rtol=0,
    )


# --- MAP latent -----------------------------------------------------------------------


def objective(model, log_likelihood, z, y):
    with torch.no_grad():
        return log_likelihood(model.mean_image(z), y) - 0.5 * z.pow(2).sum(1)


def test_map_latent_improves_on_the_encoders_mean(model, y):
    log_likelihood = gaussian_noise_log_likelihood(0.1)
    z, x_hat = map_latent(model, y, log_likelihood, num_steps=100)
    assert z.shape == (3, 2) and x_hat.shape == y.shape
    assert not z.requires_grad and not x_hat.requires_grad
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    with torch.no_grad():
        z0 = model.encode(y)[0]
        torch.testing.assert_close(x_hat, model.mean_image(z))
    start, end = (
        objective(model, log_likelihood, z0, y),
        objective(model, log_likelihood, z, y),
    )
    assert (end >= start).all()
    assert (end > start + 1e-3).any()  # it did move


def test_map_latent_leaves_the_model_unchanged_and_trainable(model, y):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    map_latent(model, y, gaussian_noise_log_likelihood(0.1), num_steps=20)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_map_latent_keeps_frozen_parameters_frozen(model, y):
    """BUG: map_latent sets requires_grad back to True on every parameter, unfreezing
    what the caller froze (e.g. a frozen encoder while fine-tuning the decoder)."""
    frozen = model.encoder[1].weight
    frozen.requires_grad_(False)
    map_latent(model, y, gaussian_noise_log_likelihood(0.1), num_steps=5)
    assert not frozen.requires_grad
    assert model.decoder[0].weight.requires_grad


def test_map_latent_works_inside_no_grad(model, y):
    """map_latent optimises internally; a caller's ``torch.no_grad()`` evaluation block
    should not break it.
    BUG: raises 'element 0 of tensors does not require grad and does not have a
    grad_fn'."""
    log_likelihood = gaussian_noise_log_likelihood(0.1)
    expected, _ = map_latent(model, y, log_likelihood, num_steps=10)
    with torch.no_grad():
        got, _ = map_latent(model, y, log_likelihood, num_steps=10)
    torch.testing.assert_close(got, expected)


def test_map_latent_optimises_each_image_on_its_own(model, y):
    log_likelihood = gaussian_noise_log_likelihood(0.1)
    together, _ = map_latent(model, y, log_likelihood, num_steps=50)
    alone = torch.cat(
        [
            map_latent(model, y[i : i + 1], log_likelihood, num_steps=50)[0]
            for i in range(3)
        ]
    )
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_map_latent_with_very_broad_noise_follows_the_prior_to_zero(model, y):
    with torch.no_grad():
        # start the search far from the origin
        model.encoder[3].bias[:2] = torch.tensor([2.0, -1.5])
        start = model.encode(y)[0]
    assert (start.norm(dim=1) > 1.5).all()
    z_broad, _ = map_latent(model, y, gaussian_noise_log_likelihood(1e3), num_steps=200)
    assert (z_broad.norm(dim=1) < 0.1 * start.norm(dim=1)).all()
    z_sharp, _ = map_latent(
        model, y, gaussian_noise_log_likelihood(0.01), num_steps=200
    )
    assert (
        z_sharp.norm(dim=1) > z_broad.norm(dim=1)
    ).all()  # with a sharp likelihood the data pull it away


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_steps": 0}, "num_steps must be a positive int, got 0"),
        ({"lr": 0.0}, "lr must be a positive number, got 0.0"),
    ],
)
def test_map_latent_rejects_bad_settings(model, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        map_latent(model, y, gaussian_noise_log_likelihood(0.1), **kwargs)


# --- posterior samples (Metropolis-adjusted Langevin) ---------------------------------


@pytest.fixture
def z_map(model, y):
    with torch.no_grad():
        return model.encode(y)[0]


class LinearDecoder(torch.nn.Module):
    """x_hat = A z reshaped to (1, 2, 2): with Gaussian noise the posterior over z is
    Gaussian and known."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(a)

    def mean_image(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.a.T).view(-1, 1, 2, 2)


def test_langevin_samples_match_the_exact_gaussian_posterior_of_a_linear_decoder():
    a = torch.tensor([[1.0, 0.0], [0.5, 1.0], [0.0, 2.0], [1.0, -1.0]])
    sigma = 0.5
    y = torch.tensor([[0.6, 0.2, 0.9, 0.3]])
    # exact posterior of z
    covariance = torch.linalg.inv(torch.eye(2) + a.T @ a / sigma**2)
    mean = covariance @ a.T @ y[0] / sigma**2
    images, acceptance = langevin_samples(
        LinearDecoder(a),
        y.view(1, 1, 2, 2),
        gaussian_noise_log_likelihood(sigma),
        torch.zeros(1, 2),
        num_samples=3000,
        burn_in=300,
        thin=3,
        step=0.05,
        generator=gen(1),
    )
    samples = images.view(3000, 4)
    torch.testing.assert_close(samples.mean(0), a @ mean, atol=0.03, rtol=0)
    torch.testing.assert_close(
        torch.cov(samples.T), a @ covariance @ a.T, atol=0.03, rtol=0
    )
    assert 0.4 < acceptance.item() < 0.75


def test_langevin_samples_shapes_acceptance_and_seed(model, y, z_map):
    log_likelihood = gaussian_noise_log_likelihood(0.2)
    first, acceptance = langevin_samples(
        model,
        y,
        log_likelihood,
        z_map,
        num_samples=4,
        burn_in=10,
        thin=2,
        generator=gen(3),
    )
    again, _ = langevin_samples(
        model,
        y,
        log_likelihood,
        z_map,
        num_samples=4,
        burn_in=10,
        thin=2,
        generator=gen(3),
    )
    assert first.shape == (4, *y.shape) and acceptance.shape == (y.shape[0],)
    assert ((acceptance >= 0) & (acceptance <= 1)).all()
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert first.std(dim=0).sum() > 0  # the chains move


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 0}, "num_samples"),
        ({"thin": 0}, "thin"),
        ({"burn_in": -1}, "burn_in"),
        ({"step": 0.0}, "step"),
    ],
)
def test_langevin_samples_reject_bad_settings(model, y, z_map, kwargs, message):
    with pytest.raises(ValueError, match=message):
        langevin_samples(model, y, flat, z_map, **kwargs)


def test_langevin_samples_need_one_start_code_per_image(model, y):
    with pytest.raises(ValueError, match="one code per image"):
        langevin_samples(model, y, flat, torch.zeros(y.shape[0] + 1, 2))


# --- the damaged image's name in error messages ---------------------------------------

RESTORERS = {
    "gaussian_filter": lambda model, y: gaussian_filter(y, 1.0),
    "median_filter": lambda model, y: median_filter(y),
    "nl_means": lambda model, y: nl_means(y, 0.1),
    "naive_vae": naive_vae,
    "map_latent": lambda model, y: map_latent(model, y, flat, num_steps=1),
    "langevin_samples": lambda model, y: langevin_samples(
        model, y, flat, torch.zeros(1, 2)
    ),
}


@pytest.mark.parametrize("restore", RESTORERS.values(), ids=RESTORERS.keys())
def test_restorers_name_the_damaged_image_y_in_their_errors(model, restore):
    """The argument is ``y``; in this module ``x`` means the clean image, so a message
    about "x" misleads.
    BUG: every restorer reports the damaged image as "x" (check_images is called
    without a name)."""
    with pytest.raises(ValueError, match=r"^y must hold pixel values in \[0, 1\]"):
        restore(model, torch.full((1, 1, 8, 8), 1.5))
