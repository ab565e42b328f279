"""Save and restore trained models: safetensors weights plus a JSON config, never
pickle.

``save_checkpoint(model, "data/checkpoints/ch4_vae")`` writes ``ch4_vae.safetensors``
(the weights, with the config also in its metadata) and ``ch4_vae.json`` (model class,
config and recorded metrics, for people to read). Both are written under temporary names
and renamed when complete. ``load_or_train`` is how chapters get models too slow to
train on a CPU: it loads the shipped checkpoint there and trains from scratch on a GPU
(used from Chapter 4 on).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .files import atomic_path
from .models import MODEL_CLASSES, Model, ModelConfig, build_model
from .runtime import resolve_device

FORMAT_VERSION = 1
RETRAIN_VARIABLE = "VAE_BOOK_RETRAIN"


# What is recorded beside a checkpoint: numbers, and a few strings and lists (the
# device it trained on, its loss per epoch).
Metrics = dict[str, Any]


class Loaded(NamedTuple):
    """A model restored or trained, in eval mode, and the metrics recorded for it."""

    model: Model
    metrics: Metrics


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or does not match the model asked for."""


def _paths(path: str | Path) -> tuple[Path, Path]:
    base = Path(path)
    if base.suffix in (".safetensors", ".json"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".safetensors"), base.with_name(
        base.name + ".json"
    )


def _record(model: nn.Module, metrics: Metrics | None) -> dict:
    name = type(model).__name__
    config = getattr(model, "config", None)
    if name not in MODEL_CLASSES or not isinstance(config, MODEL_CLASSES[name][1]):
        raise TypeError(
            f"model must be one of {sorted(MODEL_CLASSES)} with a config, got {name}"
        )
    return {
        "format": FORMAT_VERSION,
        "model": name,
        "config": dataclasses.asdict(cast(ModelConfig, config)),
        "metrics": dict(metrics or {}),
    }


def config_from_record(record: dict) -> ModelConfig:
    """Rebuild the frozen config stored in a checkpoint's JSON record
    (lists back to tuples)."""
    try:
        _, config_class = MODEL_CLASSES[record["model"]]
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in record["config"].items()
        }
        return config_class(**fields)
    except (KeyError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint record is not one vae_lib can read ({exc}): {record!r:.300}"
        ) from exc


def save_checkpoint(
    model: nn.Module, path: str | Path, metrics: Metrics | None = None
) -> Path:
    """Write ``<path>.safetensors`` and ``<path>.json``; returns the weights' path."""
    weights_path, json_path = _paths(path)
    record = _record(model, metrics)
    text = json.dumps(record, indent=2, sort_keys=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    config_text = json.dumps(
        {"model": record["model"], "config": record["config"]}, sort_keys=True
    )
    with atomic_path(weights_path) as tmp_weights, atomic_path(json_path) as tmp_json:
        save_file(state, str(tmp_weights), metadata={"vae_lib": config_text})
        tmp_json.write_text(text + "\n", encoding="utf-8")
    return weights_path


def load_checkpoint(
    path: str | Path,
    *,
    expected_config: ModelConfig | None = None,
    device: str | torch.device | None = "cpu",
) -> Loaded:
    """Restore a model and its recorded metrics; fail clearly on a config mismatch."""
    weights_path, json_path = _paths(path)
    for p in (weights_path, json_path):
        if not p.is_file():
            raise CheckpointError(f"checkpoint file {p} does not exist")
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
        with safe_open(str(weights_path), framework="pt") as weights:
            embedded = json.loads((weights.metadata() or {}).get("vae_lib", "{}"))
    except (ValueError, SafetensorError) as exc:
        raise CheckpointError(
            f"checkpoint {weights_path} is incomplete or corrupted ({exc}); "
            "save it again"
        ) from exc
    config = config_from_record(record)
    if embedded != {"model": record["model"], "config": record["config"]}:
        raise CheckpointError(
            f"{weights_path} and {json_path} describe different models; save the "
            "checkpoint again"
        )
    if expected_config is not None and config != expected_config:
        diff = {
            f.name: (
                getattr(config, f.name, None),
                getattr(expected_config, f.name, None),
            )
            for f in dataclasses.fields(expected_config)
            if getattr(config, f.name, None) != getattr(expected_config, f.name)
        }
        raise CheckpointError(
            f"checkpoint {weights_path} holds a {record['model']} with a different "
            "config than expected: "
            + ", ".join(
                f"{k} is {stored!r} in the checkpoint but {wanted!r} was asked for"
                for k, (stored, wanted) in diff.items()
            )
            + (
                f" (config types {type(config).__name__} vs "
                f"{type(expected_config).__name__})"
                if not diff
                else ""
            )
        )
    model = build_model(config)
    try:
        state = load_file(str(weights_path))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, OSError, SafetensorError) as exc:
        raise CheckpointError(
            f"weights in {weights_path} do not fit a {record['model']} with config "
            f"{config}: {exc}"
        ) from exc
    return Loaded(model.to(resolve_device(device)).eval(), record.get("metrics", {}))


def load_or_train(
    path: str | Path,
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
    weights_path, _ = _paths(path)
    if retrain is None:
        retrain = os.environ.get(RETRAIN_VARIABLE) == "1" or not weights_path.is_file()
    if not retrain:
        return load_checkpoint(path, expected_config=config, device=device)
    model = build_model(config).to(device)
    metrics = train(model)
    if save:
        save_checkpoint(model, path, metrics)
    return Loaded(model.eval(), metrics)
