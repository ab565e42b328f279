"""Chapter 7's exercise checkers: a fixed variance as a beta, and where the tiles
start. Each accepts right answers written in different ways, refuses typical mistakes
(and the library's own function) with their hint, draws its inputs afresh on every
call and never prints the expected values."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from vae_lib import tiling
from vae_lib.checks import ExerciseCheckError, check_equivalent_beta, check_tile_starts
from vae_lib.tiling import tile_starts


def long_numbers(message: str, allowed=()) -> list[str]:
    """The numbers in ``message`` with more than two significant digits, other than
    ``allowed`` (the sizes the check shows): a computed value would be one of them."""
    found = re.findall(r"\d+(?:\.\d+)?", message)
    allowed = {str(a) for a in allowed}
    return [
        n for n in found if len(n.replace(".", "").lstrip("0")) > 2 and n not in allowed
    ]


# --- a fixed variance is a beta -------------------------------------------------------


def beta_by_formula(sigma):
    return 2 * sigma**2


def beta_by_rescaling(sigma):
    """Multiply the Gaussian objective by c so that the squared error's weight
    1 / (2 sigma^2) becomes 1; the KL's weight is then c."""
    weight_of_error = 1 / (2 * sigma * sigma)
    return 1 / weight_of_error


@pytest.mark.parametrize("answer", [beta_by_formula, beta_by_rescaling])
def test_check_equivalent_beta_accepts_right_answers(answer, capsys):
    assert check_equivalent_beta(answer) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda s: s**2, r"2 sigma\^2, not sigma\^2"),
        (lambda s: 1 / (2 * s**2), "weight of the squared error"),
        (lambda s: 2 * s, "variance, not the standard deviation"),
        (lambda s: math.sqrt(2) * s, "variance, not the standard deviation"),
        (lambda s: 4 * s**2, "not 4 sigma"),
        (lambda s: 1.0, "not yet"),
        (lambda s: 0.0032, "not yet"),  # the chapter's value, hard-coded
        (lambda s: round(2 * s**2, 3), "not yet"),
        (lambda s: torch.tensor(2 * s**2), "Python number, got a tensor"),
        (lambda s: str(2 * s**2), "Python number, got str"),
        (lambda s: [2 * s**2], "Python number, got list"),
        (lambda s: 2 * s**2 > 0, "Python number, got bool"),
    ],
    ids=[
        "sigma-squared",
        "inverse",
        "two-sigma",
        "root-two-sigma",
        "four-sigma-squared",
        "one",
        "hard-coded",
        "rounded",
        "tensor",
        "str",
        "list",
        "bool",
    ],
)
def test_check_equivalent_beta_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_equivalent_beta(answer)


def test_check_equivalent_beta_draws_new_sigmas_and_never_prints_a_beta():
    seen = []

    def spy(sigma):
        seen.append(sigma)
        return 2 * sigma**2 * 1.01

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_equivalent_beta(spy)
        messages.append(str(error.value))
    assert seen[0] != seen[1] and all(type(s) is float for s in seen)
    for message in messages:
        assert long_numbers(message) == []
        assert not re.search(r"\d\.\d", message)  # no beta, however rounded


# --- where the tiles start ------------------------------------------------------------


def starts_by_range(length, tile, overlap):
    starts = list(range(0, length - tile + 1, tile - overlap))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def starts_by_loop(length, tile, overlap):
    starts, s = [], 0
    while s + tile < length:
        starts.append(s)
        s += tile - overlap
    return [*starts, length - tile]


def starts_evenly_spread(length, tile, overlap):
    """As few tiles as the overlap allows, spread evenly (a different right answer:
    every overlap is at least `overlap`)."""
    count = 1 + math.ceil((length - tile) / (tile - overlap))
    if count == 1:
        return [0]
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


@pytest.mark.parametrize(
    "answer", [starts_by_range, starts_by_loop, starts_evenly_spread]
)
def test_check_tile_starts_accepts_right_answers(answer, capsys):
    assert check_tile_starts(answer) is True
    assert "Correct" in capsys.readouterr().out


def library_by_module(length, tile, overlap):
    return tiling.tile_starts(length, tile, overlap)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda l, t, o: list(range(0, l - t + 1, t - o)), "not covered"),  # starter
        (lambda l, t, o: list(range(0, l, t - o)), "reaches past"),
        (
            lambda l, t, o: sorted({*range(0, l - t + 1, t), l - t}),
            "overlap by at least",
        ),
        (lambda l, t, o: list(range(l - t + 1)), "more tiles than needed"),
        (lambda l, t, o: [l - t, *range(0, l - t, t - o)], "first tile|increasing"),
        (lambda l, t, o: starts_by_range(l, t, o) + [l - t], "once, in increasing"),
        (lambda l, t, o: [float(s) for s in starts_by_range(l, t, o)], "got float"),
        (lambda l, t, o: [str(s) for s in starts_by_range(l, t, o)], "got str"),
        (lambda l, t, o: np.array(starts_by_range(l, t, o)), "list of ints"),
        (lambda l, t, o: torch.tensor(starts_by_range(l, t, o)), "list of ints"),
        (lambda l, t, o: 5, "list of ints"),
        (tile_starts, "does the exercise for you"),
        (library_by_module, "vae_lib.tiling.tile_starts"),
    ],
    ids=[
        "forgets-the-end",
        "past-the-end",
        "no-overlap",
        "every-pixel",
        "last-first",
        "last-twice",
        "floats",
        "strings",
        "numpy",
        "tensor",
        "int",
        "library",
        "library-by-module",
    ],
)
def test_check_tile_starts_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_tile_starts(answer)


def test_check_tile_starts_draws_new_axes_and_never_prints_a_start():
    seen = []

    def spy(length, tile, overlap):
        seen.append((length, tile, overlap))
        return starts_by_range(length, tile, overlap)[:-1] or [1]

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_tile_starts(spy)
        messages.append(str(error.value))
    assert seen[0] != seen[1]
    allowed = {n for case in seen for n in case}

    def record_all(length, tile, overlap):
        seen.append((length, tile, overlap))
        return starts_by_range(length, tile, overlap)

    seen.clear()
    check_tile_starts(record_all)
    assert any(length == tile for length, tile, _ in seen)
    assert any(o == 0 for *_, o in seen) and any(o == t - 1 for _, t, o in seen)
    for message in messages:
        assert long_numbers(message, allowed) == []
        assert "length - tile =" not in message
