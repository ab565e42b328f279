"""Block diagrams of the models and of their computational graphs (Chapters 1-3), drawn
with matplotlib patches and mathtext: no external tools and no image files.

Every function draws into ``ax`` (a new figure of about (8, 2.6) inches when ``ax`` is
None), turns the axis frame off and returns the axes. Shapes follow one code: data and
codes are rectangles, networks are trapezoids that narrow towards the code, random
(stochastic) nodes are circles, and gradients flowing backwards are dashed red arrows.
The symbols are the book's notation table.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon

from .validate import check_positive_int

FONTSIZE = 11
SMALL = 10
_DATA = "#dbe9f6"  # data and codes
_NET = "#fde7c8"  # networks (encoder, decoder)
_NODE = "#e3f1dc"  # deterministic computations
_RANDOM = "#f6d5e5"  # random nodes
_LOSS = "#6a3d9a"  # losses
_GRAD = "#d62728"  # backward gradients
_EDGE = "#333333"
_Z_REPARAM = (
    r"$\mathbf{z} = \boldsymbol{\mu} + \mathbf{s} \odot \boldsymbol{\varepsilon}$"
)


def _axes(
    ax: object, figsize: tuple[float, float], xlim: float, ylim: tuple[float, float]
) -> Axes:
    """The axes to draw on (new when ``ax`` is None), cleared of frame and ticks, with
    equal data units on both axes so circles stay round."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    elif not isinstance(ax, Axes):
        raise TypeError(
            f"ax must be a matplotlib Axes or None, got {type(ax).__name__}"
        )
    assert isinstance(ax, Axes)
    ax.set_xlim(0, xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def _dims(data_dim: object, latent_dim: object) -> tuple[int, int]:
    """Check the sizes printed on the data and code blocks."""
    d_data = check_positive_int(data_dim, "data_dim")
    d_latent = check_positive_int(latent_dim, "latent_dim")
    if d_latent >= d_data:
        raise ValueError(
            f"latent_dim must be smaller than data_dim (a bottleneck), got "
            f"latent_dim={d_latent} and data_dim={d_data}"
        )
    return d_data, d_latent


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    color: str = _DATA,
    fontsize: int = FONTSIZE,
    gid: str | None = None,
    caption: str | None = None,
) -> None:
    """A rounded box with lower-left corner (x, y), size (w, h) and centred text, and
    an optional small caption above it."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.8",
            facecolor=color,
            edgecolor=_EDGE,
            linewidth=1.2,
            gid=gid,
        )
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)
    if caption is not None:
        ax.text(x + w / 2, y + h + 1.8, caption, ha="center", fontsize=SMALL)


def _trapezoid(
    ax: Axes, x: float, w: float, y_mid: float, h_left: float, h_right: float, text: str
) -> None:
    """A network drawn as a trapezoid from height ``h_left`` to ``h_right``."""
    points = [
        (x, y_mid - h_left / 2),
        (x + w, y_mid - h_right / 2),
        (x + w, y_mid + h_right / 2),
        (x, y_mid + h_left / 2),
    ]
    ax.add_patch(
        Polygon(points, closed=True, facecolor=_NET, edgecolor=_EDGE, linewidth=1.2)
    )
    ax.text(x + w / 2, y_mid, text, ha="center", va="center", fontsize=FONTSIZE)


def _circle(ax: Axes, x: float, y: float, r: float, text: str) -> None:
    """A random (stochastic) node: a circle with its text."""
    ax.add_patch(
        Circle(
            (x, y),
            r,
            facecolor=_RANDOM,
            edgecolor=_EDGE,
            linewidth=1.2,
            gid="stochastic",
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=FONTSIZE)


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    color: str = _EDGE,
    dashed: bool = False,
    gid: str | None = None,
    connectionstyle: str = "arc3",
) -> None:
    """An arrow from ``start`` to ``end`` (data coordinates)."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            color=color,
            linewidth=1.6,
            linestyle=(0, (4, 3)) if dashed else "-",
            connectionstyle=connectionstyle,
            gid=gid,
            shrinkA=0,
            shrinkB=0,
        )
    )


