"""vae_lib.widgets: PNG rendering, the latent explorer and the inpainting explorer
(ipywidgets, no kernel needed)."""

from __future__ import annotations

import io
import re

import ipywidgets
import numpy as np
import pytest
import torch
from PIL import Image

from vae_lib.corrupt import keep_observed
from vae_lib.widgets import inpainting_explorer, latent_explorer, to_png


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


# --- latent_explorer ------------------------------------------------------------------


@pytest.fixture
def model(make_vae):
    return make_vae().eval()


def expected_png(model, z, scale=6) -> bytes:
    with torch.no_grad():
        return to_png(
            model.decode(torch.as_tensor(z, dtype=torch.float32)[None])[0], scale
        )


def parts(box):
    sliders_box, picture = box.children
    return list(sliders_box.children), picture


def test_latent_explorer_is_a_row_of_sliders_and_a_picture_of_the_prior_mean(model):
    box = latent_explorer(model)
    assert isinstance(box, ipywidgets.HBox)
    sliders, picture = parts(box)
    assert isinstance(picture, ipywidgets.Image) and picture.format == "png"
    assert [s.description for s in sliders] == ["z1", "z2", "z3"]
    assert all(
        isinstance(s, ipywidgets.FloatSlider) and s.value == 0.0 for s in sliders
    )
    assert all((s.min, s.max) == (-3.0, 3.0) for s in sliders)
    assert picture.value == expected_png(model, [0.0, 0.0, 0.0])


def test_moving_a_slider_redraws_the_picture_for_the_new_code(model):
    sliders, picture = parts(latent_explorer(model))
    before = picture.value
    sliders[1].value = 2.5
    assert picture.value != before
    assert picture.value == expected_png(model, [0.0, 2.5, 0.0])
    sliders[0].value = -1.0
    assert picture.value == expected_png(model, [-1.0, 2.5, 0.0])


def test_latent_explorer_starts_from_z_and_moves_only_the_chosen_dims(model):
    z = torch.tensor([0.5, -1.0, 2.0])
    box = latent_explorer(model, z, dims=[2, 0], limit=2.0, scale=2)
    sliders, picture = parts(box)
    assert [(s.description, s.value, s.min, s.max) for s in sliders] == [
        ("z3", 2.0, -2.0, 2.0),
        ("z1", 0.5, -2.0, 2.0),
    ]
    assert picture.value == expected_png(model, z, scale=2)
    sliders[0].value = -1.5
    assert picture.value == expected_png(model, [0.5, -1.0, -1.5], scale=2)
    assert z.tolist() == [0.5, -1.0, 2.0]  # the caller's code is left alone


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


def test_inpainting_explorer_shows_the_damaged_image_and_each_method(gen):
    calls = []

    def method(y, mask):
        calls.append((y.shape, mask.shape, int(mask.sum())))
        return keep_observed(torch.ones_like(y), y, mask)

    widget = inpainting_explorer(
        torch.rand(1, 8, 8, generator=gen(1)), {"ones": method}, size=4
    )
    sliders, panels = widget.children
    assert [s.description for s in sliders.children] == ["hole size", "top", "left"]
    assert len(panels.children) == 2 and all(
        p.children[1].value for p in panels.children
    )
    assert calls == [((1, 1, 8, 8), (1, 1, 8, 8), 16)]
    sliders.children[0].value = 6
    assert calls[-1][2] == 36
    with pytest.raises(ValueError, match="at least one inpainting method"):
        inpainting_explorer(torch.rand(1, 8, 8), {})
