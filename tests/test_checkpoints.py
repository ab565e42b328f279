"""vae_lib.checkpoints: one safetensors file per checkpoint; round trips, verified
weights, refused mismatches, atomic saves, stale temporaries, the earlier format,
load_or_train."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import struct
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vae_lib import checkpoints, files
from vae_lib.checkpoints import (
    CheckpointError,
    Loaded,
    checkpoint_path,
    load_checkpoint,
    load_or_train,
    read_record,
    save_checkpoint,
    upgrade_checkpoint,
    weights_sha256,
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
METRICS = {
    "test_loss": 12.5,
    "epochs": 3.0,
    "train_loss": [14.0, 13.0],
    "device": "cpu",
}


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
    """A saved VAE checkpoint: (model, its file)."""
    model = build(CONFIGS["vae-conv-gaussian-learned"])
    return model, save_checkpoint(model, tmp_path / "vae", METRICS)


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def header_of(path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as file:
        return dict(file.metadata())


def rewrite(path, state, header=None, *, rehash=False) -> None:
    """Write ``state`` into ``path`` behind the library's back, with the old header
    (``rehash``: its SHA-256 made to match the new tensors)."""
    header = dict(header or header_of(path))
    if rehash:
        header["weights_sha256"] = weights_sha256(state)
    save_file(state, str(path), metadata=header)


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a
    )


# --- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_save_then_load_restores_weights_config_and_metrics(tmp_path, config):
    model = build(config)
    path = save_checkpoint(model, tmp_path / "model", METRICS)
    assert path == tmp_path / "model.safetensors"
    assert files_in(tmp_path) == ["model.safetensors"]  # one file, nothing else

    loaded, metrics = load_checkpoint(tmp_path / "model", expected_config=config)
    assert type(loaded) is type(model)
    assert loaded.config == config
    assert metrics == METRICS
    assert same_state(model.state_dict(), loaded.state_dict())
    assert not loaded.training


def test_load_checkpoint_returns_a_loaded_named_tuple(saved):
    model, path = saved
    loaded = load_checkpoint(path)
    assert isinstance(loaded, Loaded) and isinstance(loaded, tuple)
    assert loaded._fields == ("model", "metrics")
    assert isinstance(loaded.model, VAE) and loaded.metrics == METRICS
    assert torch.equal(loaded.model.x_logvar, model.x_logvar)
    unpacked_model, unpacked_metrics = loaded
    assert unpacked_model is loaded.model is loaded[0]
    assert unpacked_metrics is loaded.metrics is loaded[1]


@pytest.mark.parametrize("name", ["vae", "vae.safetensors"])
@pytest.mark.parametrize(
    "kind", [str, os.fspath, lambda p: p], ids=["str", "fspath", "Path"]
)
def test_the_file_may_be_named_with_or_without_its_suffix(saved, name, kind):
    model, path = saved
    loaded, _ = load_checkpoint(kind(path.parent / name))
    assert torch.equal(loaded.x_logvar, model.x_logvar)
    assert checkpoint_path(kind(path.parent / name)) == path


def test_a_loaded_model_computes_what_the_original_did(saved):
    model, path = saved
    loaded, _ = load_checkpoint(path)
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    original, restored = (
        m(x, generator=torch.Generator().manual_seed(1)) for m in (model.eval(), loaded)
    )
    assert torch.equal(original.posterior.mean, restored.posterior.mean)
    assert torch.equal(original.posterior.stddev, restored.posterior.stddev)
    assert torch.equal(original.z, restored.z)
    assert torch.equal(original.likelihood.mean, restored.likelihood.mean)
    assert torch.equal(original.likelihood.stddev, restored.likelihood.stddev)


def test_the_header_holds_the_record_and_the_weights_hash(saved):
    model, path = saved
    record = read_record(path)
    assert record.model == "VAE" and record.config == model.config
    assert record.metrics == METRICS
    assert record.weights_sha256 == weights_sha256(model.state_dict())
    assert re.fullmatch("[0-9a-f]{64}", record.weights_sha256)
    # a person can read it: the file starts with its length and then plain JSON
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])["__metadata__"]
    assert header["format"] == checkpoints.FORMAT
    assert json.loads(header["config"]) == json.loads(
        json.dumps(dataclasses.asdict(model.config))
    )


def test_the_weights_hash_covers_names_dtypes_shapes_and_bytes():
    state = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}
    digest = weights_sha256(state)
    assert weights_sha256(dict(reversed(state.items()))) == digest  # order of the dict
    changed = [
        {"a": state["a"], "c": state["b"]},  # a renamed tensor
        {"a": state["a"].double(), "b": state["b"]},
        {"a": state["a"].reshape(3, 2), "b": state["b"]},
        {"a": state["a"], "b": torch.tensor([1.0, 1.0 + 2**-20])},
    ]
    assert all(weights_sha256(other) != digest for other in changed)


def test_no_pickle_is_written_or_needed(saved, monkeypatch):
    model, path = saved
    raw = path.read_bytes()
    # safetensors: the header's length, then the JSON header; not torch.save's zip
    # archive, whose pickles start b"PK"
    (length,) = struct.unpack("<Q", raw[:8])
    assert raw[8:9] == b"{" and raw[8 + length - 1 : 8 + length].strip() in (b"}", b"")
    assert not raw.startswith(b"PK")

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    loaded, _ = load_checkpoint(path)
    assert torch.equal(loaded.x_logvar, model.x_logvar)


def test_save_overwrites_an_older_checkpoint(saved):
    _, path = saved
    newer = build(CONFIGS["vae-conv-gaussian-learned"], seed=1)
    save_checkpoint(newer, path, {"test_loss": 1.0})
    loaded, metrics = load_checkpoint(path)
    assert metrics == {"test_loss": 1.0}
    assert same_state(loaded.state_dict(), newer.state_dict())
    assert files_in(path.parent) == ["vae.safetensors"]


def test_names_with_dots_are_kept_whole(tmp_path):
    """A checkpoint named e.g. 'vae_beta0.5' must not lose '.5' (and collide with
    'vae_beta0.25')."""
    names = ["vae_beta0.5", "vae_beta0.25"]
    for i, name in enumerate(names):
        save_checkpoint(
            build(CONFIGS["vae-mlp-bernoulli"], seed=i), tmp_path / name, {"i": i}
        )
    assert files_in(tmp_path) == sorted(f"{name}.safetensors" for name in names)
    assert [load_checkpoint(tmp_path / name).metrics for name in names] == [
        {"i": 0},
        {"i": 1},
    ]


# --- paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["existing folder", "trailing slash"])
def test_a_folder_is_refused_and_nothing_is_written(tmp_path, how):
    folder = tmp_path / "runs"
    if how == "existing folder":
        folder.mkdir()
        path = folder
    else:
        path = str(folder) + os.sep
    model = build(CONFIGS["ae-mlp"])
    for call in (
        lambda: save_checkpoint(model, path),
        lambda: load_checkpoint(path),
        lambda: load_or_train(path, model.config, lambda m: {}, device="cpu"),
    ):
        with pytest.raises(
            ValueError, match="path must name a checkpoint file, got the folder"
        ):
            call()
    assert files_in(tmp_path) == (["runs"] if how == "existing folder" else [])
    assert not folder.exists() or files_in(folder) == []


def test_a_json_path_is_refused_with_the_reason(tmp_path):
    with pytest.raises(
        ValueError, match=r"path must name the checkpoint's \.safetensors file"
    ):
        save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "model.json")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("path", [None, 3, b"model", ["model"]])
def test_a_path_of_the_wrong_type_is_refused(path):
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path"):
        save_checkpoint(build(CONFIGS["ae-mlp"]), path)


def test_save_creates_missing_folders(tmp_path):
    path = save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "a" / "b" / "model")
    assert path.is_file() and load_checkpoint(path).model.config == CONFIGS["ae-mlp"]


# --- what loading refuses -------------------------------------------------------------


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
    model, path = saved
    expected = dataclasses.replace(model.config, **{field: value})
    stored = getattr(model.config, field)
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            f"{field} is {stored!r} in the checkpoint but {value!r} was asked for"
        ),
    ):
        load_checkpoint(path, expected_config=expected)


def test_a_different_model_class_is_refused(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="holds a VAE with a different config"):
        load_checkpoint(path, expected_config=AutoencoderConfig(**TINY))


def test_an_expected_config_of_the_wrong_type_is_refused(saved):
    _, path = saved
    with pytest.raises(TypeError, match="expected_config must be a model config"):
        load_checkpoint(path, expected_config={"latent_dim": 3})


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            f"checkpoint file {tmp_path / 'never_saved.safetensors'} does not exist"
        ),
    ):
        load_checkpoint(tmp_path / "never_saved")


def test_another_models_weights_under_the_same_record_are_refused(saved):
    """The same config, other weights: they fit the model, but they are not the ones
    the metrics were measured on."""
    model, path = saved
    other = build(model.config, seed=5).state_dict()
    rewrite(path, {k: v.contiguous() for k, v in other.items()})
    with pytest.raises(CheckpointError, match="not the ones saved with its record"):
        load_checkpoint(path)


def test_a_flipped_exponent_bit_is_refused(saved):
    """One bit of one weight: still finite, still loadable, and wrong."""
    _, path = saved
    raw = bytearray(path.read_bytes())
    (length,) = struct.unpack("<Q", raw[:8])
    entries = json.loads(raw[8 : 8 + length])
    start, _ = entries["encoder.0.weight"]["data_offsets"]
    # the top byte of the first float32 (little-endian) holds 7 of the 8 exponent bits;
    # flip its lowest, which multiplies or divides the weight by 2**2**1 = 4... or 2**64
    raw[8 + length + start + 3] ^= 0b0000_0001
    path.write_bytes(bytes(raw))
    with pytest.raises(
        CheckpointError, match="SHA-256 is [0-9a-f]{64}, the record says"
    ):
        load_checkpoint(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_even_with_a_matching_hash(saved, value):
    _, path = saved
    state = load_file(str(path))
    state["encoder.0.weight"][0, 0, 0, 0] = value
    rewrite(path, state, rehash=True)
    with pytest.raises(
        CheckpointError, match=r"holds nan or inf in encoder\.0\.weight"
    ):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    small = build(CONFIGS["ae-mlp"])
    large = build(dataclasses.replace(CONFIGS["ae-mlp"], hidden_dims=(32,)))
    path = save_checkpoint(small, tmp_path / "model")
    # the header still describes the small model, its hash those of the wider one
    rewrite(path, large.state_dict(), rehash=True)
    with pytest.raises(CheckpointError, match="do not fit an? Autoencoder"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model", "GAN", "records a model vae_lib cannot build"),
        ("config", '{"latent_dim": 3}', "records a model vae_lib cannot build"),
        ("config", "{not json", "has a damaged header"),
        ("metrics", "[1, 2", "has a damaged header"),
        ("weights_sha256", None, "has a damaged header"),
        ("format", "vae_lib checkpoint 9", "is not a vae_lib checkpoint"),
    ],
)
def test_a_damaged_header_is_refused(saved, key, value, message):
    _, path = saved
    header = header_of(path)
    if value is None:
        del header[key]
    else:
        header[key] = value
    rewrite(path, load_file(str(path)), header)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"PK\x03\x04 a torch.save archive")
    with pytest.raises(CheckpointError, match="is incomplete or corrupted"):
        load_checkpoint(path)


@pytest.mark.parametrize("fraction", [0.001, 0.5, 0.999])
def test_a_truncated_file_is_a_checkpoint_error(saved, fraction):
    _, path = saved
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(CheckpointError, match="is incomplete or corrupted"):
        load_checkpoint(path)


# --- what saving refuses, and failed saves --------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_model_with_non_finite_weights_is_not_saved(saved, value):
    model, path = saved
    before = path.read_bytes()
    with torch.no_grad():
        model.decoder[0].weight[0, 0] = value
    with pytest.raises(ValueError, match=r"model has nan or inf in decoder\.0\.weight"):
        save_checkpoint(model, path, {"diverged": 1.0})
    assert path.read_bytes() == before and files_in(path.parent) == ["vae.safetensors"]


@pytest.mark.parametrize("metrics", [{"loss": torch.tensor(1.0)}, {"f": print}, [1.0]])
def test_metrics_that_cannot_be_recorded_are_refused(tmp_path, metrics):
    with pytest.raises(TypeError, match="metrics must"):
        save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "model", metrics)
    assert files_in(tmp_path) == []


def test_only_library_models_can_be_saved(tmp_path):
    with pytest.raises(TypeError, match="model must be one of"):
        save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "linear")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("fail_in", ["writing", "flushing", "renaming"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_a_failed_save_leaves_the_old_checkpoint_and_no_temporary(
    tmp_path, monkeypatch, fail_in, existing
):
    """A full disk while writing, flushing or renaming: the old file, whole, and
    nothing else."""
    if existing:
        save_checkpoint(
            build(CONFIGS["ae-mlp"], seed=1), tmp_path / "model", {"old": 1.0}
        )
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    target = {
        "writing": (checkpoints.Path, "write_bytes"),
        "flushing": (files.os, "fsync"),
        "renaming": (files.os, "replace"),
    }[fail_in]
    with monkeypatch.context() as patch, pytest.raises(OSError, match="No space left"):
        patch.setattr(*target, disk_full)
        save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "model", {"new": 2.0})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    if existing:
        assert load_checkpoint(tmp_path / "model").metrics == {"old": 1.0}


def test_saved_files_get_the_usual_permissions(tmp_path):
    """atomic_path gives its temporary file 0o666 & ~umask (mkstemp makes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    path = save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "model")
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask)


