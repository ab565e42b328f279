"""Ways to damage an image, for Chapters 5 to 7: noise models and masks of missing
pixels.

Every function takes images x (B, C, H, W) with values in [0, 1]; the random ones also
take a ``torch.Generator``, so a corruption is reproducible; none changes its input.
Noise keeps values in [0, 1] (a sensor saturates), so a damaged image is still a valid
image.

A noise model (:class:`ClippedGaussianNoise`, :class:`GaussianNoise`,
:class:`SaltAndPepperNoise`) is an object with ``sample(x, generator)`` and
``log_prob(y, x_hat)``: the damage and its likelihood in one place, so whatever inverts
the damage receives the right likelihood with it (:mod:`vae_lib.inference`).

A mask is a bool tensor (B, 1, H, W) with ``True`` where a pixel is missing (all its
channels at once); :func:`hide` blanks those pixels and :func:`keep_observed` pastes a
completion into them. Every mask leaves at least one pixel of each image observed.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from .validate import (
    check_finite_float,
    check_images,
    check_same_shape,
    check_tensor,
)


def _check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            "generator must be a torch.Generator (for reproducible noise), got "
            f"{type(generator).__name__}"
        )
    return generator


def _check_level(value: object, name: str, upper: float | None) -> float:
    level = check_finite_float(value, name)
    if level < 0 or (upper is not None and level > upper):
        bound = f"in [0, {upper:g}]" if upper is not None else "non-negative"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return level


def gaussian_noise(
    x: torch.Tensor, sigma: float, generator: torch.Generator
) -> torch.Tensor:
    """y = clip(x + sigma * eps, 0, 1) with eps ~ N(0, I): (B, C, H, W) -> (B, C, H, W).

    The clipping makes the noise non-Gaussian near black and white pixels;
    :class:`ClippedGaussianNoise` is this noise with its exact likelihood.
    """
    x = check_images(x)
    return _add_gaussian(
        x, _check_level(sigma, "sigma", None), _check_generator(generator)
    )


def _add_gaussian(
    x: torch.Tensor, sigma: float | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """clip(x + sigma * eps, 0, 1) for a number or a per-image tensor (B, 1, 1, 1) sigma
    (unchecked)."""
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + sigma * eps).clamp(0.0, 1.0)


def salt_and_pepper(
    x: torch.Tensor, p: float, generator: torch.Generator
) -> torch.Tensor:
    """Replace a random fraction ``p`` of pixels by 0 or 1 (each with probability p/2):
    (B, C, H, W) -> same.

    Each pixel is hit independently; for colour images a hit replaces all channels of
    the pixel.
    """
    x = check_images(x)
    return _replace_pixels(x, _check_level(p, "p", 1.0), _check_generator(generator))


def _replace_pixels(
    x: torch.Tensor, p: float | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Salt-and-pepper for a number or a per-image tensor (B, 1, 1, 1) p (unchecked)."""
    shape = (x.shape[0], 1, *x.shape[2:])
    hit = torch.rand(shape, generator=generator, device=x.device) < p
    salt = (torch.rand(shape, generator=generator, device=x.device) < 0.5).to(x.dtype)
    return torch.where(hit, salt.expand_as(x), x).contiguous()


