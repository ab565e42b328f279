"""vae_lib.runtime: the run mode, the device and the seeds."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from vae_lib import runtime
from vae_lib.runtime import (
    book_mode,
    default_device,
    pick,
    resolve_device,
    seed_everything,
)


@pytest.fixture
def mode(monkeypatch):
    """Set $VAE_BOOK_MODE for one test (None: unset)."""

    def set_mode(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(runtime.MODE_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(runtime.MODE_VARIABLE, value)

    return set_mode


def test_book_mode_defaults_to_full(mode):
    mode(None)
    assert book_mode() == "full"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("quick", "quick"),
        ("full", "full"),
        (" Quick\n", "quick"),
        ("FULL", "full"),
        ("", "full"),
    ],
)
def test_book_mode_reads_the_environment(mode, value, expected):
    mode(value)
    assert book_mode() == expected


@pytest.mark.parametrize("value", ["fast", "quick,full", "0"])
def test_book_mode_rejects_unknown_values_naming_the_allowed_ones(mode, value):
    mode(value)
    with pytest.raises(
        ValueError, match=r"VAE_BOOK_MODE must be one of \('quick', 'full'\)"
    ) as info:
        book_mode()
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"), [("quick", 1), ("full", 20), (None, 20)]
)
def test_pick_follows_the_mode(mode, value, expected):
    mode(value)
    assert pick(quick=1, full=20) == expected


def _draws() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_seed_everything_makes_every_generator_reproducible():
    generator = seed_everything(123)
    first, first_gen = _draws(), torch.rand(3, generator=generator)
    generator = seed_everything(123)
    second, second_gen = _draws(), torch.rand(3, generator=generator)
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])
    assert torch.equal(first_gen, second_gen)
    assert isinstance(generator, torch.Generator) and generator.device.type == "cpu"


def test_seed_everything_different_seeds_differ():
    seed_everything(1)
    first = _draws()
    seed_everything(2)
    second = _draws()
    assert first[0] != second[0] and first[1] != second[1]
    assert not torch.equal(first[2], second[2])


def test_seed_everything_accepts_seeds_beyond_numpy_range():
    # NumPy only takes seeds below 2**32; larger ones must still work.
    seed_everything(2**40)
    a = np.random.rand()
    seed_everything(2**40)
    assert np.random.rand() == a


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", None])
def test_seed_everything_rejects_non_natural_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        seed_everything(seed)


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(),
    reason="this machine has an accelerator",
)
def test_resolve_device_none_is_the_cpu_here():
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device(None) == default_device()


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [
        (True, True, "cuda"),
        (True, False, "cuda"),
        (False, True, "mps"),
        (False, False, "cpu"),
    ],
)
def test_default_device_prefers_cuda_then_mps_then_cpu(
    monkeypatch, cuda, mps, expected
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert default_device() == torch.device(expected)
    assert resolve_device(None) == torch.device(expected)


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_resolve_device_accepts_names_and_devices(device):
    resolved = resolve_device(device)
    assert isinstance(resolved, torch.device) and resolved.type == "cpu"


@pytest.mark.parametrize("device", ["gpu", "nonsense:0", 3.5, ["cpu"]])
def test_resolve_device_rejects_bad_names(device):
    with pytest.raises(
        ValueError, match="device must be None, a torch.device or a name"
    ):
        resolve_device(device)


# --- the book's seed ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, offset, expected",
    [(None, 0, 0), ("0", 7, 7), ("1", 0, 1000), ("2", 5, 2005)],
)
def test_book_seed_shifts_every_seed_by_the_book_seed(
    monkeypatch, value, offset, expected
):
    if value is None:
        monkeypatch.delenv("VAE_BOOK_SEED", raising=False)
    else:
        monkeypatch.setenv("VAE_BOOK_SEED", value)
    assert runtime.book_seed(offset) == expected


def test_seeds_of_different_book_seeds_never_meet(monkeypatch):
    seen = set()
    for book in ("0", "1", "2"):
        monkeypatch.setenv("VAE_BOOK_SEED", book)
        seeds = {runtime.book_seed(k) for k in range(runtime.SEED_STRIDE)}
        assert not seeds & seen
        seen |= seeds


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_book_seed_rejects_what_is_not_a_non_negative_integer(monkeypatch, value):
    monkeypatch.setenv("VAE_BOOK_SEED", value)
    with pytest.raises(ValueError, match="VAE_BOOK_SEED must be a non-negative"):
        runtime.book_seed()


@pytest.mark.parametrize("offset", [-1, 1.0, True])
def test_book_seed_rejects_a_bad_offset(offset):
    with pytest.raises(ValueError, match="offset"):
        runtime.book_seed(offset)
