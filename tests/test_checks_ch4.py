"""Chapter 4's exercise checkers: spherical interpolation and the cost of a latent
integer. Each accepts right answers written in different ways, refuses typical
mistakes (and the library's own functions) with their hint, draws its inputs afresh on
every call and never prints the expected values."""

from __future__ import annotations

import math
import re

import pytest
import torch
from scipy.stats import norm

from vae_lib import latent
from vae_lib.checks import ExerciseCheckError, check_code_length, check_slerp
from vae_lib.compression import ARITHMETIC_CODER_OVERHEAD_BITS, LatentCodec
from vae_lib.latent import lerp, slerp


def long_numbers(message: str, allowed=()) -> list[str]:
    """The numbers in ``message`` with more than two significant digits, other than
    ``allowed``: a computed value would be one of them."""
    found = re.findall(r"\d+(?:\.\d+)?", message)
    allowed = {str(a) for a in allowed}
    return [
        n for n in found if len(n.replace(".", "").lstrip("0")) > 2 and n not in allowed
    ]


# --- spherical interpolation ----------------------------------------------------------


def spherical(z_a, z_b, steps, *, norms=None, unit=False):
    """The great circle from z_a's direction to z_b's, norms linear in t unless
    ``norms(t, |z_a|, |z_b|)``."""
    t = torch.linspace(0, 1, steps, dtype=z_a.dtype).unsqueeze(1)
    n_a, n_b = z_a.norm(), z_b.norm()
    u_a, u_b = z_a / n_a, z_b / n_b
    omega = torch.arccos(torch.dot(u_a, u_b).clamp(-1, 1))
    direction = (
        torch.sin((1 - t) * omega) * u_a + torch.sin(t * omega) * u_b
    ) / torch.sin(omega)
    if unit:
        return direction
    return direction * (norms(t, n_a, n_b) if norms else (1 - t) * n_a + t * n_b)


def slerp_by_rotation(z_a, z_b, steps):
    """Rotate z_a's direction in the plane of the two codes (Gram-Schmidt), by t times
    the angle between them, one code at a time."""
    u_a = z_a / z_a.norm()
    u_b = z_b / z_b.norm()
    w = u_b - (u_a @ u_b) * u_a
    w = w / w.norm()
    angle = math.acos(max(-1.0, min(1.0, float(u_a @ u_b))))
    codes = []
    for i in range(steps):
        t = i / (steps - 1)
        radius = (1 - t) * z_a.norm() + t * z_b.norm()
        codes.append(radius * (math.cos(t * angle) * u_a + math.sin(t * angle) * w))
    return torch.stack(codes)


def normalised_lerp(z_a, z_b, steps):
    """Right ends and norms, directions in the right plane, but not at constant angular
    speed."""
    t = torch.linspace(0, 1, steps, dtype=z_a.dtype).unsqueeze(1)
    line = (1 - t) * z_a + t * z_b
    return (
        line / line.norm(dim=1, keepdim=True) * ((1 - t) * z_a.norm() + t * z_b.norm())
    )


@pytest.mark.parametrize(
    "answer",
    [
        spherical,
        slerp_by_rotation,
        lambda z_a, z_b, n: spherical(z_a.double(), z_b.double(), n),
    ],
    ids=["sine-weights", "rotation", "float64"],
)
def test_check_slerp_accepts_right_answers(answer, capsys):
    assert check_slerp(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def slerp_in_place(z_a, z_b, steps):
    result = spherical(z_a, z_b, steps)
    z_a.zero_()
    return result


def library_slerp_by_module(z_a, z_b, steps):
    return latent.slerp(z_a, z_b, steps)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda z_a, z_b, n: (
                (1 - torch.linspace(0, 1, n)[:, None]) * z_a
                + torch.linspace(0, 1, n)[:, None] * z_b
            ),
            "That is the straight line",
        ),
        (lerp, "That is the straight line"),
        (
            lambda z_a, z_b, n: spherical(z_a, z_b, n, unit=True),
            "Your codes all have norm 1",
        ),
        (
            lambda z_a, z_b, n: spherical(z_a, z_b, n, norms=lambda t, a, b: a),
            "directions are right but the norms are not",
        ),
        (
            lambda z_a, z_b, n: spherical(
                z_a, z_b, n, norms=lambda t, a, b: a ** (1 - t) * b**t
            ),
            "interpolate the norm linearly",
        ),
        (
            lambda z_a, z_b, n: spherical(z_b, z_a, n),
            "must start at z_a and end at z_b",
        ),
        (
            lambda z_a, z_b, n: spherical(z_a, z_b, n + 1)[:n],
            "must start at z_a and end at z_b",
        ),
        (normalised_lerp, "turn at a constant rate"),
        (lambda z_a, z_b, n: spherical(z_a, z_b, n).T, "must be shaped"),
        (lambda z_a, z_b, n: spherical(z_a, z_b, n).tolist(), "got list"),
        (slerp_in_place, "in place"),
        (slerp, "does the exercise for you"),
        (library_slerp_by_module, "vae_lib.latent.slerp"),
    ],
    ids=[
        "straight-line",
        "library-lerp",
        "unit-norm",
        "constant-norm",
        "geometric-norm",
        "reversed",
        "arange-like-t",
        "normalised-lerp",
        "transposed",
        "list",
        "in-place",
        "library",
        "library-by-module",
    ],
)
def test_check_slerp_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_slerp(answer)


