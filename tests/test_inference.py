"""vae_lib.inference: restoring damaged images by inference in a VAE (Chapters 5 to 7).

The methods run on tiny untrained VAEs (8x8 images) and are checked against their
definitions written out by hand. The samplers are also checked against posteriors known
exactly: the Gaussian posterior of a linear decoder under Gaussian noise, the prior
under a likelihood that ignores the data, and the conditional p(z | x_obs) of a
hand-built VAE with two pixels and one latent dimension, which quadrature on a grid
computes to four digits. Statistical tolerances are about five standard errors.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from conftest import MASKS
from vae_lib.baselines import mean_fill
from vae_lib.corrupt import (
    ClippedGaussianNoise,
    GaussianNoise,
    NoiseModel,
    SaltAndPepperNoise,
    hide,
    keep_observed,
    random_mask,
    square_mask,
)
from vae_lib.distributions import masked_log_prob, standard_normal
from vae_lib.inference import (
    LANGEVIN_CHAIN,
    Chain,
    Draws,
    ImportanceSamples,
    MAPResult,
    conditional_log_likelihood,
    gibbs_sampler,
    importance_sample,
    importance_weighted_mean,
    langevin_samples,
    log_posterior,
    map_inpaint,
    map_latent,
    naive_inpaint,
    naive_vae,
    pixel_posterior_mean,
    posterior_samples,
)
from vae_lib.models import VAE, VAEConfig


@pytest.fixture
def model(make_vae):
    return make_vae()


@pytest.fixture
def z_start(model, y):
    """The encoder's means for y, where the chains start."""
    with torch.no_grad():
        return model.encode(y)[0]


class FlatNoise(NoiseModel):
    """A likelihood that ignores the data: the posterior is the prior."""

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return x.clone()

    def log_prob(self, y: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x_hat.shape[0], device=x_hat.device)


def assert_observed_exact(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
) -> None:
    """Every observed pixel of ``out`` (..., B, C, H, W) is y's, bit for bit."""
    observed = ~mask.expand_as(y)
    out = out.reshape(-1, *y.shape)
    for draw in out:
        assert torch.equal(draw[observed], y[observed])


