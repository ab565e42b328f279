"""The bad-input sweep over vae_lib.checkpoints (harness: tests/bad_inputs.py).

Every call here must raise a ValueError or TypeError naming the bad argument, and
write nothing. Corrupt or mismatched *files* are not bad arguments: they raise
:class:`~vae_lib.checkpoints.CheckpointError` (tests/test_checkpoints.py).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from bad_inputs import Case, outcome

from vae_lib import checkpoints
from vae_lib.models import Autoencoder, AutoencoderConfig

torch.manual_seed(0)
CONFIG = AutoencoderConfig(image_shape=(1, 8, 8), latent_dim=2, hidden_dims=(16,))
MODEL = Autoencoder(CONFIG)
BROKEN = Autoencoder(CONFIG)
with torch.no_grad():
    BROKEN.encoder[1].weight[0, 0] = float("nan")
FOLDER = Path(tempfile.mkdtemp(prefix="vae_lib_bad_inputs_"))
atexit.register(shutil.rmtree, FOLDER, ignore_errors=True)
SAVED = checkpoints.save_checkpoint(MODEL, FOLDER / "saved")


def train(model):
    return {}


BAD_PATHS = {
    "none": None,
    "int": 3,
    "bytes": b"model",
    "folder": FOLDER,
    "trailing-slash": f"{FOLDER}/new/",
    "json": FOLDER / "model.json",
    "empty": "",
}

CASES: list[Case] = []
for kind, path in BAD_PATHS.items():
    CASES += [
        Case(
            "checkpoints.save_checkpoint",
            "path",
            kind,
            lambda path=path: checkpoints.save_checkpoint(MODEL, path),
        ),
        Case(
            "checkpoints.load_checkpoint",
            "path",
            kind,
            lambda path=path: checkpoints.load_checkpoint(path),
        ),
        Case(
            "checkpoints.load_or_train",
            "path",
            kind,
            lambda path=path: checkpoints.load_or_train(
                path, CONFIG, train, device="cpu"
            ),
        ),
        Case(
            "checkpoints.read_record",
            "path",
            kind,
            lambda path=path: checkpoints.read_record(path),
        ),
        Case(
            "checkpoints.upgrade_checkpoint",
            "path",
            kind,
            lambda path=path: checkpoints.upgrade_checkpoint(path),
        ),
        Case(
            "checkpoints.checkpoint_path",
            "path",
            kind,
            lambda path=path: checkpoints.checkpoint_path(path),
        ),
    ]

CASES += [
    Case(
        "checkpoints.save_checkpoint",
        "model",
        kind,
        lambda model=model: checkpoints.save_checkpoint(model, FOLDER / "other"),
    )
    for kind, model in {
        "torch-module": torch.nn.Linear(2, 2),
        "state-dict": MODEL.state_dict(),
        "none": None,
        "nan-weight": BROKEN,
    }.items()
]
CASES += [
    Case(
        "checkpoints.save_checkpoint",
        "metrics",
        kind,
        lambda metrics=metrics: checkpoints.save_checkpoint(
            MODEL, FOLDER / "other", metrics
        ),
    )
    for kind, metrics in {
        "list": [1.0],
        "tensor-value": {"loss": torch.tensor(1.0)},
        "function-value": {"f": print},
        "str": "loss=1",
    }.items()
]
CASES += [
    Case(
        "checkpoints.load_checkpoint",
        "expected_config",
        kind,
        lambda config=config: checkpoints.load_checkpoint(
            SAVED, expected_config=config
        ),
    )
    for kind, config in {
        "dict": {"latent_dim": 2},
        "model": MODEL,
        "str": "AutoencoderConfig",
    }.items()
]
CASES += [
    Case(
        "checkpoints.load_checkpoint",
        "device",
        kind,
        lambda device=device: checkpoints.load_checkpoint(SAVED, device=device),
    )
    for kind, device in {
        "typo": "cpux",
        "int-list": [0],
        "unavailable": "cuda:7",
    }.items()
]
CASES += [
    Case(
        "checkpoints.load_or_train",
        argument,
        kind,
        lambda kwargs=kwargs: checkpoints.load_or_train(
            **{"path": FOLDER / "trained", "config": CONFIG, "train": train}
            | {"device": "cpu"}
            | kwargs
        ),
    )
    for argument, kind, kwargs in [
        ("config", "dict", {"config": {"latent_dim": 2}}),
        ("config", "none", {"config": None}),
        ("train", "not-callable", {"train": {"loss": 1.0}}),
        ("retrain", "str", {"retrain": "yes"}),
        ("retrain", "int", {"retrain": 1}),
        ("save", "none", {"save": None}),
        ("save", "str", {"save": "true"}),
    ]
]
CASES += [
    Case(
        "checkpoints.weights_sha256",
        "state",
        kind,
        lambda state=state: checkpoints.weights_sha256(state),
    )
    for kind, state in {
        "list": [torch.ones(2)],
        "model": MODEL,
        "int-keys": {0: torch.ones(2)},
        "array-values": {"w": [1.0, 2.0]},
    }.items()
]

# NamedTuples and the error class take no input to check.
EXEMPT = {
    "checkpoints.Loaded": "a NamedTuple of results",
    "checkpoints.Record": "a NamedTuple of results",
    "checkpoints.CheckpointError": "an exception class",
}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_refused_naming_the_argument(case):
    kind, detail = outcome(case)
    assert kind == "clear", detail


def test_no_bad_call_wrote_anything():
    for case in CASES:
        outcome(case)
    assert sorted(p.name for p in FOLDER.iterdir()) == ["saved.safetensors"]
