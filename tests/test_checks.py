"""vae_lib.checks: each exercise checker accepts a right answer and explains typical
wrong ones.

The answers below are written from the exercises' statements, not from the checkers'
code.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from scipy.stats import norm
from torch.distributions import Normal

from vae_lib import checks
from vae_lib.checks import (
    ExerciseCheckError,
    check_clipped_gaussian,
    check_code_length,
    check_equivalent_beta,
    check_interpolation,
    check_iwae_bound,
    check_parameter_count,
    check_psnr,
    check_slerp,
    check_tile_starts,
)
from vae_lib.compression import ARITHMETIC_CODER_OVERHEAD_BITS, LatentCodec
from vae_lib.latent import lerp, slerp
from vae_lib.tiling import tile_starts

# --- Chapter 1: counting an MLP autoencoder's parameters ------------------------------


def layer_params(sizes: list[int], *, biases: bool = True) -> int:
    return sum(
        n_in * n_out + (n_out if biases else 0)
        for n_in, n_out in itertools.pairwise(sizes)
    )


def parameter_count(
    num_pixels, hidden_dims, latent_dim, *, biases=True, decoder=True
) -> int:
    encoder = [num_pixels, *hidden_dims, latent_dim]
    total = layer_params(encoder, biases=biases)
    return total + (layer_params(encoder[::-1], biases=biases) if decoder else 0)


def test_check_parameter_count_accepts_a_right_answer(capsys):
    assert check_parameter_count(parameter_count) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda p, h, k: parameter_count(p, h, k, biases=False), "not the biases"),
        (lambda p, h, k: parameter_count(p, h, k, decoder=False), "encoder alone"),
    ],
    ids=["no-biases", "encoder-only"],
)
def test_check_parameter_count_names_the_typical_mistake(answer, hint):
    with pytest.raises(
        ExerciseCheckError,
        match=(
            r"num_pixels=784, hidden_dims=\(256,\), latent_dim=2 you returned \d+, "
            rf"expected \d+\..*{hint}"
        ),
    ):
        check_parameter_count(answer)


def test_check_parameter_count_reports_other_mistakes_plainly():
    wrong = 1 + parameter_count(784, (256,), 2)
    with pytest.raises(
        ExerciseCheckError, match=rf"you returned {wrong}, expected {wrong - 1}\.$"
    ):
        check_parameter_count(lambda p, h, k: parameter_count(p, h, k) + 1)


def test_check_parameter_count_tries_a_network_without_hidden_layers():
    def wrong_without_hidden(p, h, k):
        return parameter_count(p, h, k) if h else 0

    with pytest.raises(
        ExerciseCheckError,
        match=r"num_pixels=64, hidden_dims=\(\), latent_dim=3 you returned 0",
    ):
        check_parameter_count(wrong_without_hidden)


# --- Chapter 1: walking between two codes ---------------------------------------------


def interpolate(z0, z1, num_steps):
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype).unsqueeze(1)
    return torch.lerp(z0.unsqueeze(0), z1.unsqueeze(0), t)


def test_check_interpolation_accepts_a_right_answer(capsys):
    assert check_interpolation(interpolate) is True
    assert "Correct" in capsys.readouterr().out


def test_check_interpolation_accepts_a_loop_over_steps():
    def loop(z0, z1, n):
        return torch.stack(
            [z0 * (1 - i / (n - 1)) + z1 * (i / (n - 1)) for i in range(n)]
        )

    assert check_interpolation(loop) is True


def test_check_interpolation_accepts_a_right_answer_in_double_precision():
    def in_float64(z0, z1, n):
        return interpolate(z0.double(), z1.double(), n)

    assert check_interpolation(in_float64) is True


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda z0, z1, n: interpolate(z1, z0, n), "runs from z1 to z0; start at z0"),
        (
            lambda z0, z1, n: z0 + (torch.arange(n) / n).unsqueeze(1) * (z1 - z0),
            r"torch.linspace\), not arange",
        ),
        (
            lambda z0, z1, n: interpolate(z0, z1, n).T,
            r"must be shaped \(2, 5\), got \(5, 2\)",
        ),
        (
            lambda z0, z1, n: interpolate(z0, z1, n + 1),
            r"must be shaped \(2, 5\), got \(3, 5\)",
        ),
        (
            lambda z0, z1, n: interpolate(z0, z1, n).tolist(),
            r"must be shaped \(2, 5\), got list",
        ),
        (
            lambda z0, z1, n: interpolate(z0, z1, n) ** 2,
            "not z0 \\+ t \\(z1 - z0\\) for evenly spaced t",
        ),
    ],
    ids=["reversed", "arange", "transposed", "one-step-too-many", "list", "not-a-line"],
)
def test_check_interpolation_explains_wrong_answers(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_interpolation(answer)


def test_check_interpolation_errors_are_assertion_errors():
    # Notebook readers see the message as a failed assertion, not as a crash of the
    # library.
    assert issubclass(ExerciseCheckError, AssertionError)


# --- Chapter 2: the importance-weighted bound -----------------------------------------


def iwae(log_weights):
    """log (1/K) sum_k exp(w_k), shifting by the largest w_k first."""
    top = log_weights.max(dim=0).values
    return top + torch.log(torch.exp(log_weights - top).mean(dim=0))


@pytest.mark.parametrize(
    "answer",
    [
        iwae,
        lambda w: torch.logsumexp(w, 0) - math.log(w.shape[0]),
        lambda w: torch.logsumexp(w - math.log(w.shape[0]), dim=0),
    ],
    ids=["shifted", "logsumexp", "logsumexp-of-shifted"],
)
def test_check_iwae_bound_accepts_a_right_answer(answer, capsys):
    assert check_iwae_bound(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            lambda w: w.mean(dim=0),
            "not yet: that is the average of the log weights, the ELBO",
        ),
        (
            lambda w: torch.log(torch.exp(w).mean(dim=0)),
            "not finite: exp\\(\\) underflows to 0.*Use torch.logsumexp",
        ),
        (
            lambda w: torch.logsumexp(w, dim=0),
            "you forgot to divide by K: subtract log K",
        ),
        (lambda w: torch.logsumexp(w, dim=0) - w.shape[0], "subtract log K, not K"),
        (
            lambda w: torch.logsumexp(w, dim=1) - math.log(w.shape[1]),
            r"shaped \(4,\), got \(7,\): reduce over the K samples \(dimension 0\)",
        ),
        (lambda w: iwae(w).sum(), r"shaped \(4,\), got \(\)"),
        (
            lambda w: iwae(w) + 0.1,
            r"the values differ from log \(1/K\) sum_k exp\(log w_k\)",
        ),
    ],
    ids=[
        "elbo",
        "naive-log-mean-exp",
        "no-log-k",
        "minus-k",
        "wrong-dimension",
        "summed",
        "other",
    ],
)
def test_check_iwae_bound_explains_wrong_answers(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_iwae_bound(answer)


def test_check_iwae_bound_catches_a_mistake_only_for_large_log_weights():
    # Right for moderate log weights, off for the -1000 ones (e.g. clamping the log
    # weights).
    def clamped(w):
        return iwae(w.clamp(min=-500.0))

    with pytest.raises(ExerciseCheckError, match="differ"):
        check_iwae_bound(clamped)


# --- Chapter 4: spherical interpolation -----------------------------------------------


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


def normalised_lerp(z_a, z_b, steps):
    """Right ends and norms, directions in the right plane, but not at constant angular
    speed."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    line = lerp(z_a, z_b, steps)
    return (
        line / line.norm(dim=1, keepdim=True) * ((1 - t) * z_a.norm() + t * z_b.norm())
    )