def log_prior(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) with its constant, (..., d) -> (...)."""
    return Normal(0.0, 1.0).log_prob(z).sum(dim=-1)


def noisy_log_posterior(model, y, noise, z) -> torch.Tensor:
    """log p(y | x_hat(z)) + log p(z) by hand, (B,)."""
    with torch.no_grad():
        return noise.log_prob(y, model.decode(z)) + log_prior(z)


def pixels_log_likelihood(model, x, where, z) -> torch.Tensor:
    """log p(x_where | z) by hand: the model's per-pixel log-probabilities at codes z
    (B, d), summed over the pixels ``where`` (B, 1, H, W) selects, (B,)."""
    with torch.no_grad():
        per_pixel = model.likelihood(z).base_dist.log_prob(x)
    selected = torch.where(where.expand_as(x), per_pixel, torch.zeros_like(per_pixel))
    return selected.flatten(1).sum(dim=1)


def observed_log_posterior(model, y, mask, z) -> torch.Tensor:
    """log p(y_obs | z) + log p(z) by hand, (B,)."""
    return pixels_log_likelihood(model, y, ~mask, z) + log_prior(z)


# --- conventions: modes, weights, devices, dtypes, arguments --------------------------

NOISE = ClippedGaussianNoise(0.2)
SHORT = Chain(num_samples=2, burn_in=1, thin=1)


# The two kinds of gibbs_sampler and the inpainting samplers, called as
# (model, y, mask, **kwargs).
def pseudo_gibbs(model, y, mask, **kwargs) -> Draws:
    return gibbs_sampler(model, y, mask, metropolis=False, **kwargs)


def metropolis_within_gibbs(model, y, mask, **kwargs) -> Draws:
    return gibbs_sampler(model, y, mask, metropolis=True, **kwargs)


def run_posterior_samples(model, y, mask, **kwargs):
    with torch.no_grad():
        z_start = model.encode(y)[0]
    return posterior_samples(model, y, mask, z_start, **kwargs)


SAMPLERS = {
    "pseudo_gibbs": pseudo_gibbs,
    "metropolis_within_gibbs": metropolis_within_gibbs,
    "posterior_samples": run_posterior_samples,
}


def run_langevin_samples(model, y, mask, **kwargs):
    """langevin_samples on y under Gaussian noise (the mask is not used)."""
    with torch.no_grad():
        z_start = model.encode(y)[0]
    return langevin_samples(model, y, GaussianNoise(0.2), z_start, **kwargs)


# Every sampler that runs a Markov chain, called as (model, y, mask, **kwargs).
ALL_SAMPLERS = {**SAMPLERS, "langevin_samples": run_langevin_samples}


# Every inference function, called as (model, y, mask, z_start, gen); a few steps each.
INFERENCE = {
    "naive_vae": lambda m, y, mask, z, gen: naive_vae(m, y),
    "naive_inpaint": lambda m, y, mask, z, gen: naive_inpaint(m, y, mask),
    "log_posterior": lambda m, y, mask, z, gen: log_posterior(m, y, NOISE, z),
    "log_posterior_masked": lambda m, y, mask, z, gen: log_posterior(m, y, mask, z),
    "map_latent": lambda m, y, mask, z, gen: map_latent(m, y, NOISE, num_steps=3),
    "map_inpaint": lambda m, y, mask, z, gen: map_inpaint(m, y, mask, num_steps=3),
    "langevin_samples": lambda m, y, mask, z, gen: langevin_samples(
        m, y, NOISE, z, chain=SHORT, generator=gen(3)
    ),
    "posterior_samples": lambda m, y, mask, z, gen: posterior_samples(
        m, y, mask, z, chain=SHORT, generator=gen(3)
    ),
    "pseudo_gibbs": lambda m, y, mask, z, gen: gibbs_sampler(
        m, y, mask, metropolis=False, chain=SHORT, generator=gen(3)
    ),
    "metropolis_within_gibbs": lambda m, y, mask, z, gen: gibbs_sampler(
        m, y, mask, metropolis=True, chain=SHORT, generator=gen(3)
    ),
    "conditional_log_likelihood": lambda m, y, mask, z, gen: conditional_log_likelihood(
        m, y, mask, z[None]
    ),
    "importance_sample": lambda m, y, mask, z, gen: importance_sample(
        m, y, mask, y, 3, generator=gen(3)
    ),
    "importance_weighted_mean": lambda m, y, mask, z, gen: importance_weighted_mean(
        m, importance_sample(m, y, mask, y, 3, generator=gen(3)), y, mask
    ),
}


def tensors(result) -> list[torch.Tensor]:
    """The tensors an inference function returned (one, or a named tuple's fields)."""
    return [result] if isinstance(result, torch.Tensor) else list(result)


@pytest.mark.parametrize("call", INFERENCE.values(), ids=INFERENCE.keys())
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_inference_restores_the_models_train_or_eval_mode(
    model, y, mask, z_start, gen, call, training
):
    model.train(training)
    call(model, y, mask, z_start, gen)
    assert all(module.training is training for module in model.modules())


@pytest.mark.parametrize("call", INFERENCE.values(), ids=INFERENCE.keys())
def test_inference_never_changes_the_weights_or_their_gradients(
    model, y, mask, z_start, gen, call
):
    model.decoder[0].weight.requires_grad_(False)  # a caller's frozen layer
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {k: p.requires_grad for k, p in model.named_parameters()}
    call(model, y, mask, z_start, gen)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert {k: p.requires_grad for k, p in model.named_parameters()} == flags
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", INFERENCE)
def test_inference_results_come_back_on_ys_device_in_float32(
    model, y, mask, z_start, gen, name
):
    for t in tensors(INFERENCE[name](model, y, mask, z_start, gen)):
        assert t.device == y.device and t.dtype == torch.float32
        if not name.startswith("log_posterior"):  # differentiable, see below
            assert not t.requires_grad


@pytest.mark.parametrize("name", INFERENCE)
def test_inference_in_a_float64_model_keeps_float64(make_vae, gen, mask, name):
    """float64 images into a float64 model: codes, images and log-probabilities come
    back in float64 (an acceptance rate is a count, left out)."""
    model = make_vae().double()
    y = torch.rand(3, 1, 8, 8, generator=gen(1), dtype=torch.float64)
    with torch.no_grad():
        z_start = model.encode(y)[0]
    result = INFERENCE[name](model, y, mask, z_start, gen)
    fields = result._asdict() if hasattr(result, "_asdict") else {"result": result}
    for field, t in fields.items():
        if field != "acceptance":
            assert t.dtype == torch.float64, field


def test_importance_weighted_mean_in_a_float64_model_is_computed_in_float64(
    make_vae, gen, mask
):
    """Nothing is silently rounded to float32 (the package's dtype convention)."""
    model = make_vae().double()
    y = torch.rand(3, 1, 8, 8, generator=gen(1), dtype=torch.float64)
    samples = importance_sample(model, y, mask, y, 4, generator=gen(42))
    weights = torch.softmax(samples.log_weights, dim=0)
    with torch.no_grad():
        decoded = torch.stack([model.decode(z) for z in samples.codes])
    by_hand = (weights[:, :, None, None, None] * decoded).sum(dim=0)
    got = importance_weighted_mean(model, samples, y, mask)
    full = mask.expand_as(y)
    torch.testing.assert_close(got[full], by_hand[full], rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_inference_with_the_model_on_cuda_returns_on_ys_device(model, y, mask):
    model = model.cuda()
    g = torch.Generator("cuda").manual_seed(0)
    z = torch.zeros(3, 3)
    results = [
        naive_vae(model, y),
        naive_inpaint(model, y, mask),
        *map_latent(model, y, NOISE, num_steps=2),
        *map_inpaint(model, y, mask, num_steps=2),
        *langevin_samples(model, y, NOISE, z, chain=SHORT, generator=g),
        *posterior_samples(model, y, mask, z, chain=SHORT, generator=g),
        *gibbs_sampler(model, y, mask, metropolis=False, chain=SHORT, generator=g),
        *gibbs_sampler(model, y, mask, metropolis=True, chain=SHORT, generator=g),
        conditional_log_likelihood(model, y, mask, z[None]),
        log_posterior(model, y, NOISE, z),
        log_posterior(model, y, mask, z),
    ]
    samples = importance_sample(model, y, mask, y, 3, generator=g)
    results += [*samples, importance_weighted_mean(model, samples, y, mask)]
    assert all(t.device == y.device for t in results)
    assert_observed_exact(results[1], y, mask)


# The functions that take a noise model, called with ``noise`` as (model, y, z_start).
WITH_NOISE = {
    "log_posterior": lambda m, y, noise, z: log_posterior(m, y, noise, z),
    "map_latent": lambda m, y, noise, z: map_latent(m, y, noise, num_steps=1),
    "langevin_samples": lambda m, y, noise, z: langevin_samples(
        m, y, noise, z, chain=SHORT
    ),
}


@pytest.mark.parametrize("call", WITH_NOISE.values(), ids=WITH_NOISE.keys())
@pytest.mark.parametrize(
    "noise",
    [lambda x_hat, y: -((y - x_hat) ** 2).flatten(1).sum(1), 0.1, None],
    ids=["old-style-function", "a-sigma", "none"],
)
def test_a_noise_that_is_not_a_noise_model_is_a_type_error(
    model, y, z_start, call, noise
):
    with pytest.raises(
        TypeError, match="(noise|damage) must be a vae_lib.corrupt.NoiseModel .*got"
    ):
        call(model, y, noise, z_start)


NAMES_Y = {
    "naive_vae": lambda m, y, mask: naive_vae(m, y),
    "naive_inpaint": lambda m, y, mask: naive_inpaint(m, y, mask),
    "log_posterior": lambda m, y, mask: log_posterior(m, y, NOISE, torch.zeros(1, 3)),
    "log_posterior_masked": lambda m, y, mask: log_posterior(
        m, y, mask, torch.zeros(1, 3)
    ),
    "map_latent": lambda m, y, mask: map_latent(m, y, NOISE, num_steps=1),
    "map_inpaint": lambda m, y, mask: map_inpaint(m, y, mask, num_steps=1),
    "langevin_samples": lambda m, y, mask: langevin_samples(
        m, y, NOISE, torch.zeros(1, 3)
    ),
    "posterior_samples": lambda m, y, mask: posterior_samples(
        m, y, mask, torch.zeros(1, 3)
    ),
    "pseudo_gibbs": pseudo_gibbs,
    "metropolis_within_gibbs": metropolis_within_gibbs,
    "importance_sample": lambda m, y, mask: importance_sample(m, y, mask, y, 2),
    "pixel_posterior_mean": lambda m, y, mask: pixel_posterior_mean(
        torch.zeros_like(y), y, 0.1, 0.1
    ),
}


@pytest.mark.parametrize("restore", NAMES_Y.values(), ids=NAMES_Y.keys())
def test_restorers_name_the_damaged_image_y_in_their_errors(model, restore):
    """The argument is ``y``; ``x`` means the clean image, so a message about "x"
    misleads."""
    with pytest.raises(ValueError, match=r"^y must hold pixel values in \[0, 1\]"):
        restore(
            model,
            torch.full((1, 1, 8, 8), 1.5),
            torch.zeros(1, 1, 8, 8, dtype=torch.bool),
        )


# --- naive_vae and naive_inpaint ------------------------------------------------------


def test_naive_vae_decodes_the_encoders_mean(model, y):
    with torch.no_grad():
        expected = torch.sigmoid(model.decoder(model.encode(y)[0]))  # Bernoulli means
    got = naive_vae(model, y)
    assert got.shape == y.shape and not got.requires_grad
    torch.testing.assert_close(got, expected)


def test_naive_inpaint_is_the_decoded_encoder_mean_pasted_into_the_holes(
    model, y, mask
):
    out = naive_inpaint(model, y, mask)
    with torch.no_grad():
        decoded = model.decode(model.encode(y)[0])
    assert torch.equal(out, keep_observed(decoded, y, mask))
    assert_observed_exact(out, y, mask)
    assert not torch.equal(out, y)


@pytest.mark.parametrize("channels", [1, 3])
def test_naive_inpaint_keeps_observed_pixels_exactly(make_vae, gen, channels):
    y = torch.rand(2, channels, 8, 8, generator=gen(13))
    model = make_vae(image_shape=(channels, 8, 8))
    for make in MASKS.values():
        mask = make(y, gen)
        out = naive_inpaint(model, y, mask)
        assert out.shape == y.shape and out.dtype == y.dtype
        assert_observed_exact(out, y, mask)


# --- log_posterior --------------------------------------------------------------------


@pytest.mark.parametrize(
    "noise",
    [ClippedGaussianNoise(0.2), GaussianNoise(0.1), SaltAndPepperNoise(0.1)],
    ids=["clipped-gaussian", "gaussian", "salt-and-pepper"],
)
def test_log_posterior_is_the_noise_likelihood_of_the_decoded_mean_plus_the_prior(
    model, y, gen, noise
):
    z = torch.randn(3, 3, generator=gen(26))
    with torch.no_grad():
        got = log_posterior(model, y, noise, z)
        mean = torch.sigmoid(model.decoder(z))  # E[x | z] of the Bernoulli decoder
    assert got.shape == (3,)
    torch.testing.assert_close(got, noise.log_prob(y, mean) + log_prior(z))


def test_log_posterior_is_differentiable_in_z(model, y, gen):
    z = torch.randn(3, 3, generator=gen(27), requires_grad=True)
    (got,) = torch.autograd.grad(log_posterior(model, y, NOISE, z).sum(), z)
    z_hand = z.detach().clone().requires_grad_(True)
    by_hand = NOISE.log_prob(y, model.decode(z_hand)) + log_prior(z_hand)
    (expected,) = torch.autograd.grad(by_hand.sum(), z_hand)
    torch.testing.assert_close(got, expected)


def test_log_posterior_with_a_mask_is_the_observed_pixels_likelihood_plus_the_prior(
    model, y, mask, gen
):
    """With the mask of missing pixels as the damage: log p(y_obs | z) + log p(z), as
    the library's pieces give it and as written out by hand."""
    z = torch.randn(3, 3, generator=gen(26))
    with torch.no_grad():
        got = log_posterior(model, y, mask, z)
        expected = masked_log_prob(
            model.likelihood(z), y, ~mask
        ) + model.prior().log_prob(z)
    assert got.shape == (3,) and got.device == y.device
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got, observed_log_posterior(model, y, mask, z))


def test_log_posterior_with_a_mask_ignores_the_values_in_the_holes(model, y, mask, gen):
    z = torch.randn(3, 3, generator=gen(26))
    with torch.no_grad():
        black = log_posterior(model, hide(y, mask, 0.0), mask, z)
        white = log_posterior(model, hide(y, mask, 1.0), mask, z)
        everything = log_posterior(model, y, torch.zeros_like(mask), z)
    torch.testing.assert_close(black, white)
    assert (everything < black).all()  # the holes' pixels cost something when observed


def test_log_posterior_with_a_mask_is_differentiable_in_z(model, y, mask, gen):
    z = torch.randn(3, 3, generator=gen(27), requires_grad=True)
    (got,) = torch.autograd.grad(log_posterior(model, y, mask, z).sum(), z)
    z_hand = z.detach().clone().requires_grad_(True)
    by_hand = masked_log_prob(model.likelihood(z_hand), y, ~mask) + log_prior(z_hand)
    (expected,) = torch.autograd.grad(by_hand.sum(), z_hand)
    torch.testing.assert_close(got, expected)


def test_log_posterior_rejects_a_mask_that_is_not_a_bool_mask_for_y(model, y):
    z = torch.zeros(3, 3)
    with pytest.raises(TypeError, match="torch.bool"):
        log_posterior(model, y, torch.zeros(3, 1, 8, 8), z)
    with pytest.raises(ValueError, match=r"mask must be shaped \(B, 1, H, W\)"):
        log_posterior(model, y, torch.zeros(2, 1, 8, 8, dtype=torch.bool), z)
    with pytest.raises(ValueError, match="at least one pixel observed"):
        log_posterior(model, y, torch.ones(3, 1, 8, 8, dtype=torch.bool), z)


# --- map_latent -----------------------------------------------------------------------


def test_map_latent_improves_on_the_encoders_mean(model, y, z_start):
    noise = GaussianNoise(0.1)
    result = map_latent(model, y, noise, num_steps=100)
    assert isinstance(result, MAPResult)
    z, x_hat = result
    assert z.shape == (3, 3) and x_hat.shape == y.shape
    assert not z.requires_grad and not x_hat.requires_grad
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    with torch.no_grad():
        torch.testing.assert_close(x_hat, model.decode(z))
    start = noisy_log_posterior(model, y, noise, z_start)
    end = noisy_log_posterior(model, y, noise, z)
    assert (end >= start).all()
    assert (end > start + 1e-3).any()  # it did move


@pytest.fixture
def clipped(model, gen):
    """Images the model can draw, damaged by strong clipped Gaussian noise (many pixels
    at exactly 0 or 1), and that noise."""
    noise = ClippedGaussianNoise(0.4)
    with torch.no_grad():
        clean = model.decode(torch.randn(4, 3, generator=gen(40)))
    y = noise.sample(clean, gen(41))
    assert ((y == 0) | (y == 1)).float().mean() > 0.1
    return y, noise


def test_map_with_the_clipped_likelihood_does_at_least_as_well_as_its_start(
    model, clipped
):
    """MAP under the right likelihood scores at least as well in the right log-posterior
    as the encoder's mean it starts from, image by image."""
    y, noise = clipped
    with torch.no_grad():
        start = model.encode(y)[0]
    result = map_latent(model, y, noise, num_steps=100)
    before = noisy_log_posterior(model, y, noise, start)
    after = noisy_log_posterior(model, y, noise, result.codes)
    assert (after >= before).all()
    assert (after > before + 1e-3).any()  # it did move
    with torch.no_grad():
        torch.testing.assert_close(result.images, model.decode(result.codes))


def test_map_latent_keeps_frozen_parameters_frozen(model, y):
    """A frozen layer stays frozen (e.g. a frozen encoder while fine-tuning the
    decoder), the others stay trainable."""
    frozen = model.encoder[1].weight
    frozen.requires_grad_(False)
    map_latent(model, y, GaussianNoise(0.1), num_steps=5)
    assert not frozen.requires_grad
    assert model.decoder[0].weight.requires_grad


def test_map_latent_works_inside_no_grad(model, y):
    """map_latent optimises internally; a caller's ``torch.no_grad()`` evaluation block
    does not break it."""
    noise = GaussianNoise(0.1)
    expected = map_latent(model, y, noise, num_steps=10).codes
    with torch.no_grad():
        got = map_latent(model, y, noise, num_steps=10).codes
    torch.testing.assert_close(got, expected)


def test_map_latent_optimises_each_image_on_its_own(model, y):
    noise = GaussianNoise(0.1)
    together = map_latent(model, y, noise, num_steps=50).codes
    alone = torch.cat(
        [map_latent(model, y[i : i + 1], noise, num_steps=50).codes for i in range(3)]
    )
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_map_latent_with_very_broad_noise_follows_the_prior_to_zero(model, y):
    with torch.no_grad():
        # start the search far from the origin
        model.encoder[3].bias[:3] = torch.tensor([2.0, -1.5, 1.0])
        start = model.encode(y)[0]
    assert (start.norm(dim=1) > 1.5).all()
    z_broad = map_latent(model, y, GaussianNoise(1e3), num_steps=200).codes
    assert (z_broad.norm(dim=1) < 0.1 * start.norm(dim=1)).all()
    z_sharp = map_latent(model, y, GaussianNoise(0.01), num_steps=200).codes
    # with a sharp likelihood the data pull it away
    assert (z_sharp.norm(dim=1) > z_broad.norm(dim=1)).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_steps": 0}, "num_steps must be a positive int, got 0"),
        ({"lr": 0.0}, "lr must be a positive number, got 0.0"),
    ],
)
def test_map_latent_rejects_bad_settings(model, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        map_latent(model, y, GaussianNoise(0.1), **kwargs)


# --- map_inpaint ----------------------------------------------------------------------


def test_map_inpaint_raises_the_posterior_of_the_observed_pixels(
    model, y, mask, z_start
):
    before = observed_log_posterior(model, y, mask, z_start)
    result = map_inpaint(model, y, mask, num_steps=30, lr=0.1)
    assert isinstance(result, MAPResult)
    z, out = result
    assert z.shape == (3, 3) and out.shape == y.shape and not z.requires_grad
    after = observed_log_posterior(model, y, mask, z)
    assert (after > before + 0.01).all() and (after - before).sum() > 0.2
    assert_observed_exact(out, y, mask)
    with torch.no_grad():
        decoded = model.decode(z)
    full = mask.expand_as(y)
    assert torch.equal(out[full], decoded[full])


def test_map_inpaint_ignores_the_values_in_the_holes(model, y, mask):
    """The objective sees the observed pixels only, but the start (the encoder's mean)
    sees all of y."""
    black = map_inpaint(model, hide(y, mask, 0.0), mask, num_steps=200, lr=0.1).images
    white = map_inpaint(model, hide(y, mask, 1.0), mask, num_steps=200, lr=0.1).images
    full = mask.expand_as(y)
    # both climbed to the same optimum
    assert (black[full] - white[full]).abs().max() < 0.05


def test_map_inpaint_rejects_bad_masks_and_settings(model, y):
    with pytest.raises(TypeError, match="torch.bool"):
        map_inpaint(model, y, torch.zeros(3, 1, 8, 8), num_steps=1)
    with pytest.raises(ValueError, match="at least one pixel observed"):
        map_inpaint(model, y, torch.ones(3, 1, 8, 8, dtype=torch.bool), num_steps=1)
    with pytest.raises(ValueError, match="num_steps must be a positive int"):
        map_inpaint(model, y, square_mask(y, 2), num_steps=0)


# --- pixel_posterior_mean (Chapter 7) -------------------------------------------------


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


def test_pixel_posterior_mean_returns_in_ys_dtype_and_device(gen):
    y = torch.rand(2, 1, 4, 4, generator=gen(1), dtype=torch.float64)
    out = pixel_posterior_mean(torch.rand(2, 1, 4, 4, generator=gen(2)), y, 0.1, 0.2)
    assert out.dtype == torch.float64 and out.device == y.device


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


# --- Chain: how long a sampler runs ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 0}, "num_samples must be a positive int, got 0"),
        ({"num_samples": -3}, "num_samples must be a positive int, got -3"),
        ({"num_samples": 2.0}, "num_samples must be a positive int, got 2.0"),
        ({"thin": 0}, "thin must be a positive int, got 0"),
        ({"thin": 1.5}, "thin must be a positive int, got 1.5"),
        ({"burn_in": -1}, "burn_in must be a non-negative int, got -1"),
        ({"burn_in": 1.5}, "burn_in must be a non-negative int, got 1.5"),
    ],
)
def test_chain_rejects_bad_settings_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        Chain(**kwargs)


