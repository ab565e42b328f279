"""vae_lib.baselines: the inpainting baselines that learn from training images. k-NN
completion against a brute-force loop; the Gaussian's fit against NumPy and its
conditional mean against the textbook formula solved with an explicit inverse, on a
small exact case and on the shared masks; bad inputs rejected by name.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_baselines import assert_observed_exact

from vae_lib.baselines import (
    GaussianModel,
    fit_gaussian,
    gaussian_inpaint,
    knn_inpaint,
)
from vae_lib.corrupt import hide, square_mask


@pytest.fixture
def train(gen):
    """40 seeded random training images (40, 1, 8, 8)."""
    return torch.rand(40, 1, 8, 8, generator=gen(5))


# --- k nearest neighbours -----------------------------------------------------------


def brute_force_knn(y, mask, train, k):
    out = y.clone()
    for b in range(y.shape[0]):
        observed = ~mask[b, 0]
        distances = torch.stack(
            [((y[b, 0] - t[0])[observed] ** 2).sum() for t in train]
        )
        nearest = distances.argsort()[:k]
        out[b, 0][mask[b, 0]] = train[nearest, 0].mean(0)[mask[b, 0]]
    return out


@pytest.mark.parametrize("chunk_size", [1, 2, 100])
def test_knn_matches_brute_force(y, mask, train, chunk_size):
    damaged = hide(y, mask)
    out = knn_inpaint(damaged, mask, train, k=3, chunk_size=chunk_size)
    expected = brute_force_knn(damaged, mask, train, 3)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert_observed_exact(out, damaged, mask)
    assert out.dtype == y.dtype


def test_knn_finds_a_training_image_seen_through_the_hole(y, train):
    # an image that IS training image 7 on its observed pixels gets 7's missing pixels
    mask = square_mask(train[7:8], 4)
    damaged = hide(train[7:8], mask, fill=0.5)
    out = knn_inpaint(damaged, mask, train, k=1)
    torch.testing.assert_close(out, train[7:8])


def test_knn_ignores_the_fill_value(y, mask, train):
    a = knn_inpaint(hide(y, mask, fill=0.0), mask, train, k=4)
    b = knn_inpaint(hide(y, mask, fill=1.0), mask, train, k=4)
    torch.testing.assert_close(a[mask.expand_as(y)], b[mask.expand_as(y)])


def test_knn_bad_inputs(y, mask, train):
    with pytest.raises(ValueError, match="k must be at most"):
        knn_inpaint(y, mask, train, k=41)
    with pytest.raises(ValueError, match="k"):
        knn_inpaint(y, mask, train, k=0)
    with pytest.raises(ValueError, match="chunk_size"):
        knn_inpaint(y, mask, train, chunk_size=0)
    with pytest.raises(ValueError, match="train"):
        knn_inpaint(y, mask, torch.rand(5, 1, 6, 6))
    with pytest.raises(TypeError, match="train"):
        knn_inpaint(y, mask, "images")
    with pytest.raises(TypeError, match="mask"):
        knn_inpaint(y, mask.float(), train)


# --- the Gaussian conditional mean ---------------------------------------------------


def test_fit_gaussian_matches_numpy(train):
    fitted = fit_gaussian(train, ridge=0.05)
    flat = train.flatten(1).double().numpy()
    np.testing.assert_allclose(fitted.mean.numpy(), flat.mean(0), atol=1e-12)
    expected = np.cov(flat, rowvar=False) + 0.05 * np.eye(64)
    np.testing.assert_allclose(fitted.covariance.numpy(), expected, atol=1e-12)
    assert fitted.mean.dtype == torch.float64


def test_gaussian_exact_small_case():
    # 1x1x2 images: x = (a, b) with mean (0.5, 0.5), var 0.04 each, covariance 0.03.
    # Given a = 0.7 the conditional mean of b is 0.5 + 0.03 / 0.04 * 0.2 = 0.65.
    gaussian = GaussianModel(
        torch.tensor([0.5, 0.5], dtype=torch.float64),
        torch.tensor([[0.04, 0.03], [0.03, 0.04]], dtype=torch.float64),
    )
    y = torch.tensor([[[[0.7, 0.0]]], [[[0.0, 0.1]]]])
    mask = torch.tensor([[[[False, True]]], [[[True, False]]]])
    out = gaussian_inpaint(y, mask, gaussian)
    expected = torch.tensor([[[[0.7, 0.65]]], [[[0.5 - 0.75 * 0.4, 0.1]]]])
    torch.testing.assert_close(out, expected)


def test_gaussian_matches_explicit_inverse(y, mask, train):
    # one shared mask (square) or a mask per image (random): the formula, by hand
    gaussian = fit_gaussian(train, ridge=0.1)
    damaged = hide(y, mask, fill=0.3)
    out = gaussian_inpaint(damaged, mask, gaussian)
    mu, sigma = gaussian.mean.numpy(), gaussian.covariance.numpy()
    for b in range(y.shape[0]):
        m = mask[b].flatten().numpy()
        o = ~m
        values = damaged[b].flatten().double().numpy()
        filled = mu[m] + sigma[np.ix_(m, o)] @ np.linalg.inv(sigma[np.ix_(o, o)]) @ (
            values[o] - mu[o]
        )
        expected = values.copy()
        expected[m] = np.clip(filled, 0, 1)
        np.testing.assert_allclose(
            out[b].flatten().double().numpy(), expected, atol=1e-6
        )
    assert_observed_exact(out, damaged, mask)
    assert out.dtype == y.dtype


def test_gaussian_recovers_a_linear_relation():
    # training images whose right half copies the left: the Gaussian learns the copy
    generator = torch.Generator().manual_seed(0)
    left = torch.rand(500, 1, 4, 2, generator=generator)
    train = torch.cat([left, left], dim=3)  # (500, 1, 4, 4)
    gaussian = fit_gaussian(train, ridge=1e-6)
    test = train[:3]
    mask = torch.zeros(3, 1, 4, 4, dtype=torch.bool)
    mask[..., 2:] = True
    out = gaussian_inpaint(hide(test, mask), mask, gaussian)
    torch.testing.assert_close(out, test, atol=1e-3, rtol=0)


def test_gaussian_bad_inputs(y, mask, train):
    gaussian = fit_gaussian(train)
    with pytest.raises(TypeError, match="gaussian"):
        gaussian_inpaint(y, mask, (gaussian.mean, gaussian.covariance))
    with pytest.raises(ValueError, match="gaussian"):
        gaussian_inpaint(
            torch.rand(2, 1, 6, 6), square_mask(torch.rand(2, 1, 6, 6), 2), gaussian
        )
    with pytest.raises(ValueError, match="ridge"):
        fit_gaussian(train, ridge=0.0)
    with pytest.raises(ValueError, match="train"):
        fit_gaussian(train[:1])
    with pytest.raises(ValueError, match="train"):
        fit_gaussian(train.flatten(1))


# --- the figure of completions by method ---------------------------------------------


def test_show_image_rows_labels_each_row(y):
    import matplotlib.pyplot as plt

    from vae_lib.plots import show_image_rows

    ax = show_image_rows({"truth": y, "flipped": 1 - y}, title="t")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["truth", "flipped"]
    assert ax.get_images()[0].get_array().shape == (2 * 8 + 1, 3 * 8 + 2)
    with pytest.raises(ValueError, match="same shape"):
        show_image_rows({"a": y, "b": y[:2]})
    with pytest.raises(ValueError, match="at least one"):
        show_image_rows({})
    plt.close("all")
