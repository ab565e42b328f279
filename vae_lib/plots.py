"""Figures the chapters draw: image grids, latent scatter plots and training curves
(Chapter 1 onwards)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .train import History
from .validate import check_images, check_positive_int, check_tensor


def image_grid(x: torch.Tensor, nrow: int = 8, padding: int = 1) -> np.ndarray:
    """Tile images (B, C, H, W) in [0, 1] into one array
    (rows*(H+p)-p, nrow*(W+p)-p[, C]); gaps are 0."""
    x = check_images(x).detach().float().cpu()
    check_positive_int(nrow, "nrow")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    b, c, h, w = x.shape
    rows = -(-b // nrow)
    grid = np.zeros(
        (c, rows * (h + padding) - padding, nrow * (w + padding) - padding),
        dtype=np.float32,
    )
    for i, image in enumerate(x.numpy()):
        r, col = divmod(i, nrow)
        grid[
            :,
            r * (h + padding) : r * (h + padding) + h,
            col * (w + padding) : col * (w + padding) + w,
        ] = image
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def show_images(
    x: torch.Tensor, nrow: int = 8, title: str | None = None, ax: plt.Axes | None = None
) -> plt.Axes:
    """Show a batch of images (B, C, H, W) in [0, 1] as one grid, black ink on white."""
    grid = image_grid(x, nrow)
    if ax is None:
        rows = -(-x.shape[0] // nrow)
        _, ax = plt.subplots(figsize=(min(nrow, 12) * 0.9, rows * 0.9 + 0.4))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def scatter_latent(
    z: torch.Tensor,
    labels: torch.Tensor,
    ax: plt.Axes | None = None,
    class_names: Sequence[str] | None = None,
) -> plt.Axes:
    """Scatter 2-D latent codes z (N, 2) coloured by integer labels (N,)."""
    z, labels = (
        check_tensor(z, "z").detach().cpu(),
        check_tensor(labels, "labels").cpu(),
    )
    if z.dim() != 2 or z.shape[1] != 2 or labels.shape != (z.shape[0],):
        raise ValueError(
            f"z must be (N, 2) and labels (N,), got {tuple(z.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(
        z[:, 0], z[:, 1], c=labels, cmap="tab10", s=3, alpha=0.6, vmin=-0.5, vmax=9.5
    )
    bar = plt.colorbar(points, ax=ax, ticks=range(10))
    if class_names is not None:
        bar.ax.set_yticklabels(class_names)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    return ax


def plot_history(
    history: History,
    ax: plt.Axes | None = None,
    label: str = "",
    ylabel: str = "loss per example",
    val_name: str = "validation",
) -> plt.Axes:
    """Training (and validation) loss against epoch; ``val_name`` names the held-out set
    in the legend.

    The training loss is the mean over the epoch while the weights were still changing;
    the held-out loss is measured after the epoch, so it can lie below the training
    curve.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    epochs = np.arange(1, len(history.train_loss) + 1)
    ax.plot(epochs, history.train_loss, "o-", label=f"{label} train".strip())
    if history.val_loss:
        ax.plot(epochs, history.val_loss, "s--", label=f"{label} {val_name}".strip())
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax
