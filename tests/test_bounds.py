"""vae_lib.bounds: the ELBO, the IWAE bound and the log-likelihood estimate.

Ground truth comes from the linear-Gaussian model, whose log p(x) and posterior are
exact, and from a closed-form ELBO for Gaussian q written out below; the small VAE
checks the chunked log-likelihood estimate. Every Monte Carlo comparison is seeded and
its margin is stated in standard errors.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from vae_lib.bounds import (
    bits_per_dim,
    elbo_estimate,
    elbo_from_log_weights,
    iwae_bound,
    iwae_from_log_weights,
    log_importance_weights,
    log_likelihood_estimate,
)
from vae_lib.distributions import rsample
from vae_lib.linear_gaussian import LinearGaussianModel
from vae_lib.models import VAE

DTYPE = torch.float64


@pytest.fixture
def model() -> LinearGaussianModel:
    return LinearGaussianModel.random(data_dim=5, latent_dim=3, sigma=0.6, seed=2)


@pytest.fixture
def x(model, gen) -> torch.Tensor:
    return model.sample(6, generator=gen(3))


def diagonal_q(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, std), 1)


def mismatched_q(
    model: LinearGaussianModel, x: torch.Tensor, shift: float = 1.0, scale: float = 1.0
) -> Independent:
    """A diagonal Gaussian off the exact posterior: the mean moved by ``shift``
    posterior standard deviations, the standard deviations multiplied by ``scale``, the
    correlations dropped."""
    posterior = model.posterior(x)
    return diagonal_q(
        posterior.mean + shift * posterior.stddev, scale * posterior.stddev
    )


def closed_form_elbo(
    model: LinearGaussianModel,
    x: torch.Tensor,
    mean: torch.Tensor,
    covariance: torch.Tensor,
) -> torch.Tensor:
    """E_q[log p(x, z)] + H[q] for q = N(mean (B, d), covariance (B, d, d)), written out
    term by term."""
    d, D, s2 = model.latent_dim, model.data_dim, model.sigma**2
    trace_s = covariance.diagonal(dim1=-2, dim2=-1).sum(-1)
    expected_log_prior = -0.5 * (
        d * math.log(2 * math.pi) + (mean**2).sum(-1) + trace_s
    )
    residual = x - mean @ model.W.T - model.b
    # tr(W S W^T)
    trace_wsw = torch.einsum("ij,bjk,ik->b", model.W, covariance, model.W)
    expected_log_lik = -0.5 * (
        D * math.log(2 * math.pi * s2) + ((residual**2).sum(-1) + trace_wsw) / s2
    )
    entropy = 0.5 * (d * math.log(2 * math.pi * math.e) + torch.logdet(covariance))
    return expected_log_prior + expected_log_lik + entropy


# --- the ELBO and IWAE against exact log p(x) -----------------------------------------


@pytest.mark.parametrize("num_samples", [1, 7])
@pytest.mark.parametrize("bound", [elbo_estimate, iwae_bound], ids=["elbo", "iwae"])
def test_bounds_are_tight_when_q_is_the_exact_posterior(
    model, x, gen, bound, num_samples
):
    """With q = p(z | x) every log weight equals log p(x), so any K gives log p(x)
    exactly."""
    got = bound(model.log_joint, x, model.posterior(x), num_samples, generator=gen())
    assert got.shape == (6,)
    torch.testing.assert_close(got, model.log_marginal(x), rtol=0, atol=1e-10)


def random_gaussian(d: int, batch: int, seed: int) -> MultivariateNormal:
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(batch, d, generator=generator, dtype=DTYPE)
    factor = torch.randn(batch, d, d, generator=generator, dtype=DTYPE) * 0.4
    return MultivariateNormal(
        mean, covariance_matrix=factor @ factor.mT + 0.2 * torch.eye(d, dtype=DTYPE)
    )


def test_closed_form_elbo_reference_is_log_px_at_the_posterior(model, x):
    # The reference below is only as good as this formula: at q = p(z | x) the ELBO is
    # log p(x).
    posterior = model.posterior(x)
    elbo = closed_form_elbo(model, x, posterior.mean, posterior.covariance_matrix)
    torch.testing.assert_close(elbo, model.log_marginal(x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_px_is_elbo_plus_kl_to_the_posterior(model, x, seed):
    """log p(x) = ELBO(q) + KL(q || p(z | x)) for an arbitrary Gaussian q, in closed
    form."""
    q = random_gaussian(model.latent_dim, x.shape[0], seed)
    elbo = closed_form_elbo(model, x, q.mean, q.covariance_matrix)
    kl = kl_divergence(q, model.posterior(x))
    assert (kl > 0.1).all()  # q really is off the posterior
    torch.testing.assert_close(elbo + kl, model.log_marginal(x), rtol=0, atol=1e-8)


@pytest.mark.parametrize("q_kind", ["full", "diagonal"])
def test_elbo_estimate_is_unbiased_for_the_closed_form_elbo(model, x, gen, q_kind):
    q = random_gaussian(model.latent_dim, x.shape[0], seed=4)
    if q_kind == "diagonal":
        q = diagonal_q(q.mean, q.variance.sqrt())
    covariance = (
        q.covariance_matrix if q_kind == "full" else torch.diag_embed(q.variance)
    )
    expected = closed_form_elbo(model, x, q.mean, covariance)
    k = 20_000
    z = rsample(q, (k,), generator=gen(5))
    log_weights = log_importance_weights(model.log_joint, x, q, z)
    estimate = elbo_estimate(model.log_joint, x, q, k, generator=gen(5))
    # the same draws
    torch.testing.assert_close(estimate, log_weights.mean(0), rtol=0, atol=1e-12)
    standard_error = log_weights.std(0) / math.sqrt(k)
    assert ((estimate - expected).abs() < 5 * standard_error).all()
    # ... and log p(x) lies above it by KL(q || p(z|x)), far more than the Monte Carlo
    # error.
    assert ((model.log_marginal(x) - estimate) > 20 * standard_error).all()


def test_iwae_rises_with_k_towards_log_px(gen):
    """E[ELBO] <= E[IWAE_10] <= E[IWAE_100] <= E[IWAE_1000] <= log p(x) for a mismatched
    diagonal q.

    Each IWAE_K is computed once for 1000 examples, paired by example, and each
    difference of the averages is required to exceed 4 of its standard errors. With
    these seeds the observed margins are about 24, 17, 10 and 11 standard errors
    (ELBO/10, 10/100, 100/1000, 1000/log p(x)).
    """
    model = LinearGaussianModel.random(data_dim=5, latent_dim=4, sigma=0.5, seed=0)
    x = model.sample(1000, generator=gen(1))
    q = mismatched_q(model, x, shift=1.0, scale=1.0)
    log_px = model.log_marginal(x)
    g = gen(0)
    gaps = [elbo_estimate(model.log_joint, x, q, 1, generator=g) - log_px]
    gaps += [
        iwae_bound(model.log_joint, x, q, k, generator=g) - log_px
        for k in (10, 100, 1000)
    ]
    gaps.append(torch.zeros_like(log_px))  # log p(x) itself
    for lower, higher in itertools.pairwise(gaps):
        difference = higher - lower
        standard_error = difference.std() / math.sqrt(difference.numel())
        assert difference.mean() > 4 * standard_error


def test_iwae_is_at_least_the_elbo_of_the_same_draws(model, x, gen):
    """Jensen: log mean_k w_k >= mean_k log w_k for every example and every set of
    draws."""
    q = mismatched_q(model, x, shift=0.5, scale=1.5)
    elbo = elbo_estimate(model.log_joint, x, q, 50, generator=gen(3))
    iwae = iwae_bound(model.log_joint, x, q, 50, generator=gen(3))
    assert (iwae > elbo).all()


def test_iwae_with_one_sample_is_the_elbo_of_the_same_draw(model, x, gen):
    q = mismatched_q(model, x)
    elbo = elbo_estimate(model.log_joint, x, q, 1, generator=gen(7))
    iwae = iwae_bound(model.log_joint, x, q, 1, generator=gen(7))
    torch.testing.assert_close(iwae, elbo, rtol=0, atol=1e-12)
    # the seed does matter
    assert not torch.allclose(
        iwae_bound(model.log_joint, x, q, 1, generator=gen(8)), elbo
    )


def weights_of_fresh_draws(log_joint, x, q, num_samples, **draw):
    """log_importance_weights of ``num_samples`` draws made here, for the tests that
    treat it like the two bounds."""
    z = rsample(q, (num_samples,), **draw)
    return log_importance_weights(log_joint, x, q, z)


@pytest.mark.parametrize(
    "bound",
    [elbo_estimate, iwae_bound, weights_of_fresh_draws],
    ids=["elbo", "iwae", "weights"],
)
def test_bounds_follow_their_generator_and_else_the_global_seed(model, x, gen, bound):
    q = mismatched_q(model, x)
    first = bound(model.log_joint, x, q, 4, generator=gen(2))
    assert torch.equal(bound(model.log_joint, x, q, 4, generator=gen(2)), first)
    assert not torch.equal(bound(model.log_joint, x, q, 4, generator=gen(3)), first)
    torch.manual_seed(4)
    unseeded = bound(model.log_joint, x, q, 4)
    torch.manual_seed(4)
    assert torch.equal(bound(model.log_joint, x, q, 4), unseeded)


def test_log_importance_weights_are_log_joint_minus_log_q(model, x, gen):
    q = mismatched_q(model, x)
    seen = []

    def recording_log_joint(x, z):
        seen.append(z.detach().clone())
        return model.log_joint(x, z)

    draws = rsample(q, (4,), generator=gen(1))
    got = log_importance_weights(recording_log_joint, x, q, draws)
    (z,) = seen  # the draws log_joint was given
    assert torch.equal(z, draws)
    prior = Normal(0.0, 1.0).log_prob(z).sum(-1)
    likelihood = Normal(z @ model.W.T + model.b, model.sigma).log_prob(x).sum(-1)
    assert got.shape == (4, 6)
    torch.testing.assert_close(
        got, prior + likelihood - q.log_prob(z), rtol=0, atol=1e-10
    )


# --- the log-weight reductions --------------------------------------------------------


def test_iwae_from_log_weights_is_log_mean_exp():
    log_weights = (
        torch.randn(9, 4, generator=torch.Generator().manual_seed(0), dtype=DTYPE) * 3
    )
    expected = torch.log(torch.exp(log_weights).mean(dim=0))  # safe at this scale
    got = iwae_from_log_weights(log_weights)
    assert got.shape == (4,)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        got, torch.logsumexp(log_weights, 0) - math.log(9), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("offset", [-1000.0, -30_000.0, 800.0])
def test_iwae_from_log_weights_is_stable_for_extreme_log_weights(offset):
    """exp(-1000) underflows and exp(800) overflows; shifting by a constant must shift
    the result."""
    moderate = torch.randn(
        9, 4, generator=torch.Generator().manual_seed(1), dtype=DTYPE
    )
    got = iwae_from_log_weights(moderate + offset)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(
        got, torch.log(torch.exp(moderate).mean(0)) + offset, rtol=0, atol=1e-9
    )


def test_iwae_from_log_weights_is_stable_in_float32():
    moderate = torch.randn(9, 4, generator=torch.Generator().manual_seed(1))
    got = iwae_from_log_weights(moderate - 1000.0)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    torch.testing.assert_close(
        got + 1000.0, torch.log(torch.exp(moderate).mean(0)), rtol=0, atol=1e-3
    )


def test_iwae_of_equal_weights_is_that_weight():
    torch.testing.assert_close(
        iwae_from_log_weights(torch.full((100, 3), -2.5, dtype=DTYPE)),
        torch.full((3,), -2.5, dtype=DTYPE),
        rtol=0,
        atol=1e-12,
    )


def test_elbo_from_log_weights_is_the_mean_over_samples():
    log_weights = torch.tensor([[1.0, -4.0], [2.0, 0.0], [6.0, -2.0]], dtype=DTYPE)
    expected = torch.tensor([3.0, -2.0], dtype=DTYPE)
    torch.testing.assert_close(
        elbo_from_log_weights(log_weights), expected, rtol=0, atol=0
    )


@pytest.mark.parametrize("reduce", [elbo_from_log_weights, iwae_from_log_weights])
def test_reductions_reject_non_tensors(reduce):
    with pytest.raises(TypeError):
        reduce([[0.0, 1.0]])


# --- gradients and bad input ----------------------------------------------------------


def test_gradients_flow_through_iwae_bound_and_match_finite_differences(model, x, gen):
    """The bound is drawn with rsample, so for a fixed seed it is a smooth function of
    q's parameters."""
    start = model.posterior(x)
    mu = (start.mean + 0.5).clone().requires_grad_(True)
    log_std = (start.stddev.log() - 0.2).clone().requires_grad_(True)

    def bound(m, s):
        q = diagonal_q(m, s.exp())
        return iwae_bound(model.log_joint, x, q, 8, generator=gen(11)).sum()

    bound(mu, log_std).backward()
    assert mu.grad is not None and log_std.grad is not None
    assert mu.grad.abs().min() > 0 and log_std.grad.abs().min() > 0
    h = 1e-6
    with torch.no_grad():
        for parameter, grad in ((mu, mu.grad), (log_std, log_std.grad)):
            for index in [(0, 0), (3, 2), (5, 1)]:
                step = torch.zeros_like(parameter)
                step[index] = h
                plus = (
                    bound(mu + step, log_std)
                    if parameter is mu
                    else bound(mu, log_std + step)
                )
                minus = (
                    bound(mu - step, log_std)
                    if parameter is mu
                    else bound(mu, log_std - step)
                )
                assert (plus - minus) / (2 * h) == pytest.approx(
                    grad[index].item(), rel=1e-5, abs=1e-6
                )