def training_noise(
    x: torch.Tensor,
    generator: torch.Generator,
    max_sigma: float = 0.6,
    max_p: float = 0.4,
    share_salt_and_pepper: float = 0.3,
) -> torch.Tensor:
    """A different random corruption for each image, for training denoisers over a range
    of noise: salt-and-pepper with p ~ U(0, max_p) for a share of the images, Gaussian
    noise with sigma ~ U(0, max_sigma) for the rest. (B, C, H, W) -> (B, C, H, W); use
    as ``fit(transform=...)``.
    """
    x = check_images(x)
    generator = _check_generator(generator)
    _check_level(max_sigma, "max_sigma", None)
    _check_level(max_p, "max_p", 1.0)
    _check_level(share_salt_and_pepper, "share_salt_and_pepper", 1.0)
    b = x.shape[0]
    sigma = (
        torch.rand((b, 1, 1, 1), generator=generator, device=x.device, dtype=x.dtype)
        * max_sigma
    )
    p = torch.rand((b, 1, 1, 1), generator=generator, device=x.device) * max_p
    use_sp = (
        torch.rand((b, 1, 1, 1), generator=generator, device=x.device)
        < share_salt_and_pepper
    )
    noisy = _add_gaussian(x, sigma, generator)
    return torch.where(use_sp, _replace_pixels(x, p, generator), noisy)


# --- noise models: the damage and its likelihood together ---------------------------


class NoiseModel(ABC):
    """A way clean images x become noisy images y: :meth:`sample` damages a batch,
    :meth:`log_prob` is log p(y | x) per image, the likelihood that inference in a VAE
    needs (Chapter 5). A chapter hands the noise it applied to the inference method, so
    the matching likelihood always comes with it."""

    @abstractmethod
    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Noisy copies y of clean images x: (B, C, H, W) -> (B, C, H, W)."""

    @abstractmethod
    def log_prob(self, y: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """log p(y | x = x_hat) in nats per image: (B, C, H, W) twice -> (B,)."""


def _check_scored(
    y: object, x_hat: object, *, y_in_unit_range: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fail unless noisy images y and clean images x_hat (in [0, 1]) are batches of the
    same shape; y in [0, 1] too unless the noise may push it out."""
    y = check_images(y, "y", unit_range=y_in_unit_range)
    x_hat = check_images(x_hat, "x_hat")
    check_same_shape(y, x_hat, ("y", "x_hat"))
    return y, x_hat


def _per_image_sum(per_pixel: torch.Tensor) -> torch.Tensor:
    return per_pixel.flatten(1).sum(dim=1)