def test_chain_defaults_and_settings_are_fixed():
    chain = Chain()
    assert (chain.num_samples, chain.burn_in, chain.thin) == (20, 100, 5)
    assert Chain(4, 10, 2) == Chain(num_samples=4, burn_in=10, thin=2)
    with pytest.raises(AttributeError):
        chain.burn_in = 0  # frozen: a chain shared by several calls cannot drift


@pytest.mark.parametrize(
    ("chain", "kept"),
    [
        (Chain(num_samples=4, burn_in=10, thin=2), [11, 13, 15, 17]),
        (Chain(num_samples=3, burn_in=0, thin=3), [2, 5, 8]),
        (Chain(num_samples=2, burn_in=5, thin=1), [5, 6]),
        (Chain(num_samples=1, burn_in=0, thin=1), [0]),
    ],
)
def test_chain_runs_burn_in_steps_then_keeps_every_thin_th_state(chain, kept):
    assert chain.steps == chain.burn_in + chain.num_samples * chain.thin
    assert [step for step in range(chain.steps) if chain.keeps(step)] == kept
    assert kept[-1] == chain.steps - 1  # the last state is kept: no wasted steps


def test_a_chain_without_burn_in_or_thinning_keeps_every_state():
    chain = Chain(num_samples=7, burn_in=0, thin=1)
    assert chain.steps == 7
    assert all(chain.keeps(step) for step in range(chain.steps))


