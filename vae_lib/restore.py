"""Restoring damaged images (Chapters 5 to 7): classical baselines and methods built on
a VAE.

Baselines work image by image on the CPU with SciPy and scikit-image. The VAE methods
take a trained :class:`vae_lib.models.VAE`: ``naive_vae`` encodes the damaged image and
decodes the mean; ``map_latent`` searches for the code z that best explains the damaged
image y under an explicit noise model, maximising log p(y | x_hat(z)) + log p(z);
``langevin_samples`` draws several restorations from p(z | y), whose spread is the
model's uncertainty.

Inpainting (Chapter 6) is the same inference with the likelihood of the observed pixels
only, :func:`observed_likelihood`; a mask (B, 1, H, W) is ``True`` where a pixel is
missing, and every inpainting method returns its completion through
:func:`keep_observed`, so observed pixels stay exactly as they were. The samplers
``pseudo_gibbs`` and ``metropolis_within_gibbs`` alternate between the code and the
missing pixels; :func:`conditional_log_likelihood` scores their draws. Shapes: images
(B, C, H, W) in [0, 1]; codes (B, latent_dim); draws (S, B, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage
from skimage.restoration import denoise_nl_means, inpaint_biharmonic
from torch.distributions import Independent, Normal

from .corrupt import check_mask
from .latent import latent_means
from .metrics import psnr
from .validate import (
    check_images,
    check_positive_float,
    check_positive_int,
    check_same_shape,
)

# (x_hat, y) -> (B,)
NoiseLogLikelihood = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _per_image(
    y: torch.Tensor, fn: Callable[..., np.ndarray], masks: torch.Tensor | None = None
) -> torch.Tensor:
    """Apply ``fn`` to each image as an (H, W, C) array (with its (H, W) mask if
    ``masks`` is given) and stack the results back into (B, C, H, W)."""
    y = check_images(y, "y")
    images = y.detach().cpu().numpy().astype(np.float64)
    if masks is None:
        out = [fn(image.transpose(1, 2, 0)) for image in images]
    else:
        out = [
            fn(image.transpose(1, 2, 0), m)
            for image, m in zip(images, masks[:, 0].cpu().numpy())
        ]
    return (
        torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2).astype(np.float32))
        .clamp(0, 1)
        .to(y.device)
    )


def gaussian_filter(y: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each image with a Gaussian of standard deviation ``sigma`` pixels
    (channels kept apart)."""
    sigma = check_positive_float(sigma, "sigma")
    return _per_image(
        y, lambda a: ndimage.gaussian_filter(a, sigma=(sigma, sigma, 0), mode="nearest")
    )


