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

from .distributions import diagonal_gaussian, reparameterize, standard_normal
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


# --- Chapter 1, exercise "PCA's optimum" ----------------------------------------------


def pca_reconstruction_error(x: torch.Tensor, k: int) -> float:
    """Reference: mean over examples of ||x - x_hat||^2 for the best rank-k affine
    reconstruction.

    x: (N, D). Equals the sum of the discarded eigenvalues of the covariance
    (divided by N).
    """
    centred = x - x.mean(dim=0)
    singular_values = torch.linalg.svdvals(centred)
    return float((singular_values[k:] ** 2).sum() / x.shape[0])


def check_pca_error(fn: Callable[[torch.Tensor, int], float]) -> bool:
    """Check ``fn(x (N, D), k) -> float``: PCA's mean squared reconstruction error per
    example."""
    generator = torch.Generator().manual_seed(1)
    scales = torch.linspace(3.0, 0.1, 12)
    x = (
        torch.randn(500, 12, generator=generator, dtype=torch.float64) * scales.double()
        + 2.0
    )
    for k in (1, 3, 7):
        expected = pca_reconstruction_error(x, k)
        got = _as_float(fn(x.clone(), k), f"fn(x, k={k})")
        if _close(got, expected):
            continue
        n, d = x.shape
        s_raw = torch.linalg.svdvals(x)
        s = torch.linalg.svdvals(x - x.mean(dim=0))
        hints = [
            (
                float((s_raw[k:] ** 2).sum() / n),
                (
                    "you did not subtract the mean first: PCA fits an affine "
                    "subspace through the data's mean, and without centring the "
                    "first direction is spent on the mean"
                ),
            ),
            (
                expected / d,
                (
                    "you averaged over pixels as well; the book's error sums over "
                    "pixels and averages over examples"
                ),
            ),
            (
                float((s[:k] ** 2).sum() / n),
                (
                    "that is the variance the top k directions keep; the error is what "
                    "the other directions hold"
                ),
            ),
            (
                expected * n / (n - 1),
                (
                    "you divided by N - 1 (an unbiased covariance); the mean error "
                    "over the N examples divides by N"
                ),
            ),
            (
                float((s[k + 1 :] ** 2).sum() / n),
                (
                    "off by one: with k components you keep eigenvalues 1..k and "
                    "lose k+1..D"
                ),
            ),
        ]
        for wrong, hint in hints:
            if _close(got, wrong):
                raise ExerciseCheckError(
                    f"for k={k} you returned {got:.6g}, expected {expected:.6g}: "
                    f"{hint}."
                )
        raise ExerciseCheckError(
            f"for k={k} you returned {got:.6g}, expected {expected:.6g}."
        )
    return _passed(
        "your function gives PCA's optimal reconstruction error for k = 1, 3 and 7."
    )


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


# --- Chapter 2, exercise "the Gaussian KL" --------------------------------------------


