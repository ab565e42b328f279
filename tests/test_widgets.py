"""vae_lib.widgets: PNG rendering, the Explorer (ipywidgets and its static HTML face),
the latent explorer and the inpainting explorer (no kernel needed)."""

from __future__ import annotations

import base64
import io
import json
import re

import ipywidgets
import numpy as np
import pytest
import torch
from PIL import Image

from vae_lib.corrupt import keep_observed
from vae_lib.widgets import (
    Control,
    Explorer,
    inpainting_explorer,
    latent_explorer,
    to_png,
)


def decode_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


# --- to_png ---------------------------------------------------------------------------


def test_to_png_enlarges_each_pixel_to_a_block(gen):
    image = torch.rand(3, 4, 5, generator=gen())
    picture = decode_png(to_png(image, scale=3))
    # (width, height)
    assert (
        picture.format == "PNG" and picture.mode == "RGB" and picture.size == (15, 12)
    )
    pixels = np.asarray(picture)
    expected = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(pixels, np.kron(expected, np.ones((3, 3, 1), dtype=np.uint8)))


def test_to_png_draws_grey_images_black_on_white():
    image = torch.tensor([[[0.0, 1.0], [0.25, 0.5]]])
    picture = decode_png(to_png(image, scale=2))
    assert picture.mode == "L" and picture.size == (4, 4)
    # 255 * (1 - value), rounded
    expected = np.array([[255, 0], [191, 128]], dtype=np.uint8)
    assert np.array_equal(
        np.asarray(picture), expected.repeat(2, axis=0).repeat(2, axis=1)
    )


def test_to_png_default_scale_is_six():
    assert decode_png(to_png(torch.zeros(1, 5, 7))).size == (42, 30)


@pytest.mark.parametrize(
    ("image", "scale", "error", "message"),
    [
        (
            torch.zeros(4, 4),
            2,
            ValueError,
            r"image must be a batch of images shaped \(B, C, H, W\)",
        ),
        (
            torch.full((1, 4, 4), 2.0),
            2,
            ValueError,
            r"image must hold pixel values in \[0, 1\]",
        ),
        (torch.zeros(1, 4, 4), 0, ValueError, "scale must be a positive int, got 0"),
        (
            torch.zeros(1, 4, 4),
            1.5,
            ValueError,
            "scale must be a positive int, got 1.5",
        ),
        (
            np.zeros((1, 4, 4)),
            2,
            TypeError,
            "image must be a torch.Tensor, got ndarray",
        ),
    ],
    ids=["no-channels", "out-of-range", "zero-scale", "float-scale", "numpy"],
)
def test_to_png_rejects_bad_inputs(image, scale, error, message):
    with pytest.raises(error, match=message):
        to_png(image, scale)


# --- Explorer -------------------------------------------------------------------------


def static_data(explorer: Explorer) -> dict:
    page = explorer.to_html()
    match = re.search(
        r'<script type="application/json" class="vae-explorer-data">(.*?)</script>',
        page,
        re.DOTALL,
    )
    assert match, "the static face carries its frames as JSON"
    return json.loads(match.group(1))


def brightness_explorer(calls=None, **kwargs) -> Explorer:
    def render(settings):
        if calls is not None:
            calls.append(list(settings))
        level = torch.tensor([s[0] * s[1] for s in settings]).view(-1, 1, 1, 1)
        return {
            "flat": level.expand(-1, 1, 2, 3),
            "inverse": 1 - level.expand(-1, 1, 2, 3),
        }

    controls = [
        Control("a", (0.0, 0.5, 1.0), 1.0),
        Control("b", (0.25, 1.0), 1.0),
    ]
    return Explorer(controls, render, **kwargs)


