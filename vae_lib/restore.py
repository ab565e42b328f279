"""Restoring damaged images (Chapter 5 onwards): classical baselines and methods built on a VAE.

Baselines work image by image on the CPU with SciPy and scikit-image. The VAE methods take a
trained :class:`vae_lib.models.VAE`: ``naive_vae`` encodes the damaged image and decodes the
mean; ``map_latent`` searches for the code z that best explains the damaged image y under an
explicit noise model, maximising log p(y | x_hat(z)) + log p(z); ``langevin_samples`` draws
several restorations from p(z | y), whose spread is the model's uncertainty.
Shapes: images (B, C, H, W) in [0, 1]; codes (B, latent_dim).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy import ndimage
from skimage.restoration import denoise_nl_means

from .latent import latent_means
from .metrics import psnr
from .validate import check_images, check_positive_float, check_positive_int, check_same_shape

NoiseLogLikelihood = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_hat, y) -> (B,)


def _per_image(y: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """Apply ``fn`` to each image as an (H, W, C) array and stack the results back into (B, C, H, W)."""
    y = check_images(y, "y")
    out = [fn(image.transpose(1, 2, 0)) for image in y.detach().cpu().numpy().astype(np.float64)]
    return torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2).astype(np.float32)).clamp(0, 1).to(y.device)


def gaussian_filter(y: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each image with a Gaussian of standard deviation ``sigma`` pixels (channels kept apart)."""
    sigma = check_positive_float(sigma, "sigma")
    return _per_image(y, lambda a: ndimage.gaussian_filter(a, sigma=(sigma, sigma, 0), mode="nearest"))