def autoencoder_diagram(
    data_dim: int = 784, latent_dim: int = 2, ax: Axes | None = None
) -> Axes:
    """Draw an autoencoder: the image x (``data_dim`` pixels) enters the encoder
    enc_phi, which narrows it to the code z (``latent_dim`` entries); the decoder
    dec_theta widens z back into the reconstruction x_hat, and the training loss
    MSE(phi, theta) compares x with x_hat.

    Returns the axes drawn on (a new (8, 2.6)-inch figure when ``ax`` is None).
    Raises ValueError unless both sizes are positive ints with latent_dim < data_dim,
    and TypeError when ``ax`` is not an Axes.
    """
    d_data, d_latent = _dims(data_dim, latent_dim)
    ax = _axes(ax, (8, 2.6), 100, (-9, 27))
    mid, tall, short = 12.0, 20.0, 6.0
    _box(
        ax,
        3,
        mid - tall / 2,
        8,
        tall,
        r"$\mathbf{x}$",
        caption=f"image, $D = {d_data}$",
    )
    _arrow(ax, (11.5, mid), (15, mid))
    _trapezoid(ax, 15, 21, mid, tall, short, "encoder\n" r"$\mathrm{enc}_\phi$")
    _arrow(ax, (36, mid), (40, mid))
    _box(
        ax,
        40,
        mid - short / 2,
        9,
        short,
        r"$\mathbf{z}$",
        caption=f"code, $d = {d_latent}$",
    )
    _arrow(ax, (49.5, mid), (53, mid))
    _trapezoid(ax, 53, 21, mid, short, tall, "decoder\n" r"$\mathrm{dec}_\theta$")
    _arrow(ax, (74, mid), (78, mid))
    _box(
        ax,
        78,
        mid - tall / 2,
        8,
        tall,
        r"$\hat{\mathbf{x}}$",
        caption=f"reconstruction, $D = {d_data}$",
    )
    # The loss compares the input with its reconstruction: a bracket under both.
    bottom, line = mid - tall / 2 - 0.3, -4.5
    ax.plot(
        [7, 7, 82, 82],
        [bottom, line, line, bottom],
        color=_LOSS,
        linewidth=1.4,
        linestyle="--",
    )
    ax.text(
        44.5,
        line - 1.2,
        r"loss $\mathrm{MSE}(\phi, \theta)$: mean squared error between "
        r"$\mathbf{x}$ and $\hat{\mathbf{x}}$",
        ha="center",
        va="top",
        fontsize=FONTSIZE,
        color=_LOSS,
    )
    return ax


def vae_diagram(
    data_dim: int = 784, latent_dim: int = 2, ax: Axes | None = None
) -> Axes:
    """Draw a variational autoencoder: the encoder maps x to the mean mu and
    log-variance log s^2 of q_phi(z | x); the code is drawn as z = mu + s * eps with
    eps ~ N(0, I) entering from the side (a random node); the decoder maps z to the
    parameters of p_theta(x | z). The two terms of the ELBO are marked where they
    attach: the reconstruction term log p_theta(x | z) at the decoder's output and
    KL(q_phi(z | x) || p(z)) at (mu, log s^2).

    Returns the axes drawn on (a new (8, 2.6)-inch figure when ``ax`` is None).
    Raises ValueError unless both sizes are positive ints with latent_dim < data_dim,
    and TypeError when ``ax`` is not an Axes.
    """
    d_data, d_latent = _dims(data_dim, latent_dim)
    ax = _axes(ax, (8, 2.9), 100, (-10, 32))
    mid, tall, short = 12.0, 20.0, 6.0
    _box(ax, 0.5, mid - tall / 2, 6, tall, r"$\mathbf{x}$", caption=f"$D = {d_data}$")
    _arrow(ax, (7, mid), (9.5, mid))
    _trapezoid(
        ax, 9.5, 13, mid, tall, 2 * short + 2, "encoder\n" r"$\mathrm{enc}_\phi$"
    )
    # Two heads: the mean and the log-variance, d entries each.
    heads = 25.5
    _box(ax, heads, mid + 1, 8.5, 5, r"$\boldsymbol{\mu}$", _DATA)
    _box(ax, heads, mid - 6, 8.5, 5, r"$\log \mathbf{s}^2$", _DATA, SMALL)
    ax.text(
        heads + 4.25, mid + 7.6, f"$d = {d_latent}$ each", ha="center", fontsize=SMALL
    )
    _arrow(ax, (22.5, mid + 3.5), (heads, mid + 3.5))
    _arrow(ax, (22.5, mid - 3.5), (heads, mid - 3.5))
    node, width = 37.5, 20.5
    _arrow(ax, (heads + 8.8, mid + 3.5), (node, mid + 1))
    _arrow(ax, (heads + 8.8, mid - 3.5), (node, mid - 1))
    _box(
        ax,
        node,
        mid - 3.5,
        width,
        7,
        _Z_REPARAM,
        _NODE,
    )
    # The noise enters the sampling node from the side, off the encoder's path.
    centre = node + width / 2
    _circle(ax, centre, mid + 12.5, 3.2, r"$\boldsymbol{\varepsilon}$")
    ax.text(
        centre + 4,
        mid + 12.5,
        r"$\boldsymbol{\varepsilon} \sim \mathcal{N}(\mathbf{0}, I)$",
        ha="left",
        va="center",
        fontsize=SMALL,
    )
    _arrow(ax, (centre, mid + 9.3), (centre, mid + 3.6))
    _arrow(ax, (node + width + 0.3, mid), (61, mid))
    _trapezoid(ax, 61, 12, mid, short, tall, "decoder\n" r"$\mathrm{dec}_\theta$")
    _arrow(ax, (73, mid), (76, mid))
    _box(
        ax,
        76,
        mid - tall / 2,
        23,
        tall,
        "parameters of\n" r"$p_\theta(\mathbf{x} \mid \mathbf{z})$",
        _DATA,
    )
    # The two terms of the ELBO, attached where they are computed.
    kl_x = heads + 4.25
    _arrow(ax, (kl_x, mid - 6.3), (kl_x, mid - 13.5), color=_LOSS, dashed=True)
    ax.text(
        2,
        mid - 14,
        r"KL term $\mathrm{KL}(q_\phi(\mathbf{z} \mid \mathbf{x})"
        r" \,\Vert\, p(\mathbf{z}))$",
        ha="left",
        va="top",
        fontsize=FONTSIZE,
        color=_LOSS,
    )
    _arrow(
        ax, (87.5, mid - tall / 2 - 0.3), (87.5, mid - 13.5), color=_LOSS, dashed=True
    )
    ax.text(
        99,
        mid - 14,
        r"reconstruction term $\log p_\theta(\mathbf{x} \mid \mathbf{z})$",
        ha="right",
        va="top",
        fontsize=FONTSIZE,
        color=_LOSS,
    )
    return ax


