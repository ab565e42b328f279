"""The digit classifier that judges generated images."""

from __future__ import annotations

import pytest
import torch

from vae_lib.classifier import DigitClassifier, train_digit_classifier


def _two_class_images(n=200, seed=0):
    # Class 0: bright top half; class 1: bright bottom half, plus a little noise.
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 1, 8, 8, generator=g) * 0.2
    images[labels == 0, :, :4] += 0.8
    images[labels == 1, :, 4:] += 0.8
    return images.clamp(0, 1), labels


def test_classifier_learns_a_separable_problem():
    images, labels = _two_class_images()
    classifier = train_digit_classifier(images, labels, num_epochs=5)
    test_images, test_labels = _two_class_images(seed=1)
    assert (classifier.predict(test_images) == test_labels).float().mean() > 0.95
    confidence = classifier.confidence(test_images)
    assert (
        confidence.shape == (200,)
        and (confidence > 0.5).all()
        and (confidence <= 1).all()
    )


def test_classifier_has_one_logit_per_class():
    classifier = DigitClassifier((1, 8, 8), num_classes=3)
    assert classifier(torch.rand(4, 1, 8, 8)).shape == (4, 3)


@pytest.mark.parametrize(
    "labels, message",
    [(torch.zeros(4), "int64"), (torch.zeros(3, dtype=torch.int64), r"shaped \(4,\)")],
)
def test_classifier_loss_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        DigitClassifier((1, 8, 8)).loss(torch.rand(4, 1, 8, 8), labels)


def test_classifier_rejects_images_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(C, H, W\) = \(1, 8, 8\)"):
        DigitClassifier((1, 8, 8))(torch.rand(2, 1, 28, 28))
