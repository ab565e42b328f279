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

from .runtime import resolve_device
from .validate import (
    check_finite,
    check_float_tensor,
    check_generator,
    check_instance,
    check_non_negative_int,
    check_positive_int,
    check_same_shape,
    check_tensor,
    check_where,
)


def standard_normal(
    latent_dim: int, *, device: torch.device | str = "cpu", dtype=torch.float32
) -> Independent:
    """The prior p(z) = N(0, I) over codes of ``latent_dim`` entries: event shape
    (latent_dim,). Its ``log_prob(z)`` is log p(z) with its constant, for z (..., d)."""
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    zeros = torch.zeros(latent_dim, device=resolve_device(device), dtype=dtype)
    return Independent(Normal(zeros, torch.ones_like(zeros)), 1)


def diagonal_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> Independent:
    """N(mu, diag(exp(logvar))) with event shape (d,): an encoder's q(z|x) from its two
    outputs, each (B, d), of finite values (checked unless value checks are off)."""
    mu, logvar = check_float_tensor(mu, "mu"), check_float_tensor(logvar, "logvar")
    check_same_shape(mu, logvar, ("mu", "logvar"))
    return Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)


def reparameterize(q: Distribution, eps: torch.Tensor) -> torch.Tensor:
    """The reparameterised draw z = mu + sigma * eps (Kingma & Welling 2014): standard
    normal noise ``eps`` (..., B, d) turned into draws from the Gaussian ``q``, with
    gradients flowing to q's parameters. Chapter 3."""
    _check_gaussian(q)
    eps = check_tensor(eps, "eps")
    if eps.dtype != q.mean.dtype:
        raise TypeError(f"eps must have q's dtype {q.mean.dtype}, got {eps.dtype}")
    if eps.shape[-q.mean.dim() :] != q.mean.shape:
        raise ValueError(
            f"eps must be shaped (..., {', '.join(map(str, q.mean.shape))}) like q's "
            f"draws, got {tuple(eps.shape)}"
        )
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
    _check_gaussian(q)
    sample_shape = _check_sample_shape(sample_shape)
    check_generator(generator)
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
    check_instance(p, "p", Distribution)
    sample_shape = _check_sample_shape(sample_shape)
    check_generator(generator)
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
    check_instance(if_true, "if_true", Independent)
    check_instance(if_false, "if_false", Independent)
    if if_true.batch_shape != if_false.batch_shape:
        raise ValueError(
            "if_true and if_false must have the same batch shape, got "
            f"{tuple(if_true.batch_shape)} and {tuple(if_false.batch_shape)}"
        )
    condition = check_tensor(condition, "condition")
    if condition.dtype != torch.bool or condition.shape != if_true.batch_shape[:1]:
        raise ValueError(
            f"condition must be a bool tensor shaped {tuple(if_true.batch_shape[:1])}, "
            f"got {condition.dtype} {tuple(condition.shape)}"
        )
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
            "select needs two Bernoulli or two Normal likelihoods as if_true and "
            f"if_false, got {type(a).__name__} and {type(b).__name__}"
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
    x = check_finite(check_float_tensor(x, "x"), "x")
    if x.dtype != p.mean.dtype or x.shape != p.batch_shape + p.event_shape:
        raise ValueError(
            f"x must be shaped {tuple(p.batch_shape + p.event_shape)} in "
            f"{p.mean.dtype} like p's draws, got {x.dtype} {tuple(x.shape)}"
        )
    per_pixel = p.base_dist.log_prob(x)
    if where is not None:
        check_where(where, x)
        per_pixel = torch.where(where, per_pixel, torch.zeros_like(per_pixel))
    return per_pixel.flatten(1).sum(dim=1)


def _check_gaussian(q: object) -> None:
    """Fail unless ``q`` is a Gaussian: Normal, Independent Normal or
    MultivariateNormal."""
    base = q.base_dist if isinstance(q, Independent) else q
    if not isinstance(base, (Normal, MultivariateNormal)):
        raise TypeError(
            "q must be a Gaussian (Normal, Independent Normal or MultivariateNormal), "
            f"got {type(q).__name__}"
        )


def _check_sample_shape(sample_shape: object) -> tuple[int, ...]:
    """A tuple of non-negative ints (``torch.Size`` too)."""
    if not isinstance(sample_shape, tuple):
        raise TypeError(
            f"sample_shape must be a tuple of ints such as (K,), got {sample_shape!r}"
        )
    return tuple(check_non_negative_int(n, "sample_shape") for n in sample_shape)
