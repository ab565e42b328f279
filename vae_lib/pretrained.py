"""The book's shipped checkpoints: how each is trained and evaluated, and how a chapter
gets it (Chapter 4 onwards).

Every model a chapter would rather not train on a CPU has a :class:`Recipe` here: its
config and its training settings, all seeded, and :func:`evaluate_checkpoint` defines
the metrics recorded beside its weights. Chapters call :func:`load`: it loads the
checkpoint on every device (CPU, CUDA, MPS), so every reader sees the book's numbers;
with ``$VAE_BOOK_RETRAIN=1`` it trains from scratch with the recipe instead (full mode),
on whatever device there is. Building and verifying the shipped files is
:mod:`vae_lib.shipped` (``make checkpoints``).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoints import Loaded, Metrics, load_or_train
from .corrupt import gaussian_noise, salt_and_pepper, training_noise
from .data import DATASETS, PATCH_DATASETS, data_dir, load_dataset
from .denoisers import ResidualDenoiser, ResidualDenoiserConfig
from .inference import naive_vae
from .latent import active_units, latent_means, rate_distortion
from .metrics import psnr
from .models import (
    VAE,
    Autoencoder,
    AutoencoderConfig,
    Model,
    ModelConfig,
    NetworkConfig,
    VAEConfig,
    evaluating,
)
from .objectives import KLWarmup, denoising_loss
from .runtime import book_mode, book_seed
from .train import LossFn, fit
from .validate import (
    check_bool,
    check_callable,
    check_choice,
    check_in_interval,
    check_instance,
    check_model_images,
    check_non_negative_float,
    check_non_negative_int,
    check_positive_float,
    check_positive_int,
)

EVAL_SEED = 0
_MODELS = (VAE, Autoencoder, ResidualDenoiser)
_CONFIGS = (NetworkConfig, ResidualDenoiserConfig)

# The fixed noises a denoiser's checkpoint is scored under: name -> (noise, level).
NoiseTests = dict[str, tuple]

DENOISING_TESTS: NoiseTests = {
    "psnr_gaussian_0.3": (gaussian_noise, 0.3),
    "psnr_gaussian_0.5": (gaussian_noise, 0.5),
    "psnr_salt_pepper_0.1": (salt_and_pepper, 0.1),
    "psnr_salt_pepper_0.3": (salt_and_pepper, 0.3),
}
PHOTO_DENOISING_TESTS: NoiseTests = {
    "psnr_gaussian_0.1": (gaussian_noise, 0.1),
    "psnr_gaussian_0.2": (gaussian_noise, 0.2),
}
DENOISING_TEST_IMAGES = 1000


def _check_noise_tests(noise_tests: object) -> None:
    """Fail unless ``noise_tests`` maps names to (noise function, level) pairs."""
    if not isinstance(noise_tests, Mapping):
        raise TypeError(
            "noise_tests must map a metric name to (noise function, level), got "
            f"{type(noise_tests).__name__}"
        )
    for key, entry in noise_tests.items():
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise ValueError(
                f"noise_tests[{key!r}] must be a (noise function, level) pair, got "
                f"{entry!r}"
            )
        check_callable(entry[0], f"noise_tests[{key!r}]")


@dataclass(frozen=True)
class TrainingNoise:
    """The blind noise a denoising recipe trains under
    (:func:`vae_lib.corrupt.training_noise` with these settings: each image gets its
    own level) and the fixed noises its checkpoint is scored under."""

    max_sigma: float = 0.6
    max_p: float = 0.4
    share_salt_and_pepper: float = 0.3
    tests: str = "mnist"  # "mnist": DENOISING_TESTS, "photo": PHOTO_DENOISING_TESTS

    def __post_init__(self) -> None:
        check_non_negative_float(self.max_sigma, "max_sigma")
        check_in_interval(self.max_p, "max_p", 0, 1)
        check_in_interval(self.share_salt_and_pepper, "share_salt_and_pepper", 0, 1)
        check_choice(self.tests, "tests", ("mnist", "photo"))

    def transform(self) -> functools.partial[torch.Tensor]:
        """The batch transform for ``fit(transform=...)``: (B, C, H, W), generator ->
        (B, C, H, W)."""
        return functools.partial(
            training_noise,
            max_sigma=self.max_sigma,
            max_p=self.max_p,
            share_salt_and_pepper=self.share_salt_and_pepper,
        )

    def noise_tests(self) -> NoiseTests:
        return PHOTO_DENOISING_TESTS if self.tests == "photo" else DENOISING_TESTS


# Chapter 5's mixed noise: Gaussian with sigma up to 0.6 or salt-and-pepper up to 0.4
MIXED_NOISE = TrainingNoise()
# Chapter 7's: Gaussian only, sigma up to 0.3
PHOTO_NOISE = TrainingNoise(max_sigma=0.3, share_salt_and_pepper=0.0, tests="photo")


@dataclass(frozen=True)
class Recipe:
    """How one checkpoint is made: a model config trained with Adam on a data set's
    training split (``dataset``, by default MNIST's 60,000 grey-level images), evaluated
    on its test split. A VAE minimises the negative ELBO with KL weight ``beta`` (ramped
    up from 0 over the first ``warmup_epochs`` if > 0). With ``denoising=True`` the
    model sees each image under fresh random noise (``noise``, by default Chapter 5's
    mixed noise) and learns to output the clean one (Chapters 5 and 7)."""

    name: str
    config: ModelConfig
    num_epochs: int
    beta: float = 1.0
    warmup_epochs: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    summary: str = ""
    denoising: bool = False
    dataset: str = "mnist"
    noise: TrainingNoise = MIXED_NOISE

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        check_instance(self.config, "config", _CONFIGS)
        check_positive_int(self.num_epochs, "num_epochs")
        check_non_negative_float(self.beta, "beta")
        check_non_negative_int(self.warmup_epochs, "warmup_epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_float(self.lr, "lr")
        check_non_negative_int(self.seed, "seed")
        check_bool(self.denoising, "denoising")
        check_choice(self.dataset, "dataset", (*DATASETS, *PATCH_DATASETS))
        check_instance(self.noise, "noise", TrainingNoise)


_MLP = VAEConfig(latent_dim=32, hidden_dims=(256,))
# Chapters 4 and 5's convolutional VAE: channels 32-64, a 32-D code
_CONV = VAEConfig(architecture="conv", latent_dim=32, hidden_dims=(32, 64))


def _photo_vae(size: int, channels: tuple[int, ...]) -> VAEConfig:
    """Chapter 7's convolutional VAE for RGB patches (3, size, size), Gaussian p(x|z)
    with one learned variance."""
    return VAEConfig(
        architecture="conv",
        image_shape=(3, size, size),
        latent_dim=64,
        hidden_dims=channels,
        likelihood="gaussian",
        gaussian_logvar=None,
    )


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            "ch4_mlp_vae",
            _MLP,
            50,
            summary="MLP VAE, 784-256-32, beta = 1: the chapter's main model",
        ),
        Recipe("ch4_mlp_vae_beta0.1", _MLP, 50, beta=0.1, summary="beta sweep"),
        Recipe("ch4_mlp_vae_beta0.3", _MLP, 50, beta=0.3, summary="beta sweep"),
        Recipe("ch4_mlp_vae_beta3", _MLP, 50, beta=3.0, summary="beta sweep"),
        Recipe("ch4_mlp_vae_beta10", _MLP, 50, beta=10.0, summary="beta sweep"),
        Recipe(
            "ch4_mlp_vae_warmup",
            _MLP,
            50,
            warmup_epochs=10,
            summary="beta = 1 after a 10-epoch KL warm-up",
        ),
        Recipe(
            "ch4_vae_2d",
            VAEConfig(latent_dim=2, hidden_dims=(256, 128)),
            50,
            summary="2-D latent, for maps",
        ),
        Recipe(
            "ch4_conv_vae",
            _CONV,
            20,
            summary="convolutional VAE, channels 32-64, 32-D latent",
        ),
        Recipe(
            "ch5_conv_vae",
            _CONV,
            50,
            summary=(
                "Chapter 4's convolutional VAE trained 2.5 times longer: the "
                "generative model for MAP denoising"
            ),
        ),
        Recipe(
            "ch5_denoising_vae",
            _CONV,
            15,
            denoising=True,
            summary=(
                "denoising VAE (Im et al. 2017): noisy input, clean target, mixed "
                "noise levels"
            ),
        ),
        Recipe(
            "ch5_denoising_ae",
            AutoencoderConfig(architecture="conv", latent_dim=32, hidden_dims=(32, 64)),
            15,
            denoising=True,
            summary=(
                "denoising autoencoder (Vincent et al. 2008), same network and noise"
            ),
        ),
        Recipe(
            "ch5_residual_cnn",
            ResidualDenoiserConfig(channels=32, depth=7),
            2,
            denoising=True,
            summary=(
                "residual CNN denoiser (DnCNN-style, Zhang et al. 2017), 7 layers of "
                "32 channels, no bottleneck; same blind mixed noise"
            ),
        ),
        Recipe(
            "ch7_photo_vae_32",
            _photo_vae(32, (32, 64, 128)),
            30,
            dataset="photo-patches-32",
            summary=(
                "colour photo patches 32x32, conv channels 32-64-128, 64-D latent, "
                "Gaussian p(x|z) with learned variance"
            ),
        ),
        Recipe(
            "ch7_photo_vae_64",
            _photo_vae(64, (16, 32, 64, 128)),
            50,
            dataset="photo-patches-64",
            summary=(
                "colour photo patches 64x64, conv channels 16-32-64-128, 64-D "
                "latent, Gaussian p(x|z) with learned variance"
            ),
        ),
        Recipe(
            "ch7_residual_cnn",
            ResidualDenoiserConfig(image_shape=(3, 32, 32), channels=32, depth=7),
            5,
            denoising=True,
            dataset="photo-patches-32",
            noise=PHOTO_NOISE,
            summary=(
                "residual CNN denoiser (DnCNN-style), 7 layers of 32 channels, on the "
                "colour photo patches 32x32 under blind Gaussian noise, sigma up to 0.3"
            ),
        ),
    ]
}


def recipe_seed(recipe: Recipe) -> int:
    """The seed a recipe trains with: its own, shifted by the book's seed
    (:func:`vae_lib.runtime.book_seed`; unshifted by default, as ``make checkpoints``
    builds)."""
    check_instance(recipe, "recipe", Recipe)
    return book_seed(recipe.seed)


def seeded_init(recipe: Recipe) -> contextlib.AbstractContextManager[None]:
    """Seed the weights' initialisation with the recipe's seed, leaving the caller's
    generator as it was: a context manager (the recipe is checked at once)."""
    return _seeded(recipe_seed(recipe))


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def checkpoint_dir() -> Path:
    """Where shipped checkpoints live: ``data/checkpoints`` (or under
    ``$VAE_BOOK_DATA``)."""
    return data_dir() / "checkpoints"


class UnknownRecipeError(KeyError, ValueError):
    """No checkpoint recipe has that name (a KeyError for a registry look-up, and a
    ValueError for a bad argument)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def get_recipe(name: str) -> Recipe:
    """The recipe registered under ``name`` in :data:`RECIPES`."""
    if not isinstance(name, str) or name not in RECIPES:
        raise UnknownRecipeError(
            f"name must be a checkpoint recipe: no checkpoint recipe named {name!r}; "
            f"known: {', '.join(RECIPES)}"
        )
    return RECIPES[name]


@torch.no_grad()
def denoise(model: Model, noisy: torch.Tensor) -> torch.Tensor:
    """A denoiser's output for noisy images (B, C, H, W), on their device: the
    autoencoder's output, the VAE's decoded posterior mean, or the residual CNN's
    estimate clipped to [0, 1]."""
    check_instance(model, "model", _MODELS)
    if isinstance(model, ResidualDenoiser):  # fully convolutional: photos of any size
        noisy = model._check_input(noisy, "noisy")
    else:
        noisy = check_model_images(noisy, model, "noisy")
    if isinstance(model, VAE):
        return naive_vae(model, noisy)
    if isinstance(model, ResidualDenoiser):
        with evaluating(model):
            device = next(model.parameters()).device
            return model.denoise(noisy.to(device)).to(noisy.device)
    with evaluating(model):
        return model(noisy.to(next(model.parameters()).device)).to(noisy.device)


@torch.no_grad()
def evaluate_checkpoint(
    model: Model,
    test_x: torch.Tensor | None = None,
    *,
    denoising: bool = False,
    noise_tests: NoiseTests | None = None,
) -> Metrics:
    """The metrics recorded beside each checkpoint, on a test set
    (default MNIST's; seeded). For a VAE, in nats per image: ``negative_elbo`` =
    ``rate`` + ``distortion``, and ``active_units`` (Burda et al. 2016); with a Gaussian
    p(x|z), also ``x_sigma``, its learned standard deviation, and
    ``psnr_reconstruction`` (dB) of the decoded posterior means. For a denoiser, the
    mean PSNR (dB) of its output on the first 1000 test images under each noise of
    ``noise_tests`` (default ``DENOISING_TESTS``)."""
    check_instance(model, "model", _MODELS)
    if test_x is None:
        test_x = load_dataset("mnist", "test").images
    test_x = check_model_images(test_x, model, "test_x")
    if noise_tests is not None:
        _check_noise_tests(noise_tests)
    metrics: Metrics = {}
    if isinstance(model, VAE):
        rd = rate_distortion(model, test_x, seed=EVAL_SEED)
        metrics.update(
            negative_elbo=rd.negative_elbo.mean().item(),
            rate=rd.rate.mean().item(),
            distortion=rd.distortion.mean().item(),
            active_units=int(active_units(latent_means(model, test_x)).sum().item()),
        )
        decoder_std = model.decoder_std()
        if model.x_logvar is not None and decoder_std is not None:  # a learned sigma
            metrics.update(
                x_sigma=decoder_std.item(),
                psnr_reconstruction=psnr(naive_vae(model, test_x), test_x)
                .mean()
                .item(),
            )
    if denoising:
        clean = test_x[:DENOISING_TEST_IMAGES]
        for key, (noise, level) in (noise_tests or DENOISING_TESTS).items():
            noisy = noise(clean, level, torch.Generator().manual_seed(EVAL_SEED))
            metrics[key] = psnr(denoise(model, noisy), clean).mean().item()
    return metrics


def train_recipe(recipe: Recipe, model: Model, *, progress: bool = True) -> Metrics:
    """Train ``model`` (built from ``recipe.config``) as the recipe says; return its
    metrics."""
    check_instance(recipe, "recipe", Recipe)
    check_instance(model, "model", _MODELS)
    train_x = load_dataset(recipe.dataset, "train").images

    def beta_elbo(model: VAE, x: torch.Tensor) -> torch.Tensor:
        return model.loss(x, beta=recipe.beta)

    def denoising(model: Model, noisy: torch.Tensor, clean: torch.Tensor):
        return denoising_loss(model, noisy, clean, beta=recipe.beta)

    loss_fn: LossFn = beta_elbo
    targets, transform = None, None
    if recipe.denoising:
        targets, transform, loss_fn = train_x, recipe.noise.transform(), denoising
    elif recipe.warmup_epochs:
        steps_per_epoch = math.ceil(train_x.shape[0] / recipe.batch_size)
        loss_fn = KLWarmup(recipe.warmup_epochs * steps_per_epoch, beta=recipe.beta)
    device = next(model.parameters()).device
    history = fit(
        model,
        train_x,
        train_y=targets,
        num_epochs=recipe.num_epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        seed=recipe_seed(recipe),
        loss_fn=loss_fn,
        transform=transform,
        device=device,
        progress=progress,
    )
    metrics = evaluate_checkpoint(
        model,
        load_dataset(recipe.dataset, "test").images,
        denoising=recipe.denoising,
        noise_tests=recipe.noise.noise_tests(),
    )
    metrics.update(
        train_seconds=round(history.total_seconds, 1),
        train_device=history.device,
        train_loss=[round(v, 3) for v in history.train_loss],
    )
    return metrics


def load(
    name: str,
    *,
    retrain: bool | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Loaded:
    """The model of recipe ``name`` and its metrics: loaded from ``data/checkpoints`` or
    trained.

    ``retrain=None`` loads the shipped checkpoint on every device, and trains from
    scratch only when ``$VAE_BOOK_RETRAIN=1`` in full mode (quick mode always loads).
    """
    recipe = get_recipe(name)
    if retrain is None and book_mode() == "quick":
        retrain = False
    with seeded_init(recipe):
        return load_or_train(
            checkpoint_dir() / name,
            recipe.config,
            lambda model: train_recipe(recipe, model, progress=progress),
            retrain=retrain,
            device=device,
        )
