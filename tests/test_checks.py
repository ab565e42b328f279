"""vae_lib.checks, what all checkers share: an answer that hands the exercise to the
library is refused however it reaches the library's function, and an answer of the
reader's own is not refused for a name it merely shares with the library.

Each chapter's checkers have their own tests, with a table of right and wrong answers:
tests/test_checks_ch1.py ... tests/test_checks_ch7.py.
"""

from __future__ import annotations

import functools

import pytest
import torch

import vae_lib
from vae_lib import checks, latent
from vae_lib.checks import ExerciseCheckError, check_interpolation, check_psnr
from vae_lib.latent import lerp
from vae_lib.metrics import psnr


def test_check_errors_are_assertion_errors():
    # Notebook readers see the message as a failed assertion, not as a crash of the
    # library.
    assert issubclass(ExerciseCheckError, AssertionError)


def path(z0, z1, num_steps):
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype)[:, None]
    return (1 - t) * z0 + t * z1


def through_a_helper(z0, z1, num_steps):
    return helper(z0, z1, num_steps)


def helper(z0, z1, num_steps):
    return latent.lerp(z0, z1, num_steps)


def by_the_package(z0, z1, num_steps):
    return vae_lib.latent.lerp(z0, z1, num_steps)


def with_a_default(z0, z1, num_steps, walk=lerp):
    return walk(z0, z1, num_steps)


def in_a_closure():
    walk = lerp

    def interpolate(z0, z1, num_steps):
        return walk(z0, z1, num_steps)

    return interpolate


def in_a_lambda_inside(z0, z1, num_steps):
    walk = lambda: latent.lerp(z0, z1, num_steps)
    return walk()


class Walker:
    def __call__(self, z0, z1, num_steps):
        return lerp(z0, z1, num_steps)


alias = latent.lerp


@pytest.mark.parametrize(
    "answer",
    [
        lerp,
        alias,
        functools.partial(lerp),
        through_a_helper,
        by_the_package,
        with_a_default,
        in_a_closure(),
        in_a_lambda_inside,
        Walker(),
        lambda z0, z1, n: latent.lerp(z0, z1, n),
    ],
    ids=[
        "itself",
        "alias",
        "partial",
        "helper",
        "package-attribute",
        "default-argument",
        "closure",
        "nested-lambda",
        "callable-object",
        "lambda",
    ],
)
def test_the_library_function_is_refused_however_it_is_reached(answer):
    with pytest.raises(ExerciseCheckError, match="vae_lib.latent.lerp, which does"):
        check_interpolation(answer)


def test_names_shared_with_the_library_are_not_refused(capsys):
    # `lerp` (vae_lib.latent.lerp) and `psnr` are globals of this module; the answers
    # below only use the same names for torch's function and for local variables.
    def with_torch_lerp(z0, z1, num_steps):
        t = torch.linspace(0, 1, num_steps, dtype=z0.dtype)[:, None]
        return torch.lerp(z0.expand(num_steps, -1), z1.expand(num_steps, -1), t)

    def with_a_local_named_psnr(x_hat, x):
        psnr = -10 * torch.log10((x_hat - x).pow(2).flatten(1).mean(1))
        return psnr

    assert check_interpolation(with_torch_lerp)
    assert check_interpolation(path)
    assert check_psnr(with_a_local_named_psnr)
    assert psnr is not None and lerp is not None
    assert capsys.readouterr().out.count("Correct") == 3


def test_a_library_answer_is_reported_by_attempt_without_raising(capsys):
    checks.attempt(check_interpolation, lerp)
    assert capsys.readouterr().out.startswith("Not yet: your function uses")
