"""Inpainting (Chapter 6): vae_lib.restore's completions and samplers, psnr and the
likelihoods with ``where=``.

The VAE methods run on tiny untrained VAEs (8x8 images). The samplers are also checked
against the exact conditional p(z | x_obs) of a hand-built VAE with two pixels and one
latent dimension, which quadrature on a grid computes to four digits. Statistical
tolerances are about five standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.restoration import inpaint_biharmonic
from torch.distributions import Normal

from vae_lib.corrupt import hide, random_mask, square_mask
from vae_lib.losses import bernoulli_log_likelihood, gaussian_log_likelihood
from vae_lib.metrics import psnr
from vae_lib.models import VAE, VAEConfig
from vae_lib.restore import (
    Imputations,
    biharmonic,
    conditional_log_likelihood,
    importance_sample,
    keep_observed,
    log_posterior,
    map_inpaint,
    mean_fill,
    metropolis_within_gibbs,
    naive_inpaint,
    observed_likelihood,
    posterior_samples,
    pseudo_gibbs,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_vae(seed: int = 0, channels: int = 1, **kwargs) -> VAE:
    torch.manual_seed(seed)
    return VAE(
        VAEConfig(
            image_shape=(channels, 8, 8), latent_dim=3, hidden_dims=(16,), **kwargs
        )
    )


@pytest.fixture
def model():
    return make_vae()


@pytest.fixture
def y():
    return torch.rand(3, 1, 8, 8, generator=gen(1))


MASKS = {
    "square": lambda y: square_mask(y, 4, top=1, left=3),
    "random": lambda y: random_mask(y, 0.4, gen(2)),
}


@pytest.fixture(params=MASKS.values(), ids=MASKS.keys())
def mask(request, y):
    return request.param(y)


def assert_observed_exact(
    out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
) -> None:
    """Every observed pixel of ``out`` (..., B, C, H, W) is y's, bit for bit."""
    observed = ~mask.expand_as(y)
    out = out.reshape(-1, *y.shape)
    for draw in out:
        assert torch.equal(draw[observed], y[observed])


# --- keep_observed, mean_fill, biharmonic, naive_inpaint ------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_keep_observed_pastes_the_completion_into_the_holes_only(channels):
    y = torch.rand(2, channels, 6, 5, generator=gen(3))
    completion = torch.rand(2, channels, 6, 5, generator=gen(4))
    mask = random_mask(y, 0.5, gen(5))
    out = keep_observed(completion, y, mask)
    full = mask.expand_as(y)
    assert out.shape == y.shape
    assert torch.equal(out[full], completion[full]) and torch.equal(
        out[~full], y[~full]
    )


def test_keep_observed_keeps_ys_dtype():
    y = torch.rand(2, 3, 5, 5, generator=gen(3), dtype=torch.float64)
    completion = torch.rand(2, 3, 5, 5, generator=gen(4))
    mask = torch.rand(2, 1, 5, 5, generator=gen(6)) < 0.5
    out = keep_observed(completion, y, mask)
    full = mask.expand_as(y)
    assert out.dtype == torch.float64
    assert torch.equal(out[~full], y[~full]) and torch.equal(
        out[full], completion[full].double()
    )


@pytest.mark.parametrize("method", ["keep_observed", "mean_fill", "biharmonic"])
def test_a_mask_per_channel_is_rejected_with_the_expected_shape(method):
    """A pixel is missing in all its channels at once: masks are (B, 1, H, W), nothing
    else."""
    y = torch.rand(1, 3, 6, 6, generator=gen(9))
    mask = torch.zeros(1, 3, 6, 6, dtype=torch.bool)
    mask[0, 0, 2:4, 2:4] = True
    call = {
        "keep_observed": lambda: keep_observed(y, y, mask),
        "mean_fill": lambda: mean_fill(y, mask),
        "biharmonic": lambda: biharmonic(y, mask),
    }[method]
    with pytest.raises(
        ValueError, match=r"mask must be shaped \(B, 1, H, W\) = \(1, 1, 6, 6\)"
    ):
        call()


