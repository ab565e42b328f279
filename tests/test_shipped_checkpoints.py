"""The checkpoints shipped in data/checkpoints: present, small, and still giving their
recorded metrics.

:func:`vae_lib.shipped.verify` loads each shipped model with its recipe's config,
re-evaluates it on its data set's test split (MNIST, or Chapter 7's held-out photo
patches) on the CPU and compares each metric with the one recorded when it was built,
within ``METRIC_TOLERANCE`` nats or ``RELATIVE_TOLERANCE`` of large values (rounding
only: the evaluation is seeded). One test case per recipe, so that ``pytest -n 2``
shares them out. Rebuild them with ``make checkpoints``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vae_lib import pretrained, shipped
from vae_lib.checkpoints import (
    RETRAIN_VARIABLE,
    CheckpointError,
    load_checkpoint,
    read_record,
    weights_sha256,
)
from vae_lib.data import DATA_DIR_VARIABLE
from vae_lib.denoisers import ResidualDenoiserConfig
from vae_lib.models import VAE
from vae_lib.pretrained import RECIPES
from vae_lib.runtime import MODE_VARIABLE

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data" / "checkpoints"
MAX_TOTAL_BYTES = 25 * 10**6
METRIC_KEYS = {"negative_elbo", "rate", "distortion", "active_units"}


@pytest.fixture(autouse=True)
def repository_data(monkeypatch):
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    monkeypatch.delenv(RETRAIN_VARIABLE, raising=False)


def test_checkpoint_dir_is_the_repositorys_data_checkpoints():
    assert pretrained.checkpoint_dir().resolve() == CHECKPOINTS


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_has_its_checkpoint_and_it_verifies(name):
    path = CHECKPOINTS / f"{name}.safetensors"
    assert path.is_file(), f"{path} is missing: run `make checkpoints`"
    record = read_record(path)
    assert record.config == RECIPES[name].config
    # the SHA-256 in the header is that of the weights in the file
    assert weights_sha256(load_file(str(path))) == record.weights_sha256


@pytest.mark.parametrize("name", RECIPES)
def test_the_shipped_checkpoint_matches_its_recorded_metrics_on_the_cpu(name):
    assert shipped.verify([name]) == []


def test_the_shipped_checkpoints_take_at_most_25_mb():
    total = sum(p.stat().st_size for p in CHECKPOINTS.rglob("*") if p.is_file())
    assert total > 0
    assert total <= MAX_TOTAL_BYTES, (
        f"data/checkpoints holds {total / 1e6:.1f} MB, "
        f"over {MAX_TOTAL_BYTES / 1e6:.0f} MB"
    )


def test_data_checkpoints_holds_only_recipe_files():
    expected = {f"{name}.safetensors" for name in RECIPES}
    stray = sorted(
        p.name
        for p in CHECKPOINTS.iterdir()
        if p.suffix in (".safetensors", ".json", ".part") or p.name.startswith(".")
    )
    assert set(stray) <= expected, (
        f"files of no recipe (or unfinished saves): {sorted(set(stray) - expected)}"
    )


@pytest.mark.parametrize("name", RECIPES)
def test_each_record_holds_consistent_metrics(name):
    model, metrics = load_checkpoint(
        CHECKPOINTS / name, expected_config=RECIPES[name].config
    )
    assert len(metrics["train_loss"]) == RECIPES[name].num_epochs
    if RECIPES[name].denoising:
        tests = RECIPES[name].noise.noise_tests()
        assert set(tests) <= set(metrics)
        # far above the noisy input at these levels
        assert all(metrics[key] > 10 for key in tests)
    if isinstance(model, VAE):
        assert METRIC_KEYS <= set(metrics)
        # float32 sums: 1e-3 nats, or a relative 1e-6 for the thousands of nats of a
        # Gaussian decoder
        assert metrics["negative_elbo"] == pytest.approx(
            metrics["rate"] + metrics["distortion"], abs=1e-3, rel=1e-6
        )
        assert 0 <= metrics["active_units"] <= RECIPES[name].config.latent_dim
    else:
        assert RECIPES[name].denoising, "only denoisers may be other than VAEs"


def test_the_beta_sweep_trades_rate_for_distortion():
    """A larger KL weight gives a cheaper code and a worse reconstruction
    (Higgins et al. 2017)."""
    sweep = sorted(
        (
            r
            for r in RECIPES.values()
            if r.config == RECIPES["ch4_mlp_vae"].config and not r.warmup_epochs
        ),
        key=lambda r: r.beta,
    )
    assert [r.beta for r in sweep] == [0.1, 0.3, 1.0, 3.0, 10.0]
    metrics = [load_checkpoint(CHECKPOINTS / r.name)[1] for r in sweep]
    rates, distortions = (
        [m["rate"] for m in metrics],
        [m["distortion"] for m in metrics],
    )
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == len(rates)
    assert distortions == sorted(distortions) and len(set(distortions)) == len(
        distortions
    )


@pytest.mark.parametrize("name", RECIPES)
def test_a_shipped_checkpoint_refuses_a_different_size(name):
    config = RECIPES[name].config
    field = "channels" if isinstance(config, ResidualDenoiserConfig) else "latent_dim"
    size = getattr(config, field)
    wrong = dataclasses.replace(config, **{field: size + 1})
    message = f"{field} is {size} in the checkpoint but {size + 1} was asked for"
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_checkpoint(CHECKPOINTS / name, expected_config=wrong)


def test_a_shipped_checkpoint_refuses_a_different_architecture():
    config = RECIPES["ch4_mlp_vae"].config
    wrong = dataclasses.replace(config, hidden_dims=(512,))
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            "hidden_dims is (256,) in the checkpoint but (512,) was asked for"
        ),
    ):
        load_checkpoint(CHECKPOINTS / "ch4_mlp_vae", expected_config=wrong)


@pytest.mark.parametrize("name", RECIPES)
def test_load_in_quick_mode_uses_the_shipped_checkpoint(name, monkeypatch):
    def refuse_training(*args, **kwargs):
        raise AssertionError("load trained instead of loading the shipped checkpoint")

    monkeypatch.setenv(MODE_VARIABLE, "quick")
    # fail at once: retraining a real recipe would take minutes before the comparisons
    # below could fail
    monkeypatch.setattr(pretrained, "train_recipe", refuse_training)
    model, metrics = pretrained.load(name, device="cpu")
    assert model.config == RECIPES[name].config and not model.training
    stored, stored_metrics = load_checkpoint(CHECKPOINTS / name)
    assert metrics == stored_metrics
    assert all(
        torch.equal(v, stored.state_dict()[k]) for k, v in model.state_dict().items()
    )
