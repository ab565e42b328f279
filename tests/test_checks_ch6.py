"""Chapter 6's exercise checkers: PSNR on the missing pixels and the
Metropolis-within-Gibbs acceptance ratio. Each accepts right answers written in
different ways, refuses typical mistakes with their hint, draws its inputs afresh on
every call and never prints the expected values."""

from __future__ import annotations

import math
import re

import pytest
import torch

from vae_lib.checks import ExerciseCheckError, check_missing_psnr, check_mwg_log_ratio
from vae_lib.distributions import standard_normal


def long_numbers(message: str, allowed=()) -> list[str]:
    """The numbers in ``message`` with more than two significant digits, other than
    ``allowed``: a computed value would be one of them."""
    found = re.findall(r"\d+(?:\.\d+)?", message)
    allowed = {str(a) for a in allowed}
    return [
        n for n in found if len(n.replace(".", "").lstrip("0")) > 2 and n not in allowed
    ]


# --- PSNR on the missing pixels -------------------------------------------------------


def missing_by_ratio(whole_psnr, num_pixels, num_missing):
    return whole_psnr - 10 * math.log10(num_pixels / num_missing)


def missing_by_mse(whole_psnr, num_pixels, num_missing):
    """Back to the sum of squared errors E and forward again: MSE_whole = E / D,
    MSE_missing = E / M."""
    squared_error_sum = num_pixels * 10 ** (-whole_psnr / 10)
    return -10 * torch.log10(squared_error_sum / num_missing)


@pytest.mark.parametrize("answer", [missing_by_ratio, missing_by_mse])
def test_check_missing_psnr_accepts_right_answers(answer, capsys):
    assert check_missing_psnr(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def subtracts_in_place(whole_psnr, num_pixels, num_missing):
    return whole_psnr.sub_(10 * math.log10(num_pixels / num_missing))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda w, d, m: w + 10 * math.log10(d / m), "subtract"),
        (lambda w, d, m: w - 20 * math.log10(d / m), "not 20 log10"),
        (lambda w, d, m: w - 10 * math.log(d / m), "not the natural log"),
        (lambda w, d, m: w - math.log10(d / m), "multiply by 10"),
        (lambda w, d, m: w - 10 * math.log10(d // m), "integer division"),
        (lambda w, d, m: w - 10 * math.log10(d / (d - m)) if d > m else w, "observed"),
        (lambda w, d, m: w - 6.02, "not yet"),  # the 14x14 hole's value, hard-coded
        (lambda w, d, m: w - 10 * math.log10(784 / 196), "not yet"),
        (lambda w, d, m: w, "not yet"),  # the starter
        (lambda w, d, m: missing_by_ratio(w, d, m).mean(), "one PSNR per image"),
        (lambda w, d, m: missing_by_ratio(w, d, m).tolist(), "got list"),
        (lambda w, d, m: missing_by_ratio(w, d, m).round().long(), "float tensor"),
        (subtracts_in_place, "in place"),
    ],
    ids=[
        "added",
        "20-log10",
        "natural-log",
        "no-10",
        "integer-division",
        "observed-count",
        "hard-coded-6.02",
        "hard-coded-784-196",
        "unchanged",
        "mean",
        "list",
        "integers",
        "in-place",
    ],
)
def test_check_missing_psnr_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_missing_psnr(answer)


def test_check_missing_psnr_draws_new_sizes_and_never_prints_a_psnr():
    seen = []

    def spy(whole_psnr, num_pixels, num_missing):
        seen.append((whole_psnr.clone(), num_pixels, num_missing))
        return missing_by_ratio(whole_psnr, num_pixels, num_missing) + 0.5

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_missing_psnr(spy)
        messages.append(str(error.value))
    assert seen[0][1:] != seen[1][1:]

    def record_all(whole_psnr, num_pixels, num_missing):
        assert type(num_pixels) is int and type(num_missing) is int
        seen.append((whole_psnr.clone(), num_pixels, num_missing))
        return missing_by_ratio(whole_psnr, num_pixels, num_missing)

    seen.clear()
    check_missing_psnr(record_all)
    assert len(seen) == 4 and any(d == m for _, d, m in seen)
    for message in messages:
        assert long_numbers(message) == []