def test_keep_observed_rejects_bad_completions_and_masks(y):
    mask = square_mask(y, 3)
    with pytest.raises(ValueError, match="completion and y must have the same shape"):
        keep_observed(torch.rand(3, 1, 8, 7), y, mask)
    with pytest.raises(
        ValueError, match=r"completion must hold pixel values in \[0, 1\]"
    ):
        keep_observed(torch.full_like(y, 1.5), y, mask)
    with pytest.raises(TypeError, match="torch.bool"):
        keep_observed(y, y, mask.float())
    with pytest.raises(
        ValueError, match=r"mask must be shaped \(B, 1, H, W\) = \(3, 1, 8, 8\)"
    ):
        keep_observed(y, y, mask[:2])


@pytest.mark.parametrize("channels", [1, 3])
def test_mean_fill_fills_with_each_images_mean_of_its_observed_pixels_per_channel(
    channels,
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


def test_biharmonic_restores_a_ramp_through_scattered_holes_closely():
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
def test_classical_fills_ignore_the_values_in_the_holes(fill, channels):
    y = torch.rand(2, channels, 8, 8, generator=gen(11))
    mask = random_mask(y, 0.3, gen(12))
    black, white = fill(hide(y, mask, 0.0), mask), fill(hide(y, mask, 1.0), mask)
    torch.testing.assert_close(black, white, atol=1e-6, rtol=0)


def test_naive_inpaint_is_the_decoded_encoder_mean_pasted_into_the_holes(
    model, y, mask
):
    out = naive_inpaint(model, y, mask)
    with torch.no_grad():
        decoded = model.mean_image(model.encode(y)[0])
    assert torch.equal(out, keep_observed(decoded, y, mask))
    assert_observed_exact(out, y, mask)
    assert not torch.equal(out, y)


@pytest.mark.parametrize("channels", [1, 3])
def test_classical_and_naive_fills_keep_observed_pixels_exactly(channels):
    y = torch.rand(2, channels, 8, 8, generator=gen(13))
    model = make_vae(channels=channels)
    for make in MASKS.values():
        mask = make(y)
        for out in (
            mean_fill(y, mask),
            biharmonic(y, mask),
            naive_inpaint(model, y, mask),
        ):
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


# --- psnr and the likelihoods with where= ---------------------------------------------


@pytest.mark.parametrize("per_channel", [False, True])
def test_psnr_where_is_the_psnr_of_the_selected_pixels(per_channel):
    x = torch.rand(3, 3, 8, 8, generator=gen(14))
    x_hat = torch.rand(3, 3, 8, 8, generator=gen(15))
    shape = (3, 3, 8, 8) if per_channel else (3, 1, 8, 8)
    where = torch.rand(shape, generator=gen(16)) < 0.3
    got = psnr(x_hat, x, where=where)
    full = where.expand_as(x)
    for b in range(3):
        mse = ((x_hat[b] - x[b])[full[b]].double() ** 2).mean().item()
        assert got[b].item() == pytest.approx(-10 * math.log10(mse), abs=1e-4)
    torch.testing.assert_close(
        psnr(x_hat, x, where=torch.ones(shape, dtype=torch.bool)), psnr(x_hat, x)
    )


def test_psnr_of_the_holes_is_the_whole_psnr_less_ten_log10_of_the_share_missing(
    y, mask
):
    out = mean_fill(y, mask)
    whole, missing = psnr(out, y), psnr(out, y, where=mask)
    share = mask.flatten(1).sum(dim=1).double() / 64
    torch.testing.assert_close(
        missing.double(), whole.double() + 10 * torch.log10(share), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize(
    ("where", "error", "message"),
    [
        (torch.ones(3, 1, 8, 8), TypeError, "where must be a bool tensor"),
        (
            torch.ones(3, 1, 8, 8, dtype=torch.uint8),
            TypeError,
            "where must be a bool tensor",
        ),
        (
            torch.ones(3, 8, 8, dtype=torch.bool),
            ValueError,
            r"where must be shaped \(3, 1, 8, 8\)",
        ),
        (
            torch.ones(2, 1, 8, 8, dtype=torch.bool),
            ValueError,
            r"where must be shaped \(3, 1, 8, 8\)",
        ),
        (
            torch.ones(3, 2, 8, 8, dtype=torch.bool),
            ValueError,
            r"where must be shaped \(3, 1, 8, 8\)",
        ),
        (
            torch.zeros(3, 1, 8, 8, dtype=torch.bool).index_fill_(
                0, torch.tensor([0, 2]), True
            ),
            ValueError,
            r"where selects no pixel of 1 image\(s\) \(first: index 1\)",
        ),
    ],
    ids=["float", "uint8", "3-d", "batch", "channels", "empty"],
)
def test_psnr_where_rejects_bad_selections(y, where, error, message):
    with pytest.raises(error, match=message):
        psnr(y, y, where=where)


def test_bernoulli_log_likelihood_where_sums_the_selected_pixels_only():
    logits = torch.randn(2, 3, 5, 5, generator=gen(17)) * 3
    x = torch.rand(2, 3, 5, 5, generator=gen(18))
    where = torch.rand(2, 1, 5, 5, generator=gen(19)) < 0.4
    per_pixel = x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)
    expected = torch.stack(
        [per_pixel[b][where[b].expand(3, 5, 5)].sum() for b in range(2)]
    )
    torch.testing.assert_close(
        bernoulli_log_likelihood(logits, x, where), expected, atol=1e-4, rtol=1e-5
    )
    torch.testing.assert_close(
        bernoulli_log_likelihood(logits, x, torch.ones_like(where)),
        bernoulli_log_likelihood(logits, x),
    )
    assert torch.equal(
        bernoulli_log_likelihood(logits, x, torch.zeros_like(where)), torch.zeros(2)
    )


@pytest.mark.parametrize(
    "logvar",
    [-1.5, torch.tensor(0.7), torch.linspace(-1, 1, 5)[None, None, None, :]],
    ids=["float", "scalar-tensor", "per-column"],
)
def test_gaussian_log_likelihood_where_sums_the_selected_pixels_only(logvar):
    mean = torch.rand(2, 1, 5, 5, generator=gen(20))
    x = torch.rand(2, 1, 5, 5, generator=gen(21))
    where = torch.rand(2, 1, 5, 5, generator=gen(22)) < 0.5
    std = torch.exp(0.5 * torch.as_tensor(logvar)).expand_as(x)
    per_pixel = Normal(mean, std).log_prob(x)
    expected = torch.stack([per_pixel[b][where[b]].sum() for b in range(2)])
    torch.testing.assert_close(
        gaussian_log_likelihood(mean, logvar, x, where), expected, atol=1e-4, rtol=1e-5
    )
    torch.testing.assert_close(
        gaussian_log_likelihood(mean, logvar, x, torch.ones_like(where)),
        gaussian_log_likelihood(mean, logvar, x),
    )


@pytest.mark.parametrize(
    "where",
    [
        torch.ones(2, 1, 4, 4),
        torch.ones(2, 1, 4, 4, dtype=torch.uint8),
        torch.ones(2, 4, 4, dtype=torch.bool),
        torch.ones(1, 1, 4, 4, dtype=torch.bool),
    ],
    ids=["float", "uint8", "3-d", "batch"],
)
def test_likelihoods_reject_a_bad_where(where):
    x = torch.rand(2, 1, 4, 4, generator=gen())
    with pytest.raises(ValueError, match="where must be a bool tensor"):
        bernoulli_log_likelihood(x, x, where)
    with pytest.raises(ValueError, match="where must be a bool tensor"):
        gaussian_log_likelihood(x, 0.0, x, where)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"likelihood": "gaussian"},
        {"likelihood": "gaussian", "gaussian_logvar": -2.0},
    ],
    ids=["bernoulli", "gaussian-learned", "gaussian-fixed"],
)
def test_vae_log_likelihood_where_is_the_loss_of_the_selected_pixels(kwargs, y):
    model = make_vae(**kwargs)
    where = random_mask(y, 0.5, gen(23))
    x_param = model.decode(torch.randn(3, 3, generator=gen(24))).detach()
    if model.config.likelihood == "bernoulli":
        expected = bernoulli_log_likelihood(x_param, y, where)
    else:
        logvar = (
            model.x_logvar.detach()
            if model.x_logvar is not None
            else kwargs["gaussian_logvar"]
        )
        expected = gaussian_log_likelihood(x_param, logvar, y, where)
    got = model.log_likelihood(x_param, y, where=where)
    torch.testing.assert_close(got, expected)
    assert (
        got > model.log_likelihood(x_param, y)
    ).all() or model.config.likelihood == "gaussian"


