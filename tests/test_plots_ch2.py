"""Chapter 2's figures: Gaussian contours in a 2-D code plane and the ELBO's
decomposition as stacked bars (Agg backend, figures closed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from vae_lib.plots import plot_elbo_decomposition, plot_gaussian_contours


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_gaussian_contours_lie_at_the_given_mahalanobis_distances():
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    covariance = torch.tensor([[0.4, -0.3], [-0.3, 0.5]], dtype=torch.float64)
    ax = plot_gaussian_contours(mean, covariance, radii=(1.0, 2.5), label="q")
    assert len(ax.lines) == 2
    precision = torch.linalg.inv(covariance).numpy()
    for line, radius in zip(ax.lines, (1.0, 2.5), strict=True):
        points = np.stack([line.get_xdata(), line.get_ydata()], axis=1) - mean.numpy()
        distance = np.sqrt(np.einsum("ni,ij,nj->n", points, precision, points))
        np.testing.assert_allclose(distance, radius, rtol=1e-9)
    assert ax.lines[0].get_label() == "q"


def test_gaussian_contours_draw_on_the_given_axes_with_the_given_style():
    _, ax = plt.subplots()
    out = plot_gaussian_contours(
        torch.zeros(2), torch.eye(2), ax, color="tab:orange", ls="--"
    )
    assert out is ax
    assert ax.lines[0].get_linestyle() == "--"


@pytest.mark.parametrize(
    ("mean", "covariance", "radii", "message"),
    [
        (torch.zeros(3), torch.eye(3), (1.0,), "shaped"),
        (torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]]), (1.0,), "positive"),
        (torch.zeros(2), torch.eye(2), (), "radii"),
        (torch.zeros(2), torch.eye(2), (-1.0,), "radii"),
    ],
)
def test_gaussian_contours_reject_bad_inputs(mean, covariance, radii, message):
    with pytest.raises(ValueError, match=message):
        plot_gaussian_contours(mean, covariance, radii=radii)


def test_gaussian_contours_reject_non_tensors():
    with pytest.raises(TypeError, match="mean"):
        plot_gaussian_contours([0.0, 0.0], torch.eye(2))


def test_elbo_decomposition_stacks_the_kl_on_minus_log_px():
    ax = plot_elbo_decomposition(-5.0, {"a": -5.0, "b": -6.5, "c": -9.0})
    bars = ax.patches
    assert len(bars) == 6  # a base and a gap per q
    base, gaps = bars[:3], bars[3:]
    assert all(bar.get_height() == pytest.approx(5.0) for bar in base)
    assert [bar.get_height() for bar in gaps] == pytest.approx([0.0, 1.5, 4.0])
    # each stack's top is -ELBO
    tops = [b.get_height() + g.get_height() for b, g in zip(base, gaps, strict=True)]
    assert tops == pytest.approx([5.0, 6.5, 9.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]


def test_elbo_decomposition_refuses_an_elbo_above_log_px():
    with pytest.raises(ValueError, match="at most log_px"):
        plot_elbo_decomposition(-5.0, {"a": -4.0})
    with pytest.raises(ValueError, match="at least one"):
        plot_elbo_decomposition(-5.0, {})
