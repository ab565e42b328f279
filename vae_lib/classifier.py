"""A small digit classifier used as a judge of generated images (Chapter 1 onwards).

A decoded image that a classifier trained on real digits recognises with high confidence
at least looks like *some* digit; a blob or a chimera of strokes does not. This is a
lenient test: classifiers can be confidently wrong, so passing it does not prove an
image is good, but failing it shows that an image is not a digit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .train import fit
from .validate import (
    check_image_shape,
    check_images,
    check_model_dtype,
    check_positive_int,
    check_seed,
    check_tensor,
    values_checked,
)


class DigitClassifier(nn.Module):
    """An MLP x (B, C, H, W) -> logits (B, num_classes), trained with cross-entropy."""

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.image_shape = check_image_shape(image_shape)
        num_classes = check_positive_int(num_classes, "num_classes")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        hidden = check_positive_int(hidden, "hidden")
        pixels = math.prod(self.image_shape)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images x (B, C, H, W) in [0, 1] -> logits (B, num_classes)."""
        x = check_images(x, image_shape=self.image_shape)
        return self.net(check_model_dtype(x, self, "x"))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy per example (B,) for labels y (B,) of dtype int64, each in
        [0, num_classes)."""
        logits = self(x)
        _check_labels(y, x.shape[0], logits.shape[1])
        return F.cross_entropy(logits.float(), y, reduction="none")

    @torch.no_grad()
    def confidence(self, x: torch.Tensor) -> torch.Tensor:
        """The largest class probability for each image, (B,) in (0, 1]."""
        return F.softmax(self(x).float(), dim=1).max(dim=1).values

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable class for each image, (B,) int64."""
        return self(x).argmax(dim=1)


def train_digit_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_epochs: int = 2,
    seed: int = 0,
    progress: bool = False,
) -> DigitClassifier:
    """Train a :class:`DigitClassifier` on images (N, C, H, W) and labels (N,); returns
    it in eval mode."""
    check_images(images, "images")
    if images.shape[0] == 0:
        raise ValueError("images must hold at least one image, got an empty batch")
    _check_labels(labels, images.shape[0], None, "labels")
    seed = check_seed(seed)
    torch.manual_seed(seed)
    _, channels, height, width = images.shape
    classifier = DigitClassifier(
        (channels, height, width), num_classes=max(2, int(labels.max().item()) + 1)
    )
    fit(
        classifier,
        images,
        train_y=labels,
        num_epochs=num_epochs,
        seed=seed,
        progress=progress,
        device=images.device,
    )
    return classifier.eval()


def _check_labels(
    y: object, batch: int, num_classes: int | None, name: str = "y"
) -> torch.Tensor:
    """Fail unless ``y`` is int64 labels (batch,), each in [0, num_classes) (or >= 0
    when num_classes is None)."""
    y = check_tensor(y, name)
    if y.dtype != torch.int64 or y.shape != (batch,):
        raise ValueError(
            f"{name} must be int64 labels shaped ({batch},), got {y.dtype} of "
            f"shape {tuple(y.shape)}"
        )
    if (
        values_checked()
        and y.numel()
        and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes))
    ):
        bound = "0 and above" if num_classes is None else f"in [0, {num_classes})"
        raise ValueError(
            f"{name} must be class indices {bound}, got values from "
            f"{y.min().item()} to {y.max().item()}"
        )
    return y