# --- observed_likelihood, log_posterior, map_inpaint ----------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"likelihood": "gaussian", "gaussian_logvar": -2.0}],
    ids=["bernoulli", "gaussian"],
)
def test_observed_likelihood_is_the_models_likelihood_of_the_observed_pixels(
    kwargs, y, mask
):
    model = make_vae(**kwargs)
    ll = observed_likelihood(model, mask)
    assert ll.uses_decoder_output is True
    x_param = model.decode(torch.randn(3, 3, generator=gen(25))).detach()
    expected = model.log_likelihood(x_param, y, where=~mask)
    assert torch.equal(ll(x_param, y), expected)
    # the same by hand, pixel by pixel
    if model.config.likelihood == "bernoulli":
        per_pixel = y * F.logsigmoid(x_param) + (1 - y) * F.logsigmoid(-x_param)
    else:
        per_pixel = Normal(x_param, math.exp(-1.0)).log_prob(y)
    by_hand = torch.stack([per_pixel[b][~mask[b]].sum() for b in range(3)])
    torch.testing.assert_close(ll(x_param, y), by_hand, atol=1e-4, rtol=1e-5)
    # the missing pixels of y do not matter
    torch.testing.assert_close(
        ll(x_param, hide(y, mask, 0.0)), ll(x_param, hide(y, mask, 1.0))
    )