@pytest.mark.parametrize("sample", ALL_SAMPLERS.values(), ids=ALL_SAMPLERS.keys())
def test_samplers_keep_the_states_their_chain_says(model, y, sample, gen):
    """Without burn-in (no step-size tuning, the same random numbers), a chain thinned
    by 3 keeps every third state of the chain that keeps every state."""
    mask = square_mask(y, 4, top=1, left=3)
    every = sample(model, y, mask, chain=Chain(12, burn_in=0, thin=1), generator=gen(8))
    thinned = sample(
        model, y, mask, chain=Chain(4, burn_in=0, thin=3), generator=gen(8)
    )
    assert every.codes.shape == (12, 3, 3) and thinned.codes.shape == (4, 3, 3)
    assert torch.equal(thinned.codes, every.codes[2::3])
    assert torch.equal(thinned.images, every.images[2::3])


@pytest.mark.parametrize("metropolis", [False, True], ids=["pseudo", "metropolis"])
def test_gibbs_burn_in_drops_the_first_states(model, y, metropolis, gen):
    mask = square_mask(y, 4, top=1, left=3)
    every = gibbs_sampler(
        model, y, mask, metropolis=metropolis, chain=Chain(9, 0, 1), generator=gen(9)
    )
    burnt = gibbs_sampler(
        model, y, mask, metropolis=metropolis, chain=Chain(6, 3, 1), generator=gen(9)
    )
    assert torch.equal(burnt.codes, every.codes[3:])


