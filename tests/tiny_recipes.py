"""A tiny world for the tests of vae_lib.pretrained and vae_lib.shipped: the registry
holds two 784-8-2 VAE recipes trained for one epoch, and the data sets are their first
256 images, so a build takes a fraction of a second."""

from __future__ import annotations

import dataclasses
import functools

import pytest

from vae_lib import pretrained
from vae_lib.checkpoints import RETRAIN_VARIABLE
from vae_lib.data import DATA_DIR_VARIABLE
from vae_lib.models import VAEConfig
from vae_lib.pretrained import Recipe
from vae_lib.runtime import MODE_VARIABLE

SUBSET = 256
TINY = Recipe(
    "tiny",
    VAEConfig(latent_dim=2, hidden_dims=(8,)),
    num_epochs=1,
    summary="a tiny test model",
)
WARMUP = Recipe(
    "tiny_warmup",
    VAEConfig(latent_dim=2, hidden_dims=(8,)),
    num_epochs=1,
    beta=2.0,
    warmup_epochs=1,
)
METRIC_KEYS = {
    "negative_elbo",
    "rate",
    "distortion",
    "active_units",
    "train_seconds",
    "train_device",
    "train_loss",
}

# the real one, kept before any test replaces it
_load_dataset = pretrained.load_dataset


@functools.cache
def small_dataset(*args, **kwargs):
    """The first 256 examples of what load_dataset(*args, **kwargs) returns (copied, so
    the rest is freed)."""
    subset = _load_dataset(*args, **kwargs).subset(SUBSET)
    return dataclasses.replace(
        subset, images=subset.images.clone(), labels=subset.labels.clone()
    )


def enter_tiny_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the tiny recipes exist, the data sets are their first 256 images, the mode
    is full."""
    monkeypatch.setattr(pretrained, "RECIPES", {r.name: r for r in (TINY, WARMUP)})
    for variable in (MODE_VARIABLE, RETRAIN_VARIABLE, DATA_DIR_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    # read from the repository's data/ before a test moves $VAE_BOOK_DATA
    for split in ("train", "test"):
        small_dataset("mnist", split)
    monkeypatch.setattr(pretrained, "load_dataset", small_dataset)
