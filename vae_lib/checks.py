"""Automatic checks for the chapters' exercises.

Each ``check_*`` function runs a reader's answer on fresh inputs, compares it with a
reference and either prints a confirmation (returning True) or raises
:class:`ExerciseCheckError` that explains what is wrong -- with a specific hint when the
answer matches a typical mistake.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch

from .distributions import standard_normal
from .models import Autoencoder, AutoencoderConfig, count_parameters


class ExerciseCheckError(AssertionError):
    """The answer is not right yet; the message says why and what to look at."""


def _passed(message: str) -> bool:
    print(f"Correct: {message}")
    return True


def _close(a: float, b: float, rtol: float = 1e-4) -> bool:
    return abs(a - b) <= rtol * max(abs(b), 1e-12)


def _as_float(value: object, what: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ExerciseCheckError(
                f"{what} should be one number, got a tensor of shape "
                f"{tuple(value.shape)}"
            )
        return float(value.item())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ExerciseCheckError(f"{what} should be a number, got {type(value).__name__}")


def _shaped_like(
    got: object,
    expected: torch.Tensor,
    requirement: str,
    hint: str = "",
    sep: str = ".",
) -> torch.Tensor:
    """``got`` as a detached tensor of ``expected``'s dtype, or an error saying
    ``requirement`` (e.g. "the answer must be shaped") and the shape that arrived."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = (
            tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        )
        raise ExerciseCheckError(
            f"{requirement} {tuple(expected.shape)}, got {shape}{sep}{hint}"
        )
    return got.detach().to(expected.dtype)


# --- Chapter 1, exercise "counting parameters" ----------------------------------------


def check_parameter_count(fn: Callable[[int, Sequence[int], int], int]) -> bool:
    """Check ``fn(num_pixels, hidden_dims, latent_dim) -> int`` against vae_lib's MLP
    autoencoder."""
    for num_pixels, hidden, latent in (
        (784, (256,), 2),
        (784, (512, 256), 16),
        (64, (), 3),
    ):
        side = int(num_pixels**0.5)
        model = Autoencoder(
            AutoencoderConfig(
                image_shape=(1, side, side), hidden_dims=hidden, latent_dim=latent
            )
        )
        expected = count_parameters(model)
        got = fn(num_pixels, hidden, latent)
        if got == expected:
            continue
        sizes = [num_pixels, *hidden, latent]
        weights_only = 2 * sum(a * b for a, b in pairwise(sizes))
        hint = ""
        if got == weights_only:
            hint = (
                " You counted the weight matrices but not the biases: each layer "
                "also has one bias per output."
            )
        elif got * 2 == expected or got == sum(a * b + b for a, b in pairwise(sizes)):
            hint = (
                " That is the encoder alone; the decoder mirrors it and has "
                "parameters of its own."
            )
        raise ExerciseCheckError(
            f"for num_pixels={num_pixels}, hidden_dims={hidden}, latent_dim={latent} "
            f"you returned {got}, expected {expected}.{hint}"
        )
    return _passed(
        "your count matches the autoencoder's parameters for three architectures."
    )


def _check_path(
    fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
    ends: tuple[torch.Tensor, torch.Tensor],
    expected: dict[int, torch.Tensor],
    steps_name: str,
    wrong: str,
    hint: Callable[[torch.Tensor, torch.Tensor, int], str],
    atol: float,
) -> None:
    """Compare ``fn(start, end, steps)`` with each expected path (steps, d); on the
    first mismatch, say what is ``wrong`` and add ``hint(got, expected, steps)``."""
    for steps, path in expected.items():
        got = _shaped_like(
            fn(ends[0].clone(), ends[1].clone(), steps),
            path,
            f"with {steps_name}={steps} the answer must be shaped",
        )
        if not torch.allclose(got, path, atol=atol):
            raise ExerciseCheckError(
                f"with {steps_name}={steps} {wrong}.{hint(got, path, steps)}"
            )


# --- Chapter 1, exercise "walking between two codes" ----------------------------------


def check_interpolation(
    fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
) -> bool:
    """Check ``fn(z0 (d,), z1 (d,), num_steps) -> (num_steps, d)``: evenly spaced, both
    ends included."""
    generator = torch.Generator().manual_seed(2)
    z0, z1 = torch.randn(2, 5, generator=generator)

    def straight(steps: int) -> torch.Tensor:
        return torch.stack([z0 + t * (z1 - z0) for t in torch.linspace(0, 1, steps)])

    def hint(got: torch.Tensor, expected: torch.Tensor, steps: int) -> str:
        if torch.allclose(got, expected.flip(0), atol=1e-5):
            return " Your path runs from z1 to z0; start at z0."
        if torch.allclose(got[0], z0, atol=1e-5) and not torch.allclose(
            got[-1], z1, atol=1e-5
        ):
            return (
                " The last row should be z1 itself: use steps t = 0, 1/(n-1), ..., 1 "
                "(torch.linspace), not arange."
            )
        return ""

    _check_path(
        fn,
        (z0, z1),
        {2: straight(2), 7: straight(7)},
        "num_steps",
        "the rows are not z0 + t (z1 - z0) for evenly spaced t in [0, 1]",
        hint,
        atol=1e-5,
    )
    return _passed("your path starts at z0, ends at z1 and takes even steps.")