# --- the acceptance ratio -------------------------------------------------------------


def ratio_by_hand(log_px_new, log_px_old, z_new, z_old, log_q_new, log_q_old):
    log_prior_new = -0.5 * z_new.pow(2).sum(dim=1)
    log_prior_old = -0.5 * z_old.pow(2).sum(dim=1)
    return (log_px_new + log_prior_new + log_q_old) - (
        log_px_old + log_prior_old + log_q_new
    )


def ratio_with_the_prior(log_px_new, log_px_old, z_new, z_old, log_q_new, log_q_old):
    prior = standard_normal(z_new.shape[1])
    target = log_px_new + prior.log_prob(z_new) - log_px_old - prior.log_prob(z_old)
    return target + (log_q_old - log_q_new)


def ratio_with_torch_normal(lp_new, lp_old, z_new, z_old, lq_new, lq_old):
    normal = torch.distributions.Normal(0.0, 1.0)
    prior_new = normal.log_prob(z_new).sum(-1)
    prior_old = normal.log_prob(z_old).sum(-1)
    return lp_new - lp_old + prior_new - prior_old - lq_new + lq_old


@pytest.mark.parametrize(
    "answer", [ratio_by_hand, ratio_with_the_prior, ratio_with_torch_normal]
)
def test_check_mwg_log_ratio_accepts_right_answers(answer, capsys):
    assert check_mwg_log_ratio(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def prior(z):
    return -0.5 * z.pow(2).sum(1)


def changes_the_codes(log_px_new, log_px_old, z_new, z_old, log_q_new, log_q_old):
    z_new.pow_(2)
    z_old.pow_(2)
    return (
        log_px_new
        - 0.5 * z_new.sum(1)
        + log_q_old
        - log_px_old
        + 0.5 * z_old.sum(1)
        - log_q_new
    )


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda a, b, zn, zo, qn, qo: a + prior(zn) - qo - b - prior(zo) + qn,
            "wrong way round",
        ),
        (lambda a, b, zn, zo, qn, qo: a + prior(zn) - b - prior(zo), "not symmetric"),
        (lambda a, b, zn, zo, qn, qo: a + qo - b - qn, "include the prior"),
        (
            lambda a, b, zn, zo, qn, qo: a - prior(zn) + qo - b + prior(zo) - qn,
            "mind the sign",
        ),
        (
            lambda a, b, zn, zo, qn, qo: (
                a + 2 * prior(zn) + qo - b - 2 * prior(zo) - qn
            ),
            "keep the 1/2",
        ),
        (lambda *args: -ratio_by_hand(*args), "new and old are swapped"),
        (lambda *args: ratio_by_hand(*args).clamp(max=0), "before the min"),
        (lambda *args: ratio_by_hand(*args).exp(), "not the ratio"),
        (lambda a, b, zn, zo, qn, qo: a - b, "not yet"),  # the starter
        (lambda *args: ratio_by_hand(*args).sum(), "one log ratio per image"),
        (
            lambda a, b, zn, zo, qn, qo: (
                a + prior(zn).sum() + qo - b - prior(zo).sum() - qn
            ),
            "not yet",
        ),
        (changes_the_codes, "in place"),
    ],
    ids=[
        "proposal-swapped",
        "no-proposal",
        "no-prior",
        "prior-sign",
        "prior-no-half",
        "new-old-swapped",
        "after-the-min",
        "ratio",
        "likelihoods-only",
        "summed",
        "prior-summed-over-batch",
        "in-place",
    ],
)
def test_check_mwg_log_ratio_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_mwg_log_ratio(answer)


def test_check_mwg_log_ratio_draws_new_values_and_never_prints_a_ratio():
    seen = []

    def spy(*args):
        seen.append([a.clone() for a in args])
        return ratio_by_hand(*args) + 0.5

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_mwg_log_ratio(spy)
        messages.append(str(error.value))
    assert not torch.equal(seen[0][0], seen[1][0])

    def record_all(*args):
        seen.append([a.clone() for a in args])
        return ratio_by_hand(*args)

    seen.clear()
    check_mwg_log_ratio(record_all)
    assert {args[2].shape[1] > 1 for args in seen} == {True, False}
    for message in messages:
        assert long_numbers(message) == []
