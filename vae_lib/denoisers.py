"""The residual CNN denoiser: the bottleneck-free network a practitioner would train
instead of a VAE (the reference of Chapters 5 and 7).

DnCNN (Zhang et al. 2017) stacks 3x3 convolutions at full resolution and learns the
*noise* rather than the image: for a noisy image y it predicts the residual r(y), and
the estimate is x_hat = y - r(y). Nothing squeezes the image through a code, so it only
has to tell noise from detail locally; that is why it beats every bottlenecked model on
noise it was trained for. This small version has no batch normalisation and defaults to
seven layers of 32 channels (about 47,000 parameters).

Shapes: images y are (B, C, H, W) with the config's C; any H and W work, so a network
trained on patches denoises a whole photograph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import losses
from .validate import (
    check_image_shape,
    check_images,
    check_model_dtype,
    check_positive_int,
)


@dataclass(frozen=True)
class ResidualDenoiserConfig:
    """A DnCNN-style denoiser: ``depth`` 3x3 convolutions (``depth >= 2``) with
    ``channels`` feature maps and ReLU between them, for images of ``image_shape``
    (C, H, W; H and W are those it is trained on, any size works after)."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    channels: int = 32
    depth: int = 7

    def __post_init__(self) -> None:
        check_positive_int(self.channels, "channels")
        check_positive_int(self.depth, "depth")
        if self.depth < 2:
            raise ValueError(f"depth must be at least 2, got {self.depth!r}")
        check_image_shape(self.image_shape)

    @property
    def num_pixels(self) -> int:
        return math.prod(self.image_shape)


class ResidualDenoiser(nn.Module):
    """y -> x_hat = y - r(y), with r a stack of 3x3 convolutions (Zhang et al. 2017)."""

    def __init__(self, config: ResidualDenoiserConfig) -> None:
        super().__init__()
        if not isinstance(config, ResidualDenoiserConfig):
            raise TypeError(
                "ResidualDenoiser needs a ResidualDenoiserConfig as config, got "
                f"{type(config).__name__}"
            )
        self.config = config
        c, f = config.image_shape[0], config.channels
        layers: list[nn.Module] = [nn.Conv2d(c, f, 3, padding=1), nn.ReLU()]
        for _ in range(config.depth - 2):
            layers += [nn.Conv2d(f, f, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(f, c, 3, padding=1))
        self.residual = nn.Sequential(*layers)

    def _check_input(self, y: object, name: str = "y") -> torch.Tensor:
        """Fail unless ``y`` is images (B, C, H, W) with the config's C, finite (values
        outside [0, 1] are allowed: noisy images), in the dtype of the weights; return
        it."""
        y = check_images(y, name, unit_range=False)
        channels = self.config.image_shape[0]
        if y.shape[1] != channels:
            raise ValueError(
                f"{name} must have {channels} channel(s), got shape {tuple(y.shape)}"
            )
        return check_model_dtype(y, self, name)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> y - r(y), unclipped (what training's squared error sees)."""
        return y - self.residual(self._check_input(y))

    @torch.no_grad()
    def denoise(self, y: torch.Tensor) -> torch.Tensor:
        """The estimate clipped to [0, 1], where every clean image lies:
        (B, C, H, W) -> (B, C, H, W)."""
        return self(y).clamp(0.0, 1.0)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error of the output for an already clean input, per example (B,):
        a denoiser trains on noisy inputs instead
        (:func:`vae_lib.objectives.denoising_loss`)."""
        return losses.squared_error(self(self._check_input(x, "x")), x)
