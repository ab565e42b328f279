"""Save and restore trained models: one safetensors file per checkpoint, never pickle.

``save_checkpoint(model, "data/checkpoints/ch4_vae")`` writes
``data/checkpoints/ch4_vae.safetensors``: the weights, and in the file's header the
model's class, its config, the metrics recorded for it and a SHA-256 of the weights.
Because all of it is one file, weights cannot end up beside another model's record. The
file is written under a temporary name, flushed to disk and renamed once, so the path
holds either the complete old checkpoint or the complete new one, whenever the writer is
stopped. Loading recomputes the SHA-256 and refuses weights that changed after they were
saved (a flipped bit, another model's tensors) and weights that are not finite.

``load_or_train`` is how chapters get models too slow to train on a CPU: it loads the
shipped checkpoint there and trains from scratch on a GPU (used from Chapter 4 on).
``upgrade_checkpoint`` converts a checkpoint of the earlier two-file format (weights
beside a ``.json`` record) in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from .files import atomic_path
from .models import MODEL_CLASSES, Model, ModelConfig, build_model
from .runtime import resolve_device

# The "format" entry of a checkpoint's header. The first format kept the record in a
# separate .json file.
FORMAT = "vae_lib checkpoint 2"
SUFFIX = ".safetensors"
RETRAIN_VARIABLE = "VAE_BOOK_RETRAIN"


# What is recorded with a checkpoint: numbers, and a few strings and lists (the device
# it trained on, its loss per epoch).
Metrics = dict[str, Any]


class Loaded(NamedTuple):
    """A model restored or trained, in eval mode, and the metrics recorded for it."""

    model: Model
    metrics: Metrics


class Record(NamedTuple):
    """What a checkpoint's header says: the model class's name, its config, the
    recorded metrics and the SHA-256 of its weights (:func:`weights_sha256`)."""

    model: str
    config: ModelConfig
    metrics: Metrics
    weights_sha256: str


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not hold the model asked for."""


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """The file a checkpoint path names: ``path`` with ``.safetensors`` appended unless
    it ends so already (``"runs/vae_beta0.5"`` -> ``runs/vae_beta0.5.safetensors``).

    A folder is refused: a checkpoint is one file, named by its caller.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or a pathlib.Path naming a checkpoint file, got "
            f"{type(path).__name__} {path!r:.100}"
        )
    text = os.fspath(path)
    file = Path(text)
    if text.endswith(("/", os.sep)) or file.name in ("", ".", "..") or file.is_dir():
        raise ValueError(
            f"path must name a checkpoint file, got the folder {text!r}; name a file "
            f"in it, e.g. {str(file / 'model')!r}"
        )
    if file.suffix == ".json":
        raise ValueError(
            f"path must name the checkpoint's {SUFFIX} file (or leave out the suffix), "
            f"got {text!r}: a checkpoint is one {SUFFIX} file that holds its record"
        )
    return file if file.name.endswith(SUFFIX) else file.with_name(file.name + SUFFIX)


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: each tensor's name, dtype, shape and bytes, in name
    order (the file's layout and header do not enter it)."""
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise TypeError(
            "state must map names (str) to tensors, as model.state_dict() does, got "
            f"{type(state).__name__} {state!r:.100}"
        )
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(
            json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode()
        )
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _non_finite(state: Mapping[str, torch.Tensor]) -> list[str]:
    return [
        name
        for name, tensor in state.items()
        if tensor.is_floating_point() and not torch.isfinite(tensor).all()
    ]


def _model_and_config(model: object) -> tuple[str, ModelConfig]:
    name = type(model).__name__
    config = getattr(model, "config", None)
    if name not in MODEL_CLASSES or not isinstance(config, MODEL_CLASSES[name][1]):
        raise TypeError(
            f"model must be one of {sorted(MODEL_CLASSES)} with a config, got {name}"
        )
    return name, cast(ModelConfig, config)


def _check_config(config: object, name: str) -> None:
    configs = tuple(config_class for _, config_class in MODEL_CLASSES.values())
    if not isinstance(config, configs):
        raise TypeError(
            f"{name} must be a model config "
            f"({', '.join(c.__name__ for c in configs)}), got "
            f"{type(config).__name__} {config!r:.100}"
        )


