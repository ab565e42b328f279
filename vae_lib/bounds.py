"""Bounds on log p(x) by importance sampling: ELBO, IWAE and the log-likelihood estimate
(Chapter 2).

A latent-variable model enters through ``log_joint(x, z) -> (K, B)``, the value of
log p(x, z) for K samples per example, and an approximate posterior ``q``: a
``torch.distributions`` object with batch shape (B,) and event shape (d,).
With log importance weights
log w_k = log p(x, z_k) - log q(z_k | x), z_k ~ q:

* ELBO  = E_q[log w]                                    (Kingma & Welling 2014)
* IWAE_K = E[log (1/K) sum_k w_k]  >= ELBO, rising to log p(x) as K grows
  (Burda et al. 2016)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Distribution

from .distributions import reparameterize, rsample
from .models import VAE, evaluating
from .validate import (
    check_callable,
    check_float_tensor,
    check_instance,
    check_not_nan,
    check_number_or_tensor,
    check_positive_int,
    check_seed,
    check_tensor,
)

# (x (B, ...), z (K, B, d)) -> (K, B)
LogJoint = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def log_importance_weights(
    log_joint: LogJoint, x: torch.Tensor, q: Distribution, z: torch.Tensor
) -> torch.Tensor:
    """log w = log p(x, z) - log q(z | x) for K draws z (K, B, d) from q: (K, B)."""
    check_callable(log_joint, "log_joint")
    x = check_tensor(x, "x")
    check_instance(q, "q", Distribution)
    if len(q.batch_shape) != 1 or q.batch_shape[0] != x.shape[0]:
        raise ValueError(
            f"q must have batch shape ({x.shape[0]},) to match x, got "
            f"{tuple(q.batch_shape)}"
        )
    z = check_tensor(z, "z")
    if z.dim() != 3 or z.shape[1:] != q.batch_shape + q.event_shape:
        raise ValueError(
            f"z must be K draws from q, shaped (K, "
            f"{', '.join(map(str, q.batch_shape + q.event_shape))}), got "
            f"{tuple(z.shape)}"
        )
    return log_joint(x, z) - q.log_prob(z)


def _draws(q: Distribution, num_samples: int, generator: torch.Generator | None):
    """K = ``num_samples`` reparameterised draws from q (K, B, d), so gradients flow to
    q's parameters."""
    num_samples = check_positive_int(num_samples, "num_samples")
    return rsample(q, (num_samples,), generator=generator)


def _check_log_weights(log_weights: object) -> torch.Tensor:
    """(K, B) floating log weights with K >= 1, none nan (-inf, a zero weight, is
    allowed)."""
    log_weights = check_tensor(log_weights, "log_weights")
    if log_weights.dim() != 2 or log_weights.shape[0] == 0:
        raise ValueError(
            "log_weights must be shaped (K, B) with K >= 1 samples, got "
            f"{tuple(log_weights.shape)}"
        )
    if not log_weights.is_floating_point():
        raise TypeError(
            f"log_weights must be a floating-point tensor, got {log_weights.dtype}"
        )
    return check_not_nan(log_weights, "log_weights")


def elbo_from_log_weights(log_weights: torch.Tensor) -> torch.Tensor:
    """Monte Carlo ELBO: the mean of log w over the K samples, (K, B) -> (B,)."""
    return _check_log_weights(log_weights).mean(dim=0)


def iwae_from_log_weights(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k w_k computed stably with logsumexp, (K, B) -> (B,)."""
    log_weights = _check_log_weights(log_weights)
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def elbo_estimate(
    log_joint: LogJoint,
    x: torch.Tensor,
    q: Distribution,
    num_samples: int = 1,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """ELBO per example (B,), averaged over ``num_samples`` draws from q."""
    z = _draws(q, num_samples, generator)
    return elbo_from_log_weights(log_importance_weights(log_joint, x, q, z))


def iwae_bound(
    log_joint: LogJoint,
    x: torch.Tensor,
    q: Distribution,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-weighted bound IWAE_K per example (B,); K = 1 is the ELBO."""
    z = _draws(q, num_samples, generator)
    return iwae_from_log_weights(log_importance_weights(log_joint, x, q, z))


def _example_seed(seed: int, index: int) -> int:
    # Generators keep 32 bits of a seed on the CPU: mix (seed, index) into 32 bits.
    return (seed * 0x9E3779B1 + index * 0x85EBCA77 + 1) % 2**32


@torch.no_grad()
def log_likelihood_estimate(
    model: VAE,
    x: torch.Tensor,
    num_samples: int = 5000,
    *,
    batch_size: int = 100,
    chunk_size: int = 500,
    seed: int = 0,
) -> torch.Tensor:
    """Importance-sampled estimate of log p(x) per example (N,), with q(z|x) as the
    proposal.

    ``model`` needs ``posterior(x)`` (a Gaussian) and ``log_joint(x, z)``; a
    :class:`vae_lib.models.VAE` has both. The K = ``num_samples`` weights are processed
    ``chunk_size`` at a time for ``batch_size`` images and combined with a running
    logsumexp, so memory does not grow with K: the largest tensors are the decoder's
    outputs, chunk_size * batch_size * D floats (500 * 100 * 784 * 4 B = 157 MB by
    default, about three such tensors at the peak) and the noise, K * batch_size * d
    floats (100 MB for K = 5000, d = 50); measured on the CPU for Chapter 2's VAE, the
    process's peak memory grew by about 0.8 GB. Each example's noise comes from its own
    generator seeded by (seed, index), so its estimate depends neither on batch_size nor
    on chunk_size. The estimate is IWAE_K: a lower bound in expectation that converges
    to log p(x) as K grows. Returned on x's device.
    """
    check_instance(model, "model", torch.nn.Module)
    for method in ("posterior", "log_joint"):
        if not callable(getattr(model, method, None)):
            raise TypeError(
                f"model must have posterior(x) and log_joint(x, z), as a VAE does; "
                f"{type(model).__name__} has no {method}"
            )
    x = check_float_tensor(x, "x")
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(
            f"x must hold at least one example (B, ...), got shape {tuple(x.shape)}"
        )
    num_samples = check_positive_int(num_samples, "num_samples")
    batch_size = check_positive_int(batch_size, "batch_size")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    seed = check_seed(seed)
    device = next(model.parameters()).device
    estimates = []
    with evaluating(model):
        for start in range(0, x.shape[0], batch_size):
            batch = x[start : start + batch_size].to(device)
            q = model.posterior(batch)
            # (K, B, d)
            eps = torch.stack(
                [
                    torch.randn(
                        num_samples,
                        q.event_shape[0],
                        device=device,
                        dtype=q.mean.dtype,
                        generator=torch.Generator(device).manual_seed(
                            _example_seed(seed, start + j)
                        ),
                    )
                    for j in range(batch.shape[0])
                ],
                dim=1,
            )
            running = torch.full((batch.shape[0],), -math.inf, device=device)
            for done in range(0, num_samples, chunk_size):
                z = reparameterize(q, eps[done : done + chunk_size])  # (k, B, d)
                log_weights = log_importance_weights(model.log_joint, batch, q, z)
                running = torch.logaddexp(
                    running, torch.logsumexp(log_weights.float(), dim=0)
                )
            estimates.append(running - math.log(num_samples))
    return torch.cat(estimates).to(x.device)


def bits_per_dim(nats: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Convert a negative log-likelihood in nats per example to bits per dimension:
    nats / (D ln 2)."""
    num_dims = check_positive_int(num_dims, "num_dims")
    nats = check_number_or_tensor(nats, "nats")
    return nats / (num_dims * math.log(2))
