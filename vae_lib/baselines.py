"""Classical restorations that know nothing of a VAE: the baselines of Chapters 5 to 7.

Denoising: :func:`gaussian_filter`, :func:`median_filter`, :func:`nl_means`, each with
a setting that :func:`best_setting` tunes on validation images. Inpainting:
:func:`mean_fill` and :func:`biharmonic`. They work image by image on the CPU with SciPy
and scikit-image and return on the input's device; images are (B, C, H, W) in [0, 1],
masks (B, 1, H, W) with ``True`` where a pixel is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage
from skimage.restoration import denoise_nl_means, inpaint_biharmonic

from .corrupt import check_mask, keep_observed
from .metrics import psnr
from .validate import (
    check_images,
    check_positive_float,
    check_positive_int,
    check_same_shape,
)


def _per_image(
    y: torch.Tensor, fn: Callable[..., np.ndarray], masks: torch.Tensor | None = None
) -> torch.Tensor:
    """Apply ``fn`` to each image as an (H, W, C) float64 array (with its (H, W) mask if
    ``masks`` is given) and stack the results back into (B, C, H, W), in y's dtype and
    on y's device."""
    y = check_images(y, "y")
    images = y.detach().cpu().numpy().astype(np.float64)
    if masks is None:
        out = [fn(image.transpose(1, 2, 0)) for image in images]
    else:
        holes = masks[:, 0].cpu().numpy()
        out = [fn(image.transpose(1, 2, 0), m) for image, m in zip(images, holes)]
    restored = torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2))
    return restored.clamp(0, 1).to(y.device, y.dtype)


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


class BestSetting(NamedTuple):
    """The best candidate setting and every candidate's mean PSNR in dB."""

    value: float
    scores: dict[float, float]


def best_setting(
    restore: Callable[[torch.Tensor, float], torch.Tensor],
    damaged: torch.Tensor,
    clean: torch.Tensor,
    candidates: Sequence[float],
) -> BestSetting:
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
    return BestSetting(max(scores, key=scores.__getitem__), scores)


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
