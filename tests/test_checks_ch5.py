"""Chapter 5's exercise checkers: PSNR by hand and the likelihood of a clipped pixel.
Each accepts right answers written in different ways, refuses typical mistakes (and
the library's own functions) with their hint, draws its inputs afresh on every call
and never prints the expected values."""

from __future__ import annotations

import math
import re

import pytest
import torch
from scipy.stats import norm
from torch.distributions import Normal

from vae_lib import corrupt, metrics
from vae_lib.checks import ExerciseCheckError, check_clipped_gaussian, check_psnr
from vae_lib.metrics import psnr


def long_numbers(message: str, allowed=()) -> list[str]:
    """The numbers in ``message`` with more than two significant digits, other than
    ``allowed``: a computed value would be one of them."""
    found = re.findall(r"\d+(?:\.\d+)?", message)
    allowed = {str(a) for a in allowed}
    return [
        n for n in found if len(n.replace(".", "").lstrip("0")) > 2 and n not in allowed
    ]


# --- PSNR by hand ---------------------------------------------------------------------


def psnr_flatten(x_hat, x):
    mse = ((x_hat - x) ** 2).flatten(1).mean(dim=1)
    return 10 * torch.log10(1 / mse)


def psnr_by_dims(x_hat, x):
    mse = (x_hat - x).pow(2).mean(dim=(1, 2, 3))
    return -10 * mse.log10()


def psnr_from_rmse(x_hat, x):
    rmse = torch.sqrt(torch.mean((x_hat - x).reshape(len(x), -1) ** 2, dim=1))
    return 20 * torch.log10(1.0 / rmse)


@pytest.mark.parametrize("answer", [psnr_flatten, psnr_by_dims, psnr_from_rmse])
def test_check_psnr_accepts_right_answers(answer, capsys):
    assert check_psnr(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def first_channel_only(x_hat, x):
    return psnr_flatten(x_hat[:, :1], x[:, :1])


def subtracts_in_place(x_hat, x):
    error = x_hat.sub_(x)
    return -10 * torch.log10(error.pow(2).flatten(1).mean(dim=1))


def psnr_by_module(x_hat, x):
    return metrics.psnr(x_hat, x)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda x_hat, x: 2 * psnr_flatten(x_hat, x), "not 20 log10"),
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
        (first_channel_only, "first channel only"),
        (
            lambda x_hat, x: -10 * torch.log10(((x_hat - x) ** 2).flatten(1).sum(1)),
            "mean of the squared errors, not their sum",
        ),
        (lambda x_hat, x: 0.5 * psnr_flatten(x_hat, x), "do not take its root"),
        (lambda x_hat, x: -psnr_flatten(x_hat, x), "sign is flipped"),
        (
            lambda x_hat, x: (
                10 * torch.log10(255**2 / (x_hat - x).pow(2).flatten(1).mean(1))
            ),
            "peak value is 1, not 255",
        ),
        (
            lambda x_hat, x: psnr_flatten(x_hat, x).mean().expand(len(x)),
            "not yet",
        ),
        (lambda x_hat, x: psnr_flatten(x_hat, x).mean(), "one PSNR per image"),
        (lambda x_hat, x: psnr_flatten(x_hat, x)[0], "one PSNR per image"),
        (subtracts_in_place, "in place"),
        (psnr, "does the exercise for you"),
        (psnr_by_module, "vae_lib.metrics.psnr"),
    ],
    ids=[
        "20-log10",
        "natural-log",
        "one-psnr-for-the-batch",
        "channel-0",
        "sum",
        "rmse",
        "sign",
        "peak-255",
        "mean-of-psnrs",
        "scalar",
        "first-image",
        "in-place",
        "library",
        "library-by-module",
    ],
)
def test_check_psnr_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_psnr(answer)


def test_check_psnr_refuses_changing_the_images():
    def zero_in_place(x_hat, x):
        result = psnr_flatten(x_hat, x)
        x_hat.zero_()
        return result

    with pytest.raises(ExerciseCheckError, match="in place"):
        check_psnr(zero_in_place)


def test_check_psnr_draws_new_images_and_never_prints_a_psnr():
    seen = []

    def spy(x_hat, x):
        seen.append(tuple(x.shape))
        return psnr_flatten(x_hat, x) + 0.5

    messages = []
    for _ in range(3):
        with pytest.raises(ExerciseCheckError) as error:
            check_psnr(spy)
        messages.append(str(error.value))
    assert len(set(seen)) > 1

    def record_all(x_hat, x):
        seen.append(tuple(x.shape))
        return psnr_flatten(x_hat, x)

    seen.clear()
    check_psnr(record_all)
    assert {shape[1] for shape in seen} >= {1, 3}
    for message in messages:
        assert long_numbers(message) == []


# --- the likelihood of a clipped pixel ------------------------------------------------


def clipped_scipy(x_hat, y, sigma):
    """log p(y | x_hat) per image, with scipy's normal distribution: a black pixel
    has probability P(x_hat + sigma eps <= 0), a white one P(x_hat + sigma eps >= 1),
    the others the Gaussian density."""
    a, b = x_hat.double().numpy(), y.double().numpy()
    per_pixel = norm.logpdf(b, a, sigma)
    per_pixel[b <= 0] = norm.logcdf(0, a, sigma)[b <= 0]
    per_pixel[b >= 1] = norm.logsf(1, a, sigma)[b >= 1]
    return torch.from_numpy(per_pixel.reshape(len(b), -1).sum(1))