def test_the_static_face_holds_every_frame_and_its_readouts():
    explorer = brightness_explorer(scale=4)
    data = static_data(explorer)
    assert sorted(data["frames"]) == ["0,0", "0,1", "1,0", "1,1", "2,0", "2,1"]
    assert data["readouts"] == [["0.00", "0.50", "1.00"], ["0.25", "1.00"]]
    for key, (flat, inverse) in data["frames"].items():
        i, j = map(int, key.split(","))
        level = (0.0, 0.5, 1.0)[i] * (0.25, 1.0)[j]
        pixels = np.asarray(decode_png(base64.b64decode(flat)))
        assert pixels.shape == (2, 3)  # unscaled: the page enlarges it
        assert np.all(pixels == round(255 * (1 - level)))  # black on white
        assert np.all(
            np.asarray(decode_png(base64.b64decode(inverse))) == round(255 * level)
        )
    page = explorer.to_html()
    assert page.count('type="range"') == 2 and page.count("<img") == 2
    assert 'value="2"' in page and 'value="1"' in page  # the initial setting
    assert "width:12px;height:8px" in page  # 4 times enlarged
    assert 'alt="flat (a = 1.00, b = 1.00)"' in page
    assert "<figcaption>inverse</figcaption>" in page


def test_frames_are_computed_once_in_batches():
    calls = []
    explorer = brightness_explorer(calls)
    assert calls == [[(1.0, 1.0)]]  # the initial frame, to learn the panels
    explorer.to_html()
    explorer.to_html()
    assert len(calls) == 2 and len(calls[1]) == 5


def test_the_widget_face_redraws_from_the_same_frames():
    explorer = brightness_explorer(scale=2)
    box = explorer.widget
    assert explorer.widget is box
    sliders_row, panels_row = box.children
    sliders = sliders_row.children
    assert all(isinstance(s, ipywidgets.SelectionSlider) for s in sliders)
    picture = panels_row.children[0].children[1]
    assert picture.value == to_png(torch.full((1, 2, 3), 1.0), 2)
    sliders[0].value = 0.5
    sliders[1].value = 0.25
    assert picture.value == to_png(torch.full((1, 2, 3), 0.125), 2)


def test_the_output_offers_the_widget_and_the_static_face():
    bundle = brightness_explorer()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].startswith('<div class="vae-explorer"')


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Control("", (1.0,), 1.0), ValueError, "label must be a non-empty"),
        (lambda: Control("a", (), 1.0), ValueError, "values of control 'a' must be"),
        (
            lambda: Control("a", (1.0, float("nan")), 1.0),
            ValueError,
            "finite numbers",
        ),
        (lambda: Control("a", (1.0, 2.0), 3.0), ValueError, "initial of control 'a'"),
        (
            lambda: Explorer([], lambda s: {}),
            ValueError,
            "controls must be a non-empty sequence of Control",
        ),
        (
            lambda: Explorer([Control("a", (1.0,), 1.0)], "draw"),
            TypeError,
            "render must be callable, got str",
        ),
        (
            lambda: Explorer(
                [Control("a", tuple(range(40)), 0)] * 2, lambda s: {}, max_frames=1000
            ),
            ValueError,
            "make 1600 frames, more than max_frames=1000",
        ),
        (
            lambda: Explorer([Control("a", (1.0,), 1.0)], lambda s: {}),
            ValueError,
            "render must return a non-empty mapping",
        ),
        (
            lambda: Explorer(
                [Control("a", (1.0,), 1.0)], lambda s: {"p": torch.zeros(2, 1, 2, 2)}
            ),
            ValueError,
            r"render\(\)\['p'\] must hold one image per setting \(1\), got 2",
        ),
        (
            lambda: Explorer(
                [Control("a", (1.0,), 1.0)],
                lambda s: {"p": torch.full((1, 1, 2, 2), 2.0)},
            ),
            ValueError,
            r"pixel values in \[0, 1\]",
        ),
    ],
    ids=[
        "empty-label",
        "no-values",
        "nan-value",
        "initial-not-a-value",
        "no-controls",
        "render-not-callable",
        "too-many-frames",
        "empty-render",
        "wrong-frame-count",
        "out-of-range",
    ],
)
def test_explorer_rejects_bad_input(make, error, message):
    with pytest.raises(error, match=message):
        make()


# --- latent_explorer ------------------------------------------------------------------


@pytest.fixture
def model(make_vae):
    return make_vae().eval()