@pytest.mark.parametrize(
    "answer",
    [slerp, spherical, lambda z_a, z_b, n: spherical(z_a.double(), z_b.double(), n)],
    ids=["vae_lib", "by-hand", "float64"],
)
def test_check_slerp_accepts_a_right_answer(answer, capsys):
    assert check_slerp(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def test_check_slerp_does_not_give_the_answer_its_inputs():
    def in_place(z_a, z_b, n):
        result = slerp(z_a, z_b, n)
        z_a.zero_()
        z_b.fill_(3.0)
        return result

    assert check_slerp(in_place) is True


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lerp, r"That is the straight line \(lerp\): move along the great circle"),
        (
            lambda z_a, z_b, n: spherical(z_a, z_b, n, unit=True),
            "Your codes all have norm 1: scale each direction",
        ),
        (
            lambda z_a, z_b, n: spherical(z_a, z_b, n, norms=lambda t, a, b: a),
            "directions are right but the norms are not",
        ),
        (
            lambda z_a, z_b, n: spherical(
                z_a, z_b, n, norms=lambda t, a, b: a ** (1 - t) * b**t
            ),
            "directions are right but the norms are not: interpolate the norm linearly",
        ),
        (
            lambda z_a, z_b, n: slerp(z_b, z_a, n),
            r"must start at z_a and end at z_b \(use t = torch.linspace",
        ),
        (
            lambda z_a, z_b, n: spherical(z_a, z_b, n + 1)[:n],
            "must start at z_a and end at z_b",
        ),
    ],
    ids=[
        "lerp",
        "unit-norm",
        "constant-norm",
        "geometric-norm",
        "reversed",
        "arange-like-t",
    ],
)
def test_check_slerp_names_the_typical_mistake(answer, hint):
    with pytest.raises(
        ExerciseCheckError,
        match=rf"^with steps=\d the codes differ from the spherical path\. .*{hint}",
    ):
        check_slerp(answer)


