"""vae_lib.distributions: the prior, the reparameterised draw, sampling a likelihood,
choosing between two likelihoods and the log-probability of some pixels only (also of
a model's likelihood, against vae_lib.losses).

References come from torch.distributions and from the formulas written out by hand;
every random draw is seeded, and every statistical margin is stated in standard errors.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import (
    Bernoulli,
    Categorical,
    Independent,
    MultivariateNormal,
    Normal,
)

from vae_lib.corrupt import hide, random_mask
from vae_lib.distributions import (
    diagonal_gaussian,
    masked_log_prob,
    reparameterize,
    rsample,
    sample,
    select,
    standard_normal,
)
from vae_lib.losses import bernoulli_log_likelihood, gaussian_log_likelihood

DTYPE = torch.float64


def full_gaussian(batch: int, d: int, seed: int) -> MultivariateNormal:
    """A correlated Gaussian per batch entry, in float64."""
    generator = torch.Generator().manual_seed(seed)
    loc = torch.randn(batch, d, generator=generator, dtype=DTYPE)
    factor = torch.randn(batch, d, d, generator=generator, dtype=DTYPE) * 0.5
    covariance = factor @ factor.mT + 0.3 * torch.eye(d, dtype=DTYPE)
    return MultivariateNormal(loc, covariance_matrix=covariance)


def bernoulli_images(logits: torch.Tensor) -> Independent:
    return Independent(Bernoulli(logits=logits), 3)


def normal_images(mean: torch.Tensor, std: float | torch.Tensor) -> Independent:
    return Independent(Normal(mean, torch.as_tensor(std).expand_as(mean)), 3)


# --- the prior ------------------------------------------------------------------------


def test_standard_normal_has_one_event_of_latent_dim_entries():
    prior = standard_normal(5)
    assert isinstance(prior, Independent)
    assert prior.batch_shape == () and prior.event_shape == (5,)
    assert torch.equal(prior.mean, torch.zeros(5))
    assert torch.equal(prior.stddev, torch.ones(5))
    assert prior.mean.dtype == torch.float32 and prior.mean.device.type == "cpu"


def test_standard_normal_log_prob_is_the_density_with_its_constant(gen):
    z = 2 * torch.randn(4, 6, 5, generator=gen(), dtype=DTYPE)  # any batch of codes
    prior = standard_normal(5, dtype=DTYPE)
    got = prior.log_prob(z)
    assert got.shape == (4, 6) and got.dtype == DTYPE
    expected = Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    by_hand = -0.5 * (5 * math.log(2 * math.pi) + (z**2).sum(-1))
    torch.testing.assert_close(got, by_hand, rtol=0, atol=1e-12)


def test_standard_normal_log_prob_at_the_origin_is_the_normalising_constant():
    got = standard_normal(3).log_prob(torch.zeros(3))
    assert got.item() == pytest.approx(-1.5 * math.log(2 * math.pi), rel=1e-6)


# --- a diagonal Gaussian from an encoder's outputs ------------------------------------


def test_diagonal_gaussian_has_the_encoders_mean_and_variance(gen):
    g = gen()
    mu, logvar = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    q = diagonal_gaussian(mu, logvar)
    assert isinstance(q, Independent)
    assert q.batch_shape == (4,) and q.event_shape == (3,)
    torch.testing.assert_close(q.mean, mu)
    torch.testing.assert_close(q.variance, torch.exp(logvar))
    z = torch.randn(4, 3, generator=g)
    expected = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(q.log_prob(z), expected)


# --- the reparameterised draw ---------------------------------------------------------


def test_reparameterize_a_normal_is_loc_plus_scale_times_eps(gen):
    g = gen()
    loc, scale = torch.randn(4, 3, generator=g), torch.rand(4, 3, generator=g) + 0.1
    eps = torch.randn(7, 4, 3, generator=g)
    torch.testing.assert_close(
        reparameterize(Normal(loc, scale), eps), loc + scale * eps, rtol=0, atol=0
    )
    torch.testing.assert_close(
        reparameterize(Independent(Normal(loc, scale), 1), eps),
        loc + scale * eps,
        rtol=0,
        atol=0,
    )


def test_reparameterize_a_multivariate_normal_multiplies_by_the_cholesky_factor(gen):
    q = full_gaussian(batch=4, d=3, seed=1)
    eps = torch.randn(7, 4, 3, generator=gen(), dtype=DTYPE)
    expected = q.loc + (q.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    got = reparameterize(q, eps)
    assert got.shape == (7, 4, 3)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    # L L^T is the covariance, so this is a draw with the right correlations.
    torch.testing.assert_close(
        q.scale_tril @ q.scale_tril.mT, q.covariance_matrix, rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(
    "q",
    [Bernoulli(probs=torch.full((2, 3), 0.5)), Categorical(logits=torch.zeros(2, 3))],
    ids=["bernoulli", "categorical"],
)
def test_reparameterize_refuses_a_distribution_that_is_not_gaussian(q):
    with pytest.raises(TypeError, match=r"q must be a Gaussian .* got "):
        reparameterize(q, torch.zeros(2, 3))


@pytest.mark.parametrize("kind", ["diagonal", "full"])
def test_rsample_has_the_shape_sample_by_batch_by_event(gen, kind):
    q = (
        diagonal_gaussian(torch.zeros(4, 3), torch.zeros(4, 3))
        if kind == "diagonal"
        else full_gaussian(4, 3, seed=0)
    )
    assert rsample(q, generator=gen()).shape == (4, 3)
    assert rsample(q, (5,), generator=gen()).shape == (5, 4, 3)
    assert rsample(q, (2, 5), generator=gen()).shape == (2, 5, 4, 3)
    assert rsample(q, generator=gen()).dtype == q.mean.dtype


@pytest.mark.parametrize("kind", ["normal", "diagonal", "full"])
def test_rsample_is_reproducible_from_the_generator_seed(kind):
    q = {
        "normal": Normal(torch.zeros(4, 3), torch.ones(4, 3)),
        "diagonal": diagonal_gaussian(torch.zeros(4, 3), torch.zeros(4, 3)),
        "full": full_gaussian(4, 3, seed=0),
    }[kind]

    def draw(seed):
        return rsample(q, (6,), generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


def test_rsample_without_a_generator_follows_the_global_seed():
    q = diagonal_gaussian(torch.zeros(4, 3), torch.zeros(4, 3))
    torch.manual_seed(3)
    first = rsample(q, (2,))
    torch.manual_seed(3)
    assert torch.equal(rsample(q, (2,)), first)


def test_rsample_draws_from_the_right_diagonal_gaussian(gen):
    n = 20_000
    mu = torch.tensor([-2.0, 0.0, 1.5])
    logvar = torch.tensor([0.0, -2.0, 1.0])
    z = rsample(diagonal_gaussian(mu, logvar), (n,), generator=gen())
    sigma = torch.exp(0.5 * logvar)
    # Standard errors: sigma / sqrt(n) for the mean, about sigma / sqrt(2n) for the std.
    assert ((z.mean(0) - mu).abs() < 5 * sigma / n**0.5).all()
    assert ((z.std(0) - sigma).abs() < 5 * sigma / (2 * n) ** 0.5).all()


def test_rsample_draws_from_the_right_multivariate_gaussian(gen):
    q = full_gaussian(batch=1, d=3, seed=2)
    n = 50_000
    z = rsample(q, (n,), generator=gen())[:, 0]  # (n, 3)
    covariance = q.covariance_matrix[0]
    variances = covariance.diagonal()
    mean_se = (variances / n).sqrt()
    # standard error of each sample covariance entry (Gaussian data)
    cov_se = (
        (variances.unsqueeze(0) * variances.unsqueeze(1) + covariance**2) / n
    ).sqrt()
    assert ((z.mean(0) - q.loc[0]).abs() < 5 * mean_se).all()
    assert ((torch.cov(z.T) - covariance).abs() < 5 * cov_se).all()
    # sharp enough to see the correlations: the off-diagonal entries are far from 0
    off_diagonal = ~torch.eye(3, dtype=torch.bool)
    assert (covariance[off_diagonal].abs() > 10 * cov_se[off_diagonal]).any()


def test_rsample_passes_gradients_to_mu_and_logvar(gen):
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.2, -0.4]], requires_grad=True)
    z = rsample(diagonal_gaussian(mu, logvar), generator=gen(3))
    z.sum().backward()
    sigma = torch.exp(0.5 * logvar.detach())
    eps = (z.detach() - mu.detach()) / sigma  # the noise behind the draw
    # dz/dmu = 1 and dz/dlogvar = 1/2 exp(logvar / 2) eps.
    torch.testing.assert_close(mu.grad, torch.ones(1, 2))
    torch.testing.assert_close(logvar.grad, 0.5 * sigma * eps)


@pytest.mark.parametrize("wrapped", [False, True], ids=["normal", "independent"])
def test_rsample_passes_gradients_to_loc_and_scale(gen, wrapped):
    loc = torch.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    scale = torch.tensor([[0.3, 1.0, 2.5]], requires_grad=True)
    q = Normal(loc, scale)
    z = rsample(Independent(q, 1) if wrapped else q, (4,), generator=gen(1))
    z.sum().backward()
    eps = (z.detach() - loc.detach()) / scale.detach()  # (4, 1, 3)
    # dz/dloc = 1 and dz/dscale = eps, summed over the 4 draws
    torch.testing.assert_close(loc.grad, torch.full((1, 3), 4.0))
    torch.testing.assert_close(scale.grad, eps.sum(0))


def test_rsample_passes_gradients_to_a_multivariate_normal(gen):
    base = full_gaussian(batch=2, d=3, seed=4)
    loc = base.loc.clone().requires_grad_(True)
    scale_tril = base.scale_tril.clone().requires_grad_(True)
    q = MultivariateNormal(loc, scale_tril=scale_tril)
    z = rsample(q, (5,), generator=gen(2))
    z.sum().backward()
    eps = torch.linalg.solve_triangular(
        scale_tril.detach(), (z.detach() - loc.detach()).unsqueeze(-1), upper=False
    ).squeeze(-1)  # (5, 2, 3)
    torch.testing.assert_close(loc.grad, torch.full((2, 3), 5.0, dtype=DTYPE))
    # d(sum_i (L eps)_i) / dL_ij = eps_j, summed over the draws; only the lower
    # triangle is a parameter of the draw
    expected = torch.tril(eps.sum(0).unsqueeze(-2).expand(2, 3, 3))
    torch.testing.assert_close(torch.tril(scale_tril.grad), expected)


# --- sampling a likelihood ------------------------------------------------------------


def test_sample_draws_bernoulli_pixels_with_the_right_mean(gen):
    probs = torch.tensor([0.05, 0.3, 0.5, 0.9]).reshape(1, 1, 2, 2)
    p = bernoulli_images(torch.logit(probs))
    n = 20_000
    draws = sample(p, (n,), generator=gen())
    assert draws.shape == (n, 1, 1, 2, 2) and not draws.requires_grad
    assert ((draws == 0) | (draws == 1)).all()
    standard_error = (probs * (1 - probs) / n).sqrt()
    assert ((draws.mean(0) - probs).abs() < 5 * standard_error).all()


def test_sample_of_a_bernoulli_is_reproducible_from_the_generator_seed(gen):
    p = bernoulli_images(torch.zeros(3, 1, 4, 4))
    first, again, other = (sample(p, generator=gen(s)) for s in (1, 1, 2))
    assert first.shape == (3, 1, 4, 4)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_sample_of_a_normal_likelihood_has_its_mean_and_std_and_no_graph(gen):
    mean = torch.tensor([0.1, 0.5, 0.9, 0.7]).reshape(1, 1, 2, 2).requires_grad_(True)
    p = normal_images(mean, 0.2)
    n = 20_000
    draws = sample(p, (n,), generator=gen())
    assert draws.shape == (n, 1, 1, 2, 2) and not draws.requires_grad
    assert ((draws.mean(0) - mean.detach()).abs() < 5 * 0.2 / n**0.5).all()
    assert ((draws.std(0) - 0.2).abs() < 5 * 0.2 / (2 * n) ** 0.5).all()
    assert torch.equal(sample(p, generator=gen(4)), sample(p, generator=gen(4)))


# --- select ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bernoulli", "normal"])
def test_select_picks_each_batch_entry_from_the_chosen_distribution(gen, kind):
    g = gen()
    a, b = torch.rand(4, 2, 3, 3, generator=g), torch.rand(4, 2, 3, 3, generator=g)
    if kind == "bernoulli":
        p_a, p_b = bernoulli_images(4 * a - 2), bernoulli_images(4 * b - 2)
    else:
        p_a, p_b = normal_images(a, 0.3), normal_images(b, 0.6)
    condition = torch.tensor([True, False, False, True])
    chosen = select(condition, p_a, p_b)
    assert isinstance(chosen, Independent)
    assert chosen.batch_shape == (4,) and chosen.event_shape == (2, 3, 3)
    expected_mean = torch.where(condition.view(4, 1, 1, 1), p_a.mean, p_b.mean)
    torch.testing.assert_close(chosen.mean, expected_mean, rtol=0, atol=0)
    x = torch.bernoulli(torch.full((4, 2, 3, 3), 0.5), generator=g)
    torch.testing.assert_close(
        chosen.log_prob(x),
        torch.where(condition, p_a.log_prob(x), p_b.log_prob(x)),
        rtol=0,
        atol=1e-6,
    )


def test_select_with_a_constant_condition_is_one_of_the_two(gen):
    g = gen()
    p_a = normal_images(torch.rand(3, 1, 2, 2, generator=g), 0.3)
    p_b = normal_images(torch.rand(3, 1, 2, 2, generator=g), 0.6)
    everywhere = select(torch.ones(3, dtype=torch.bool), p_a, p_b)
    nowhere = select(torch.zeros(3, dtype=torch.bool), p_a, p_b)
    assert torch.equal(everywhere.mean, p_a.mean)
    assert torch.equal(everywhere.stddev, p_a.stddev)
    assert torch.equal(nowhere.mean, p_b.mean)
    assert torch.equal(nowhere.stddev, p_b.stddev)


def test_select_refuses_a_bernoulli_and_a_normal():
    p_a = bernoulli_images(torch.zeros(2, 1, 2, 2))
    p_b = normal_images(torch.zeros(2, 1, 2, 2), 1.0)
    with pytest.raises(
        TypeError, match="select needs two Bernoulli or two Normal likelihoods"
    ):
        select(torch.tensor([True, False]), p_a, p_b)


# --- the log-probability of some pixels -----------------------------------------------


@pytest.fixture(params=["bernoulli", "normal"])
def likelihood_and_images(request, gen):
    g = gen()
    if request.param == "bernoulli":
        p = bernoulli_images(2 * torch.randn(3, 2, 4, 4, generator=g))
        x = torch.bernoulli(torch.full((3, 2, 4, 4), 0.4), generator=g)
    else:
        p = normal_images(torch.rand(3, 2, 4, 4, generator=g), 0.25)
        x = torch.rand(3, 2, 4, 4, generator=g)
    return p, x


def test_masked_log_prob_of_every_pixel_is_the_log_prob(likelihood_and_images):
    p, x = likelihood_and_images
    every = torch.ones(3, 2, 4, 4, dtype=torch.bool)
    torch.testing.assert_close(masked_log_prob(p, x, every), p.log_prob(x))
    torch.testing.assert_close(masked_log_prob(p, x), p.log_prob(x))
    assert masked_log_prob(p, x).shape == (3,)


def test_masked_log_prob_sums_the_chosen_pixels(gen, likelihood_and_images):
    p, x = likelihood_and_images
    where = torch.rand(3, 2, 4, 4, generator=gen(9)) < 0.4
    per_pixel = p.base_dist.log_prob(x)
    expected = torch.stack([per_pixel[i][where[i]].sum() for i in range(3)])
    torch.testing.assert_close(masked_log_prob(p, x, where), expected)


def test_masked_log_prob_with_one_mask_for_every_channel(gen, likelihood_and_images):
    p, x = likelihood_and_images
    where = torch.rand(3, 1, 4, 4, generator=gen(9)) < 0.5
    expected = masked_log_prob(p, x, where.expand(3, 2, 4, 4))
    torch.testing.assert_close(masked_log_prob(p, x, where), expected)


def test_masked_log_prob_of_complementary_masks_adds_up_to_the_log_prob(
    gen, likelihood_and_images
):
    # Pixels are independent given z: log p(x) = log p(x_obs) + log p(x_missing).
    p, x = likelihood_and_images
    where = torch.rand(3, 2, 4, 4, generator=gen(2)) < 0.3
    torch.testing.assert_close(
        masked_log_prob(p, x, where) + masked_log_prob(p, x, ~where), p.log_prob(x)
    )
    nothing = torch.zeros(3, 2, 4, 4, dtype=torch.bool)
    assert torch.equal(masked_log_prob(p, x, nothing), torch.zeros(3))


@pytest.mark.parametrize(
    "where",
    [torch.ones(3, 2, 4, 4), torch.ones(2, 2, 4, 4, dtype=torch.bool)],
    ids=["float-mask", "wrong-batch"],
)
def test_masked_log_prob_rejects_a_bad_mask(where):
    p = bernoulli_images(torch.zeros(3, 2, 4, 4))
    with pytest.raises(ValueError, match="where must be a bool tensor"):
        masked_log_prob(p, torch.zeros(3, 2, 4, 4), where)


def test_masked_log_prob_needs_an_independent_distribution():
    with pytest.raises(TypeError, match="p must be an Independent distribution"):
        masked_log_prob(Bernoulli(logits=torch.zeros(3, 4)), torch.zeros(3, 4))


# --- the log-probability of some pixels of a model's likelihood -----------------------


MODELS = {
    "bernoulli": {},
    "gaussian-learned": {"likelihood": "gaussian"},
    "gaussian-fixed": {"likelihood": "gaussian", "gaussian_logvar": -2.0},
}


@pytest.mark.parametrize("kwargs", MODELS.values(), ids=MODELS.keys())
def test_masked_log_prob_of_the_model_is_the_loss_of_the_selected_pixels(
    make_vae, gen, y, kwargs
):
    model = make_vae(**kwargs)
    where = random_mask(y, 0.5, gen(23))
    z = torch.randn(3, 3, generator=gen(24))
    with torch.no_grad():
        likelihood = model.likelihood(z)
        got = masked_log_prob(likelihood, y, where)
        if model.config.likelihood == "bernoulli":
            expected = bernoulli_log_likelihood(model.decoder(z), y, where)
        else:
            logvar = (
                model.x_logvar
                if model.x_logvar is not None
                else kwargs["gaussian_logvar"]
            )
            mean = torch.sigmoid(model.decoder(z))
            expected = gaussian_log_likelihood(mean, logvar, y, where)
        everything = likelihood.log_prob(y)
    assert got.shape == (3,)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(masked_log_prob(likelihood, y), everything)
    torch.testing.assert_close(
        masked_log_prob(likelihood, y, torch.ones_like(where)), everything
    )
    if model.config.likelihood == "bernoulli":  # log-probabilities are negative
        assert (got > everything).all()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"likelihood": "gaussian", "gaussian_logvar": -2.0}],
    ids=["bernoulli", "gaussian"],
)
def test_masked_log_prob_of_the_observed_pixels_ignores_the_missing_ones(
    make_vae, gen, y, mask, kwargs
):
    """log p(y_obs | z), pixel by pixel: Bernoulli on the decoder's logits, or Gaussian
    around its mean with standard deviation exp(-2 / 2); the values in the holes do not
    matter."""
    model = make_vae(**kwargs)
    z = torch.randn(3, 3, generator=gen(25))
    with torch.no_grad():
        likelihood = model.likelihood(z)
        out = model.decoder(z)
    if model.config.likelihood == "bernoulli":
        per_pixel = y * F.logsigmoid(out) + (1 - y) * F.logsigmoid(-out)
    else:
        per_pixel = Normal(torch.sigmoid(out), math.exp(-1.0)).log_prob(y)
    by_hand = torch.stack([per_pixel[b][~mask[b]].sum() for b in range(3)])
    got = masked_log_prob(likelihood, y, ~mask)
    torch.testing.assert_close(got, by_hand, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(
        masked_log_prob(likelihood, hide(y, mask, 0.0), ~mask),
        masked_log_prob(likelihood, hide(y, mask, 1.0), ~mask),
    )