def median_filter(y: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Replace each pixel by the median of its ``size`` x ``size`` neighbourhood
    (channels kept apart)."""
    size = check_positive_int(size, "size")
    return _per_image(
        y, lambda a: ndimage.median_filter(a, size=(size, size, 1), mode="nearest")
    )


def nl_means(
    y: torch.Tensor,
    noise_sigma: float,
    strength: float = 0.8,
    patch_size: int = 5,
    patch_distance: int = 6,
) -> torch.Tensor:
    """Non-local means (Buades et al. 2005, via scikit-image): average pixels whose
    surrounding patches look alike; ``h = strength * noise_sigma`` sets how alike they
    must be."""
    noise_sigma = check_positive_float(noise_sigma, "noise_sigma")
    strength = check_positive_float(strength, "strength")

    # (H, W, C); scikit-image wants grey images without a channel axis
    def denoise(a: np.ndarray) -> np.ndarray:
        grey = a.shape[2] == 1
        out = denoise_nl_means(
            a[..., 0] if grey else a,
            h=strength * noise_sigma,
            sigma=noise_sigma,
            fast_mode=True,
            patch_size=patch_size,
            patch_distance=patch_distance,
            channel_axis=None if grey else 2,
        )
        return out[..., None] if grey else out

    return _per_image(y, denoise)


def best_setting(
    restore: Callable[[torch.Tensor, float], torch.Tensor],
    damaged: torch.Tensor,
    clean: torch.Tensor,
    candidates: Sequence[float],
) -> tuple[float, dict[float, float]]:
    """The candidate setting with the highest mean PSNR on a validation pair
    (damaged, clean), and all scores.

    Tune on validation images, never on the test images a table reports.
    """
    check_same_shape(
        check_images(damaged, "damaged"),
        check_images(clean, "clean"),
        ("damaged", "clean"),
    )
    if len(candidates) == 0:
        raise ValueError("candidates must hold at least one setting")
    scores = {c: psnr(restore(damaged, c), clean).mean().item() for c in candidates}
    return max(scores, key=scores.get), scores


@torch.no_grad()
def naive_vae(model: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Encode the damaged image as if it were clean and decode the posterior mean
    (the naive method)."""
    return model.mean_image(latent_means(model, check_images(y, "y")))


def gaussian_noise_log_likelihood(sigma: float) -> NoiseLogLikelihood:
    """log N(y; x_hat, sigma^2 I) up to a constant, summed per image:
    (x_hat, y) -> (B,)."""
    sigma = check_positive_float(sigma, "sigma")
    return lambda x_hat, y: -0.5 * ((y - x_hat) / sigma).pow(2).flatten(1).sum(dim=1)


def outlier_log_likelihood(p: float, tau: float = 0.1) -> NoiseLogLikelihood:
    """Each pixel is clean with probability 1 - p (then y ~ N(x_hat, tau^2)) or replaced
    by an arbitrary value with probability p (uniform on [0, 1]): a noise model for
    salt-and-pepper and other outliers. (x_hat, y) -> (B,)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 1:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    tau = check_positive_float(tau, "tau")

    def log_likelihood(x_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        clean = (
            math.log(1 - p)
            - 0.5 * ((y - x_hat) / tau).pow(2)
            - math.log(tau * math.sqrt(2 * math.pi))
        )
        return (
            torch.logaddexp(clean, torch.full_like(clean, math.log(p)))
            .flatten(1)
            .sum(dim=1)
        )

    return log_likelihood


def log_posterior(
    model: torch.nn.Module,
    y: torch.Tensor,
    log_likelihood: NoiseLogLikelihood,
    z: torch.Tensor,
) -> torch.Tensor:
    """log p(y | x_hat(z)) + log p(z), up to a constant, for damaged images y and codes
    z (B, latent_dim): (B,).

    A likelihood with ``uses_decoder_output = True`` (:func:`observed_likelihood`) gets
    the decoder's raw output (e.g. logits) instead of the mean image x_hat(z).
    """
    x_out = (
        model.decode(z)
        if getattr(log_likelihood, "uses_decoder_output", False)
        else model.mean_image(z)
    )
    return log_likelihood(x_out, y) - 0.5 * z.pow(2).sum(dim=1)


def map_latent(
    model: torch.nn.Module,
    y: torch.Tensor,
    log_likelihood: NoiseLogLikelihood,
    *,
    num_steps: int = 200,
    lr: float = 0.05,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximise log p(y | x_hat(z)) + log p(z) over z, starting from the encoder's mean
    for y.

    Returns the codes (B, latent_dim) and the restored images x_hat(z) (B, C, H, W). The
    model's weights do not change; each image's code is optimised independently
    (the sum decouples).
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
    # only z moves; the caller's choice of frozen weights is kept
    for parameter in trainable:
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
    """The exact noise model of :func:`vae_lib.corrupt.gaussian_noise`:
    y = clip(x + sigma eps, 0, 1).

    A pixel inside (0, 1) has density N(y; x_hat, sigma^2); a pixel at 0 has probability
    Phi(-x_hat / sigma) (the noise pushed it below 0), one at 1 probability
    Phi((x_hat - 1) / sigma). (x_hat, y) -> (B,), up to a constant.
    """
    sigma = check_positive_float(sigma, "sigma")

    def log_likelihood(x_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        inside = -0.5 * ((y - x_hat) / sigma).pow(2) - math.log(
            sigma * math.sqrt(2 * math.pi)
        )
        at_zero = torch.special.log_ndtr(-x_hat / sigma)
        at_one = torch.special.log_ndtr((x_hat - 1) / sigma)
        per_pixel = torch.where(y <= 0, at_zero, torch.where(y >= 1, at_one, inside))
        return per_pixel.flatten(1).sum(dim=1)

    return log_likelihood


def pixel_posterior_mean(
    x_hat: torch.Tensor, y: torch.Tensor, decoder_sigma: float, noise_sigma: float
) -> torch.Tensor:
    """E[x | y, z] when the decoder says x ~ N(x_hat(z), decoder_sigma^2) per pixel and
    the damage is y = x + N(0, noise_sigma^2) (Chapter 7): the precision-weighted mean
    of x_hat and y, (B, C, H, W).

    It puts back what the code could not hold, in proportion to how much the noise lets
    through.
    """
    x_hat, y = check_images(x_hat, "x_hat"), check_images(y, "y")
    check_same_shape(x_hat, y, ("x_hat", "y"))
    prior_precision = 1 / check_positive_float(decoder_sigma, "decoder_sigma") ** 2
    noise_precision = 1 / check_positive_float(noise_sigma, "noise_sigma") ** 2
    mean = (prior_precision * x_hat + noise_precision * y.to(x_hat.device)) / (
        prior_precision + noise_precision
    )
    return mean.clamp(0, 1)


def _log_posterior_and_grad(
    model: torch.nn.Module,
    y: torch.Tensor,
    log_likelihood: NoiseLogLikelihood,
    z: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`log_posterior` (B,) and its gradient with respect to z (B, latent_dim)."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        value = log_posterior(model, y, log_likelihood, z)
        (grad,) = torch.autograd.grad(value.sum(), z)
    return value.detach(), grad


def langevin_samples(
    model: torch.nn.Module,
    y: torch.Tensor,
    log_likelihood: NoiseLogLikelihood,
    z_start: torch.Tensor,
    *,
    num_samples: int = 16,
    burn_in: int = 200,
    thin: int = 5,
    step: float = 0.01,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw restorations from p(z | y) with the Metropolis-adjusted Langevin algorithm
    (Roberts & Tweedie 1996), one chain per image started at ``z_start``
    (B, latent_dim), e.g. the MAP code.

    Each proposal moves z along the gradient of log p(z | y) plus Gaussian noise and is
    accepted with the Metropolis-Hastings probability, so the chain targets the exact
    posterior. During ``burn_in`` each chain tunes its own step size towards an
    acceptance rate of about 0.57; then every ``thin``-th state is kept. Returns images
    (num_samples, B, C, H, W) and each chain's acceptance rate after burn-in (B,).
    """
    codes, acceptance = _langevin_codes(
        model,
        y,
        log_likelihood,
        z_start,
        num_samples=num_samples,
        burn_in=burn_in,
        thin=thin,
        step=step,
        generator=generator,
    )
    with torch.no_grad():
        images = model.mean_image(codes.flatten(0, 1))
    return images.view(num_samples, *y.shape), acceptance


def _langevin_codes(
    model: torch.nn.Module,
    y: torch.Tensor,
    log_likelihood: NoiseLogLikelihood,
    z_start: torch.Tensor,
    *,
    num_samples: int = 16,
    burn_in: int = 200,
    thin: int = 5,
    step: float = 0.01,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kept codes (S, B, latent_dim) and acceptance rates (B,) of
    :func:`langevin_samples`."""
    y = check_images(y, "y")
    for value, name in ((num_samples, "num_samples"), (thin, "thin")):
        check_positive_int(value, name)
    if isinstance(burn_in, bool) or not isinstance(burn_in, int) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative int, got {burn_in!r}")
    check_positive_float(step, "step")
    if z_start.dim() != 2 or z_start.shape[0] != y.shape[0]:
        raise ValueError(
            f"z_start must hold one code per image, shape ({y.shape[0]}, latent_dim), "
            f"got {tuple(z_start.shape)}"
        )
    device = z_start.device
    y = y.to(device)
    z = z_start.detach().clone()
    # (B, 1), tuned per chain
    steps = torch.full((z.shape[0], 1), float(step), device=device)
    log_p, grad = _log_posterior_and_grad(model, y, log_likelihood, z)
    kept, accepted = [], torch.zeros(z.shape[0], device=device)
    for i in range(burn_in + num_samples * thin):
        noise = torch.randn(z.shape, generator=generator, device=device)
        proposal = z + steps * grad + torch.sqrt(2 * steps) * noise
        log_p_new, grad_new = _log_posterior_and_grad(
            model, y, log_likelihood, proposal
        )
        # log q(z | proposal) - log q(proposal | z) for the Langevin proposal
        # N(z + step grad, 2 step I)
        forward = (proposal - z - steps * grad).pow(2).sum(1)
        backward = (z - proposal - steps * grad_new).pow(2).sum(1)
        log_ratio = log_p_new - log_p + (forward - backward) / (4 * steps[:, 0])
        accept = (
            torch.rand(z.shape[0], generator=generator, device=device).log() < log_ratio
        )
        z = torch.where(accept[:, None], proposal, z)
        log_p = torch.where(accept, log_p_new, log_p)
        grad = torch.where(accept[:, None], grad_new, grad)
        if i < burn_in:  # Robbins-Monro step-size adaptation towards 57% acceptance
            steps = steps * torch.exp(0.1 * (accept.float() - 0.57))[:, None]
        else:
            accepted += accept.float()
            if (i - burn_in + 1) % thin == 0:
                kept.append(z.clone())
    return torch.stack(kept), accepted / (num_samples * thin)  # (S, B, d), (B,)


# --------------------------------------------------------------------------------------
# Inpainting (Chapter 6): the mask is True where a pixel is missing.


def keep_observed(
    completion: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """The completion's values at missing pixels and y's, bit for bit, everywhere else:
    (B, C, H, W)."""
    y = check_images(y, "y")
    mask = check_mask(mask, y)
    completion = check_images(completion, "completion")
    check_same_shape(completion, y, ("completion", "y"))
    return torch.where(mask, completion.to(y.device, y.dtype), y)


def mean_fill(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill each image's missing pixels with the mean of its observed pixels
    (per channel)."""
    y = check_images(y, "y")
    observed = ~check_mask(mask, y).expand_as(y)
    means = (y * observed).sum(dim=(2, 3), keepdim=True) / observed.sum(
        dim=(2, 3), keepdim=True
    )
    return keep_observed(means.expand_as(y), y, mask)


def biharmonic(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Biharmonic inpainting (Damelin & Hoang 2018, via scikit-image): the smoothest
    surface through the observed pixels, solving a biharmonic equation inside each
    hole."""
    y = check_images(y, "y")
    mask = check_mask(mask, y)
    channel_axis = None if y.shape[1] == 1 else 2

    def fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:  # (H, W, C), (H, W)
        out = inpaint_biharmonic(
            image[..., 0] if channel_axis is None else image,
            hole,
            channel_axis=channel_axis,
        )
        return out[..., None] if channel_axis is None else out

    return keep_observed(_per_image(y, fill, mask), y, mask)


@torch.no_grad()
def naive_inpaint(
    model: torch.nn.Module, y: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Encode the damaged image (holes and all) as if it were whole, decode the
    posterior mean, and paste it into the holes: the method the introductory articles
    describe."""
    return keep_observed(naive_vae(model, y), y, mask)


def observed_likelihood(
    model: torch.nn.Module, mask: torch.Tensor
) -> NoiseLogLikelihood:
    """log p(y_obs | z): the VAE's own likelihood of the observed pixels, the missing
    ones summed out (pixels are independent given z). Takes the decoder's output:
    (x_param, y) -> (B,)."""
    mask = mask.detach()

    def log_likelihood(x_param: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return model.log_likelihood(x_param, y, where=~mask.to(y.device))

    log_likelihood.uses_decoder_output = True  # type: ignore[attr-defined]
    return log_likelihood


def map_inpaint(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    num_steps: int = 200,
    lr: float = 0.05,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MAP inpainting: the code maximising log p(y_obs | z) + log p(z), found by
    :func:`map_latent` from the encoder's mean for y; returns the codes (B, latent_dim)
    and the completions (B, C, H, W)."""
    y = check_images(y, "y")
    check_mask(mask, y)
    z, x_hat = map_latent(
        model, y, observed_likelihood(model, mask), num_steps=num_steps, lr=lr
    )
    return z, keep_observed(x_hat, y, mask)


class Imputations(NamedTuple):
    """Draws of a sampler for B damaged images: ``codes`` (S, B, latent_dim), ``images``
    (S, B, C, H, W), each the decoder's mean for its code pasted into the holes, and
    each chain's acceptance rate (B,)."""

    codes: torch.Tensor
    images: torch.Tensor
    acceptance: torch.Tensor

    def mean(self) -> torch.Tensor:
        """The average completion (B, C, H, W): the posterior mean, best in squared
        error. Where every draw agrees (the observed pixels) it is that value exactly,
        free of rounding."""
        first = self.images[0]
        return torch.where(
            (self.images == first).all(dim=0), first, self.images.mean(dim=0)
        )


def _sample_pixels(
    model: torch.nn.Module, x_param: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """x ~ p(x | z) from the decoder's output: Bernoulli draws, or Gaussian draws
    clipped to [0, 1]."""
    if model.config.likelihood == "bernoulli":
        return torch.bernoulli(torch.sigmoid(x_param), generator=generator)
    std = torch.exp(
        0.5
        * (
            model.x_logvar
            if model.x_logvar is not None
            else torch.tensor(model.config.gaussian_logvar)
        )
    )
    noise = torch.randn(
        x_param.shape, generator=generator, device=x_param.device, dtype=x_param.dtype
    )
    return (x_param + std.to(x_param.device) * noise).clamp(0.0, 1.0)


def _check_chain(
    y: torch.Tensor, mask: torch.Tensor, num_samples: int, burn_in: int, thin: int
) -> None:
    check_mask(mask, check_images(y, "y"))
    check_positive_int(num_samples, "num_samples")
    check_positive_int(thin, "thin")
    if isinstance(burn_in, bool) or not isinstance(burn_in, int) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative int, got {burn_in!r}")


@torch.no_grad()
def _gibbs_chain(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    metropolis: bool,
    num_samples: int,
    burn_in: int,
    thin: int,
    generator: torch.Generator | None,
) -> Imputations:
    """Alternate z | x ~ q(z | x_obs, x_mis) and x_mis ~ p(x_mis | z), one chain per
    image, started from the damaged image as given. With ``metropolis`` each z proposal
    is accepted or rejected (Mattei & Frellsen 2018); without, always accepted
    (pseudo-Gibbs, Rezende et al. 2014)."""
    _check_chain(y, mask, num_samples, burn_in, thin)
    model.eval()
    device = next(model.parameters()).device
    y, mask = y.to(device), mask.to(device)
    x = y.clone()  # current completion
    z = model.encode(x)[0]
    x_param = model.decode(z)
    kept, accepted = [], torch.zeros(y.shape[0], device=device)
    for step in range(burn_in + num_samples * thin):
        q = model.posterior(x)
        proposal = q.sample() if generator is None else _draw(q, generator)
        proposal_param = model.decode(proposal)
        accept = torch.ones(y.shape[0], dtype=torch.bool, device=device)
        if metropolis:
            # log rho = log p(x, z') - log p(x, z) + log q(z | x) - log q(z' | x)
            log_rho = (
                model.log_likelihood(proposal_param, x)
                - 0.5 * proposal.pow(2).sum(1)
                + q.log_prob(z)
                - model.log_likelihood(x_param, x)
                + 0.5 * z.pow(2).sum(1)
                - q.log_prob(proposal)
            )
            accept = (
                torch.rand(y.shape[0], generator=generator, device=device).log()
                < log_rho
            )
        z = torch.where(accept[:, None], proposal, z)
        x_param = torch.where(accept[:, None, None, None], proposal_param, x_param)
        x = torch.where(mask, _sample_pixels(model, x_param, generator), y)
        if step >= burn_in:
            accepted += accept.float()
            if (step - burn_in + 1) % thin == 0:
                kept.append(z.clone())
    codes = torch.stack(kept)  # (S, B, d)
    means = model.mean_image(codes.flatten(0, 1)).view(num_samples, *y.shape)
    return Imputations(
        codes, torch.where(mask, means, y), accepted / (num_samples * thin)
    )


def _draw(q: Independent, generator: torch.Generator) -> torch.Tensor:
    """One draw from a diagonal Gaussian q with a caller's generator: (B, d)."""
    eps = torch.randn(
        q.mean.shape, generator=generator, device=q.mean.device, dtype=q.mean.dtype
    )
    return q.mean + q.stddev * eps


def pseudo_gibbs(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    num_samples: int = 20,
    burn_in: int = 100,
    thin: int = 5,
    generator: torch.Generator | None = None,
) -> Imputations:
    """Pseudo-Gibbs sampling (Rezende et al. 2014): repeat z ~ q(z | x),
    x_mis ~ p(x_mis | z).

    The encoder q stands in for the true posterior p(z | x), so the chain's stationary
    distribution, if it has one, is not the model's conditional p(x_mis | x_obs) in
    general. Returns every ``thin``-th state after ``burn_in`` steps (acceptance is 1 by
    construction).
    """
    return _gibbs_chain(model, y, mask, False, num_samples, burn_in, thin, generator)


def metropolis_within_gibbs(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    num_samples: int = 20,
    burn_in: int = 100,
    thin: int = 5,
    generator: torch.Generator | None = None,
) -> Imputations:
    """Metropolis-within-Gibbs (Mattei & Frellsen 2018): pseudo-Gibbs with the encoder's
    draw z' used as a Metropolis-Hastings proposal, accepted with probability
    min(1, p(x, z') q(z | x) / (p(x, z) q(z' | x))), so the chain targets the model's
    exact conditional p(z, x_mis | x_obs). Returns the kept draws and each chain's
    acceptance rate.
    """
    return _gibbs_chain(model, y, mask, True, num_samples, burn_in, thin, generator)


def posterior_samples(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    z_start: torch.Tensor,
    *,
    num_samples: int = 20,
    burn_in: int = 200,
    thin: int = 5,
    generator: torch.Generator | None = None,
) -> Imputations:
    """Multiple imputation: draws z ~ p(z | y_obs) by Metropolis-adjusted Langevin on
    the observed pixels' likelihood (:func:`langevin_samples`), started at ``z_start``
    (e.g. the MAP codes), each decoded and pasted into the holes: several plausible
    completions of every image."""
    _check_chain(y, mask, num_samples, burn_in, thin)
    codes, acceptance = _langevin_codes(
        model,
        y,
        observed_likelihood(model, mask),
        z_start,
        num_samples=num_samples,
        burn_in=burn_in,
        thin=thin,
        generator=generator,
    )
    y, mask = y.to(codes.device), mask.to(codes.device)
    with torch.no_grad():
        images = model.mean_image(codes.flatten(0, 1)).view(num_samples, *y.shape)
    return Imputations(codes, torch.where(mask, images, y), acceptance)


@torch.no_grad()
def conditional_log_likelihood(
    model: torch.nn.Module,
    x: torch.Tensor,
    mask: torch.Tensor,
    codes: torch.Tensor,
    log_weights: torch.Tensor | None = None,
    chunk_size: int = 50,
) -> torch.Tensor:
    """log p(x_mis | x_obs) of the true missing pixels, estimated from codes z_s
    (S, B, latent_dim): log sum_s w_s p(x_mis | z_s) with weights softmax(log_weights)
    (S, B), or 1/S when not given.

    With draws from p(z | x_obs) (an exact sampler), equal weights estimate the model's
    conditional log-likelihood; with draws from a proposal and importance weights
    (:func:`importance_sample`), so does the self-normalised estimate. Draws from
    anywhere else score how well that sampler predicts the hidden pixels. In nats per
    image: (B,).
    """
    x = check_images(x, "x")
    mask = check_mask(mask, x)
    if codes.dim() != 3 or codes.shape[1] != x.shape[0]:
        raise ValueError(
            f"codes must be shaped (S, {x.shape[0]}, latent_dim), got "
            f"{tuple(codes.shape)}"
        )
    if log_weights is None:
        log_weights = torch.zeros(codes.shape[:2], device=codes.device)
    elif log_weights.shape != codes.shape[:2]:
        raise ValueError(
            f"log_weights must be shaped {tuple(codes.shape[:2])} like the codes, got "
            f"{tuple(log_weights.shape)}"
        )
    model.eval()
    device = next(model.parameters()).device
    x, mask = x.to(device), mask.to(device)
    _num, b = codes.shape[:2]
    # (S, B)
    log_p_missing = torch.cat(
        [
            model.log_likelihood(
                model.decode(chunk.flatten(0, 1).to(device)),
                x.repeat(chunk.shape[0], 1, 1, 1),
                where=mask.repeat(chunk.shape[0], 1, 1, 1),
            ).view(chunk.shape[0], b)
            for chunk in codes.split(chunk_size)
        ]
    )
    log_weights = log_weights.to(device)
    return torch.logsumexp(log_weights + log_p_missing, dim=0) - torch.logsumexp(
        log_weights, dim=0
    )


@torch.no_grad()
def importance_sample(
    model: torch.nn.Module,
    y: torch.Tensor,
    mask: torch.Tensor,
    proposal_images: torch.Tensor,
    num_samples: int,
    *,
    scale: float = 1.0,
    chunk_size: int = 50,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes z_k ~ r(z) = q(z | proposal_images) with its standard deviations times
    ``scale``, and their importance weights for p(z | y_obs):
    log w_k = log p(y_obs | z_k) + log p(z_k) - log r(z_k). Returns codes
    (K, B, latent_dim) and log weights (K, B); their softmax over K weights the
    draws."""
    y = check_images(y, "y")
    mask = check_mask(mask, y)
    check_positive_int(num_samples, "num_samples")
    scale = check_positive_float(scale, "scale")
    model.eval()
    device = next(model.parameters()).device
    y, mask = y.to(device), mask.to(device)
    check_same_shape(
        check_images(proposal_images, "proposal_images"), y, ("proposal_images", "y")
    )
    q = model.posterior(proposal_images.to(device))
    r = Independent(Normal(q.mean, q.stddev * scale), 1)
    codes, log_weights = [], []
    for start in range(0, num_samples, chunk_size):
        k = min(chunk_size, num_samples - start)
        eps = torch.randn((k, *q.mean.shape), generator=generator, device=device)
        z = r.mean + r.stddev * eps  # (k, B, d)
        log_p_observed = model.log_likelihood(
            model.decode(z.flatten(0, 1)),
            y.repeat(k, 1, 1, 1),
            where=~mask.repeat(k, 1, 1, 1),
        ).view(k, -1)
        log_prior = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
        codes.append(z)
        log_weights.append(log_p_observed + log_prior - r.log_prob(z))
    return torch.cat(codes), torch.cat(log_weights)