def test_samplers_default_chains():
    def default(function):
        return inspect.signature(function).parameters["chain"].default

    assert default(langevin_samples) == LANGEVIN_CHAIN == Chain(16, 200, 5)
    assert default(posterior_samples) == Chain(20, 200, 5)
    assert default(gibbs_sampler) == Chain(20, 100, 5)
    # the kind of sampler is always said
    assert inspect.signature(gibbs_sampler).parameters["metropolis"].default is (
        inspect.Parameter.empty
    )


# --- langevin_samples (Metropolis-adjusted Langevin) ----------------------------------


class LinearDecoder(VAE):
    """x_hat = A z reshaped to (1, 2, 2) and a standard normal prior: with Gaussian
    noise the posterior over z is Gaussian and known. A VAE with its networks replaced
    (only the config, prior and decoder are used)."""

    def __init__(self, a: torch.Tensor) -> None:
        torch.nn.Module.__init__(self)
        self.config = VAEConfig(
            image_shape=(1, 2, 2), latent_dim=a.shape[1], hidden_dims=(4,)
        )
        self.a = torch.nn.Parameter(a)

    def prior(self):
        return standard_normal(self.a.shape[1])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.a.T).view(-1, 1, 2, 2)


def test_langevin_samples_match_the_exact_gaussian_posterior_of_a_linear_decoder(gen):
    a = torch.tensor([[1.0, 0.0], [0.5, 1.0], [0.0, 2.0], [1.0, -1.0]])
    sigma = 0.5
    y = torch.tensor([[0.6, 0.2, 0.9, 0.3]])
    # exact posterior of z
    covariance = torch.linalg.inv(torch.eye(2) + a.T @ a / sigma**2)
    mean = covariance @ a.T @ y[0] / sigma**2
    draws = langevin_samples(
        LinearDecoder(a),
        y.view(1, 1, 2, 2),
        GaussianNoise(sigma),
        torch.zeros(1, 2),
        chain=Chain(num_samples=3000, burn_in=300, thin=3),
        step=0.05,
        generator=gen(1),
    )
    assert isinstance(draws, Draws)
    codes = draws.codes.view(3000, 2)
    torch.testing.assert_close(codes.mean(0), mean, atol=0.03, rtol=0)
    torch.testing.assert_close(torch.cov(codes.T), covariance, atol=0.03, rtol=0)
    samples = draws.images.view(3000, 4)
    torch.testing.assert_close(samples, codes @ a.detach().T)  # each code's image
    torch.testing.assert_close(samples.mean(0), a @ mean, atol=0.03, rtol=0)
    torch.testing.assert_close(
        torch.cov(samples.T), a @ covariance @ a.T, atol=0.03, rtol=0
    )
    assert 0.4 < draws.acceptance.item() < 0.75


def test_langevin_samples_with_a_flat_likelihood_draw_from_the_prior(model, gen):
    """200 chains of 20 draws each: the codes follow N(0, I)."""
    y = torch.rand(200, 1, 8, 8, generator=gen(2))
    draws = langevin_samples(
        model,
        y,
        FlatNoise(),
        torch.zeros(200, 3),
        chain=Chain(num_samples=20, burn_in=100, thin=5),
        step=0.5,
        generator=gen(3),
    )
    codes = draws.codes.reshape(-1, 3)
    torch.testing.assert_close(codes.mean(0), torch.zeros(3), atol=0.1, rtol=0)
    torch.testing.assert_close(codes.std(0), torch.ones(3), atol=0.1, rtol=0)


def test_langevin_samples_shapes_acceptance_and_seed(model, y, z_start, gen):
    noise = GaussianNoise(0.2)
    settings = {"chain": Chain(num_samples=4, burn_in=10, thin=2)}
    first = langevin_samples(model, y, noise, z_start, generator=gen(3), **settings)
    again = langevin_samples(model, y, noise, z_start, generator=gen(3), **settings)
    other = langevin_samples(model, y, noise, z_start, generator=gen(4), **settings)
    assert first.codes.shape == (4, 3, 3) and first.images.shape == (4, *y.shape)
    assert first.acceptance.shape == (y.shape[0],)
    assert ((first.acceptance >= 0) & (first.acceptance <= 1)).all()
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first.codes, other.codes)
    assert first.images.std(dim=0).sum() > 0  # the chains move
    with torch.no_grad():
        decoded = model.decode(first.codes.flatten(0, 1)).view(4, *y.shape)
    torch.testing.assert_close(first.images, decoded)


@pytest.mark.parametrize("step", [0.0, -0.1])
def test_langevin_samples_reject_a_bad_step(model, y, z_start, step):
    with pytest.raises(ValueError, match="step must be a positive number"):
        langevin_samples(model, y, FlatNoise(), z_start, step=step)


def test_langevin_samples_need_one_start_code_per_image(model, y):
    with pytest.raises(ValueError, match="one code per image"):
        langevin_samples(model, y, FlatNoise(), torch.zeros(y.shape[0] + 1, 3))


