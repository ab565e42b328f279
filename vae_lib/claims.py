"""The claims a chapter makes, checked with their margins (every chapter).

A sentence such as "MAP beats the median filter" is a claim about noisy measurements:
it holds when, over the same test images, the paired difference of the two scores is
at least two standard errors above zero; closer than that, the two are
indistinguishable. :func:`paired` measures such a difference; :func:`beats` and
:func:`indistinguishable` assert the two kinds of sentence; :func:`claim` asserts any
other quantitative sentence together with its margin (how far from failing it is).

Each claim is also written, one JSON line per claim, to the file ``$VAE_BOOK_CLAIMS``
names, if it is set: that is how ``make robustness`` collects every claim of a chapter
under several seeds.
"""

from __future__ import annotations

import json
import math
import os
from typing import NamedTuple

import torch

from .validate import check_tensor

CLAIMS_VARIABLE = "VAE_BOOK_CLAIMS"
MIN_STANDARD_ERRORS = 2.0  # the margin a comparison needs, in standard errors


class ClaimError(AssertionError):
    """A sentence of the book is false for this run."""


class Comparison(NamedTuple):
    """A paired difference A - B over n items: its mean and standard error."""

    mean: float
    standard_error: float
    n: int

    @property
    def z(self) -> float:
        """The mean in standard errors (infinite when every item differs by the same
        non-zero amount, 0 when none differs)."""
        if self.standard_error > 0:
            return self.mean / self.standard_error
        return math.copysign(math.inf, self.mean) if self.mean else 0.0

    def __str__(self) -> str:
        return f"{self.mean:+.2f} ± {self.standard_error:.2f} (n = {self.n})"

    def verdict(self, name_a: str, name_b: str) -> str:
        """ "A beats B", "B beats A" or "A and B are indistinguishable", by the
        two-standard-error rule."""
        if self.z >= MIN_STANDARD_ERRORS:
            return f"{name_a} beats {name_b}"
        if self.z <= -MIN_STANDARD_ERRORS:
            return f"{name_b} beats {name_a}"
        return f"{name_a} and {name_b} are indistinguishable"


def paired(a: torch.Tensor, b: torch.Tensor) -> Comparison:
    """The paired difference of two per-item scores a, b (N,) measured on the same N
    items (higher is better): mean and standard error of a - b."""
    a, b = check_tensor(a, "a"), check_tensor(b, "b")
    if a.dim() != 1 or a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(
            "a and b must be per-item scores of the same N >= 2 items, shaped (N,), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    difference = (a.detach().double() - b.detach().double().to(a.device)).cpu()
    if not torch.isfinite(difference).all():
        raise ValueError("a and b must be finite scores")
    n = difference.shape[0]
    return Comparison(
        difference.mean().item(), (difference.std() / math.sqrt(n)).item(), n
    )


def _record(statement: str, holds: bool, margin: float | None) -> None:
    path = os.environ.get(CLAIMS_VARIABLE)
    if not path:
        return
    entry = {"statement": statement, "holds": bool(holds), "margin": margin}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def _truth(holds: object) -> bool:
    """``holds`` as a bool: a bool, a NumPy bool or a one-element tensor or array;
    never None, a str or many values at once."""
    size = getattr(holds, "size", None)
    count = holds.numel() if isinstance(holds, torch.Tensor) else size
    if (
        holds is None
        or isinstance(holds, str)
        or (isinstance(count, int) and count != 1)
    ):
        raise TypeError(
            f"holds must be a bool (whether the sentence is true), got "
            f"{type(holds).__name__} {holds!r:.80}"
        )
    return bool(holds)


def claim(statement: str, holds: bool, *, margin: float | None = None) -> None:
    """Assert a sentence of the book: raise :class:`ClaimError` naming it when it does
    not hold. ``margin`` says how far from failing it is, in the units the chapter
    states (e.g. "beats the baseline by at least 1 dB" with a 1.6 dB gain has margin
    0.6); ``make robustness`` records it for every seed."""
    if not isinstance(statement, str) or not statement:
        raise TypeError(f"statement must be a non-empty str, got {statement!r}")
    holds = _truth(holds)
    if margin is not None:
        try:
            margin = float(margin)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"margin must be a number or None, got {margin!r}"
            ) from error
        if math.isnan(margin):
            raise ValueError("margin must be a number (or inf), got nan")
    _record(statement, holds, margin)
    if not holds:
        detail = "" if margin is None else f" (margin {margin:.3g})"
        raise ClaimError(f"not true in this run: {statement}{detail}")


def beats(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> Comparison:
    """Assert "A beats B": per-item scores a and b (N,) on the same items, higher
    better, differ by at least two standard errors. The margin recorded is the
    difference in standard errors, less two. Returns the comparison."""
    comparison = paired(a, b)
    claim(
        f"{name_a} beats {name_b}: {comparison}",
        comparison.z >= MIN_STANDARD_ERRORS,
        margin=comparison.z - MIN_STANDARD_ERRORS,
    )
    return comparison


def indistinguishable(
    a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str
) -> Comparison:
    """Assert "A and B are indistinguishable": their paired difference is within two
    standard errors of zero. The margin recorded is two less the difference's size in
    standard errors. Returns the comparison."""
    comparison = paired(a, b)
    claim(
        f"{name_a} and {name_b} are indistinguishable: {comparison}",
        abs(comparison.z) < MIN_STANDARD_ERRORS,
        margin=MIN_STANDARD_ERRORS - abs(comparison.z),
    )
    return comparison
