"""vae_lib.plots.latent_map: the decoded grid and the scatter of codes on shared axes in
the prior's probability coordinates (Agg backend, set by conftest)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from vae_lib.latent import latent_grid
from vae_lib.plots import latent_map


def test_both_panels_share_the_prior_probability_coordinates() -> None:
    n, extent = 4, 0.9
    decoded = torch.rand(n * n, 1, 3, 3)
    z = torch.tensor([[0.0, 0.0], [1.0, -1.0], [-2.0, 2.0]])
    labels = torch.tensor([0, 1, 1])
    left, right = latent_map(decoded, z, labels, extent=extent)
    for ax in (left, right):
        assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
        assert len(ax.texts) == 2  # one mark per label, at its median code
    # the map's cells are centred on the grid's codes, in u = Phi(z)
    codes = latent_grid(n, extent)
    u = torch.distributions.Normal(0.0, 1.0).cdf(codes)
    half = (u[1, 0] - u[0, 0]).item() / 2
    image_extent = left.get_images()[0].get_extent()
    assert np.allclose(
        image_extent,
        [u[0, 0] - half, u[-1, 0] + half, u[-1, 1] - half, u[0, 1] + half],
        atol=1e-6,
    )
    points = right.collections[0].get_offsets()
    assert np.allclose(points, torch.distributions.Normal(0.0, 1.0).cdf(z).numpy())
    # the label of digit 0 sits at its only code, the origin: (0.5, 0.5)
    zero = next(t for t in left.texts if t.get_text() == "0")
    assert np.allclose(zero.get_position(), (0.5, 0.5))
    plt.close("all")


def test_rejects_bad_inputs() -> None:
    z, labels = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="n \\* n"):
        latent_map(torch.rand(5, 1, 3, 3), z, labels)
    with pytest.raises(ValueError, match="extent"):
        latent_map(torch.rand(4, 1, 3, 3), z, labels, extent=0.4)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        latent_map(torch.rand(4, 1, 3, 3), torch.zeros(3, 3), labels)
    with pytest.raises(ValueError, match="two Axes"):
        _, ax = plt.subplots()
        latent_map(torch.rand(4, 1, 3, 3), z, labels, axes=[ax])
    plt.close("all")
