"""vae_lib.pretrained: recipes, build, verify, load and the command line, with one tiny
recipe.

The registry is replaced by a 784-8-2 VAE trained for one epoch, and the data sets by
their first 256 images, so a build takes a fraction of a second; every folder is under
tmp_path.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path

import pytest
import torch

from vae_lib import checkpoints, pretrained
from vae_lib.checkpoints import RETRAIN_VARIABLE, CheckpointError, load_checkpoint
from vae_lib.data import DATA_DIR_VARIABLE
from vae_lib.latent import active_units, latent_means, rate_distortion
from vae_lib.losses import KLWarmup
from vae_lib.models import VAE, AutoencoderConfig, VAEConfig
from vae_lib.pretrained import METRIC_TOLERANCE, RECIPES, Recipe
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


@pytest.fixture(autouse=True)
def tiny_world(monkeypatch):
    """Only the tiny recipes exist, the data sets are their first 256 images, the mode
    is full."""
    monkeypatch.setattr(pretrained, "RECIPES", {r.name: r for r in (TINY, WARMUP)})
    for variable in (MODE_VARIABLE, RETRAIN_VARIABLE, DATA_DIR_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    # read from the repository's data/ before a test moves $VAE_BOOK_DATA
    for split in (
        "train",
        "test",
    ):
        small_dataset("mnist", split)
    monkeypatch.setattr(pretrained, "load_dataset", small_dataset)


@pytest.fixture
def built(tmp_path):
    """The tiny recipe built into tmp_path/checkpoints; returns that folder."""
    folder = tmp_path / "checkpoints"
    pretrained.build(["tiny"], out_dir=folder)
    return folder


def record(folder, name="tiny") -> dict:
    return json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))


def edit_metric(folder, key, change, name="tiny") -> None:
    path = folder / f"{name}.json"
    data = record(folder, name)
    if change is None:
        del data["metrics"][key]
    else:
        data["metrics"][key] += change
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


# --- the registry ---------------------------------------------------------------------


def test_every_shipped_recipe_is_registered_under_its_own_name_with_a_model_config():
    assert RECIPES  # the real registry, not the tiny one the fixture installs
    for name, recipe in RECIPES.items():
        assert recipe.name == name
        # Only denoisers may be plain autoencoders; everything else is a VAE.
        assert isinstance(recipe.config, VAEConfig) or (
            recipe.denoising and isinstance(recipe.config, AutoencoderConfig)
        )
        assert (
            recipe.num_epochs >= 1
            and recipe.beta > 0
            and recipe.warmup_epochs >= 0
            and recipe.summary
        )


def test_recipes_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY.num_epochs = 2


def test_checkpoint_dir_follows_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    assert pretrained.checkpoint_dir() == tmp_path / "checkpoints"


@pytest.mark.parametrize(
    "call",
    [
        lambda: pretrained.load("nope"),
        lambda: pretrained.build(["nope"]),
        lambda: pretrained.verify(["nope"]),
        lambda: pretrained.main(["list", "nope"]),
    ],
    ids=["load", "build", "verify", "main"],
)
def test_an_unknown_recipe_name_lists_the_known_ones(call, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(
        KeyError, match="no checkpoint recipe named 'nope'; known: tiny, tiny_warmup"
    ):
        call()
    assert not (
        tmp_path / "checkpoints" / "tiny.json"
    ).exists()  # nothing was built before the check


# --- evaluation -----------------------------------------------------------------------


def test_evaluate_checkpoint_reports_rate_distortion_and_active_units():
    torch.manual_seed(0)
    model = VAE(TINY.config)
    test_x = small_dataset("mnist", "test").images[:64]
    metrics = pretrained.evaluate_checkpoint(model, test_x)
    assert set(metrics) == {"negative_elbo", "rate", "distortion", "active_units"}
    rd = rate_distortion(model, test_x, seed=pretrained.EVAL_SEED)
    assert metrics["rate"] == pytest.approx(rd.rate.mean().item())
    assert metrics["distortion"] == pytest.approx(rd.distortion.mean().item())
    assert metrics["negative_elbo"] == pytest.approx(
        metrics["rate"] + metrics["distortion"], rel=1e-6
    )
    assert metrics["active_units"] == int(
        active_units(latent_means(model, test_x)).sum()
    )
    assert (
        isinstance(metrics["active_units"], int) and 0 <= metrics["active_units"] <= 2
    )


def test_evaluate_checkpoint_defaults_to_the_test_set():
    torch.manual_seed(0)
    model = VAE(TINY.config)
    assert pretrained.evaluate_checkpoint(model) == pretrained.evaluate_checkpoint(
        model, small_dataset("mnist", "test").images
    )


# --- build and verify -----------------------------------------------------------------


def test_build_writes_weights_and_a_record_with_the_metrics(capsys, built):
    assert sorted(p.name for p in built.iterdir()) == ["tiny.json", "tiny.safetensors"]
    data = record(built)
    assert data["model"] == "VAE"
    assert data["config"]["latent_dim"] == 2 and data["config"]["hidden_dims"] == [8]
    metrics = data["metrics"]
    assert set(metrics) == METRIC_KEYS
    assert metrics["negative_elbo"] == pytest.approx(
        metrics["rate"] + metrics["distortion"], rel=1e-6
    )
    assert metrics["rate"] >= 0 and metrics["distortion"] > 0
    assert (
        metrics["train_device"] == "cpu"
        and len(metrics["train_loss"]) == TINY.num_epochs
    )
    assert math.isfinite(metrics["train_loss"][0])
    out = capsys.readouterr().out
    assert out.startswith(
        f"tiny: negative_elbo {metrics['negative_elbo']:.2f}, "
        f"rate {metrics['rate']:.2f}, "
        f"distortion {metrics['distortion']:.2f}, "
        f"active_units {metrics['active_units']} ("
    )


def test_the_built_weights_give_the_recorded_metrics(built):
    model, metrics = load_checkpoint(built / "tiny", expected_config=TINY.config)
    measured = pretrained.evaluate_checkpoint(model)
    for key, value in measured.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key


def test_build_is_seeded(tmp_path):
    for folder in ("a", "b"):
        pretrained.build(["tiny"], out_dir=tmp_path / folder)
    first, second = (
        load_checkpoint(tmp_path / f / "tiny")[0].state_dict() for f in ("a", "b")
    )
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (
        record(tmp_path / "a")["metrics"]["negative_elbo"]
        == record(tmp_path / "b")["metrics"]["negative_elbo"]
    )


def test_build_defaults_to_the_checkpoint_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    pretrained.build(["tiny"])
    assert (tmp_path / "checkpoints" / "tiny.safetensors").is_file()


def test_verify_finds_nothing_wrong_right_after_build(built):
    assert pretrained.verify(["tiny"], built) == []


def test_verify_tolerates_rounding_within_the_stated_tolerance(built):
    edit_metric(built, "negative_elbo", 0.5 * METRIC_TOLERANCE)
    assert pretrained.verify(["tiny"], built) == []


@pytest.mark.parametrize("change", [2 * METRIC_TOLERANCE, -2 * METRIC_TOLERANCE, 1.0])
def test_verify_reports_a_recorded_metric_that_the_weights_do_not_give(built, change):
    recorded = record(built)["metrics"]["negative_elbo"] + change
    edit_metric(built, "negative_elbo", change)
    problems = pretrained.verify(["tiny"], built)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"tiny: negative_elbo recorded {recorded} but re-evaluated "
    )


def test_verify_reports_a_missing_metric(built):
    edit_metric(built, "active_units", None)
    problems = pretrained.verify(["tiny"], built)
    assert len(problems) == 1
    assert problems[0].startswith("tiny: active_units recorded None but re-evaluated ")


def test_verify_refuses_weights_of_another_config(built, monkeypatch):
    other = dataclasses.replace(
        TINY, config=dataclasses.replace(TINY.config, latent_dim=3)
    )
    monkeypatch.setattr(pretrained, "RECIPES", {"tiny": other})
    with pytest.raises(
        CheckpointError, match="latent_dim is 2 in the checkpoint but 3 was asked for"
    ):
        pretrained.verify(["tiny"], built)


def test_verify_of_a_missing_checkpoint_says_which_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors does not exist"):
        pretrained.verify(["tiny"], tmp_path)


# --- training -------------------------------------------------------------------------


def test_the_kl_warmup_recipe_ramps_beta_over_its_warmup_epochs(tmp_path, monkeypatch):
    made = []

    class RecordingWarmup(KLWarmup):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(pretrained, "KLWarmup", RecordingWarmup)
    pretrained.build(["tiny_warmup"], out_dir=tmp_path)
    (warmup,) = made
    steps_per_epoch = math.ceil(SUBSET / WARMUP.batch_size)
    assert warmup.warmup_steps == WARMUP.warmup_epochs * steps_per_epoch
    assert warmup.beta == WARMUP.beta
    assert warmup.step == WARMUP.num_epochs * steps_per_epoch  # one per optimizer step
    assert set(record(tmp_path, "tiny_warmup")["metrics"]) == METRIC_KEYS
    assert pretrained.verify(["tiny_warmup"], tmp_path) == []


def test_a_recipe_without_warmup_trains_with_its_fixed_beta(tmp_path, monkeypatch):
    betas = []
    original = VAE.loss

    def recording_loss(self, x, beta=1.0):
        betas.append(beta)
        return original(self, x, beta=beta)

    monkeypatch.setattr(VAE, "loss", recording_loss)
    monkeypatch.setattr(
        pretrained, "RECIPES", {"tiny": dataclasses.replace(TINY, beta=0.25)}
    )
    pretrained.build(["tiny"], out_dir=tmp_path)
    assert betas == [0.25] * math.ceil(SUBSET / TINY.batch_size)


# --- load -----------------------------------------------------------------------------


def refuse_training(*args, **kwargs):
    raise AssertionError("load trained a model instead of loading the checkpoint")


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_load_reads_the_shipped_checkpoint_without_training(built, monkeypatch, mode):
    # In full mode too: only $VAE_BOOK_RETRAIN retrains.
    monkeypatch.setenv(MODE_VARIABLE, mode)
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(built.parent))
    monkeypatch.setattr(pretrained, "train_recipe", refuse_training)
    model, metrics = pretrained.load("tiny", device="cpu")
    stored, stored_metrics = load_checkpoint(built / "tiny")
    assert metrics == stored_metrics == record(built)["metrics"]
    assert isinstance(model, VAE) and not model.training
    assert all(
        torch.equal(v, stored.state_dict()[k]) for k, v in model.state_dict().items()
    )


class _ModelOnAFakeGPU:
    """Stands in for a model moved to a CUDA device that this machine does not have."""

    def to(self, device):
        return self

    def eval(self):
        return self


def test_on_a_cuda_machine_load_reads_the_shipped_checkpoint_unless_asked(
    built, monkeypatch
):
    """One set of numbers on every device: a (simulated) CUDA machine in full mode loads
    the shipped weights, and retrains only with $VAE_BOOK_RETRAIN=1."""
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(built.parent))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        checkpoints, "resolve_device", lambda device: torch.device("cuda")
    )
    loads, trainings = [], []

    def load_on_the_gpu(path, *, expected_config, device):
        loads.append((Path(path).name, device.type))
        return _ModelOnAFakeGPU(), {"shipped": 1.0}

    def train(recipe, model, progress):
        trainings.append(recipe.name)
        return {"retrained": 1.0}

    monkeypatch.setattr(checkpoints, "load_checkpoint", load_on_the_gpu)
    monkeypatch.setattr(checkpoints, "build_model", lambda config: _ModelOnAFakeGPU())
    monkeypatch.setattr(pretrained, "train_recipe", train)
    assert pretrained.load("tiny")[1] == {"shipped": 1.0}
    assert loads == [("tiny", "cuda")] and trainings == []
    monkeypatch.setenv(RETRAIN_VARIABLE, "1")
    assert pretrained.load("tiny")[1] == {"retrained": 1.0}
    assert trainings == ["tiny"] and len(loads) == 1


def test_load_in_quick_mode_never_trains_even_without_a_checkpoint(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(MODE_VARIABLE, "quick")
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setattr(pretrained, "train_recipe", refuse_training)
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors does not exist"):
        pretrained.load("tiny", device="cpu")


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_load_retrains_with_the_recipe_when_asked(built, monkeypatch, how):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(built.parent))
    if how == "environment":
        monkeypatch.setenv(RETRAIN_VARIABLE, "1")
    before = (built / "tiny.json").read_bytes()
    _model, metrics = pretrained.load(
        "tiny",
        retrain=True if how == "argument" else None,
        device="cpu",
        progress=False,
    )
    assert set(metrics) == METRIC_KEYS
    # seeded
    assert metrics["negative_elbo"] == pytest.approx(
        record(built)["metrics"]["negative_elbo"], abs=1e-4
    )
    assert (
        built / "tiny.json"
    ).read_bytes() == before  # load never overwrites a shipped checkpoint


def test_load_retrain_true_wins_over_quick_mode(built, monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, "quick")
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(built.parent))
    calls = []
    monkeypatch.setattr(
        pretrained,
        "train_recipe",
        lambda recipe, model, progress: calls.append(recipe) or {"x": 1.0},
    )
    _, metrics = pretrained.load("tiny", retrain=True, device="cpu")
    assert calls == [TINY] and metrics == {"x": 1.0}


# --- the command line -----------------------------------------------------------------


def test_main_list_prints_each_recipe(capsys):
    assert pretrained.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "tiny: a tiny test model (1 epochs, beta 1.0)",
        "tiny_warmup:  (1 epochs, beta 2.0)",
    ]


def test_main_list_of_the_real_registry_names_every_recipe(capsys, monkeypatch):
    monkeypatch.setattr(pretrained, "RECIPES", RECIPES)
    assert pretrained.main(["list"]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == list(RECIPES)


def test_main_builds_then_verifies(tmp_path, capsys):
    assert pretrained.main(["build", "tiny", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "tiny.safetensors").is_file() and (
        tmp_path / "tiny.json"
    ).is_file()
    capsys.readouterr()
    assert pretrained.main(["verify", "tiny", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "1 checkpoints match their recorded metrics\n"
    edit_metric(tmp_path, "rate", 0.5)
    assert pretrained.main(["verify", "tiny", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().out.startswith("tiny: rate recorded ")


def test_main_defaults_to_every_recipe(tmp_path, capsys):
    assert pretrained.main(["build", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{n}.{ext}" for n in ("tiny", "tiny_warmup") for ext in ("json", "safetensors")
    )
    assert pretrained.main(["verify", "--out", str(tmp_path)]) == 0


def test_main_rejects_an_unknown_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        pretrained.main(["train"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'train'" in capsys.readouterr().err


# --- denoising recipes (Chapter 5) ----------------------------------------------------

DENOISERS = {
    "tiny_dae": Recipe(
        "tiny_dae",
        AutoencoderConfig(latent_dim=2, hidden_dims=(8,)),
        num_epochs=1,
        denoising=True,
    ),
    "tiny_dvae": Recipe(
        "tiny_dvae",
        VAEConfig(latent_dim=2, hidden_dims=(8,)),
        num_epochs=1,
        denoising=True,
    ),
}


@pytest.mark.parametrize("name", DENOISERS)
def test_denoising_recipes_record_denoising_psnr_and_verify(
    monkeypatch, tmp_path, name
):
    monkeypatch.setattr(pretrained, "RECIPES", DENOISERS)
    pretrained.build([name], out_dir=tmp_path)
    metrics = record(tmp_path, name)["metrics"]
    assert set(pretrained.DENOISING_TESTS) <= set(metrics)
    assert all(math.isfinite(metrics[key]) for key in pretrained.DENOISING_TESTS)
    # only a VAE has an ELBO
    assert ("negative_elbo" in metrics) == (name == "tiny_dvae")
    assert pretrained.verify([name], tmp_path) == []


def test_denoising_recipes_train_on_noisy_inputs_with_clean_targets(
    monkeypatch, tmp_path
):
    seen = []
    original = pretrained.denoising_loss

    def spying_loss(model, noisy, clean, beta=1.0):
        seen.append((noisy.detach().clone(), clean.detach().clone()))
        return original(model, noisy, clean, beta=beta)

    monkeypatch.setattr(pretrained, "denoising_loss", spying_loss)
    monkeypatch.setattr(pretrained, "RECIPES", DENOISERS)
    pretrained.build(["tiny_dae"], out_dir=tmp_path)
    noisy, clean = seen[0]
    assert noisy.shape == clean.shape and not torch.equal(noisy, clean)
    train_images = small_dataset("mnist", "train").images
    # the targets are clean training images
    assert any(torch.equal(clean[0], image) for image in train_images)
