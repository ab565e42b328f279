"""Image quality: PSNR and SSIM, per image, for pictures in [0, 1] (Chapters 4 to 7).

PSNR = 10 log10(1 / MSE) in dB for a peak value of 1; SSIM (Wang et al. 2004) compares
local means, contrasts and structure, and is computed by scikit-image rather than
re-derived here. Each returns one value per image on the device and in the dtype of the
reference images ``x``, wherever the restored ones ``x_hat`` are.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import structural_similarity

from .validate import (
    check_float_tensor,
    check_images,
    check_positive_float,
    check_same_shape,
)

SSIM_WINDOW = 7  # scikit-image's default window side, in pixels


def _pair(x_hat: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x_hat, x = check_images(x_hat, "x_hat"), check_images(x, "x")
    check_same_shape(x_hat, x, ("x_hat", "x"))
    return x_hat.detach().to(x.device, x.dtype), x.detach()


def psnr(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    min_mse: float = 1e-10,
    where: torch.Tensor | None = None,
) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image in dB: (B, C, H, W) pairs -> (B,).

    With a bool mask ``where`` (B, 1, H, W) or (B, C, H, W), the MSE is taken over those
    pixels only (e.g. the missing pixels of an inpainting task, Chapter 6). An exact
    copy would be infinitely good; ``min_mse`` caps it at 100 dB.
    """
    x_hat, x = _pair(x_hat, x)
    min_mse = check_positive_float(min_mse, "min_mse")
    squared = (x_hat - x) ** 2
    if where is None:
        mse = squared.flatten(1).mean(dim=1)
    else:
        where = _pixel_mask(where, x).to(x.device).expand_as(x)
        mse = (squared * where).flatten(1).sum(dim=1) / where.flatten(1).sum(dim=1)
    return -10.0 * torch.log10(mse.clamp_min(min_mse))


def _pixel_mask(where: object, x: torch.Tensor) -> torch.Tensor:
    """Fail unless ``where`` is a bool mask (B, 1, H, W) or (B, C, H, W) selecting
    pixels of every image."""
    if not isinstance(where, torch.Tensor) or where.dtype != torch.bool:
        raise TypeError(
            f"where must be a bool tensor (True = pixel counted), got "
            f"{getattr(where, 'dtype', type(where).__name__)}"
        )
    b, c, h, w = x.shape
    if tuple(where.shape) not in {(b, 1, h, w), (b, c, h, w)}:
        raise ValueError(
            f"where must be shaped {(b, 1, h, w)} or {(b, c, h, w)} to match the "
            f"images, got {tuple(where.shape)}"
        )
    empty = ~where.flatten(1).any(dim=1)
    if empty.any():
        raise ValueError(
            f"where selects no pixel of {int(empty.sum())} image(s) "
            f"(first: index {int(empty.nonzero()[0])}): "
            "PSNR over no pixels is undefined"
        )
    return where


def ssim(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Structural similarity of each image (scikit-image, 7x7 window, data range 1):
    (B, C, H, W) -> (B,)."""
    x_hat, x = _pair(x_hat, x)
    if min(x.shape[2:]) < SSIM_WINDOW:
        raise ValueError(
            f"x_hat and x must be images of at least {SSIM_WINDOW} x {SSIM_WINDOW} "
            f"pixels (SSIM's window), got {tuple(x.shape)}"
        )
    values = [
        structural_similarity(
            a.cpu().numpy().transpose(1, 2, 0),
            b.cpu().numpy().transpose(1, 2, 0),
            data_range=1.0,
            channel_axis=2,
        )
        for a, b in zip(x_hat, x)
    ]
    return torch.tensor(np.asarray(values), dtype=x.dtype, device=x.device)


def interval_coverage(
    draws: torch.Tensor,
    x: torch.Tensor,
    num_sd: float = 2.0,
    where: torch.Tensor | None = None,
) -> torch.Tensor:
    """How often the truth lies within ``num_sd`` standard deviations of the draws'
    mean: draws (S, B, C, H, W) of restorations of B images, clean images x
    (B, C, H, W) -> the fraction of each image's pixels covered, (B,).

    The interval of a pixel is mean +- num_sd * std over the S draws (standard deviation
    with Bessel's correction). With a bool mask ``where`` (B, 1, H, W) or (B, C, H, W)
    only those pixels count (e.g. the strokes of a digit). A calibrated posterior
    covers about 95% at num_sd = 2 (if its marginals are near Gaussian); much less
    means it is overconfident.
    """
    draws = check_float_tensor(draws, "draws")
    x = check_images(x, "x")
    if draws.dim() != 5 or draws.shape[1:] != x.shape or draws.shape[0] < 2:
        raise ValueError(
            "draws must hold S >= 2 restorations of each image, shaped (S, "
            f"{', '.join(map(str, x.shape))}), got {tuple(draws.shape)}"
        )
    num_sd = check_positive_float(num_sd, "num_sd")
    draws = draws.detach().to(x.device, x.dtype)
    mean, spread = draws.mean(dim=0), draws.std(dim=0)
    covered = ((x - mean).abs() <= num_sd * spread).to(x.dtype)
    if where is None:
        return covered.flatten(1).mean(dim=1)
    where = _pixel_mask(where, x).to(x.device).expand_as(x).to(x.dtype)
    return (covered * where).flatten(1).sum(dim=1) / where.flatten(1).sum(dim=1)
