"""vae_lib.corrupt: the noise models against their definitions, seeded, and checked
statistically.

Statistical tolerances are about five standard errors of the estimate, so a correct
implementation fails them with negligible probability while a wrong rate or scale does
not pass.
"""

from __future__ import annotations

import math

import pytest
import torch

from vae_lib.corrupt import gaussian_noise, salt_and_pepper


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def x():
    # Uniform values: none is exactly 0 or 1, so every salt or pepper hit changes its
    # pixel.
    return torch.rand(3, 1, 8, 8, generator=gen(100))


# --- Gaussian noise -------------------------------------------------------------------


def test_gaussian_noise_is_x_plus_sigma_times_the_generators_normals_clipped(x):
    y = gaussian_noise(x, 0.3, gen(1))
    eps = torch.randn(x.shape, generator=gen(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    torch.testing.assert_close(y, (x + 0.3 * eps).clamp(0, 1))
    assert y.min() == 0 and y.max() == 1  # sigma 0.3 pushes some pixels past both ends


def test_gaussian_noise_follows_its_seed(x):
    first, again, other = (gaussian_noise(x, 0.1, gen(s)) for s in (5, 5, 6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_gaussian_noise_with_sigma_zero_returns_x(x):
    assert torch.equal(gaussian_noise(x, 0.0, gen()), x)
    assert torch.equal(gaussian_noise(x, 0, gen()), x)


def test_gaussian_noise_has_standard_deviation_sigma_away_from_the_edges():
    # 4096 pixels, 10 sigma from either edge: no clipping
    x = torch.full((1, 1, 64, 64), 0.5)
    sigma = 0.05
    d = (gaussian_noise(x, sigma, gen(2)) - x).flatten()
    assert abs(d.mean().item()) < 5 * sigma / 64
    assert d.std().item() == pytest.approx(sigma, rel=0.05)
    within_one_sigma = (d.abs() < sigma).float().mean().item()
    # 0.6827 for a Gaussian
    assert within_one_sigma == pytest.approx(math.erf(1 / math.sqrt(2)), abs=0.04)


def test_gaussian_noise_clips_a_black_image_at_zero():
    """y = max(sigma * eps, 0) on a black image: half the pixels stay 0, and
    E[y] = sigma / sqrt(2 pi)."""
    x = torch.zeros(1, 1, 64, 64)
    sigma = 0.2
    y = gaussian_noise(x, sigma, gen(3))
    assert y.min() == 0
    assert (y == 0).float().mean().item() == pytest.approx(0.5, abs=0.04)
    assert y.mean().item() == pytest.approx(sigma / math.sqrt(2 * math.pi), rel=0.05)


def test_gaussian_noise_keeps_a_float64_image_float64():
    x = torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64)
    y = gaussian_noise(x, 0.1, gen())
    assert y.dtype == torch.float64 and not torch.equal(y, x)


# --- salt and pepper ------------------------------------------------------------------


def test_salt_and_pepper_changes_a_fraction_p_of_the_pixels():
    x = torch.rand(1, 1, 64, 64, generator=gen(4))
    p = 0.2
    y = salt_and_pepper(x, p, gen(5))
    changed = y != x
    # standard error 0.006
    assert changed.float().mean().item() == pytest.approx(p, abs=0.03)
    hits = y[changed]
    assert ((hits == 0) | (hits == 1)).all()
    # salt and pepper alike
    assert (hits == 1).float().mean().item() == pytest.approx(0.5, abs=0.1)
    assert torch.equal(y[~changed], x[~changed])


def test_salt_and_pepper_on_a_black_image_changes_only_the_salt_hits():
    """Pepper on a black pixel changes nothing: the changed fraction is p times the
    share of draws that differ from the pixel, here p / 2."""
    x = torch.zeros(1, 1, 64, 64)
    y = salt_and_pepper(x, 0.4, gen(6))
    assert ((y == 0) | (y == 1)).all()
    assert (y == 1).float().mean().item() == pytest.approx(0.2, abs=0.03)


def test_salt_and_pepper_hits_all_channels_of_a_colour_pixel_alike():
    x = torch.rand(2, 3, 16, 16, generator=gen(7))
    y = salt_and_pepper(x, 0.3, gen(8))
    changed = y != x
    # a pixel is hit in every channel or none
    assert torch.equal(changed.any(dim=1), changed.all(dim=1))
    hit = changed[:, 0]
    assert hit.any()
    for c in (1, 2):
        # the same value, 0 or 1, in every channel
        assert torch.equal(y[:, c][hit], y[:, 0][hit])
    assert changed[:, 0].float().mean().item() == pytest.approx(0.3, abs=0.05)


def test_salt_and_pepper_with_p_zero_returns_x_and_with_p_one_replaces_every_pixel(x):
    assert torch.equal(salt_and_pepper(x, 0.0, gen()), x)
    y = salt_and_pepper(x, 1, gen())
    assert ((y == 0) | (y == 1)).all()
    assert 0.3 < y.mean().item() < 0.7  # 192 pixels, about half of them salt


def test_salt_and_pepper_follows_its_seed(x):
    first, again, other = (salt_and_pepper(x, 0.3, gen(s)) for s in (5, 5, 6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_salt_and_pepper_keeps_dtype_and_shape():
    x = torch.rand(2, 3, 5, 7, generator=gen(9), dtype=torch.float64)
    y = salt_and_pepper(x, 0.5, gen())
    assert y.shape == x.shape and y.dtype == torch.float64 and y.is_contiguous()


# --- shared behaviour -----------------------------------------------------------------

CORRUPTIONS = {
    "gaussian_noise": (gaussian_noise, 0.2),
    "salt_and_pepper": (salt_and_pepper, 0.3),
}


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
def test_corruptions_do_not_modify_their_input(x, corrupt, level):
    before = x.clone()
    y = corrupt(x, level, gen())
    assert torch.equal(x, before)
    assert not torch.equal(y, x)
    y.fill_(0.5)  # the result is a new tensor, not a view of x
    assert torch.equal(x, before)


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
def test_corruptions_do_not_touch_the_global_random_state(x, corrupt, level):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    corrupt(x, level, gen())
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (
            torch.full((1, 1, 4, 4), 1.5),
            ValueError,
            r"x must hold pixel values in \[0, 1\], got values from 1.5 to 1.5",
        ),
        (
            torch.full((1, 1, 4, 4), -0.1),
            ValueError,
            r"x must hold pixel values in \[0, 1\]",
        ),
        (
            torch.full((1, 1, 4, 4), float("nan")),
            ValueError,
            r"x must hold pixel values in \[0, 1\]",
        ),
        (
            torch.rand(1, 4, 4),
            ValueError,
            (
                r"x must be a batch of images shaped \(B, C, H, W\), "
                r"got a tensor of shape \(1, 4, 4\)"
            ),
        ),
        (
            torch.ones(1, 1, 4, 4, dtype=torch.uint8),
            TypeError,
            "x must be a floating-point tensor",
        ),
        ([[0.5]], TypeError, "x must be a torch.Tensor, got list"),
    ],
    ids=["above-one", "below-zero", "nan", "3-d", "integer", "list"],
)
def test_corruptions_reject_bad_images(corrupt, level, image, error, message):
    with pytest.raises(error, match=message):
        corrupt(image, level, gen())


@pytest.mark.parametrize(
    ("corrupt", "level"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys()
)
@pytest.mark.parametrize("generator", [None, 0, "seed"], ids=["none", "int", "str"])
def test_corruptions_need_a_torch_generator(x, corrupt, level, generator):
    with pytest.raises(
        TypeError,
        match=f"generator must be a torch.Generator .*got {type(generator).__name__}",
    ):
        corrupt(x, level, generator)


@pytest.mark.parametrize(
    ("sigma", "message"),
    [
        (-0.1, "sigma must be non-negative, got -0.1"),
        (float("nan"), "sigma must be a finite number, got nan"),
        (True, "sigma must be a finite number, got True"),
        ("0.1", "sigma must be a finite number, got '0.1'"),
        (None, "sigma must be a finite number, got None"),
    ],
)
def test_gaussian_noise_rejects_bad_sigmas(x, sigma, message):
    with pytest.raises(ValueError, match=message):
        gaussian_noise(x, sigma, gen())


@pytest.mark.parametrize(
    ("p", "message"),
    [
        (-0.1, r"p must be in \[0, 1\], got -0.1"),
        (1.5, r"p must be in \[0, 1\], got 1.5"),
        (float("nan"), "p must be a finite number, got nan"),
        (False, "p must be a finite number, got False"),
    ],
)
def test_salt_and_pepper_rejects_bad_probabilities(x, p, message):
    with pytest.raises(ValueError, match=message):
        salt_and_pepper(x, p, gen())