def _gaussian_log_density(
    y: torch.Tensor, x_hat: torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    """log N(y; x_hat, sigma^2) per pixel; sigma a number or a per-image tensor
    (B, 1, 1, 1) of positive values."""
    constant: float | torch.Tensor
    if isinstance(sigma, torch.Tensor):
        constant = torch.log(sigma * math.sqrt(2 * math.pi))
    elif sigma == 0:
        raise ValueError(
            "sigma must be positive to score a likelihood: with sigma 0 the noise is "
            "a point mass, which has no density (sampling with it leaves x unchanged)"
        )
    else:
        constant = math.log(sigma * math.sqrt(2 * math.pi))
    return -0.5 * ((y - x_hat) / sigma).pow(2) - constant


def _clipped_gaussian_log_prob(
    y: torch.Tensor, x_hat: torch.Tensor, sigma: float | torch.Tensor
) -> torch.Tensor:
    """log p(y | x_hat) per image (B,) for y = clip(x_hat + sigma * eps, 0, 1): a
    probability mass at 0 and at 1, a Gaussian density in between."""
    at_zero = torch.special.log_ndtr(-x_hat / sigma)
    at_one = torch.special.log_ndtr((x_hat - 1) / sigma)
    inside = _gaussian_log_density(y, x_hat, sigma)
    return _per_image_sum(
        torch.where(y <= 0, at_zero, torch.where(y >= 1, at_one, inside))
    )


@dataclass(frozen=True)
class ClippedGaussianNoise(NoiseModel):
    """y = clip(x + sigma * eps, 0, 1), eps ~ N(0, I): Gaussian noise on a sensor that
    saturates. A pixel inside (0, 1) has density N(y; x, sigma^2); a pixel at 0 has
    probability Phi(-x / sigma) (the noise pushed it below 0), one at 1 probability
    Phi((x - 1) / sigma)."""

    sigma: float

    def __post_init__(self) -> None:
        _check_level(self.sigma, "sigma", None)

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return gaussian_noise(x, self.sigma, generator)

    def log_prob(self, y: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        y, x_hat = _check_scored(y, x_hat)
        return _clipped_gaussian_log_prob(y, x_hat, self.sigma)


@dataclass(frozen=True)
class GaussianNoise(NoiseModel):
    """y = x + sigma * eps without clipping, so y may leave [0, 1]. As a likelihood for
    clipped noise it is the wrong model: Chapter 5 measures what that costs."""

    sigma: float

    def __post_init__(self) -> None:
        _check_level(self.sigma, "sigma", None)

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = check_images(x)
        eps = torch.randn(
            x.shape,
            generator=_check_generator(generator),
            device=x.device,
            dtype=x.dtype,
        )
        return x + self.sigma * eps

    def log_prob(self, y: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        y, x_hat = _check_scored(y, x_hat, y_in_unit_range=False)
        return _per_image_sum(_gaussian_log_density(y, x_hat, self.sigma))


@dataclass(frozen=True)
class SaltAndPepperNoise(NoiseModel):
    """A fraction ``p`` of pixels replaced by 0 or 1 (:func:`salt_and_pepper`). Its
    likelihood is a robust one: each pixel is clean with probability 1 - p (then
    y ~ N(x, tau^2), ``tau`` allowing for what the model cannot draw exactly) or an
    outlier with probability p (uniform on [0, 1])."""

    p: float
    tau: float = 0.1

    def __post_init__(self) -> None:
        _check_level(self.p, "p", 1.0)
        if not 0 < self.p < 1:
            raise ValueError(f"p must lie strictly between 0 and 1, got {self.p!r}")
        if _check_level(self.tau, "tau", None) == 0:
            raise ValueError("tau must be positive, got 0")

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return salt_and_pepper(x, self.p, generator)

    def log_prob(self, y: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        y, x_hat = _check_scored(y, x_hat)
        clean = math.log(1 - self.p) + _gaussian_log_density(y, x_hat, self.tau)
        return _per_image_sum(
            torch.logaddexp(clean, torch.full_like(clean, math.log(self.p)))
        )


# --- masks of missing pixels ---------------------------------------------------------


def _mask_like(x: torch.Tensor) -> torch.Tensor:
    x = check_images(x)
    return torch.zeros((x.shape[0], 1, *x.shape[2:]), dtype=torch.bool, device=x.device)


def _check_index(value: object, name: str, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= int(value) <= high
    ):
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def square_mask(
    x: torch.Tensor, size: int, top: int | None = None, left: int | None = None
) -> torch.Tensor:
    """A ``size`` x ``size`` hole with its top-left corner at (top, left), centred by
    default: (B, 1, H, W)."""
    mask = _mask_like(x)
    h, w = mask.shape[2:]
    size = _check_index(size, "size", 1, min(h, w))
    top = (h - size) // 2 if top is None else _check_index(top, "top", 0, h - size)
    left = (w - size) // 2 if left is None else _check_index(left, "left", 0, w - size)
    mask[:, :, top : top + size, left : left + size] = True
    return _at_least_one_observed(mask, "size")


def half_mask(x: torch.Tensor, side: str = "bottom") -> torch.Tensor:
    """The ``side`` ("top", "bottom", "left" or "right") half of every image missing:
    (B, 1, H, W)."""
    mask = _mask_like(x)
    h, w = mask.shape[2:]
    halves = {
        "top": (slice(0, h // 2), slice(None)),
        "bottom": (slice(h // 2, None), slice(None)),
        "left": (slice(None), slice(0, w // 2)),
        "right": (slice(None), slice(w // 2, None)),
    }
    if side not in halves:
        raise ValueError(f"side must be one of {tuple(halves)}, got {side!r}")
    mask[(slice(None), slice(None), *halves[side])] = True
    return _at_least_one_observed(mask, "side")


def rows_mask(x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows ``start`` to ``stop - 1`` missing (a band across the image):
    (B, 1, H, W)."""
    mask = _mask_like(x)
    h = mask.shape[2]
    start = _check_index(start, "start", 0, h - 1)
    stop = _check_index(stop, "stop", start + 1, h)
    mask[:, :, start:stop] = True
    return _at_least_one_observed(mask, "start and stop")


def random_mask(
    x: torch.Tensor, fraction: float, generator: torch.Generator
) -> torch.Tensor:
    """Pixels missing completely at random: exactly round(fraction * H * W) per image,
    chosen uniformly and independently for each image: (B, 1, H, W)."""
    mask = _mask_like(x)
    fraction = _check_level(fraction, "fraction", 1.0)
    generator = _check_generator(generator)
    b, _, h, w = mask.shape
    num_missing = round(fraction * h * w)
    scores = torch.rand((b, h * w), generator=generator, device=x.device)
    order = scores.argsort(dim=1)[:, :num_missing]  # random pixels per image
    mask.view(b, h * w).scatter_(1, order, True)
    return _at_least_one_observed(mask, "fraction")


def stroke_mask(
    x: torch.Tensor,
    num_strokes: int,
    width: float,
    generator: torch.Generator,
    segments: int = 4,
    *,
    unchecked: bool = False,
) -> torch.Tensor:
    """Random brush strokes, as if someone scribbled over the image: each stroke is a
    chain of ``segments`` straight pieces with random directions and lengths, drawn with
    a round brush of diameter ``width`` pixels; every image gets its own strokes:
    (B, 1, H, W). ``unchecked=True`` allows strokes that cover a whole (tiny) image."""
    mask = _mask_like(x)
    generator = _check_generator(generator)
    if (
        isinstance(num_strokes, bool)
        or not isinstance(num_strokes, numbers.Integral)
        or num_strokes < 0
    ):
        raise ValueError(f"num_strokes must be a non-negative int, got {num_strokes!r}")
    segments = _check_index(segments, "segments", 1, 100)
    width = _check_level(width, "width", None)
    if width == 0:
        raise ValueError("width must be positive, got 0")
    b, _, h, w = mask.shape
    u = torch.rand(
        (int(num_strokes), 2 + 2 * segments, b, 1, 1), generator=generator
    ).to(x.device)
    rows = torch.arange(h, device=x.device, dtype=torch.float32)[:, None]  # (H, 1)
    cols = torch.arange(w, device=x.device, dtype=torch.float32)[None, :]  # (1, W)
    for stroke in u:  # (2 + 2 segments, B, 1, 1)
        start = (stroke[0] * (h - 1), stroke[1] * (w - 1))
        for k in range(segments):
            angle, length = (
                2 * math.pi * stroke[2 + 2 * k],
                (0.15 + 0.35 * stroke[3 + 2 * k]) * max(h, w),
            )
            end = (
                (start[0] + length * torch.sin(angle)).clamp(0, h - 1),
                (start[1] + length * torch.cos(angle)).clamp(0, w - 1),
            )
            mask[:, 0] |= _near_segment(rows, cols, start, end, width / 2)
            start = end
    return mask if unchecked else _at_least_one_observed(mask, "num_strokes and width")


def _near_segment(
    rows: torch.Tensor,
    cols: torch.Tensor,
    a: tuple[torch.Tensor, torch.Tensor],
    b: tuple[torch.Tensor, torch.Tensor],
    radius: float,
) -> torch.Tensor:
    """Pixels whose centres lie within ``radius`` of the segment from a to b, each end a
    (row, column) pair of (B, 1, 1) tensors: (B, H, W) bool."""
    dy, dx = b[0] - a[0], b[1] - a[1]
    length2 = (dy * dy + dx * dx).clamp_min(1e-12)
    # (B, H, W)
    t = (((rows - a[0]) * dy + (cols - a[1]) * dx) / length2).clamp(0.0, 1.0)
    return (rows - a[0] - t * dy) ** 2 + (cols - a[1] - t * dx) ** 2 <= radius * radius


def training_mask(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A different random mask for each image, for training inpainting models on every
    kind of hole (the same five kinds in equal shares): a square of side 6 to 20 pixels
    anywhere, one half, a band of 4 to 14 rows, 10% to 90% of the pixels at random, or 1
    to 4 strokes 3 pixels wide. (B, C, H, W) -> (B, 1, H, W)."""
    mask = _mask_like(x)
    generator = _check_generator(generator)
    b, _, h, w = mask.shape
    kind = torch.randint(0, 5, (b,), generator=generator)
    u = torch.rand((b, 3), generator=generator)
    rows = torch.arange(h)[None, :, None]
    cols = torch.arange(w)[None, None, :]
    size = (6 + u[:, 0] * 15).long().clamp(max=min(h, w) - 1)[:, None, None]
    top = (u[:, 1][:, None, None] * (h - size + 1)).long()
    left = (u[:, 2][:, None, None] * (w - size + 1)).long()
    square = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    side = (u[:, 0] * 4).long()[:, None, None]
    half = torch.where(
        side < 2, (rows < h // 2) ^ (side == 1), (cols < w // 2) ^ (side == 3)
    )
    band_height = (4 + u[:, 0] * 11).long().clamp(max=h - 1)[:, None, None]
    band_start = (u[:, 1][:, None, None] * (h - band_height + 1)).long()
    band = (rows >= band_start) & (rows < band_start + band_height)
    fraction = (0.1 + 0.8 * u[:, 0])[:, None, None]
    scattered = torch.rand((b, h, w), generator=generator) < fraction
    num_strokes = 1 + (u[:, 2] * 4).long()  # 1 to 4 per image
    strokes = torch.zeros((b, h, w), dtype=torch.bool)
    for k in range(4):
        strokes |= (
            stroke_mask(x, 1, 3.0, generator, unchecked=True)[:, 0].cpu()
            & (num_strokes > k)[:, None, None]
        )
    choices = torch.stack(
        [square, half.expand(b, h, w), band.expand(b, h, w), scattered, strokes]
    )
    mask[:, 0] = choices[kind, torch.arange(b)].to(x.device)
    # on a tiny image random pixels or strokes may hide all: keep it whole
    mask[mask.flatten(1).all(dim=1)] = False
    return mask


def _at_least_one_observed(mask: torch.Tensor, cause: str = "mask") -> torch.Tensor:
    """Fail unless ``mask`` leaves a pixel of every image observed; ``cause`` names the
    argument(s) that made it hide every pixel."""
    hidden = mask.flatten(1).all(dim=1)
    if hidden.any():
        raise ValueError(
            f"{cause}: a mask must leave at least one pixel observed, but it hides "
            f"every pixel of {int(hidden.sum())} image(s) (first: index "
            f"{int(hidden.nonzero()[0])})"
        )
    return mask


def check_mask(mask: object, x: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Fail unless ``mask`` is a bool tensor (B, 1, H, W) for images x (B, C, H, W) (a
    pixel is missing in all its channels at once) that leaves at least one pixel of each
    image observed."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of dtype bool (True = missing), got "
            f"{type(mask).__name__}"
        )
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name} must have dtype torch.bool (True = missing), got {mask.dtype}"
        )
    x = check_tensor(x, "x")
    if x.dim() != 4:
        raise ValueError(
            f"x must be a batch of images shaped (B, C, H, W), got shape "
            f"{tuple(x.shape)}"
        )
    b, _c, h, w = x.shape
    if tuple(mask.shape) != (b, 1, h, w):
        raise ValueError(
            f"{name} must be shaped (B, 1, H, W) = {(b, 1, h, w)} to match the images "
            f"{tuple(x.shape)}, got {tuple(mask.shape)}"
        )
    if mask.device != x.device:
        raise ValueError(
            f"{name} is on {mask.device} but the images are on {x.device}: move them "
            "together"
        )
    return _at_least_one_observed(mask, name)


def keep_observed(
    completion: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """The completion's values at missing pixels and y's, bit for bit, everywhere else:
    (B, C, H, W), on y's device."""
    y = check_images(y, "y")
    mask = check_mask(mask, y)
    completion = check_images(completion, "completion")
    if completion.shape != y.shape:
        raise ValueError(
            "completion and y must have the same shape, got "
            f"{tuple(completion.shape)} and {tuple(y.shape)}"
        )
    return torch.where(mask, completion.to(y.device, y.dtype), y)


def hide(x: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """The damaged images: missing pixels (``mask`` True) set to ``fill``:
    (B, C, H, W) -> same."""
    x = check_images(x)
    mask = check_mask(mask, x)
    fill = _check_level(fill, "fill", 1.0)
    return torch.where(mask, torch.full_like(x, fill), x)


# --- the noise level, estimated from the noisy image itself -------------------------

_HALF_NORMAL_MEDIAN = 0.6744897501960817  # Phi^-1(3/4): median of |N(0, 1)|


def estimate_sigma(y: torch.Tensor) -> torch.Tensor:
    """The sigma of clipped Gaussian noise (:class:`ClippedGaussianNoise`) estimated
    from each noisy image alone, for images whose background is black (exactly 0):
    (B, C, H, W) -> (B,).

    On a black pixel the noise is clipped: y = max(0, sigma * eps), so half of the
    background reads exactly 0 and the other half is half-normal with median
    0.6745 sigma. An image with n0 pixels at 0 therefore has about n0 positive
    background pixels, the smallest of its positive values; the (n0 / 2)-th smallest
    positive value, divided by 0.6745, estimates sigma. It is a robust estimate in the
    spirit of the wavelet median absolute deviation of Donoho & Johnstone (1994), which
    clipping would bias low. Ink pixels that the noise pushes down towards 0 bias it
    slightly low at strong noise (about 7% at sigma 0.5 on MNIST digits).
    """
    y = check_images(y, "y")
    values = y.detach().flatten(1)
    at_zero = (values <= 0).sum(dim=1)
    positive = (values > 0).sum(dim=1)
    unusable = (at_zero == 0) | (positive == 0)
    if unusable.any():
        first = int(unusable.nonzero()[0])
        raise ValueError(
            f"y must hold pixels at exactly 0 and pixels above 0 in every image to "
            f"estimate sigma (clipped noise on a black background); image {first} has "
            f"{int(at_zero[first])} at 0 and {int(positive[first])} above"
        )
    ordered = values.sort(dim=1).values
    k = (at_zero + 1) // 2  # the median of about n0 positive background pixels
    index = (at_zero + k - 1).clamp_max(values.shape[1] - 1)
    return ordered.gather(1, index[:, None])[:, 0] / _HALF_NORMAL_MEDIAN


@dataclass(frozen=True)
class BlindClippedGaussianNoise(NoiseModel):
    """Clipped Gaussian noise whose sigma nobody told us: its likelihood is that of
    :class:`ClippedGaussianNoise` with each image's own :func:`estimate_sigma`, read off
    the noisy image y it scores (blind MAP, Chapter 5). It only scores; with no sigma
    it cannot damage images, so :meth:`sample` refuses."""

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise TypeError(
            "BlindClippedGaussianNoise has no sigma to damage images with; damage them "
            "with ClippedGaussianNoise(sigma) and score them with this model"
        )

    def log_prob(self, y: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        y, x_hat = _check_scored(y, x_hat)
        sigma = estimate_sigma(y).to(x_hat.dtype).view(-1, *[1] * (y.dim() - 1))
        return _clipped_gaussian_log_prob(y, x_hat, sigma)
