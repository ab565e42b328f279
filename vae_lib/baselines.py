"""Classical restorations that know nothing of a VAE: the baselines of Chapters 5 to 7.

Denoising: :func:`gaussian_filter`, :func:`median_filter`, :func:`nl_means`, each with
a setting that :func:`best_setting` tunes on validation images. Inpainting:
:func:`mean_fill` and :func:`biharmonic`, which know nothing of digits, and two that
learn from training images without a neural network: :func:`knn_inpaint` (the mean of
the nearest training images on the observed pixels) and :func:`gaussian_inpaint` (the
conditional mean of a Gaussian fitted by :func:`fit_gaussian`). The filters and the
classical inpainters work image by image on the CPU with SciPy and scikit-image; the
learned ones run in PyTorch on the input's device. All return on the input's device;
images are (B, C, H, W) in [0, 1], masks (B, 1, H, W) with ``True`` where a pixel is
missing.
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
    check_callable,
    check_float_tensor,
    check_images,
    check_not_empty,
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
    patch_size = check_positive_int(patch_size, "patch_size")
    patch_distance = check_positive_int(patch_distance, "patch_distance")

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
    check_callable(restore, "restore")
    damaged = check_not_empty(check_images(damaged, "damaged"), "damaged")
    check_same_shape(damaged, check_images(clean, "clean"), ("damaged", "clean"))
    if isinstance(candidates, str) or not hasattr(candidates, "__len__"):
        raise TypeError(
            f"candidates must be a sequence of settings, got {candidates!r}"
        )
    if len(candidates) == 0:
        raise ValueError("candidates must hold at least one setting")
    scores = {}
    for c in candidates:
        name = f"restore(damaged, {c!r})"
        restored = check_images(restore(damaged, c), name)
        check_same_shape(restored, clean, (name, "clean"))
        scores[c] = psnr(restored, clean).mean().item()
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


def _check_training(train: object, y: torch.Tensor) -> torch.Tensor:
    """Fail unless ``train`` holds training images (N, C, H, W) shaped like y's; return
    them on y's device in y's dtype."""
    train = check_images(train, "train", image_shape=tuple(y.shape[1:]))
    if train.shape[0] == 0:
        raise ValueError("train must hold at least one training image")
    return train.to(y.device, y.dtype)


def knn_inpaint(
    y: torch.Tensor,
    mask: torch.Tensor,
    train: torch.Tensor,
    k: int = 10,
    *,
    chunk_size: int = 100,
) -> torch.Tensor:
    """k-nearest-neighbour completion: for each damaged image, the ``k`` training images
    (N, C, H, W) closest in squared distance on that image's *observed* pixels only,
    averaged, fill its missing pixels.

    Distances come from two matrix products per chunk of ``chunk_size`` damaged images,
    so memory grows as chunk_size x N, never B x N x D. Returns (B, C, H, W) on y's
    device, observed pixels kept bit for bit.
    """
    y = check_images(y, "y")
    mask = check_mask(mask, y)
    train = _check_training(train, y)
    k = check_positive_int(k, "k")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    if k > train.shape[0]:
        raise ValueError(
            f"k must be at most the {train.shape[0]} training images, got {k}"
        )
    flat_train = train.flatten(1)  # (N, D)
    squared_train = flat_train.pow(2)
    observed = (~mask).expand_as(y).flatten(1).to(y.dtype)  # (B, D)
    completions = []
    for y_chunk, o_chunk in zip(
        y.flatten(1).split(chunk_size), observed.split(chunk_size)
    ):
        # sum_i o_i (y_i - t_i)^2 without the term in y_i^2, the same for every t
        distance = o_chunk @ squared_train.T - 2 * (o_chunk * y_chunk) @ flat_train.T
        nearest = distance.topk(k, dim=1, largest=False).indices  # (b, k)
        completions.append(flat_train[nearest].mean(dim=1))
    return keep_observed(torch.cat(completions).view_as(y), y, mask)


class GaussianModel(NamedTuple):
    """A Gaussian over flattened images: ``mean`` (D,) and ``covariance`` (D, D), in
    float64."""

    mean: torch.Tensor
    covariance: torch.Tensor


def fit_gaussian(train: torch.Tensor, ridge: float = 1e-2) -> GaussianModel:
    """The mean and covariance of training images (N, C, H, W), with ``ridge`` added to
    the covariance's diagonal so that every block of it is invertible (constant border
    pixels have zero variance). In float64, on train's device."""
    train = check_images(train, "train")
    ridge = check_positive_float(ridge, "ridge")
    if train.shape[0] < 2:
        raise ValueError(f"train must hold at least 2 images, got {train.shape[0]}")
    flat = train.flatten(1).double()
    mean = flat.mean(dim=0)
    centred = flat - mean
    covariance = centred.T @ centred / (flat.shape[0] - 1)
    covariance.diagonal().add_(ridge)
    return GaussianModel(mean, covariance)


def gaussian_inpaint(
    y: torch.Tensor, mask: torch.Tensor, gaussian: GaussianModel
) -> torch.Tensor:
    """The conditional mean of the missing pixels under a Gaussian
    (:func:`fit_gaussian`): x_m = mu_m + S_mo S_oo^-1 (y_o - mu_o), the best
    completion in squared error among those linear in the observed pixels.

    Images sharing a mask share one Cholesky factorisation of S_oo, so a square hole
    costs one, and a random mask one per image. Returns (B, C, H, W) on y's device,
    observed pixels kept bit for bit.
    """
    y = check_images(y, "y")
    mask = check_mask(mask, y)
    if not isinstance(gaussian, GaussianModel):
        raise TypeError(
            "gaussian must be a baselines.GaussianModel (from fit_gaussian), got "
            f"{type(gaussian).__name__}"
        )
    d = y[0].numel()
    if gaussian.mean.shape != (d,) or gaussian.covariance.shape != (d, d):
        raise ValueError(
            f"gaussian must be fitted to images of {d} values like y's, got a mean "
            f"{tuple(gaussian.mean.shape)} and covariance "
            f"{tuple(gaussian.covariance.shape)}"
        )
    check_float_tensor(gaussian.mean, "gaussian.mean")
    check_float_tensor(gaussian.covariance, "gaussian.covariance")
    mean = gaussian.mean.to(y.device, torch.float64)
    covariance = gaussian.covariance.to(y.device, torch.float64)
    values = y.flatten(1).double()  # (B, D)
    missing = mask.expand_as(y).flatten(1)  # (B, D)
    filled = values.clone()
    patterns, which = torch.unique(missing, dim=0, return_inverse=True)
    for index, pattern in enumerate(patterns):
        images = (which == index).nonzero().squeeze(1)
        o, m = (~pattern).nonzero().squeeze(1), pattern.nonzero().squeeze(1)
        factor = torch.linalg.cholesky(covariance[o][:, o])  # S_oo = L L^T
        residual = values[images][:, o] - mean[o]  # (b, |o|)
        solved = torch.cholesky_solve(residual.T, factor)  # S_oo^-1 (y_o - mu_o)
        filled[images[:, None], m] = mean[m] + (covariance[m][:, o] @ solved).T
    # clipped to [0, 1], where every true pixel lies, so clipping only lowers the error
    completion = filled.clamp(0, 1).to(y.dtype).view_as(y)
    return keep_observed(completion, y, mask)
