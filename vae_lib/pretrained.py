"""The book's shipped checkpoints: how each is trained, evaluated, built and verified
(Chapter 4 onwards).

Every model a chapter would rather not train on a CPU has a :class:`Recipe` here: its
config and its training settings, all seeded. ``python -m vae_lib.pretrained build``
(``make checkpoints``) trains each recipe and writes
``data/checkpoints/<name>.safetensors`` + ``.json`` with the metrics it measured;
``verify`` re-evaluates the shipped weights and compares them with those metrics.
Chapters call :func:`load`: it loads the checkpoint on every device (CPU, CUDA, MPS), so
every reader sees the book's numbers; with ``$VAE_BOOK_RETRAIN=1`` it trains from
scratch with the recipe instead (full mode), on whatever device there is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .checkpoints import load_checkpoint, load_or_train
from .corrupt import gaussian_noise, salt_and_pepper, training_noise
from .data import data_dir, load_dataset
from .latent import active_units, latent_means, rate_distortion
from .losses import KLWarmup, denoising_loss
from .metrics import psnr
from .models import VAE, AutoencoderConfig, NetworkConfig, VAEConfig
from .restore import naive_vae
from .runtime import book_mode, resolve_device
from .train import fit

# nats: re-evaluating the same weights on another CPU may differ in rounding only
METRIC_TOLERANCE = 0.01
# for large metrics (a Gaussian decoder's -ELBO is thousands of nats), rounding scales
RELATIVE_TOLERANCE = 1e-5
# relative: retraining repeats the same seeded steps, so it should match closely
REBUILD_TOLERANCE = 0.01
EVAL_SEED = 0


@dataclass(frozen=True)
class Recipe:
    """How one checkpoint is made: a model config trained with Adam on a data set's
    training split (``dataset``, by default MNIST's 60,000 grey-level images), evaluated
    on its test split. A VAE minimises the negative ELBO with KL weight ``beta`` (ramped
    up from 0 over the first ``warmup_epochs`` if > 0). With ``denoising=True`` the
    model sees each image under fresh random noise
    (:func:`vae_lib.corrupt.training_noise`) and learns to output the clean one
    (Chapter 5)."""

    name: str
    config: NetworkConfig
    num_epochs: int
    beta: float = 1.0
    warmup_epochs: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    summary: str = ""
    denoising: bool = False
    dataset: str = "mnist"


_MLP = VAEConfig(latent_dim=32, hidden_dims=(256,))


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
            VAEConfig(architecture="conv", latent_dim=32, hidden_dims=(32, 64)),
            20,
            summary="convolutional VAE, channels 32-64, 32-D latent",
        ),
        Recipe(
            "ch5_conv_vae",
            VAEConfig(architecture="conv", latent_dim=32, hidden_dims=(32, 64)),
            50,
            summary=(
                "Chapter 4's convolutional VAE trained 2.5 times longer: the "
                "generative model for MAP denoising"
            ),
        ),
        Recipe(
            "ch5_denoising_vae",
            VAEConfig(architecture="conv", latent_dim=32, hidden_dims=(32, 64)),
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
    ]
}


@contextlib.contextmanager
def _seeded_init(recipe: Recipe):
    """Seed the weights' initialisation with the recipe's seed, leaving the caller's
    generator as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        yield


def checkpoint_dir() -> Path:
    """Where shipped checkpoints live: ``data/checkpoints`` (or under
    ``$VAE_BOOK_DATA``)."""
    return data_dir() / "checkpoints"


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(
            f"no checkpoint recipe named {name!r}; known: {', '.join(RECIPES)}"
        )
    return RECIPES[name]


DENOISING_TESTS = {
    "psnr_gaussian_0.3": (gaussian_noise, 0.3),
    "psnr_gaussian_0.5": (gaussian_noise, 0.5),
    "psnr_salt_pepper_0.1": (salt_and_pepper, 0.1),
    "psnr_salt_pepper_0.3": (salt_and_pepper, 0.3),
}
DENOISING_TEST_IMAGES = 1000


@torch.no_grad()
def denoise(model: nn.Module, noisy: torch.Tensor) -> torch.Tensor:
    """A denoiser's output for noisy images (B, C, H, W): the autoencoder's output, or
    the VAE's decoded posterior mean."""
    if isinstance(model, VAE):
        return naive_vae(model, noisy)
    return model(noisy.to(next(model.parameters()).device))


@torch.no_grad()
def evaluate_checkpoint(
    model: nn.Module, test_x: torch.Tensor | None = None, *, denoising: bool = False
) -> dict[str, float]:
    """The metrics recorded beside each checkpoint, on a test set
    (default MNIST's; seeded). For a VAE, in nats per image: ``negative_elbo`` =
    ``rate`` + ``distortion``, and ``active_units`` (Burda et al. 2016); with a Gaussian
    p(x|z), also ``x_sigma``, its learned standard deviation, and
    ``psnr_reconstruction`` (dB) of the decoded posterior means. For a denoiser, the
    mean PSNR (dB) of its output on the first 1000 test images under each noise of
    ``DENOISING_TESTS``."""
    if test_x is None:
        test_x = load_dataset("mnist", "test").images
    metrics: dict[str, float] = {}
    if isinstance(model, VAE):
        rd = rate_distortion(model, test_x, seed=EVAL_SEED)
        metrics.update(
            negative_elbo=rd.negative_elbo.mean().item(),
            rate=rd.rate.mean().item(),
            distortion=rd.distortion.mean().item(),
            active_units=int(active_units(latent_means(model, test_x)).sum().item()),
        )
        if model.x_logvar is not None:
            metrics.update(
                x_sigma=torch.exp(0.5 * model.x_logvar).item(),
                psnr_reconstruction=psnr(naive_vae(model, test_x), test_x)
                .mean()
                .item(),
            )
    if denoising:
        clean = test_x[:DENOISING_TEST_IMAGES]
        for key, (noise, level) in DENOISING_TESTS.items():
            noisy = noise(clean, level, torch.Generator().manual_seed(EVAL_SEED))
            metrics[key] = psnr(denoise(model, noisy), clean).mean().item()
    return metrics


def train_recipe(
    recipe: Recipe, model: nn.Module, *, progress: bool = True
) -> dict[str, float]:
    """Train ``model`` (built from ``recipe.config``) as the recipe says; return its
    metrics."""
    train_x = load_dataset(recipe.dataset, "train").images
    loss_fn = lambda m, x: m.loss(x, beta=recipe.beta)
    targets, transform = None, None
    if recipe.denoising:
        targets, transform = train_x, training_noise
        loss_fn = lambda m, noisy, clean: denoising_loss(
            m, noisy, clean, beta=recipe.beta
        )
    elif recipe.warmup_epochs:
        steps_per_epoch = math.ceil(train_x.shape[0] / recipe.batch_size)
        loss_fn = KLWarmup(recipe.warmup_epochs * steps_per_epoch, beta=recipe.beta)
    device = next(model.parameters()).device
    history = fit(
        model,
        train_x,
        targets,
        num_epochs=recipe.num_epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        seed=recipe.seed,
        loss_fn=loss_fn,
        transform=transform,
        device=device,
        progress=progress,
    )
    metrics = evaluate_checkpoint(
        model, load_dataset(recipe.dataset, "test").images, denoising=recipe.denoising
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
) -> tuple[nn.Module, dict[str, float]]:
    """The model of recipe ``name`` and its metrics: loaded from ``data/checkpoints`` or
    trained.

    ``retrain=None`` loads the shipped checkpoint on every device, and trains from
    scratch only when ``$VAE_BOOK_RETRAIN=1`` in full mode (quick mode always loads).
    """
    recipe = _recipe(name)
    if retrain is None and book_mode() == "quick":
        retrain = False
    with _seeded_init(recipe):
        return load_or_train(
            checkpoint_dir() / name,
            recipe.config,
            lambda model: train_recipe(recipe, model, progress=progress),
            retrain=retrain,
            device=device,
        )


def _recorded_metrics(path: Path) -> dict | None:
    json_path = path.with_name(path.name + ".json")
    return (
        json.loads(json_path.read_text(encoding="utf-8")).get("metrics")
        if json_path.is_file()
        else None
    )


def build(
    names: list[str], out_dir: Path | None = None, device: str | None = "cpu"
) -> list[str]:
    """Train each named recipe from scratch and write its checkpoint
    (``make checkpoints``).

    Where a checkpoint was already there, its recorded metrics are compared with the new
    ones; returns one line per metric that moved by more than ``REBUILD_TOLERANCE``
    (relative).
    """
    # reject a misspelt name before any training
    recipes = [_recipe(name) for name in names]
    out_dir = Path(out_dir or checkpoint_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, recipe in zip(names, recipes):
        before = _recorded_metrics(out_dir / name)
        start = time.perf_counter()
        with _seeded_init(recipe):
            _, metrics = load_or_train(
                out_dir / name,
                recipe.config,
                lambda m, r=recipe: train_recipe(r, m),
                retrain=True,
                save=True,
                device=resolve_device(device),
            )
        compared = {
            k: v
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and k != "train_seconds"
        }
        line = (
            f"{name}: "
            + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in compared.items()
            )
            + f" ({time.perf_counter() - start:.0f} s)"
        )
        if before is not None:
            moved = [
                k
                for k, v in compared.items()
                if abs(v - before.get(k, math.inf)) > REBUILD_TOLERANCE * abs(v)
            ]
            line += "; previous checkpoint: " + (
                f"differs in {', '.join(moved)}" if moved else "same metrics"
            )
            problems += [
                f"{name}: {k} was {before.get(k)}, rebuilt {metrics[k]}" for k in moved
            ]
        print(line, flush=True)
    return problems


def verify(names: list[str], directory: Path | None = None) -> list[str]:
    """Re-evaluate each shipped checkpoint on the CPU; return one line per metric that
    does not match."""
    directory = Path(directory or checkpoint_dir())
    test_sets: dict[str, torch.Tensor] = {}
    problems = []
    for name in names:
        recipe = _recipe(name)
        model, recorded = load_checkpoint(
            directory / name, expected_config=recipe.config, device="cpu"
        )
        if recipe.dataset not in test_sets:
            test_sets[recipe.dataset] = load_dataset(recipe.dataset, "test").images
        measured = evaluate_checkpoint(
            model, test_sets[recipe.dataset], denoising=recipe.denoising
        )
        for key, value in measured.items():
            if key not in recorded or abs(recorded[key] - value) > max(
                METRIC_TOLERANCE, RELATIVE_TOLERANCE * abs(value)
            ):
                problems.append(
                    f"{name}: {key} recorded {recorded.get(key)} but re-evaluated "
                    f"{value:.4f}"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae_lib.pretrained",
        # the module docstring's summary paragraph, joined into one line
        description=" ".join(__doc__.split("\n\n")[0].split()),
    )
    parser.add_argument("command", choices=("build", "verify", "list"))
    parser.add_argument("names", nargs="*", help="recipes (default: all)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for build (default: data/checkpoints)",
    )
    parser.add_argument(
        "--device", default="cpu", help="device to train on for build (default: cpu)"
    )
    args = parser.parse_args(argv)
    names = args.names or list(RECIPES)
    for name in names:
        _recipe(name)
    if args.command == "list":
        for r in (RECIPES[n] for n in names):
            print(f"{r.name}: {r.summary} ({r.num_epochs} epochs, beta {r.beta})")
    elif args.command == "build":
        problems = build(names, args.out, args.device)
        print("\n".join(problems) or "build finished")
        return 1 if problems else 0
    else:
        problems = verify(names, args.out)
        print(
            "\n".join(problems)
            or f"{len(names)} checkpoints match their recorded metrics"
        )
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