# --- samplers for inpainting ----------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLERS.values(), ids=SAMPLERS.keys())
def test_samplers_return_shaped_draws_that_keep_observed_pixels_exactly(
    model, y, mask, sample, gen
):
    draws = sample(model, y, mask, chain=Chain(6, burn_in=4, thin=2), generator=gen(27))
    assert isinstance(draws, Draws)
    assert draws.codes.shape == (6, 3, 3) and draws.images.shape == (6, 3, 1, 8, 8)
    assert (
        draws.acceptance.shape == (3,)
        and ((draws.acceptance >= 0) & (draws.acceptance <= 1)).all()
    )
    assert_observed_exact(draws.images, y, mask)
    assert_observed_exact(draws.mean(), y, mask)
    # each image is its code's decoded mean in the holes
    with torch.no_grad():
        decoded = model.decode(draws.codes.flatten(0, 1)).view(6, 3, 1, 8, 8)
    full = mask.expand_as(draws.images)
    assert torch.equal(draws.images[full], decoded[full])
    torch.testing.assert_close(draws.mean(), draws.images.mean(dim=0))
    assert draws.codes.std(dim=0).min() > 0  # the chains move


@pytest.mark.parametrize("sample", SAMPLERS.values(), ids=SAMPLERS.keys())
def test_samplers_follow_their_seed(model, y, mask, sample, gen):
    first, again, other = (
        sample(model, y, mask, chain=Chain(3, burn_in=2, thin=1), generator=gen(s))
        for s in (5, 5, 6)
    )
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first.codes, other.codes)


@pytest.mark.parametrize(
    "sampler", [pseudo_gibbs, metropolis_within_gibbs], ids=["pseudo", "metropolis"]
)
def test_gibbs_samplers_with_a_gaussian_decoder_keep_observed_pixels_and_the_unit_range(
    make_vae, sampler, y, mask, gen
):
    model = make_vae(likelihood="gaussian", gaussian_logvar=-3.0)
    draws = sampler(
        model, y, mask, chain=Chain(4, burn_in=3, thin=1), generator=gen(28)
    )
    assert_observed_exact(draws.images, y, mask)
    assert draws.images.min() >= 0 and draws.images.max() <= 1


def test_samplers_handle_colour_images(make_vae, gen):
    model = make_vae(image_shape=(3, 8, 8))
    y = torch.rand(2, 3, 8, 8, generator=gen(29))
    mask = random_mask(y, 0.3, gen(30))
    for sample in SAMPLERS.values():
        draws = sample(model, y, mask, chain=SHORT, generator=gen(31))
        assert draws.images.shape == (2, 2, 3, 8, 8)
        assert_observed_exact(draws.images, y, mask)
        assert_observed_exact(draws.mean(), y, mask)


def test_pseudo_gibbs_accepts_every_proposal(model, y, mask, gen):
    draws = gibbs_sampler(
        model, y, mask, metropolis=False, chain=Chain(5, 2, 3), generator=gen(32)
    )
    assert torch.equal(draws.acceptance, torch.ones(3))


def test_metropolis_acceptance_counts_accepted_steps_after_burn_in(model, y, mask, gen):
    chain = Chain(num_samples=10, burn_in=5, thin=3)
    draws = gibbs_sampler(
        model, y, mask, metropolis=True, chain=chain, generator=gen(33)
    )
    counts = draws.acceptance * (chain.num_samples * chain.thin)
    torch.testing.assert_close(counts, counts.round(), atol=1e-4, rtol=0)
    # the untrained encoder is a poor proposal: some moves are refused
    assert (draws.acceptance < 1).any()
    assert (draws.acceptance > 0).all()


def test_metropolis_rejection_keeps_the_code_and_acceptance_counts_the_moves(
    model, y, mask, z_start, gen
):
    """With thin = 1 and no burn-in every state is kept: a refused proposal repeats the
    previous code exactly, an accepted one (a continuous draw) changes it, and the
    acceptance counts the changes."""
    draws = gibbs_sampler(
        model,
        y,
        mask,
        metropolis=True,
        chain=Chain(num_samples=12, burn_in=0, thin=1),
        generator=gen(34),
    )
    chain = torch.cat([z_start[None], draws.codes])  # (S + 1, B, d)
    moved = (chain[1:] != chain[:-1]).any(dim=2)  # (S, B)
    # all coordinates or none
    assert torch.equal(moved, (chain[1:] != chain[:-1]).all(dim=2))
    torch.testing.assert_close(draws.acceptance, moved.float().mean(dim=0))
    assert (~moved).any() and moved.any()


@pytest.mark.parametrize("sample", ALL_SAMPLERS.values(), ids=ALL_SAMPLERS.keys())
@pytest.mark.parametrize(
    "chain",
    [{"num_samples": 2, "burn_in": 1, "thin": 1}, (2, 1, 1), 2, None],
    ids=["dict", "tuple", "int", "none"],
)
def test_samplers_reject_a_chain_that_is_not_a_chain(model, y, sample, chain):
    with pytest.raises(TypeError, match=r"^chain must be an inference.Chain, got"):
        sample(model, y, square_mask(y, 3), chain=chain)


@pytest.mark.parametrize("sample", ALL_SAMPLERS.values(), ids=ALL_SAMPLERS.keys())
@pytest.mark.parametrize("old", ["num_samples", "burn_in", "thin"])
def test_samplers_no_longer_take_the_chain_settings_one_by_one(model, y, sample, old):
    """The old keywords fail loudly rather than being ignored."""
    with pytest.raises(TypeError, match=old):
        sample(model, y, square_mask(y, 3), **{old: 2})


@pytest.mark.parametrize("sample", SAMPLERS.values(), ids=SAMPLERS.keys())
def test_samplers_reject_bad_masks(model, y, sample):
    with pytest.raises(TypeError, match="torch.bool"):
        sample(model, y, torch.zeros(3, 1, 8, 8), chain=SHORT)
    with pytest.raises(ValueError, match=r"mask must be shaped \(B, 1, H, W\)"):
        sample(model, y, torch.zeros(2, 1, 8, 8, dtype=torch.bool), chain=SHORT)
    with pytest.raises(ValueError, match="at least one pixel observed"):
        sample(model, y, torch.ones(3, 1, 8, 8, dtype=torch.bool), chain=SHORT)


def test_posterior_samples_needs_one_start_code_per_image(model, y, mask):
    with pytest.raises(
        ValueError,
        match=(
            r"z_start must hold one code per image, shape \(3, latent_dim\), "
            r"got \(2, 3\)"
        ),
    ):
        posterior_samples(model, y, mask, torch.zeros(2, 3), chain=Chain(1, burn_in=0))


# --- exactness on a VAE whose conditional is known ------------------------------------


