"""A writer killed while it saves leaves the complete old checkpoint or the complete
new one, never a part or a mix.

A child process saves one checkpoint after another to the same path: version v has
every weight equal to the base model's plus v, and records ``{"version": v}``. The
parent kills it (SIGKILL, which no handler can catch) at a random moment, then loads
the file. It must verify (SHA-256, finite weights), hold version ``s - 1`` or ``s``
where ``s`` is the save under way when the child died, and its weights must be exactly
that version's. The next save sweeps the temporaries the killed writers left.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time

import pytest
import torch

from vae_lib.checkpoints import load_checkpoint, save_checkpoint
from vae_lib.models import Autoencoder, AutoencoderConfig

KILLS = 100
# about 1.6 MB of weights, so a save takes long enough to be caught in the middle
CONFIG = AutoencoderConfig(image_shape=(1, 28, 28), latent_dim=8, hidden_dims=(256,))

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="the kill test forks its writers (POSIX)",
)


def base_model() -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(CONFIG)


def set_version(
    model: Autoencoder, base: dict[str, torch.Tensor], version: int
) -> None:
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(base[name] + version)


def writer(path: str, first_version: int, started) -> None:  # runs in the child
    torch.set_num_threads(1)
    model = base_model()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    version = first_version
    while True:
        set_version(model, base, version)
        started.value = version
        save_checkpoint(model, path, {"version": version})
        version += 1


def temporaries(folder) -> list[str]:
    """Every file but the checkpoint: temporaries of unfinished saves."""
    return [p.name for p in folder.iterdir() if p.name != "model.safetensors"]


def test_a_killed_save_leaves_the_old_or_the_new_checkpoint(tmp_path):
    context = multiprocessing.get_context("fork")
    path = tmp_path / "model.safetensors"
    model = base_model()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    start = time.perf_counter()
    save_checkpoint(model, path, {"version": 0})
    save_seconds = time.perf_counter() - start
    rng = random.Random(0)
    on_disk, renamed, caught_writing = 0, 0, 0
    for _ in range(KILLS):
        started = context.Value("q", -1)
        child = context.Process(target=writer, args=(str(path), on_disk + 1, started))
        child.start()
        while started.value < 0 and child.is_alive():
            time.sleep(0.0005)
        # anywhere in the next few saves: while writing, flushing or renaming
        time.sleep(rng.uniform(0, 4 * save_seconds))
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        assert child.exitcode == -signal.SIGKILL
        under_way = started.value
        caught_writing += any(f".{child.pid}." in t for t in temporaries(tmp_path))

        loaded, metrics = load_checkpoint(path, expected_config=CONFIG)
        version = metrics["version"]
        assert version in (under_way - 1, under_way), (version, under_way)
        renamed += version == under_way
        expected = {k: base[k] + version for k in base}
        for name, tensor in loaded.state_dict().items():
            assert torch.equal(tensor, expected[name]), (name, version)
        on_disk = version
    print(
        f"{KILLS} kills in {time.perf_counter() - start:.1f} s: {caught_writing} "
        f"mid-save (a temporary left), {renamed} just after a rename"
    )
    # the test did catch writers in the middle of a save, and not only between saves
    assert caught_writing >= KILLS // 20
    save_checkpoint(model, path, {"version": -1})
    assert temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
