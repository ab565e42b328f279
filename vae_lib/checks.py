"""Automatic checks for the chapters' exercises.

Each ``check_*`` function runs a reader's answer on fresh inputs, compares it with a reference
and either prints a confirmation (returning True) or raises :class:`ExerciseCheckError` that
explains what is wrong -- with a specific hint when the answer matches a typical mistake.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .models import AutoencoderConfig, Autoencoder, count_parameters


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
            raise ExerciseCheckError(f"{what} should be one number, got a tensor of shape {tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ExerciseCheckError(f"{what} should be a number, got {type(value).__name__}")


# --- Chapter 1, exercise "PCA's optimum" -------------------------------------------------------

def pca_reconstruction_error(x: torch.Tensor, k: int) -> float:
    """Reference: mean over examples of ||x - x_hat||^2 for the best rank-k affine reconstruction.

    x: (N, D). Equals the sum of the discarded eigenvalues of the covariance (divided by N).
    """
    centred = x - x.mean(dim=0)
    singular_values = torch.linalg.svdvals(centred)
    return float((singular_values[k:] ** 2).sum() / x.shape[0])


def check_pca_error(fn: Callable[[torch.Tensor, int], float]) -> bool:
    """Check ``fn(x (N, D), k) -> float``: PCA's mean squared reconstruction error per example."""
    generator = torch.Generator().manual_seed(1)
    scales = torch.linspace(3.0, 0.1, 12)
    x = torch.randn(500, 12, generator=generator, dtype=torch.float64) * scales.double() + 2.0
    for k in (1, 3, 7):
        expected = pca_reconstruction_error(x, k)
        got = _as_float(fn(x.clone(), k), f"fn(x, k={k})")
        if _close(got, expected):
            continue
        n, d = x.shape
        s_raw = torch.linalg.svdvals(x)
        s = torch.linalg.svdvals(x - x.mean(dim=0))
        hints = [
            (float((s_raw[k:] ** 2).sum() / n), "you did not subtract the mean first: PCA fits an affine subspace "
             "through the data's mean, and without centring the first direction is spent on the mean"),
            (expected / d, "you averaged over pixels as well; the book's error sums over pixels and averages over examples"),
            (float((s[:k] ** 2).sum() / n), "that is the variance the top k directions keep; the error is what the "
             "other directions hold"),
            (expected * n / (n - 1), "you divided by N - 1 (an unbiased covariance); the mean error over the N examples divides by N"),
            (float((s[k + 1 :] ** 2).sum() / n), "off by one: with k components you keep eigenvalues 1..k and lose k+1..D"),
        ]
        for wrong, hint in hints:
            if _close(got, wrong):
                raise ExerciseCheckError(f"for k={k} you returned {got:.6g}, expected {expected:.6g}: {hint}.")
        raise ExerciseCheckError(f"for k={k} you returned {got:.6g}, expected {expected:.6g}.")
    return _passed("your function gives PCA's optimal reconstruction error for k = 1, 3 and 7.")


# --- Chapter 1, exercise "counting parameters" ---------------------------------------------------

def check_parameter_count(fn: Callable[[int, Sequence[int], int], int]) -> bool:
    """Check ``fn(num_pixels, hidden_dims, latent_dim) -> int`` against vae_lib's MLP autoencoder."""
    for num_pixels, hidden, latent in ((784, (256,), 2), (784, (512, 256), 16), (64, (), 3)):
        side = int(num_pixels**0.5)
        model = Autoencoder(AutoencoderConfig(image_shape=(1, side, side), hidden_dims=hidden, latent_dim=latent))
        expected = count_parameters(model)
        got = fn(num_pixels, hidden, latent)
        if got == expected:
            continue
        sizes = [num_pixels, *hidden, latent]
        weights_only = 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        hint = ""
        if got == weights_only:
            hint = " You counted the weight matrices but not the biases: each layer also has one bias per output."
        elif got * 2 == expected or got == sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])):
            hint = " That is the encoder alone; the decoder mirrors it and has parameters of its own."
        raise ExerciseCheckError(
            f"for num_pixels={num_pixels}, hidden_dims={hidden}, latent_dim={latent} you returned {got}, expected {expected}.{hint}"
        )
    return _passed("your count matches the autoencoder's parameters for three architectures.")


# --- Chapter 1, exercise "walking between two codes" ---------------------------------------------

def check_interpolation(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """Check ``fn(z0 (d,), z1 (d,), num_steps) -> (num_steps, d)``: evenly spaced, both ends included."""
    generator = torch.Generator().manual_seed(2)
    z0, z1 = torch.randn(2, 5, generator=generator)
    for steps in (2, 7):
        expected = torch.stack([z0 + t * (z1 - z0) for t in torch.linspace(0, 1, steps)])
        got = fn(z0.clone(), z1.clone(), steps)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise ExerciseCheckError(f"with num_steps={steps} the answer must be shaped {tuple(expected.shape)}, got {shape}.")
        got = got.detach().to(expected.dtype)
        if torch.allclose(got, expected, atol=1e-5):
            continue
        hint = ""
        if torch.allclose(got, expected.flip(0), atol=1e-5):
            hint = " Your path runs from z1 to z0; start at z0."
        elif torch.allclose(got[0], z0, atol=1e-5) and not torch.allclose(got[-1], z1, atol=1e-5):
            hint = " The last row should be z1 itself: use steps t = 0, 1/(n-1), ..., 1 (torch.linspace), not arange."
        raise ExerciseCheckError(f"with num_steps={steps} the rows are not z0 + t (z1 - z0) for evenly spaced t in [0, 1].{hint}")
    return _passed("your path starts at z0, ends at z1 and takes even steps.")
