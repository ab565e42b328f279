"""Chapter 2's exercise checkers: the KL between two diagonal Gaussians, the best
diagonal (mean-field) q and the importance-weighted bound. Each accepts right answers
written in different ways and names the typical mistakes; the answers are written from
the exercises' statements."""

from __future__ import annotations

import functools
import math
import re

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vae_lib import bounds
from vae_lib.bounds import iwae_from_log_weights
from vae_lib.checks import (
    ExerciseCheckError,
    check_gaussian_kl_diagonal,
    check_iwae_bound,
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


# --- the importance-weighted bound ----------------------------------------------------


def iwae_shifted(log_w):
    """log (1/K) sum_k exp(w_k), shifting by the largest w_k first."""
    top = log_w.max(dim=0).values
    return top + torch.log(torch.exp(log_w - top).mean(dim=0))


def iwae_logsumexp(log_w):
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def iwae_logsumexp_of_shifted(log_w):
    return torch.logsumexp(log_w - math.log(len(log_w)), dim=0)


@pytest.mark.parametrize(
    "answer", [iwae_shifted, iwae_logsumexp, iwae_logsumexp_of_shifted]
)
def test_check_iwae_bound_accepts_right_answers(answer, capsys):
    assert check_iwae_bound(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def iwae_in_place(log_w):
    top = log_w.max(dim=0).values
    return top + log_w.sub_(top).exp_().mean(dim=0).log()


def library_by_module(log_w):
    return bounds.iwae_from_log_weights(log_w)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda w: w.mean(dim=0), "that is the average of the log weights, the ELBO"),
        (
            lambda w: torch.log(torch.exp(w).mean(dim=0)),
            "not finite: exp\\(\\) underflows to 0.*Use torch.logsumexp",
        ),
        (lambda w: torch.logsumexp(w, dim=0), "forgot to divide by K"),
        (lambda w: torch.logsumexp(w, dim=0) - w.shape[0], "subtract log K, not K"),
        (lambda w: torch.logsumexp(w, dim=0) - math.log(7), "differ"),  # K fixed at 7
        (lambda w: w.max(dim=0).values, "largest log weight|divide by K"),
        (
            lambda w: torch.logsumexp(w, dim=1) - math.log(w.shape[1]),
            "reduce over the K samples \\(dimension 0\\)",
        ),
        (lambda w: iwae_logsumexp(w).sum(), "one bound per example"),
        (lambda w: iwae_logsumexp(w.clamp(min=-500.0)), "differ"),
        (iwae_in_place, "in place"),
        (iwae_from_log_weights, "does the exercise for you"),
        (library_by_module, "vae_lib.bounds.iwae_from_log_weights"),
        (functools.partial(iwae_from_log_weights), "does the exercise for you"),
    ],
    ids=[
        "elbo",
        "naive-log-mean-exp",
        "no-log-k",
        "minus-k",
        "k-hard-coded",
        "max",
        "wrong-dimension",
        "summed",
        "clamped",
        "in-place",
        "library",
        "library-by-module",
        "library-partial",
    ],
)
def test_check_iwae_bound_refuses_wrong_answers(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_iwae_bound(answer)


def test_check_iwae_bound_draws_new_weights_and_never_prints_a_bound():
    seen = []

    def spy(log_w):
        seen.append(log_w.clone())
        return iwae_logsumexp(log_w) + 0.01

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_iwae_bound(spy)
        messages.append(str(error.value))
    assert len(seen) == 2 and not torch.equal(seen[0], seen[1])

    def record_all(log_w):
        seen.append(log_w.clone())
        return iwae_logsumexp(log_w)

    seen.clear()
    check_iwae_bound(record_all)
    assert min(len(w) for w in seen) == 1 and len({w.shape for w in seen}) > 1
    assert {w.dtype for w in seen} == {torch.float32, torch.float64}
    assert min(w.max().item() for w in seen) < -500  # log weights near -1000
    for message in messages:
        assert not re.search(r"\d\.\d{3}|\d{3}", message)
