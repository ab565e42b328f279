"""vae_lib.compression: the PCA transform codec against NumPy's SVD and SciPy's normal
distribution in float64, and the bracket of a budget by a codec's settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from vae_lib.compression import (
    ARITHMETIC_CODER_OVERHEAD_BITS,
    PCACodec,
    bracket,
)


@pytest.fixture
def images() -> torch.Tensor:
    """200 random images (200, 1, 4, 5) in [0, 1] with a few strong directions."""
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(3, 20, generator=g)
    weights = torch.randn(200, 3, generator=g) * torch.tensor([3.0, 2.0, 1.0])
    flat = 0.5 + 0.05 * (weights @ basis) + 0.01 * torch.randn(200, 20, generator=g)
    return flat.clamp(0, 1).reshape(200, 1, 4, 5)


def test_fit_matches_numpy_svd(images: torch.Tensor) -> None:
    codec = PCACodec.fit(images, 5, 0.1)
    flat = images.flatten(1).double().numpy()
    centred = flat - flat.mean(0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    # the same subspace, the same spreads, orthonormal rows
    projector = codec.components.double().T @ codec.components.double()
    expected = torch.from_numpy(vt[:5].T @ vt[:5])
    assert torch.allclose(projector, expected, atol=1e-5)
    np.testing.assert_allclose(
        codec.scales.numpy(), singular[:5] / math.sqrt(200), rtol=1e-4
    )
    gram = codec.components @ codec.components.T
    assert torch.allclose(gram, torch.eye(5), atol=1e-5)
    assert codec.image_shape == (1, 4, 5) and codec.step == 0.1
    coefficients = codec.coefficients(images)
    assert torch.allclose(coefficients.std(0, unbiased=False), codec.scales, rtol=1e-3)


def test_encode_rounds_coefficients_and_decode_rebuilds(images: torch.Tensor) -> None:
    codec = PCACodec.fit(images, 4, 0.05)
    k = codec.encode(images)
    assert k.dtype == torch.int64 and k.shape == (200, 4)
    assert torch.equal(k, torch.round(codec.coefficients(images) / 0.05).long())
    decoded = codec.decode(k)
    expected = (k.float() * 0.05) @ codec.components + codec.mean
    assert decoded.shape == images.shape
    assert torch.allclose(decoded, expected.clamp(0, 1).reshape(images.shape))
    assert decoded.min() >= 0 and decoded.max() <= 1


def test_fine_grid_on_all_components_is_nearly_lossless(
    images: torch.Tensor,
) -> None:
    codec = PCACodec.fit(images, 20, 1e-5)
    assert torch.allclose(codec.decode(codec.encode(images)), images, atol=1e-4)


def test_code_bits_are_ideal_lengths_under_each_components_gaussian(
    images: torch.Tensor,
) -> None:
    codec = PCACodec.fit(images, 3, 0.2)
    k = codec.encode(images[:6])
    expected = []
    for row in k.tolist():
        bits = 0.0
        for j, kj in enumerate(row):
            sigma = codec.scales[j].item()
            lo, hi = (kj - 0.5) * 0.2 / sigma, (kj + 0.5) * 0.2 / sigma
            bits -= math.log2(norm.cdf(hi) - norm.cdf(lo))
        expected.append(bits + ARITHMETIC_CODER_OVERHEAD_BITS)
    assert torch.allclose(
        codec.code_bits(k), torch.tensor(expected, dtype=torch.float32), rtol=1e-5
    )
    # a coarser step costs fewer bits
    coarse = codec.with_step(1.0)
    assert (
        coarse.code_bits(coarse.encode(images)).mean()
        < codec.code_bits(codec.encode(images)).mean()
    )


def test_with_step_keeps_the_components(images: torch.Tensor) -> None:
    codec = PCACodec.fit(images, 3, 0.2)
    other = codec.with_step(0.7)
    assert other.step == 0.7 and other.components is codec.components


@pytest.mark.parametrize("num_components", [0, 21, 2.0, True])
def test_fit_rejects_bad_component_counts(
    images: torch.Tensor, num_components: object
) -> None:
    with pytest.raises(ValueError, match="num_components"):
        PCACodec.fit(images, num_components, 0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("step", [0, -1.0, math.nan, math.inf, True])
def test_rejects_bad_steps(images: torch.Tensor, step: object) -> None:
    with pytest.raises(ValueError, match="step"):
        PCACodec.fit(images, 2, step)  # type: ignore[arg-type]


def test_fit_rejects_components_without_variance() -> None:
    flat = torch.zeros(10, 1, 2, 2)
    flat[:, 0, 0, 0] = torch.linspace(0, 1, 10)  # one direction only
    with pytest.raises(ValueError, match="zero variance"):
        PCACodec.fit(flat, 2, 0.1)


def test_rejects_wrong_shapes(images: torch.Tensor) -> None:
    codec = PCACodec.fit(images, 3, 0.1)
    with pytest.raises(ValueError, match="image"):
        codec.encode(torch.rand(2, 1, 5, 4))
    with pytest.raises(ValueError, match="k must be"):
        codec.decode(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="pixel values"):
        PCACodec.fit(images * 2, 3, 0.1)


def test_bracket_exact_small_case() -> None:
    sizes = torch.tensor([[1.0, 5.0, 2.0], [3.0, 6.0, 2.0], [4.0, 9.0, 8.0]])
    scores = torch.tensor([[10.0, 20.0, 30.0], [11.0, 21.0, 35.0], [12.0, 22.0, 40.0]])
    budget = torch.tensor([3.5, 4.0, 2.0])
    result = bracket(sizes, scores, budget)
    # image 0: sizes 1, 3 fit (best 11); 4 is the cheapest >= 3.5 (12)
    # image 1: nothing fits; 5 is the cheapest >= 4 (20)
    # image 2: both size-2 settings fit and tie as the cheapest >= 2 (better: 35)
    torch.testing.assert_close(
        result.within, torch.tensor([11.0, math.nan, 35.0]), equal_nan=True
    )
    assert torch.equal(result.beyond, torch.tensor([12.0, 20.0, 35.0]))
    over = bracket(sizes, scores, torch.tensor([4.0, 10.0, 9.0]))
    assert torch.isnan(over.beyond[1:]).all() and over.beyond[0] == 12.0


def test_bracket_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(Q, N\)"):
        bracket(torch.ones(2, 3), torch.ones(2, 4), torch.ones(3))
    with pytest.raises(ValueError, match="budget"):
        bracket(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2))
