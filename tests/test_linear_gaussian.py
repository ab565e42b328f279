"""vae_lib.linear_gaussian: the exact marginal, posterior and joint against independent
computations.

The references here are built by hand -- a MultivariateNormal from the covariance
written out column by column, a log-density from slogdet and solve, and numerical
integration over a fine grid of z when the latent space is one-dimensional -- never from
the model's own formulas.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from vae_lib.linear_gaussian import LinearGaussianModel

DTYPE = torch.float64


@pytest.fixture
def model() -> LinearGaussianModel:
    """D = 4 observed, d = 2 latent dimensions."""
    return LinearGaussianModel.random(data_dim=4, latent_dim=2, sigma=0.7, seed=3)


@pytest.fixture
def x(model, gen) -> torch.Tensor:
    return torch.randn(5, model.data_dim, generator=gen(11), dtype=DTYPE) * 2


def hand_log_joint(
    model: LinearGaussianModel, x: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """log N(z; 0, I) + log N(x; W z + b, sigma^2 I) from torch.distributions.Normal:
    z (..., B, d) -> (..., B)."""
    prior = (
        Normal(torch.zeros((), dtype=DTYPE), torch.ones((), dtype=DTYPE))
        .log_prob(z)
        .sum(-1)
    )
    mean = torch.einsum("Dd,...d->...D", model.W, z) + model.b
    return prior + Normal(mean, model.sigma).log_prob(x).sum(-1)


def grid_integrals(
    model: LinearGaussianModel,
    x: torch.Tensor,
    num_points: int = 40_001,
    half_width: float = 12.0,
):
    """For d = 1: log p(x), E[z | x] and Var[z | x] by the trapezoidal rule on a fine
    grid of z."""
    assert model.latent_dim == 1
    z = torch.linspace(-half_width, half_width, num_points, dtype=DTYPE)  # (G,)
    # (G, B)
    log_joint = hand_log_joint(model, x, z.view(-1, 1, 1).expand(-1, x.shape[0], 1))
    shift = log_joint.max(dim=0).values
    density = torch.exp(log_joint - shift)  # p(x, z) / exp(shift)
    mass = torch.trapezoid(density, z, dim=0)
    mean = torch.trapezoid(density * z.unsqueeze(1), z, dim=0) / mass
    variance = torch.trapezoid(density * (z.unsqueeze(1) - mean) ** 2, z, dim=0) / mass
    return torch.log(mass) + shift, mean, variance


# --- the marginal p(x) ----------------------------------------------------------------


def test_log_marginal_matches_a_multivariate_normal_built_by_hand(model, x):
    covariance = model.sigma**2 * torch.eye(model.data_dim, dtype=DTYPE)
    for j in range(model.latent_dim):  # Cov(W z) = sum_j w_j w_j^T for z ~ N(0, I)
        covariance = covariance + torch.outer(model.W[:, j], model.W[:, j])
    expected = MultivariateNormal(model.b, covariance_matrix=covariance).log_prob(x)
    got = model.log_marginal(x)
    assert got.shape == (5,)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_log_marginal_matches_the_gaussian_density_formula(model, x):
    covariance = model.W @ model.W.T + model.sigma**2 * torch.eye(
        model.data_dim, dtype=DTYPE
    )
    residual = (x - model.b).T  # (D, B)
    mahalanobis = (residual * torch.linalg.solve(covariance, residual)).sum(0)
    log_det = torch.linalg.slogdet(covariance).logabsdet
    expected = -0.5 * (model.data_dim * math.log(2 * math.pi) + log_det + mahalanobis)
    torch.testing.assert_close(model.log_marginal(x), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("data_dim", [1, 2], ids=["D=1", "D=2"])
def test_log_marginal_matches_numerical_integration_over_z(gen, data_dim):
    model = LinearGaussianModel.random(
        data_dim=data_dim, latent_dim=1, sigma=0.6, seed=5
    )
    x = model.sample(4, generator=gen(6))
    log_px, _, _ = grid_integrals(model, x)
    torch.testing.assert_close(model.log_marginal(x), log_px, rtol=0, atol=1e-8)


def test_log_marginal_accepts_float32_x_and_computes_in_float64(model, x):
    got = model.log_marginal(x.float())
    assert got.dtype == DTYPE
    torch.testing.assert_close(
        got, model.log_marginal(x.float().double()), rtol=0, atol=1e-12
    )


# --- the joint and the posterior ------------------------------------------------------


def test_log_joint_matches_torch_distributions(model, x, gen):
    z = torch.randn(3, 5, model.latent_dim, generator=gen(2), dtype=DTYPE)
    got = model.log_joint(x, z)
    assert got.shape == (3, 5)
    torch.testing.assert_close(got, hand_log_joint(model, x, z), rtol=0, atol=1e-10)


def test_posterior_matches_numerical_integration_in_one_dimension(gen):
    model = LinearGaussianModel.random(data_dim=2, latent_dim=1, sigma=0.8, seed=7)
    # not only typical points
    x = model.sample(4, generator=gen(8)) + torch.tensor([1.5, -1.0], dtype=DTYPE)
    _, mean, variance = grid_integrals(model, x)
    posterior = model.posterior(x)
    torch.testing.assert_close(posterior.mean.squeeze(1), mean, rtol=0, atol=1e-8)
    torch.testing.assert_close(
        posterior.covariance_matrix[:, 0, 0], variance, rtol=0, atol=1e-8
    )


def test_posterior_satisfies_bayes_rule_for_every_z(model, x, gen):
    """log p(x, z) - log p(z | x) = log p(x), the same value for any z."""
    z = 3 * torch.randn(7, 5, model.latent_dim, generator=gen(4), dtype=DTYPE)
    posterior = model.posterior(x)
    log_evidence = hand_log_joint(model, x, z) - posterior.log_prob(z)  # (7, 5)
    assert log_evidence.std(dim=0).max() < 1e-10  # constant in z ...
    # = log p(x)
    torch.testing.assert_close(
        log_evidence, model.log_marginal(x).expand(7, -1), rtol=0, atol=1e-10
    )


def test_posterior_has_one_gaussian_per_example(model, x):
    posterior = model.posterior(x)
    assert isinstance(posterior, MultivariateNormal)
    assert posterior.batch_shape == (5,) and posterior.event_shape == (
        model.latent_dim,
    )
    # The covariance does not depend on x: (I + W^T W / sigma^2)^{-1}, written out
    # independently.
    precision = (
        torch.eye(model.latent_dim, dtype=DTYPE) + model.W.T @ model.W / model.sigma**2
    )
    for covariance in posterior.covariance_matrix:
        torch.testing.assert_close(
            covariance @ precision,
            torch.eye(model.latent_dim, dtype=DTYPE),
            rtol=0,
            atol=1e-10,
        )


def test_posterior_mean_is_linear_in_x(model, gen):
    x0 = model.b.unsqueeze(0)  # at x = b the posterior mean is 0 (the prior's mean)
    zero = torch.zeros(1, model.latent_dim, dtype=DTYPE)
    torch.testing.assert_close(model.posterior(x0).mean, zero, rtol=0, atol=1e-12)
    a, b = torch.randn(2, 1, model.data_dim, generator=gen(9), dtype=DTYPE)
    mean = lambda v: model.posterior(v).mean
    torch.testing.assert_close(mean(a + b - x0), mean(a) + mean(b), rtol=0, atol=1e-10)


# --- sampling -------------------------------------------------------------------------


def test_sample_has_the_marginal_mean_and_covariance(gen):
    model = LinearGaussianModel.random(data_dim=3, latent_dim=2, sigma=0.5, seed=1)
    n = 100_000
    samples = model.sample(n, generator=gen(2))
    assert samples.shape == (n, 3) and samples.dtype == DTYPE
    covariance = model.W @ model.W.T + model.sigma**2 * torch.eye(3, dtype=DTYPE)
    variances = covariance.diagonal()
    # Standard errors of the sample mean and of each sample covariance entry (Gaussian
    # data).
    mean_se = (variances / n).sqrt()
    cov_se = (
        (variances.unsqueeze(0) * variances.unsqueeze(1) + covariance**2) / n
    ).sqrt()
    assert ((samples.mean(0) - model.b).abs() < 5 * mean_se).all()
    assert ((torch.cov(samples.T) - covariance).abs() < 5 * cov_se).all()
    # sharp enough to see a missing noise term sigma^2 = 0.25
    assert cov_se.max() < 0.02


def test_sample_is_reproducible_for_a_generator_seed(gen):
    model = LinearGaussianModel.random(data_dim=3, latent_dim=2, seed=1)
    first = model.sample(10, generator=gen(4))
    assert torch.equal(model.sample(10, generator=gen(4)), first)
    assert not torch.equal(model.sample(10, generator=gen(5)), first)
    torch.manual_seed(6)  # without a generator: torch's global one
    unseeded = model.sample(10)
    torch.manual_seed(6)
    assert torch.equal(model.sample(10), unseeded)


def test_random_is_reproducible_and_float64():
    a, b = (
        LinearGaussianModel.random(4, 2, seed=0),
        LinearGaussianModel.random(4, 2, seed=0),
    )
    assert torch.equal(a.W, b.W) and torch.equal(a.b, b.b)
    assert a.W.shape == (4, 2) and a.b.shape == (4,) and a.W.dtype == DTYPE
    assert (a.data_dim, a.latent_dim) == (4, 2)
    assert not torch.equal(a.W, LinearGaussianModel.random(4, 2, seed=1).W)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("W", "b", "sigma"),
    [
        (torch.zeros(4), torch.zeros(4), 1.0),  # W not a matrix
        (torch.zeros(4, 2), torch.zeros(3), 1.0),  # b does not match W's rows
        (torch.zeros(4, 2), torch.zeros(4, 1), 1.0),  # b not a vector
        (torch.zeros(4, 2), torch.zeros(4), 0.0),  # sigma not positive
        (torch.zeros(4, 2), torch.zeros(4), -1.0),
    ],
    ids=["W-1d", "b-length", "b-2d", "sigma-zero", "sigma-negative"],
)
def test_constructor_rejects_bad_parameters(W, b, sigma):
    with pytest.raises(ValueError):
        LinearGaussianModel(W, b, sigma)


def test_constructor_rejects_non_tensors():
    with pytest.raises(TypeError):
        LinearGaussianModel([[1.0]], torch.zeros(1), 1.0)


@pytest.mark.parametrize(("data_dim", "latent_dim"), [(0, 2), (3, 0), (3.0, 2)])
def test_random_rejects_bad_sizes(data_dim, latent_dim):
    with pytest.raises(ValueError):
        LinearGaussianModel.random(data_dim, latent_dim)


@pytest.mark.parametrize(
    "shape", [(5,), (5, 3), (5, 5), (1, 5, 4)], ids=["1d", "too-few", "too-many", "3d"]
)
@pytest.mark.parametrize("method", ["log_marginal", "posterior"])
def test_x_of_the_wrong_shape_raises(model, shape, method):
    with pytest.raises(ValueError, match=r"x must be shaped \(B, 4\)"):
        getattr(model, method)(torch.zeros(shape, dtype=DTYPE))


@pytest.mark.parametrize(
    "shape",
    [(5, 2), (3, 4, 2), (3, 5, 3), (1, 3, 5, 2)],
    ids=["2d", "wrong-B", "wrong-d", "4d"],
)
def test_log_joint_rejects_z_of_the_wrong_shape(model, x, shape):
    with pytest.raises(ValueError, match=r"z must be shaped \(K, 5, 2\)"):
        model.log_joint(x, torch.zeros(shape, dtype=DTYPE))


def test_exact_elbo_is_log_px_minus_the_kl_to_the_posterior(model, x):
    from torch.distributions import kl_divergence

    posterior = model.posterior(x)
    d = model.latent_dim
    q = MultivariateNormal(
        posterior.mean + 0.7,
        covariance_matrix=0.3
        * torch.eye(d, dtype=torch.float64).expand(x.shape[0], d, d),
    )
    elbo = model.exact_elbo(x, q)
    torch.testing.assert_close(
        elbo + kl_divergence(q, posterior), model.log_marginal(x), rtol=0, atol=1e-9
    )
    torch.testing.assert_close(
        model.exact_elbo(x, posterior), model.log_marginal(x), rtol=0, atol=1e-9
    )
    assert (elbo < model.log_marginal(x)).all()


def test_exact_elbo_agrees_with_a_monte_carlo_average(model, x):
    posterior = model.posterior(x)
    q = MultivariateNormal(
        posterior.mean - 0.2, covariance_matrix=posterior.covariance_matrix * 1.5
    )
    torch.manual_seed(0)
    z = q.sample((200_000,))  # (S, B, d)
    log_w = model.log_joint(x, z) - q.log_prob(z)
    standard_error = log_w.std(dim=0) / math.sqrt(z.shape[0])
    assert (
        (log_w.mean(dim=0) - model.exact_elbo(x, q)).abs() < 5 * standard_error
    ).all()


def test_exact_elbo_rejects_a_q_of_the_wrong_size(model, x):
    q = MultivariateNormal(
        torch.zeros(x.shape[0] + 1, model.latent_dim, dtype=torch.float64),
        covariance_matrix=torch.eye(model.latent_dim, dtype=torch.float64),
    )
    with pytest.raises(ValueError, match="q must have mean shaped"):
        model.exact_elbo(x, q)


def test_toy_2d_posterior_is_strongly_correlated():
    model = LinearGaussianModel.toy_2d()
    assert (model.data_dim, model.latent_dim) == (3, 2)
    cov = model.posterior(torch.zeros(1, 3, dtype=torch.float64)).covariance_matrix[0]
    std = cov.diagonal().sqrt()
    torch.testing.assert_close(
        std, torch.tensor([0.6286, 0.6148], dtype=torch.float64), atol=1e-4, rtol=0
    )
    assert cov[0, 1] / std.prod() < -0.8
