"""vae_lib: the companion library of "Variational Autoencoders, hands on".

One concept per module: ``runtime`` (mode, device, seeds), ``data`` (offline data
sets), ``models``, ``losses``, ``train``, ``bounds`` and ``estimators`` (Chapters 2-3),
``checkpoints`` and ``pretrained`` (shipped models), ``latent``, ``compression`` and
``metrics`` (Chapter 4), ``corrupt`` and ``restore`` (Chapters 5-6: noise, masks,
denoising, inpainting), ``photos`` and ``tiling`` (Chapter 7: colour photographs,
restoring an image of any size), ``plots``, ``widgets`` and ``checks`` (exercise
checkers); ``notebooks`` and ``text_sources`` are the book's own tooling.

``import vae_lib`` makes every module available as an attribute, loaded on first use
(``vae_lib.metrics.psnr`` works after ``import vae_lib``); the most used names are also
importable from the package itself.
"""

import importlib
import pkgutil
from types import ModuleType

from .checkpoints import load_checkpoint, load_or_train, save_checkpoint
from .data import binarize_dynamic, binarize_static, load_dataset
from .models import (
    VAE,
    Autoencoder,
    AutoencoderConfig,
    VAEConfig,
    build_model,
    count_parameters,
)
from .runtime import book_mode, default_device, pick, seed_everything
from .train import History, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "Autoencoder",
    "AutoencoderConfig",
    "History",
    "VAEConfig",
    "binarize_dynamic",
    "binarize_static",
    "book_mode",
    "build_model",
    "count_parameters",
    "default_device",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_dataset",
    "load_or_train",
    "pick",
    "save_checkpoint",
    "seed_everything",
]

# Every module of the package, imported when first used as an attribute.
_MODULES = frozenset(module.name for module in pkgutil.iter_modules(__path__))


def __getattr__(name: str) -> ModuleType:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _MODULES)
