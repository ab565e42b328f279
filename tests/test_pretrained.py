"""vae_lib.pretrained: recipes, their training and evaluation, and load, with tiny
recipes; the real registry's recipes build models for the images of their data sets
(MNIST or, for Chapter 7, colour photo patches).

The registry is replaced by 784-8-2 VAEs trained for an epoch or a few, and the data
sets by their first 256 images, so training takes a fraction of a second; every folder
is under tmp_path. Building and verifying the shipped files (vae_lib.shipped) is tested
in test_shipped.py.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from tiny_recipes import (
    METRIC_KEYS,
    SUBSET,
    TINY,
    WARMUP,
    enter_tiny_world,
    small_dataset,
)

from vae_lib import checkpoints, pretrained, shipped
from vae_lib.checkpoints import (
    RETRAIN_VARIABLE,
    CheckpointError,
    Loaded,
    load_checkpoint,
    read_record,
    save_checkpoint,
)
from vae_lib.data import DATA_DIR_VARIABLE, PATCH_DATASETS, ImageDataset
from vae_lib.denoisers import ResidualDenoiserConfig
from vae_lib.latent import active_units, latent_means, rate_distortion
from vae_lib.metrics import psnr
from vae_lib.models import VAE, Autoencoder, AutoencoderConfig, VAEConfig, build_model
from vae_lib.pretrained import RECIPES, Recipe
from vae_lib.runtime import MODE_VARIABLE

STEPS_PER_EPOCH = math.ceil(SUBSET / TINY.batch_size)
MNIST_SHAPE = (1, 28, 28)
# RECIPES is the real registry: tiny_world replaces pretrained.RECIPES in every test.
# Chapter 7's photo VAEs (its residual CNN is a denoiser, with no decoder)
PHOTO_RECIPES = [
    name
    for name, recipe in RECIPES.items()
    if name.startswith("ch7") and isinstance(recipe.config, VAEConfig)
]


@pytest.fixture(autouse=True)
def tiny_world(monkeypatch):
    enter_tiny_world(monkeypatch)


@pytest.fixture
def built(tmp_path):
    """The tiny recipe built into tmp_path/checkpoints; returns that folder."""
    folder = tmp_path / "checkpoints"
    shipped.build(["tiny"], out_dir=folder)
    return folder


@pytest.fixture
def shipped_elsewhere(tmp_path, monkeypatch):
    """A checkpoint of the tiny recipe's config whose weights and metrics training could
    not give (other seed, a marker metric), shipped where load looks; returns the model
    saved."""
    torch.manual_seed(TINY.seed + 1)
    model = VAE(TINY.config)
    save_checkpoint(model, tmp_path / "checkpoints" / "tiny", {"shipped": 1.0})
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    return model


def record(folder, name="tiny") -> dict:
    return {"metrics": read_record(folder / name).metrics}


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(
        torch.equal(first[k].cpu(), second[k].cpu()) for k in first
    )


# --- the registry ---------------------------------------------------------------------


def test_every_shipped_recipe_is_registered_under_its_own_name_with_a_model_config():
    assert RECIPES  # the real registry, not the tiny one the fixture installs
    for name, recipe in RECIPES.items():
        assert recipe.name == name
        # Only denoisers may be plain autoencoders or residual CNNs; everything else
        # is a VAE.
        assert isinstance(recipe.config, VAEConfig) or (
            recipe.denoising
            and isinstance(recipe.config, (AutoencoderConfig, ResidualDenoiserConfig))
        )
        assert (
            recipe.num_epochs >= 1
            and recipe.beta > 0
            and recipe.warmup_epochs >= 0
            and recipe.summary
        )


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_builds_a_model_for_the_images_of_its_data_set(name):
    """A recipe trains on MNIST (1, 28, 28) or on photo patches (3, size, size): the
    model's image shape must be that of its data set."""
    recipe = RECIPES[name]
    if recipe.dataset == "mnist":
        expected = MNIST_SHAPE
    else:
        size = PATCH_DATASETS[recipe.dataset].size
        expected = (3, size, size)
    assert recipe.config.image_shape == expected


def test_recipes_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY.num_epochs = 2


def test_get_recipe_finds_a_registered_recipe():
    assert pretrained.get_recipe("tiny_warmup") is WARMUP


