"""vae_lib.shipped: building and verifying checkpoints and the command line
(``python -m vae_lib.shipped``), with tiny recipes.

As in test_pretrained.py (tiny_recipes.py), the registry is replaced by 784-8-2 VAEs
trained for one epoch and the data sets by their first 256 images, so a build takes a
fraction of a second; every folder is under tmp_path.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tiny_recipes import (
    METRIC_KEYS,
    TINY,
    enter_tiny_world,
)

from vae_lib import pretrained, shipped
from vae_lib.checkpoints import CheckpointError, load_checkpoint, read_record
from vae_lib.data import DATA_DIR_VARIABLE
from vae_lib.denoisers import ResidualDenoiserConfig
from vae_lib.models import AutoencoderConfig, VAEConfig
from vae_lib.pretrained import RECIPES, Recipe
from vae_lib.shipped import METRIC_TOLERANCE, REBUILD_TOLERANCE, RELATIVE_TOLERANCE


@pytest.fixture(autouse=True)
def tiny_world(monkeypatch):
    enter_tiny_world(monkeypatch)


@pytest.fixture
def built(tmp_path):
    """The tiny recipe built into tmp_path/checkpoints; returns that folder."""
    folder = tmp_path / "checkpoints"
    assert shipped.build(["tiny"], out_dir=folder) == []
    return folder


def record(folder, name="tiny") -> dict:
    kept = read_record(folder / name)
    return {
        "model": kept.model,
        "config": dataclasses.asdict(kept.config),
        "metrics": kept.metrics,
    }


def edit_metric(folder, key, change, name="tiny") -> None:
    """Add ``change`` to a recorded metric (None: delete it), in the file's header;
    the weights and their SHA-256 stay as they were."""
    path = folder / f"{name}.safetensors"
    with safe_open(str(path), framework="pt") as file:
        header = file.metadata()
    metrics = json.loads(header["metrics"])
    if change is None:
        del metrics[key]
    else:
        metrics[key] += change
    header["metrics"] = json.dumps(metrics)
    save_file(load_file(str(path)), str(path), metadata=header)


@pytest.mark.parametrize(
    "call",
    [
        lambda: shipped.build(["nope"]),
        lambda: shipped.verify(["nope"]),
        lambda: shipped.main(["list", "nope"]),
        lambda: shipped.main(["build", "tiny", "nope"]),
    ],
    ids=["build", "verify", "main", "main-build-after-a-good-name"],
)
def test_an_unknown_recipe_name_lists_the_known_ones(call, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(
        KeyError, match="no checkpoint recipe named 'nope'; known: tiny, tiny_warmup"
    ):
        call()
    # nothing was built before the check
    assert not (tmp_path / "checkpoints" / "tiny.safetensors").exists()


# --- build ----------------------------------------------------------------------------


def test_build_writes_weights_and_a_record_with_the_metrics(capsys, built):
    assert sorted(p.name for p in built.iterdir()) == ["tiny.safetensors"]
    data = record(built)
    assert data["model"] == "VAE"
    assert data["config"]["latent_dim"] == 2 and data["config"]["hidden_dims"] == (8,)
    metrics = data["metrics"]
    assert set(metrics) == METRIC_KEYS
    assert metrics["negative_elbo"] == pytest.approx(
        metrics["rate"] + metrics["distortion"], rel=1e-6
    )
    assert metrics["rate"] >= 0 and metrics["distortion"] > 0
    assert (
        metrics["train_device"] == "cpu"
        and len(metrics["train_loss"]) == TINY.num_epochs
    )
    assert math.isfinite(metrics["train_loss"][0])
    out = capsys.readouterr().out
    assert out.startswith(
        f"tiny: negative_elbo {metrics['negative_elbo']:.2f}, "
        f"rate {metrics['rate']:.2f}, "
        f"distortion {metrics['distortion']:.2f}, "
        f"active_units {metrics['active_units']} ("
    )
    assert "previous checkpoint" not in out  # there was none


def test_the_built_weights_give_the_recorded_metrics(built):
    model, metrics = load_checkpoint(built / "tiny", expected_config=TINY.config)
    measured = pretrained.evaluate_checkpoint(model)
    for key, value in measured.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key


def test_build_is_seeded(tmp_path):
    for folder in ("a", "b"):
        shipped.build(["tiny"], out_dir=tmp_path / folder)
    first, second = (
        load_checkpoint(tmp_path / f / "tiny").model.state_dict() for f in ("a", "b")
    )
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (
        record(tmp_path / "a")["metrics"]["negative_elbo"]
        == record(tmp_path / "b")["metrics"]["negative_elbo"]
    )


def test_build_defaults_to_the_checkpoint_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    shipped.build(["tiny"])
    assert (tmp_path / "checkpoints" / "tiny.safetensors").is_file()


def test_a_rebuild_that_gives_the_same_metrics_says_so(built, capsys):
    capsys.readouterr()
    assert shipped.build(["tiny"], out_dir=built) == []
    assert (
        capsys.readouterr().out.rstrip().endswith("; previous checkpoint: same metrics")
    )


def test_a_rebuild_tolerates_a_metric_that_moved_within_the_rebuild_tolerance(built):
    rate = record(built)["metrics"]["rate"]
    edit_metric(built, "rate", 0.5 * REBUILD_TOLERANCE * rate)
    assert shipped.build(["tiny"], out_dir=built) == []


@pytest.mark.parametrize("sign", [1, -1])
def test_a_rebuild_reports_a_metric_that_moved_beyond_the_rebuild_tolerance(
    built, capsys, sign
):
    rate = record(built)["metrics"]["rate"]
    edit_metric(built, "rate", sign * 2 * REBUILD_TOLERANCE * rate)
    before = record(built)["metrics"]["rate"]
    capsys.readouterr()
    assert shipped.build(["tiny"], out_dir=built) == [
        f"tiny: rate was {before}, rebuilt {rate}"
    ]
    assert "; previous checkpoint: differs in rate" in capsys.readouterr().out
    assert record(built)["metrics"]["rate"] == rate  # the new checkpoint is written


def test_a_rebuild_reports_a_metric_the_previous_checkpoint_lacked(built):
    edit_metric(built, "active_units", None)
    (problem,) = shipped.build(["tiny"], out_dir=built)
    assert problem.startswith("tiny: active_units was None, rebuilt ")


# --- verify ---------------------------------------------------------------------------


def test_verify_finds_nothing_wrong_right_after_build(built):
    assert shipped.verify(["tiny"], built) == []


def test_verify_tolerates_rounding_within_the_stated_tolerance(built):
    edit_metric(built, "negative_elbo", 0.5 * METRIC_TOLERANCE)
    assert shipped.verify(["tiny"], built) == []


@pytest.mark.parametrize("change", [2 * METRIC_TOLERANCE, -2 * METRIC_TOLERANCE, 1.0])
def test_verify_reports_a_recorded_metric_that_the_weights_do_not_give(built, change):
    recorded = record(built)["metrics"]["negative_elbo"] + change
    edit_metric(built, "negative_elbo", change)
    problems = shipped.verify(["tiny"], built)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"tiny: negative_elbo recorded {recorded} but re-evaluated "
    )


GAUSSIAN = Recipe(
    "tiny_gaussian",
    VAEConfig(
        latent_dim=2, hidden_dims=(8,), likelihood="gaussian", gaussian_logvar=-6.0
    ),
    num_epochs=1,
)


@pytest.mark.parametrize(("fraction", "reported"), [(0.5, False), (2.0, True)])
def test_verify_scales_its_tolerance_with_a_large_metric(
    tmp_path, monkeypatch, fraction, reported
):
    """A Gaussian decoder's -ELBO is thousands of nats: rounding is relative there."""
    monkeypatch.setattr(pretrained, "RECIPES", {GAUSSIAN.name: GAUSSIAN})
    shipped.build([GAUSSIAN.name], out_dir=tmp_path)
    value = record(tmp_path, GAUSSIAN.name)["metrics"]["negative_elbo"]
    change = fraction * RELATIVE_TOLERANCE * abs(value)
    assert change > 2 * METRIC_TOLERANCE  # beyond the absolute tolerance either way
    edit_metric(tmp_path, "negative_elbo", change, name=GAUSSIAN.name)
    problems = shipped.verify([GAUSSIAN.name], tmp_path)
    assert len(problems) == reported
    if reported:
        assert problems[0].startswith("tiny_gaussian: negative_elbo recorded ")


def test_verify_reports_a_missing_metric(built):
    edit_metric(built, "active_units", None)
    problems = shipped.verify(["tiny"], built)
    assert len(problems) == 1
    assert problems[0].startswith("tiny: active_units recorded None but re-evaluated ")


def test_verify_refuses_weights_of_another_config(built, monkeypatch):
    other = dataclasses.replace(
        TINY, config=dataclasses.replace(TINY.config, latent_dim=3)
    )
    monkeypatch.setattr(pretrained, "RECIPES", {"tiny": other})
    with pytest.raises(
        CheckpointError, match="latent_dim is 2 in the checkpoint but 3 was asked for"
    ):
        shipped.verify(["tiny"], built)


def test_verify_of_a_missing_checkpoint_says_which_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors does not exist"):
        shipped.verify(["tiny"], tmp_path)


def test_verify_defaults_to_the_checkpoint_dir(built, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(built.parent))
    assert shipped.verify(["tiny"]) == []
    edit_metric(built, "rate", 1.0)
    assert len(shipped.verify(["tiny"])) == 1


# --- denoising recipes (Chapter 5) ----------------------------------------------------

DENOISERS = {
    "tiny_dae": Recipe(
        "tiny_dae",
        AutoencoderConfig(latent_dim=2, hidden_dims=(8,)),
        num_epochs=1,
        denoising=True,
    ),
    "tiny_dvae": Recipe(
        "tiny_dvae",
        VAEConfig(latent_dim=2, hidden_dims=(8,)),
        num_epochs=1,
        denoising=True,
    ),
    "tiny_residual_cnn": Recipe(
        "tiny_residual_cnn",
        ResidualDenoiserConfig(channels=4, depth=2),
        num_epochs=1,
        denoising=True,
    ),
}


