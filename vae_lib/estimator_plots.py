"""Figures of Chapter 3 (gradient estimators): histograms of per-sample estimates,
parameter paths over a density's contours, and relaxed samples on the 2-simplex."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch

from .validate import (
    check_callable,
    check_finite_float,
    check_float_tensor,
    check_in_interval,
    check_mapping,
    check_positive_int,
)

# the corners of the 2-simplex drawn as an equilateral triangle: e_1, e_2, e_3
_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])


def _axes(ax: plt.Axes | None, figsize: tuple[float, float]) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_estimate_histograms(
    estimates: Mapping[str, torch.Tensor],
    exact: float,
    *,
    quantile: float = 0.995,
    bins: int = 80,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Overlaid histograms of one coordinate's per-sample gradient estimates, each
    ``estimates[name]`` shaped (S,), on a shared range that keeps the central
    ``quantile`` of every estimator; a dashed line at the ``exact`` gradient."""
    if isinstance(estimates, Mapping) and not estimates:
        raise ValueError("estimates must name at least one estimator")
    check_mapping(estimates, "estimates", "estimators to estimates")
    values = {
        name: check_float_tensor(v, f"estimates[{name!r}]").detach().double().cpu()
        for name, v in estimates.items()
    }
    for name, v in values.items():
        if v.dim() != 1 or v.numel() == 0:
            raise ValueError(
                f"estimates[{name!r}] must be (S,) with S >= 1, got {tuple(v.shape)}"
            )
    exact = check_finite_float(exact, "exact")
    check_in_interval(quantile, "quantile", 0, 1, open_low=True)
    check_positive_int(bins, "bins")
    tail = (1 - quantile) / 2
    low = min(torch.quantile(v, tail).item() for v in values.values())
    high = max(torch.quantile(v, 1 - tail).item() for v in values.values())
    edges = np.linspace(low, high, bins + 1).tolist()
    ax = _axes(ax, (8, 3.5))
    for name, v in values.items():
        ax.hist(
            v.numpy(), bins=edges, density=True, histtype="step", lw=1.6, label=name
        )
    ax.axvline(exact, color="black", ls="--", lw=1, label="exact gradient")
    ax.set_ylabel("density")
    ax.legend()
    return ax


def plot_paths(
    paths: Mapping[str, torch.Tensor],
    *,
    log_density: Callable[[torch.Tensor], torch.Tensor] | None = None,
    marks: Mapping[str, torch.Tensor] | None = None,
    levels: int = 8,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Paths of a 2-D parameter, each ``paths[name]`` shaped (T, 2), drawn from its
    start (circle) to its end (cross), over the contours of ``log_density`` (a function
    of points (N, 2) -> (N,)) and with labelled ``marks`` (each (2,))."""
    if isinstance(paths, Mapping) and not paths:
        raise ValueError("paths must name at least one path")
    check_mapping(paths, "paths", "names to paths")
    if log_density is not None:
        check_callable(log_density, "log_density")
    check_positive_int(levels, "levels")
    if marks is not None and not isinstance(marks, Mapping):
        raise TypeError(
            f"marks must be a mapping of names to points, got {marks!r:.80}"
        )
    points = {}
    for name, path in paths.items():
        path = check_float_tensor(path, f"paths[{name!r}]").detach().double().cpu()
        if path.dim() != 2 or path.shape[1] != 2:
            raise ValueError(f"paths[{name!r}] must be (T, 2), got {tuple(path.shape)}")
        points[name] = path.numpy()
    marks = {
        n: check_float_tensor(m, f"marks[{n!r}]") for n, m in (marks or {}).items()
    }
    for n, m in marks.items():
        if m.shape != (2,):
            raise ValueError(f"marks[{n!r}] must be a point (2,), got {tuple(m.shape)}")
    ax = _axes(ax, (5, 4.5))
    every = np.concatenate(
        [
            *points.values(),
            *(m.detach().cpu().double().reshape(1, 2) for m in marks.values()),
        ]
    )
    low, high = every.min(axis=0), every.max(axis=0)
    pad = 0.15 * (high - low).max() + 0.1
    if log_density is not None:
        xs = np.linspace(low[0] - pad, high[0] + pad, 120)
        ys = np.linspace(low[1] - pad, high[1] + pad, 120)
        grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2))
        values = log_density(grid)
        if not isinstance(values, torch.Tensor) or values.shape != (len(grid),):
            raise ValueError(
                f"log_density must map points (N, 2) to values (N,), got "
                f"{getattr(values, 'shape', type(values).__name__)} for N = {len(grid)}"
            )
        surface = values.detach().cpu().numpy().reshape(len(ys), len(xs))
        ax.contour(xs, ys, surface, levels=levels, colors="0.6", linewidths=0.8)
    for i, (name, xy) in enumerate(points.items()):
        color = f"C{i}"
        ax.plot(xy[:, 0], xy[:, 1], "-", color=color, lw=1.2, alpha=0.85, label=name)
        ax.plot(*xy[0], "o", color=color, ms=6)
        ax.plot(*xy[-1], "X", color=color, ms=9, mec="black")
    for name, point in marks.items():
        x, y = point.detach().cpu().double().tolist()
        ax.plot(x, y, "*", color="black", ms=13)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 6))
    ax.set_aspect("equal")
    ax.legend(loc="best")
    return ax


def plot_simplex(
    samples: torch.Tensor,
    *,
    title: str | None = None,
    labels: tuple[str, str, str] = ("1", "2", "3"),
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Points of the 2-simplex, ``samples`` (S, 3) with rows summing to 1 (relaxed
    one-hot vectors), drawn in a triangle whose corners are the one-hot vectors."""
    samples = check_float_tensor(samples, "samples").detach().double().cpu()
    if samples.dim() != 2 or samples.shape[1] != 3:
        raise ValueError(f"samples must be (S, 3), got {tuple(samples.shape)}")
    if (samples < 0).any():
        raise ValueError("samples must be points of the simplex: no negative entry")
    if (
        isinstance(labels, str)
        or len(labels) != 3
        or not all(isinstance(label, str) for label in labels)
    ):
        raise ValueError(f"labels must be three str, one per corner, got {labels!r}")
    if not torch.allclose(
        samples.sum(dim=1), torch.ones(len(samples), dtype=samples.dtype)
    ):
        raise ValueError("every row of samples must sum to 1")
    ax = _axes(ax, (3, 3))
    xy = samples.numpy() @ _CORNERS  # (S, 2)
    ax.fill(*_CORNERS.T, facecolor="none", edgecolor="black", lw=1)
    ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.3, linewidths=0)
    offsets = [(-10, -12), (4, -12), (-4, 4)]
    for corner, label, offset in zip(_CORNERS, labels, offsets, strict=True):
        ax.annotate(label, corner, textcoords="offset points", xytext=offset)
    ax.set_xlim(-0.08, 1.08)
    ax.set_ylim(-0.1, 0.95)
    ax.set_aspect("equal")
    ax.axis("off")
    if title is not None:
        ax.set_title(title)
    return ax