# --- temporaries of killed writers ----------------------------------------------------


def dead_pid() -> int:
    """A process ID that no process has now."""
    pid = 2**22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_a_save_sweeps_the_temporaries_of_killed_writers(tmp_path):
    target = "model.safetensors"
    stale = [f".{target}.{dead_pid()}.abc123_x.part"]
    old = time.time() - files.STALE_AFTER_SECONDS - 60
    old_unknown = f".{target}.q1w2e3r4.part"  # an older writer's name, without a PID
    kept = [
        f".{target}.{os.getpid()}.zzz.part",  # a live writer (this process)
        f".{target}.k9k9k9k9.part",  # an unknown writer's, but recent
        f".other.safetensors.{dead_pid()}.abc.part",  # another target's
        f".{target}.{dead_pid()}.x.y.part",  # not a name atomic_path makes
    ]
    for name in stale + [old_unknown] + kept:
        (tmp_path / name).write_bytes(b"half a checkpoint")
    os.utime(tmp_path / old_unknown, (old, old))
    save_checkpoint(build(CONFIGS["ae-mlp"]), tmp_path / "model")
    assert files_in(tmp_path) == sorted([target] + kept)


# --- the earlier two-file format ------------------------------------------------------


def write_earlier_format(model, base, metrics) -> None:
    """What save_checkpoint wrote before: weights with the config in the metadata
    under "vae_lib", and a .json record beside them."""
    record = {
        "format": 1,
        "model": type(model).__name__,
        "config": dataclasses.asdict(model.config),
        "metrics": metrics,
    }
    embedded = json.dumps(
        {"model": record["model"], "config": record["config"]}, sort_keys=True
    )
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(base.with_name(base.name + ".safetensors")),
        metadata={"vae_lib": embedded},
    )
    base.with_name(base.name + ".json").write_text(json.dumps(record, indent=2))


