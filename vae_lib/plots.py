"""Figures the chapters draw: image grids, latent scatter plots and training curves
(Chapter 1 onwards)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from .train import History
from .validate import (
    check_finite_float,
    check_float_tensor,
    check_images,
    check_in_interval,
    check_instance,
    check_mapping,
    check_not_empty,
    check_positive_float,
    check_positive_int,
    check_tensor,
)


def _check_ax(ax: object, name: str = "ax") -> None:
    """Fail unless ``ax`` is None (a new figure) or a matplotlib Axes."""
    if ax is not None:
        check_instance(ax, name, plt.Axes)


def image_grid(x: torch.Tensor, nrow: int = 8, padding: int = 1) -> np.ndarray:
    """Tile images (B, C, H, W) in [0, 1] into one array
    (rows*(H+p)-p, nrow*(W+p)-p[, C]); gaps are 0."""
    x = check_not_empty(check_images(x), "x").detach().float().cpu()
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
    _check_ax(ax)
    grid = image_grid(x, nrow)
    if ax is None:
        rows = -(-x.shape[0] // nrow)
        _, ax = plt.subplots(figsize=(min(nrow, 12) * 0.9, rows * 0.9 + 0.4))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _codes_and_labels(
    z: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D codes z (N, 2) and their integer labels (N,), checked, on the CPU."""
    z, labels = (
        check_float_tensor(z, "z").detach().cpu(),
        check_tensor(labels, "labels").cpu(),
    )
    if z.dim() != 2 or z.shape[1] != 2 or labels.shape != (z.shape[0],):
        raise ValueError(
            f"z must be (N, 2) and labels (N,), got {tuple(z.shape)} and "
            f"{tuple(labels.shape)}"
        )
    return z, labels


def scatter_latent(
    z: torch.Tensor,
    labels: torch.Tensor,
    ax: plt.Axes | None = None,
    class_names: Sequence[str] | None = None,
) -> plt.Axes:
    """Scatter 2-D latent codes z (N, 2) coloured by integer labels (N,)."""
    z, labels = _codes_and_labels(z, labels)
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
    check_instance(history, "history", History)
    _check_ax(ax)
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


def mask_window(mask: torch.Tensor, height: int, width: int) -> tuple[slice, slice]:
    """The rows and columns of a ``height`` x ``width`` crop that shows a damage mask:
    of all windows inside the image, one holding the most missing pixels, and among
    those the one centred nearest their centroid (a small hole ends up in the middle).

    ``mask`` is a bool (H, W) tensor, True where a pixel is missing, with at least one
    missing pixel. Returns ``(rows, cols)`` slices for ``image[..., rows, cols]``.
    """
    mask = check_tensor(mask, "mask")
    if mask.dtype != torch.bool or mask.dim() != 2:
        raise ValueError(
            f"mask must be a bool tensor (H, W), got {mask.dtype} {tuple(mask.shape)}"
        )
    height = check_positive_int(height, "height")
    width = check_positive_int(width, "width")
    h, w = mask.shape
    if height > h or width > w:
        raise ValueError(
            f"height and width must fit in the mask ({h}, {w}), got ({height}, {width})"
        )
    if not mask.any():
        raise ValueError("mask must have at least one missing pixel to show")
    m = mask.detach().cpu().double()
    integral = torch.nn.functional.pad(m.cumsum(0).cumsum(1), (1, 0, 1, 0))
    counts = (  # missing pixels in the window at each top-left corner
        integral[height:, width:]
        - integral[:-height, width:]
        - integral[height:, :-width]
        + integral[:-height, :-width]
    )
    rows, cols = torch.nonzero(m, as_tuple=True)
    tops = torch.arange(h - height + 1, dtype=torch.float64)[:, None]
    lefts = torch.arange(w - width + 1, dtype=torch.float64)[None, :]
    distance = (tops + (height - 1) / 2 - rows.double().mean()).pow(2) + (
        lefts + (width - 1) / 2 - cols.double().mean()
    ).pow(2)
    distance[counts < counts.max()] = torch.inf
    top, left = divmod(int(distance.argmin()), w - width + 1)
    return slice(top, top + height), slice(left, left + width)