def test_gradients_flow_through_the_elbo_estimate(model, x):
    mu = model.posterior(x).mean.clone().requires_grad_(True)
    elbo_estimate(
        model.log_joint, x, diagonal_q(mu, torch.ones_like(mu)), 3
    ).sum().backward()
    assert (
        mu.grad is not None
        and torch.isfinite(mu.grad).all()
        and mu.grad.abs().sum() > 0
    )


@pytest.mark.parametrize(
    "bound",
    [elbo_estimate, iwae_bound, weights_of_fresh_draws],
    ids=["elbo", "iwae", "weights"],
)
@pytest.mark.parametrize(
    "make_q",
    [
        lambda mean: diagonal_q(
            mean[:-1], torch.ones_like(mean[:-1])
        ),  # batch (B - 1,)
        lambda mean: diagonal_q(
            torch.cat([mean, mean]), torch.ones(12, 3, dtype=DTYPE)
        ),  # batch (2 B,)
        lambda mean: Normal(mean, torch.ones_like(mean)),  # batch (B, d), no event
        lambda mean: diagonal_q(mean[0], torch.ones(3, dtype=DTYPE)),  # no batch at all
    ],
    ids=["too-few", "too-many", "not-independent", "unbatched"],
)
def test_q_whose_batch_shape_does_not_match_x_raises(model, x, bound, make_q):
    q = make_q(model.posterior(x).mean)
    with pytest.raises(ValueError, match=r"q must have batch shape \(6,\)"):
        bound(model.log_joint, x, q, 2)


@pytest.mark.parametrize("num_samples", [0, -1, 2.0, True])
@pytest.mark.parametrize("bound", [elbo_estimate, iwae_bound])
def test_bad_num_samples_raises(model, x, bound, num_samples):
    with pytest.raises(ValueError, match="num_samples"):
        bound(model.log_joint, x, model.posterior(x), num_samples)


# --- the log-likelihood estimate ------------------------------------------------------


class ExactLinearGaussian(nn.Module):
    """The linear-Gaussian model dressed as a module for log_likelihood_estimate,
    with q = p(z | x)."""

    def __init__(self, model: LinearGaussianModel) -> None:
        super().__init__()
        self.model = model
        # gives the estimate a device to work on
        self.anchor = nn.Parameter(torch.zeros(()))

    def posterior(self, x):
        return self.model.posterior(x)

    def log_joint(self, x, z):
        return self.model.log_joint(x, z)


@pytest.mark.parametrize(
    ("batch_size", "chunk_size"), [(100, 40), (4, 7), (1, 3), (3, 40)]
)
def test_log_likelihood_estimate_with_the_exact_posterior_is_log_px(
    model, gen, batch_size, chunk_size
):
    """Constant log weights: any chunking and batching must combine them into log p(x)
    exactly (up to the float32 running sum)."""
    x = model.sample(10, generator=gen(1))
    got = log_likelihood_estimate(
        ExactLinearGaussian(model), x, 40, batch_size=batch_size, chunk_size=chunk_size
    )
    assert got.shape == (10,)
    torch.testing.assert_close(
        got.double(), model.log_marginal(x), rtol=1e-6, atol=1e-5
    )


