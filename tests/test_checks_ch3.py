"""Chapter 3's exercise checkers: check_correlated_sample (a Gaussian with full
covariance, reparameterised) and check_straight_through (the straight-through
Gumbel-softmax estimator). Each accepts different right answers and explains typical
wrong ones."""

from __future__ import annotations

import pytest
import torch

from vae_lib.checks import (
    ExerciseCheckError,
    check_correlated_sample,
    check_straight_through,
)
from vae_lib.distributions import reparameterize

# --- a correlated Gaussian, reparameterised -------------------------------------------


def cholesky_rows(mu, covariance, eps):
    return mu + eps @ torch.linalg.cholesky(covariance).T


def cholesky_columns(mu, covariance, eps):
    L = torch.linalg.cholesky(covariance)
    return mu + (L @ eps.unsqueeze(-1)).squeeze(-1)


def symmetric_root(mu, covariance, eps):
    # any A with A A^T = Sigma gives the right distribution: here Sigma^(1/2)
    values, vectors = torch.linalg.eigh(covariance)
    return mu + eps @ (vectors * values.sqrt()) @ vectors.T


@pytest.mark.parametrize("answer", [cholesky_rows, cholesky_columns, symmetric_root])
def test_check_correlated_sample_accepts_right_answers(answer, capsys):
    assert check_correlated_sample(answer) is True
    assert "Correct" in capsys.readouterr().out


def untransposed(mu, covariance, eps):
    return mu + eps @ torch.linalg.cholesky(covariance)


def times_covariance(mu, covariance, eps):
    return mu + eps @ covariance


def uncorrelated(mu, covariance, eps):
    return mu + eps * covariance.diagonal().sqrt()


def elementwise_root(mu, covariance, eps):
    return mu + eps @ covariance.sqrt().T


def detached(mu, covariance, eps):
    return (mu + eps @ torch.linalg.cholesky(covariance).T).detach()


def in_place(mu, covariance, eps):
    return mu + eps.mul_(1.0) @ torch.linalg.cholesky(covariance).T + eps.add_(1.0) * 0


def library(mu, covariance, eps):
    q = torch.distributions.MultivariateNormal(mu, covariance_matrix=covariance)
    return reparameterize(q, eps)


def noise_ignored(mu, covariance, eps):
    return mu + torch.randn_like(eps) @ torch.linalg.cholesky(covariance).T


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (untransposed, "transposed"),
        (times_covariance, "covariance itself"),
        (uncorrelated, "uncorrelated"),
        (elementwise_root, "elementwise square root"),
        (detached, "no gradient"),
        (in_place, "in place"),
        (library, "does the exercise for you"),
        (noise_ignored, "eps = 0"),
        (lambda mu, covariance, eps: eps @ torch.linalg.cholesky(covariance).T, "mean"),
        (lambda mu, covariance, eps: mu, "shaped like eps"),
    ],
)
def test_check_correlated_sample_explains_wrong_answers(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_correlated_sample(answer)


def test_check_correlated_sample_never_prints_the_expected_draw(capsys):
    with pytest.raises(ExerciseCheckError) as error:
        check_correlated_sample(uncorrelated)
    assert "tensor(" not in str(error.value) and capsys.readouterr().out == ""


# --- the straight-through Gumbel estimator --------------------------------------------


def straight_through_sum(logits, tau, gumbel):
    soft = torch.softmax((logits + gumbel) / tau, dim=-1)
    index = soft.argmax(dim=-1)
    hard = torch.nn.functional.one_hot(index, logits.shape[-1]).to(soft.dtype)
    return hard + soft - soft.detach()


def straight_through_detach_difference(logits, tau, gumbel):
    soft = torch.softmax((logits + gumbel) / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter(-1, soft.argmax(-1, keepdim=True), 1.0)
    return (hard - soft).detach() + soft


def straight_through_where(logits, tau, gumbel):
    noisy = logits + gumbel
    soft = torch.softmax(noisy / tau, dim=-1)
    is_max = noisy == noisy.max(dim=-1, keepdim=True).values
    return torch.where(is_max, 1.0, 0.0).to(soft.dtype) - soft.detach() + soft


@pytest.mark.parametrize(
    "answer",
    [straight_through_sum, straight_through_detach_difference, straight_through_where],
)
def test_check_straight_through_accepts_right_answers(answer, capsys):
    assert check_straight_through(answer) is True
    assert "Correct" in capsys.readouterr().out


def relaxed_only(logits, tau, gumbel):
    return torch.softmax((logits + gumbel) / tau, dim=-1)


def hard_only(logits, tau, gumbel):
    index = (logits + gumbel).argmax(dim=-1)
    return torch.nn.functional.one_hot(index, logits.shape[-1]).to(logits.dtype)


def without_noise(logits, tau, gumbel):
    return straight_through_sum(logits, tau, 0 * gumbel + logits.detach() * 0) * 0 + (
        hard_without_noise(logits)
    )


def hard_without_noise(logits):
    index = logits.argmax(dim=-1)
    return torch.nn.functional.one_hot(index, logits.shape[-1]).to(logits.dtype)


def untempered(logits, tau, gumbel):
    return straight_through_sum(logits, 1.0, gumbel) * 0 + (
        hard_only(logits, tau, gumbel)
        + torch.softmax(logits + gumbel, dim=-1)
        - torch.softmax(logits + gumbel, dim=-1).detach()
    )


def identity_gradient(logits, tau, gumbel):
    return hard_only(logits, tau, gumbel) + logits - logits.detach()


def wrong_sign(logits, tau, gumbel):
    soft = torch.softmax((logits + gumbel) / tau, dim=-1)
    return hard_only(logits, tau, gumbel) - soft + soft.detach()


def changes_noise(logits, tau, gumbel):
    gumbel.mul_(2.0)
    return straight_through_sum(logits, tau, gumbel / 2)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (relaxed_only, "relaxed samples"),
        (hard_only, "no gradient reaches"),
        # (when the noise moves no argmax, only the gradient tells)
        (without_noise, "Gumbel noise|no gradient reaches"),
        (untempered, "temperature"),
        (identity_gradient, "straight through to the logits"),
        (wrong_sign, "wrong sign"),
        (changes_noise, "in place"),
        (torch.nn.functional.gumbel_softmax, "draws its own noise"),
        (lambda logits, tau, gumbel: logits[:, :1], "shaped like the logits"),
    ],
)
def test_check_straight_through_explains_wrong_answers(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_straight_through(answer)


def test_check_straight_through_draws_fresh_inputs_on_every_call():
    seen = []

    def recording(logits, tau, gumbel):
        seen.append((logits.detach().clone(), tau))
        return straight_through_sum(logits, tau, gumbel)

    check_straight_through(recording)
    check_straight_through(recording)
    half = len(seen) // 2
    assert not torch.equal(seen[0][0], seen[half][0]) and seen[0][1] != seen[half][1]
