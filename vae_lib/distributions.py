"""The few facts about Gaussians that the whole book leans on, each written once.

A VAE is three distributions (Chapter 2): the prior p(z) = N(0, I), the approximate
posterior q(z|x), a diagonal Gaussian, and the likelihood p(x|z). Here live the prior
(:func:`standard_normal`, whose ``log_prob`` is log p(z)), the reparameterised draw
z = mu + sigma * eps (:func:`reparameterize`, :func:`rsample`; Chapter 3) and the
log-probability of some pixels only (:func:`masked_log_prob`; Chapter 6). Every bound,
estimator and inference method in :mod:`vae_lib` draws and scores through them.

Distributions are ``torch.distributions`` objects; a Gaussian is an ``Independent``
``Normal`` (diagonal) or a ``MultivariateNormal``, with batch shape (B,) and event shape
(d,) for codes.
"""

from __future__ import annotations

import torch
from torch.distributions import (
    Bernoulli,
    Distribution,
    Independent,
    MultivariateNormal,
    Normal,
)


def standard_normal(
    latent_dim: int, *, device: torch.device | str = "cpu", dtype=torch.float32
) -> Independent:
    """The prior p(z) = N(0, I) over codes of ``latent_dim`` entries: event shape
    (latent_dim,). Its ``log_prob(z)`` is log p(z) with its constant, for z (..., d)."""
    zeros = torch.zeros(latent_dim, device=device, dtype=dtype)
    return Independent(Normal(zeros, torch.ones_like(zeros)), 1)


def diagonal_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> Independent:
    """N(mu, diag(exp(logvar))) with event shape (d,): an encoder's q(z|x) from its two
    outputs, each (B, d)."""
    return Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)


def reparameterize(q: Distribution, eps: torch.Tensor) -> torch.Tensor:
    """The reparameterised draw z = mu + sigma * eps (Kingma & Welling 2014): standard
    normal noise ``eps`` (..., B, d) turned into draws from the Gaussian ``q``, with
    gradients flowing to q's parameters. Chapter 3."""
    if isinstance(q, MultivariateNormal):
        return q.loc + (q.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    base = q.base_dist if isinstance(q, Independent) else q
    if isinstance(base, Normal):
        return base.loc + base.scale * eps
    raise TypeError(
        "q must be a Gaussian (Normal, Independent Normal or MultivariateNormal), "
        f"got {type(q).__name__}"
    )


def rsample(
    q: Distribution,
    sample_shape: tuple[int, ...] = (),
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Reparameterised draws from the Gaussian ``q``, (*sample_shape, *batch, *event),
    using ``generator`` (None: torch's global one)."""
    mean = q.mean
    eps = torch.randn(
        (*sample_shape, *mean.shape),
        generator=generator,
        device=mean.device,
        dtype=mean.dtype,
    )
    return reparameterize(q, eps)


def sample(
    p: Distribution,
    sample_shape: tuple[int, ...] = (),
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draws from one of the book's likelihoods, an ``Independent`` ``Bernoulli`` or
    ``Normal`` (or a Gaussian q), using ``generator``; no gradient flows."""
    base = p.base_dist if isinstance(p, Independent) else p
    if isinstance(base, Bernoulli):
        probs = base.probs.expand((*sample_shape, *base.probs.shape))
        return torch.bernoulli(probs, generator=generator)
    return rsample(p, sample_shape, generator=generator).detach()


def select(
    condition: torch.Tensor, if_true: Independent, if_false: Independent
) -> Independent:
    """Per batch entry, ``if_true`` where ``condition`` (B,) holds, else ``if_false``:
    two ``Independent`` Bernoulli or Normal distributions of the same shape (a Markov
    chain keeping or replacing its state's likelihood)."""
    a, b = if_true.base_dist, if_false.base_dist

    def pick(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(condition.view(-1, *[1] * (x.dim() - 1)), x, y)

    if isinstance(a, Bernoulli) and isinstance(b, Bernoulli):
        chosen: Distribution = Bernoulli(
            logits=pick(a.logits, b.logits), validate_args=False
        )
    elif isinstance(a, Normal) and isinstance(b, Normal):
        chosen = Normal(pick(a.loc, b.loc), pick(a.scale, b.scale), validate_args=False)
    else:
        raise TypeError(
            "select needs two Bernoulli or two Normal likelihoods, got "
            f"{type(a).__name__} and {type(b).__name__}"
        )
    return Independent(chosen, if_true.reinterpreted_batch_ndims)


def masked_log_prob(
    p: Distribution, x: torch.Tensor, where: torch.Tensor | None = None
) -> torch.Tensor:
    """log p(x) of an ``Independent`` distribution over images, summed per image over
    the pixels where ``where`` is True (all of them if None): (B, C, H, W) -> (B,).

    Pixels are independent given z, so the log-probability of some pixels is the sum
    of theirs: with ``where`` the observed pixels, this is log p(x_obs | z).
    """
    if not isinstance(p, Independent):
        raise TypeError(
            f"p must be an Independent distribution, got {type(p).__name__}"
        )
    per_pixel = p.base_dist.log_prob(x)
    if where is not None:
        if where.dtype != torch.bool or where.shape[0] != x.shape[0]:
            raise ValueError(
                "where must be a bool tensor with one entry per image first, got "
                f"{where.dtype} {tuple(where.shape)}"
            )
        per_pixel = torch.where(where, per_pixel, torch.zeros_like(per_pixel))
    return per_pixel.flatten(1).sum(dim=1)