def test_log_posterior_with_the_observed_likelihood_feeds_it_the_decoders_logits(
    model, y, mask
):
    ll = observed_likelihood(model, mask)
    z = torch.randn(3, 3, generator=gen(26))
    with torch.no_grad():
        got = log_posterior(model, y, ll, z)
        expected = model.log_likelihood(model.decode(z), y, where=~mask) - 0.5 * z.pow(
            2
        ).sum(dim=1)
        with_mean_image = model.log_likelihood(
            model.mean_image(z), y, where=~mask
        ) - 0.5 * z.pow(2).sum(dim=1)
    torch.testing.assert_close(got, expected)
    assert (
        got - with_mean_image
    ).abs().min() > 1e-3  # logits, not probabilities, reach the likelihood


def test_map_inpaint_raises_the_posterior_of_the_observed_pixels(model, y, mask):
    ll = observed_likelihood(model, mask)
    with torch.no_grad():
        start = model.encode(y)[0]
        before = log_posterior(model, y, ll, start)
    z, out = map_inpaint(model, y, mask, num_steps=30, lr=0.1)
    assert z.shape == (3, 3) and out.shape == y.shape and not z.requires_grad
    with torch.no_grad():
        after = log_posterior(model, y, ll, z)
        decoded = model.mean_image(z)
    assert (after > before + 0.01).all() and (after - before).sum() > 0.2
    assert_observed_exact(out, y, mask)
    full = mask.expand_as(y)
    assert torch.equal(out[full], decoded[full])


def test_map_inpaint_ignores_the_values_in_the_holes(model, y, mask):
    """The objective sees the observed pixels only, but the start (the encoder's mean)
    sees all of y."""
    _, black = map_inpaint(model, hide(y, mask, 0.0), mask, num_steps=200, lr=0.1)
    _, white = map_inpaint(model, hide(y, mask, 1.0), mask, num_steps=200, lr=0.1)
    full = mask.expand_as(y)
    assert (
        black[full] - white[full]
    ).abs().max() < 0.05  # both climbed to the same optimum


def test_map_inpaint_leaves_the_model_unchanged(model, y, mask):
    # a caller's frozen layer stays frozen
    model.decoder[0].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {k: p.requires_grad for k, p in model.named_parameters()}
    map_inpaint(model, y, mask, num_steps=5)
    assert {k: p.requires_grad for k, p in model.named_parameters()} == flags
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_map_inpaint_rejects_bad_masks_and_settings(model, y):
    with pytest.raises(TypeError, match="torch.bool"):
        map_inpaint(model, y, torch.zeros(3, 1, 8, 8), num_steps=1)
    with pytest.raises(ValueError, match="at least one pixel observed"):
        map_inpaint(model, y, torch.ones(3, 1, 8, 8, dtype=torch.bool), num_steps=1)
    with pytest.raises(ValueError, match="num_steps must be a positive int"):
        map_inpaint(model, y, square_mask(y, 2), num_steps=0)


# --- samplers -------------------------------------------------------------------------