# --- Chapter 2, exercise "the importance-weighted bound" ------------------------------


def check_iwae_bound(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(log_weights (K, B)) -> (B,)``: log (1/K) sum_k exp(log_weights[k]),
    computed stably."""
    generator = torch.Generator().manual_seed(5)
    moderate = torch.randn(7, 4, generator=generator, dtype=torch.float64) * 2 - 3
    large = moderate - 1000.0  # log weights of large images: exp() underflows to zero
    for log_weights in (moderate, large):
        expected = torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
        got = _shaped_like(
            fn(log_weights.clone()),
            expected,
            "the answer must be one bound per example, shaped",
            " reduce over the K samples (dimension 0).",
            sep=":",
        )
        if torch.allclose(got, expected, atol=1e-8):
            continue
        if not torch.isfinite(got).all():
            raise ExerciseCheckError(
                "with log weights near -1000 your answer is not finite: exp() "
                "underflows to 0. Use torch.logsumexp, which subtracts the largest "
                "value first."
            )
        hints = [
            (
                log_weights.mean(dim=0),
                (
                    "that is the average of the log weights, the ELBO; IWAE takes "
                    "the log of the average weight"
                ),
            ),
            (
                torch.logsumexp(log_weights, dim=0),
                "you forgot to divide by K: subtract log K after the logsumexp",
            ),
            (
                torch.logsumexp(log_weights, dim=0) - log_weights.shape[0],
                "subtract log K, not K",
            ),
        ]
        for wrong, hint in hints:
            if torch.allclose(got, wrong, atol=1e-8):
                raise ExerciseCheckError(f"not yet: {hint}.")
        raise ExerciseCheckError("the values differ from log (1/K) sum_k exp(log w_k).")
    return _passed(
        "your bound is log-mean-exp of the weights and stays finite for very "
        "negative log weights."
    )


# --- Chapter 4, exercise "spherical interpolation" ------------------------------------


def check_slerp(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """Check ``fn(z_a (d,), z_b (d,), steps) -> (steps, d)`` against
    :func:`vae_lib.latent.slerp`."""
    from .latent import lerp, slerp

    generator = torch.Generator().manual_seed(4)
    z_a, z_b = torch.randn(2, 8, generator=generator) * torch.tensor([[1.0], [2.0]])

    def hint(got: torch.Tensor, expected: torch.Tensor, steps: int) -> str:
        norms, wanted = got.norm(dim=1), expected.norm(dim=1)
        if torch.allclose(got, lerp(z_a, z_b, steps), atol=1e-4):
            return (
                " That is the straight line (lerp): move along the great circle "
                "between the directions instead."
            )
        if torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
            return (
                " Your codes all have norm 1: scale each direction by the norm "
                "interpolated from |z_a| to |z_b|."
            )
        if torch.allclose(got / norms[:, None], expected / wanted[:, None], atol=1e-4):
            return (
                " The directions are right but the norms are not: interpolate the "
                "norm linearly, |z_a| to |z_b|."
            )
        if not torch.allclose(got[0], z_a, atol=1e-4) or not torch.allclose(
            got[-1], z_b, atol=1e-4
        ):
            return (
                " The path must start at z_a and end at z_b (use t = "
                "torch.linspace(0, 1, steps))."
            )
        return ""

    _check_path(
        fn,
        (z_a, z_b),
        {steps: slerp(z_a, z_b, steps) for steps in (2, 9)},
        "steps",
        "the codes differ from the spherical path",
        hint,
        atol=1e-4,
    )
    return _passed(
        "your path follows the great circle and its norms change linearly from |z_a| "
        "to |z_b|."
    )


# --- Chapter 4, exercise "what a latent integer costs" --------------------------------


def check_code_length(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(k (n,) integers, step) -> bits (n,)``: -log2 of N(0, 1)'s mass on
    [(k-1/2)step, (k+1/2)step]."""
    k = torch.tensor([-3, -1, 0, 1, 2, 5])
    for step in (0.25, 1.5):
        normal = torch.distributions.Normal(0.0, 1.0)
        # The cell of -|k| (same mass by symmetry) via erfc, which keeps its precision
        # in the tail.
        edges = (
            (k.abs().double() + torch.tensor([[-0.5], [0.5]], dtype=torch.float64))
            * step
            / math.sqrt(2)
        )
        expected = -torch.log2(
            0.5 * (torch.special.erfc(edges[0]) - torch.special.erfc(edges[1]))
        ).float()
        got = _shaped_like(
            fn(k.clone(), step),
            expected,
            "the answer must be one number per integer, shaped",
        )
        if torch.allclose(got, expected, rtol=1e-3, atol=1e-3):
            continue
        hint = ""
        if torch.allclose(got, expected * math.log(2), rtol=1e-3, atol=1e-3):
            hint = (
                " Those are nats: divide the natural log by log 2 "
                "(or use torch.log2) to get bits."
            )
        elif torch.allclose(
            got,
            -torch.log2(normal.log_prob(k * step).exp()).float(),
            rtol=1e-3,
            atol=1e-3,
        ):
            hint = (
                " You used the density at k * step; a code is sent for the whole "
                "cell, so use its probability mass, Phi((k + 1/2) step) - "
                "Phi((k - 1/2) step)."
            )
        elif torch.allclose(got, -expected, rtol=1e-3, atol=1e-3):
            hint = (
                " A code length is -log2 of a probability, a positive number: check "
                "the sign."
            )
        raise ExerciseCheckError(
            f"with step={step} the code lengths differ from -log2 P(k).{hint}"
        )
    return _passed("each integer costs -log2 of the prior's mass on its cell.")


# --- Chapter 5, exercise "PSNR" -------------------------------------------------------


def check_psnr(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(x_hat, x) -> (B,)``: 10 log10(1 / MSE) per image, for images in
    [0, 1]."""
    from .metrics import psnr

    generator = torch.Generator().manual_seed(5)
    x = torch.rand(3, 1, 6, 6, generator=generator)
    x_hat = (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    expected = psnr(x_hat, x)
    got = _shaped_like(
        fn(x_hat.clone(), x.clone()),
        expected,
        "the answer must be one PSNR per image, shaped",
    )
    if torch.allclose(got, expected, atol=1e-3):
        return _passed("your PSNR matches 10 log10(1 / MSE) image by image.")
    mse = ((x_hat - x) ** 2).flatten(1).mean(1)
    hint = ""
    if torch.allclose(got, 20 * torch.log10(1 / mse), atol=1e-3):
        hint = (
            " MSE is already a squared error: use 10 log10, not 20 log10 (that is "
            "for the root-mean-square error)."
        )
    elif torch.allclose(got, -10 * torch.log(mse), atol=1e-3):
        hint = " Use log10, not the natural log: decibels are tenths of a power of ten."
    elif torch.allclose(
        got, torch.full_like(got, -10 * math.log10(mse.mean().item())), atol=1e-3
    ):
        hint = (
            " Average the squared error over each image's pixels only, keeping one "
            "PSNR per image."
        )
    raise ExerciseCheckError(
        f"your PSNRs {got.tolist()} differ from the expected {expected.tolist()}.{hint}"
    )


# --- Chapter 5, exercise "the likelihood of a clipped pixel" --------------------------


def check_clipped_gaussian(
    fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
) -> bool:
    """Check ``fn(x_hat, y, sigma) -> (B,)``: log-likelihood of
    y = clip(x_hat + sigma eps, 0, 1), up to a constant that does not depend on x_hat
    (compared through differences between two x_hat)."""
    from .corrupt import ClippedGaussianNoise

    generator = torch.Generator().manual_seed(6)
    y = torch.rand(2, 1, 5, 5, generator=generator)
    y[:, :, 0] = 0.0  # a row of pixels clipped at black
    y[:, :, -1] = 1.0  # and one at white
    a, b = torch.rand(2, 2, 1, 5, 5, generator=generator)
    sigma = 0.4
    oracle = ClippedGaussianNoise(sigma).log_prob
    expected = oracle(y, a) - oracle(y, b)
    got_a = _shaped_like(
        fn(a.clone(), y.clone(), sigma),
        expected,
        "the answer must be one log-likelihood per image, shaped",
    )
    got = got_a - _shaped_like(
        fn(b.clone(), y.clone(), sigma),
        expected,
        "the answer must be one log-likelihood per image, shaped",
    )
    if torch.allclose(got, expected, rtol=1e-4, atol=1e-3):
        return _passed(
            "black and white pixels get the probability mass beyond them, the others "
            "the Gaussian density."
        )
    plain = (-0.5 * ((y - a) / sigma) ** 2).flatten(1).sum(1) - (
        -0.5 * ((y - b) / sigma) ** 2
    ).flatten(1).sum(1)
    hint = ""
    if torch.allclose(got, plain, rtol=1e-4, atol=1e-3):
        hint = (
            " That is the plain Gaussian: a pixel at exactly 0 (or 1) only tells you "
            "that x_hat + noise fell below 0 (above 1), so it has probability "
            "Phi(-x_hat / sigma) (or Phi((x_hat - 1) / sigma))."
        )
    raise ExerciseCheckError(
        f"differences between two x_hat came out {got.tolist()}, expected "
        f"{expected.tolist()}.{hint}"
    )


# --- Chapter 6, exercise "PSNR on the missing pixels" ---------------------------------


def check_missing_psnr(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> bool:
    """Check ``fn(whole_psnr, num_pixels, num_missing) -> missing_psnr`` when observed
    pixels are exact."""
    whole = torch.tensor([12.0, 17.5, 30.0])
    got = _shaped_like(
        fn(whole.clone(), 784, 196),
        whole,
        "the answer must be one PSNR per image, shaped",
    )
    expected = whole - 10 * math.log10(784 / 196)
    if torch.allclose(got, expected, atol=1e-3):
        return _passed(
            "the missing pixels' PSNR is the whole image's minus 10 log10(D / M)."
        )
    hint = ""
    if torch.allclose(got, whole + 10 * math.log10(784 / 196), atol=1e-3):
        hint = (
            " The error concentrates on fewer pixels, so their mean squared error is "
            "larger: subtract."
        )
    elif torch.allclose(got, whole - 20 * math.log10(784 / 196), atol=1e-3):
        hint = " PSNR uses 10 log10 of a ratio of mean squared errors, not 20 log10."
    raise ExerciseCheckError(
        f"for whole-image PSNRs {whole.tolist()} with 196 of 784 pixels missing you "
        f"gave {got.tolist()}, expected {expected.tolist()}.{hint}"
    )


# --- Chapter 6, exercise "the Metropolis-within-Gibbs acceptance ratio" ---------------


def check_mwg_log_ratio(fn: Callable[..., torch.Tensor]) -> bool:
    """Check
    ``fn(log_px_new, log_px_old, z_new, z_old, log_q_new, log_q_old) -> log rho`` (B,):
    the log acceptance ratio of Metropolis-within-Gibbs, with log p(x | z) terms, codes
    (B, d) and the proposal's log densities log q(z_new | x), log q(z_old | x)."""
    generator = torch.Generator().manual_seed(6)
    log_px_new, log_px_old = (
        -100 * torch.rand(4, generator=generator),
        -100 * torch.rand(4, generator=generator),
    )
    z_new, z_old = (
        torch.randn(4, 3, generator=generator),
        torch.randn(4, 3, generator=generator),
    )
    log_q_new, log_q_old = (
        torch.randn(4, generator=generator),
        torch.randn(4, generator=generator),
    )
    args = (log_px_new, log_px_old, z_new, z_old, log_q_new, log_q_old)
    got = _shaped_like(
        fn(*[a.clone() for a in args]),
        log_px_new,
        "the answer must be one log ratio per image, shaped",
    )
    prior = standard_normal(z_new.shape[1])
    log_prior_new, log_prior_old = prior.log_prob(z_new), prior.log_prob(z_old)
    expected = (
        log_px_new + log_prior_new + log_q_old - log_px_old - log_prior_old - log_q_new
    )
    if torch.allclose(got, expected, atol=1e-4):
        return _passed(
            "target ratio times reverse-over-forward proposal ratio, in logs."
        )
    hint = ""
    if torch.allclose(
        got,
        log_px_new + log_prior_new - log_q_old - log_px_old - log_prior_old + log_q_new,
        atol=1e-4,
    ):
        hint = (
            " The proposal terms are the wrong way round: the move to z_new is "
            "proposed with q(z_new | x), so it divides."
        )
    elif torch.allclose(
        got, log_px_new + log_prior_new - log_px_old - log_prior_old, atol=1e-4
    ):
        hint = (
            " The proposal is not symmetric: include log q(z_old | x) - log "
            "q(z_new | x)."
        )
    elif torch.allclose(
        got, log_px_new + log_q_old - log_px_old - log_q_new, atol=1e-4
    ):
        hint = (
            " The target is the joint p(x, z) = p(x | z) p(z): include the prior log "
            "N(z; 0, I)."
        )
    raise ExerciseCheckError(
        f"your log ratios {got.tolist()} differ from the expected "
        f"{expected.tolist()}.{hint}"
    )


# --- Chapter 7, exercise "a fixed variance is a beta" ---------------------------------


def check_equivalent_beta(fn: Callable[[float], float]) -> bool:
    """Check ``fn(sigma) -> beta``: the KL weight of a beta-VAE trained on summed
    squared error that has the same optimum as a VAE with a Gaussian p(x|z) of fixed
    standard deviation ``sigma``."""
    for sigma in (0.05, 0.1, 0.3, 1.0):
        got, expected = (
            _as_float(fn(sigma), f"the answer for sigma = {sigma}"),
            2 * sigma**2,
        )
        if _close(got, expected):
            continue
        hint = ""
        if _close(got, sigma**2):
            hint = (
                " The Gaussian's exponent is ||x - mu||^2 / (2 sigma^2): multiply "
                "the loss by 2 sigma^2, not sigma^2."
            )
        elif _close(got, 1 / (2 * sigma**2)):
            hint = (
                " That is the weight of the squared error relative to the KL; beta "
                "weighs the KL relative to the squared error."
            )
        elif _close(got, 2 * sigma):
            hint = " The variance, not the standard deviation, sets the weight."
        raise ExerciseCheckError(
            f"for sigma = {sigma} you gave beta = {got:.6g}, expected "
            f"{expected:.6g}.{hint}"
        )
    return _passed(
        "beta = 2 sigma^2: a smaller fixed variance is a smaller beta, sharper "
        "reconstructions and a higher rate."
    )


# --- Chapter 7, exercise "where the tiles start" --------------------------------------


def check_tile_starts(fn: Callable[[int, int, int], Sequence[int]]) -> bool:
    """Check ``fn(length, tile, overlap) -> starts``: tiles of ``tile`` pixels,
    neighbours overlapping by at least ``overlap``, that cover an axis of ``length``
    pixels exactly, none reaching past its end."""
    for length, tile, overlap in (
        (32, 32, 8),
        (100, 32, 8),
        (88, 32, 8),
        (451, 32, 8),
        (300, 64, 16),
        (70, 32, 0),
    ):
        got = fn(length, tile, overlap)
        try:
            starts = [int(s) for s in got]
        except TypeError:
            raise ExerciseCheckError(
                f"the answer must be a list of ints, got {type(got).__name__}"
            ) from None
        where = f"for length {length}, tile {tile}, overlap {overlap} you gave {starts}"
        if not starts or starts[0] != 0:
            raise ExerciseCheckError(f"{where}: the first tile must start at 0.")
        if any(s < 0 or s + tile > length for s in starts):
            raise ExerciseCheckError(
                f"{where}: a tile reaches past the axis; the last one should start at "
                f"length - tile = {length - tile}."
            )
        if starts != sorted(set(starts)):
            raise ExerciseCheckError(
                f"{where}: list each start once, in increasing order."
            )
        gaps = [b - a for a, b in pairwise(starts)]
        if any(g > tile - overlap for g in gaps):
            raise ExerciseCheckError(
                f"{where}: neighbours must overlap by at least {overlap} pixels, so "
                "consecutive starts may differ by at most tile - overlap = "
                f"{tile - overlap}."
            )
        if starts[-1] != length - tile:
            raise ExerciseCheckError(
                f"{where}: the last {length - starts[-1] - tile} pixels are not "
                "covered. Add a last tile flush with the end, at length - tile = "
                f"{length - tile}."
            )
        if len(starts) > 1 + math.ceil((length - tile) / (tile - overlap)):
            raise ExerciseCheckError(
                f"{where}: more tiles than needed; step by tile - overlap = "
                f"{tile - overlap}."
            )
    return _passed(
        "the tiles cover every pixel, overlap enough, and stay inside the image."
    )


# --- Chapter 2, exercise "KL between two diagonal Gaussians" --------------------------


def _fresh_generator() -> torch.Generator:
    """A generator seeded anew on every call, so that no answer can be hard-coded."""
    generator = torch.Generator()
    generator.seed()
    return generator


def _unchanged(inputs: Sequence[torch.Tensor], copies: Sequence[torch.Tensor]) -> None:
    if any(not torch.equal(a, b) for a, b in zip(inputs, copies, strict=True)):
        raise ExerciseCheckError(
            "your function changed its inputs in place; compute new tensors instead "
            "(e.g. a - b, not a.sub_(b))."
        )


def check_gaussian_kl_diagonal(fn: Callable[..., torch.Tensor]) -> bool:
    """Check ``fn(mu_q, logvar_q, mu_p, logvar_p) -> (B,)``, each input (B, d):
    KL(N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p)))), on Gaussians
    drawn afresh on every call."""
    generator = _fresh_generator()
    for batch, dim in ((5, 3), (4, 6)):
        mu_q, logvar_q, mu_p, logvar_p = (
            torch.randn(batch, dim, generator=generator, dtype=torch.float64)
            for _ in range(4)
        )
        inputs = (mu_q, logvar_q, mu_p, logvar_p)
        copies = [t.clone() for t in inputs]
        got = fn(*inputs)
        _unchanged(inputs, copies)
        var_q, var_p = logvar_q.exp(), logvar_p.exp()
        delta = (mu_q - mu_p) ** 2

        def kl(log_ratio, ratio, mean_term):
            return 0.5 * (log_ratio + ratio + mean_term - 1).sum(dim=1)

        expected = kl(logvar_p - logvar_q, var_q / var_p, delta / var_p)
        hint = (
            " Sum over the latent dimensions only, keeping one value per example."
            if isinstance(got, torch.Tensor) and got.dim() == 0
            else ""
        )
        got = _shaped_like(
            got, expected, "the answer must be one KL per example, shaped", hint
        )
        if torch.allclose(got, expected, rtol=1e-6, atol=1e-9):
            continue
        hints = [
            (
                kl(logvar_q - logvar_p, var_p / var_q, delta / var_q),
                (
                    "that is KL(p || q), the other direction: the expectation is "
                    "under q, so q's variance goes in the numerator"
                ),
            ),
            (
                0.5 * (mu_q**2 + var_q - 1 - logvar_q).sum(dim=1),
                (
                    "that is the KL against N(0, I) of Section 2.5; here p has its "
                    "own mean and variance"
                ),
            ),
            (
                kl(logvar_p - logvar_q, var_q / var_p, delta),
                "the squared mean difference must be divided by p's variance too",
            ),
            (
                kl(logvar_q - logvar_p, var_q / var_p, delta / var_p),
                (
                    "the log term has the wrong sign: log q - log p contributes "
                    "-1/2 log s_q^2 + 1/2 log s_p^2"
                ),
            ),
            (
                kl(2 * (logvar_p - logvar_q), (var_q / var_p) ** 2, delta / var_p**2),
                "you treated logvar as log(s); it is log(s^2), so s^2 = exp(logvar)",
            ),
            (2 * expected, "you dropped the factor 1/2 in front of the sum"),
            (-expected, "the sign is flipped: a KL divergence is never negative"),
        ]
        for wrong, message in hints:
            if torch.allclose(got, wrong, rtol=1e-6, atol=1e-9, equal_nan=True):
                raise ExerciseCheckError(f"not yet: {message}.")
        raise ExerciseCheckError(
            "the values differ from KL(q || p) for two diagonal Gaussians: take "
            "E_q[log q(z) - log p(z)] one coordinate at a time, using "
            "E_q[(z - mu_p)^2] = (mu_q - mu_p)^2 + s_q^2."
        )
    return _passed(
        "your KL matches KL(q || p) for two diagonal Gaussians, on random Gaussians "
        "drawn for this check."
    )


# --- Chapter 2, exercise "the best diagonal q" ---------------------------------------


def _random_precision(dim: int, generator: torch.Generator) -> torch.Tensor:
    """A random symmetric positive-definite (dim, dim) matrix with clear
    correlations."""
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T + 0.3 * torch.eye(dim, dtype=torch.float64)


def check_mean_field(fn: Callable[[torch.Tensor, torch.Tensor], object]) -> bool:
    """Check ``fn(mean (d,), precision (d, d)) -> (q_mean (d,), q_var (d,))``: the
    diagonal Gaussian q that maximises the ELBO, i.e. minimises KL(q || N(mean,
    precision^-1)); on posteriors drawn afresh on every call."""
    generator = _fresh_generator()
    for dim in (2, 3, 5):
        mean = torch.randn(dim, generator=generator, dtype=torch.float64)
        precision = _random_precision(dim, generator)
        copies = [mean.clone(), precision.clone()]
        answer = fn(mean, precision)
        _unchanged((mean, precision), copies)
        if not isinstance(answer, tuple) or len(answer) != 2:
            raise ExerciseCheckError(
                "return a pair (q_mean, q_var): the diagonal Gaussian's mean and its "
                f"variances, got {type(answer).__name__}"
            )
        q_mean = _shaped_like(answer[0], mean, "q_mean must be shaped")
        q_var = _shaped_like(answer[1], mean, "q_var must be shaped")
        if not torch.allclose(q_mean, mean, rtol=1e-6, atol=1e-9):
            raise ExerciseCheckError(
                "not yet: q's mean is wrong. Set the derivative of KL(q || p) with "
                "respect to q's mean to zero: it is the posterior's own mean."
            )
        expected = 1 / precision.diagonal()
        if torch.allclose(q_var, expected, rtol=1e-6, atol=1e-9):
            continue
        covariance = torch.linalg.inv(precision)
        hints = [
            (
                covariance.diagonal(),
                (
                    "those are the posterior's marginal variances, the diagonal of "
                    "the covariance: they minimise KL(p || q), the other direction. "
                    "In KL(q || p) the precision matrix appears, not the covariance"
                ),
            ),
            (
                precision.diagonal(),
                (
                    "those are the precision's diagonal entries; the variances are "
                    "their reciprocals"
                ),
            ),
            (
                expected.sqrt(),
                "those are standard deviations; q_var should hold variances",
            ),
            (
                1 / covariance.diagonal(),
                "you inverted the covariance's diagonal: use the precision's diagonal",
            ),
        ]
        for wrong, message in hints:
            if torch.allclose(q_var, wrong, rtol=1e-6, atol=1e-9):
                raise ExerciseCheckError(f"not yet: {message}.")
        raise ExerciseCheckError(
            "not yet: the variances are wrong. Write KL(q || p) for q = N(m, diag(v)) "
            "and p with precision matrix P, and set its derivative in v_i to zero."
        )
    return _passed(
        "your q has the posterior's mean and variances 1 / P_ii, on posteriors drawn "
        "for this check."
    )


# --- Chapter 3, exercise "a correlated Gaussian, reparameterised" ---------------------


def _refuse_library_sampler(fn: Callable[..., object]) -> None:
    names = set(getattr(getattr(fn, "__code__", None), "co_names", ()))
    used = names & {"reparameterize", "rsample", "MultivariateNormal"}
    if used:
        raise ExerciseCheckError(
            f"your function calls {', '.join(sorted(used))}, which does the exercise "
            "for you; build z from mu, the covariance and eps yourself."
        )


def check_correlated_sample(fn: Callable[..., torch.Tensor]) -> bool:
    """Check ``fn(mu (d,), covariance (d, d), eps (S, d)) -> z (S, d)``: a
    reparameterised draw z = mu + A eps with A A^T = covariance (any such A), with
    gradients reaching mu and the covariance; on Gaussians drawn afresh on every
    call."""
    _refuse_library_sampler(fn)
    generator = _fresh_generator()
    for dim, num_samples in ((2, 7), (3, 5), (5, 9)):
        mu = torch.randn(dim, generator=generator, dtype=torch.float64)
        covariance = torch.linalg.inv(_random_precision(dim, generator))
        eps = torch.randn(num_samples, dim, generator=generator, dtype=torch.float64)
        mu.requires_grad_(True)
        covariance.requires_grad_(True)
        copies = [t.detach().clone() for t in (mu, covariance, eps)]
        got = fn(mu, covariance, eps)
        _unchanged([t.detach() for t in (mu, covariance, eps)], copies)
        z = _shaped_like(got, eps, "z must be shaped like eps,")
        if not torch.isfinite(z).all():
            raise ExerciseCheckError(
                "not yet: the draws contain NaN or inf. An elementwise square root "
                "of Sigma fails on its negative entries; you need a matrix A with "
                "A A^T = Sigma."
            )
        with torch.no_grad():
            origin = fn(mu, covariance, torch.zeros(1, dim, dtype=torch.float64))
            columns = fn(mu, covariance, torch.eye(dim, dtype=torch.float64))
        origin = _shaped_like(origin, mu[None].detach(), "for eps (1, d), z must be")
        if not torch.allclose(origin[0], mu.detach(), atol=1e-9):
            raise ExerciseCheckError(
                "not yet: with eps = 0 the draw should be the mean mu itself."
            )
        # column i of A: where the draw goes for eps = e_i
        A = (_shaped_like(columns, eps[:dim], "z must be shaped") - origin).T
        if not torch.allclose(z, mu.detach() + eps @ A.T, atol=1e-8, equal_nan=True):
            raise ExerciseCheckError(
                "not yet: z should be mu plus a fixed matrix times eps, the same "
                "matrix for every row of eps."
            )
        _check_square_root(A, covariance.detach())
        if not got.requires_grad:
            raise ExerciseCheckError(
                "the values are right but no gradient reaches mu and the covariance: "
                "build z with differentiable operations (no .detach(), no "
                "torch.no_grad())."
            )
        grads = torch.autograd.grad(got.sum(), (mu, covariance), allow_unused=True)
        if any(g is None or not torch.isfinite(g).all() for g in grads):
            raise ExerciseCheckError(
                "z must depend on both mu and the covariance through differentiable "
                "operations, with finite gradients."
            )
    return _passed(
        "z = mu + A eps with A A^T equal to the covariance, and gradients reach mu "
        "and the covariance, on Gaussians drawn for this check."
    )


def _check_square_root(A: torch.Tensor, covariance: torch.Tensor) -> None:
    if torch.allclose(A @ A.T, covariance, atol=1e-8):
        return
    L = torch.linalg.cholesky(covariance)
    hints = [
        (
            covariance,
            (
                "you multiplied eps by the covariance itself; the draws then have "
                "covariance Sigma Sigma^T. Use a matrix A with A A^T = Sigma"
            ),
        ),
        (
            L.T,
            (
                "the matrix is transposed: for rows eps (S, d), z = mu + eps @ A.T, "
                "where A A^T = Sigma"
            ),
        ),
        (
            torch.diag(covariance.diagonal().sqrt()),
            (
                "you used only the standard deviations, so the draws are uncorrelated; "
                "the off-diagonal entries of Sigma must shape them too"
            ),
        ),
        (
            covariance.sqrt(),
            (
                "an elementwise square root is not a matrix square root; you need A "
                "with A A^T = Sigma"
            ),
        ),
    ]
    for wrong, message in hints:
        if torch.allclose(A, wrong, atol=1e-8, equal_nan=True):
            raise ExerciseCheckError(f"not yet: {message}.")
    raise ExerciseCheckError(
        "not yet: the draws do not have covariance Sigma. z = mu + A eps has "
        "covariance A A^T; find an A for which that is Sigma."
    )


# --- Chapter 3, exercise "the straight-through Gumbel estimator" ----------------------


def check_straight_through(fn: Callable[..., torch.Tensor]) -> bool:
    """Check ``fn(logits (S, C), tau, gumbel (S, C)) -> y (S, C)``: forward values the
    one-hot argmax of logits + gumbel, gradient with respect to the logits that of the
    relaxed sample softmax((logits + gumbel) / tau); on inputs drawn afresh."""
    if fn is torch.nn.functional.gumbel_softmax:
        raise ExerciseCheckError(
            "torch.nn.functional.gumbel_softmax draws its own noise; write the "
            "estimator from the logits, tau and the Gumbel noise you are given."
        )
    generator = _fresh_generator()
    for num_samples, num_categories in ((5, 3), (4, 6), (7, 4)):
        tau = 0.2 + 2 * torch.rand(1, generator=generator).item()
        logits = torch.randn(
            num_samples, num_categories, generator=generator, dtype=torch.float64
        )
        u = torch.rand(num_samples, num_categories, generator=generator)
        gumbel = -torch.log(-torch.log(u.double().clamp_min(1e-12)))
        logits.requires_grad_(True)
        copies = [logits.detach().clone(), gumbel.clone()]
        got = fn(logits, tau, gumbel)
        _unchanged([logits.detach(), gumbel], copies)
        y = _shaped_like(got, gumbel, "y must be shaped like the logits,")
        soft = torch.softmax((logits + gumbel) / tau, dim=-1)
        index = (logits + gumbel).argmax(dim=-1)
        hard = torch.nn.functional.one_hot(index, num_categories).to(gumbel.dtype)
        if not torch.allclose(y, hard, atol=1e-9):
            _values_hint(y, soft.detach(), logits.detach(), num_categories)
        if not got.requires_grad:
            raise ExerciseCheckError(
                "the values are one-hot, but no gradient reaches the logits: add a "
                "term whose value is zero and whose gradient is the relaxed sample's."
            )
        weights = torch.randn(
            num_samples, num_categories, generator=generator, dtype=torch.float64
        )
        (grad,) = torch.autograd.grad((got * weights).sum(), logits, allow_unused=True)
        grad = torch.zeros_like(logits) if grad is None else grad
        (expected,) = torch.autograd.grad((soft * weights).sum(), logits)
        if not torch.allclose(grad, expected, atol=1e-8):
            _gradient_hint(grad, expected, weights, logits, gumbel)
    return _passed(
        "one-hot values forward, the relaxed sample's gradient backward, on logits, "
        "temperatures and noise drawn for this check."
    )


def _values_hint(
    y: torch.Tensor, soft: torch.Tensor, logits: torch.Tensor, num_categories: int
) -> None:
    plain = torch.nn.functional.one_hot(logits.argmax(dim=-1), num_categories)
    if torch.allclose(y, soft, atol=1e-9):
        message = (
            "these are the relaxed samples; the forward values must be one-hot (the "
            "argmax), the relaxed sample only shapes the gradient"
        )
    elif torch.allclose(y, plain.to(y.dtype)):
        message = "add the Gumbel noise to the logits before taking the argmax"
    else:
        message = "each row should be the one-hot vector of argmax(logits + gumbel)"
    raise ExerciseCheckError(f"not yet: {message}.")


def _gradient_hint(
    grad: torch.Tensor,
    expected: torch.Tensor,
    weights: torch.Tensor,
    logits: torch.Tensor,
    gumbel: torch.Tensor,
) -> None:
    (untempered,) = torch.autograd.grad(
        (torch.softmax(logits + gumbel, dim=-1) * weights).sum(), logits
    )
    hints = [
        (
            -expected,
            "the gradient has the wrong sign: the relaxed sample enters with a minus",
        ),
        (
            weights,
            (
                "the gradient passes straight through to the logits; it should be the "
                "gradient of the relaxed sample softmax((logits + gumbel) / tau)"
            ),
        ),
        (
            untempered,
            (
                "the gradient ignores the temperature: differentiate softmax((logits + "
                "gumbel) / tau)"
            ),
        ),
        (
            torch.zeros_like(grad),
            "no gradient reaches the logits",
        ),
    ]
    for wrong, message in hints:
        if torch.allclose(grad, wrong, atol=1e-8):
            raise ExerciseCheckError(f"not yet: {message}.")
    raise ExerciseCheckError(
        "not yet: the gradient with respect to the logits should be that of the "
        "relaxed sample softmax((logits + gumbel) / tau)."
    )


# --- Chapter 1, exercise "How many components?" ---------------------------------------


def components_for_variance(x: torch.Tensor, fraction: float) -> int:
    """Reference: the smallest d whose best rank-d affine reconstruction of the rows of
    x (N, D) keeps at least ``fraction`` of the total variance, i.e. whose mean squared
    error sum_{i > d} lambda_i is at most (1 - fraction) * sum_i lambda_i."""
    return _smallest_count(torch.linalg.svdvals(x - x.mean(dim=0)) ** 2, fraction)


def _smallest_count(values: torch.Tensor, fraction: float) -> int:
    """The smallest d with values[:d].sum() >= fraction * values.sum()."""
    kept = values.cumsum(0) / values.sum()
    return int((kept < fraction).sum().item()) + 1


def check_components_for_variance(fn: Callable[[torch.Tensor, float], object]) -> bool:
    """Check ``fn(x (N, D), fraction) -> int``: the smallest number of principal
    components whose best affine reconstruction keeps at least ``fraction`` of the
    data's variance; on data drawn afresh on every call, with fractions chosen
    between two consecutive counts so that rounding cannot decide."""
    generator = _fresh_generator()
    hints = {
        "off by one": (
            "off by one: with d components you keep eigenvalues 1..d, so count them "
            "from 1 (an index into the cumulative sum is one less than the count)"
        ),
        "uncentred": (
            "subtract the mean first: the variance is measured around the mean, and "
            "without centring the first direction is spent on the mean"
        ),
        "ascending": (
            "the eigenvalues must be added largest first (torch.linalg.eigvalsh "
            "returns them in ascending order)"
        ),
        "not squared": (
            "singular values are standard deviations, not variances: square them to "
            "get the eigenvalues"
        ),
        "error share": (
            "`fraction` is the share of the variance kept, not the share left in the "
            "error"
        ),
    }
    # For every wrong count: the mistakes that would have produced it.
    explained: list[set[str]] = []
    for num_rows, dim in ((400, 10), (300, 16)):
        scales = torch.rand(dim, generator=generator, dtype=torch.float64) * 3 + 0.2
        offset = torch.randn(dim, generator=generator, dtype=torch.float64) * 4 + 5
        x = torch.randn(num_rows, dim, generator=generator, dtype=torch.float64)
        x = x * scales.sort(descending=True).values + offset
        eigenvalues = torch.linalg.svdvals(x - x.mean(dim=0)) ** 2 / num_rows
        kept = (eigenvalues.cumsum(0) / eigenvalues.sum()).tolist()
        # three targets between 2 and D - 1, the fraction halfway between two counts
        picks = torch.randperm(dim - 2, generator=generator)[:3] + 2
        for target in sorted(picks.tolist()):
            fraction = (kept[target - 2] + kept[target - 1]) / 2
            copy = x.clone()
            got = fn(x, fraction)
            _unchanged((x,), (copy,))
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, int):
                raise ExerciseCheckError(
                    "return the number of components as a Python int, got "
                    f"{type(got).__name__}"
                )
            if got == target:
                continue
            mistakes = {
                "off by one": target - 1,
                "uncentred": _smallest_count(torch.linalg.svdvals(x) ** 2, fraction),
                "ascending": _smallest_count(eigenvalues.flip(0), fraction),
                "not squared": _smallest_count(eigenvalues.sqrt(), fraction),
                "error share": _smallest_count(eigenvalues, 1 - fraction),
            }
            explained.append({name for name, wrong in mistakes.items() if got == wrong})
    if not explained:
        return _passed(
            "your counts are right on random data sets and fractions drawn for this "
            "check."
        )
    for name, hint in hints.items():
        if all(name in names for names in explained):
            raise ExerciseCheckError(f"not yet: {hint}.")
    raise ExerciseCheckError(
        f"not yet: {len(explained)} of 6 counts are wrong. The error of the best "
        "rank-d reconstruction is the sum of the eigenvalues left out; find the first "
        "d where what is kept reaches `fraction` of the total."
    )
