"""vae_lib.diagrams: block diagrams return their axes, carry the notation's labels and
refuse bad input naming the argument."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import Circle

from vae_lib.diagrams import autoencoder_diagram, computational_graph, vae_diagram


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(ax: plt.Axes) -> str:
    """Every text artist on the axes, joined."""
    return "\n".join(t.get_text() for t in ax.texts)


def gids(ax: plt.Axes, gid: str) -> list:
    return [p for p in ax.patches if p.get_gid() == gid]


def test_autoencoder_diagram_labels_and_sizes():
    ax = autoencoder_diagram(data_dim=100, latent_dim=3)
    assert isinstance(ax, plt.Axes)
    text = texts(ax)
    for label in (
        r"$\mathbf{x}$",
        r"$\hat{\mathbf{x}}$",
        r"$\mathbf{z}$",
        r"$\mathrm{enc}_\phi$",
        r"$\mathrm{dec}_\theta$",
        r"$\mathrm{MSE}(\phi, \theta)$",
        "$D = 100$",
        "$d = 3$",
    ):
        assert label in text, label
    assert "784" not in text


def test_vae_diagram_labels_noise_and_losses():
    ax = vae_diagram()
    text = texts(ax)
    for label in (
        r"$\boldsymbol{\mu}$",
        r"$\log \mathbf{s}^2$",
        r"\mathbf{z} = \boldsymbol{\mu} + \mathbf{s} \odot \boldsymbol{\varepsilon}",
        r"\boldsymbol{\varepsilon} \sim \mathcal{N}(\mathbf{0}, I)",
        r"p_\theta(\mathbf{x} \mid \mathbf{z})",
        r"\log p_\theta(\mathbf{x} \mid \mathbf{z})",
        r"\mathrm{KL}(q_\phi(\mathbf{z} \mid \mathbf{x}) \,\Vert\, p(\mathbf{z}))",
        "$D = 784$",
        "$d = 2$",
    ):
        assert label in text, label
    # One random node: the noise.
    assert len(gids(ax, "stochastic")) == 1


def test_computational_graph_without_reparameterisation_has_no_gradient_path():
    ax = computational_graph(False)
    text = texts(ax)
    assert r"\mathbf{z} \sim q_{\boldsymbol{\psi}}" in text
    assert r"\boldsymbol{\psi} = (\boldsymbol{\mu}, \log \mathbf{s}^2)" in text
    assert r"$f(\mathbf{z})$" in text
    assert r"\boldsymbol{\varepsilon}" not in text
    stochastic = gids(ax, "stochastic")
    assert len(stochastic) == 1 and isinstance(stochastic[0], Circle)
    assert gids(ax, "gradient") == []


def test_computational_graph_reparameterised_draws_the_backward_path():
    ax = computational_graph(True)
    text = texts(ax)
    assert r"\boldsymbol{\varepsilon} \sim \mathcal{N}(\mathbf{0}, I)" in text
    assert (
        r"\mathbf{z} = \boldsymbol{\mu} + \mathbf{s} \odot \boldsymbol{\varepsilon}"
        in text
    )
    assert r"\partial f / \partial \boldsymbol{\psi}" in text
    assert len(gids(ax, "stochastic")) == 1  # eps, off the path
    gradient = gids(ax, "gradient")
    assert len(gradient) == 2
    assert all(p.get_linestyle() != "-" for p in gradient)


def test_diagrams_draw_into_a_given_axes():
    fig, axes = plt.subplots(1, 4)
    drawn = [
        autoencoder_diagram(ax=axes[0]),
        vae_diagram(ax=axes[1]),
        computational_graph(False, ax=axes[2]),
        computational_graph(True, ax=axes[3]),
    ]
    assert drawn == list(axes)
    assert all(not a.axison for a in drawn)
    fig.canvas.draw()  # mathtext parses


def test_font_is_legible():
    ax = vae_diagram()
    assert min(t.get_fontsize() for t in ax.texts) >= 10


@pytest.mark.parametrize("draw", [autoencoder_diagram, vae_diagram])
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"data_dim": 0}, "data_dim"),
        ({"data_dim": 2.5}, "data_dim"),
        ({"latent_dim": -1}, "latent_dim"),
        ({"latent_dim": True}, "latent_dim"),
        ({"data_dim": 4, "latent_dim": 4}, "latent_dim"),
    ],
)
def test_bad_sizes_raise_value_error(draw, kwargs, name):
    with pytest.raises(ValueError, match=name):
        draw(**kwargs)


@pytest.mark.parametrize(
    "draw",
    [autoencoder_diagram, vae_diagram, lambda ax: computational_graph(True, ax=ax)],
)
def test_bad_ax_raises_type_error(draw):
    with pytest.raises(TypeError, match="ax"):
        draw(ax="not axes")


@pytest.mark.parametrize("value", [1, "yes", None])
def test_reparameterized_must_be_bool(value):
    with pytest.raises(TypeError, match="reparameterized"):
        computational_graph(value)
