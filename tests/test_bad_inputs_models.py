"""Bad inputs to the models, training, losses, bounds, estimators and data modules: each
must be refused with a ValueError or TypeError naming the argument (issue 22).

Empty batches are bad inputs only where nothing sensible can come back (a mean over no
images: ``fit``, ``evaluate``, ``log_likelihood_estimate``, ``train_digit_classifier``);
elsewhere an empty batch gives an empty result, the right answer, and is left out.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_inputs import Case, outcome
from torch import nn
from torch.distributions import Bernoulli, Independent, Normal

from vae_lib import (
    bounds,
    data,
    dequantization,
    distributions,
    estimators,
    losses,
    objectives,
    runtime,
    trace,
    train,
)
from vae_lib.classifier import DigitClassifier, train_digit_classifier
from vae_lib.denoisers import ResidualDenoiser, ResidualDenoiserConfig
from vae_lib.linear_gaussian import LinearGaussianModel
from vae_lib.models import (
    VAE,
    Autoencoder,
    AutoencoderConfig,
    NetworkConfig,
    VAEConfig,
    build_decoder,
    build_encoder,
    build_model,
    count_parameters,
    evaluating,
    keeping_mode,
)

MODULES = (
    "runtime",
    "models",
    "train",
    "losses",
    "objectives",
    "distributions",
    "data",
    "denoisers",
    "bounds",
    "estimators",
    "linear_gaussian",
    "dequantization",
    "trace",
    "classifier",
)

SHAPE = (1, 8, 8)
torch.manual_seed(0)
IMAGES = torch.rand(4, *SHAPE)  # (4, 1, 8, 8) float32 in [0, 1]
BINARY = (IMAGES > 0.5).float()
LABELS = torch.tensor([0, 1, 2, 1])
SMALL = {"image_shape": SHAPE, "latent_dim": 2, "hidden_dims": (16,)}
AE = Autoencoder(AutoencoderConfig(**SMALL))
VAE_MODEL = VAE(VAEConfig(**SMALL))
DENOISER = ResidualDenoiser(
    ResidualDenoiserConfig(image_shape=SHAPE, channels=4, depth=2)
)
CLASSIFIER = DigitClassifier(SHAPE, num_classes=3, hidden=16)
LINEAR = LinearGaussianModel.random(5, 2)
Z = torch.zeros(4, 2)  # codes (B, latent_dim)
Q = distributions.diagonal_gaussian(torch.zeros(4, 2), torch.zeros(4, 2))
QUIET = {"progress": False, "device": "cpu"}
MU, LOGVAR = torch.zeros(3), torch.zeros(3)


def with_nan(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = math.nan
    return t


def with_inf(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = math.inf
    return t


# Bad image batches built from a good one (B, C, H, W) float32 in [0, 1].
IMAGE_KINDS: dict[str, Callable[[torch.Tensor], object]] = {
    "shape": lambda x: x[0],  # (C, H, W): no batch axis
    "shape-size": lambda x: x[..., :-1],  # wrong W
    "uint8": lambda x: (x * 255).to(torch.uint8),
    "float64": lambda x: x.double(),  # where the model is float32
    "range": lambda x: x + 2.0,
    "nan": with_nan,
    "inf": with_inf,
    "list": lambda x: x.tolist(),
    "numpy": lambda x: x.numpy(),
}
ALL_IMAGE_KINDS = tuple(IMAGE_KINDS)
# Images a model's input needs: every kind; without "range" where values outside [0, 1]
# are meaningful (noisy images, logits).
ANY_RANGE = tuple(k for k in ALL_IMAGE_KINDS if k != "range")
# No model dtype to match, no pinned image size.
NO_MODEL = tuple(k for k in ALL_IMAGE_KINDS if k not in ("float64", "shape-size"))

# Bad codes (B, latent_dim) for a float32 model with latent_dim 2.
CODE_KINDS: dict[str, Callable[[torch.Tensor], object]] = {
    "shape": lambda z: z[:, :1],
    "float64": lambda z: z.double(),
    "int": lambda z: z.long(),
    "nan": with_nan,
    "inf": with_inf,
    "list": lambda z: z.tolist(),
}

POSITIVE_INT = {
    "zero": 0,
    "negative": -1,
    "bool": True,
    "str": "3",
    "float": 2.5,
    "nan": math.nan,
}
NON_NEGATIVE_INT = {k: v for k, v in POSITIVE_INT.items() if k != "zero"}
POSITIVE_FLOAT = {
    "zero": 0.0,
    "negative": -1.0,
    "nan": math.nan,
    "inf": math.inf,
    "bool": True,
    "str": "0.1",
}
NON_NEGATIVE_FLOAT = {k: v for k, v in POSITIVE_FLOAT.items() if k != "zero"}
FINITE_FLOAT = {"nan": math.nan, "inf": math.inf, "bool": True, "str": "1"}
NOT_A_GENERATOR = {"generator-int": 3, "generator-str": "gen"}
NOT_A_MODEL = {"type-str": "model", "type-module": nn.Linear(2, 2)}


def cases(
    function: str,
    argument: str,
    call: Callable[[object], object],
    values: dict[str, Callable[[], object]] | dict[str, object],
    kinds: tuple[str, ...] | None = None,
    suffix: str = "",
) -> list[Case]:
    """One case per bad value: ``call(value)``. ``values`` maps a kind to the value, or
    to a function of a good tensor (the image and code kinds, given ``suffix``-free)."""
    chosen = kinds if kinds is not None else tuple(values)
    return [
        Case(function, argument, kind + suffix, lambda v=values[kind]: call(v))
        for kind in chosen
    ]


def images(
    function: str,
    argument: str,
    call: Callable[[object], object],
    kinds: tuple[str, ...] = ALL_IMAGE_KINDS,
    good: torch.Tensor = IMAGES,
) -> list[Case]:
    """Cases for an argument taking images (B, C, H, W)."""
    return cases(
        function, argument, call, {k: IMAGE_KINDS[k](good) for k in kinds}, kinds
    )


def codes(function: str, argument: str, call: Callable[[object], object]) -> list[Case]:
    """Cases for an argument taking codes (B, 2) of a float32 model."""
    return cases(function, argument, call, {k: f(Z) for k, f in CODE_KINDS.items()})


@contextlib.contextmanager
def environment(variable: str, value: str) -> Iterator[None]:
    old = os.environ.get(variable)
    os.environ[variable] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[variable]
        else:
            os.environ[variable] = old


def under_environment(variable: str, value: str, call: Callable[[], object]):
    def run() -> object:
        with environment(variable, value):
            return call()

    return run


def empty_folder() -> str:
    return tempfile.mkdtemp(prefix="vae_bad_inputs_")


def folder_missing_a_file() -> str:
    """A data root whose mnist/ holds one of its four files only."""
    root = Path(empty_folder())
    (root / "mnist").mkdir()
    (root / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    return str(root)


def unavailable_devices() -> list[str]:
    """Device names whose type this machine lacks (and one index past the last GPU)."""
    names = [f"cuda:{torch.cuda.device_count()}"]
    if not torch.cuda.is_available():
        names.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        names.append("mps")
    return names


CASES: list[Case] = []

# ---- runtime -------------------------------------------------------------------------
CASES += cases(
    "runtime.resolve_device",
    "device",
    runtime.resolve_device,
    {
        **{f"unavailable-{d}": d for d in unavailable_devices()},
        "typo": "cpux",
        "type": 2.5,
    },
)
CASES += cases(
    "runtime.seed_everything", "seed", runtime.seed_everything, NON_NEGATIVE_INT
)
CASES += cases("runtime.book_seed", "offset", runtime.book_seed, NON_NEGATIVE_INT)
CASES += [
    Case(
        "runtime.book_seed",
        "VAE_BOOK_SEED",
        "env",
        under_environment("VAE_BOOK_SEED", "one", runtime.book_seed),
    ),
    Case(
        "runtime.book_mode",
        "VAE_BOOK_MODE",
        "choice",
        under_environment("VAE_BOOK_MODE", "quik", runtime.book_mode),
    ),
]

# ---- models: configs and builders ----------------------------------------------------
CASES += cases(
    "models.NetworkConfig",
    "architecture",
    lambda v: NetworkConfig(architecture=v),
    {"choice": "mpl"},
)
CASES += cases(
    "models.NetworkConfig",
    "activation",
    lambda v: NetworkConfig(activation=v),
    {"choice": "rleu"},
)
CASES += cases(
    "models.NetworkConfig",
    "latent_dim",
    lambda v: NetworkConfig(latent_dim=v),
    POSITIVE_INT,
)
CASES += cases(
    "models.NetworkConfig",
    "image_shape",
    lambda v: NetworkConfig(image_shape=v),
    {"shape": (1, 28), "zero": (1, 0, 28), "float": (1, 28.0, 28), "type": 28},
)
CASES += cases(
    "models.NetworkConfig",
    "hidden_dims",
    lambda v: NetworkConfig(hidden_dims=v),
    {"zero": (0,), "type": 16, "bool": (True,)},
)
CASES += cases(
    "models.AutoencoderConfig",
    "output",
    lambda v: AutoencoderConfig(output=v),
    {"choice": "sigmiod"},
)
CASES += cases(
    "models.VAEConfig",
    "likelihood",
    lambda v: VAEConfig(likelihood=v),
    {"choice": "bernouli"},
)
CASES += cases(
    "models.VAEConfig",
    "gaussian_logvar",
    lambda v: VAEConfig(likelihood="gaussian", gaussian_logvar=v),
    FINITE_FLOAT,
)
CASES += cases(
    "models.build_encoder",
    "config",
    lambda v: build_encoder(v, 4),
    {"type": {"latent_dim": 2}},
)
CASES += cases(
    "models.build_encoder",
    "out_features",
    lambda v: build_encoder(NetworkConfig(**SMALL), v),
    POSITIVE_INT,
)
CASES += cases(
    "models.build_decoder", "config", build_decoder, {"type": {"latent_dim": 2}}
)
CASES += cases("models.build_model", "config", build_model, {"type": {"a": 1}})
CASES += cases("models.count_parameters", "model", count_parameters, {"type": "model"})
CASES += cases(
    "models.keeping_mode",
    "model",
    lambda v: keeping_mode(v).__enter__(),
    {"type": "model"},
)
CASES += cases(
    "models.evaluating",
    "model",
    lambda v: evaluating(v).__enter__(),
    {"type": "model"},
)

# ---- models: the autoencoder and the VAE ---------------------------------------------
CASES += cases("models.Autoencoder", "config", Autoencoder, {"type": VAEConfig()})
CASES += cases("models.VAE", "config", VAE, {"type": AutoencoderConfig()})
# The autoencoder takes any finite values (Chapter 1's linear autoencoder sees centred
# data); the VAE's images must be in [0, 1].
for name, model, kinds in (
    ("Autoencoder", AE, ANY_RANGE),
    ("VAE", VAE_MODEL, ALL_IMAGE_KINDS),
):
    CASES += images(f"models.{name}.encode", "x", model.encode, kinds)
    CASES += images(f"models.{name}.forward", "x", model, kinds)
    CASES += images(f"models.{name}.loss", "x", model.loss, kinds)
    CASES += codes(f"models.{name}.decode", "z", model.decode)
CASES += images("models.VAE.posterior", "x", VAE_MODEL.posterior)
CASES += images("models.VAE.elbo_terms", "x", VAE_MODEL.elbo_terms)
CASES += codes("models.VAE.likelihood", "z", VAE_MODEL.likelihood)
CASES += images("models.VAE.log_joint", "x", lambda v: VAE_MODEL.log_joint(v, Z[None]))
CASES += cases(
    "models.VAE.log_joint",
    "z",
    lambda v: VAE_MODEL.log_joint(IMAGES, v),
    {
        "shape": Z,
        "float64": Z[None].double(),
        "nan": with_nan(Z[None]),
        "list": Z[None].tolist(),
    },
)
CASES += cases(
    "models.VAE.loss",
    "beta",
    lambda v: VAE_MODEL.loss(IMAGES, beta=v),
    {**NON_NEGATIVE_FLOAT, "labels": LABELS},
)
CASES += cases("models.VAE.sample", "num_samples", VAE_MODEL.sample, POSITIVE_INT)
CASES += cases(
    "models.VAE.sample",
    "generator",
    lambda v: VAE_MODEL.sample(2, generator=v),
    NOT_A_GENERATOR,
)
CASES += cases(
    "models.VAE.forward",
    "generator",
    lambda v: VAE_MODEL(IMAGES, generator=v),
    NOT_A_GENERATOR,
)

# ---- denoisers -----------------------------------------------------------------------
CASES += cases(
    "denoisers.ResidualDenoiserConfig",
    "channels",
    lambda v: ResidualDenoiserConfig(channels=v),
    POSITIVE_INT,
)
CASES += cases(
    "denoisers.ResidualDenoiserConfig",
    "depth",
    lambda v: ResidualDenoiserConfig(depth=v),
    {**POSITIVE_INT, "one": 1},
)
CASES += cases(
    "denoisers.ResidualDenoiserConfig",
    "image_shape",
    lambda v: ResidualDenoiserConfig(image_shape=v),
    {"shape": (1, 8), "zero": (0, 8, 8), "type": 8},
)
CASES += cases(
    "denoisers.ResidualDenoiser", "config", ResidualDenoiser, {"type": VAEConfig()}
)
# A denoiser sees noisy images: any size, values outside [0, 1] allowed.
DENOISER_KINDS = tuple(k for k in ALL_IMAGE_KINDS if k not in ("range", "shape-size"))
CASES += images("denoisers.ResidualDenoiser.forward", "y", DENOISER, DENOISER_KINDS)
CASES += images(
    "denoisers.ResidualDenoiser.denoise", "y", DENOISER.denoise, DENOISER_KINDS
)
CASES += images("denoisers.ResidualDenoiser.loss", "x", DENOISER.loss, DENOISER_KINDS)
CASES += cases(
    "denoisers.ResidualDenoiser.forward",
    "y",
    DENOISER,
    {"channels": torch.rand(2, 3, 8, 8)},
)

# ---- train ---------------------------------------------------------------------------
CASES += cases(
    "train.scheduled_lr",
    "step",
    lambda v: train.scheduled_lr(v, 10, 1e-3),
    {**NON_NEGATIVE_INT, "too-large": 10},
)
CASES += cases(
    "train.scheduled_lr",
    "total_steps",
    lambda v: train.scheduled_lr(0, v, 1e-3),
    POSITIVE_INT,
)
CASES += cases(
    "train.scheduled_lr", "lr", lambda v: train.scheduled_lr(0, 10, v), POSITIVE_FLOAT
)
CASES += cases(
    "train.scheduled_lr",
    "schedule",
    lambda v: train.scheduled_lr(0, 10, 1e-3, v),
    {"choice": "cosin"},
)
CASES += cases(
    "train.scaled_learning_rate", "batch_size", train.scaled_learning_rate, POSITIVE_INT
)
CASES += cases(
    "train.scaled_learning_rate",
    "base_lr",
    lambda v: train.scaled_learning_rate(256, v),
    POSITIVE_FLOAT,
)
CASES += cases(
    "train.scaled_learning_rate",
    "base_batch_size",
    lambda v: train.scaled_learning_rate(256, base_batch_size=v),
    POSITIVE_INT,
)
CASES += cases(
    "train.scaled_learning_rate",
    "rule",
    lambda v: train.scaled_learning_rate(256, rule=v),
    {"choice": "squareroot"},
)
CASES += cases(
    "train.SpeedSettings",
    "lr_schedule",
    lambda v: train.SpeedSettings(lr_schedule=v),
    {"choice": "cosin"},
)
CASES += cases(
    "train.SpeedSettings",
    "betas",
    lambda v: train.SpeedSettings(betas=v),
    {"range": (0.9, 1.0), "nan": (math.nan, 0.9), "shape": (0.9,), "type": [0.9, 0.99]},
)
for flag in ("mixed_precision", "fused_adam", "torch_compile"):
    CASES += cases(
        "train.SpeedSettings",
        flag,
        lambda v, flag=flag: train.SpeedSettings(**{flag: v}),
        {"type": "yes"},
    )
CASES += cases(
    "train.model_loss",
    "batch",
    lambda v: train.model_loss(AE, IMAGES, v),
    {"targets-to-a-model-without": LABELS},
)
CASES += cases(
    "train.model_loss",
    "model",
    lambda v: train.model_loss(v, IMAGES),
    {"type": nn.Linear(2, 2)},
)


def fit(model: nn.Module = AE, x: object = IMAGES, **changes: object) -> object:
    return train.fit(model, x, **{"num_epochs": 1, "batch_size": 2, **QUIET, **changes})


def evaluate(model: nn.Module = AE, x: object = IMAGES, **changes: object) -> object:
    return train.evaluate(model, x, **changes)


for function, run in (("train.fit", fit), ("train.evaluate", evaluate)):
    x_name = "train_x" if function == "train.fit" else "x"
    y_name = "train_y" if function == "train.fit" else "y"
    CASES += cases(function, "model", lambda v, run=run: run(v), NOT_A_MODEL)
    CASES += cases(
        function,
        x_name,
        lambda v, run=run: run(AE, v),
        # the autoencoder takes values outside [0, 1]: no "range" case here
        {**{k: IMAGE_KINDS[k](IMAGES) for k in ANY_RANGE}, "empty": IMAGES[:0]},
    )
    CASES += cases(
        function,
        y_name,
        lambda v, run=run, y_name=y_name: run(CLASSIFIER, IMAGES, **{y_name: v}),
        {"shape": LABELS[:3], "list": LABELS.tolist(), "float": LABELS.float()},
    )
    CASES += cases(
        function,
        y_name,
        lambda v, run=run, y_name=y_name: run(AE, IMAGES, **{y_name: v}),
        {"targets-to-a-model-without": LABELS},
    )
    CASES += cases(
        function,
        "batch_size",
        lambda v, run=run: run(batch_size=v),
        POSITIVE_INT,
    )
    CASES += cases(function, "seed", lambda v, run=run: run(seed=v), NON_NEGATIVE_INT)
    CASES += cases(
        function, "loss_fn", lambda v, run=run: run(loss_fn=v), {"type": "mse"}
    )
    CASES += cases(
        function, "transform", lambda v, run=run: run(transform=v), {"type": "binary"}
    )
    CASES += cases(
        function,
        "mixed_precision" if function == "train.evaluate" else "speed",
        lambda v, run=run, function=function: (
            run(mixed_precision=v) if function == "train.evaluate" else run(speed=v)
        ),
        {"type": "yes"},
    )
CASES += cases("train.fit", "num_epochs", lambda v: fit(num_epochs=v), POSITIVE_INT)
CASES += cases("train.fit", "lr", lambda v: fit(lr=v), POSITIVE_FLOAT)
CASES += cases(
    "train.fit",
    "val_x",
    lambda v: fit(val_x=v),
    {
        k: IMAGE_KINDS[k](IMAGES)
        for k in ("shape", "shape-size", "uint8", "float64", "nan", "list")
    },
)
CASES += cases(
    "train.fit",
    "val_y",
    lambda v: fit(CLASSIFIER, IMAGES, train_y=LABELS, val_x=IMAGES, val_y=v),
    {"shape": LABELS[:3], "missing": None},
)
CASES += cases(
    "train.fit",
    "device",
    lambda v: fit(device=v),
    {"typo": "cpux", **{f"unavailable-{d}": d for d in unavailable_devices()}},
)
CASES += cases("train.fit", "progress", lambda v: fit(progress=v), {"type": "yes"})

# ---- losses --------------------------------------------------------------------------
VALUE_KINDS = {
    "shape": lambda t: t[..., :1],
    "nan": with_nan,
    "inf": with_inf,
    "list": lambda t: t.tolist(),
    "int": lambda t: t.long(),
}


def tensors(
    function: str, argument: str, call: Callable[[object], object], good: torch.Tensor
) -> list[Case]:
    """Cases for an argument taking a float tensor the shape of ``good``."""
    return cases(function, argument, call, {k: f(good) for k, f in VALUE_KINDS.items()})


CASES += tensors(
    "losses.squared_error", "x_hat", lambda v: losses.squared_error(v, IMAGES), IMAGES
)
CASES += tensors(
    "losses.squared_error", "x", lambda v: losses.squared_error(IMAGES, v), IMAGES
)
CASES += tensors(
    "losses.bernoulli_log_likelihood",
    "logits",
    lambda v: losses.bernoulli_log_likelihood(v, IMAGES),
    IMAGES,
)
CASES += cases(
    "losses.bernoulli_log_likelihood",
    "x",
    lambda v: losses.bernoulli_log_likelihood(IMAGES, v),
    {"range": IMAGES + 1, "nan": with_nan(IMAGES), "list": IMAGES.tolist()},
)
MASK = torch.ones(4, 1, 8, 8, dtype=torch.bool)
MASK_KINDS = {
    "mask-dtype": MASK.float(),
    "mask-shape": MASK[:2],
    "mask-dims": MASK[:, 0],
    "type": MASK.tolist(),
}
CASES += cases(
    "losses.bernoulli_log_likelihood",
    "where",
    lambda v: losses.bernoulli_log_likelihood(IMAGES, IMAGES, v),
    MASK_KINDS,
)
CASES += tensors(
    "losses.gaussian_log_likelihood",
    "mean",
    lambda v: losses.gaussian_log_likelihood(v, 0.0, IMAGES),
    IMAGES,
)
CASES += cases(
    "losses.gaussian_log_likelihood",
    "logvar",
    lambda v: losses.gaussian_log_likelihood(IMAGES, v, IMAGES),
    {
        **FINITE_FLOAT,
        "shape": torch.zeros(3, 1, 1, 1),
        "tensor-nan": torch.full((1,), math.nan),
    },
)
CASES += cases(
    "losses.gaussian_log_likelihood",
    "where",
    lambda v: losses.gaussian_log_likelihood(IMAGES, 0.0, IMAGES, v),
    MASK_KINDS,
)
for kl in ("gaussian_kl_per_dimension", "gaussian_kl_standard_normal"):
    fn = getattr(losses, kl)
    CASES += tensors(f"losses.{kl}", "mu", lambda v, fn=fn: fn(v, Z), Z)
    CASES += tensors(f"losses.{kl}", "logvar", lambda v, fn=fn: fn(Z, v), Z)
CASES += tensors(
    "losses.elbo", "log_likelihood", lambda v: losses.elbo(v, Z[:, 0]), Z[:, 0]
)
CASES += cases(
    "losses.elbo",
    "beta",
    lambda v: losses.elbo(Z[:, 0], Z[:, 0], beta=v),
    NON_NEGATIVE_FLOAT,
)

# ---- objectives ----------------------------------------------------------------------
CASES += cases(
    "objectives.denoising_loss",
    "model",
    lambda v: objectives.denoising_loss(v, IMAGES, IMAGES),
    NOT_A_MODEL,
)
CASES += cases(
    "objectives.denoising_loss",
    "clean",
    lambda v: objectives.denoising_loss(AE, IMAGES, v),
    {"shape": IMAGES[:2], "nan": with_nan(IMAGES), "list": IMAGES.tolist()},
)
CASES += cases(
    "objectives.denoising_loss",
    "clean",
    lambda v: objectives.denoising_loss(VAE_MODEL, IMAGES, v),
    {"shape": IMAGES[:2], "range": IMAGES + 1, "list": IMAGES.tolist()},
    suffix="-vae",
)
CASES += images(
    "objectives.denoising_loss",
    "noisy",
    lambda v: objectives.denoising_loss(DENOISER, v, IMAGES),
    ("shape", "uint8", "float64", "nan", "list"),
)
CASES += cases(
    "objectives.denoising_loss",
    "beta",
    lambda v: objectives.denoising_loss(VAE_MODEL, IMAGES, IMAGES, beta=v),
    NON_NEGATIVE_FLOAT,
)
CASES += cases("objectives.KLWarmup", "warmup_steps", objectives.KLWarmup, POSITIVE_INT)
CASES += cases(
    "objectives.KLWarmup",
    "beta",
    lambda v: objectives.KLWarmup(10, beta=v),
    NON_NEGATIVE_FLOAT,
)
CASES += cases(
    "objectives.KLWarmup.__call__",
    "model",
    lambda v: objectives.KLWarmup(10)(v, IMAGES),
    {"type-autoencoder": AE, "type-str": "vae"},
)

# ---- distributions -------------------------------------------------------------------
CASES += cases(
    "distributions.standard_normal",
    "latent_dim",
    distributions.standard_normal,
    POSITIVE_INT,
)
CASES += cases(
    "distributions.standard_normal",
    "dtype",
    lambda v: distributions.standard_normal(2, dtype=v),
    {"int": torch.int64, "str": "float32"},
)
CASES += cases(
    "distributions.standard_normal",
    "device",
    lambda v: distributions.standard_normal(2, device=v),
    {"typo": "cpux"},
)
CASES += tensors(
    "distributions.diagonal_gaussian",
    "mu",
    lambda v: distributions.diagonal_gaussian(v, Z),
    Z,
)
CASES += tensors(
    "distributions.diagonal_gaussian",
    "logvar",
    lambda v: distributions.diagonal_gaussian(Z, v),
    Z,
)
CASES += cases(
    "distributions.reparameterize",
    "q",
    lambda v: distributions.reparameterize(v, Z),
    {"type-bernoulli": Bernoulli(probs=torch.full((4, 2), 0.5)), "type-str": "q"},
)
CASES += cases(
    "distributions.reparameterize",
    "eps",
    lambda v: distributions.reparameterize(Q, v),
    {"shape": torch.zeros(4, 3), "list": Z.tolist(), "float64": Z.double()},
)
CASES += cases(
    "distributions.rsample",
    "q",
    lambda v: distributions.rsample(v),
    {"type-bernoulli": Bernoulli(probs=torch.full((4, 2), 0.5)), "type-str": "q"},
)
CASES += cases(
    "distributions.rsample",
    "sample_shape",
    lambda v: distributions.rsample(Q, v),
    {"type-int": 3, "negative": (-1,), "float": (2.5,)},
)
CASES += cases(
    "distributions.rsample",
    "generator",
    lambda v: distributions.rsample(Q, generator=v),
    NOT_A_GENERATOR,
)
CASES += cases(
    "distributions.sample",
    "p",
    lambda v: distributions.sample(v),
    {"type-str": "p", "type-tensor": Z},
)
CASES += cases(
    "distributions.sample",
    "generator",
    lambda v: distributions.sample(VAE_MODEL.likelihood(Z), generator=v),
    NOT_A_GENERATOR,
)
LIKELIHOOD = VAE_MODEL.likelihood(Z)
CASES += cases(
    "distributions.select",
    "condition",
    lambda v: distributions.select(v, LIKELIHOOD, LIKELIHOOD),
    {
        "shape": torch.ones(3, dtype=torch.bool),
        "dtype": torch.ones(4),
        "list": [True] * 4,
    },
)
CASES += cases(
    "distributions.select",
    "if_false",
    lambda v: distributions.select(torch.ones(4, dtype=torch.bool), LIKELIHOOD, v),
    {
        "type-str": "p",
        "type-normal": Independent(Normal(torch.zeros(4, *SHAPE), 1.0), 3),
        "shape": VAE_MODEL.likelihood(Z[:2]),
    },
)
CASES += cases(
    "distributions.masked_log_prob",
    "p",
    lambda v: distributions.masked_log_prob(v, IMAGES),
    {"type-str": "p", "type-normal": Normal(0.0, 1.0)},
)
CASES += cases(
    "distributions.masked_log_prob",
    "x",
    lambda v: distributions.masked_log_prob(LIKELIHOOD, v),
    {
        k: IMAGE_KINDS[k](IMAGES)
        for k in ("shape", "shape-size", "float64", "nan", "list")
    },
)
CASES += cases(
    "distributions.masked_log_prob",
    "where",
    lambda v: distributions.masked_log_prob(LIKELIHOOD, IMAGES, v),
    MASK_KINDS,
)

# ---- data ----------------------------------------------------------------------------
DATASET = data.ImageDataset(IMAGES, LABELS, ("a", "b", "c"))
CASES += cases("data.ImageDataset.subset", "n", DATASET.subset, POSITIVE_INT)
CASES += cases(
    "data.ImageDataset.sample",
    "n",
    lambda v: DATASET.sample(v, 0),
    {**POSITIVE_INT, "too-large": 5},
)
CASES += cases(
    "data.ImageDataset.sample",
    "seed",
    lambda v: DATASET.sample(2, v),
    NON_NEGATIVE_INT,
)
CASES += cases(
    "data.ImageDataset",
    "labels",
    lambda v: data.ImageDataset(IMAGES, v, ("a", "b", "c")),
    {"shape": LABELS[:3], "list": LABELS.tolist()},
)
CASES += [
    Case(
        "data.data_dir",
        "VAE_BOOK_DATA",
        "missing-folder",
        under_environment("VAE_BOOK_DATA", "/nonexistent/vae-book-data", data.data_dir),
    )
]
CASES += cases(
    "data.find_dataset_files",
    "name",
    data.find_dataset_files,
    {"choice": "mnsit", "type": 3},
)
CASES += cases(
    "data.find_dataset_files",
    "root",
    lambda v: data.find_dataset_files("mnist", root=v),
    {
        "missing-folder": empty_folder(),
        "missing-file": folder_missing_a_file(),
        "type": 3,
    },
)
CASES += cases(
    "data.load_dataset", "name", data.load_dataset, {"choice": "fashion_mnist"}
)
CASES += cases(
    "data.load_dataset",
    "split",
    lambda v: data.load_dataset("mnist", v),
    {"choice": "tset", "type": None},
)
CASES += cases(
    "data.load_dataset",
    "device",
    lambda v: data.load_dataset("mnist", "test", device=v),
    {"typo": "cpux", **{f"unavailable-{d}": d for d in unavailable_devices()}},
)
CASES += cases(
    "data.load_dataset",
    "root",
    lambda v: data.load_dataset("mnist", "test", root=v),
    {"missing-files": empty_folder()},
)
CASES += images("data.binarize_static", "x", data.binarize_static, NO_MODEL)
CASES += cases(
    "data.binarize_static",
    "seed",
    lambda v: data.binarize_static(IMAGES, v),
    NON_NEGATIVE_INT,
)
CASES += images("data.binarize_dynamic", "x", data.binarize_dynamic, NO_MODEL)
CASES += cases(
    "data.binarize_dynamic",
    "generator",
    lambda v: data.binarize_dynamic(IMAGES, v),
    NOT_A_GENERATOR,
)

# ---- bounds --------------------------------------------------------------------------
X5 = torch.zeros(4, 5, dtype=torch.float64)  # data of the linear-Gaussian model
Q5 = LINEAR.posterior(X5)
CASES += cases(
    "bounds.log_importance_weights",
    "log_joint",
    lambda v: bounds.log_importance_weights(v, X5, Q5, Q5.sample((3,))),
    {"type": "log p"},
)
CASES += cases(
    "bounds.log_importance_weights",
    "x",
    lambda v: bounds.log_importance_weights(LINEAR.log_joint, v, Q5, Q5.sample((3,))),
    {"list": X5.tolist(), "shape": X5[:2]},
)
CASES += cases(
    "bounds.log_importance_weights",
    "q",
    lambda v: bounds.log_importance_weights(LINEAR.log_joint, X5, v, Q5.sample((3,))),
    {"type": "q", "shape": LINEAR.posterior(X5[:2])},
)
CASES += cases(
    "bounds.log_importance_weights",
    "z",
    lambda v: bounds.log_importance_weights(LINEAR.log_joint, X5, Q5, v),
    {"shape": torch.zeros(4, 2, dtype=torch.float64), "list": [[0.0, 0.0]]},
)
LOG_WEIGHTS = {
    "shape": torch.zeros(3),
    "empty": torch.zeros(0, 4),
    "list": [[0.0] * 4] * 3,
    "nan": with_nan(torch.zeros(3, 4)),
}
for name in ("elbo_from_log_weights", "iwae_from_log_weights"):
    CASES += cases(f"bounds.{name}", "log_weights", getattr(bounds, name), LOG_WEIGHTS)
for name in ("elbo_estimate", "iwae_bound"):
    fn = getattr(bounds, name)
    CASES += cases(
        f"bounds.{name}",
        "num_samples",
        lambda v, fn=fn: fn(LINEAR.log_joint, X5, Q5, v),
        POSITIVE_INT,
    )
    CASES += cases(
        f"bounds.{name}",
        "q",
        lambda v, fn=fn: fn(LINEAR.log_joint, X5, v, 2),
        {"type": "q"},
    )
    CASES += cases(
        f"bounds.{name}",
        "generator",
        lambda v, fn=fn: fn(LINEAR.log_joint, X5, Q5, 2, generator=v),
        NOT_A_GENERATOR,
    )
CASES += cases(
    "bounds.log_likelihood_estimate",
    "model",
    lambda v: bounds.log_likelihood_estimate(v, IMAGES, 4),
    {"type-autoencoder": AE, "type-str": "vae"},
)
CASES += cases(
    "bounds.log_likelihood_estimate",
    "x",
    lambda v: bounds.log_likelihood_estimate(VAE_MODEL, v, 4),
    {**{k: IMAGE_KINDS[k](IMAGES) for k in ALL_IMAGE_KINDS}, "empty": IMAGES[:0]},
)
for argument in ("num_samples", "batch_size", "chunk_size"):
    CASES += cases(
        "bounds.log_likelihood_estimate",
        argument,
        lambda v, argument=argument: bounds.log_likelihood_estimate(
            VAE_MODEL, IMAGES, **{"num_samples": 4, argument: v}
        ),
        POSITIVE_INT,
    )
CASES += cases(
    "bounds.log_likelihood_estimate",
    "seed",
    lambda v: bounds.log_likelihood_estimate(VAE_MODEL, IMAGES, 4, seed=v),
    NON_NEGATIVE_INT,
)
CASES += cases(
    "bounds.bits_per_dim",
    "num_dims",
    lambda v: bounds.bits_per_dim(1.0, v),
    POSITIVE_INT,
)
CASES += cases(
    "bounds.bits_per_dim",
    "nats",
    lambda v: bounds.bits_per_dim(v, 784),
    {"str": "1.0", "bool": True, "list": [1.0]},
)


# ---- estimators ----------------------------------------------------------------------
def objective(z: torch.Tensor) -> torch.Tensor:
    return (z**2).sum(dim=1)


for name in ("score_function_gradients", "pathwise_gradients"):
    fn = getattr(estimators, name)
    CASES += cases(
        f"estimators.{name}",
        "f",
        lambda v, fn=fn: fn(v, MU, LOGVAR, 4),
        {"type": "f"},
    )
    CASES += cases(
        f"estimators.{name}",
        "mu",
        lambda v, fn=fn: fn(objective, v, LOGVAR, 4),
        {
            "shape": torch.zeros(2),
            "list": [0.0] * 3,
            "nan": with_nan(MU),
            "int": MU.long(),
        },
    )
    CASES += cases(
        f"estimators.{name}",
        "logvar",
        lambda v, fn=fn: fn(objective, MU, v, 4),
        {"nan": with_nan(LOGVAR), "inf": with_inf(LOGVAR), "list": [0.0] * 3},
    )
    CASES += cases(
        f"estimators.{name}",
        "num_samples",
        lambda v, fn=fn: fn(objective, MU, LOGVAR, v),
        POSITIVE_INT,
    )
CASES += cases(
    "estimators.score_function_gradients",
    "baseline",
    lambda v: estimators.score_function_gradients(objective, MU, LOGVAR, 4, baseline=v),
    FINITE_FLOAT,
)
CASES += cases(
    "estimators.squared_deviations",
    "values",
    estimators.squared_deviations,
    {
        "shape": torch.zeros(5),
        "one-row": torch.zeros(1, 3),
        "list": [[0.0], [1.0]],
        "nan": with_nan(torch.zeros(4, 2)),
    },
)
CASES += cases(
    "estimators.score_function_loss",
    "model",
    lambda v: estimators.score_function_loss(v, BINARY),
    {"type-autoencoder": AE, "type-str": "vae"},
)
CASES += images(
    "estimators.score_function_loss",
    "x",
    lambda v: estimators.score_function_loss(VAE_MODEL, v),
)
CASES += cases(
    "estimators.gumbel_softmax",
    "logits",
    lambda v: estimators.gumbel_softmax(v, 0.5, 4),
    {
        "shape": torch.zeros(3, 5),
        "list": [0.0] * 5,
        "nan": with_nan(torch.zeros(5)),
        "int": torch.zeros(5, dtype=torch.long),
    },
)
CASES += cases(
    "estimators.gumbel_softmax",
    "tau",
    lambda v: estimators.gumbel_softmax(torch.zeros(5), v, 4),
    POSITIVE_FLOAT,
)
CASES += cases(
    "estimators.gumbel_softmax",
    "num_samples",
    lambda v: estimators.gumbel_softmax(torch.zeros(5), 0.5, v),
    POSITIVE_INT,
)
CASES += cases(
    "estimators.per_sample_gradients",
    "name",
    lambda v: estimators.per_sample_gradients(v, objective, MU, LOGVAR, 4),
    {"choice": "pathwize"},
)
CASES += cases(
    "estimators.per_sample_gradients",
    "mu",
    lambda v: estimators.per_sample_gradients("pathwise", objective, v, LOGVAR, 4),
    {"list": [0.0] * 3, "shape": torch.zeros(2)},
)
CASES += cases(
    "estimators.per_sample_gradients",
    "seed",
    lambda v: estimators.per_sample_gradients(
        "score", objective, MU, LOGVAR, 4, seed=v
    ),
    NON_NEGATIVE_INT,
)
CASES += cases(
    "estimators.per_sample_gradients",
    "baseline",
    lambda v: estimators.per_sample_gradients(
        "score + baseline", objective, MU, LOGVAR, 4, baseline=v
    ),
    FINITE_FLOAT,
)
CASES += cases(
    "estimators.lower_variance",
    "high",
    lambda v: estimators.lower_variance(torch.zeros(5), v, "low", "high"),
    {"shape": torch.zeros(4), "list": [0.0] * 5, "nan": with_nan(torch.zeros(5))},
)
CASES += cases(
    "estimators.lower_variance",
    "low",
    lambda v: estimators.lower_variance(v, torch.zeros(5), "low", "high"),
    {"shape": torch.zeros(5, 1), "list": [0.0] * 5},
)
CASES += cases(
    "estimators.lower_variance",
    "name_low",
    lambda v: estimators.lower_variance(torch.zeros(5), torch.ones(5), v, "high"),
    {"type": 3},
)

# ---- linear_gaussian -----------------------------------------------------------------
W, B = LINEAR.W, LINEAR.b
CASES += cases(
    "linear_gaussian.LinearGaussianModel",
    "W",
    lambda v: LinearGaussianModel(v, B, 0.5),
    {"list": W.tolist(), "shape": W[:, 0], "nan": with_nan(W), "int": W.long()},
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel",
    "b",
    lambda v: LinearGaussianModel(W, v, 0.5),
    {"shape": B[:3], "list": B.tolist(), "inf": with_inf(B), "dtype": B.float()},
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel",
    "sigma",
    lambda v: LinearGaussianModel(W, B, v),
    POSITIVE_FLOAT,
)
for argument in ("data_dim", "latent_dim"):
    CASES += cases(
        "linear_gaussian.LinearGaussianModel.random",
        argument,
        lambda v, argument=argument: LinearGaussianModel.random(
            **{"data_dim": 5, "latent_dim": 2, argument: v}
        ),
        POSITIVE_INT,
    )
CASES += cases(
    "linear_gaussian.LinearGaussianModel.random",
    "sigma",
    lambda v: LinearGaussianModel.random(5, 2, v),
    POSITIVE_FLOAT,
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel.random",
    "seed",
    lambda v: LinearGaussianModel.random(5, 2, seed=v),
    NON_NEGATIVE_INT,
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel.sample",
    "num_samples",
    LINEAR.sample,
    POSITIVE_INT,
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel.sample",
    "generator",
    lambda v: LINEAR.sample(2, generator=v),
    NOT_A_GENERATOR,
)
X5_KINDS = {
    "shape": X5[:, :3],
    "shape-3d": X5[None],
    "list": X5.tolist(),
    "nan": with_nan(X5),
    "inf": with_inf(X5),
    "int": X5.long(),
}
for method in ("log_marginal", "posterior"):
    CASES += cases(
        f"linear_gaussian.LinearGaussianModel.{method}",
        "x",
        getattr(LINEAR, method),
        X5_KINDS,
    )
CASES += cases(
    "linear_gaussian.LinearGaussianModel.log_joint",
    "x",
    lambda v: LINEAR.log_joint(v, Q5.sample((3,))),
    X5_KINDS,
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel.log_joint",
    "z",
    lambda v: LINEAR.log_joint(X5, v),
    {
        "shape": torch.zeros(4, 2, dtype=torch.float64),
        "list": [[[0.0, 0.0]] * 4],
        "nan": with_nan(Q5.sample((3,))),
    },
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel.exact_elbo",
    "x",
    lambda v: LINEAR.exact_elbo(v, Q5),
    X5_KINDS,
)
CASES += cases(
    "linear_gaussian.LinearGaussianModel.exact_elbo",
    "q",
    lambda v: LINEAR.exact_elbo(X5, v),
    {"type-str": "q", "type-diagonal": Q, "shape": LINEAR.posterior(X5[:2])},
)

# ---- dequantization ------------------------------------------------------------------
LEVELS = torch.randint(0, 256, (4, *SHAPE)).float() / 255
LEVEL_KINDS = {
    **{k: IMAGE_KINDS[k](LEVELS) for k in NO_MODEL},
    "between-levels": LEVELS + 0.4 / 255,
}
CASES += cases(
    "dequantization.pixel_levels", "x", dequantization.pixel_levels, LEVEL_KINDS
)
CASES += cases(
    "dequantization.pixel_levels",
    "num_levels",
    lambda v: dequantization.pixel_levels(LEVELS, v),
    {**POSITIVE_INT, "one": 1},
)
CASES += cases("dequantization.dequantize", "x", dequantization.dequantize, LEVEL_KINDS)
CASES += cases(
    "dequantization.dequantize",
    "num_levels",
    lambda v: dequantization.dequantize(LEVELS, num_levels=v),
    {**POSITIVE_INT, "one": 1},
)
CASES += cases(
    "dequantization.dequantize",
    "generator",
    lambda v: dequantization.dequantize(LEVELS, generator=v),
    NOT_A_GENERATOR,
)
CASES += cases(
    "dequantization.discrete_nll_bound",
    "continuous_nll",
    lambda v: dequantization.discrete_nll_bound(v, 64),
    {"str": "1", "bool": True, "nan": math.nan, "list": [1.0]},
)
CASES += cases(
    "dequantization.discrete_nll_bound",
    "num_dims",
    lambda v: dequantization.discrete_nll_bound(1.0, v),
    POSITIVE_INT,
)
CASES += cases(
    "dequantization.discrete_nll_bound",
    "num_levels",
    lambda v: dequantization.discrete_nll_bound(1.0, 64, v),
    {**POSITIVE_INT, "one": 1},
)

# ---- trace ---------------------------------------------------------------------------
CASES += cases(
    "trace.mean_kl",
    "model",
    lambda v: trace.mean_kl(v, IMAGES),
    {"type-autoencoder": AE, "type-str": "vae"},
)
CASES += images("trace.mean_kl", "x", lambda v: trace.mean_kl(VAE_MODEL, v))


def fit_traced(**changes: object) -> object:
    arguments = {
        "model": VAE_MODEL,
        "x": IMAGES,
        "loss_fn": train.model_loss,
        "probe": IMAGES,
        "num_epochs": 1,
        "batch_size": 2,
        **changes,
    }
    return trace.fit_traced(**arguments)


CASES += cases(
    "trace.fit_traced",
    "model",
    lambda v: fit_traced(model=v),
    {"type-autoencoder": AE, "type-str": "vae"},
)
CASES += cases(
    "trace.fit_traced",
    "x",
    lambda v: fit_traced(x=v),
    {**{k: IMAGE_KINDS[k](IMAGES) for k in ALL_IMAGE_KINDS}, "empty": IMAGES[:0]},
)
CASES += images("trace.fit_traced", "probe", lambda v: fit_traced(probe=v))
CASES += cases(
    "trace.fit_traced", "loss_fn", lambda v: fit_traced(loss_fn=v), {"type": "elbo"}
)
for argument in ("num_epochs", "batch_size"):
    CASES += cases(
        "trace.fit_traced",
        argument,
        lambda v, argument=argument: fit_traced(**{argument: v}),
        POSITIVE_INT,
    )
CASES += cases("trace.fit_traced", "lr", lambda v: fit_traced(lr=v), POSITIVE_FLOAT)
CASES += cases(
    "trace.fit_traced", "seed", lambda v: fit_traced(seed=v), NON_NEGATIVE_INT
)

# ---- classifier ----------------------------------------------------------------------
CASES += cases(
    "classifier.DigitClassifier",
    "image_shape",
    lambda v: DigitClassifier(v),
    {"shape": (1, 28), "zero": (1, 0, 28), "type": 28},
)
CASES += cases(
    "classifier.DigitClassifier",
    "num_classes",
    lambda v: DigitClassifier(SHAPE, v),
    {**POSITIVE_INT, "one": 1},
)
CASES += cases(
    "classifier.DigitClassifier",
    "hidden",
    lambda v: DigitClassifier(SHAPE, 3, v),
    POSITIVE_INT,
)
for method in ("forward", "confidence", "predict"):
    call = CLASSIFIER if method == "forward" else getattr(CLASSIFIER, method)
    CASES += images(f"classifier.DigitClassifier.{method}", "x", call)
CASES += images(
    "classifier.DigitClassifier.loss", "x", lambda v: CLASSIFIER.loss(v, LABELS)
)
LABEL_KINDS = {
    "shape": LABELS[:3],
    "float": LABELS.float(),
    "list": LABELS.tolist(),
    "range": LABELS + 5,
    "negative": LABELS - 1,
}
CASES += cases(
    "classifier.DigitClassifier.loss",
    "y",
    lambda v: CLASSIFIER.loss(IMAGES, v),
    LABEL_KINDS,
)
CASES += cases(
    "classifier.train_digit_classifier",
    "images",
    lambda v: train_digit_classifier(v, LABELS, num_epochs=1),
    {**{k: IMAGE_KINDS[k](IMAGES) for k in NO_MODEL}, "empty": IMAGES[:0]},
)
CASES += cases(
    "classifier.train_digit_classifier",
    "labels",
    lambda v: train_digit_classifier(IMAGES, v, num_epochs=1),
    {k: v for k, v in LABEL_KINDS.items() if k != "range"},
)
CASES += cases(
    "classifier.train_digit_classifier",
    "num_epochs",
    lambda v: train_digit_classifier(IMAGES, LABELS, num_epochs=v),
    POSITIVE_INT,
)
CASES += cases(
    "classifier.train_digit_classifier",
    "seed",
    lambda v: train_digit_classifier(IMAGES, LABELS, num_epochs=1, seed=v),
    NON_NEGATIVE_INT,
)

# Public names deliberately without a case, and why.
EXEMPT: dict[str, str] = {
    "runtime.default_device": "takes no argument",
    "runtime.machine_description": "takes no argument",
    "runtime.available_devices": "takes no argument",
    "runtime.pick": "any two values are meaningful choices",
    "models.VAEOutput": "a named tuple the VAE returns; nothing to validate",
    "models.VAE.prior": "takes no argument",
    "models.VAE.decoder_std": "takes no argument",
    "train.History": "a record fit returns",
    "train.HasLoss": "a typing Protocol",
    "train.NonFiniteTrainingError": "an exception class",
    "data.DatasetNotFoundError": "an exception class",
    "data.DatasetSpec": "a constant description of a data set, written in the library",
    "data.PatchSpec": "a constant description of a data set, written in the library",
    "linear_gaussian.LinearGaussianModel.toy_2d": "takes no argument",
    "trace.Trace": "a record fit_traced returns",
}


def _public_names() -> set[str]:
    names = set()
    for module_name in MODULES:
        module = importlib.import_module(f"vae_lib.{module_name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != (
                module.__name__
            ):
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                names.add(f"{module_name}.{name}")
    return names


def test_every_public_name_has_a_case_or_a_reason():
    covered = {case.function for case in CASES} | set(EXEMPT)
    prefixes = {name.rsplit(".", i)[0] for name in covered for i in (0, 1)}
    missing = sorted(name for name in _public_names() if name not in prefixes)
    assert not missing, missing


def test_case_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_refused_naming_the_argument(case):
    kind, detail = outcome(case)
    assert kind == "clear", detail


# ---- what is not a bad input: NumPy scalars are numbers ------------------------------
def test_numpy_scalars_are_accepted_where_python_numbers_are():
    assert VAE_MODEL.sample(np.int64(2)).shape == (2, *SHAPE)
    assert train.scaled_learning_rate(np.int64(256), np.float32(1e-3)) == (
        pytest.approx(2e-3)
    )
    assert isinstance(runtime.seed_everything(np.int64(3)), torch.Generator)
    assert (
        LinearGaussianModel.random(np.int32(4), np.int64(2), np.float64(0.5)).sigma
        == 0.5
    )
    model = LinearGaussianModel.random(4, 2, np.float32(0.5))
    assert type(model.sigma) is float
    assert bounds.bits_per_dim(1.0, np.int64(784)) == pytest.approx(
        1 / (784 * math.log(2))
    )


def test_a_missing_data_set_names_the_folder_searched_and_the_missing_file():
    root = folder_missing_a_file()
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.find_dataset_files("mnist", root=root)
    message = str(info.value)
    assert f"{root}/mnist (missing train-labels-idx1-ubyte.gz)" in message
    assert isinstance(info.value, data.DataFileError)


def test_an_unavailable_device_says_which_devices_exist():
    with pytest.raises(ValueError, match=r"device must be one of the devices present"):
        runtime.resolve_device(f"cuda:{torch.cuda.device_count()}")
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert "cpu" in runtime.available_devices()


def test_targets_and_beta_are_keyword_only():
    with pytest.raises(TypeError):
        train.fit(CLASSIFIER, IMAGES, LABELS, num_epochs=1, **QUIET)  # type: ignore[misc]
    with pytest.raises(TypeError):
        train.evaluate(CLASSIFIER, IMAGES, LABELS)  # type: ignore[misc]
    with pytest.raises(TypeError):
        VAE_MODEL.loss(IMAGES, 0.5)  # type: ignore[misc]