def test_log_likelihood_estimate_with_a_mismatched_q_is_close_to_log_px(model, gen):
    x = model.sample(200, generator=gen(4))
    module = ExactLinearGaussian(model)
    module.posterior = lambda v: mismatched_q(model, v, shift=0.5, scale=1.3)
    got = log_likelihood_estimate(
        module, x, 2000, batch_size=200, chunk_size=500
    ).double()
    elbo = elbo_estimate(
        model.log_joint,
        x,
        mismatched_q(model, x, shift=0.5, scale=1.3),
        200,
        generator=gen(0),
    )
    gap, elbo_gap = got - model.log_marginal(x), elbo - model.log_marginal(x)
    # Observed: the ELBO is 0.65 nats below log p(x) on average; the K = 2000 estimate
    # is within 0.017 nats per example and 0.0006 on average (standard error of that
    # average about 0.0015).
    assert elbo_gap.mean() < -0.3
    assert gap.abs().mean() < 0.05 and gap.mean().abs() < 0.01


@pytest.fixture
def vae(make_vae) -> VAE:
    return make_vae(
        image_shape=(1, 4, 4), latent_dim=2, hidden_dims=(8,), likelihood="bernoulli"
    )


@pytest.fixture
def binary_images(gen) -> torch.Tensor:
    return torch.bernoulli(torch.full((6, 1, 4, 4), 0.3), generator=gen(1))


