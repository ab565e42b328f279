"""Ways to damage an image, for Chapters 5 to 7: noise models now, masks of missing pixels later.

Every function takes images x (B, C, H, W) with values in [0, 1] and a ``torch.Generator``, so a
corruption is reproducible; none changes its input. Noise keeps values in [0, 1] (a sensor
saturates), so a damaged image is still a valid image.
"""
from __future__ import annotations

import math
import numbers

import torch

from .validate import check_images


def _check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator (for reproducible noise), got {type(generator).__name__}")
    return generator


def _check_level(value: object, name: str, upper: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (upper is not None and value > upper):
        bound = f"in [0, {upper:g}]" if upper is not None else "non-negative"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """y = clip(x + sigma * eps, 0, 1) with eps ~ N(0, I): (B, C, H, W) -> (B, C, H, W).

    The clipping makes the noise non-Gaussian near black and white pixels; the chapters' MAP
    inference treats it as Gaussian anyway and says so.
    """
    x = check_images(x)
    return _add_gaussian(x, _check_level(sigma, "sigma", None), _check_generator(generator))


def _add_gaussian(x: torch.Tensor, sigma: float | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """clip(x + sigma * eps, 0, 1) for a number or a per-image tensor (B, 1, 1, 1) sigma (unchecked)."""
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + sigma * eps).clamp(0.0, 1.0)


def salt_and_pepper(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Replace a random fraction ``p`` of pixels by 0 or 1 (each with probability p/2): (B, C, H, W) -> same.

    Each pixel is hit independently; for colour images a hit replaces all channels of the pixel.
    """
    x = check_images(x)
    return _replace_pixels(x, _check_level(p, "p", 1.0), _check_generator(generator))


def _replace_pixels(x: torch.Tensor, p: float | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Salt-and-pepper for a number or a per-image tensor (B, 1, 1, 1) p (unchecked)."""
    shape = (x.shape[0], 1, *x.shape[2:])
    hit = torch.rand(shape, generator=generator, device=x.device) < p
    salt = (torch.rand(shape, generator=generator, device=x.device) < 0.5).to(x.dtype)
    return torch.where(hit, salt.expand_as(x), x).contiguous()


def training_noise(x: torch.Tensor, generator: torch.Generator, max_sigma: float = 0.6, max_p: float = 0.4,
                   share_salt_and_pepper: float = 0.3) -> torch.Tensor:
    """A different random corruption for each image, for training denoisers over a range of noise:
    salt-and-pepper with p ~ U(0, max_p) for a share of the images, Gaussian noise with
    sigma ~ U(0, max_sigma) for the rest. (B, C, H, W) -> (B, C, H, W); use as ``fit(transform=...)``.
    """
    x = check_images(x)
    generator = _check_generator(generator)
    _check_level(max_sigma, "max_sigma", None)
    _check_level(max_p, "max_p", 1.0)
    _check_level(share_salt_and_pepper, "share_salt_and_pepper", 1.0)
    b = x.shape[0]
    sigma = torch.rand((b, 1, 1, 1), generator=generator, device=x.device, dtype=x.dtype) * max_sigma
    p = torch.rand((b, 1, 1, 1), generator=generator, device=x.device) * max_p
    use_sp = torch.rand((b, 1, 1, 1), generator=generator, device=x.device) < share_salt_and_pepper
    noisy = _add_gaussian(x, sigma, generator)
    return torch.where(use_sp, _replace_pixels(x, p, generator), noisy)
