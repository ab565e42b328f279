"""A small digit classifier used as a judge of generated images (Chapter 1 onwards).

A decoded image that a classifier trained on real digits recognises with high confidence
at least looks like *some* digit; a blob or a chimera of strokes does not. This is a
lenient test: classifiers can be confidently wrong, so passing it does not prove an
image is good, but failing it shows that an image is not a digit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .train import fit
from .validate import check_images, check_tensor


class DigitClassifier(nn.Module):
    """An MLP x (B, C, H, W) -> logits (B, num_classes), trained with cross-entropy."""

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(check_images(x, image_shape=self.image_shape))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy per example (B,) for labels y (B,) of dtype int64."""
        y = check_tensor(y, "y")
        if y.dtype != torch.int64 or y.shape != x.shape[:1]:
            raise ValueError(
                f"y must be int64 labels shaped ({x.shape[0]},), got {y.dtype} of "
                f"shape {tuple(y.shape)}"
            )
        return F.cross_entropy(self(x).float(), y, reduction="none")

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
    torch.manual_seed(seed)
    _, channels, height, width = images.shape
    classifier = DigitClassifier(
        (channels, height, width), num_classes=int(labels.max().item()) + 1
    )
    fit(
        classifier,
        images,
        labels,
        num_epochs=num_epochs,
        seed=seed,
        progress=progress,
        device=images.device,
    )
    return classifier.eval()