def check_gaussian_kl(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(mu (B, d), logvar (B, d)) -> (B,)``:
    KL(N(mu, diag(exp(logvar))) || N(0, I))."""
    generator = torch.Generator().manual_seed(3)
    mu = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    logvar = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    std = torch.exp(0.5 * logvar)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, std), torch.distributions.Normal(0.0, 1.0)
    ).sum(dim=1)
    got = fn(mu.clone(), logvar.clone())
    hint = (
        " Sum over the latent dimensions only, keeping one value per example."
        if isinstance(got, torch.Tensor) and got.dim() == 0
        else ""
    )
    got = _shaped_like(
        got, expected, "the answer must be one KL per example, shaped", hint
    )
    if torch.allclose(got, expected, rtol=1e-6, atol=1e-9):
        return _passed(
            "your KL matches torch.distributions.kl_divergence for six random "
            "Gaussians."
        )

    def kl_with(var, log_var):
        return 0.5 * (mu**2 + var - 1 - log_var).sum(dim=1)

    hints = [
        (-expected, "the sign is flipped: a KL divergence is never negative"),
        (2 * expected, "you dropped the factor 1/2 in front of the sum"),
        (
            kl_with(torch.exp(2 * logvar), 2 * logvar),
            (
                "you treated logvar as log(sigma); it is log(sigma^2), so sigma^2 = "
                "exp(logvar)"
            ),
        ),
        (
            kl_with(logvar, torch.log(logvar)),
            "you used logvar as the variance itself; the variance is exp(logvar)",
        ),
        (
            kl_with(logvar, torch.log(logvar.abs())),
            "you used logvar as the variance itself; the variance is exp(logvar)",
        ),
        (
            0.5 * (mu**2 + torch.exp(logvar) - logvar).sum(dim=1),
            "you left out the -1 inside the sum (one per latent dimension)",
        ),
    ]
    for wrong, hint in hints:
        if torch.allclose(got, wrong, rtol=1e-6, atol=1e-9, equal_nan=True):
            raise ExerciseCheckError(f"not yet: {hint}.")
    raise ExerciseCheckError(
        "the values differ from KL(N(mu, exp(logvar)) || N(0, I)) = 1/2 sum(mu^2 + "
        "exp(logvar) - 1 - logvar)."
    )


# --- Chapter 3, exercise "reparameterized sampling" -----------------------------------


def check_reparameterized_sample(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> bool:
    """Check ``fn(mu (B, d), logvar (B, d), eps (B, d)) -> z (B, d)``:
    z = mu + exp(logvar / 2) * eps, differentiable with respect to mu and logvar."""
    generator = torch.Generator().manual_seed(4)
    mu = torch.randn(5, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(
        5, 3, generator=generator, dtype=torch.float64, requires_grad=True
    )
    eps = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    expected = reparameterize(diagonal_gaussian(mu, logvar), eps).detach()
    got = fn(mu, logvar, eps)
    values = _shaped_like(got, expected, "z must have the shape of mu,")
    if not torch.allclose(values, expected, atol=1e-9):
        hints = [
            (
                mu + torch.exp(logvar) * eps,
                (
                    "you scaled eps by the variance exp(logvar); scale it by the "
                    "standard deviation exp(logvar / 2)"
                ),
            ),
            (
                mu + logvar * eps,
                (
                    "logvar is a log-variance: the standard deviation is "
                    "exp(logvar / 2), not logvar"
                ),
            ),
            (
                mu + torch.sqrt(logvar) * eps,
                (
                    "logvar is a log-variance: exponentiate it before taking the "
                    "square root"
                ),
            ),
            (
                mu + torch.sqrt(logvar.abs()) * eps,
                (
                    "logvar is a log-variance: exponentiate it before taking the "
                    "square root"
                ),
            ),
            (
                mu + eps,
                "the noise must be scaled by the standard deviation exp(logvar / 2)",
            ),
        ]
        for wrong, hint in hints:
            if torch.allclose(values, wrong.detach(), atol=1e-9, equal_nan=True):
                raise ExerciseCheckError(f"not yet: {hint}.")
        raise ExerciseCheckError("z should be mu + exp(logvar / 2) * eps, elementwise.")
    if not got.requires_grad:
        raise ExerciseCheckError(
            "the values are right but no gradient reaches mu and logvar: build z "
            "from them with differentiable operations (no .detach(), no "
            "torch.no_grad(), no .sample())."
        )
    grad_mu, grad_logvar = torch.autograd.grad(
        got.sum(), (mu, logvar), allow_unused=True
    )
    if grad_mu is None or grad_logvar is None:
        raise ExerciseCheckError(
            "z must depend on both mu and logvar through differentiable operations."
        )
    if not torch.allclose(grad_logvar, 0.5 * torch.exp(0.5 * logvar) * eps, atol=1e-9):
        raise ExerciseCheckError(
            "the gradient with respect to logvar is wrong: is the noise really eps, "
            "passed in?"
        )
    return _passed(
        "z = mu + exp(logvar / 2) * eps, and gradients flow to mu and logvar."
    )


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
