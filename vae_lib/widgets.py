"""Interactive explorers: pictures that follow a few sliders (Chapter 4 onwards).

An :class:`Explorer` has two faces. In Jupyter it is an ordinary ipywidgets box: move a
slider and the kernel redraws the picture. A static page has no kernel, so the explorer
also renders itself as HTML (``text/html`` beside the widget in the same output): the
frames for every setting of the sliders are computed when the notebook runs, embedded as
PNGs, and a few lines of script swap them as the reader moves an ``<input type=range>``.
The HTML book shows that face (``nb_mime_priority_overrides`` in ``_config.yml``), so
the explorers work offline, without a kernel or a widget manager. The sliders therefore
take a finite list of values, the same in both faces.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from .models import VAE
from .validate import (
    check_callable,
    check_float_tensor,
    check_images,
    check_instance,
    check_mapping,
    check_positive_float,
    check_positive_int,
    check_tensor,
)


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


Settings = Sequence[tuple[float, ...]]
# settings (F of them, one value per control) -> {panel: images (F, C, H, W) in [0, 1]}
Render = Callable[[Settings], Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class Control:
    """One slider: its label, the values it can take (in order) and where it starts."""

    label: str
    values: tuple[float, ...]
    initial: float

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"label must be a non-empty str, got {self.label!r}")
        values = tuple(self.values)
        if not values or any(
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.number))
            or not math.isfinite(float(v))
            for v in values
        ):
            raise ValueError(
                f"values of control {self.label!r} must be a non-empty sequence of "
                f"finite numbers, got {self.values!r}"
            )
        object.__setattr__(self, "values", values)
        if self.initial not in values:
            raise ValueError(
                f"initial of control {self.label!r} must be one of its values "
                f"{list(values)}, got {self.initial!r}"
            )

    def readout(self, value: float) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)


class Explorer:
    """Pictures that follow sliders, in Jupyter and in the static book.

    ``controls`` are the sliders; ``render(settings)`` draws, for each of F settings
    (one value per control), every panel's picture: ``{panel: images (F, C, H, W)}`` in
    [0, 1]. Pictures are shown ``scale`` times enlarged. The static face embeds every
    combination of the controls' values, at most ``max_frames`` of them.
    """

    def __init__(
        self,
        controls: Sequence[Control],
        render: Render,
        *,
        scale: int = 5,
        max_frames: int = 1024,
    ) -> None:
        self.controls = list(controls)
        if not self.controls or not all(isinstance(c, Control) for c in self.controls):
            raise ValueError(
                f"controls must be a non-empty sequence of Control, got {controls!r}"
            )
        if not callable(render):
            raise TypeError(f"render must be callable, got {type(render).__name__}")
        check_positive_int(scale, "scale")
        check_positive_int(max_frames, "max_frames")
        count = math.prod(len(c.values) for c in self.controls)
        if count > max_frames:
            raise ValueError(
                f"the controls' values make {count} frames, more than max_frames="
                f"{max_frames}; give the controls fewer values"
            )
        self.render, self.scale, self._widget = render, scale, None
        self._frames: dict[tuple[int, ...], dict[str, torch.Tensor]] = {}
        self.panels: list[str] = list(self._draw([self.initial_index])[0])

    @property
    def initial_index(self) -> tuple[int, ...]:
        return tuple(c.values.index(c.initial) for c in self.controls)

    def _draw(
        self, indices: Sequence[tuple[int, ...]]
    ) -> list[dict[str, torch.Tensor]]:
        """Each setting's pictures {panel: (C, H, W)}, computed once."""
        missing = [i for i in dict.fromkeys(indices) if i not in self._frames]
        if missing:
            settings = [
                tuple(c.values[k] for c, k in zip(self.controls, index))
                for index in missing
            ]
            drawn = self.render(settings)
            if not isinstance(drawn, Mapping) or not drawn:
                raise ValueError(
                    "render must return a non-empty mapping {panel: images}, got "
                    f"{type(drawn).__name__}"
                )
            for name, images in drawn.items():
                images = check_images(
                    check_tensor(images, f"render()[{name!r}]"), f"render()[{name!r}]"
                )
                if images.shape[0] != len(missing):
                    raise ValueError(
                        f"render()[{name!r}] must hold one image per setting "
                        f"({len(missing)}), got {images.shape[0]}"
                    )
            for k, index in enumerate(missing):
                self._frames[index] = {
                    name: images[k].detach().float().cpu()
                    for name, images in drawn.items()
                }
        return [self._frames[i] for i in indices]

    # -- Jupyter: an ipywidgets box -------------------------------------------------

    @property
    def widget(self) -> Any:
        """The ipywidgets face: a slider per control above a labelled picture per
        panel (built once)."""
        if self._widget is None:
            import ipywidgets as widgets

            sliders = [
                widgets.SelectionSlider(
                    options=[(c.readout(v), v) for v in c.values],
                    value=c.initial,
                    description=c.label,
                    continuous_update=True,
                )
                for c in self.controls
            ]
            pictures = {name: widgets.Image(format="png") for name in self.panels}

            def show(_change: object = None) -> None:
                index = tuple(
                    c.values.index(s.value) for c, s in zip(self.controls, sliders)
                )
                (frame,) = self._draw([index])
                for name, picture in pictures.items():
                    picture.value = to_png(frame[name], self.scale)

            for slider in sliders:
                slider.observe(show, names="value")
            show()
            self._widget = widgets.VBox(
                [
                    widgets.HBox(sliders),
                    widgets.HBox(
                        [
                            widgets.VBox([widgets.Label(name), picture])
                            for name, picture in pictures.items()
                        ]
                    ),
                ]
            )
        return self._widget

    # -- the static book: frames swapped by a few lines of script ---------------------

    def to_html(self) -> str:
        """The static face: every frame as a PNG, sliders that swap them."""
        indices = list(
            itertools.product(*(range(len(c.values)) for c in self.controls))
        )
        frames = {
            ",".join(map(str, index)): [
                base64.b64encode(to_png(frame[name], 1)).decode("ascii")
                for name in self.panels
            ]
            for index, frame in zip(indices, self._draw(indices))
        }
        data = {
            "labels": [c.label for c in self.controls],
            "readouts": [[c.readout(v) for v in c.values] for c in self.controls],
            "panels": self.panels,
            "frames": frames,
        }
        payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
        ident = "vae-explorer-" + hashlib.sha1(payload.encode()).hexdigest()[:12]
        initial = self.initial_index
        first = frames[",".join(map(str, initial))]
        sliders = "".join(
            f'<label style="margin-right:1.5em">{html.escape(c.label)} '
            f'<input type="range" min="0" max="{len(c.values) - 1}" step="1" '
            f'value="{k}" aria-label="{html.escape(c.label)}"> '
            f"<output>{html.escape(c.readout(c.values[k]))}</output></label>"
            for c, k in zip(self.controls, initial)
        )
        setting = ", ".join(
            f"{c.label} = {c.readout(c.values[k])}"
            for c, k in zip(self.controls, initial)
        )
        height, width = self._frames[initial][self.panels[0]].shape[1:]
        size = f"width:{width * self.scale}px;height:{height * self.scale}px"
        figures = "".join(
            f'<figure style="display:inline-block;margin:0 0.8em 0 0;'
            f'text-align:center"><img src="data:image/png;base64,{png}" '
            f'alt="{html.escape(f"{name} ({setting})")}" '
            f'style="{size};image-rendering:pixelated">'
            f"<figcaption>{html.escape(name)}</figcaption></figure>"
            for name, png in zip(self.panels, first)
        )
        script = (
            "(function(){var root=document.getElementById('" + ident + "');"
            "var data=JSON.parse(root.querySelector('script.vae-explorer-data')"
            ".textContent);var sliders=root.querySelectorAll('input[type=range]');"
            "var readouts=root.querySelectorAll('output');"
            "var pictures=root.querySelectorAll('img');"
            "function show(){var key=[],setting=[];"
            "for(var i=0;i<sliders.length;i++){key.push(sliders[i].value);"
            "var readout=data.readouts[i][sliders[i].value];"
            "readouts[i].textContent=readout;"
            "setting.push(data.labels[i]+' = '+readout);}"
            "var frame=data.frames[key.join(',')];"
            "for(var j=0;j<pictures.length;j++){"
            "pictures[j].src='data:image/png;base64,'+frame[j];"
            "pictures[j].alt=data.panels[j]+' ('+setting.join(', ')+')';}}"
            "for(var i=0;i<sliders.length;i++){"
            "sliders[i].addEventListener('input',show);}})();"
        )
        return (
            f'<div class="vae-explorer" id="{ident}">'
            f'<div style="margin-bottom:0.5em">{sliders}</div><div>{figures}</div>'
            f'<script type="application/json" class="vae-explorer-data">{payload}'
            f"</script><script>{script}</script></div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude))
        bundle["text/html"] = self.to_html()
        return bundle


def _grid(limit: float, count: int) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in np.linspace(-limit, limit, count))