def run_posterior_samples(model, y, mask, **kwargs):
    with torch.no_grad():
        z_start = model.encode(y)[0]
    return posterior_samples(model, y, mask, z_start, **kwargs)


SAMPLERS = {
    "pseudo_gibbs": pseudo_gibbs,
    "metropolis_within_gibbs": metropolis_within_gibbs,
    "posterior_samples": run_posterior_samples,
}


@pytest.mark.parametrize("sample", SAMPLERS.values(), ids=SAMPLERS.keys())
def test_samplers_return_shaped_draws_that_keep_observed_pixels_exactly(
    model, y, mask, sample
):
    draws = sample(model, y, mask, num_samples=6, burn_in=4, thin=2, generator=gen(27))
    assert isinstance(draws, Imputations)
    assert draws.codes.shape == (6, 3, 3) and draws.images.shape == (6, 3, 1, 8, 8)
    assert (
        draws.acceptance.shape == (3,)
        and ((draws.acceptance >= 0) & (draws.acceptance <= 1)).all()
    )
    assert_observed_exact(draws.images, y, mask)
    assert_observed_exact(draws.mean(), y, mask)
    # each image is its code's decoded mean in the holes
    with torch.no_grad():
        decoded = model.mean_image(draws.codes.flatten(0, 1)).view(6, 3, 1, 8, 8)
    full = mask.expand_as(draws.images)
    assert torch.equal(draws.images[full], decoded[full])
    torch.testing.assert_close(draws.mean(), draws.images.mean(dim=0))
    assert draws.codes.std(dim=0).min() > 0  # the chains move


@pytest.mark.parametrize("sample", SAMPLERS.values(), ids=SAMPLERS.keys())
def test_samplers_follow_their_seed(model, y, mask, sample):
    first, again, other = (
        sample(model, y, mask, num_samples=3, burn_in=2, thin=1, generator=gen(s))
        for s in (5, 5, 6)
    )
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first.codes, other.codes)


@pytest.mark.parametrize(
    "sampler", [pseudo_gibbs, metropolis_within_gibbs], ids=["pseudo", "metropolis"]
)
def test_gibbs_samplers_with_a_gaussian_decoder_keep_observed_pixels_and_the_unit_range(
    sampler, y, mask
):
    model = make_vae(likelihood="gaussian", gaussian_logvar=-3.0)
    draws = sampler(model, y, mask, num_samples=4, burn_in=3, thin=1, generator=gen(28))
    assert_observed_exact(draws.images, y, mask)
    assert draws.images.min() >= 0 and draws.images.max() <= 1


def test_samplers_handle_colour_images():
    model = make_vae(channels=3)
    y = torch.rand(2, 3, 8, 8, generator=gen(29))
    mask = random_mask(y, 0.3, gen(30))
    for sample in SAMPLERS.values():
        draws = sample(
            model, y, mask, num_samples=2, burn_in=1, thin=1, generator=gen(31)
        )
        assert draws.images.shape == (2, 2, 3, 8, 8)
        assert_observed_exact(draws.images, y, mask)
        assert_observed_exact(draws.mean(), y, mask)


def test_pseudo_gibbs_accepts_every_proposal(model, y, mask):
    draws = pseudo_gibbs(
        model, y, mask, num_samples=5, burn_in=2, thin=3, generator=gen(32)
    )
    assert torch.equal(draws.acceptance, torch.ones(3))


def test_metropolis_acceptance_counts_accepted_steps_after_burn_in(model, y, mask):
    num_samples, thin = 10, 3
    draws = metropolis_within_gibbs(
        model, y, mask, num_samples=num_samples, burn_in=5, thin=thin, generator=gen(33)
    )
    counts = draws.acceptance * (num_samples * thin)
    torch.testing.assert_close(counts, counts.round(), atol=1e-4, rtol=0)
    assert (
        draws.acceptance < 1
    ).any()  # the untrained encoder is a poor proposal: some moves are refused
    assert (draws.acceptance > 0).all()