def show_image_rows(
    rows: Mapping[str, torch.Tensor],
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Show several batches of images, one labelled row each: ``rows`` maps a label to
    images (N, C, H, W) in [0, 1], the same N for every row (e.g. one method's
    completions of the same N digits)."""
    if isinstance(rows, Mapping) and len(rows) == 0:
        raise ValueError("rows must hold at least one batch of images")
    check_mapping(rows, "rows", "labels to images")
    _check_ax(ax)
    batches = [
        check_images(images, f"rows[{label!r}]") for label, images in rows.items()
    ]
    if any(images.shape != batches[0].shape for images in batches):
        raise ValueError(
            "rows must all hold images of the same shape (N, C, H, W), got "
            + ", ".join(str(tuple(images.shape)) for images in batches)
        )
    n, _, h, _ = batches[0].shape
    if ax is None:
        _, ax = plt.subplots(figsize=(min(n, 12) * 0.8 + 1.6, len(rows) * 0.8 + 0.4))
    show_images(torch.cat([images.cpu() for images in batches]), nrow=n, ax=ax)
    ax.set_axis_on()
    ax.set_xticks([])
    ax.set_yticks([r * (h + 1) + h / 2 for r in range(len(rows))], list(rows))
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return ax


def plot_traces(
    traces: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    ax: plt.Axes | None = None,
    xlabel: str = "iteration",
    ylabel: str = "score",
) -> plt.Axes:
    """Per-item scores against iterations, one line per entry: ``traces`` maps a label
    to (iterations (T,), scores (T, N) of N items). Each line is the mean over the
    items, with a band of two standard errors either side."""
    check_mapping(traces, "traces", "labels to (iterations, scores)")
    _check_ax(ax)
    for label, entry in traces.items():
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise ValueError(
                f"traces[{label!r}] must be a pair (iterations (T,), scores (T, N)), "
                f"got {type(entry).__name__}"
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, (steps, scores) in traces.items():
        steps = check_tensor(steps, f"traces[{label!r}] iterations").detach().cpu()
        scores = check_tensor(scores, f"traces[{label!r}] scores").detach().cpu()
        if steps.dim() != 1 or scores.dim() != 2 or scores.shape[0] != steps.shape[0]:
            raise ValueError(
                f"traces[{label!r}] must be iterations (T,) and scores (T, N), got "
                f"{tuple(steps.shape)} and {tuple(scores.shape)}"
            )
        mean = scores.double().mean(1)
        band = 2 * scores.double().std(1) / scores.shape[1] ** 0.5
        (line,) = ax.plot(steps, mean, label=label)
        ax.fill_between(
            steps, mean - band, mean + band, color=line.get_color(), alpha=0.2
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def latent_map(
    decoded: torch.Tensor,
    z: torch.Tensor,
    labels: torch.Tensor,
    extent: float = 0.95,
    axes: Sequence[plt.Axes] | None = None,
) -> tuple[plt.Axes, plt.Axes]:
    """A 2-D latent space in one coordinate system (Chapter 4): the decoded grid
    beside the scatter of codes, on shared axes.

    decoded: (n * n, C, H, W) images of ``latent.latent_grid(n, extent)``'s codes, in
    its row-major order; z: codes (N, 2); labels: (N,) integers 0 to 9. Both panels
    use the prior's probability coordinates u = Phi(z), where the grid is even, and
    are labelled in z; each label's median code is marked with it on both.
    """
    decoded = check_images(decoded, "decoded").detach().float().cpu()
    n = int(np.rint(np.sqrt(decoded.shape[0])))
    if n < 2 or n * n != decoded.shape[0]:
        raise ValueError(
            "decoded must hold the n * n images of an n x n grid (n >= 2), got "
            f"{decoded.shape[0]} images"
        )
    check_in_interval(extent, "extent", 0.5, 1, open_low=True, open_high=True)
    z, labels = _codes_and_labels(z, labels)
    if axes is not None and (
        isinstance(axes, str)
        or len(axes) != 2
        or not all(isinstance(a, plt.Axes) for a in axes)
    ):
        raise ValueError(f"axes must be two Axes (matplotlib), got {axes!r:.80}")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 5.6), sharex=True, sharey=True)
    left, right = axes
    normal = torch.distributions.Normal(0.0, 1.0)
    u = normal.cdf(z.double()).numpy()  # (N, 2) in (0, 1)
    half = (2 * extent - 1) / (n - 1) / 2  # half a grid cell, in u
    left.imshow(
        image_grid(decoded, nrow=n, padding=0),
        cmap="gray_r",
        vmin=0,
        vmax=1,
        extent=(1 - extent - half, extent + half, 1 - extent - half, extent + half),
    )
    right.scatter(
        u[:, 0], u[:, 1], c=labels, cmap="tab10", s=3, alpha=0.6, vmin=-0.5, vmax=9.5
    )
    colours = plt.get_cmap("tab10")
    z_ticks = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    u_ticks = normal.cdf(torch.from_numpy(z_ticks)).numpy()
    for ax in axes:
        for digit in labels.unique().tolist():
            centre = np.median(u[(labels == digit).numpy()], axis=0)
            ax.text(
                float(centre[0]),
                float(centre[1]),
                str(digit),
                color=colours(digit),
                fontsize=14,
                fontweight="bold",
                ha="center",
                va="center",
                bbox={"facecolor": "white", "alpha": 0.7, "pad": 1, "lw": 0},
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xticks(u_ticks, [f"{t:g}" for t in z_ticks])
        ax.set_yticks(u_ticks, [f"{t:g}" for t in z_ticks])
        ax.set_xlabel("$z_1$ (spaced by prior probability)")
    left.set_ylabel("$z_2$ (spaced by prior probability)")
    return left, right


# --- Chapter 2: Gaussians in a 2-D code plane, and the ELBO's decomposition -----------


def plot_gaussian_contours(
    mean: torch.Tensor,
    covariance: torch.Tensor,
    ax: plt.Axes | None = None,
    *,
    radii: Sequence[float] = (1.0, 2.0),
    label: str | None = None,
    **style: Any,
) -> plt.Axes:
    """Contours of a 2-D Gaussian N(mean (2,), covariance (2, 2)): the ellipses at
    Mahalanobis distances ``radii`` (1 and 2 standard deviations by default), drawn
    with matplotlib ``style`` (color, ls, lw); ``label`` names the first in a legend."""
    mean = check_float_tensor(mean, "mean").detach().double().cpu()
    covariance = check_float_tensor(covariance, "covariance").detach().double().cpu()
    if mean.shape != (2,) or covariance.shape != (2, 2):
        raise ValueError(
            "mean must be shaped (2,) and covariance (2, 2), got "
            f"{tuple(mean.shape)} and {tuple(covariance.shape)}"
        )
    if isinstance(radii, str) or not isinstance(radii, Sequence) or not radii:
        raise ValueError(
            f"radii must be a non-empty sequence of numbers, got {radii!r}"
        )
    for radius in radii:
        check_positive_float(radius, "radii")
    if not torch.allclose(covariance, covariance.T):
        raise ValueError(
            f"covariance must be symmetric positive definite, got {covariance.tolist()}"
        )
    _check_ax(ax)
    try:
        cholesky = torch.linalg.cholesky(covariance)
    except RuntimeError as error:
        raise ValueError(
            f"covariance must be symmetric positive definite, got {covariance.tolist()}"
        ) from error
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    angle = torch.linspace(0, 2 * np.pi, 200, dtype=torch.float64)
    circle = torch.stack([angle.cos(), angle.sin()])  # (2, 200)
    for i, radius in enumerate(radii):
        points = (mean[:, None] + radius * cholesky @ circle).numpy()
        ax.plot(points[0], points[1], label=label if i == 0 else None, **style)
    ax.set_aspect("equal")
    return ax


def plot_elbo_decomposition(
    log_px: float,
    elbos: Mapping[str, float],
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """The identity -ELBO = -log p(x) + KL(q || posterior) as stacked bars, one per
    approximate posterior q: ``elbos`` maps each q's name to its ELBO (nats), all below
    ``log_px``, the exact log-evidence. Each bar's lower part is -log p(x), the same
    for every q; its upper part is the KL, the gap."""
    if isinstance(elbos, Mapping) and not elbos:
        raise ValueError("elbos must name at least one q")
    check_mapping(elbos, "elbos", "q names to ELBOs")
    log_px = check_finite_float(log_px, "log_px")
    names = list(elbos)
    values = [check_finite_float(v, f"elbos[{k!r}]") for k, v in elbos.items()]
    gaps = [log_px - v for v in values]
    if any(g < -1e-9 for g in gaps):
        raise ValueError(
            f"elbos must each be at most log_px = {log_px:.4g}, got {dict(elbos)}"
        )
    _check_ax(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    positions = np.arange(len(names))
    base = -float(log_px)
    ax.bar(positions, [base] * len(names), color="0.7", label=r"$-\log p(\mathbf{x})$")
    ax.bar(
        positions,
        gaps,
        bottom=base,
        color="tab:orange",
        label=r"KL$(q \,\Vert\, p(\mathbf{z} \mid \mathbf{x}))$",
    )
    for position, gap in zip(positions, gaps, strict=True):
        label = f"{max(gap, 0.0):.2f}"
        ax.text(float(position), base + gap, label, ha="center", va="bottom")
    ax.set_xticks(positions, names)
    ax.set_ylabel(r"$-\mathcal{L}(q)$, nats")
    ax.legend(loc="upper left")
    return ax