def latent_explorer(
    model: VAE,
    z: torch.Tensor | None = None,
    dims: Sequence[int] | None = None,
    limit: float = 3.0,
    scale: int = 6,
    steps: int = 21,
) -> Explorer:
    """Sliders that move latent dimensions ``dims`` of code ``z`` (latent_dim,) and
    show E[x | z].

    ``z`` defaults to the prior's mean 0 and ``dims`` to every dimension; each slider
    takes ``steps`` values evenly spaced over [-limit, limit], about 3 prior standard
    deviations, and starts at z's value rounded to the nearest of them.
    """
    check_instance(model, "model", VAE)
    latent_dim = model.config.latent_dim
    device = next(model.parameters()).device
    z = (
        torch.zeros(latent_dim)
        if z is None
        else check_float_tensor(z, "z").detach().float().cpu().clone()
    )
    if z.shape != (latent_dim,):
        raise ValueError(
            f"z must be one code of shape ({latent_dim},), got {tuple(z.shape)}"
        )
    if dims is not None and (isinstance(dims, str) or not isinstance(dims, Sequence)):
        raise TypeError(f"dims must be a sequence of indices, got {dims!r}")
    dims = list(range(latent_dim)) if dims is None else list(dims)
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < latent_dim
        for d in dims
    ):
        raise ValueError(f"dims must be indices in [0, {latent_dim}), got {dims!r}")
    check_positive_int(steps, "steps")
    values = _grid(check_positive_float(limit, "limit"), steps)
    nearest = [
        values[int(np.abs(np.array(values) - float(z[d])).argmin())] for d in dims
    ]
    controls = [Control(f"z{d + 1}", values, v) for d, v in zip(dims, nearest)]

    def render(settings: Settings) -> dict[str, torch.Tensor]:
        codes = z.repeat(len(settings), 1)  # (F, latent_dim)
        codes[:, dims] = torch.tensor(settings, dtype=codes.dtype)
        with torch.no_grad():
            return {"decoded": model.decode(codes.to(device))}

    return Explorer(controls, render, scale=scale, max_frames=max(1024, steps**2))


