"""Chapter 7's additions outside photos and tiling: the pixel posterior of a Gaussian
decoder, the two exercise checkers, and checkpoint recipes trained on a data set other
than MNIST."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vae_lib import pretrained
from vae_lib.checks import ExerciseCheckError, check_equivalent_beta, check_tile_starts
from vae_lib.restore import pixel_posterior_mean
from vae_lib.tiling import tile_starts

# --- restore.pixel_posterior_mean -----------------------------------------------------


def test_pixel_posterior_mean_is_the_mode_of_prior_times_likelihood_on_a_grid():
    # Oracle: maximise log N(x; mu, s^2) + log N(y; x, n^2) over a fine grid of x
    # (Gaussian: mode = mean).
    mu, y, s, n = 0.3, 0.7, 0.05, 0.1
    grid = torch.linspace(0, 1, 100_001, dtype=torch.float64)
    log_p = Normal(mu, s).log_prob(grid) + Normal(grid, n).log_prob(
        torch.tensor(y, dtype=torch.float64)
    )
    expected = grid[log_p.argmax()].item()
    got = pixel_posterior_mean(
        torch.full((1, 1, 1, 1), mu), torch.full((1, 1, 1, 1), y), s, n
    ).item()
    assert got == pytest.approx(expected, abs=2e-5)
    assert got == pytest.approx(
        (mu / s**2 + y / n**2) / (1 / s**2 + 1 / n**2), rel=1e-6
    )


def test_pixel_posterior_mean_trusts_the_less_noisy_source():
    x_hat, y = torch.full((2, 3, 4, 4), 0.2), torch.full((2, 3, 4, 4), 0.8)
    assert torch.allclose(pixel_posterior_mean(x_hat, y, 0.1, 1e-4), y, atol=1e-4)
    assert torch.allclose(pixel_posterior_mean(x_hat, y, 1e-4, 0.1), x_hat, atol=1e-4)
    assert torch.allclose(
        pixel_posterior_mean(x_hat, y, 0.1, 0.1), torch.full_like(y, 0.5)
    )


@pytest.mark.parametrize(
    "args, error, message",
    [
        (
            (torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5), 0.1, 0.1),
            ValueError,
            "same shape|shape",
        ),
        (
            (torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), 0.0, 0.1),
            ValueError,
            "decoder_sigma",
        ),
        (
            (torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), 0.1, -1.0),
            ValueError,
            "noise_sigma",
        ),
    ],
)
def test_pixel_posterior_mean_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        pixel_posterior_mean(*args)


# --- checks: Chapter 7's exercises ----------------------------------------------------


def test_check_equivalent_beta_accepts_two_sigma_squared(capsys):
    assert check_equivalent_beta(lambda sigma: 2 * sigma**2)
    assert "Correct" in capsys.readouterr().out
    assert check_equivalent_beta(lambda sigma: torch.tensor(2 * sigma**2))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda s: s**2, r"2 sigma\^2"),
        (lambda s: 1 / (2 * s**2), "weight of the squared error"),
        (lambda s: 2 * s, "variance, not the standard deviation"),
        (lambda s: 1.0, "expected"),
    ],
)
def test_check_equivalent_beta_explains_typical_mistakes(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_equivalent_beta(answer)


def test_check_tile_starts_accepts_the_library_and_a_loop(capsys):
    def loop(length, tile, overlap):
        starts, s = [], 0
        while s + tile < length:
            starts.append(s)
            s += tile - overlap
        return starts + [length - tile]

    assert check_tile_starts(tile_starts)
    assert check_tile_starts(loop)
    assert capsys.readouterr().out.count("Correct") == 2


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda l, t, o: list(range(0, l - t + 1, t - o)), "not covered"),
        (lambda l, t, o: list(range(0, l, t - o)), "reaches past"),
        (
            lambda l, t, o: sorted({*range(0, l - t + 1, t), l - t}),
            "overlap by at least",
        ),
        (lambda l, t, o: list(range(0, l - t + 1, 1)), "more tiles than needed"),
        (
            lambda l, t, o: [l - t] + list(range(0, l - t, t - o)),
            "first tile|increasing",
        ),
        (lambda l, t, o: 5, "list of ints"),
    ],
)
def test_check_tile_starts_explains_typical_mistakes(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_tile_starts(answer)


# --- recipes on photo patches ---------------------------------------------------------


@pytest.mark.parametrize(
    "name, size", [("ch7_photo_vae_32", 32), ("ch7_photo_vae_64", 64)]
)
def test_photo_recipes_train_a_gaussian_rgb_vae_on_their_patch_set(name, size):
    recipe = pretrained.RECIPES[name]
    assert recipe.dataset == f"photo-patches-{size}"
    assert recipe.config.image_shape == (3, size, size)
    assert (
        recipe.config.likelihood == "gaussian" and recipe.config.gaussian_logvar is None
    )


def test_every_mnist_recipe_still_trains_on_mnist():
    assert {
        r.dataset for r in pretrained.RECIPES.values() if not r.name.startswith("ch7")
    } == {"mnist"}


def test_evaluate_checkpoint_reports_sigma_and_psnr_for_a_learned_gaussian():
    from vae_lib.models import VAE, VAEConfig

    torch.manual_seed(0)
    model = VAE(
        VAEConfig(
            architecture="conv",
            image_shape=(3, 8, 8),
            latent_dim=2,
            hidden_dims=(4,),
            likelihood="gaussian",
        )
    )
    with torch.no_grad():
        model.x_logvar.fill_(math.log(0.25))
    metrics = pretrained.evaluate_checkpoint(model, torch.rand(5, 3, 8, 8))
    assert metrics["x_sigma"] == pytest.approx(0.5)
    assert 0 < metrics["psnr_reconstruction"] < 100
    assert {"negative_elbo", "rate", "distortion", "active_units"} <= set(metrics)
