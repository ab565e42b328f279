"""Chapter 2's exercise checkers: the KL between two diagonal Gaussians and the best
diagonal (mean-field) q. Each accepts right answers written two ways and names the
typical mistakes; the answers are written from the exercises' statements."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vae_lib.checks import (
    ExerciseCheckError,
    check_gaussian_kl_diagonal,
    check_mean_field,
)

# --- the KL between two diagonal Gaussians --------------------------------------------


def kl_by_formula(mu_q, logvar_q, mu_p, logvar_p):
    var_q, var_p = logvar_q.exp(), logvar_p.exp()
    terms = logvar_p - logvar_q + (var_q + (mu_q - mu_p) ** 2) / var_p - 1
    return 0.5 * terms.sum(dim=1)


def kl_by_torch(mu_q, logvar_q, mu_p, logvar_p):
    q = Normal(mu_q, (0.5 * logvar_q).exp())
    p = Normal(mu_p, (0.5 * logvar_p).exp())
    return kl_divergence(q, p).sum(dim=-1)


@pytest.mark.parametrize("answer", [kl_by_formula, kl_by_torch])
def test_check_gaussian_kl_diagonal_accepts_right_answers(answer, capsys):
    assert check_gaussian_kl_diagonal(answer) is True
    assert "Correct" in capsys.readouterr().out


def swapped(mu_q, logvar_q, mu_p, logvar_p):
    return kl_by_formula(mu_p, logvar_p, mu_q, logvar_q)


def against_standard_normal(mu_q, logvar_q, mu_p, logvar_p):
    return 0.5 * (mu_q**2 + logvar_q.exp() - 1 - logvar_q).sum(dim=1)


def mean_not_scaled(mu_q, logvar_q, mu_p, logvar_p):
    var_q, var_p = logvar_q.exp(), logvar_p.exp()
    terms = logvar_p - logvar_q + var_q / var_p + (mu_q - mu_p) ** 2 - 1
    return 0.5 * terms.sum(dim=1)


def logvar_as_log_std(mu_q, logvar_q, mu_p, logvar_p):
    return kl_by_formula(mu_q, 2 * logvar_q, mu_p, 2 * logvar_p)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (swapped, "other direction"),
        (against_standard_normal, "N(0, I)"),
        (mean_not_scaled, "divided by p's variance"),
        (logvar_as_log_std, "log(s^2)"),
        (lambda *a: 2 * kl_by_formula(*a), "factor 1/2"),
        (lambda *a: -kl_by_formula(*a), "never negative"),
        (lambda *a: kl_by_formula(*a) + 0.01, "E_q[(z - mu_p)^2]"),
    ],
)
def test_check_gaussian_kl_diagonal_names_the_mistake(answer, hint):
    with pytest.raises(ExerciseCheckError, match="not yet|differ") as error:
        check_gaussian_kl_diagonal(answer)
    assert hint in str(error.value)


def test_check_gaussian_kl_diagonal_wants_one_value_per_example():
    with pytest.raises(ExerciseCheckError, match="one value per example"):
        check_gaussian_kl_diagonal(lambda *a: kl_by_formula(*a).sum())


def test_check_gaussian_kl_diagonal_refuses_answers_that_change_their_inputs():
    def in_place(mu_q, logvar_q, mu_p, logvar_p):
        result = kl_by_formula(mu_q, logvar_q, mu_p, logvar_p)
        mu_q.zero_()
        return result

    with pytest.raises(ExerciseCheckError, match="in place"):
        check_gaussian_kl_diagonal(in_place)


def test_check_gaussian_kl_diagonal_draws_new_gaussians_every_call():
    seen = []

    def recording(mu_q, logvar_q, mu_p, logvar_p):
        seen.append(mu_q.clone())
        return kl_by_formula(mu_q, logvar_q, mu_p, logvar_p)

    check_gaussian_kl_diagonal(recording)
    check_gaussian_kl_diagonal(recording)
    assert not torch.equal(seen[0], seen[2])


# --- the best diagonal q ----------------------------------------------------------


def mean_field_closed_form(mean, precision):
    return mean.clone(), 1 / precision.diagonal()


def mean_field_by_conditionals(mean, precision):
    # the variance of z_i given all the other coordinates, from the covariance
    covariance = torch.linalg.inv(precision)
    variances = []
    for i in range(len(mean)):
        rest = [j for j in range(len(mean)) if j != i]
        c_ir = covariance[i, rest]
        c_rr = covariance[rest][:, rest]
        variances.append(covariance[i, i] - c_ir @ torch.linalg.solve(c_rr, c_ir))
    return mean + 0.0, torch.stack(variances)


@pytest.mark.parametrize("answer", [mean_field_closed_form, mean_field_by_conditionals])
def test_check_mean_field_accepts_right_answers(answer, capsys):
    assert check_mean_field(answer) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda m, p: (m.clone(), torch.linalg.inv(p).diagonal()),
            "marginal variances",
        ),
        (lambda m, p: (m.clone(), p.diagonal().clone()), "reciprocals"),
        (lambda m, p: (m.clone(), (1 / p.diagonal()).sqrt()), "standard deviations"),
        (lambda m, p: (torch.zeros_like(m), 1 / p.diagonal()), "mean is wrong"),
        (lambda m, p: (p @ m, 1 / p.diagonal()), "mean is wrong"),
        (lambda m, p: (m.clone(), 2 / p.diagonal()), "variances are wrong"),
    ],
)
def test_check_mean_field_names_the_mistake(answer, hint):
    with pytest.raises(ExerciseCheckError, match="not yet") as error:
        check_mean_field(answer)
    assert hint in str(error.value)


def test_check_mean_field_wants_a_pair():
    with pytest.raises(ExerciseCheckError, match="pair"):
        check_mean_field(lambda m, p: 1 / p.diagonal())


def test_check_mean_field_refuses_answers_that_change_their_inputs():
    def in_place(mean, precision):
        variances = 1 / precision.diagonal()
        precision.zero_()
        return mean.clone(), variances

    with pytest.raises(ExerciseCheckError, match="in place"):
        check_mean_field(in_place)