def test_metropolis_rejection_keeps_the_code_and_acceptance_counts_the_moves(
    model, y, mask
):
    """With thin = 1 and no burn-in every state is kept: a refused proposal repeats the
    previous code exactly, an accepted one (a continuous draw) changes it, and the
    acceptance counts the changes."""
    num_samples = 12
    draws = metropolis_within_gibbs(
        model, y, mask, num_samples=num_samples, burn_in=0, thin=1, generator=gen(34)
    )
    with torch.no_grad():
        start = model.encode(y)[0]
    chain = torch.cat([start[None], draws.codes])  # (S + 1, B, d)
    moved = (chain[1:] != chain[:-1]).any(dim=2)  # (S, B)
    # all coordinates or none
    assert torch.equal(moved, (chain[1:] != chain[:-1]).all(dim=2))
    torch.testing.assert_close(draws.acceptance, moved.float().mean(dim=0))
    assert (~moved).any() and moved.any()


@pytest.mark.parametrize("sample", SAMPLERS.values(), ids=SAMPLERS.keys())
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 0}, "num_samples must be a positive int, got 0"),
        ({"thin": 0}, "thin must be a positive int, got 0"),
        ({"burn_in": -1}, "burn_in must be a non-negative int, got -1"),
        ({"burn_in": 1.5}, "burn_in must be a non-negative int, got 1.5"),
        ({"num_samples": 2.0}, "num_samples must be a positive int, got 2.0"),
    ],
)
def test_samplers_reject_bad_settings(model, y, sample, kwargs, message):
    settings = {"num_samples": 2, "burn_in": 1, "thin": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        sample(model, y, square_mask(y, 3), **settings)


@pytest.mark.parametrize("sample", SAMPLERS.values(), ids=SAMPLERS.keys())
def test_samplers_reject_bad_masks(model, y, sample):
    settings = {"num_samples": 2, "burn_in": 1, "thin": 1}
    with pytest.raises(TypeError, match="torch.bool"):
        sample(model, y, torch.zeros(3, 1, 8, 8), **settings)
    with pytest.raises(ValueError, match=r"mask must be shaped \(B, 1, H, W\)"):
        sample(model, y, torch.zeros(2, 1, 8, 8, dtype=torch.bool), **settings)
    with pytest.raises(ValueError, match="at least one pixel observed"):
        sample(model, y, torch.ones(3, 1, 8, 8, dtype=torch.bool), **settings)


def test_posterior_samples_needs_one_start_code_per_image(model, y, mask):
    with pytest.raises(
        ValueError,
        match=(
            r"z_start must hold one code per image, shape \(3, latent_dim\), "
            r"got \(2, 3\)"
        ),
    ):
        posterior_samples(model, y, mask, torch.zeros(2, 3), num_samples=1, burn_in=0)


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
    "metropolis_within_gibbs": lambda m, y, mask: metropolis_within_gibbs(
        m, y, mask, num_samples=40, burn_in=30, thin=2, generator=gen(35)
    ),
    "posterior_samples": lambda m, y, mask: posterior_samples(
        m,
        y,
        mask,
        torch.zeros(len(y), 1),
        num_samples=40,
        burn_in=200,
        thin=2,
        generator=gen(35),
    ),
}


@pytest.mark.parametrize("sample", EXACT_SAMPLERS.values(), ids=EXACT_SAMPLERS.keys())
def test_exact_samplers_draw_from_the_models_conditional(two_pixels, sample):
    """500 chains of 40 draws: the standard error of the mean code is about 0.01."""
    model, y, mask, (mean, sd, p_one) = two_pixels
    draws = sample(model, y, mask)
    assert draws.codes.mean().item() == pytest.approx(mean, abs=0.05)
    assert draws.codes.std().item() == pytest.approx(sd, abs=0.05)
    # P(x_1 = 1 | x_0 = 1)
    assert draws.mean()[:, 0, 0, 1].mean().item() == pytest.approx(p_one, abs=0.02)
    assert torch.equal(draws.images[..., 0], torch.ones(40, 500, 1, 1))


def test_pseudo_gibbs_misses_the_conditional_that_the_exact_samplers_find(two_pixels):
    """The check above has the power to tell: pseudo-Gibbs, which trusts the encoder,
    lands elsewhere."""
    model, y, mask, (mean, _, p_one) = two_pixels
    draws = pseudo_gibbs(
        model, y, mask, num_samples=40, burn_in=30, thin=2, generator=gen(35)
    )
    assert abs(draws.codes.mean().item() - mean) > 0.1
    assert abs(draws.mean()[:, 0, 0, 1].mean().item() - p_one) > 0.04