def _config(model: str, fields: Mapping[str, Any], source: Path) -> ModelConfig:
    """Rebuild a frozen config from its JSON fields (lists back to tuples)."""
    try:
        _, config_class = MODEL_CLASSES[model]
        missing = {f.name for f in dataclasses.fields(config_class)} - set(fields)
        if missing:  # a default would stand in for what the model was trained with
            raise KeyError(f"fields {sorted(missing)} are missing")
        return config_class(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {source} records a model vae_lib cannot build ({exc}): "
            f"{model} {dict(fields)!r:.300}"
        ) from exc


def _write(
    state: dict[str, torch.Tensor],
    name: str,
    config: ModelConfig,
    metrics: Metrics,
    target: Path,
) -> None:
    bad = _non_finite(state)
    if bad:
        raise ValueError(
            f"model has nan or inf in {', '.join(bad)}: a checkpoint keeps only finite "
            "weights (nothing was written)"
        )
    try:
        metrics_text = json.dumps(metrics, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"metrics must map names to numbers, strings or lists of them ({exc})"
        ) from exc
    header = {
        "format": FORMAT,
        "model": name,
        "config": json.dumps(dataclasses.asdict(config), sort_keys=True),
        "metrics": metrics_text,
        "weights_sha256": weights_sha256(state),
    }
    # safetensors' save_file writes through a temporary of its own (".tmpXXXXXX",
    # left behind when the writer is killed): serialise in memory, write once.
    data = save(state, metadata=header)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def save_checkpoint(
    model: nn.Module, path: str | os.PathLike[str], metrics: Metrics | None = None
) -> Path:
    """Write ``model`` and ``metrics`` to the one file ``<path>.safetensors``, replacing
    any checkpoint there only once the new one is complete; returns the file's path.

    Refuses a model whose weights are not finite, so a diverged run never replaces a
    good checkpoint.
    """
    name, config = _model_and_config(model)
    target = checkpoint_path(path)
    if metrics is not None and not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict or None, got {type(metrics).__name__}")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _write(state, name, config, dict(metrics or {}), target)
    return target


def _header(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as file:
            return dict(file.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {path} is incomplete or corrupted ({exc}); save it again"
        ) from exc


def read_record(path: str | os.PathLike[str]) -> Record:
    """The record in a checkpoint's header (model, config, metrics, weights' SHA-256),
    read without loading the weights."""
    target = checkpoint_path(path)
    header = _header(target)
    if header.get("format") != FORMAT:
        if "vae_lib" in header:
            raise CheckpointError(
                f"checkpoint {target} has the earlier two-file format (its record in "
                f"{target.with_suffix('.json').name}); convert it once with "
                f"vae_lib.checkpoints.upgrade_checkpoint({str(target)!r})"
            )
        raise CheckpointError(
            f"{target} is not a vae_lib checkpoint: its header has format "
            f"{header.get('format')!r}, expected {FORMAT!r}"
        )
    try:
        model = header["model"]
        fields = json.loads(header["config"])
        metrics = json.loads(header["metrics"])
        digest = header["weights_sha256"]
    except (KeyError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {target} has a damaged header ({exc!r}); save it again"
        ) from exc
    return Record(model, _config(model, fields, target), metrics, digest)


def _check_expected(record: Record, expected: ModelConfig, path: Path) -> None:
    if record.config == expected:
        return
    diff = {
        f.name: (getattr(record.config, f.name, None), getattr(expected, f.name))
        for f in dataclasses.fields(expected)
        if getattr(record.config, f.name, None) != getattr(expected, f.name)
    }
    raise CheckpointError(
        f"checkpoint {path} holds a {record.model} with a different config than "
        "expected: "
        + ", ".join(
            f"{k} is {stored!r} in the checkpoint but {wanted!r} was asked for"
            for k, (stored, wanted) in diff.items()
        )
        + (
            f" (config types {type(record.config).__name__} vs "
            f"{type(expected).__name__})"
            if not diff
            else ""
        )
    )


def _verified_weights(path: Path, record: Record) -> dict[str, torch.Tensor]:
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {path} is incomplete or corrupted ({exc}); save it again"
        ) from exc
    digest = weights_sha256(state)
    if digest != record.weights_sha256:
        raise CheckpointError(
            f"the weights in {path} are not the ones saved with its record: their "
            f"SHA-256 is {digest}, the record says {record.weights_sha256}. The file "
            "was changed after it was saved; save or download it again"
        )
    bad = _non_finite(state)
    if bad:
        raise CheckpointError(
            f"checkpoint {path} holds nan or inf in {', '.join(bad)}; retrain the model"
        )
    return state


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    expected_config: ModelConfig | None = None,
    device: str | torch.device | None = "cpu",
) -> Loaded:
    """Restore a model, in eval mode on ``device``, and its recorded metrics.

    Fails with :class:`CheckpointError` when the file is missing or corrupt, when its
    weights do not match the SHA-256 in its header or are not finite, and when its
    config differs from ``expected_config`` (naming each field that differs).
    """
    target = checkpoint_path(path)
    if expected_config is not None:
        _check_config(expected_config, "expected_config")
    device = resolve_device(device)
    record = read_record(target)
    if expected_config is not None:
        _check_expected(record, expected_config, target)
    state = _verified_weights(target, record)
    model = build_model(record.config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"weights in {target} do not fit a {record.model} with config "
            f"{record.config}: {exc}"
        ) from exc
    return Loaded(model.to(device).eval(), record.metrics)


