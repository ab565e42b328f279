"""Where and how the book's code runs: the run mode, the device and the seeds.

The run mode and the book's seed are read here and nowhere else:

* ``VAE_BOOK_MODE=quick`` -- tiny training and small evaluation subsets; set by
  ``make test`` and CI so that every notebook still runs every cell, fast.
* ``VAE_BOOK_MODE=full`` (the default) -- the real chapter.
* ``VAE_BOOK_SEED=k`` -- shifts every seed of the book (:func:`book_seed`).

Introduced in Chapter 1 (parameters cell).
"""

from __future__ import annotations

import os
import platform
import random
from typing import TypeVar

import numpy as np
import torch

from .validate import check_non_negative_int, check_seed

MODES = ("quick", "full")
MODE_VARIABLE = "VAE_BOOK_MODE"
SEED_VARIABLE = "VAE_BOOK_SEED"
SEED_STRIDE = 1000  # seeds of different book seeds never meet: a chapter uses < 1000

T = TypeVar("T")


def book_mode() -> str:
    """Return the run mode, ``"quick"`` or ``"full"``, from ``$VAE_BOOK_MODE``
    (default full)."""
    mode = os.environ.get(MODE_VARIABLE, "full").strip().lower() or "full"
    if mode not in MODES:
        raise ValueError(
            f"{MODE_VARIABLE} must be one of {MODES}, got {os.environ[MODE_VARIABLE]!r}"
        )
    return mode


def book_seed(offset: int = 0) -> int:
    """A chapter's seed: ``SEED_STRIDE * $VAE_BOOK_SEED + offset`` ($VAE_BOOK_SEED
    defaults to 0).

    Every seed a chapter uses derives from it -- subsets, initialisation, noise, masks,
    samplers, and the recipes when retraining -- so ``make robustness`` can run the
    whole book again under seeds 0, 1 and 2 and see which claims hold for each.
    """
    text = os.environ.get(SEED_VARIABLE, "0").strip() or "0"
    if not text.isdigit():
        raise ValueError(
            f"{SEED_VARIABLE} must be a non-negative integer, got "
            f"{os.environ[SEED_VARIABLE]!r}"
        )
    return SEED_STRIDE * int(text) + check_non_negative_int(offset, "offset")


def pick(*, quick: T, full: T) -> T:
    """Choose a setting by run mode: ``num_epochs = pick(quick=1, full=20)``."""
    return quick if book_mode() == "quick" else full


def default_device() -> torch.device:
    """The fastest device present: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> tuple[str, ...]:
    """The device types this machine has: ``"cpu"``, and ``"cuda"`` or ``"mps"`` when
    present."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return tuple(names)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` means :func:`default_device`; a name such as ``"cpu"`` or a
    ``torch.device`` becomes a device, which must exist here (:func:`available_devices`;
    a CUDA index below the number of GPUs)."""
    if device is None:
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be None, a torch.device or a name like 'cpu', got {device!r}"
        ) from exc
    present = available_devices()
    if resolved.type not in present:
        raise ValueError(
            f"device must be one of the devices present here {present}, got "
            f"{device!r}: this machine has no {resolved.type!r} device"
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device must name one of the {torch.cuda.device_count()} GPU(s) here "
            f"(cuda:0 to cuda:{torch.cuda.device_count() - 1}), got {device!r}"
        )
    return resolved


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator with that
    seed."""
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def machine_description() -> str:
    """Where code runs, for benchmark records: the GPU's name, or the CPU and its core
    count."""
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