def median_filter(y: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Replace each pixel by the median of its ``size`` x ``size`` neighbourhood (channels kept apart)."""
    size = check_positive_int(size, "size")
    return _per_image(y, lambda a: ndimage.median_filter(a, size=(size, size, 1), mode="nearest"))


def nl_means(y: torch.Tensor, noise_sigma: float, strength: float = 0.8, patch_size: int = 5,
             patch_distance: int = 6) -> torch.Tensor:
    """Non-local means (Buades et al. 2005, via scikit-image): average pixels whose surrounding
    patches look alike; ``h = strength * noise_sigma`` sets how alike they must be."""
    noise_sigma = check_positive_float(noise_sigma, "noise_sigma")
    strength = check_positive_float(strength, "strength")

    def denoise(a: np.ndarray) -> np.ndarray:  # (H, W, C); scikit-image wants grey images without a channel axis
        grey = a.shape[2] == 1
        out = denoise_nl_means(a[..., 0] if grey else a, h=strength * noise_sigma, sigma=noise_sigma, fast_mode=True,
                               patch_size=patch_size, patch_distance=patch_distance, channel_axis=None if grey else 2)
        return out[..., None] if grey else out

    return _per_image(y, denoise)


def best_setting(restore: Callable[[torch.Tensor, float], torch.Tensor], damaged: torch.Tensor, clean: torch.Tensor,
                 candidates: Sequence[float]) -> tuple[float, dict[float, float]]:
    """The candidate setting with the highest mean PSNR on a validation pair (damaged, clean), and all scores.

    Tune on validation images, never on the test images a table reports.
    """
    check_same_shape(check_images(damaged, "damaged"), check_images(clean, "clean"), ("damaged", "clean"))
    if len(candidates) == 0:
        raise ValueError("candidates must hold at least one setting")
    scores = {c: psnr(restore(damaged, c), clean).mean().item() for c in candidates}
    return max(scores, key=scores.get), scores


@torch.no_grad()
def naive_vae(model: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Encode the damaged image as if it were clean and decode the posterior mean (the naive method)."""
    return model.mean_image(latent_means(model, check_images(y, "y")))


def gaussian_noise_log_likelihood(sigma: float) -> NoiseLogLikelihood:
    """log N(y; x_hat, sigma^2 I) up to a constant, summed per image: (x_hat, y) -> (B,)."""
    sigma = check_positive_float(sigma, "sigma")
    return lambda x_hat, y: -0.5 * ((y - x_hat) / sigma).pow(2).flatten(1).sum(dim=1)


def outlier_log_likelihood(p: float, tau: float = 0.1) -> NoiseLogLikelihood:
    """Each pixel is clean with probability 1 - p (then y ~ N(x_hat, tau^2)) or replaced by an
    arbitrary value with probability p (uniform on [0, 1]): a noise model for salt-and-pepper and
    other outliers. (x_hat, y) -> (B,)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 1:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    tau = check_positive_float(tau, "tau")

    def log_likelihood(x_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        clean = math.log(1 - p) - 0.5 * ((y - x_hat) / tau).pow(2) - math.log(tau * math.sqrt(2 * math.pi))
        return torch.logaddexp(clean, torch.full_like(clean, math.log(p))).flatten(1).sum(dim=1)

    return log_likelihood


def log_posterior(model: torch.nn.Module, y: torch.Tensor, log_likelihood: NoiseLogLikelihood,
                  z: torch.Tensor) -> torch.Tensor:
    """log p(y | x_hat(z)) + log p(z), up to a constant, for damaged images y and codes z (B, latent_dim): (B,)."""
    return log_likelihood(model.mean_image(z), y) - 0.5 * z.pow(2).sum(dim=1)


def map_latent(model: torch.nn.Module, y: torch.Tensor, log_likelihood: NoiseLogLikelihood, *,
               num_steps: int = 200, lr: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximise log p(y | x_hat(z)) + log p(z) over z, starting from the encoder's mean for y.

    Returns the codes (B, latent_dim) and the restored images x_hat(z) (B, C, H, W). The model's
    weights do not change; each image's code is optimised independently (the sum decouples).
    """
    y = check_images(y, "y")
    check_positive_int(num_steps, "num_steps")
    check_positive_float(lr, "lr")
    device = next(model.parameters()).device
    y = y.to(device)
    model.eval()
    z = latent_means(model, y).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    trainable = [p for p in model.parameters() if p.requires_grad]
    for parameter in trainable:  # only z moves; the caller's choice of frozen weights is kept
        parameter.requires_grad_(False)
    try:
        with torch.enable_grad():
            for _ in range(num_steps):
                objective = log_posterior(model, y, log_likelihood, z)
                optimizer.zero_grad(set_to_none=True)
                (-objective.sum()).backward()
                optimizer.step()
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
    z = z.detach()
    with torch.no_grad():
        return z, model.mean_image(z)


def clipped_gaussian_log_likelihood(sigma: float) -> NoiseLogLikelihood:
    """The exact noise model of :func:`vae_lib.corrupt.gaussian_noise`: y = clip(x + sigma eps, 0, 1).

    A pixel inside (0, 1) has density N(y; x_hat, sigma^2); a pixel at 0 has probability
    Phi(-x_hat / sigma) (the noise pushed it below 0), one at 1 probability Phi((x_hat - 1) / sigma).
    (x_hat, y) -> (B,), up to a constant.
    """
    sigma = check_positive_float(sigma, "sigma")

    def log_likelihood(x_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        inside = -0.5 * ((y - x_hat) / sigma).pow(2) - math.log(sigma * math.sqrt(2 * math.pi))
        at_zero = torch.special.log_ndtr(-x_hat / sigma)
        at_one = torch.special.log_ndtr((x_hat - 1) / sigma)
        per_pixel = torch.where(y <= 0, at_zero, torch.where(y >= 1, at_one, inside))
        return per_pixel.flatten(1).sum(dim=1)

    return log_likelihood


def _log_posterior_and_grad(model: torch.nn.Module, y: torch.Tensor, log_likelihood: NoiseLogLikelihood,
                            z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`log_posterior` (B,) and its gradient with respect to z (B, latent_dim)."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        value = log_posterior(model, y, log_likelihood, z)
        (grad,) = torch.autograd.grad(value.sum(), z)
    return value.detach(), grad


def langevin_samples(model: torch.nn.Module, y: torch.Tensor, log_likelihood: NoiseLogLikelihood, z_start: torch.Tensor,
                     *, num_samples: int = 16, burn_in: int = 200, thin: int = 5, step: float = 0.01,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw restorations from p(z | y) with the Metropolis-adjusted Langevin algorithm (Roberts &
    Tweedie 1996), one chain per image started at ``z_start`` (B, latent_dim), e.g. the MAP code.

    Each proposal moves z along the gradient of log p(z | y) plus Gaussian noise and is accepted
    with the Metropolis-Hastings probability, so the chain targets the exact posterior. During
    ``burn_in`` each chain tunes its own step size towards an acceptance rate of about 0.57; then
    every ``thin``-th state is kept. Returns images (num_samples, B, C, H, W) and each chain's
    acceptance rate after burn-in (B,).
    """
    y = check_images(y, "y")
    for value, name in ((num_samples, "num_samples"), (thin, "thin")):
        check_positive_int(value, name)
    if isinstance(burn_in, bool) or not isinstance(burn_in, int) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative int, got {burn_in!r}")
    check_positive_float(step, "step")
    if z_start.dim() != 2 or z_start.shape[0] != y.shape[0]:
        raise ValueError(f"z_start must hold one code per image, shape ({y.shape[0]}, latent_dim), got {tuple(z_start.shape)}")
    device = z_start.device
    y = y.to(device)
    z = z_start.detach().clone()
    steps = torch.full((z.shape[0], 1), float(step), device=device)                 # (B, 1), tuned per chain
    log_p, grad = _log_posterior_and_grad(model, y, log_likelihood, z)
    kept, accepted = [], torch.zeros(z.shape[0], device=device)
    for i in range(burn_in + num_samples * thin):
        noise = torch.randn(z.shape, generator=generator, device=device)
        proposal = z + steps * grad + torch.sqrt(2 * steps) * noise
        log_p_new, grad_new = _log_posterior_and_grad(model, y, log_likelihood, proposal)
        # log q(z | proposal) - log q(proposal | z) for the Langevin proposal N(z + step grad, 2 step I)
        forward = (proposal - z - steps * grad).pow(2).sum(1)
        backward = (z - proposal - steps * grad_new).pow(2).sum(1)
        log_ratio = log_p_new - log_p + (forward - backward) / (4 * steps[:, 0])
        accept = torch.rand(z.shape[0], generator=generator, device=device).log() < log_ratio
        z = torch.where(accept[:, None], proposal, z)
        log_p = torch.where(accept, log_p_new, log_p)
        grad = torch.where(accept[:, None], grad_new, grad)
        if i < burn_in:  # Robbins-Monro step-size adaptation towards 57% acceptance
            steps = steps * torch.exp(0.1 * (accept.float() - 0.57))[:, None]
        else:
            accepted += accept.float()
            if (i - burn_in + 1) % thin == 0:
                kept.append(z.clone())
    with torch.no_grad():
        codes = torch.stack(kept)                                                   # (S, B, d)
        images = model.mean_image(codes.reshape(-1, codes.shape[-1]))
    return images.view(num_samples, *y.shape), accepted / (num_samples * thin)
