"""vae_lib.estimators: score-function and pathwise gradient estimates of d/dpsi
E_q[f(z)], psi = (mu, logvar); the VAE surrogate loss; the Gumbel-softmax; and the
figures of vae_lib.estimator_plots and the traced run of vae_lib.trace (Chapter 3).

The test objective f(z) = ||z - c||^2 has E_q[f] = ||mu - c||^2 + sum_j s_j^2
under q = N(mu, diag(s^2)), so the exact gradient is 2 (mu - c) for mu and s^2 = exp
(logvar) for logvar. Per-sample estimates are also checked against autograd applied to
log q and to z(mu, logvar).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vae_lib import VAEConfig, build_model
from vae_lib.estimator_plots import plot_estimate_histograms, plot_paths, plot_simplex
from vae_lib.estimators import (
    ESTIMATORS as ESTIMATOR_NAMES,
)
from vae_lib.estimators import (
    gumbel_softmax,
    lower_variance,
    pathwise_gradients,
    per_sample_gradients,
    score_function_gradients,
    score_function_loss,
    squared_deviations,
)
from vae_lib.trace import fit_traced, mean_kl

DTYPE = torch.float64
MU = torch.tensor([0.5, -1.0, 2.0], dtype=DTYPE)
LOGVAR = torch.tensor([-1.0, 0.0, 0.6], dtype=DTYPE)
C = torch.tensor([1.0, 0.0, -1.0], dtype=DTYPE)
ESTIMATORS = {"score": score_function_gradients, "pathwise": pathwise_gradients}


def squared_distance(z: torch.Tensor) -> torch.Tensor:
    return ((z - C) ** 2).sum(dim=-1)


def exact_gradient() -> torch.Tensor:
    return torch.cat([2 * (MU - C), torch.exp(LOGVAR)])


def exact_mean_of_f() -> float:
    return float(((MU - C) ** 2).sum() + torch.exp(LOGVAR).sum())


def estimates(
    estimator, num_samples: int, seed: int, f=squared_distance, **kwargs
) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return estimator(
        f, MU.clone(), LOGVAR.clone(), num_samples, generator=generator, **kwargs
    )


def assert_unbiased(
    per_sample: torch.Tensor, expected: torch.Tensor, z_limit: float = 5.0
) -> None:
    standard_error = per_sample.std(dim=0) / math.sqrt(per_sample.shape[0])
    assert (
        (per_sample.mean(dim=0) - expected).abs() < z_limit * standard_error
    ).all(), (
        f"mean {per_sample.mean(0)}, expected {expected}, "
        f"standard error {standard_error}"
    )


def test_exact_gradient_matches_autograd_of_the_closed_form_expectation():
    # The reference itself: differentiate E_q[f] = ||mu - c||^2 + sum exp(logvar)
    # with autograd.
    mu, logvar = MU.clone().requires_grad_(True), LOGVAR.clone().requires_grad_(True)
    (((mu - C) ** 2).sum() + torch.exp(logvar).sum()).backward()
    torch.testing.assert_close(torch.cat([mu.grad, logvar.grad]), exact_gradient())


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimates_are_shaped_samples_by_two_d(name):
    got = estimates(ESTIMATORS[name], 17, seed=0)
    assert got.shape == (17, 6) and got.dtype == DTYPE
    assert not got.requires_grad


@pytest.mark.parametrize(
    ("name", "num_samples"), [("score", 200_000), ("pathwise", 20_000)]
)
def test_estimators_are_unbiased(name, num_samples):
    per_sample = estimates(ESTIMATORS[name], num_samples, seed=1)
    assert_unbiased(per_sample, exact_gradient())
    # The check is sharp: 5 standard errors stay below the smallest exact component,
    # exp(-1) = 0.37, so a missing factor 2 or a dropped term would be seen.
    assert 5 * (per_sample.std(0) / math.sqrt(num_samples)).max() < 0.37


def test_pathwise_has_lower_variance_than_the_score_function_here():
    score = estimates(score_function_gradients, 20_000, seed=2).var(dim=0)
    pathwise = estimates(pathwise_gradients, 20_000, seed=2).var(dim=0)
    assert (pathwise < score).all()
    assert pathwise.sum() < 0.2 * score.sum()


def test_a_constant_baseline_keeps_score_function_unbiased_and_reduces_its_variance():
    plain = estimates(score_function_gradients, 20_000, seed=3)
    with_baseline = estimates(
        score_function_gradients, 20_000, seed=3, baseline=exact_mean_of_f()
    )
    assert_unbiased(with_baseline, exact_gradient())
    assert (with_baseline.var(0) < plain.var(0)).all()
    assert with_baseline.var(0).sum() < 0.5 * plain.var(0).sum()


def test_any_constant_baseline_keeps_the_score_function_unbiased():
    # A poor baseline costs variance, never bias.
    assert_unbiased(
        estimates(score_function_gradients, 20_000, seed=4, baseline=-7.0),
        exact_gradient(),
    )


def test_the_baseline_subtracts_baseline_times_the_score():
    plain = estimates(score_function_gradients, 50, seed=5)
    shifted = estimates(score_function_gradients, 50, seed=5, baseline=2.5)
    score = estimates(
        score_function_gradients,
        50,
        seed=5,
        f=lambda z: torch.ones(z.shape[0], dtype=DTYPE),
    )
    torch.testing.assert_close(plain - shifted, 2.5 * score)


def test_pathwise_on_a_linear_function_has_no_variance_in_mu():
    a = torch.tensor([1.5, -2.0, 0.25], dtype=DTYPE)
    per_sample = estimates(pathwise_gradients, 1000, seed=6, f=lambda z: z @ a + 3.0)
    torch.testing.assert_close(per_sample[:, :3], a.expand(1000, 3), rtol=0, atol=0)
    assert per_sample[:, :3].var(0).max() == 0
    # d/dlogvar E[a . z] = 0: the logvar part is noisy but centred.
    assert_unbiased(per_sample[:, 3:], torch.zeros(3, dtype=DTYPE))
    assert per_sample[:, 3:].var(0).min() > 0


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimates_are_reproducible_for_a_generator_seed(name):
    a, b, c = (estimates(ESTIMATORS[name], 10, seed=s) for s in (7, 7, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)


# --- each row against autograd, for the z that f was actually given -------------------


def recording(f):
    seen = []

    def wrapped(z):
        seen.append(z.detach().clone())
        return f(z)

    return wrapped, seen


def test_score_function_rows_are_f_times_the_autograd_score():
    f, seen = recording(squared_distance)
    per_sample = estimates(score_function_gradients, 6, seed=9, f=f, baseline=1.25)
    (z,) = seen  # (6, 3): the draws

    def log_q(params):
        return Normal(params[:3], (params[3:] / 2).exp()).log_prob(z).sum(-1)  # (6,)

    # (6, 6)
    score = torch.autograd.functional.jacobian(log_q, torch.cat([MU, LOGVAR]))
    torch.testing.assert_close(
        per_sample, (squared_distance(z) - 1.25).unsqueeze(1) * score
    )


def test_pathwise_rows_are_autograd_through_the_reparameterization():
    f, seen = recording(squared_distance)
    per_sample = estimates(pathwise_gradients, 6, seed=10, f=f)
    (z,) = seen
    eps = (z - MU) / (LOGVAR / 2).exp()  # the noise behind each row
    for row, e in zip(per_sample, eps):
        grad = torch.autograd.functional.jacobian(
            lambda p, e=e: squared_distance(p[:3] + (p[3:] / 2).exp() * e),
            torch.cat([MU, LOGVAR]),
        )
        torch.testing.assert_close(row, grad)


def test_score_function_never_differentiates_f():
    # f may be a black box (a simulator, a rounding step): its values are all the
    # estimator uses.
    def non_differentiable(z):
        assert not z.requires_grad
        return torch.round(z).sum(-1)

    got = estimates(score_function_gradients, 100, seed=11, f=non_differentiable)
    assert got.shape == (100, 6) and torch.isfinite(got).all()


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize(
    ("mu", "logvar"),
    [
        (torch.zeros(2, 3), torch.zeros(2, 3)),  # batched
        (torch.zeros(3), torch.zeros(4)),  # mismatched lengths
        (torch.zeros(3), torch.zeros(3, 1)),
        (torch.zeros(()), torch.zeros(())),  # scalars
    ],
    ids=["2d", "lengths", "column", "scalar"],
)
def test_bad_shapes_raise(name, mu, logvar):
    with pytest.raises(ValueError, match=r"mu and logvar must both be \(d,\)"):
        ESTIMATORS[name](squared_distance, mu, logvar, 4)


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("num_samples", [0, -2, 3.0])
def test_bad_num_samples_raises(name, num_samples):
    with pytest.raises(ValueError, match="num_samples"):
        ESTIMATORS[name](squared_distance, MU, LOGVAR, num_samples)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_non_tensor_parameters_raise(name):
    with pytest.raises(TypeError):
        ESTIMATORS[name](squared_distance, [0.0, 1.0], LOGVAR[:2], 4)


# --- squared_deviations ---------------------------------------------------------------


def test_squared_deviations_average_to_the_trace_of_the_sample_covariance():
    values = torch.randn(
        50, 3, generator=torch.Generator().manual_seed(12), dtype=DTYPE
    )
    got = squared_deviations(values)
    assert got.shape == (50,)
    torch.testing.assert_close(got.mean(), torch.cov(values.T).trace())
    one = values[:, :1]
    torch.testing.assert_close(squared_deviations(one).mean(), one.var())


@pytest.mark.parametrize(
    "bad", [torch.zeros(5), torch.zeros(1, 3), torch.zeros(2, 2, 2)]
)
def test_squared_deviations_needs_a_matrix_of_two_rows_or_more(bad):
    with pytest.raises(ValueError, match="values must be"):
        squared_deviations(bad)


# --- gumbel_softmax -------------------------------------------------------------------


def test_gumbel_softmax_rows_lie_on_the_simplex_and_follow_the_logits():
    logits = torch.tensor([0.5, 0.0, -1.0], dtype=DTYPE, requires_grad=True)
    y = gumbel_softmax(logits, 0.5, 4000, generator=torch.Generator().manual_seed(13))
    assert y.shape == (4000, 3) and y.dtype == DTYPE
    torch.testing.assert_close(y.sum(dim=1), torch.ones(4000, dtype=DTYPE))
    assert (y > 0).all()
    (grad,) = torch.autograd.grad(y[:, 0].sum(), logits)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_cold_gumbel_softmax_is_the_gumbel_max_draw_of_the_categorical():
    # Gumbel-max: argmax(logits + gamma) ~ Categorical(softmax(logits)); at a tiny tau
    # the relaxed sample is that one-hot vector.
    logits = torch.tensor([1.0, 0.0, -0.5, 0.3], dtype=DTYPE)
    y = gumbel_softmax(
        logits, 1e-3, 200_000, generator=torch.Generator().manual_seed(14)
    )
    assert (y.max(dim=1).values > 0.99).float().mean() > 0.99
    frequencies = torch.bincount(y.argmax(dim=1), minlength=4).double() / len(y)
    pi = torch.softmax(logits, dim=0)
    standard_error = (pi * (1 - pi) / len(y)).sqrt()
    assert ((frequencies - pi).abs() < 5 * standard_error).all()


def test_gumbel_softmax_accepts_one_row_of_logits_per_sample():
    logits = torch.zeros(6, 3, dtype=DTYPE)
    y = gumbel_softmax(logits, 1.0, 6, generator=torch.Generator().manual_seed(15))
    assert y.shape == (6, 3)


@pytest.mark.parametrize(
    ("logits", "tau", "num_samples", "match"),
    [
        (torch.zeros(3), 0.0, 4, "tau"),
        (torch.zeros(3), -1.0, 4, "tau"),
        (torch.zeros(3), 1.0, 0, "num_samples"),
        (torch.zeros(5, 3), 1.0, 4, "logits must be"),
        (torch.zeros(2, 2, 3), 1.0, 2, "logits must be"),
    ],
)
def test_gumbel_softmax_bad_input(logits, tau, num_samples, match):
    with pytest.raises(ValueError, match=match):
        gumbel_softmax(logits, tau, num_samples)


# --- score_function_loss on a small VAE -----------------------------------------------


def small_vae():
    torch.manual_seed(16)
    return build_model(VAEConfig(latent_dim=2, hidden_dims=(8,)))


def binary_images(n: int = 6) -> torch.Tensor:
    generator = torch.Generator().manual_seed(17)
    return torch.bernoulli(torch.full((n, 1, 28, 28), 0.3), generator=generator)


def test_score_function_loss_reads_as_the_negative_elbo_with_the_same_noise():
    model, x = small_vae(), binary_images()
    torch.manual_seed(18)
    surrogate = score_function_loss(model, x)
    torch.manual_seed(18)
    torch.testing.assert_close(surrogate, model.loss(x), rtol=1e-5, atol=1e-4)


def test_score_function_loss_gives_the_encoder_the_score_function_gradient():
    # One image, one draw: the encoder's gradient is -(f - b) grad log q(z) + grad KL.
    model, x = small_vae(), binary_images(1)
    torch.manual_seed(19)
    loss = score_function_loss(model, x).sum()
    torch.manual_seed(19)
    q = model.posterior(x)
    z = (q.mean + q.stddev * torch.randn_like(q.mean)).detach()
    with torch.no_grad():
        f_minus_b = model.likelihood(z).log_prob(x) - model.likelihood(q.mean).log_prob(
            x
        )
    kl = torch.distributions.kl_divergence(q, model.prior())
    reference = (-f_minus_b * q.log_prob(z) + kl).sum()
    weight = model.encoder[-1].weight
    got = torch.autograd.grad(loss, weight)[0]
    expected = torch.autograd.grad(reference, weight)[0]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


# --- trace.fit_traced -----------------------------------------------------------------


def test_fit_traced_records_one_entry_per_step_and_lowers_the_loss():
    model = small_vae()
    x = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(20))
    trace = fit_traced(
        model, x, lambda m, b: m.loss(b), x[:8], num_epochs=2, batch_size=10, lr=1e-2
    )
    assert len(trace.loss) == len(trace.kl) == len(trace.gradient) == 8
    assert trace.infinite == [0] * 8 and not trace.frozen_moved
    assert trace.loss[-1] < trace.loss[0]
    assert mean_kl(model, x[:8]) == pytest.approx(trace.kl[-1])


def test_fit_traced_bad_input():
    model, x = small_vae(), torch.rand(4, 1, 28, 28)
    with pytest.raises(ValueError, match="num_epochs"):
        fit_traced(model, x, lambda m, b: m.loss(b), x, num_epochs=0)
    with pytest.raises(ValueError):
        fit_traced(model, x[0], lambda m, b: m.loss(b), x, num_epochs=1)


# --- estimator_plots ------------------------------------------------------------------


def test_plot_functions_draw_and_validate():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    generator = torch.Generator().manual_seed(21)
    ax = plot_estimate_histograms(
        {"a": torch.randn(500, generator=generator), "b": torch.randn(500)}, exact=0.0
    )
    assert len(ax.patches) == 2 and len(ax.lines) == 1
    path = torch.randn(30, 2, generator=generator).cumsum(0)
    ax = plot_paths(
        {"walk": path},
        log_density=lambda p: -(p**2).sum(dim=1),
        marks={"origin": torch.zeros(2)},
    )
    assert len(ax.lines) == 4  # the path, its start, its end, the mark
    y = torch.softmax(torch.randn(100, 3, generator=generator), dim=1)
    ax = plot_simplex(y, title="t")
    assert ax.get_title() == "t" and len(ax.collections) == 1
    with pytest.raises(ValueError, match=r"\(S, 3\)"):
        plot_simplex(torch.rand(5, 4))
    with pytest.raises(ValueError, match="sum to 1"):
        plot_simplex(torch.rand(5, 3) + 1)
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        plot_paths({"bad": torch.zeros(5, 3)})
    with pytest.raises(ValueError, match=r"\(S,\)"):
        plot_estimate_histograms({"bad": torch.zeros(5, 2)}, exact=0.0)
    plt.close("all")


# --- per_sample_gradients and lower_variance -----------------------------------------


def test_per_sample_gradients_dispatches_with_the_same_noise_for_every_estimator():
    for name, estimator in [
        ("score", score_function_gradients),
        ("pathwise", pathwise_gradients),
    ]:
        got = per_sample_gradients(name, squared_distance, MU, LOGVAR, 8, seed=3)
        generator = torch.Generator().manual_seed(3)
        expected = estimator(squared_distance, MU, LOGVAR, 8, generator=generator)
        torch.testing.assert_close(got, expected)
    plain = per_sample_gradients("score", squared_distance, MU, LOGVAR, 8, baseline=2.0)
    with_b = per_sample_gradients(
        "score + baseline", squared_distance, MU, LOGVAR, 8, baseline=2.0
    )
    assert not torch.equal(plain, with_b)  # "score" ignores the baseline
    assert ESTIMATOR_NAMES == ("score", "score + baseline", "pathwise")


def test_per_sample_gradients_refuses_an_unknown_estimator():
    with pytest.raises(ValueError, match="name must be one of"):
        per_sample_gradients("reinforce", squared_distance, MU, LOGVAR, 8)


def test_lower_variance_claims_a_clear_difference_and_rejects_a_reversed_one():
    generator = torch.Generator().manual_seed(22)
    small = squared_deviations(torch.randn(2000, 1, generator=generator, dtype=DTYPE))
    large = squared_deviations(
        3 * torch.randn(2000, 1, generator=generator, dtype=DTYPE)
    )
    comparison = lower_variance(small, large, "small", "large")
    assert comparison.z > 2 and comparison.mean > 0
    with pytest.raises(AssertionError, match="large has a lower variance"):
        lower_variance(large, small, "large", "small")
