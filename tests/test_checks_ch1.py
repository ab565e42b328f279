"""vae_lib.checks, Chapter 1's exercise "How many components?": right answers pass,
typical mistakes are refused with their hint, and nothing is hard-coded."""

from __future__ import annotations

import pytest
import torch

from vae_lib.checks import (
    ExerciseCheckError,
    check_components_for_variance,
    components_for_variance,
)


def count(values: torch.Tensor, fraction: float) -> int:
    """The smallest d whose first d values hold `fraction` of their sum."""
    total, running = values.sum().item(), 0.0
    for d, value in enumerate(values.tolist(), start=1):
        running += value
        if running >= fraction * total:
            return d
    return len(values)


def by_eigh(x, fraction):
    centred = x - x.mean(dim=0)
    covariance = centred.T @ centred / (x.shape[0] - 1)  # the divisor cancels
    return count(torch.linalg.eigvalsh(covariance).flip(0), fraction)


def by_svd_tensor(x, fraction):
    singular = torch.linalg.svdvals(x - x.mean(dim=0))
    kept = (singular**2).cumsum(0) / (singular**2).sum()
    return torch.searchsorted(kept, torch.tensor(fraction, dtype=kept.dtype)) + 1


@pytest.mark.parametrize("answer", [by_eigh, by_svd_tensor, components_for_variance])
def test_right_answers_pass(answer, capsys):
    assert check_components_for_variance(answer) is True
    assert "Correct" in capsys.readouterr().out


def off_by_one(x, fraction):
    return by_eigh(x, fraction) - 1


def uncentred(x, fraction):
    return count(torch.linalg.svdvals(x) ** 2, fraction)


def ascending(x, fraction):
    centred = x - x.mean(dim=0)
    return count(torch.linalg.eigvalsh(centred.T @ centred), fraction)


def not_squared(x, fraction):
    return count(torch.linalg.svdvals(x - x.mean(dim=0)), fraction)


def share_of_error(x, fraction):
    return by_eigh(x, 1 - fraction)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (off_by_one, "off by one"),
        (uncentred, "subtract the mean"),
        (ascending, "largest first"),
        (not_squared, "square them"),
        (share_of_error, "share of the variance kept"),
    ],
)
def test_typical_mistakes_are_refused_with_their_hint(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_components_for_variance(answer)


def test_a_constant_is_refused():
    # Whatever constant: the targets are drawn afresh, from 2 up to D - 1.
    for constant in (3, 5):
        with pytest.raises(ExerciseCheckError, match="not yet"):
            check_components_for_variance(lambda x, fraction, c=constant: c)


def test_no_value_is_printed_and_data_change_between_calls(capsys):
    first_fractions = []

    def spy(x, fraction):
        if not first_fractions or len(seen) % 6 == 0:
            first_fractions.append(round(fraction, 9))
        seen.append((tuple(x.shape), by_eigh(x, fraction)))
        return 1  # wrong for every target (targets are >= 2)

    seen: list = []
    for _ in range(3):
        with pytest.raises(ExerciseCheckError) as error:
            check_components_for_variance(spy)
        assert "expected" not in str(error.value)
    assert len(seen) == 18  # every wrong count is looked at, six per call
    assert len(set(first_fractions)) == 3  # a new data set on every call
    assert capsys.readouterr().out == ""


def test_the_answer_must_be_an_int():
    with pytest.raises(ExerciseCheckError, match="Python int"):
        check_components_for_variance(lambda x, f: float(by_eigh(x, f)))


def test_inputs_modified_in_place_are_refused():
    def centre_in_place(x, fraction):
        x -= x.mean(dim=0)
        return by_eigh(x, fraction)

    with pytest.raises(ExerciseCheckError, match="in place"):
        check_components_for_variance(centre_in_place)


def test_reference_on_an_exact_case():
    # Rows +-a e_i: centred, with variances proportional to 4, 2, 1, 1 along the axes,
    # so the top 1, 2, 3 components keep 50%, 75% and 87.5% of the variance.
    axes = torch.diag(torch.tensor([2.0, 2**0.5, 1.0, 1.0], dtype=torch.float64))
    x = torch.cat([axes, -axes]) + 7.0
    assert components_for_variance(x, 0.5) == 1
    assert components_for_variance(x, 0.6) == 2
    assert components_for_variance(x, 0.8) == 3
    assert components_for_variance(x, 0.9) == 4
