"""vae_lib.estimators: score-function and pathwise gradient estimates of d/dtheta
E_q[f(z)].

The test objective f(z) = ||z - c||^2 has E_q[f] = ||mu - c||^2 + sum_j std_j^2
under q = N(mu, diag(std)^2), so the exact gradient is 2 (mu - c) for mu and 2 std^2
for log_std. Per-sample estimates are also checked against autograd applied to log q
and to z(mu, log_std).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vae_lib.estimators import pathwise_gradients, score_function_gradients

DTYPE = torch.float64
MU = torch.tensor([0.5, -1.0, 2.0], dtype=DTYPE)
LOG_STD = torch.tensor([-0.5, 0.0, 0.3], dtype=DTYPE)
C = torch.tensor([1.0, 0.0, -1.0], dtype=DTYPE)
ESTIMATORS = {"score": score_function_gradients, "pathwise": pathwise_gradients}


def squared_distance(z: torch.Tensor) -> torch.Tensor:
    return ((z - C) ** 2).sum(dim=-1)


def exact_gradient() -> torch.Tensor:
    return torch.cat([2 * (MU - C), 2 * torch.exp(2 * LOG_STD)])


def exact_mean_of_f() -> float:
    return float(((MU - C) ** 2).sum() + torch.exp(2 * LOG_STD).sum())


def estimates(
    estimator, num_samples: int, seed: int, f=squared_distance, **kwargs
) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return estimator(
        f, MU.clone(), LOG_STD.clone(), num_samples, generator=generator, **kwargs
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
    # The reference itself: differentiate E_q[f] = ||mu - c||^2 + sum exp(2 log_std)
    # with autograd.
    mu, log_std = MU.clone().requires_grad_(True), LOG_STD.clone().requires_grad_(True)
    (((mu - C) ** 2).sum() + torch.exp(2 * log_std).sum()).backward()
    torch.testing.assert_close(torch.cat([mu.grad, log_std.grad]), exact_gradient())


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
    # 2 exp(-1) = 0.74, so a missing factor 2 or a dropped term would be seen
    # (observed: 0.45 and 0.34).
    assert 5 * (per_sample.std(0) / math.sqrt(num_samples)).max() < 0.5


def test_pathwise_has_lower_variance_than_the_score_function_here():
    score = estimates(score_function_gradients, 20_000, seed=2).var(dim=0)
    pathwise = estimates(pathwise_gradients, 20_000, seed=2).var(dim=0)
    assert (pathwise < score).all()
    assert pathwise.sum() < 0.2 * score.sum()  # observed: about 35 times lower


def test_a_constant_baseline_keeps_score_function_unbiased_and_reduces_its_variance():
    plain = estimates(score_function_gradients, 20_000, seed=3)
    with_baseline = estimates(
        score_function_gradients, 20_000, seed=3, baseline=exact_mean_of_f()
    )
    assert_unbiased(with_baseline, exact_gradient())
    assert (with_baseline.var(0) < plain.var(0)).all()
    assert with_baseline.var(0).sum() < 0.5 * plain.var(0).sum()  # observed: 0.39 times


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
    # d/dlog_std E[a . z] = 0: the log_std part is noisy but centred.
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
        return Normal(params[:3], params[3:].exp()).log_prob(z).sum(-1)  # (6,)

    # (6, 6)
    score = torch.autograd.functional.jacobian(log_q, torch.cat([MU, LOG_STD]))
    torch.testing.assert_close(
        per_sample, (squared_distance(z) - 1.25).unsqueeze(1) * score
    )


def test_pathwise_rows_are_autograd_through_the_reparameterization():
    f, seen = recording(squared_distance)
    per_sample = estimates(pathwise_gradients, 6, seed=10, f=f)
    (z,) = seen
    eps = (z - MU) / LOG_STD.exp()  # the noise behind each row
    for row, e in zip(per_sample, eps):
        grad = torch.autograd.functional.jacobian(
            lambda p, e=e: squared_distance(p[:3] + p[3:].exp() * e),
            torch.cat([MU, LOG_STD]),
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
    ("mu", "log_std"),
    [
        (torch.zeros(2, 3), torch.zeros(2, 3)),  # batched
        (torch.zeros(3), torch.zeros(4)),  # mismatched lengths
        (torch.zeros(3), torch.zeros(3, 1)),
        (torch.zeros(()), torch.zeros(())),  # scalars
    ],
    ids=["2d", "lengths", "column", "scalar"],
)
def test_bad_shapes_raise(name, mu, log_std):
    with pytest.raises(ValueError, match=r"mu and log_std must both be \(d,\)"):
        ESTIMATORS[name](squared_distance, mu, log_std, 4)


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("num_samples", [0, -2, 3.0])
def test_bad_num_samples_raises(name, num_samples):
    with pytest.raises(ValueError, match="num_samples"):
        ESTIMATORS[name](squared_distance, MU, LOG_STD, num_samples)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_non_tensor_parameters_raise(name):
    with pytest.raises(TypeError):
        ESTIMATORS[name](squared_distance, [0.0, 1.0], LOG_STD[:2], 4)