def computational_graph(reparameterized: bool, ax: Axes | None = None) -> Axes:
    """Draw the computational graph from psi = (mu, log s^2) to f(z).

    Without reparameterisation (``reparameterized=False``) z is drawn by a random node,
    sample z ~ q_psi, and no gradient path leads from f(z) back to psi. With it
    (``reparameterized=True``) the noise eps ~ N(0, I) is a random node off the path,
    z = mu + s * eps is a deterministic node fed by psi and eps, and the backward
    gradient path from f(z) to psi is drawn as dashed red arrows.

    Returns the axes drawn on (a new (8, 2.6)-inch figure when ``ax`` is None).
    Raises TypeError when ``reparameterized`` is not a bool or ``ax`` is not an Axes.
    """
    if not isinstance(reparameterized, bool):
        raise TypeError(
            f"reparameterized must be a bool, got {type(reparameterized).__name__} "
            f"{reparameterized!r}"
        )
    ax = _axes(ax, (8, 2.6), 100, (-8, 28))
    mid = 10.0
    psi = r"$\boldsymbol{\psi} = (\boldsymbol{\mu}, \log \mathbf{s}^2)$"
    _box(ax, 1, mid - 4, 24, 8, psi, _DATA)
    _box(ax, 80, mid - 4, 16, 8, r"$f(\mathbf{z})$", _NODE)
    if not reparameterized:
        ax.text(1, 25, "sampling directly", ha="left", va="top", fontsize=FONTSIZE)
        _arrow(ax, (25.3, mid), (43, mid))
        _circle(ax, 50, mid, 7, "sample\n" r"$\mathbf{z} \sim q_{\boldsymbol{\psi}}$")
        _arrow(ax, (57, mid), (79.7, mid))
        ax.text(
            50,
            -1,
            r"random node: no gradient path from $f(\mathbf{z})$ back to "
            r"$\boldsymbol{\psi}$",
            ha="center",
            va="top",
            fontsize=FONTSIZE,
            color=_GRAD,
        )
    else:
        ax.text(1, 25, "reparameterised", ha="left", va="top", fontsize=FONTSIZE)
        _box(
            ax,
            37,
            mid - 4,
            26,
            8,
            _Z_REPARAM,
            _NODE,
        )
        _circle(ax, 50, mid + 11, 3.2, r"$\boldsymbol{\varepsilon}$")
        ax.text(
            54,
            mid + 11,
            r"$\boldsymbol{\varepsilon} \sim \mathcal{N}(\mathbf{0}, I)$",
            ha="left",
            va="center",
            fontsize=SMALL,
        )
        _arrow(ax, (50, mid + 7.8), (50, mid + 4.1))
        _arrow(ax, (25.3, mid + 1.5), (36.7, mid + 1.5))
        _arrow(ax, (63.3, mid + 1.5), (79.7, mid + 1.5))
        # The backward pass: the gradient flows from f through z to psi.
        _arrow(
            ax,
            (79.7, mid - 2.5),
            (63.3, mid - 2.5),
            color=_GRAD,
            dashed=True,
            gid="gradient",
        )
        _arrow(
            ax,
            (36.7, mid - 2.5),
            (25.3, mid - 2.5),
            color=_GRAD,
            dashed=True,
            gid="gradient",
        )
        ax.text(
            50,
            -1,
            r"backward: $\partial f / \partial \boldsymbol{\psi} = "
            r"(\partial f / \partial \mathbf{z})\,"
            r"(\partial \mathbf{z} / \partial \boldsymbol{\psi})$",
            ha="center",
            va="top",
            fontsize=FONTSIZE,
            color=_GRAD,
        )
    return ax