def test_check_slerp_reports_other_mistakes_plainly():
    with pytest.raises(
        ExerciseCheckError,
        match=r"^with steps=9 the codes differ from the spherical path\.$",
    ):
        check_slerp(normalised_lerp)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            lambda z_a, z_b, n: slerp(z_a, z_b, n).T,
            r"with steps=2 the answer must be shaped \(2, 8\), got \(8, 2\)",
        ),
        (
            lambda z_a, z_b, n: slerp(z_a, z_b, n).tolist(),
            r"with steps=2 the answer must be shaped \(2, 8\), got list",
        ),
        (
            lambda z_a, z_b, n: slerp(z_a, z_b, n)[1:-1],
            r"with steps=2 the answer must be shaped \(2, 8\), got \(0, 8\)",
        ),
    ],
    ids=["transposed", "list", "no-ends"],
)
def test_check_slerp_wants_one_code_per_step(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_slerp(answer)


# --- Chapter 4: what a latent integer costs -------------------------------------------


def codec_bits(k, step):
    """-log2 P(k) from the library's codec, less the arithmetic coder's overhead."""
    codec = LatentCodec(torch.tensor([float(step)]), torch.tensor([True]))
    return codec.code_bits(k[:, None]) - ARITHMETIC_CODER_OVERHEAD_BITS


def scipy_bits(k, step):
    """-log2 of N(0, 1)'s mass on [(k - 1/2) step, (k + 1/2) step], mirrored to k >= 0
    (same mass)."""
    k = k.abs().double().numpy()
    return -torch.log2(
        torch.from_numpy(norm.sf((k - 0.5) * step) - norm.sf((k + 0.5) * step))
    )


def density_bits(k, step):
    return -torch.log2(torch.distributions.Normal(0.0, 1.0).log_prob(k * step).exp())


@pytest.mark.parametrize(
    "answer", [codec_bits, scipy_bits], ids=["latent-codec", "scipy"]
)
def test_check_code_length_accepts_a_right_answer(answer, capsys):
    assert check_code_length(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (
            lambda k, step: codec_bits(k, step) * math.log(2),
            "Those are nats: divide the natural log by log 2",
        ),
        (density_bits, "You used the density at k \\* step; .*probability mass"),
        (
            lambda k, step: -codec_bits(k, step),
            (
                "A code length is -log2 of a probability, "
                "a positive number: check the sign"
            ),
        ),
    ],
    ids=["nats", "density", "sign"],
)
def test_check_code_length_names_the_typical_mistake(answer, hint):
    with pytest.raises(
        ExerciseCheckError,
        match=rf"^with step=0.25 the code lengths differ from -log2 P\(k\)\. {hint}",
    ):
        check_code_length(answer)


def test_check_code_length_reports_other_mistakes_plainly():
    # Counting the coder's 2 bits of overhead is not what the exercise asks for.
    def with_overhead(k, step):
        return codec_bits(k, step) + ARITHMETIC_CODER_OVERHEAD_BITS

    with pytest.raises(
        ExerciseCheckError,
        match=r"^with step=0.25 the code lengths differ from -log2 P\(k\)\.$",
    ):
        check_code_length(with_overhead)