def two_pixel_vae() -> VAE:
    """Two pixels, one latent dimension, linear decoder logits (3 z + 0.5, -2.5 z + 0.3)
    and an encoder whose proposal depends on both pixels (so the Metropolis correction
    matters)."""
    model = VAE(VAEConfig(image_shape=(1, 1, 2), latent_dim=1, hidden_dims=()))
    with torch.no_grad():
        model.decoder[0].weight.copy_(torch.tensor([[3.0], [-2.5]]))
        model.decoder[0].bias.copy_(torch.tensor([0.5, 0.3]))
        model.encoder[1].weight.copy_(torch.tensor([[0.4, 0.6], [0.0, 0.3]]))
        model.encoder[1].bias.copy_(torch.tensor([-0.2, -0.3]))
    return model


@pytest.fixture(scope="module")
def two_pixels():
    """The model, 500 copies of the image (1, 0) with pixel 1 missing, and by quadrature
    E[z | x_0 = 1], sd[z | x_0 = 1] and P(x_1 = 1 | x_0 = 1)."""
    model = two_pixel_vae()
    z = torch.linspace(-9, 9, 40001, dtype=torch.float64)
    logits = 3 * z + 0.5, -2.5 * z + 0.3
    # p(z | x_0 = 1) on the grid
    weights = torch.softmax(-0.5 * z**2 + F.logsigmoid(logits[0]), dim=0)
    mean = (weights * z).sum().item()
    sd = math.sqrt((weights * z**2).sum().item() - mean**2)
    p_one = (weights * torch.sigmoid(logits[1])).sum().item()
    y = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2).repeat(500, 1, 1, 1)
    mask = torch.tensor([False, True]).view(1, 1, 1, 2).repeat(500, 1, 1, 1)
    return model, y, mask, (mean, sd, p_one)


EXACT_SAMPLERS = {
    "metropolis_within_gibbs": lambda m, y, mask, gen: gibbs_sampler(
        m,
        y,
        mask,
        metropolis=True,
        chain=Chain(num_samples=40, burn_in=30, thin=2),
        generator=gen(35),
    ),
    "posterior_samples": lambda m, y, mask, gen: posterior_samples(
        m,
        y,
        mask,
        torch.zeros(len(y), 1),
        chain=Chain(num_samples=40, burn_in=200, thin=2),
        generator=gen(35),
    ),
}


@pytest.mark.parametrize("sample", EXACT_SAMPLERS.values(), ids=EXACT_SAMPLERS.keys())
def test_exact_samplers_draw_from_the_models_conditional(two_pixels, sample, gen):
    """500 chains of 40 draws: the standard error of the mean code is about 0.01."""
    model, y, mask, (mean, sd, p_one) = two_pixels
    draws = sample(model, y, mask, gen)
    assert draws.codes.mean().item() == pytest.approx(mean, abs=0.05)
    assert draws.codes.std().item() == pytest.approx(sd, abs=0.05)
    # P(x_1 = 1 | x_0 = 1)
    assert draws.mean()[:, 0, 0, 1].mean().item() == pytest.approx(p_one, abs=0.02)
    assert torch.equal(draws.images[..., 0], torch.ones(40, 500, 1, 1))


def test_pseudo_gibbs_misses_the_conditional_that_the_exact_samplers_find(
    two_pixels, gen
):
    """The check above has the power to tell: pseudo-Gibbs, which trusts the encoder,
    lands elsewhere."""
    model, y, mask, (mean, _, p_one) = two_pixels
    draws = gibbs_sampler(
        model,
        y,
        mask,
        metropolis=False,
        chain=Chain(num_samples=40, burn_in=30, thin=2),
        generator=gen(35),
    )
    assert abs(draws.codes.mean().item() - mean) > 0.1
    assert abs(draws.mean()[:, 0, 0, 1].mean().item() - p_one) > 0.04


def test_importance_weights_estimate_the_conditional_log_likelihood(two_pixels, gen):
    model, y, mask, (_, _, p_one) = two_pixels
    codes, log_weights = importance_sample(
        model, y[:1], mask[:1], y[:1], 20000, generator=gen(36)
    )
    for value, probability in ((1.0, p_one), (0.0, 1 - p_one)):
        x = torch.tensor([1.0, value]).view(1, 1, 1, 2)
        got = conditional_log_likelihood(model, x, mask[:1], codes, log_weights)
        assert got.item() == pytest.approx(math.log(probability), abs=0.02)


def test_importance_weighted_mean_estimates_the_conditional_mean(two_pixels, gen):
    """The self-normalised estimate of E[x_1 | x_0 = 1] = P(x_1 = 1 | x_0 = 1)."""
    model, y, mask, (_, _, p_one) = two_pixels
    samples = importance_sample(model, y[:1], mask[:1], y[:1], 20000, generator=gen(37))
    completion = importance_weighted_mean(model, samples, y[:1], mask[:1])
    assert completion[0, 0, 0, 0].item() == 1.0  # observed
    assert completion[0, 0, 0, 1].item() == pytest.approx(p_one, abs=0.01)


# --- conditional_log_likelihood -------------------------------------------------------


@pytest.fixture
def codes(gen):
    return torch.randn(5, 3, 3, generator=gen(37))


def test_conditional_log_likelihood_of_one_code_is_the_likelihood_of_the_missing_pixels(
    model, y, mask, codes
):
    got = conditional_log_likelihood(model, y, mask, codes[:1])
    assert got.shape == (3,)
    torch.testing.assert_close(got, pixels_log_likelihood(model, y, mask, codes[0]))
    repeated = conditional_log_likelihood(model, y, mask, codes[:1].repeat(7, 1, 1))
    torch.testing.assert_close(repeated, got)


def test_conditional_log_likelihood_averages_the_likelihoods_of_the_codes(
    model, y, mask, codes
):
    # (S, B)
    per_code = torch.stack([pixels_log_likelihood(model, y, mask, z) for z in codes])
    expected = torch.logsumexp(per_code, dim=0) - math.log(5)
    torch.testing.assert_close(
        conditional_log_likelihood(model, y, mask, codes), expected
    )
    torch.testing.assert_close(
        conditional_log_likelihood(model, y, mask, codes, chunk_size=2), expected
    )
    torch.testing.assert_close(
        conditional_log_likelihood(model, y, mask, codes, torch.full((5, 3), 3.7)),
        expected,
    )
    # weights: all on code 2 for image 0, on code 4 for image 1, uneven for image 2
    log_weights = torch.full((5, 3), -math.inf)
    log_weights[2, 0], log_weights[4, 1] = 0.0, 12.0
    log_weights[:, 2] = torch.tensor([0.0, 1.0, -2.0, 0.5, 3.0])
    got = conditional_log_likelihood(model, y, mask, codes, log_weights)
    torch.testing.assert_close(got[0], per_code[2, 0])
    torch.testing.assert_close(got[1], per_code[4, 1])
    w = torch.softmax(log_weights[:, 2], dim=0)
    torch.testing.assert_close(got[2], torch.log((w * per_code[:, 2].exp()).sum()))


