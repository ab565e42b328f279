"""What a trained VAE's latent space holds (Chapter 4): codes, rate and distortion,
active units, paths.

``rate_distortion`` splits the negative ELBO into the rate R = KL(q(z|x) || p(z))
(nats the code costs) and the distortion D = -E_q[log p(x|z)] (nats the reconstruction
misses), so -ELBO = R + D (Alemi et al. 2018). ``active_units`` counts latent dimensions
whose posterior mean changes with the input (Burda et al. 2016). ``lerp``/``slerp``
interpolate between codes.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.distributions.kl import kl_divergence

from .models import VAE, evaluating
from .validate import (
    check_finite,
    check_float_tensor,
    check_in_interval,
    check_instance,
    check_model_images,
    check_not_empty,
    check_positive_float,
    check_positive_int,
    check_same_shape,
    check_seed,
    check_tensor,
)


class RateDistortion(NamedTuple):
    """Per-example rate and distortion in nats, each (N,); their sum is the negative
    ELBO."""

    rate: torch.Tensor
    distortion: torch.Tensor

    @property
    def negative_elbo(self) -> torch.Tensor:
        return self.rate + self.distortion


def _batches(x: torch.Tensor, batch_size: int):
    """Consecutive slices of at most ``batch_size`` items (one empty slice for an empty
    x, so that an empty batch gives an empty result)."""
    check_positive_int(batch_size, "batch_size")
    for start in range(0, max(x.shape[0], 1), batch_size):
        yield x[start : start + batch_size]


def _model_images(model: object, x: object) -> torch.Tensor:
    """Fail unless ``model`` is a VAE and ``x`` images it takes (N, C, H, W)."""
    check_instance(model, "model", VAE)
    return check_model_images(x, model, "x")  # type: ignore[arg-type]


@torch.no_grad()
def latent_means(model: VAE, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Posterior means mu(x) of images x (N, C, H, W): (N, latent_dim), on the model's
    device (codes stay where the decoder needs them)."""
    x = _model_images(model, x)
    device = next(model.parameters()).device
    with evaluating(model):
        return torch.cat(
            [model.posterior(b.to(device)).mean for b in _batches(x, batch_size)]
        )


