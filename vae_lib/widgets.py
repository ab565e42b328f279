"""Interactive explorers built with ipywidgets (Chapter 4 onwards).

Each widget also renders in the static HTML book: ``make execute`` stores the widget
state, so the page shows the controls and the last picture, and a kernel makes them
move.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from .models import VAE
from .validate import check_images, check_positive_int, check_tensor


def to_png(image: torch.Tensor, scale: int = 6) -> bytes:
    """One image (C, H, W) in [0, 1] as PNG bytes, enlarged ``scale`` times; grey images
    are drawn black on white like the book's figures."""
    image = (
        check_images(check_tensor(image, "image")[None], "image")[0]
        .detach()
        .float()
        .cpu()
    )
    check_positive_int(scale, "scale")
    pixels = image.numpy()
    if pixels.shape[0] == 1:
        pixels = 1.0 - pixels
    array = (np.clip(pixels, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)
    picture = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)
    picture = picture.resize(
        (picture.width * scale, picture.height * scale), Image.Resampling.NEAREST
    )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def latent_explorer(
    model: VAE,
    z: torch.Tensor | None = None,
    dims: Sequence[int] | None = None,
    limit: float = 3.0,
    scale: int = 6,
):
    """Sliders that move latent dimensions ``dims`` of code ``z`` (latent_dim,) and
    show E[x | z].

    Returns an ``ipywidgets.HBox`` (sliders, picture). ``z`` defaults to the prior's
    mean 0 and ``dims`` to every dimension; each slider spans [-limit, limit], about 3
    prior standard deviations.
    """
    import ipywidgets as widgets

    latent_dim = model.config.latent_dim
    device = next(model.parameters()).device
    z = (
        torch.zeros(latent_dim)
        if z is None
        else check_tensor(z, "z").detach().float().cpu().clone()
    )
    if z.shape != (latent_dim,):
        raise ValueError(
            f"z must be one code of shape ({latent_dim},), got {tuple(z.shape)}"
        )
    dims = list(range(latent_dim)) if dims is None else list(dims)
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < latent_dim
        for d in dims
    ):
        raise ValueError(f"dims must be indices in [0, {latent_dim}), got {dims!r}")
    picture = widgets.Image(format="png")
    sliders = [
        widgets.FloatSlider(
            value=float(z[d]),
            min=-limit,
            max=limit,
            step=0.05,
            description=f"z{d + 1}",
            continuous_update=True,
            readout_format=".2f",
        )
        for d in dims
    ]

    def show(_change=None) -> None:
        for d, slider in zip(dims, sliders):
            z[d] = slider.value
        with torch.no_grad():
            picture.value = to_png(model.decode(z[None].to(device))[0], scale)

    for slider in sliders:
        slider.observe(show, names="value")
    show()
    return widgets.HBox([widgets.VBox(sliders), picture])


def inpainting_explorer(
    image: torch.Tensor,
    methods: Mapping[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
    size: int = 14,
    scale: int = 5,
):
    """Sliders that move and resize a square hole in one image (C, H, W) and show each
    method's completion: ``methods`` maps a name to ``fn(y, mask) -> completion``, with
    y (1, C, H, W) the damaged image and mask (1, 1, H, W) True where missing. Returns
    an ``ipywidgets.VBox``."""
    import ipywidgets as widgets

    from .corrupt import hide, square_mask

    image = check_images(check_tensor(image, "image")[None], "image")
    if not methods:
        raise ValueError("methods must name at least one inpainting method")
    height, width = image.shape[2:]
    size_slider = widgets.IntSlider(
        value=size, min=2, max=min(height, width) - 2, description="hole size"
    )
    top_slider = widgets.IntSlider(
        value=(height - size) // 2, min=0, max=height - 2, description="top"
    )
    left_slider = widgets.IntSlider(
        value=(width - size) // 2, min=0, max=width - 2, description="left"
    )
    names = ["damaged", *methods]
    pictures = {name: widgets.Image(format="png") for name in names}
    panels = [widgets.VBox([widgets.Label(name), pictures[name]]) for name in names]

    def show(_change=None) -> None:
        hole = size_slider.value
        top, left = (
            min(top_slider.value, height - hole),
            min(left_slider.value, width - hole),
        )
        mask = square_mask(image, hole, top, left)
        damaged = hide(image, mask)
        pictures["damaged"].value = to_png(damaged[0], scale)
        for name, method in methods.items():
            pictures[name].value = to_png(method(damaged, mask)[0], scale)

    for slider in (size_slider, top_slider, left_slider):
        slider.observe(show, names="value")
    show()
    return widgets.VBox(
        [widgets.HBox([size_slider, top_slider, left_slider]), widgets.HBox(panels)]
    )