def test_conditional_log_likelihood_scores_only_the_missing_pixels(
    model, y, mask, codes
):
    """Changing observed pixels of x changes nothing; changing a missing one does."""
    other = y.clone()
    observed = ~mask.expand_as(y)
    other[observed] = 1 - other[observed]
    base = conditional_log_likelihood(model, y, mask, codes)
    torch.testing.assert_close(
        conditional_log_likelihood(model, other, mask, codes), base
    )
    assert not torch.allclose(
        conditional_log_likelihood(model, hide(y, mask, 1.0), mask, codes), base
    )


def test_conditional_log_likelihood_rejects_bad_shapes(model, y, mask, codes):
    with pytest.raises(
        ValueError, match=r"codes must be shaped \(S, 3, latent_dim\), got \(3, 3\)"
    ):
        conditional_log_likelihood(model, y, mask, codes[0])
    with pytest.raises(
        ValueError, match=r"codes must be shaped \(S, 3, latent_dim\), got \(5, 2, 3\)"
    ):
        conditional_log_likelihood(model, y, mask, codes[:, :2])
    with pytest.raises(
        ValueError,
        match=r"log_weights must be shaped \(5, 3\) like the codes, got \(5,\)",
    ):
        conditional_log_likelihood(model, y, mask, codes, torch.zeros(5))
    with pytest.raises(
        ValueError,
        match=r"log_weights must be shaped \(5, 3\) like the codes, got \(3, 5\)",
    ):
        conditional_log_likelihood(model, y, mask, codes, torch.zeros(3, 5))
    with pytest.raises(TypeError, match="torch.bool"):
        conditional_log_likelihood(model, y, mask.float(), codes)


# --- importance_sample and importance_weighted_mean -----------------------------------


def test_importance_sample_shapes_and_seed(model, y, mask, gen):
    samples = importance_sample(model, y, mask, y, 7, chunk_size=3, generator=gen(38))
    assert isinstance(samples, ImportanceSamples)
    codes, log_weights = samples
    assert codes.shape == (7, 3, 3) and log_weights.shape == (7, 3)
    assert torch.isfinite(log_weights).all()
    again = importance_sample(model, y, mask, y, 7, chunk_size=3, generator=gen(38))
    assert torch.equal(codes, again.codes) and torch.equal(
        log_weights, again.log_weights
    )
    other = importance_sample(model, y, mask, y, 7, chunk_size=3, generator=gen(39))
    assert not torch.equal(codes, other.codes)


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_importance_weights_are_prior_times_observed_likelihood_over_proposal(
    model, y, mask, scale, gen
):
    proposal_images = mean_fill(y, mask)
    codes, log_weights = importance_sample(
        model, y, mask, proposal_images, 4, scale=scale, generator=gen(40)
    )
    with torch.no_grad():
        mu, logvar = model.encode(proposal_images)
    sd = torch.exp(0.5 * logvar) * scale
    for z, lw in zip(codes, log_weights):
        log_observed = pixels_log_likelihood(model, y, ~mask, z)
        log_proposal = Normal(mu, sd).log_prob(z).sum(dim=1)
        torch.testing.assert_close(
            lw, log_observed + log_prior(z) - log_proposal, atol=1e-4, rtol=1e-5
        )


def test_importance_sample_draws_from_the_scaled_encoder_posterior(model, y, mask, gen):
    """4000 draws: mean and standard deviation within about five standard errors."""
    codes, _ = importance_sample(model, y, mask, y, 4000, scale=2.0, generator=gen(41))
    with torch.no_grad():
        mu, logvar = model.encode(y)
    sd = 2.0 * torch.exp(0.5 * logvar)
    assert ((codes.mean(dim=0) - mu).abs() < 5 * sd / math.sqrt(4000)).all()
    torch.testing.assert_close(codes.std(dim=0), sd, rtol=0.06, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0.0}, "scale must be a positive number, got 0.0"),
        ({"scale": -1.0}, "scale must be a positive number"),
        ({"num_samples": 0}, "num_samples must be a positive int, got 0"),
    ],
)
def test_importance_sample_rejects_bad_settings(model, y, mask, kwargs, message):
    settings = {"num_samples": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        importance_sample(model, y, mask, y, **settings)


def test_importance_sample_names_proposal_images_when_their_batch_differs_from_y(
    model, y
):
    with pytest.raises(ValueError, match="proposal_images"):
        importance_sample(model, y, square_mask(y, 3), y[:1], 4)


def test_importance_weighted_mean_is_the_softmax_weighted_average_of_the_decoded_codes(
    model, y, mask, gen
):
    samples = importance_sample(model, y, mask, y, 4, generator=gen(42))
    weights = torch.softmax(samples.log_weights, dim=0)  # (K, B)
    with torch.no_grad():
        decoded = torch.stack([model.decode(z) for z in samples.codes])  # (K, B, ...)
    by_hand = sum(weights[k][:, None, None, None] * decoded[k] for k in range(4))
    got = importance_weighted_mean(model, samples, y, mask)
    assert got.shape == y.shape
    full = mask.expand_as(y)
    torch.testing.assert_close(got[full], by_hand[full])
    assert_observed_exact(got, y, mask)
    chunked = importance_weighted_mean(model, samples, y, mask, chunk_size=3)
    torch.testing.assert_close(chunked, got)


def test_importance_weighted_mean_with_all_weight_on_one_code_decodes_it(
    model, y, mask, codes
):
    log_weights = torch.full((5, 3), -math.inf)
    log_weights[1, 0], log_weights[3, 1], log_weights[0, 2] = 0.0, 5.0, -2.0
    got = importance_weighted_mean(
        model, ImportanceSamples(codes, log_weights), y, mask
    )
    with torch.no_grad():
        chosen = model.decode(torch.stack([codes[1, 0], codes[3, 1], codes[0, 2]]))
    torch.testing.assert_close(got, keep_observed(chosen, y, mask))


def test_importance_weighted_mean_rejects_codes_for_other_images(model, y, mask, codes):
    samples = ImportanceSamples(codes[:, :2], torch.zeros(5, 2))
    with pytest.raises(
        ValueError, match=r"codes must be shaped \(S, 3, latent_dim\), got \(5, 2, 3\)"
    ):
        importance_weighted_mean(model, samples, y, mask)