@torch.no_grad()
def reconstruct(model: VAE, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """E[x | z = mu(x)]: decode each image's posterior mean, (N, C, H, W) ->
    (N, C, H, W) in [0, 1], on x's device."""
    codes = latent_means(model, x, batch_size)
    with evaluating(model):
        images = [model.decode(mu) for mu in _batches(codes, batch_size)]
    return torch.cat(images).to(x.device)


@torch.no_grad()
def rate_distortion(
    model: VAE, x: torch.Tensor, seed: int = 0, batch_size: int = 1000
) -> RateDistortion:
    """Closed-form rate and one-sample (seeded) distortion of each image x (N, C, H, W),
    in nats, on x's device."""
    x = _model_images(model, x)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(check_seed(seed))
    rates, distortions = [], []
    with evaluating(model):
        for batch in _batches(x, batch_size):
            log_likelihood, kl = model.elbo_terms(batch.to(device), generator=generator)
            rates.append(kl)
            distortions.append(-log_likelihood)
    return RateDistortion(
        torch.cat(rates).to(x.device), torch.cat(distortions).to(x.device)
    )


@torch.no_grad()
def kl_per_dimension(
    model: VAE, x: torch.Tensor, batch_size: int = 1000
) -> torch.Tensor:
    """Mean over images x (N, C, H, W) of each latent dimension's KL to the prior, nats:
    (latent_dim,), on x's device."""
    x = check_not_empty(_model_images(model, x), "x")
    device = next(model.parameters()).device
    prior = model.prior().base_dist  # (latent_dim,) independent N(0, 1)
    total = torch.zeros(model.config.latent_dim, device=device)
    with evaluating(model):
        for batch in _batches(x, batch_size):
            q = model.posterior(batch.to(device)).base_dist  # batch (B, latent_dim)
            total += kl_divergence(q, prior).sum(dim=0)
    return (total / x.shape[0]).to(x.device)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """Which latent dimensions are active: Var over images of the posterior mean
    > ``threshold``.

    mu: posterior means (N, latent_dim) -> bool (latent_dim,). Burda et al. (2016),
    Section 5.2.
    """
    mu = check_float_tensor(mu, "mu")
    if mu.dim() != 2 or mu.shape[0] < 2:
        raise ValueError(
            f"mu must be (N, latent_dim) with N >= 2, got shape {tuple(mu.shape)}"
        )
    check_positive_float(threshold, "threshold")
    return mu.float().var(dim=0) > threshold


def _path_weights(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    check_float_tensor(z_a, "z_a"), check_float_tensor(z_b, "z_b")
    check_same_shape(z_a, z_b, ("z_a", "z_b"))
    if z_a.dim() != 1:
        raise ValueError(
            "z_a and z_b must be single codes of shape (latent_dim,), got "
            f"{tuple(z_a.shape)}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(
            f"steps must be an int >= 2 (both end points included), got {steps!r}"
        )
    # (steps, 1)
    return torch.linspace(0, 1, steps, device=z_a.device, dtype=z_a.dtype)[:, None]


def lerp(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """Straight line from z_a to z_b (latent_dim,): (steps, latent_dim), both ends
    included."""
    t = _path_weights(z_a, z_b, steps)
    return (1 - t) * z_a + t * z_b


def slerp(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation (White 2016): follow the great circle between the
    directions of z_a and z_b while the norm changes linearly, so intermediate codes
    keep the typical norm of samples from N(0, I) instead of cutting through the
    low-density centre. (steps, latent_dim)."""
    t = _path_weights(z_a, z_b, steps)
    norm_a, norm_b = z_a.norm(), z_b.norm()
    if norm_a == 0 or norm_b == 0:
        raise ValueError(
            "slerp needs two non-zero codes: the direction of a zero code is undefined"
        )
    u_a, u_b = z_a / norm_a, z_b / norm_b
    cosine = (u_a @ u_b).clamp(-1.0, 1.0)
    if cosine < -1 + 1e-6:
        raise ValueError(
            "slerp needs codes that do not point in opposite directions: every half "
            "great circle joins them, so the path is not defined"
        )
    omega = torch.arccos(cosine)
    # parallel within rounding: sin(omega) cancels, and the arc is a line
    if omega < 1e-3:
        direction = (1 - t) * u_a + t * u_b
        direction = direction / direction.norm(dim=1, keepdim=True)
    else:
        direction = (
            torch.sin((1 - t) * omega) * u_a + torch.sin(t * omega) * u_b
        ) / torch.sin(omega)
    return direction * ((1 - t) * norm_a + t * norm_b)


def latent_grid(num_per_side: int, extent: float = 0.95) -> torch.Tensor:
    """A (num_per_side**2, 2) grid of 2-D codes, evenly spaced in probability under
    N(0, I): each axis takes the standard normal quantiles of
    linspace(1 - extent, extent) (Kingma & Welling 2014, Fig. 4). Row-major with z_2
    decreasing down the rows, so it plots like a map."""
    check_positive_int(num_per_side, "num_per_side")
    check_in_interval(extent, "extent", 0.5, 1, open_low=True, open_high=True)
    q = torch.distributions.Normal(0.0, 1.0).icdf(
        torch.linspace(1 - extent, extent, num_per_side)
    )
    z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def traverse(z: torch.Tensor, dim: int, values: torch.Tensor) -> torch.Tensor:
    """Copies of code z (latent_dim,) with dimension ``dim`` set to each of ``values``
    (n,): (n, latent_dim)."""
    z = check_float_tensor(z, "z")
    values = check_finite(check_tensor(values, "values"), "values")
    if z.dim() != 1 or values.dim() != 1:
        raise ValueError(
            f"z must be (latent_dim,) and values (n,), got {tuple(z.shape)} and "
            f"{tuple(values.shape)}"
        )
    if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim < z.shape[0]:
        raise ValueError(f"dim must be an index in [0, {z.shape[0]}), got {dim!r}")
    codes = z.repeat(values.shape[0], 1)
    codes[:, dim] = values.to(codes)
    return codes