def test_check_slerp_draws_new_codes_and_never_prints_a_path():
    seen = []

    def spy(z_a, z_b, steps):
        seen.append((z_a.clone(), steps))
        return spherical(z_a, z_b, steps) * 1.01

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_slerp(spy)
        messages.append(str(error.value))
    assert not torch.equal(seen[0][0], seen[1][0])
    for message in messages:
        assert long_numbers(message) == [] and "tensor" not in message


# --- what a latent integer costs ------------------------------------------------------


def erfc_bits(k, step):
    """-log2 of the cell's mass, on the negative side (same mass by symmetry), where
    Phi(-a) = erfc(a / sqrt 2) / 2 keeps its precision."""
    a = (k.abs() - 0.5) * step / math.sqrt(2)
    b = (k.abs() + 0.5) * step / math.sqrt(2)
    return -torch.log2(0.5 * (torch.special.erfc(a) - torch.special.erfc(b)))


def scipy_bits(k, step):
    """-log2 of N(0, 1)'s mass on [(k - 1/2) step, (k + 1/2) step], by scipy's
    survival function on |k| (same mass)."""
    k = k.abs().double().numpy()
    mass = norm.sf((k - 0.5) * step) - norm.sf((k + 0.5) * step)
    return -torch.from_numpy(mass).log2()


def log_ndtr_bits(k, step):
    """log of the mass from log cdf values, in float64: log(Phi(b) - Phi(a)) =
    log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b))), on the negative side."""
    upper = (-k.abs().double() + 0.5) * step
    lower = (-k.abs().double() - 0.5) * step
    log_b, log_a = torch.special.log_ndtr(upper), torch.special.log_ndtr(lower)
    return -(log_b + torch.log1p(-torch.exp(log_a - log_b))) / math.log(2)


@pytest.mark.parametrize(
    "answer", [erfc_bits, scipy_bits, log_ndtr_bits], ids=["erfc", "scipy", "log-ndtr"]
)
def test_check_code_length_accepts_right_answers(answer, capsys):
    assert check_code_length(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def naive_cdf_bits(k, step):
    normal = torch.distributions.Normal(0.0, 1.0)
    mass = normal.cdf((k + 0.5) * step) - normal.cdf((k - 0.5) * step)
    return -torch.log2(mass)


def density_bits(k, step):
    return -torch.distributions.Normal(0.0, 1.0).log_prob(k * step) / math.log(2)


def codec_bits(k, step):
    codec = LatentCodec(torch.tensor([float(step)]), torch.tensor([True]))
    return codec.code_bits(k[:, None]) - ARITHMETIC_CODER_OVERHEAD_BITS


def abs_in_place(k, step):
    return erfc_bits(k.abs_(), step)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda k, step: erfc_bits(k, step) * math.log(2),
            "Those are nats|those are nats",
        ),
        (density_bits, "density at k \\* step"),
        (lambda k, step: -erfc_bits(k, step), "check the sign"),
        (lambda k, step: erfc_bits(k, step) + 2, "2 bits of overhead"),
        (naive_cdf_bits, "not finite"),
        (
            lambda k, step: erfc_bits(k, 1.5),
            "not yet",  # one step for all
        ),
        (lambda k, step: erfc_bits(k, step).sum(), "one number per integer"),
        (lambda k, step: erfc_bits(k, step).tolist(), "got list"),
        (codec_bits, "does the exercise for you"),
        (abs_in_place, "in place"),
    ],
    ids=[
        "nats",
        "density",
        "sign",
        "overhead",
        "naive-cdf",
        "step-hard-coded",
        "summed",
        "list",
        "library-codec",
        "in-place",
    ],
)
def test_check_code_length_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_code_length(answer)


def test_check_code_length_draws_new_integers_and_never_prints_a_length():
    seen = []

    def spy(k, step):
        seen.append((k.clone(), step))
        return erfc_bits(k, step) + 0.5

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_code_length(spy)
        messages.append(str(error.value))
    assert seen[0][1] != seen[1][1]
    k, step = seen[0]
    assert (k == 0).any() and ((k - 0.5) * step >= 5.5).any()
    assert ((k + 0.5) * step <= -5.5).any()
    for message in messages:
        assert long_numbers(message) == []