def clipped_torch(x_hat, y, sigma):
    """The same with torch: the density inside, log Phi beyond each end; constants
    dropped."""
    inside = -0.5 * ((y - x_hat) / sigma) ** 2
    at_zero = torch.special.log_ndtr(-x_hat / sigma)
    at_one = torch.special.log_ndtr((x_hat - 1) / sigma)
    per_pixel = torch.where(y <= 0, at_zero, torch.where(y >= 1, at_one, inside))
    return per_pixel.flatten(1).sum(dim=1)


def clipped_with_masks(x_hat, y, sigma):
    """Start from the density everywhere, then overwrite the black and white pixels
    with the log of the mass beyond them; constants kept, plus one of our own."""
    normal = Normal(x_hat, sigma)
    black, white = y == 0, y == 1
    per_pixel = normal.log_prob(y)
    per_pixel[black] = normal.cdf(torch.zeros_like(y))[black].log()
    per_pixel[white] = (1 - normal.cdf(torch.ones_like(y)))[white].log()
    return per_pixel.sum(dim=(1, 2, 3)) + 3.0


@pytest.mark.parametrize(
    "answer",
    [clipped_scipy, clipped_torch, clipped_with_masks],
    ids=["scipy", "torch-where", "masks-plus-a-constant"],
)
def test_check_clipped_gaussian_accepts_right_answers(answer, capsys):
    assert check_clipped_gaussian(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


def plain_gaussian(x_hat, y, sigma):
    return Normal(x_hat, sigma).log_prob(y).flatten(1).sum(1)


def black_only(x_hat, y, sigma):
    white_as_inside = torch.where(y >= 1, 0.999999 * torch.ones_like(y), y)
    per_pixel = torch.where(
        y <= 0,
        torch.special.log_ndtr(-x_hat / sigma),
        -0.5 * ((white_as_inside - x_hat) / sigma) ** 2,
    )
    return per_pixel.flatten(1).sum(1)


def probabilities_not_logs(x_hat, y, sigma):
    inside = -0.5 * ((y - x_hat) / sigma) ** 2
    at_zero = torch.special.ndtr(-x_hat / sigma)
    at_one = torch.special.ndtr((x_hat - 1) / sigma)
    per_pixel = torch.where(y <= 0, at_zero, torch.where(y >= 1, at_one, inside))
    return per_pixel.flatten(1).sum(dim=1)


def wrong_side(x_hat, y, sigma):
    inside = -0.5 * ((y - x_hat) / sigma) ** 2
    at_zero = torch.special.log_ndtr(x_hat / sigma)
    at_one = torch.special.log_ndtr((1 - x_hat) / sigma)
    per_pixel = torch.where(y <= 0, at_zero, torch.where(y >= 1, at_one, inside))
    return per_pixel.flatten(1).sum(dim=1)


def clips_in_place(x_hat, y, sigma):
    result = clipped_torch(x_hat, y, sigma)
    y.clamp_(0.001, 0.999)  # y always holds black and white pixels
    return result


def library_noise_model(x_hat, y, sigma):
    return corrupt.ClippedGaussianNoise(sigma).log_prob(y, x_hat)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (plain_gaussian, "that is the plain Gaussian"),
        (black_only, "the black pixels are right"),
        (
            lambda x_hat, y, sigma: clipped_scipy(x_hat, 1 - y, sigma),
            "do not match|swapped",
        ),
        (probabilities_not_logs, "add their logarithms"),
        (wrong_side, "wrong side"),
        (lambda x_hat, y, sigma: clipped_torch(x_hat, y, 0.4), "do not match"),
        (lambda x_hat, y, sigma: clipped_torch(x_hat, y, sigma**2), "do not match"),
        (lambda x_hat, y, sigma: clipped_torch(x_hat, y, sigma).sum(), "one log-lik"),
        (clips_in_place, "in place"),
        (library_noise_model, "does the exercise for you"),
    ],
    ids=[
        "plain-gaussian",
        "black-only",
        "ends-mirrored",
        "probabilities",
        "wrong-side",
        "sigma-hard-coded",
        "variance-as-sigma",
        "summed",
        "in-place",
        "library",
    ],
)
def test_check_clipped_gaussian_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_clipped_gaussian(answer)


def test_check_clipped_gaussian_draws_new_images_and_never_prints_a_value():
    seen = []

    def spy(x_hat, y, sigma):
        seen.append(
            (tuple(y.shape), sigma, (y == 0).any().item(), (y == 1).any().item())
        )
        return clipped_torch(x_hat, y, sigma) * 1.1

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_clipped_gaussian(spy)
        messages.append(str(error.value))
    assert seen[0][1] != seen[2][1]
    assert all(black and white for *_, black, white in seen)

    def record_all(x_hat, y, sigma):
        seen.append((tuple(y.shape), sigma))
        return clipped_torch(x_hat, y, sigma)

    seen.clear()
    check_clipped_gaussian(record_all)
    assert len({s for _, s in seen}) == 3 and {shape[1] for shape, _ in seen} >= {1, 3}
    for message in messages:
        assert long_numbers(message) == []