def test_checkpoint_dir_follows_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    assert pretrained.checkpoint_dir() == tmp_path / "checkpoints"


@pytest.mark.parametrize(
    "call",
    [lambda: pretrained.load("nope"), lambda: pretrained.get_recipe("nope")],
    ids=["load", "get_recipe"],
)
def test_an_unknown_recipe_name_lists_the_known_ones(call, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(
        KeyError, match="no checkpoint recipe named 'nope'; known: tiny, tiny_warmup"
    ):
        call()
    assert not (tmp_path / "checkpoints").exists()  # nothing trained or written


def test_seeded_init_gives_the_recipes_weights_and_leaves_the_caller_generator():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with pretrained.seeded_init(TINY):
        first = VAE(TINY.config)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream goes on
    with pretrained.seeded_init(TINY):
        again = VAE(TINY.config)
    with pretrained.seeded_init(dataclasses.replace(TINY, seed=TINY.seed + 1)):
        other = VAE(TINY.config)
    assert same_weights(first, again) and not same_weights(first, other)


def test_the_book_seed_shifts_a_recipes_seed_and_its_weights(monkeypatch):
    monkeypatch.delenv("VAE_BOOK_SEED", raising=False)
    assert pretrained.recipe_seed(TINY) == TINY.seed  # make checkpoints' seed
    with pretrained.seeded_init(TINY):
        unshifted = VAE(TINY.config)
    monkeypatch.setenv("VAE_BOOK_SEED", "2")
    assert pretrained.recipe_seed(TINY) == 2000 + TINY.seed
    with pretrained.seeded_init(TINY):
        shifted = VAE(TINY.config)
    assert not same_weights(unshifted, shifted)


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


def test_evaluate_checkpoint_of_a_learned_gaussian_decoder_reports_sigma_and_psnr():
    torch.manual_seed(0)
    model = VAE(VAEConfig(latent_dim=2, hidden_dims=(8,), likelihood="gaussian"))
    with torch.no_grad():
        model.x_logvar.fill_(-3.0)
    test_x = small_dataset("mnist", "test").images[:64]
    metrics = pretrained.evaluate_checkpoint(model, test_x)
    assert set(metrics) == {
        "negative_elbo",
        "rate",
        "distortion",
        "active_units",
        "x_sigma",
        "psnr_reconstruction",
    }
    assert metrics["x_sigma"] == pytest.approx(math.exp(-1.5), rel=1e-6)
    with torch.no_grad():
        decoded = model.decode(latent_means(model, test_x))
    assert metrics["psnr_reconstruction"] == pytest.approx(
        psnr(decoded, test_x).mean().item(), rel=1e-6
    )


@pytest.mark.parametrize("name", PHOTO_RECIPES)
def test_photo_recipes_record_their_decoders_sigma_and_psnr(name, gen):
    """Chapter 7 reads the learned noise level and the reconstruction PSNR from the
    metrics recorded beside each photo checkpoint: a model built from the recipe, on
    patches of its size, reports both."""
    recipe = RECIPES[name]
    torch.manual_seed(0)
    model = build_model(recipe.config)
    patches = torch.rand(4, *recipe.config.image_shape, generator=gen(1))
    metrics = pretrained.evaluate_checkpoint(model, patches)
    assert metrics["x_sigma"] == pytest.approx(model.decoder_std().item())
    assert 0 < metrics["psnr_reconstruction"] < 100


def test_evaluate_checkpoint_of_a_fixed_gaussian_decoder_reports_no_sigma():
    config = VAEConfig(
        latent_dim=2, hidden_dims=(8,), likelihood="gaussian", gaussian_logvar=-2.0
    )
    torch.manual_seed(0)
    metrics = pretrained.evaluate_checkpoint(
        VAE(config), small_dataset("mnist", "test").images[:64]
    )
    assert set(metrics) == {"negative_elbo", "rate", "distortion", "active_units"}


@pytest.mark.parametrize(
    "config",
    [
        TINY.config,
        AutoencoderConfig(latent_dim=2),
        ResidualDenoiserConfig(channels=4, depth=2),
    ],
)
def test_evaluate_checkpoint_of_a_denoiser_scores_its_output_under_each_noise(config):
    torch.manual_seed(0)
    model = build_model(config)
    clean = small_dataset("mnist", "test").images
    metrics = pretrained.evaluate_checkpoint(model, clean, denoising=True)
    assert set(pretrained.DENOISING_TESTS) <= set(metrics)
    assert ("negative_elbo" in metrics) == isinstance(model, VAE)
    for key, (noise, level) in pretrained.DENOISING_TESTS.items():
        noisy = noise(clean, level, torch.Generator().manual_seed(pretrained.EVAL_SEED))
        expected = psnr(pretrained.denoise(model, noisy), clean).mean().item()
        assert metrics[key] == pytest.approx(expected, rel=1e-6), key


# --- training -------------------------------------------------------------------------


class RecordingVAE(VAE):
    """A VAE that records the KL weight of each loss computed for a training step."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        self.betas: list[float] = []

    def loss(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            self.betas.append(beta)
        return super().loss(x, beta=beta)


def test_a_recipe_without_warmup_trains_with_its_fixed_beta():
    recipe = dataclasses.replace(TINY, beta=0.25, num_epochs=2)
    with pretrained.seeded_init(recipe):
        model = RecordingVAE(recipe.config)
    metrics = pretrained.train_recipe(recipe, model, progress=False)
    assert model.betas == [0.25] * (recipe.num_epochs * STEPS_PER_EPOCH)
    assert set(metrics) == METRIC_KEYS


def test_a_warmup_recipe_ramps_beta_linearly_over_its_warmup_epochs():
    # beta 2.0, reached after 2 epochs of 2 steps each, then kept
    recipe = dataclasses.replace(WARMUP, num_epochs=3, warmup_epochs=2)
    assert STEPS_PER_EPOCH == 2
    with pretrained.seeded_init(recipe):
        model = RecordingVAE(recipe.config)
    metrics = pretrained.train_recipe(recipe, model, progress=False)
    assert model.betas == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]  # one per optimizer step
    assert set(metrics) == METRIC_KEYS
    assert len(metrics["train_loss"]) == recipe.num_epochs


def copies_of_one_image() -> ImageDataset:
    """A data set of 256 copies of one MNIST test image."""
    clean = small_dataset("mnist", "test").images[:1]
    return ImageDataset(
        clean.expand(SUBSET, -1, -1, -1).clone(),
        torch.zeros(SUBSET, dtype=torch.int64),
        ("the digit",),
    )


@pytest.mark.parametrize(
    "config",
    [
        AutoencoderConfig(latent_dim=2, hidden_dims=(8,)),
        VAEConfig(latent_dim=2, hidden_dims=(8,)),
    ],
    ids=["autoencoder", "vae"],
)
def test_a_denoising_recipe_trains_the_model_to_map_noisy_images_to_clean_ones(
    monkeypatch, config
):
    """Trained and tested on copies of one image: the model is fed freshly corrupted
    copies, and learns to give back the clean image under every test noise (a model
    trained to reproduce its noisy input stays under 15 dB at Gaussian sigma 0.5, one
    fed clean inputs with noisy targets under 20 dB at all of them)."""
    copies = copies_of_one_image()
    clean = copies.images[:1]
    monkeypatch.setattr(pretrained, "load_dataset", lambda name, split: copies)
    recipe = Recipe("tiny_denoiser", config, num_epochs=20, lr=1e-2, denoising=True)
    with pretrained.seeded_init(recipe):
        model = VAE(config) if isinstance(config, VAEConfig) else Autoencoder(config)
    seen = []

    def record_input(module, args):
        if torch.is_grad_enabled():  # a training step, not the evaluation
            seen.append(args[0].detach().clone())

    model.encoder.register_forward_pre_hook(record_input)
    metrics = pretrained.train_recipe(recipe, model, progress=False)
    inputs = torch.cat(seen)
    assert inputs.shape == (recipe.num_epochs * SUBSET, *clean.shape[1:])
    # (a salt-and-pepper draw of a tiny p may change no pixel)
    corrupted = (inputs != clean).flatten(1).any(dim=1)
    assert corrupted.float().mean() > 0.95
    first, second = inputs[:SUBSET], inputs[SUBSET : 2 * SUBSET]
    assert not torch.equal(first, second)  # fresh noise every epoch
    for key, (noise, level) in pretrained.DENOISING_TESTS.items():
        noisy = noise(copies.images, level, torch.Generator().manual_seed(0))
        assert psnr(noisy, copies.images).mean() < 20
        assert metrics[key] > 25, key


# --- load -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_load_reads_the_shipped_checkpoint_without_training(
    shipped_elsewhere, monkeypatch, mode
):
    # In full mode too: only $VAE_BOOK_RETRAIN retrains.
    monkeypatch.setenv(MODE_VARIABLE, mode)
    model, metrics = pretrained.load("tiny", device="cpu")
    assert metrics == {"shipped": 1.0}
    assert isinstance(model, VAE) and not model.training
    assert model.config == TINY.config
    assert same_weights(model, shipped_elsewhere)


def test_load_returns_a_loaded_named_tuple(shipped_elsewhere):
    loaded = pretrained.load("tiny", device="cpu")
    assert isinstance(loaded, Loaded)
    assert loaded._fields == ("model", "metrics")
    assert loaded.metrics == {"shipped": 1.0}
    model, metrics = loaded
    assert model is loaded.model and metrics is loaded.metrics


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
        return Loaded(_ModelOnAFakeGPU(), {"shipped": 1.0})

    def train(recipe, model, progress):
        trainings.append(recipe.name)
        return {"retrained": 1.0}

    monkeypatch.setattr(checkpoints, "load_checkpoint", load_on_the_gpu)
    monkeypatch.setattr(checkpoints, "build_model", lambda config: _ModelOnAFakeGPU())
    monkeypatch.setattr(pretrained, "train_recipe", train)
    assert pretrained.load("tiny").metrics == {"shipped": 1.0}
    assert loads == [("tiny", "cuda")] and trainings == []
    monkeypatch.setenv(RETRAIN_VARIABLE, "1")
    assert pretrained.load("tiny").metrics == {"retrained": 1.0}
    assert trainings == ["tiny"] and len(loads) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_on_a_real_cuda_machine_load_reads_the_shipped_checkpoint_unless_asked(
    shipped_elsewhere, monkeypatch
):
    model, metrics = pretrained.load("tiny", progress=False)  # the default: CUDA
    assert next(model.parameters()).device.type == "cuda"
    assert metrics == {"shipped": 1.0} and same_weights(model, shipped_elsewhere)
    monkeypatch.setenv(RETRAIN_VARIABLE, "1")
    model, metrics = pretrained.load("tiny", progress=False)
    assert next(model.parameters()).device.type == "cuda"
    assert set(metrics) == METRIC_KEYS and metrics["train_device"].startswith("cuda")


def test_load_in_quick_mode_never_trains_even_without_a_checkpoint(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(MODE_VARIABLE, "quick")
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors does not exist"):
        pretrained.load("tiny", device="cpu")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_load_retrains_with_the_recipe_when_asked(built, monkeypatch, how):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(built.parent))
    if how == "environment":
        monkeypatch.setenv(RETRAIN_VARIABLE, "1")
    before = (built / "tiny.safetensors").read_bytes()
    model, metrics = pretrained.load(
        "tiny",
        retrain=True if how == "argument" else None,
        device="cpu",
        progress=False,
    )
    assert set(metrics) == METRIC_KEYS
    assert isinstance(model, VAE) and not model.training
    # seeded
    assert metrics["negative_elbo"] == pytest.approx(
        record(built)["metrics"]["negative_elbo"], abs=1e-4
    )
    # load never overwrites a shipped checkpoint
    assert (built / "tiny.safetensors").read_bytes() == before


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_load_retrain_true_wins_over_the_mode_and_a_shipped_checkpoint(
    shipped_elsewhere, tmp_path, monkeypatch, mode
):
    monkeypatch.setenv(MODE_VARIABLE, mode)
    model, metrics = pretrained.load("tiny", retrain=True, device="cpu", progress=False)
    assert set(metrics) == METRIC_KEYS  # trained, not the shipped {"shipped": 1.0}
    assert not same_weights(model, shipped_elsewhere)
    assert shipped.build(["tiny"], out_dir=tmp_path / "rebuilt") == []
    assert same_weights(model, load_checkpoint(tmp_path / "rebuilt" / "tiny").model)