def test_an_earlier_checkpoint_says_how_to_convert_it(tmp_path):
    write_earlier_format(build(CONFIGS["ae-mlp"]), tmp_path / "old", METRICS)
    with pytest.raises(CheckpointError, match=re.escape("upgrade_checkpoint(")):
        load_checkpoint(tmp_path / "old")


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_upgrading_keeps_the_weights_byte_for_byte(tmp_path, config):
    model = build(config)
    write_earlier_format(model, tmp_path / "old", METRICS)
    before = load_file(str(tmp_path / "old.safetensors"))
    path = upgrade_checkpoint(tmp_path / "old")
    assert files_in(tmp_path) == ["old.safetensors"]
    assert same_state(load_file(str(path)), before)
    loaded, metrics = load_checkpoint(path, expected_config=config)
    assert metrics == METRICS and same_state(loaded.state_dict(), model.state_dict())
    assert upgrade_checkpoint(path) == path  # a second upgrade changes nothing


def test_an_earlier_pair_that_does_not_match_is_not_joined(tmp_path):
    write_earlier_format(build(CONFIGS["ae-mlp"]), tmp_path / "a", METRICS)
    write_earlier_format(build(CONFIGS["vae-mlp-bernoulli"]), tmp_path / "b", METRICS)
    (tmp_path / "b.json").replace(tmp_path / "a.json")
    before = (tmp_path / "a.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="describe different models"):
        upgrade_checkpoint(tmp_path / "a")
    assert (tmp_path / "a.safetensors").read_bytes() == before


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
    assert files_in(tmp_path) == (["ckpt.safetensors"] if save else [])
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