def test_log_likelihood_estimate_has_one_value_per_image_and_no_graph(
    vae, binary_images
):
    got = log_likelihood_estimate(vae, binary_images, 16, batch_size=4, chunk_size=8)
    assert got.shape == (6,) and got.dtype == torch.float32
    assert not got.requires_grad and torch.isfinite(got).all()
    # A log-probability of 16 binary pixels is negative; this untrained decoder is close
    # to uniform, 16 log(1/2) = -11.1 nats, so -40 would mean a broken estimate.
    assert (got < 0).all() and (got > -40).all()


# Each case must reproduce the single-pass estimate (one batch, one chunk of all K
# samples). chunk_size 8 and 16 draw blocks of 6 x 8 x 2 = 96 normals, a multiple of 16;
# the others do not.
@pytest.mark.parametrize("chunk_size", [8, 16, 5, 7, 1])
def test_log_likelihood_estimate_does_not_depend_on_the_chunk_size(
    vae, binary_images, chunk_size
):
    reference = log_likelihood_estimate(
        vae, binary_images, 64, batch_size=6, chunk_size=64, seed=3
    )
    got = log_likelihood_estimate(
        vae, binary_images, 64, batch_size=6, chunk_size=chunk_size, seed=3
    )
    torch.testing.assert_close(got, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("batch_size", "chunk_size"), [(100, 64), (1, 64), (3, 64), (4, 64), (2, 16)]
)
def test_log_likelihood_estimate_does_not_depend_on_the_batch_size(
    vae, binary_images, batch_size, chunk_size
):
    reference = log_likelihood_estimate(
        vae, binary_images, 64, batch_size=6, chunk_size=64, seed=3
    )
    got = log_likelihood_estimate(
        vae, binary_images, 64, batch_size=batch_size, chunk_size=chunk_size, seed=3
    )
    torch.testing.assert_close(got, reference, rtol=0, atol=1e-5)