def test_importance_weights_estimate_the_conditional_log_likelihood(two_pixels):
    model, y, mask, (_, _, p_one) = two_pixels
    codes, log_weights = importance_sample(
        model, y[:1], mask[:1], y[:1], 20000, generator=gen(36)
    )
    for value, probability in ((1.0, p_one), (0.0, 1 - p_one)):
        x = torch.tensor([1.0, value]).view(1, 1, 1, 2)
        got = conditional_log_likelihood(model, x, mask[:1], codes, log_weights)
        assert got.item() == pytest.approx(math.log(probability), abs=0.02)


# --- conditional_log_likelihood -------------------------------------------------------


@pytest.fixture
def codes():
    return torch.randn(5, 3, 3, generator=gen(37))


def missing_log_likelihood(model, x, mask, z):
    with torch.no_grad():
        return model.log_likelihood(model.decode(z), x, where=mask)


def test_conditional_log_likelihood_of_one_code_is_the_likelihood_of_the_missing_pixels(
    model, y, mask, codes
):
    got = conditional_log_likelihood(model, y, mask, codes[:1])
    assert got.shape == (3,)
    torch.testing.assert_close(got, missing_log_likelihood(model, y, mask, codes[0]))
    repeated = conditional_log_likelihood(model, y, mask, codes[:1].repeat(7, 1, 1))
    torch.testing.assert_close(repeated, got)


def test_conditional_log_likelihood_averages_the_likelihoods_of_the_codes(
    model, y, mask, codes
):
    # (S, B)
    per_code = torch.stack([missing_log_likelihood(model, y, mask, z) for z in codes])
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


# --- importance_sample ----------------------------------------------------------------


def test_importance_sample_shapes_and_seed(model, y, mask):
    codes, log_weights = importance_sample(
        model, y, mask, y, 7, chunk_size=3, generator=gen(38)
    )
    assert codes.shape == (7, 3, 3) and log_weights.shape == (7, 3)
    assert torch.isfinite(log_weights).all()
    again = importance_sample(model, y, mask, y, 7, chunk_size=3, generator=gen(38))
    assert torch.equal(codes, again[0]) and torch.equal(log_weights, again[1])
    assert not torch.equal(
        codes,
        importance_sample(model, y, mask, y, 7, chunk_size=3, generator=gen(39))[0],
    )


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_importance_weights_are_prior_times_observed_likelihood_over_proposal(
    model, y, mask, scale
):
    proposal_images = mean_fill(y, mask)
    codes, log_weights = importance_sample(
        model, y, mask, proposal_images, 4, scale=scale, generator=gen(40)
    )
    with torch.no_grad():
        mu, logvar = model.encode(proposal_images)
    sd = torch.exp(0.5 * logvar) * scale
    for z, lw in zip(codes, log_weights):
        with torch.no_grad():
            log_observed = model.log_likelihood(model.decode(z), y, where=~mask)
        log_prior = Normal(0.0, 1.0).log_prob(z).sum(dim=1)
        log_proposal = Normal(mu, sd).log_prob(z).sum(dim=1)
        torch.testing.assert_close(
            lw, log_observed + log_prior - log_proposal, atol=1e-4, rtol=1e-5
        )


def test_importance_sample_draws_from_the_scaled_encoder_posterior(model, y, mask):
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


def test_inpainting_explorer_shows_the_damaged_image_and_each_method():
    from vae_lib.widgets import inpainting_explorer

    calls = []

    def method(y, mask):
        calls.append((y.shape, mask.shape, int(mask.sum())))
        return keep_observed(torch.ones_like(y), y, mask)

    widget = inpainting_explorer(
        torch.rand(1, 8, 8, generator=gen(1)), {"ones": method}, size=4
    )
    sliders, panels = widget.children
    assert [s.description for s in sliders.children] == ["hole size", "top", "left"]
    assert len(panels.children) == 2 and all(
        p.children[1].value for p in panels.children
    )
    assert calls == [((1, 1, 8, 8), (1, 1, 8, 8), 16)]
    sliders.children[0].value = 6
    assert calls[-1][2] == 36
    with pytest.raises(ValueError, match="at least one inpainting method"):
        inpainting_explorer(torch.rand(1, 8, 8), {})
