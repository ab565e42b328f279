"""vae_lib.corrupt, its noise: the samplers against their definitions, seeded, and
checked statistically; the noise models' likelihoods against torch.distributions,
scipy.stats and sums written out by hand. (Its masks: test_masks.py.)

Statistical tolerances are about five standard errors of the estimate, so a correct
implementation fails them with negligible probability while a wrong rate or scale does
not pass.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import norm
from torch.distributions import Normal

from vae_lib.corrupt import (
    ClippedGaussianNoise,
    GaussianNoise,
    SaltAndPepperNoise,
    gaussian_noise,
    salt_and_pepper,
)


@pytest.fixture
def x(gen):
    # Uniform values: none is exactly 0 or 1, so every salt or pepper hit changes its
    # pixel.
    return torch.rand(3, 1, 8, 8, generator=gen(100))


# --- Gaussian noise -------------------------------------------------------------------


def test_gaussian_noise_is_x_plus_sigma_times_the_generators_normals_clipped(x, gen):
    y = gaussian_noise(x, 0.3, gen(1))
    eps = torch.randn(x.shape, generator=gen(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    torch.testing.assert_close(y, (x + 0.3 * eps).clamp(0, 1))
    assert y.min() == 0 and y.max() == 1  # sigma 0.3 pushes some pixels past both ends


def test_gaussian_noise_follows_its_seed(x, gen):
    first, again, other = (gaussian_noise(x, 0.1, gen(s)) for s in (5, 5, 6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_gaussian_noise_with_sigma_zero_returns_x(x, gen):
    assert torch.equal(gaussian_noise(x, 0.0, gen()), x)
    assert torch.equal(gaussian_noise(x, 0, gen()), x)


def test_gaussian_noise_has_standard_deviation_sigma_away_from_the_edges(gen):
    # 4096 pixels, 10 sigma from either edge: no clipping
    x = torch.full((1, 1, 64, 64), 0.5)
    sigma = 0.05
    d = (gaussian_noise(x, sigma, gen(2)) - x).flatten()
    assert abs(d.mean().item()) < 5 * sigma / 64
    assert d.std().item() == pytest.approx(sigma, rel=0.05)
    within_one_sigma = (d.abs() < sigma).float().mean().item()
    # 0.6827 for a Gaussian
    assert within_one_sigma == pytest.approx(math.erf(1 / math.sqrt(2)), abs=0.04)


def test_gaussian_noise_clips_a_black_image_at_zero(gen):
    """y = max(sigma * eps, 0) on a black image: half the pixels stay 0, and
    E[y] = sigma / sqrt(2 pi)."""
    x = torch.zeros(1, 1, 64, 64)
    sigma = 0.2
    y = gaussian_noise(x, sigma, gen(3))
    assert y.min() == 0
    assert (y == 0).float().mean().item() == pytest.approx(0.5, abs=0.04)
    assert y.mean().item() == pytest.approx(sigma / math.sqrt(2 * math.pi), rel=0.05)


def test_gaussian_noise_keeps_a_float64_image_float64(gen):
    x = torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64)
    y = gaussian_noise(x, 0.1, gen())
    assert y.dtype == torch.float64 and not torch.equal(y, x)


# --- salt and pepper ------------------------------------------------------------------


def test_salt_and_pepper_changes_a_fraction_p_of_the_pixels(gen):
    x = torch.rand(1, 1, 64, 64, generator=gen(4))
    p = 0.2
    y = salt_and_pepper(x, p, gen(5))
    changed = y != x
    # standard error 0.006
    assert changed.float().mean().item() == pytest.approx(p, abs=0.03)
    hits = y[changed]
    assert ((hits == 0) | (hits == 1)).all()
    # salt and pepper alike
    assert (hits == 1).float().mean().item() == pytest.approx(0.5, abs=0.1)
    assert torch.equal(y[~changed], x[~changed])


def test_salt_and_pepper_on_a_black_image_changes_only_the_salt_hits(gen):
    """Pepper on a black pixel changes nothing: the changed fraction is p times the
    share of draws that differ from the pixel, here p / 2."""
    x = torch.zeros(1, 1, 64, 64)
    y = salt_and_pepper(x, 0.4, gen(6))
    assert ((y == 0) | (y == 1)).all()
    assert (y == 1).float().mean().item() == pytest.approx(0.2, abs=0.03)


def test_salt_and_pepper_hits_all_channels_of_a_colour_pixel_alike(gen):
    x = torch.rand(2, 3, 16, 16, generator=gen(7))
    y = salt_and_pepper(x, 0.3, gen(8))
    changed = y != x
    # a pixel is hit in every channel or none
    assert torch.equal(changed.any(dim=1), changed.all(dim=1))
    hit = changed[:, 0]
    assert hit.any()
    for c in (1, 2):
        # the same value, 0 or 1, in every channel
        assert torch.equal(y[:, c][hit], y[:, 0][hit])
    assert changed[:, 0].float().mean().item() == pytest.approx(0.3, abs=0.05)


def test_salt_and_pepper_with_p_zero_returns_x_and_with_p_one_replaces_every_pixel(
    x, gen
):
    assert torch.equal(salt_and_pepper(x, 0.0, gen()), x)
    y = salt_and_pepper(x, 1, gen())
    assert ((y == 0) | (y == 1)).all()
    assert 0.3 < y.mean().item() < 0.7  # 192 pixels, about half of them salt


def test_salt_and_pepper_follows_its_seed(x, gen):
    first, again, other = (salt_and_pepper(x, 0.3, gen(s)) for s in (5, 5, 6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_salt_and_pepper_keeps_dtype_and_shape(gen):
    x = torch.rand(2, 3, 5, 7, generator=gen(9), dtype=torch.float64)
    y = salt_and_pepper(x, 0.5, gen())
    assert y.shape == x.shape and y.dtype == torch.float64 and y.is_contiguous()


# --- shared behaviour -----------------------------------------------------------------

CORRUPTIONS = {
    "gaussian_noise": (gaussian_noise, 0.2),
    "salt_and_pepper": (salt_and_pepper, 0.3),
}


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
def test_corruptions_do_not_modify_their_input(x, corrupt, level, gen):
    before = x.clone()
    y = corrupt(x, level, gen())
    assert torch.equal(x, before)
    assert not torch.equal(y, x)
    y.fill_(0.5)  # the result is a new tensor, not a view of x
    assert torch.equal(x, before)


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
def test_corruptions_do_not_touch_the_global_random_state(x, corrupt, level, gen):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    corrupt(x, level, gen())
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (
            torch.full((1, 1, 4, 4), 1.5),
            ValueError,
            r"x must hold pixel values in \[0, 1\], got values from 1.5 to 1.5",
        ),
        (
            torch.full((1, 1, 4, 4), -0.1),
            ValueError,
            r"x must hold pixel values in \[0, 1\]",
        ),
        (
            torch.full((1, 1, 4, 4), float("nan")),
            ValueError,
            r"x must hold pixel values in \[0, 1\]",
        ),
        (
            torch.rand(1, 4, 4),
            ValueError,
            (
                r"x must be a batch of images shaped \(B, C, H, W\), "
                r"got a tensor of shape \(1, 4, 4\)"
            ),
        ),
        (
            torch.ones(1, 1, 4, 4, dtype=torch.uint8),
            TypeError,
            "x must be a floating-point tensor",
        ),
        ([[0.5]], TypeError, "x must be a torch.Tensor, got list"),
    ],
    ids=["above-one", "below-zero", "nan", "3-d", "integer", "list"],
)
def test_corruptions_reject_bad_images(corrupt, level, image, error, message, gen):
    with pytest.raises(error, match=message):
        corrupt(image, level, gen())


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
@pytest.mark.parametrize("generator", [None, 0, "seed"], ids=["none", "int", "str"])
def test_corruptions_need_a_torch_generator(x, corrupt, level, generator):
    with pytest.raises(
        TypeError,
        match=f"generator must be a torch.Generator .*got {type(generator).__name__}",
    ):
        corrupt(x, level, generator)


@pytest.mark.parametrize(
    ("sigma", "message"),
    [
        (-0.1, "sigma must be non-negative, got -0.1"),
        (float("nan"), "sigma must be a finite number, got nan"),
        (True, "sigma must be a finite number, got True"),
        ("0.1", "sigma must be a finite number, got '0.1'"),
        (None, "sigma must be a finite number, got None"),
    ],
)
def test_gaussian_noise_rejects_bad_sigmas(x, sigma, message, gen):
    with pytest.raises(ValueError, match=message):
        gaussian_noise(x, sigma, gen())


@pytest.mark.parametrize(
    ("p", "message"),
    [
        (-0.1, r"p must be in \[0, 1\], got -0.1"),
        (1.5, r"p must be in \[0, 1\], got 1.5"),
        (float("nan"), "p must be a finite number, got nan"),
        (False, "p must be a finite number, got False"),
    ],
)
def test_salt_and_pepper_rejects_bad_probabilities(x, p, message, gen):
    with pytest.raises(ValueError, match=message):
        salt_and_pepper(x, p, gen())


# --- noise models: sampling -----------------------------------------------------------

NOISE_MODELS = {
    "clipped-gaussian": ClippedGaussianNoise(0.3),
    "gaussian": GaussianNoise(0.3),
    "salt-and-pepper": SaltAndPepperNoise(0.3),
}


@pytest.mark.parametrize("noise", NOISE_MODELS.values(), ids=NOISE_MODELS.keys())
def test_noise_model_samples_follow_their_seed_and_leave_the_input_alone(x, gen, noise):
    before = x.clone()
    first, again, other = (noise.sample(x, gen(s)) for s in (5, 5, 6))
    assert first.shape == x.shape and first.dtype == x.dtype
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(x, before)
    first.fill_(0.5)  # a new tensor, not a view of x
    assert torch.equal(x, before)


@pytest.mark.parametrize("noise", NOISE_MODELS.values(), ids=NOISE_MODELS.keys())
def test_noise_model_samples_do_not_touch_the_global_random_state(x, gen, noise):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    noise.sample(x, gen())
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("noise", NOISE_MODELS.values(), ids=NOISE_MODELS.keys())
def test_noise_model_samples_need_a_torch_generator(x, noise):
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        noise.sample(x, 0)


def test_clipped_gaussian_noise_samples_are_the_clipped_noisy_images_in_the_unit_range(
    x, gen
):
    y = ClippedGaussianNoise(0.3).sample(x, gen(1))
    eps = torch.randn(x.shape, generator=gen(1))
    torch.testing.assert_close(y, (x + 0.3 * eps).clamp(0, 1))
    assert y.min() == 0 and y.max() == 1  # both ends reached, neither passed
    assert torch.equal(y, gaussian_noise(x, 0.3, gen(1)))


def test_gaussian_noise_model_samples_are_not_clipped(x, gen):
    y = GaussianNoise(0.3).sample(x, gen(1))
    eps = torch.randn(x.shape, generator=gen(1))
    torch.testing.assert_close(y, x + 0.3 * eps)
    assert y.min() < 0 and y.max() > 1


def test_salt_and_pepper_noise_model_samples_are_salt_and_pepper(x, gen):
    y = SaltAndPepperNoise(0.3).sample(x, gen(1))
    assert torch.equal(y, salt_and_pepper(x, 0.3, gen(1)))
    changed = y != x
    assert changed.any() and ((y[changed] == 0) | (y[changed] == 1)).all()


# --- noise models: likelihoods --------------------------------------------------------


@pytest.fixture
def images(gen):
    """x_hat_a, x_hat_b, y: three batches (3, 2, 4, 4) of uniform values."""
    g = gen(9)
    return tuple(torch.rand(3, 2, 4, 4, generator=g) for _ in range(3))


def test_gaussian_noise_log_prob_is_normal_log_prob_summed_per_image(images):
    x_hat, _, y = images
    y = 2 * y - 0.5  # unclipped noise may leave [0, 1]
    sigma = 0.2
    got = GaussianNoise(sigma).log_prob(y, x_hat)
    assert got.shape == (3,)
    torch.testing.assert_close(got, Normal(x_hat, sigma).log_prob(y).flatten(1).sum(1))


def test_clipped_gaussian_log_prob_is_the_censored_normal(images):
    """Oracle: the censored Gaussian in float64 with torch.distributions, pixel by
    pixel: the density inside (0, 1), P(x + noise <= 0) = Phi(-x_hat / sigma) at 0
    and P(x + noise >= 1) = 1 - Phi((1 - x_hat) / sigma) at 1."""
    x_hat, _, y = (t.double() for t in images)
    y = y.clone()
    y[:, 0, 0] = 0.0  # a row of black pixels
    y[:, 1, -1] = 1.0  # and one of white pixels
    sigma = 0.3
    normal = Normal(x_hat, sigma)
    per_pixel = torch.where(
        y == 0,
        normal.cdf(torch.zeros_like(y)).log(),
        torch.where(
            y == 1, (1 - normal.cdf(torch.ones_like(y))).log(), normal.log_prob(y)
        ),
    )
    got = ClippedGaussianNoise(sigma).log_prob(y, x_hat)
    assert got.shape == (3,) and got.dtype == torch.float64
    torch.testing.assert_close(got, per_pixel.flatten(1).sum(1), rtol=1e-9, atol=1e-9)


def test_clipped_gaussian_is_the_normal_density_inside_the_unit_interval(images):
    x_hat, _, y = images
    y = 0.05 + 0.9 * y  # strictly inside (0, 1)
    sigma = 0.15
    expected = Normal(x_hat, sigma).log_prob(y).flatten(1).sum(1)
    torch.testing.assert_close(ClippedGaussianNoise(sigma).log_prob(y, x_hat), expected)


@pytest.mark.parametrize("sigma", [0.1, 0.01], ids=["moderate", "far-tail"])
def test_clipped_gaussian_puts_the_mass_beyond_each_end_on_that_end(images, sigma):
    x_hat = images[0].double()
    a = x_hat.numpy().reshape(3, -1)
    noise = ClippedGaussianNoise(sigma)
    at_zero = noise.log_prob(torch.zeros_like(x_hat), x_hat)
    at_one = noise.log_prob(torch.ones_like(x_hat), x_hat)
    assert torch.isfinite(at_zero).all() and torch.isfinite(at_one).all()
    torch.testing.assert_close(
        at_zero, torch.from_numpy(norm.logcdf(-a / sigma).sum(1)), rtol=1e-6, atol=0
    )
    torch.testing.assert_close(
        at_one,
        torch.from_numpy(norm.logcdf((a - 1) / sigma).sum(1)),
        rtol=1e-6,
        atol=0,
    )


def test_clipped_gaussian_mixes_the_three_cases_pixel_by_pixel():
    sigma = 0.2
    x_hat = torch.tensor([0.1, 0.5, 0.9, 0.3], dtype=torch.float64).view(1, 1, 2, 2)
    y = torch.tensor([0.0, 0.6, 1.0, 0.0], dtype=torch.float64).view(1, 1, 2, 2)
    expected = (
        norm.logcdf(-0.1 / sigma)  # y = 0 at x_hat 0.1
        + norm.logpdf(0.6, 0.5, sigma)  # y inside
        + norm.logcdf((0.9 - 1) / sigma)  # y = 1 at x_hat 0.9
        + norm.logcdf(-0.3 / sigma)  # y = 0 at x_hat 0.3
    )
    got = ClippedGaussianNoise(sigma).log_prob(y, x_hat)
    assert got.item() == pytest.approx(expected, rel=1e-9)


def test_clipped_gaussian_is_normalised_over_its_point_masses_and_density():
    """P(y = 0) + integral of the density over (0, 1) + P(y = 1) = 1 for each x_hat: the
    point masses and the density are weighed against each other correctly, with no
    constant dropped."""
    sigma = 0.3
    x_hat = torch.tensor([0.05, 0.5, 0.8], dtype=torch.float64).view(3, 1, 1, 1)
    noise = ClippedGaussianNoise(sigma)
    ends = [noise.log_prob(torch.full_like(x_hat, v), x_hat).exp() for v in (0.0, 1.0)]
    grid = torch.linspace(1e-12, 1 - 1e-12, 401, dtype=torch.float64)
    density = torch.stack(
        [noise.log_prob(torch.full_like(x_hat, float(v)), x_hat).exp() for v in grid]
    )
    inside = torch.trapezoid(density, grid, dim=0)
    torch.testing.assert_close(
        ends[0] + inside + ends[1],
        torch.ones(3, dtype=torch.float64),
        atol=1e-4,
        rtol=0,
    )


def test_salt_and_pepper_log_prob_is_a_mixture_of_a_narrow_gaussian_and_a_uniform():
    p, tau = 0.1, 0.05
    x_hat = torch.tensor([0.2, 0.7, 0.4]).view(1, 1, 1, 3)
    y = torch.tensor([0.25, 1.0, 0.4]).view(1, 1, 1, 3)
    # per pixel: clean with probability 1 - p (density N(y; x_hat, tau^2)) or an
    # outlier with probability p (uniform on [0, 1], density 1)
    pairs = [(0.2, 0.25), (0.7, 1.0), (0.4, 0.4)]
    expected = sum(math.log((1 - p) * norm.pdf(b, a, tau) + p * 1.0) for a, b in pairs)
    got = SaltAndPepperNoise(p, tau).log_prob(y, x_hat)
    assert got.shape == (1,)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_salt_and_pepper_log_prob_sums_the_mixture_over_each_images_pixels(images):
    x_hat, _, y = (t.double() for t in images)
    p, tau = 0.2, 0.1
    mixture = (1 - p) * Normal(x_hat, tau).log_prob(y).exp() + p
    torch.testing.assert_close(
        SaltAndPepperNoise(p, tau).log_prob(y, x_hat),
        mixture.log().flatten(1).sum(1),
    )


def test_salt_and_pepper_log_prob_caps_the_cost_of_an_outlier_at_log_p():
    x_hat, y = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)  # 20 tau away
    got = SaltAndPepperNoise(0.05, 0.05).log_prob(y, x_hat).item()
    assert got == pytest.approx(math.log(0.05), abs=1e-6)
    # a Gaussian pays dearly: -200 nats, less its normalising constant
    gaussian = GaussianNoise(0.05).log_prob(y, x_hat).item()
    assert gaussian == pytest.approx(-200.0 - math.log(0.05 * math.sqrt(2 * math.pi)))


@pytest.mark.parametrize("model", [ClippedGaussianNoise, GaussianNoise])
def test_noise_with_sigma_zero_changes_nothing(x, gen, model):
    assert torch.equal(model(0.0).sample(x, gen()), x)


@pytest.mark.parametrize("model", [ClippedGaussianNoise, GaussianNoise])
def test_the_likelihood_of_noise_with_sigma_zero_is_refused_naming_sigma(x, model):
    """sigma = 0 is a valid damage (none), but as a likelihood it is a point mass,
    which log_prob cannot score: it must say so and name sigma, as the likelihood
    factories did before noise models replaced them."""
    with pytest.raises(ValueError, match="sigma"):
        model(0.0).log_prob(x, x)


# --- noise models: settings -----------------------------------------------------------


@pytest.mark.parametrize("model", [ClippedGaussianNoise, GaussianNoise])
@pytest.mark.parametrize(
    ("sigma", "message"),
    [
        (-0.1, "sigma must be non-negative, got -0.1"),
        (float("nan"), "sigma must be a finite number, got nan"),
        (float("inf"), "sigma must be a finite number, got inf"),
        (True, "sigma must be a finite number, got True"),
        ("0.1", "sigma must be a finite number, got '0.1'"),
    ],
)
def test_gaussian_noise_models_reject_bad_sigmas(model, sigma, message):
    with pytest.raises(ValueError, match=message):
        model(sigma)


@pytest.mark.parametrize(
    ("p", "message"),
    [
        (0, "p must lie strictly between 0 and 1, got 0"),
        (1, "p must lie strictly between 0 and 1, got 1"),
        (0.0, "p must lie strictly between 0 and 1, got 0.0"),
        (1.0, "p must lie strictly between 0 and 1, got 1.0"),
        (-0.1, r"p must be in \[0, 1\], got -0.1"),
        (1.5, r"p must be in \[0, 1\], got 1.5"),
        (float("nan"), "p must be a finite number, got nan"),
        (True, "p must be a finite number, got True"),
        ("0.1", "p must be a finite number, got '0.1'"),
    ],
)
def test_salt_and_pepper_noise_needs_p_strictly_inside_the_unit_interval(p, message):
    with pytest.raises(ValueError, match=message):
        SaltAndPepperNoise(p)


@pytest.mark.parametrize(
    ("tau", "message"),
    [
        (0.0, "tau must be positive, got 0"),
        (0, "tau must be positive, got 0"),
        (-0.1, "tau must be non-negative, got -0.1"),
        (float("nan"), "tau must be a finite number, got nan"),
    ],
)
def test_salt_and_pepper_noise_needs_a_positive_tau(tau, message):
    with pytest.raises(ValueError, match=message):
        SaltAndPepperNoise(0.1, tau)