def test_log_likelihood_estimate_is_above_the_elbo_on_average(vae, binary_images, gen):
    estimate = log_likelihood_estimate(
        vae, binary_images, 512, batch_size=6, chunk_size=128
    )
    generator = gen(3)
    with torch.no_grad():
        # (200, 6)
        draws = torch.stack(
            [torch.sub(*vae.elbo_terms(binary_images, generator)) for _ in range(200)]
        )
    elbo = draws.mean(0)  # closed-form KL, 200-sample reconstruction term
    standard_error = (draws.var(0) / 200).sum().sqrt() / 6
    # Observed: the estimate is about 0.13 nats above the ELBO per image, about
    # 13 standard errors.
    assert estimate.mean() - elbo.mean() > 5 * standard_error


def test_log_likelihood_estimate_is_reproducible_for_a_seed(vae, binary_images):
    a = log_likelihood_estimate(
        vae, binary_images, 32, batch_size=4, chunk_size=8, seed=5
    )
    torch.manual_seed(123)  # the global generator must not matter
    b = log_likelihood_estimate(
        vae, binary_images, 32, batch_size=4, chunk_size=8, seed=5
    )
    c = log_likelihood_estimate(
        vae, binary_images, 32, batch_size=4, chunk_size=8, seed=6
    )
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_log_likelihood_estimate_leaves_the_global_generator_alone(vae, binary_images):
    torch.manual_seed(42)
    state = torch.get_rng_state()
    log_likelihood_estimate(vae, binary_images, 16, chunk_size=8)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_log_likelihood_estimate_restores_the_mode(vae, binary_images, training):
    vae.train(training)
    seen = []
    vae.encoder.register_forward_hook(
        lambda module, args, out: seen.append(module.training)
    )
    log_likelihood_estimate(vae, binary_images, 8, chunk_size=4)
    assert seen == [False]  # evaluated in eval mode ...
    assert vae.training is training  # ... and put back as it was
    assert all(m.training is training for m in vae.modules())


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_log_likelihood_estimate_restores_the_mode_after_an_error(vae, training):
    vae.train(training)
    with pytest.raises(ValueError):
        log_likelihood_estimate(vae, torch.zeros(2, 1, 5, 5), 8)  # wrong image shape
    assert vae.training is training


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 0}, "num_samples"),
        ({"num_samples": 2.5}, "num_samples"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -3}, "batch_size"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 1.0}, "chunk_size"),
    ],
)
def test_log_likelihood_estimate_rejects_bad_arguments(
    vae, binary_images, kwargs, message
):
    with pytest.raises(ValueError, match=message):
        log_likelihood_estimate(vae, binary_images, **{"num_samples": 8, **kwargs})


@pytest.mark.parametrize(
    "images",
    [torch.zeros(2, 16), torch.zeros(2, 1, 4, 5), torch.full((2, 1, 4, 4), 2.0)],
    ids=["flat", "wrong-size", "out-of-range"],
)
def test_log_likelihood_estimate_rejects_bad_images(vae, images):
    with pytest.raises(ValueError):
        log_likelihood_estimate(vae, images, 8)


# --- bits per dimension ---------------------------------------------------------------


@pytest.mark.parametrize("nats", [100.0, 0.0, 784 * math.log(2)])
def test_bits_per_dim_of_a_float(nats):
    got = bits_per_dim(nats, 784)
    assert isinstance(got, float)
    assert got == pytest.approx(nats / 784 / math.log(2), rel=1e-12)


def test_bits_per_dim_of_one_bit_per_pixel_is_one():
    # 784 fair coin flips: -log p = 784 log 2 nats = 784 bits = 1 bit per dimension.
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bits_per_dim_of_a_tensor(dtype):
    nats = torch.tensor([0.0, 88.0, 1234.5], dtype=dtype)
    got = bits_per_dim(nats, 3 * 32 * 32)
    assert isinstance(got, torch.Tensor) and got.shape == (3,) and got.dtype == dtype
    torch.testing.assert_close(got, nats / (3072 * math.log(2)))
    torch.testing.assert_close(got * 3072, nats / math.log(2))  # bits per example


@pytest.mark.parametrize("num_dims", [0, -784, 784.0, True, None])
def test_bits_per_dim_rejects_bad_num_dims(num_dims):
    with pytest.raises(ValueError, match="num_dims"):
        bits_per_dim(100.0, num_dims)
