"""Uniform dequantisation: 8-bit images as continuous data, so that a density's
log-likelihood bounds the probability of the discrete images (Chapter 2).

An image whose pixels take the levels k_i in {0, ..., L - 1} (L = 256 for 8 bits)
becomes x = (k + u) / L with u ~ U[0, 1)^D, a point of the unit cube [0, 1]^D. Any
density p on the cube defines a discrete model, P(k) = integral of p over the bin of k
(a cube of side 1/L), and by Jensen's inequality

    log P(k) >= E_u[log p((k + u) / L)] - D log L

(Theis, van den Oord & Bethge 2016): the negative log-likelihood of the dequantised data
plus D log L nats bounds the discrete negative log-likelihood from above.
"""

from __future__ import annotations

import math

import torch

from .validate import (
    check_generator,
    check_images,
    check_number_or_tensor,
    check_positive_int,
)


def pixel_levels(x: torch.Tensor, num_levels: int = 256) -> torch.Tensor:
    """The integer level k of every pixel of images x (B, C, H, W) stored as
    k / (num_levels - 1) in [0, 1]: int64, same shape and device."""
    x = check_images(x)
    num_levels = check_positive_int(num_levels, "num_levels")
    if num_levels < 2:
        raise ValueError(f"num_levels must be at least 2, got {num_levels}")
    scaled = x.double() * (num_levels - 1)
    levels = scaled.round()
    if x.numel() and (scaled - levels).abs().max() > 1e-3:
        raise ValueError(
            f"x must hold quantised pixels k / {num_levels - 1}, got values "
            f"{(scaled - levels).abs().max().item():.3g} levels away from the nearest"
        )
    return levels.long()


def dequantize(
    x: torch.Tensor, *, generator: torch.Generator | None = None, num_levels: int = 256
) -> torch.Tensor:
    """Uniformly dequantised images (k + u) / num_levels, u ~ U[0, 1), for quantised
    images x (B, C, H, W) in [0, 1] (see :func:`pixel_levels`): same shape, dtype and
    device as x, values in [0, 1)."""
    levels = pixel_levels(x, num_levels)
    check_generator(generator)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (levels.to(x.dtype) + u) / num_levels


def discrete_nll_bound(
    continuous_nll: torch.Tensor | float, num_dims: int, num_levels: int = 256
) -> torch.Tensor | float:
    """Upper bound, in nats, on the negative log-probability of the discrete images,
    from the negative log-density (nats, per image) of their dequantised versions on
    [0, 1]^D: continuous_nll + D log(num_levels)."""
    num_dims = check_positive_int(num_dims, "num_dims")
    num_levels = check_positive_int(num_levels, "num_levels")
    if num_levels < 2:
        raise ValueError(f"num_levels must be at least 2, got {num_levels}")
    continuous_nll = check_number_or_tensor(continuous_nll, "continuous_nll")
    return continuous_nll + num_dims * math.log(num_levels)