def upgrade_checkpoint(path: str | os.PathLike[str]) -> Path:
    """Convert a checkpoint of the earlier format (``<path>.safetensors`` beside
    ``<path>.json``) into one file, keeping its weights byte for byte; returns the
    file's path. The ``.json`` is removed once the new file is in place."""
    target = checkpoint_path(path)
    record_path = target.with_name(target.name[: -len(SUFFIX)] + ".json")
    header = _header(target)
    if header.get("format") == FORMAT:
        return target
    if not record_path.is_file():
        raise CheckpointError(
            f"{target} is in the earlier format but its record {record_path} is missing"
        )
    try:
        old = json.loads(record_path.read_text(encoding="utf-8"))
        embedded = json.loads(header["vae_lib"])
        name, fields = old["model"], old["config"]
    except (KeyError, ValueError) as exc:
        raise CheckpointError(
            f"{record_path} is not a checkpoint record ({exc!r})"
        ) from exc
    if embedded != {"model": name, "config": fields}:
        raise CheckpointError(
            f"{target} and {record_path} describe different models; they cannot be "
            "joined"
        )
    config = _config(name, fields, target)
    # The SHA-256 in the new header is computed from the old file's tensors, so every
    # later load proves the weights came through unchanged.
    _write(load_file(str(target)), name, config, old.get("metrics", {}), target)
    record_path.unlink()
    return target


def load_or_train(
    path: str | os.PathLike[str],
    config: ModelConfig,
    train: Callable[[Model], Metrics],
    *,
    retrain: bool | None = None,
    save: bool = False,
    device: str | torch.device | None = None,
) -> Loaded:
    """Load the checkpoint at ``path`` or train a fresh model with
    ``train(model) -> metrics``.

    ``retrain=None`` trains when ``$VAE_BOOK_RETRAIN=1`` or when no checkpoint exists,
    and loads otherwise, on every device: a GPU loads the same weights as a CPU, so
    every reader sees the same numbers. ``True``/``False`` force either way.
    With ``save=True`` a freshly trained model is written to ``path`` (as
    ``make checkpoints`` does).
    """
    device = resolve_device(device)
    target = checkpoint_path(path)
    _check_config(config, "config")
    if not callable(train):
        raise TypeError(
            f"train must be a function train(model) -> metrics, got {train!r:.100}"
        )
    for name, value, allowed in (
        ("retrain", retrain, "True, False or None"),
        ("save", save, "True or False"),
    ):
        if not (isinstance(value, bool) or (value is None and name == "retrain")):
            raise TypeError(f"{name} must be {allowed}, got {value!r:.100}")
    if retrain is None:
        retrain = os.environ.get(RETRAIN_VARIABLE) == "1" or not target.is_file()
    if not retrain:
        return load_checkpoint(path, expected_config=config, device=device)
    model = build_model(config).to(device)
    metrics = train(model)
    if save:
        save_checkpoint(model, target, metrics)
    return Loaded(model.eval(), metrics)