@pytest.mark.parametrize("name", DENOISERS)
def test_denoising_recipes_record_denoising_psnr_and_verify(
    monkeypatch, tmp_path, name
):
    monkeypatch.setattr(pretrained, "RECIPES", DENOISERS)
    shipped.build([name], out_dir=tmp_path)
    metrics = record(tmp_path, name)["metrics"]
    assert set(pretrained.DENOISING_TESTS) <= set(metrics)
    assert all(math.isfinite(metrics[key]) for key in pretrained.DENOISING_TESTS)
    # only a VAE has an ELBO
    assert ("negative_elbo" in metrics) == (name == "tiny_dvae")
    assert shipped.verify([name], tmp_path) == []
    edit_metric(tmp_path, "psnr_gaussian_0.5", 2 * METRIC_TOLERANCE, name=name)
    (problem,) = shipped.verify([name], tmp_path)
    assert problem.startswith(f"{name}: psnr_gaussian_0.5 recorded ")


# --- the command line -----------------------------------------------------------------


def test_main_list_prints_each_recipe(capsys):
    assert shipped.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "tiny: a tiny test model (1 epochs, beta 1.0)",
        "tiny_warmup:  (1 epochs, beta 2.0)",
    ]


def test_main_list_of_some_recipes_prints_only_those(capsys):
    assert shipped.main(["list", "tiny_warmup"]) == 0
    assert capsys.readouterr().out == "tiny_warmup:  (1 epochs, beta 2.0)\n"


def test_python_m_vae_lib_shipped_list_names_every_real_recipe():
    out = subprocess.run(
        [sys.executable, "-m", "vae_lib.shipped", "list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert [line.split(":")[0] for line in out.splitlines()] == list(RECIPES)


def test_main_builds_then_verifies(tmp_path, capsys):
    assert shipped.main(["build", "tiny", "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.safetensors"]
    assert capsys.readouterr().out.endswith("\nbuild finished\n")
    assert shipped.main(["verify", "tiny", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "1 checkpoints match their recorded metrics\n"
    edit_metric(tmp_path, "rate", 0.5)
    assert shipped.main(["verify", "tiny", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().out.startswith("tiny: rate recorded ")


def test_main_build_fails_when_a_rebuild_moved_a_metric(tmp_path, capsys):
    assert shipped.main(["build", "tiny", "--out", str(tmp_path)]) == 0
    edit_metric(tmp_path, "rate", 1.0)
    capsys.readouterr()
    assert shipped.main(["build", "tiny", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("tiny: rate was ")


def test_main_defaults_to_every_recipe(tmp_path, capsys):
    assert shipped.main(["build", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{n}.safetensors" for n in ("tiny", "tiny_warmup")
    )
    assert shipped.main(["verify", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.endswith(
        "2 checkpoints match their recorded metrics\n"
    )


def test_main_rejects_an_unknown_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        shipped.main(["train"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'train'" in capsys.readouterr().err
