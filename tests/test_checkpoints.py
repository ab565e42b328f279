"""vae_lib.checkpoints: safetensors + JSON round trips, mismatches, atomic saves,
load_or_train."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vae_lib import checkpoints
from vae_lib.checkpoints import (
    CheckpointError,
    Loaded,
    load_checkpoint,
    load_or_train,
    save_checkpoint,
)
from vae_lib.models import VAE, Autoencoder, AutoencoderConfig, VAEConfig

TINY = {"image_shape": (1, 8, 8), "latent_dim": 3}
CONFIGS = {
    "ae-mlp": AutoencoderConfig(**TINY, hidden_dims=(16,)),
    "ae-linear": AutoencoderConfig(**TINY, hidden_dims=(), output="identity"),
    "ae-conv": AutoencoderConfig(
        **TINY, architecture="conv", hidden_dims=(4,), activation="tanh"
    ),
    "vae-mlp-bernoulli": VAEConfig(**TINY, hidden_dims=(16, 8)),
    "vae-conv-gaussian-learned": VAEConfig(
        **TINY, architecture="conv", hidden_dims=(4, 8), likelihood="gaussian"
    ),
    "vae-mlp-gaussian-fixed": VAEConfig(
        **TINY, hidden_dims=(16,), likelihood="gaussian", gaussian_logvar=-2.5
    ),
}
METRICS = {"test_loss": 12.5, "epochs": 3.0}


def build(config, seed=0):
    torch.manual_seed(seed)
    model = (VAE if isinstance(config, VAEConfig) else Autoencoder)(config)
    if getattr(model, "x_logvar", None) is not None:
        with torch.no_grad():
            # not its initial value, so a lost x_logvar would show
            model.x_logvar.fill_(0.37)
    return model


@pytest.fixture(autouse=True)
def no_retrain_override(monkeypatch):
    monkeypatch.delenv(checkpoints.RETRAIN_VARIABLE, raising=False)


@pytest.fixture
def saved(tmp_path):
    """A saved VAE checkpoint: (model, base path)."""
    model = build(CONFIGS["vae-conv-gaussian-learned"])
    save_checkpoint(model, tmp_path / "vae", METRICS)
    return model, tmp_path / "vae"


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_save_then_load_restores_weights_config_and_metrics(tmp_path, config):
    model = build(config)
    weights_path = save_checkpoint(model, tmp_path / "model", METRICS)
    assert weights_path == tmp_path / "model.safetensors"
    assert files_in(tmp_path) == ["model.json", "model.safetensors"]

    loaded, metrics = load_checkpoint(tmp_path / "model", expected_config=config)
    assert type(loaded) is type(model)
    assert loaded.config == config
    assert metrics == METRICS
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for key in original:
        assert torch.equal(original[key], restored[key]), key
    assert not loaded.training


def test_load_checkpoint_returns_a_loaded_named_tuple(saved):
    model, base = saved
    loaded = load_checkpoint(base)
    assert isinstance(loaded, Loaded) and isinstance(loaded, tuple)
    assert loaded._fields == ("model", "metrics")
    assert isinstance(loaded.model, VAE) and loaded.metrics == METRICS
    assert torch.equal(loaded.model.x_logvar, model.x_logvar)
    # it still unpacks and indexes as the pair it used to be
    unpacked_model, unpacked_metrics = loaded
    assert unpacked_model is loaded.model is loaded[0]
    assert unpacked_metrics is loaded.metrics is loaded[1]
    assert len(loaded) == 2


@pytest.mark.parametrize("suffix", [".safetensors", ".json"])
def test_either_file_name_names_the_checkpoint(saved, suffix):
    model, base = saved
    loaded, _ = load_checkpoint(base.with_name(base.name + suffix))
    assert torch.equal(loaded.x_logvar, model.x_logvar)


def test_a_loaded_model_computes_what_the_original_did(saved):
    model, base = saved
    loaded, _ = load_checkpoint(base)
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    original, restored = (
        m(x, generator=torch.Generator().manual_seed(1)) for m in (model.eval(), loaded)
    )
    assert torch.equal(original.posterior.mean, restored.posterior.mean)
    assert torch.equal(original.posterior.stddev, restored.posterior.stddev)
    assert torch.equal(original.z, restored.z)
    # a Gaussian p(x|z) with a learned sigma: its mean and the sigma both come back
    assert torch.equal(original.likelihood.mean, restored.likelihood.mean)
    assert torch.equal(original.likelihood.stddev, restored.likelihood.stddev)


def test_the_json_file_is_readable_and_holds_config_and_metrics(saved):
    model, base = saved
    text = base.with_suffix(".json").read_text(encoding="utf-8")
    assert text.count("\n") > 10  # indented for people, not one long line
    record = json.loads(text)
    assert record["model"] == "VAE"
    assert record["metrics"] == METRICS
    config = record["config"]
    assert config["likelihood"] == "gaussian" and config["gaussian_logvar"] is None
    assert config == json.loads(json.dumps(dataclasses.asdict(model.config)))


def test_no_pickle_is_written_or_needed(saved, monkeypatch):
    model, base = saved
    head = base.with_suffix(".safetensors").read_bytes()[:8]
    assert not head.startswith(b"\x80")  # pickle's protocol marker
    assert not head.startswith(b"PK")  # torch.save's zip archive

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    loaded, _ = load_checkpoint(base)
    assert torch.equal(loaded.x_logvar, model.x_logvar)


def test_save_overwrites_an_older_checkpoint(saved):
    _, base = saved
    newer = build(CONFIGS["vae-conv-gaussian-learned"], seed=1)
    save_checkpoint(newer, base, {"test_loss": 1.0})
    loaded, metrics = load_checkpoint(base)
    assert metrics == {"test_loss": 1.0}
    assert all(
        torch.equal(v, newer.state_dict()[k]) for k, v in loaded.state_dict().items()
    )


def test_names_with_dots_are_kept_whole(tmp_path):
    """A checkpoint named e.g. 'vae_beta0.5' must not lose '.5' (and collide with
    'vae_beta0.25')."""
    models = {
        name: build(CONFIGS["vae-mlp-bernoulli"], seed=i)
        for i, name in enumerate(["vae_beta0.5", "vae_beta0.25"])
    }
    for name, model in models.items():
        save_checkpoint(
            model, tmp_path / name, {"beta": float(name[len("vae_beta") :])}
        )
    assert files_in(tmp_path) == sorted(
        f"{name}.{ext}" for name in models for ext in ("json", "safetensors")
    )
    for name in models:
        assert load_checkpoint(tmp_path / name)[1] == {
            "beta": float(name[len("vae_beta") :])
        }


# --- failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latent_dim", 4),
        ("hidden_dims", (4, 16)),
        ("likelihood", "bernoulli"),
        ("gaussian_logvar", -1.0),
    ],
)
def test_a_different_expected_config_names_the_field(saved, field, value):
    model, base = saved
    expected = dataclasses.replace(model.config, **{field: value})
    stored = getattr(model.config, field)
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            f"{field} is {stored!r} in the checkpoint but {value!r} was asked for"
        ),
    ):
        load_checkpoint(base, expected_config=expected)


def test_a_different_model_class_is_refused(saved):
    _, base = saved
    with pytest.raises(CheckpointError, match="holds a VAE with a different config"):
        load_checkpoint(base, expected_config=AutoencoderConfig(**TINY))


@pytest.mark.parametrize("missing", [None, ".safetensors", ".json"])
def test_a_missing_file_is_reported(tmp_path, saved, missing):
    _, base = saved
    if missing is None:
        base = tmp_path / "never_saved"
        missing = ".safetensors"
    else:
        base.with_suffix(missing).unlink()
    with pytest.raises(
        CheckpointError,
        match=re.escape(f"checkpoint file {base.with_suffix(missing)} does not exist"),
    ):
        load_checkpoint(base)


def test_a_mismatched_pair_of_files_is_refused(tmp_path, saved):
    _, base = saved
    save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "other")
    (tmp_path / "other.json").replace(base.with_suffix(".json"))
    with pytest.raises(CheckpointError, match="describe different models"):
        load_checkpoint(base)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    small = build(CONFIGS["ae-mlp"])
    large = build(dataclasses.replace(CONFIGS["ae-mlp"], hidden_dims=(32,)))
    save_checkpoint(small, tmp_path / "model")
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as weights:
        metadata = weights.metadata()
    # The two files still describe the same model, but the tensors are those of a wider
    # one.
    save_file(
        large.state_dict(), str(tmp_path / "model.safetensors"), metadata=metadata
    )
    with pytest.raises(CheckpointError, match="do not fit an? Autoencoder"):
        load_checkpoint(tmp_path / "model")


def test_an_unreadable_record_is_refused(saved):
    _, base = saved
    json_path = base.with_suffix(".json")
    record = json.loads(json_path.read_text())
    record["model"] = "GAN"
    json_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="not one vae_lib can read"):
        load_checkpoint(base)


@pytest.mark.parametrize("suffix", [".safetensors", ".json"])
def test_a_truncated_file_is_a_checkpoint_error(saved, suffix):
    _, base = saved
    path = base.with_suffix(suffix)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(base)


@pytest.mark.parametrize("fail_in", ["save_file", "json"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_a_failed_save_leaves_nothing_behind(tmp_path, monkeypatch, fail_in, existing):
    old = build(CONFIGS["ae-mlp"], seed=1)
    if existing:
        save_checkpoint(old, tmp_path / "model", {"old": 1.0})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch, pytest.raises(OSError, match="disk full"):
        if fail_in == "save_file":
            patch.setattr(checkpoints, "save_file", broken)
        else:
            patch.setattr(checkpoints.Path, "write_text", broken)
        save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "model", {"new": 2.0})
    assert {
        p.name: p.read_bytes() for p in tmp_path.iterdir()
    } == before  # no .part files, old files intact


def test_saved_files_get_the_usual_permissions(tmp_path):
    """atomic_path gives its temporary file 0o666 & ~umask (mkstemp makes 0600); both
    finished files keep it."""
    umask = os.umask(0)
    os.umask(umask)
    save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "model")
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()}
    assert modes == {
        "model.json": oct(0o666 & ~umask),
        "model.safetensors": oct(0o666 & ~umask),
    }


def test_only_library_models_can_be_saved(tmp_path):
    with pytest.raises(TypeError, match="model must be one of"):
        save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "linear")
    assert list(tmp_path.iterdir()) == []


# --- load_or_train --------------------------------------------------------------------


class Trainer:
    """A train callback that records its calls and marks the model it trained."""

    def __init__(self) -> None:
        self.models = []

    def __call__(self, model):
        self.models.append(model)
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.5)
        return {"trained": 1.0}


@pytest.fixture
def trainer():
    return Trainer()


CONFIG = CONFIGS["vae-mlp-bernoulli"]


@pytest.mark.parametrize("existing", [False, True], ids=["trained", "loaded"])
def test_load_or_train_returns_a_loaded_named_tuple_either_way(
    tmp_path, trainer, existing
):
    if existing:
        save_checkpoint(build(CONFIG), tmp_path / "ckpt", METRICS)
    loaded = load_or_train(tmp_path / "ckpt", CONFIG, trainer, device="cpu")
    assert isinstance(loaded, Loaded)
    assert loaded._fields == ("model", "metrics")
    assert loaded.metrics == (METRICS if existing else {"trained": 1.0})
    assert trainer.models == ([] if existing else [loaded.model])
    model, metrics = loaded
    assert model is loaded.model and metrics is loaded.metrics


@pytest.mark.parametrize("save", [True, False])
def test_load_or_train_trains_when_there_is_no_checkpoint(tmp_path, trainer, save):
    model, metrics = load_or_train(
        tmp_path / "ckpt", CONFIG, trainer, save=save, device="cpu"
    )
    assert trainer.models == [model] and metrics == {"trained": 1.0}
    assert not model.training
    assert files_in(tmp_path) == (["ckpt.json", "ckpt.safetensors"] if save else [])
    if save:
        loaded, loaded_metrics = load_checkpoint(
            tmp_path / "ckpt", expected_config=CONFIG
        )
        assert loaded_metrics == metrics
        assert all(
            torch.equal(v, model.state_dict()[k])
            for k, v in loaded.state_dict().items()
        )


@pytest.mark.parametrize("retrain", [None, False])
def test_load_or_train_loads_an_existing_checkpoint_without_training(
    tmp_path, trainer, retrain
):
    stored = build(CONFIG, seed=3)
    save_checkpoint(stored, tmp_path / "ckpt", METRICS)
    model, metrics = load_or_train(
        tmp_path / "ckpt", CONFIG, trainer, retrain=retrain, device="cpu"
    )
    assert trainer.models == []
    assert metrics == METRICS
    assert all(
        torch.equal(v, stored.state_dict()[k]) for k, v in model.state_dict().items()
    )


def test_load_or_train_checks_the_config_of_an_existing_checkpoint(tmp_path, trainer):
    save_checkpoint(build(CONFIG), tmp_path / "ckpt")
    with pytest.raises(
        CheckpointError, match="latent_dim is 3 in the checkpoint but 5 was asked for"
    ):
        load_or_train(
            tmp_path / "ckpt",
            dataclasses.replace(CONFIG, latent_dim=5),
            trainer,
            device="cpu",
        )
    assert trainer.models == []


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_load_or_train_retrains_when_asked(tmp_path, trainer, monkeypatch, how):
    save_checkpoint(build(CONFIG), tmp_path / "ckpt", METRICS)
    if how == "environment":
        monkeypatch.setenv(checkpoints.RETRAIN_VARIABLE, "1")
    model, metrics = load_or_train(
        tmp_path / "ckpt",
        CONFIG,
        trainer,
        retrain=True if how == "argument" else None,
        save=True,
        device="cpu",
    )
    assert trainer.models == [model] and metrics == {"trained": 1.0}
    # the retrained model replaced the old
    assert load_checkpoint(tmp_path / "ckpt")[1] == {"trained": 1.0}


def test_load_or_train_with_retrain_false_and_no_checkpoint_fails(tmp_path, trainer):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_or_train(tmp_path / "ckpt", CONFIG, trainer, retrain=False, device="cpu")
    assert trainer.models == []