def inpainting_explorer(
    image: torch.Tensor,
    methods: Mapping[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
    sizes: Sequence[int] = (6, 10, 14, 18),
    positions: int = 5,
    scale: int = 5,
) -> Explorer:
    """Sliders that resize and move a square hole in one image (C, H, W) and show
    each method's completion: ``methods`` maps a name to ``fn(y, mask) -> completion``,
    with y (F, C, H, W) the damaged images and mask (F, 1, H, W) True where missing;
    every setting is completed in one call per method. The hole's side takes the
    values ``sizes``; its top and left edges each take ``positions`` values from the
    image's edge to the other, the hole kept inside the image."""
    from .corrupt import hide, square_mask

    image = check_images(check_tensor(image, "image")[None], "image")
    if isinstance(methods, Mapping) and not methods:
        raise ValueError("methods must name at least one inpainting method")
    check_mapping(methods, "methods", "names to inpainting methods")
    for name, method in methods.items():
        check_callable(method, f"methods[{name!r}]")
    height, width = image.shape[2:]
    if isinstance(sizes, str) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of hole sides, got {sizes!r}")
    sizes = tuple(sizes)
    if not sizes or any(
        isinstance(s, bool) or not isinstance(s, int) or not 1 <= s < min(height, width)
        for s in sizes
    ):
        raise ValueError(
            f"sizes must be hole sides in [1, {min(height, width)}), got {sizes!r}"
        )
    check_positive_int(positions, "positions")
    places = tuple(round(k / max(positions - 1, 1), 2) for k in range(positions))
    middle = places[len(places) // 2]
    controls = [
        Control("hole size", sizes, sizes[len(sizes) // 2]),
        Control("top", places, middle),
        Control("left", places, middle),
    ]

    def render(settings: Settings) -> dict[str, torch.Tensor]:
        masks = torch.cat(
            [
                square_mask(
                    image,
                    int(side),
                    round(top * (height - side)),
                    round(left * (width - side)),
                )
                for side, top, left in settings
            ]
        )  # (F, 1, H, W)
        batch = image.expand(len(settings), -1, -1, -1)
        damaged = hide(batch, masks)
        shown = {"damaged": hide(batch, masks, fill=0.5)}
        for name, method in methods.items():
            shown[name] = method(damaged, masks)
        return shown

    return Explorer(controls, render, scale=scale)