def decoded(model, z) -> torch.Tensor:
    with torch.no_grad():
        return model.decode(torch.as_tensor(z, dtype=torch.float32)[None])[0]


def test_latent_explorer_starts_at_the_prior_mean_on_a_grid_of_codes(model):
    explorer = latent_explorer(model, limit=2.0, steps=5)
    assert [c.label for c in explorer.controls] == ["z1", "z2", "z3"]
    assert all(c.values == (-2.0, -1.0, 0.0, 1.0, 2.0) for c in explorer.controls)
    assert all(c.initial == 0.0 for c in explorer.controls)
    sliders = explorer.widget.children[0].children
    picture = explorer.widget.children[1].children[0].children[1]
    assert picture.value == to_png(decoded(model, [0.0, 0.0, 0.0]), 6)
    sliders[1].value = 2.0
    assert picture.value == to_png(decoded(model, [0.0, 2.0, 0.0]), 6)


def test_latent_explorer_moves_only_the_chosen_dims_of_z(model):
    z = torch.tensor([0.6, -1.0, 2.0])
    explorer = latent_explorer(model, z, dims=[2, 0], limit=2.0, steps=5, scale=2)
    # each slider starts at the grid value nearest to z's
    assert [(c.label, c.initial) for c in explorer.controls] == [
        ("z3", 2.0),
        ("z1", 1.0),
    ]
    assert len(static_data(explorer)["frames"]) == 25
    explorer.widget.children[0].children[0].value = -1.0
    picture = explorer.widget.children[1].children[0].children[1]
    assert picture.value == to_png(decoded(model, [1.0, -1.0, -1.0]), 2)
    assert z.tolist() == [
        0.6000000238418579,
        -1.0,
        2.0,
    ]  # the caller's code is left alone


@pytest.mark.parametrize(
    ("z", "message"),
    [
        (torch.zeros(4), r"z must be one code of shape \(3,\), got \(4,\)"),
        (torch.zeros(1, 3), r"z must be one code of shape \(3,\), got \(1, 3\)"),
    ],
)
def test_latent_explorer_rejects_a_bad_code(model, z, message):
    with pytest.raises(ValueError, match=message):
        latent_explorer(model, z)


@pytest.mark.parametrize(
    "dims", [[], [3], [-1], [0, 1.0]], ids=["empty", "too-large", "negative", "float"]
)
def test_latent_explorer_rejects_bad_dims(model, dims):
    with pytest.raises(
        ValueError, match=re.escape(f"dims must be indices in [0, 3), got {dims!r}")
    ):
        latent_explorer(model, dims=dims)


# --- inpainting_explorer --------------------------------------------------------------


def test_inpainting_explorer_completes_every_setting_in_one_batch(gen):
    calls = []

    def method(y, mask):
        calls.append((tuple(y.shape), mask.flatten(1).sum(1).tolist()))
        return keep_observed(torch.ones_like(y), y, mask)

    image = torch.rand(1, 8, 8, generator=gen(1))
    explorer = inpainting_explorer(image, {"ones": method}, sizes=(2, 4), positions=3)
    assert explorer.panels == ["damaged", "ones"]
    assert [c.label for c in explorer.controls] == ["hole size", "top", "left"]
    assert calls == [((1, 1, 8, 8), [16])]  # the initial hole: 4 x 4, centred
    data = static_data(explorer)
    assert len(data["frames"]) == 2 * 3 * 3
    assert calls[1][0] == (17, 1, 8, 8)  # the other 17 settings in one call
    assert sorted(set(calls[1][1])) == [4, 16]
    completed = np.asarray(decode_png(base64.b64decode(data["frames"]["0,0,0"][1])))
    assert np.all(completed[:2, :2] == 0)  # the 2 x 2 hole at the top left, filled
    # with ones, drawn black


def test_inpainting_explorer_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one inpainting method"):
        inpainting_explorer(torch.rand(1, 8, 8), {})
    with pytest.raises(ValueError, match=r"sizes must be hole sides in \[1, 8\)"):
        inpainting_explorer(torch.rand(1, 8, 8), {"x": lambda y, m: y}, sizes=(8,))