def test_check_code_length_finds_a_mistake_that_only_shows_for_the_second_step():
    def wrong_for_coarse_steps(k, step):
        return codec_bits(k, step) if step < 1 else codec_bits(k, step) + 0.5

    with pytest.raises(
        ExerciseCheckError, match="with step=1.5 the code lengths differ"
    ):
        check_code_length(wrong_for_coarse_steps)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            lambda k, step: codec_bits(k, step).sum(),
            r"one number per integer, shaped \(6,\), got \(\)\.",
        ),
        (
            lambda k, step: codec_bits(k, step)[:, None],
            r"one number per integer, shaped \(6,\), got \(6, 1\)\.",
        ),
        (
            lambda k, step: codec_bits(k, step).tolist(),
            r"one number per integer, shaped \(6,\), got list\.",
        ),
    ],
    ids=["summed", "column", "list"],
)
def test_check_code_length_wants_one_number_per_integer(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_code_length(answer)


# --- Chapter 5 checkers ---------------------------------------------------------------


def my_psnr(x_hat, x):
    """10 log10(1 / MSE), the MSE over each image's pixels (images in [0, 1])."""
    mse = ((x_hat - x) ** 2).flatten(1).mean(dim=1)
    return 10 * torch.log10(1 / mse)


def test_check_psnr_accepts_a_right_answer(capsys):
    assert check_psnr(my_psnr) is True
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda x_hat, x: 2 * my_psnr(x_hat, x), "not 20 log10"),
        (
            lambda x_hat, x: -10 * torch.log(((x_hat - x) ** 2).flatten(1).mean(1)),
            "not the natural log",
        ),
        (
            lambda x_hat, x: torch.full(
                (x.shape[0],), -10 * math.log10(((x_hat - x) ** 2).mean().item())
            ),
            "keeping one PSNR per image",
        ),
        (lambda x_hat, x: my_psnr(x_hat, x) + 1.0, "differ from the expected"),
    ],
    ids=["20-log10", "natural-log", "one-psnr-for-the-batch", "off"],
)
def test_check_psnr_names_the_typical_mistake(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_psnr(answer)


def test_check_psnr_wants_one_psnr_per_image():
    with pytest.raises(ExerciseCheckError, match="one PSNR per image"):
        check_psnr(lambda x_hat, x: my_psnr(x_hat, x).mean())


def clipped_log_likelihood(x_hat, y, sigma):
    """log p(y | x_hat) for y = clip(x_hat + sigma eps, 0, 1), per image: a black pixel
    has probability P(x_hat + sigma eps <= 0), a white one P(x_hat + sigma eps >= 1),
    the others the Gaussian density (written with scipy's normal distribution)."""
    a, b = x_hat.double().numpy(), y.double().numpy()
    per_pixel = norm.logpdf(b, a, sigma)
    per_pixel[b <= 0] = norm.logcdf(0, a, sigma)[b <= 0]
    per_pixel[b >= 1] = norm.logsf(1, a, sigma)[b >= 1]
    return torch.from_numpy(per_pixel.reshape(len(b), -1).sum(1))


@pytest.mark.parametrize(
    "answer",
    [
        clipped_log_likelihood,
        lambda x_hat, y, sigma: clipped_log_likelihood(x_hat, y, sigma) - 7.0,
    ],
    ids=["exact", "up-to-a-constant"],
)
def test_check_clipped_gaussian_accepts_a_right_answer(answer, capsys):
    assert check_clipped_gaussian(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def test_check_clipped_gaussian_says_a_plain_gaussian_ignores_the_clipping():
    def plain(x_hat, y, sigma):
        return Normal(x_hat, sigma).log_prob(y).flatten(1).sum(1)

    with pytest.raises(ExerciseCheckError, match="That is the plain Gaussian"):
        check_clipped_gaussian(plain)


def test_check_clipped_gaussian_reports_other_mistakes_and_shapes():
    def swapped_ends(x_hat, y, sigma):  # the mass beyond 1 given to black pixels
        return clipped_log_likelihood(x_hat, 1 - y, sigma)

    with pytest.raises(ExerciseCheckError, match="differences between two x_hat"):
        check_clipped_gaussian(swapped_ends)
    with pytest.raises(
        ExerciseCheckError, match="one log-likelihood per image, shaped"
    ):
        check_clipped_gaussian(
            lambda x_hat, y, sigma: clipped_log_likelihood(x_hat, y, sigma).sum()
        )


# --- Chapter 6 checkers ---------------------------------------------------------------


def test_check_missing_psnr_accepts_the_identity_and_explains_the_sign():
    assert checks.check_missing_psnr(lambda whole, d, m: whole - 10 * math.log10(d / m))
    with pytest.raises(checks.ExerciseCheckError, match="subtract"):
        checks.check_missing_psnr(lambda whole, d, m: whole + 10 * math.log10(d / m))
    with pytest.raises(checks.ExerciseCheckError, match="not 20 log10"):
        checks.check_missing_psnr(lambda whole, d, m: whole - 20 * math.log10(d / m))


def test_check_mwg_log_ratio_accepts_the_ratio_and_names_each_mistake():
    def right(lp_new, lp_old, z_new, z_old, lq_new, lq_old):
        return (
            lp_new
            - 0.5 * z_new.pow(2).sum(1)
            + lq_old
            - lp_old
            + 0.5 * z_old.pow(2).sum(1)
            - lq_new
        )

    assert checks.check_mwg_log_ratio(right)
    with pytest.raises(checks.ExerciseCheckError, match="wrong way round"):
        checks.check_mwg_log_ratio(
            lambda a, b, zn, zo, qn, qo: (
                a - 0.5 * zn.pow(2).sum(1) - qo - b + 0.5 * zo.pow(2).sum(1) + qn
            )
        )
    with pytest.raises(checks.ExerciseCheckError, match="not symmetric"):
        checks.check_mwg_log_ratio(
            lambda a, b, zn, zo, qn, qo: (
                a - 0.5 * zn.pow(2).sum(1) - b + 0.5 * zo.pow(2).sum(1)
            )
        )
    with pytest.raises(checks.ExerciseCheckError, match="include the prior"):
        checks.check_mwg_log_ratio(lambda a, b, zn, zo, qn, qo: a + qo - b - qn)
    with pytest.raises(checks.ExerciseCheckError, match="one log ratio per image"):
        checks.check_mwg_log_ratio(lambda a, b, zn, zo, qn, qo: (a - b).sum())


# --- Chapter 7 checkers ---------------------------------------------------------------


def test_check_equivalent_beta_accepts_two_sigma_squared(capsys):
    assert check_equivalent_beta(lambda sigma: 2 * sigma**2)
    assert "Correct" in capsys.readouterr().out
    assert check_equivalent_beta(lambda sigma: torch.tensor(2 * sigma**2))


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda s: s**2, r"2 sigma\^2"),
        (lambda s: 1 / (2 * s**2), "weight of the squared error"),
        (lambda s: 2 * s, "variance, not the standard deviation"),
        (lambda s: 1.0, "expected"),
    ],
)
def test_check_equivalent_beta_explains_typical_mistakes(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_equivalent_beta(answer)


def test_check_tile_starts_accepts_the_library_and_a_loop(capsys):
    def loop(length, tile, overlap):
        starts, s = [], 0
        while s + tile < length:
            starts.append(s)
            s += tile - overlap
        return starts + [length - tile]

    assert check_tile_starts(tile_starts)
    assert check_tile_starts(loop)
    assert capsys.readouterr().out.count("Correct") == 2


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda l, t, o: list(range(0, l - t + 1, t - o)), "not covered"),
        (lambda l, t, o: list(range(0, l, t - o)), "reaches past"),
        (
            lambda l, t, o: sorted({*range(0, l - t + 1, t), l - t}),
            "overlap by at least",
        ),
        (lambda l, t, o: list(range(0, l - t + 1, 1)), "more tiles than needed"),
        (
            lambda l, t, o: [l - t] + list(range(0, l - t, t - o)),
            "first tile|increasing",
        ),
        (lambda l, t, o: 5, "list of ints"),
    ],
)
def test_check_tile_starts_explains_typical_mistakes(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_tile_starts(answer)
