"""Image quality: PSNR and SSIM, per image, for pictures in [0, 1] (Chapters 4 to 7).

PSNR = 10 log10(1 / MSE) in dB for a peak value of 1; SSIM (Wang et al. 2004) compares local
means, contrasts and structure, and is computed by scikit-image rather than re-derived here.
"""
from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import structural_similarity

from .validate import check_images, check_same_shape


def _pair(x_hat: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x_hat, x = check_images(x_hat, "x_hat"), check_images(x, "x")
    check_same_shape(x_hat, x, ("x_hat", "x"))
    return x_hat.detach().float().cpu(), x.detach().float().cpu()


def psnr(x_hat: torch.Tensor, x: torch.Tensor, min_mse: float = 1e-10) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image in dB: (B, C, H, W) pairs -> (B,).

    An exact copy would be infinitely good; ``min_mse`` caps it at 100 dB.
    """
    x_hat, x = _pair(x_hat, x)
    mse = ((x_hat - x) ** 2).flatten(1).mean(dim=1).clamp_min(min_mse)
    return -10.0 * torch.log10(mse)


def ssim(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Structural similarity of each image (scikit-image, 7x7 window, data range 1): (B, C, H, W) -> (B,)."""
    x_hat, x = _pair(x_hat, x)
    values = [
        structural_similarity(a.numpy().transpose(1, 2, 0), b.numpy().transpose(1, 2, 0), data_range=1.0,
                              channel_axis=2)
        for a, b in zip(x_hat, x)
    ]
    return torch.tensor(np.asarray(values, dtype=np.float32))
