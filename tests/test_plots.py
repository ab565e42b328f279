"""vae_lib.plots: image grids and the figures built on them (Agg backend, figures
closed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from vae_lib.plots import image_grid, plot_history, scatter_latent, show_images
from vae_lib.train import History


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def constant_images(batch: int, channels: int, h: int, w: int) -> torch.Tensor:
    """Image i is filled with the value (i + 1) / (batch + 2) (channel c adds
    c / 100)."""
    values = (torch.arange(batch) + 1) / (batch + 2)
    x = values.reshape(batch, 1, 1, 1).expand(batch, channels, h, w).clone()
    return x + torch.arange(channels).reshape(1, channels, 1, 1) / 100


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(
    ("batch", "nrow", "padding", "h", "w"),
    [(5, 3, 2, 2, 3), (8, 4, 1, 3, 3), (3, 8, 0, 4, 2), (1, 1, 3, 2, 2)],
)
def test_image_grid_places_each_image_in_its_cell(channels, batch, nrow, padding, h, w):
    x = constant_images(batch, channels, h, w)
    grid = image_grid(x, nrow=nrow, padding=padding)
    rows = (batch + nrow - 1) // nrow
    height, width = rows * (h + padding) - padding, nrow * (w + padding) - padding
    assert grid.shape == (
        (height, width) if channels == 1 else (height, width, channels)
    )
    grid = grid.reshape(height, width, channels)

    covered = np.zeros((height, width), dtype=bool)
    for i in range(batch):
        top, left = (i // nrow) * (h + padding), (i % nrow) * (w + padding)
        cell = grid[top : top + h, left : left + w]
        np.testing.assert_allclose(cell, x[i].permute(1, 2, 0).numpy())
        covered[top : top + h, left : left + w] = True
    # Padding and empty cells are 0: white under the "gray_r" colour map that
    # show_images uses.
    assert (grid[~covered] == 0.0).all()


def test_image_grid_default_layout_is_eight_per_row():
    grid = image_grid(torch.zeros(10, 1, 28, 28))
    assert grid.shape == (2 * 29 - 1, 8 * 29 - 1)
    assert grid.dtype == np.float32


def test_image_grid_does_not_need_gradients_detached_first():
    x = torch.rand(2, 1, 3, 3, requires_grad=True)
    np.testing.assert_allclose(
        image_grid(x, nrow=2, padding=0)[:, :3], x[0, 0].detach().numpy()
    )


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (torch.rand(4, 28, 28), ValueError, r"\(B, C, H, W\)"),
        (torch.full((2, 1, 3, 3), 2.0), ValueError, r"\[0, 1\]"),
        (torch.zeros(2, 1, 3, 3, dtype=torch.uint8), TypeError, "floating-point"),
        (np.zeros((2, 1, 3, 3)), TypeError, "torch.Tensor"),
    ],
    ids=["3-d", "out-of-range", "uint8", "numpy"],
)
def test_image_grid_rejects_bad_images(x, error, message):
    with pytest.raises(error, match=message):
        image_grid(x)


@pytest.mark.parametrize(
    ("nrow", "padding"),
    [(0, 1), (-2, 1), (4, -1)],
    ids=["nrow-0", "nrow-negative", "padding-negative"],
)
def test_image_grid_rejects_a_bad_layout_clearly(nrow, padding):
    name = "nrow" if nrow < 1 else "padding"
    with pytest.raises(ValueError, match=name):
        image_grid(torch.rand(4, 1, 3, 3), nrow=nrow, padding=padding)


def test_show_images_draws_the_grid_on_the_axes():
    x = constant_images(5, 1, 4, 4)
    _, given = plt.subplots()
    ax = show_images(x, nrow=3, title="five", ax=given)
    assert ax is given
    assert ax.get_title() == "five" and not ax.axison
    np.testing.assert_array_equal(ax.images[0].get_array(), image_grid(x, nrow=3))


def test_show_images_makes_its_own_axes():
    ax = show_images(constant_images(3, 3, 4, 4))
    assert isinstance(ax, plt.Axes) and len(ax.images) == 1
    assert (
        ax.images[0].get_array().shape == image_grid(constant_images(3, 3, 4, 4)).shape
    )


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (torch.rand(4, 4), ValueError, r"\(B, C, H, W\)"),
        ([[0.5]], TypeError, "must be a torch.Tensor, got list"),
    ],
    ids=["2-d", "list"],
)
def test_show_images_rejects_bad_input(x, error, message):
    with pytest.raises(error, match=message):
        show_images(x)


def test_scatter_latent_plots_every_point_with_its_label():
    gen = torch.Generator().manual_seed(0)
    z, labels = torch.randn(30, 2, generator=gen), torch.arange(30) % 10
    names = [f"class {i}" for i in range(10)]
    ax = scatter_latent(z, labels, class_names=names)
    assert isinstance(ax, plt.Axes)
    points = ax.collections[0]
    np.testing.assert_allclose(points.get_offsets(), z.numpy())
    np.testing.assert_array_equal(points.get_array(), labels.numpy())
    colorbar_labels = [t.get_text() for t in ax.figure.axes[-1].get_yticklabels()]
    assert colorbar_labels == names


@pytest.mark.parametrize(
    ("z", "labels"),
    [
        (torch.zeros(5, 3), torch.zeros(5)),
        (torch.zeros(5, 2), torch.zeros(4)),
        (torch.zeros(5), torch.zeros(5)),
    ],
    ids=["3-d-codes", "too-few-labels", "flat-codes"],
)
def test_scatter_latent_rejects_bad_shapes(z, labels):
    with pytest.raises(ValueError, match=r"z must be \(N, 2\) and labels \(N,\)"):
        scatter_latent(z, labels)


@pytest.mark.parametrize(
    "val_loss", [[], [2.5, 2.0, 1.8]], ids=["train-only", "with-validation"]
)
def test_plot_history_draws_one_curve_per_loss(val_loss):
    history = History(train_loss=[3.0, 2.0, 1.5], val_loss=val_loss)
    ax = plot_history(history, label="AE")
    assert isinstance(ax, plt.Axes)
    curves = [
        (line.get_label(), list(line.get_xdata()), list(line.get_ydata()))
        for line in ax.get_lines()
    ]
    expected = [("AE train", [1, 2, 3], history.train_loss)]
    if val_loss:
        expected.append(("AE validation", [1, 2, 3], val_loss))
    assert curves == expected
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss per example"


def test_plot_history_names_the_held_out_set():
    history = History(
        train_loss=[3.0, 2.0], val_loss=[2.5, 1.5], epoch_seconds=[1.0, 1.0]
    )
    ax = plot_history(history, label="conv", val_name="test")
    assert [line.get_label() for line in ax.get_lines()] == ["conv train", "conv test"]
    plt.close(ax.figure)
