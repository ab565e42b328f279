"""Log-likelihoods, the closed-form Gaussian KL and the ELBO (Chapter 2), per example
in nats.

The likelihoods and the KL reduce over every dimension but the first and return shape
(B,); ``elbo`` combines such per-example values. They compute in float32 even under bf16
autocast, so the numbers a chapter prints are not rounded to bf16, and keep float64
inputs in float64. A VAE computes its own likelihood and KL through its
distributions (:class:`vae_lib.models.VAE`); these closed forms are the ones Chapter 2
derives, and the tests check that the two agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .validate import (
    check_finite,
    check_finite_float,
    check_float_tensor,
    check_non_negative_float,
    check_same_device,
    check_same_shape,
    check_unit_range,
    check_where,
)


def _per_example_sum(
    t: torch.Tensor, where: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over everything but the batch axis, counting only entries where ``where`` is
    True (if given)."""
    if where is not None:
        check_where(where, t)
        t = torch.where(where, t, torch.zeros((), dtype=t.dtype, device=t.device))
    return t.flatten(1).sum(dim=1)


def _pair(
    a: object, b: object, names: tuple[str, str]
) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = check_float_tensor(a, names[0]), check_float_tensor(b, names[1])
    check_same_shape(a, b, names)
    check_same_device(a, b, names)
    if a.dim() < 1 or a.shape[0] == 0:
        raise ValueError(
            f"{names[0]} must have a non-empty batch dimension first, got shape "
            f"{tuple(a.shape)}"
        )
    return _full_precision(a), _full_precision(b)


def _full_precision(t: torch.Tensor) -> torch.Tensor:
    """float64 stays float64; lower precision (bf16 under autocast) becomes float32."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def squared_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_i (x_hat_i - x_i)^2 per example: (B, ...) -> (B,)."""
    x_hat, x = _pair(x_hat, x, ("x_hat", "x"))
    return _per_example_sum((x_hat - x) ** 2)


def bernoulli_log_likelihood(
    logits: torch.Tensor, x: torch.Tensor, where: torch.Tensor | None = None
) -> torch.Tensor:
    """log p(x | logits) = sum_i [x_i log s_i + (1 - x_i) log(1 - s_i)],
    s = sigmoid(logits).

    x must be in [0, 1]. For binary x this is a log-probability; for grey levels it is
    the negative "binary cross-entropy", which is not a normalised likelihood
    (Chapter 2). With a bool ``where`` (e.g. (B, 1, H, W)), only those pixels count: the
    likelihood of the observed pixels.
    """
    logits, x = _pair(logits, x, ("logits", "x"))
    check_unit_range(x, "x", "be in [0, 1] for a Bernoulli likelihood")
    return -_per_example_sum(
        F.binary_cross_entropy_with_logits(logits, x, reduction="none"), where
    )


def gaussian_log_likelihood(
    mean: torch.Tensor,
    logvar: torch.Tensor | float,
    x: torch.Tensor,
    where: torch.Tensor | None = None,
) -> torch.Tensor:
    """log N(x; mean, exp(logvar)) summed over pixels (only those where ``where`` is
    True, if given); logvar is a tensor broadcastable to x or a float."""
    mean, x = _pair(mean, x, ("mean", "x"))
    if isinstance(logvar, torch.Tensor):
        logvar = check_finite(check_float_tensor(logvar, "logvar"), "logvar")
        try:
            torch.broadcast_shapes(logvar.shape, x.shape)
        except RuntimeError:
            raise ValueError(
                f"logvar must broadcast to x's shape {tuple(x.shape)}, got "
                f"{tuple(logvar.shape)}"
            ) from None
    else:
        logvar = check_finite_float(logvar, "logvar")
    logvar = torch.as_tensor(logvar, dtype=mean.dtype, device=mean.device)
    log_density = -0.5 * (
        math.log(2 * math.pi) + logvar + (x - mean) ** 2 * torch.exp(-logvar)
    )
    return _per_example_sum(log_density.expand_as(x), where)


def gaussian_kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Each latent dimension's KL(N(mu_j, exp(logvar_j)) || N(0, 1))
    = 1/2 (mu_j^2 + exp(logvar_j) - 1 - logvar_j).

    mu, logvar: (B, latent_dim) -> (B, latent_dim) (Chapter 4 looks at which dimensions
    carry the rate).
    """
    mu, logvar = _pair(mu, logvar, ("mu", "logvar"))
    return 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar)


def gaussian_kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), the sum over dimensions of
    :func:`gaussian_kl_per_dimension`.

    mu, logvar: (B, latent_dim) -> (B,). Kingma & Welling (2014), Appendix B.
    """
    return _per_example_sum(gaussian_kl_per_dimension(mu, logvar))


def elbo(
    log_likelihood: torch.Tensor, kl: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """ELBO = E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)), per example (B,).

    With beta = 1 this is a lower bound on log p(x); beta > 1 gives a looser bound, and
    beta < 1 an objective that can exceed log p(x) (Higgins et al. 2017; Chapter 2).
    """
    log_likelihood, kl = _pair(log_likelihood, kl, ("log_likelihood", "kl"))
    beta = check_non_negative_float(beta, "beta")
    return log_likelihood - beta * kl
