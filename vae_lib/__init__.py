"""vae_lib: the companion library of "Variational Autoencoders, hands on".

One concept per module: ``runtime`` (mode, device, seeds), ``data`` (offline data
sets), ``distributions`` (the prior, the reparameterised draw), ``models`` (the
autoencoder; the VAE as three distributions), ``losses`` and ``objectives``, ``train``,
``bounds`` and ``dequantization`` (Chapter 2), ``estimators``, ``trace`` and
``estimator_plots`` (Chapter 3: gradient estimators, a traced training run, their
figures), ``diagrams`` (block diagrams of the models and of the computational graph,
Chapters 1-3), ``checkpoints``, ``pretrained`` and
``shipped`` (the shipped models), ``latent``, ``compression``, ``metrics`` and
``classifier`` (Chapter 4), ``corrupt`` (noise models and masks), ``baselines``,
``denoisers`` and ``inference`` (Chapters 5-7: classical restorations, the residual
CNN a practitioner would train instead, and restoration as inference in a VAE),
``photos`` and ``tiling`` (Chapter 7: colour photographs, restoring an image of any
size), ``plots``, ``widgets`` and ``checks`` (exercise checkers);
``linear_gaussian`` is Chapter 2's exact model; ``notebooks``, ``text_sources``,
``robustness``, ``web_assets`` and ``gpu_check`` are the book's own tooling.

``import vae_lib`` makes every module available as an attribute, loaded on first use
(``vae_lib.metrics.psnr`` works after ``import vae_lib``); the most used names are also
importable from the package itself.

Conventions, the same in every module:

* **Randomness** is passed as a ``torch.Generator`` in an argument named
  ``generator``, on the device where the numbers are drawn; where it is optional,
  ``None`` draws from torch's global generator (seeded by :func:`seed_everything`). Only
  whole runs over a data set -- ``fit``, ``evaluate``, ``log_likelihood_estimate``,
  ``rate_distortion``, ``binarize_static`` and the recipes -- take an int ``seed``
  instead, because they derive several streams from it and their result must not
  depend on batch sizes or on a caller's generator.
* **Devices**: results come back on the device of the images passed in (for a metric,
  the reference images), whatever device the model is on; codes a model will decode
  again (``latent_means``) stay on the model's device.
* **Dtypes**: float64 inputs are kept in float64 or refused with an error that says
  what to convert; nothing is silently rounded to float32. Images given to a model
  must have its weights' dtype (:func:`vae_lib.validate.check_model_dtype`).
  (Computations under bf16 autocast come back in float32.)
* **Bad input** raises a ``ValueError`` or ``TypeError`` that names the argument, what
  was expected and what arrived: nan and inf are refused where finite values are
  meant, NumPy scalars are accepted wherever Python numbers are (bools are not), and
  arguments after the data are keyword-only. ``tests/test_bad_inputs_*.py`` sweeps
  every public function with such inputs.
* **Checkpoints** are one safetensors file each, with the config, the metrics and a
  SHA-256 of the weights in its header; a save replaces the file in one rename, and a
  load verifies the hash (:mod:`vae_lib.checkpoints`).
* **Modes**: a function that puts a model in eval mode restores the caller's train/eval
  mode when it returns (:func:`vae_lib.models.evaluating`); ``fit`` too.
* **Return values**: several results come back as a named tuple or a dataclass, whose
  fields say what each is (they still unpack like a tuple).
* **Types**: functions that use VAE-only methods say ``VAE`` in their signature; mypy
  checks the package in ``make test``.
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
from .runtime import book_mode, book_seed, default_device, pick, seed_everything
from .train import History, SpeedSettings, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "Autoencoder",
    "AutoencoderConfig",
    "History",
    "SpeedSettings",
    "VAEConfig",
    "binarize_dynamic",
    "binarize_static",
    "book_mode",
    "book_seed",
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
