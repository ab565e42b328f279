"""Encoders, decoders, the autoencoder (Chapter 1) and the VAE (Chapters 2-4).

Every model is built from a frozen, typed config, so a checkpoint that stores the config
restores the model in one line. Shapes: images x are (B, C, H, W); latent codes z are
(B, latent_dim).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple, overload

import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal
from torch.distributions.kl import kl_divergence

from . import losses
from .denoisers import ResidualDenoiser, ResidualDenoiserConfig
from .distributions import diagonal_gaussian, rsample, standard_normal
from .validate import (
    check_choice,
    check_finite,
    check_finite_float,
    check_generator,
    check_image_shape,
    check_images,
    check_instance,
    check_non_negative_float,
    check_positive_int,
    check_tensor,
)
from .validate import check_model_dtype as _check_dtype

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


@dataclass(frozen=True)
class NetworkConfig:
    """The shape of an encoder/decoder pair.

    architecture: ``"mlp"`` (fully connected; ``hidden_dims=()`` makes it linear) or
    ``"conv"`` (``hidden_dims`` are channel counts, each a stride-2 convolution, so H
    and W must be divisible by ``2 ** len(hidden_dims)``).
    """

    architecture: str = "mlp"
    image_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 16
    hidden_dims: tuple[int, ...] = (512, 256)
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_choice(self.architecture, "architecture", ("mlp", "conv"))
        check_choice(self.activation, "activation", tuple(ACTIVATIONS))
        check_positive_int(self.latent_dim, "latent_dim")
        check_image_shape(self.image_shape)
        if not isinstance(self.hidden_dims, tuple):
            raise TypeError(
                "hidden_dims must be a tuple of positive ints, got "
                f"{self.hidden_dims!r}"
            )
        for h in self.hidden_dims:
            check_positive_int(h, "each of hidden_dims")
        if self.architecture == "conv":
            factor = 2 ** len(self.hidden_dims)
            if not self.hidden_dims or any(s % factor for s in self.image_shape[1:]):
                raise ValueError(
                    f"a conv network with hidden_dims {self.hidden_dims} needs at "
                    f"least one layer and H, W divisible by {factor}, got image_shape "
                    f"{self.image_shape}"
                )

    @property
    def num_pixels(self) -> int:
        return math.prod(self.image_shape)


@dataclass(frozen=True)
class AutoencoderConfig(NetworkConfig):
    """An autoencoder trained with squared error. ``output``: ``"sigmoid"`` keeps x_hat
    in [0, 1]; ``"identity"`` with ``hidden_dims=()`` gives the linear autoencoder of
    Chapter 1."""

    output: str = "sigmoid"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.output, "output", ("sigmoid", "identity"))


@dataclass(frozen=True)
class VAEConfig(NetworkConfig):
    """A VAE with Gaussian q(z|x) = N(mu, diag(exp(logvar))) and prior N(0, I).

    likelihood: ``"bernoulli"`` (decoder gives logits) or ``"gaussian"`` (decoder gives
    the mean through a sigmoid; log-variance fixed at ``gaussian_logvar`` or, if None,
    one learned scalar).
    """

    likelihood: str = "bernoulli"
    gaussian_logvar: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.likelihood, "likelihood", ("bernoulli", "gaussian"))
        if self.gaussian_logvar is not None:
            check_finite_float(self.gaussian_logvar, "gaussian_logvar")


def _mlp(sizes: list[int], activation: str) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return layers


def build_encoder(config: NetworkConfig, out_features: int) -> nn.Sequential:
    """(B, C, H, W) -> (B, out_features)."""
    check_instance(config, "config", NetworkConfig)
    check_positive_int(out_features, "out_features")
    act = ACTIVATIONS[config.activation]
    if config.architecture == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            *_mlp(
                [config.num_pixels, *config.hidden_dims, out_features],
                config.activation,
            ),
        )
    channels = [config.image_shape[0], *config.hidden_dims]
    convs = [
        m
        for c_in, c_out in itertools.pairwise(channels)
        for m in (nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), act())
    ]
    h, w = (s // 2 ** len(config.hidden_dims) for s in config.image_shape[1:])
    return nn.Sequential(
        *convs, nn.Flatten(), nn.Linear(channels[-1] * h * w, out_features)
    )


def build_decoder(config: NetworkConfig) -> nn.Sequential:
    """(B, latent_dim) -> (B, C, H, W), before any output activation."""
    check_instance(config, "config", NetworkConfig)
    act = ACTIVATIONS[config.activation]
    if config.architecture == "mlp":
        sizes = [config.latent_dim, *reversed(config.hidden_dims), config.num_pixels]
        return nn.Sequential(
            *_mlp(sizes, config.activation), nn.Unflatten(1, config.image_shape)
        )
    channels = [*reversed(config.hidden_dims), config.image_shape[0]]
    h, w = (s // 2 ** len(config.hidden_dims) for s in config.image_shape[1:])
    deconvs: list[nn.Module] = []
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        deconvs.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
        if i < len(channels) - 2:
            deconvs.append(act())
    return nn.Sequential(
        nn.Linear(config.latent_dim, channels[0] * h * w),
        act(),
        nn.Unflatten(1, (channels[0], h, w)),
        *deconvs,
    )


@contextlib.contextmanager
def keeping_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block the model's train/eval mode may change; after it, every
    submodule's mode is what it was before, also when the block raised."""
    check_instance(model, "model", nn.Module)
    modes = [(module, module.training) for module in model.modules()]
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode inside the block; the caller's train/eval mode (of every
    submodule) is restored after it."""
    with keeping_mode(model):
        model.eval()
        yield model


def _full_precision(t: torch.Tensor) -> torch.Tensor:
    """float64 stays float64; bf16 from autocast becomes float32 (distributions and
    their log-probabilities are never computed in bf16)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    check_instance(model, "model", nn.Module)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Autoencoder(nn.Module):
    """x -> z = encoder(x) -> x_hat = decoder(z), trained to make x_hat close to x
    (Chapter 1)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        if not isinstance(config, AutoencoderConfig):
            raise TypeError(
                "Autoencoder needs an AutoencoderConfig as config, got "
                f"{type(config).__name__}"
            )
        self.config = config
        self.encoder = build_encoder(config, config.latent_dim)
        self.decoder = build_decoder(config)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) of finite values -> z (B, latent_dim). Any real values: the
        linear autoencoder of Chapter 1 sees centred data."""
        return self.encoder(_check_input(x, self, unit_range=False))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> x_hat (B, C, H, W)."""
        out = self.decoder(_check_latent(z, self))
        return torch.sigmoid(out) if self.config.output == "sigmoid" else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error per example, summed over pixels: (B, C, H, W) -> (B,)."""
        return losses.squared_error(self(x), x)


class VAEOutput(NamedTuple):
    """What a VAE's forward pass returns for images x: the posterior q(z|x), one code
    drawn from it, and the likelihood p(x|z) that code gives."""

    posterior: Independent  # q(z|x): batch (B,), event (latent_dim,)
    z: torch.Tensor  # (B, latent_dim)
    likelihood: Independent  # p(x|z): batch (B,), event (C, H, W)


class VAE(nn.Module):
    """Variational autoencoder (Kingma & Welling 2014) as three distributions:
    :meth:`prior` p(z) = N(0, I), :meth:`posterior` q(z|x) (a diagonal Gaussian from the
    encoder) and :meth:`likelihood` p(x|z) (Bernoulli on the decoder's logits, or a
    Gaussian around its mean with standard deviation :meth:`decoder_std`).
    :meth:`decode` is the mean E[x|z], the picture a code stands for (Chapter 2)."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise TypeError(
                f"VAE needs a VAEConfig as config, got {type(config).__name__}"
            )
        self.config = config
        self.encoder = build_encoder(config, 2 * config.latent_dim)
        self.decoder = build_decoder(config)
        learn_logvar = (
            config.likelihood == "gaussian" and config.gaussian_logvar is None
        )
        self.x_logvar = nn.Parameter(torch.zeros(())) if learn_logvar else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) in [0, 1] -> mu, logvar, each (B, latent_dim)."""
        mu, logvar = self.encoder(_check_input(x, self)).chunk(2, dim=-1)
        return mu, logvar

    def prior(self) -> Independent:
        """p(z) = N(0, I) on the model's device, in its dtype: event shape
        (latent_dim,)."""
        weights = next(self.parameters())
        return standard_normal(
            self.config.latent_dim, device=weights.device, dtype=weights.dtype
        )

    def posterior(self, x: torch.Tensor) -> Independent:
        """q(z | x): batch shape (B,), event shape (latent_dim,); float32 even under
        autocast (Chapter 2)."""
        mu, logvar = self.encode(x)
        return diagonal_gaussian(_full_precision(mu), _full_precision(logvar))

    def decoder_std(self) -> torch.Tensor | None:
        """The standard deviation of a Gaussian p(x|z), learned or fixed (a scalar
        tensor); None for a Bernoulli likelihood."""
        if self.config.likelihood == "bernoulli":
            return None
        fixed = self.config.gaussian_logvar
        if fixed is None and self.x_logvar is not None:  # learned
            return torch.exp(0.5 * self.x_logvar)
        weights = next(self.parameters())
        return torch.tensor(
            math.exp(0.5 * (fixed or 0.0)), device=weights.device, dtype=weights.dtype
        )

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z) for codes z (B, latent_dim): batch shape (B,), event shape
        (C, H, W). Bernoulli on the decoder's logits (its log_prob of grey levels is the
        negative binary cross-entropy, Chapter 2), or Normal around the decoder's mean
        in [0, 1]; float32 even under autocast."""
        out = _full_precision(self.decoder(_check_latent(z, self)))
        std = self.decoder_std()
        if std is None:
            pixels: Distribution = Bernoulli(logits=out, validate_args=False)
        else:
            mean = torch.sigmoid(out)
            pixels = Normal(mean, std.expand_as(mean), validate_args=False)
        return Independent(pixels, 3)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """E[x | z], the picture a code stands for: (B, latent_dim) -> (B, C, H, W) in
        [0, 1]."""
        return self.likelihood(z).mean

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> VAEOutput:
        check_generator(generator)
        q = self.posterior(x)
        z = rsample(q, generator=generator)
        return VAEOutput(q, z, self.likelihood(z))

    def elbo_terms(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample estimates of E_q[log p(x|z)] and KL(q(z|x) || p(z)), each (B,)."""
        out = self(x, generator)
        return out.likelihood.log_prob(x), kl_divergence(out.posterior, self.prior())

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log p(z) + log p(x | z) for images x (B, C, H, W) and codes z
        (K, B, latent_dim).

        Returns (K, B): one value per sample and image (Chapter 2's importance weights).
        """
        x = _check_input(x, self)
        z = check_finite(_check_dtype(check_tensor(z, "z"), self, "z"), "z")
        if z.dim() != 3 or z.shape[1:] != (x.shape[0], self.config.latent_dim):
            raise ValueError(
                f"z must be shaped (K, {x.shape[0]}, {self.config.latent_dim}), got "
                f"{tuple(z.shape)}"
            )
        k, b = z.shape[:2]
        likelihood = self.likelihood(z.reshape(k * b, -1))  # batch (K*B,)
        x_repeated = x.expand(k, *x.shape).reshape(k * b, *x.shape[1:])
        return self.prior().log_prob(z) + likelihood.log_prob(x_repeated).view(k, b)

    def loss(self, x: torch.Tensor, *, beta: float = 1.0) -> torch.Tensor:
        """Negative (beta-weighted) ELBO per example in nats, (B,); beta = 1 is the true
        bound. ``beta`` (a finite number >= 0) is keyword-only, so that labels passed
        after the images can never be taken for it."""
        check_non_negative_float(beta, "beta")
        log_lik, kl = self.elbo_terms(x)
        return -losses.elbo(log_lik, kl, beta=beta)

    @torch.no_grad()
    def sample(
        self, num_samples: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw z ~ p(z) and return E[x | z]: (num_samples, C, H, W)."""
        num_samples = check_positive_int(num_samples, "num_samples")
        check_generator(generator)
        return self.decode(rsample(self.prior(), (num_samples,), generator=generator))


def _check_input(
    x: object, model: Autoencoder | VAE, *, unit_range: bool = True
) -> torch.Tensor:
    """A model's images x: (B, C, H, W) of its image shape, finite and (if
    ``unit_range``) in [0, 1] (values unless value checks are off), in the dtype of its
    weights."""
    x = check_images(x, image_shape=model.config.image_shape, unit_range=unit_range)
    return _check_dtype(x, model, "x")


def _check_latent(z: object, model: Autoencoder | VAE) -> torch.Tensor:
    z = check_finite(check_tensor(z, "z"), "z")
    latent_dim = model.config.latent_dim
    if z.dim() != 2 or z.shape[1] != latent_dim:
        raise ValueError(
            f"z must be shaped (B, {latent_dim}), got shape {tuple(z.shape)}"
        )
    return _check_dtype(z, model, "z")


# Every model the library builds from a config (and a checkpoint can hold), and those
# configs.
Model = Autoencoder | VAE | ResidualDenoiser
ModelConfig = NetworkConfig | ResidualDenoiserConfig

# The model classes a checkpoint may name, with their configs.
MODEL_CLASSES: dict[str, tuple[type[nn.Module], type]] = {
    "Autoencoder": (Autoencoder, AutoencoderConfig),
    "VAE": (VAE, VAEConfig),
    "ResidualDenoiser": (ResidualDenoiser, ResidualDenoiserConfig),
}


@overload
def build_model(config: VAEConfig) -> VAE: ...
@overload
def build_model(config: AutoencoderConfig) -> Autoencoder: ...
@overload
def build_model(config: ResidualDenoiserConfig) -> ResidualDenoiser: ...
@overload
def build_model(config: ModelConfig) -> Model: ...
def build_model(config: ModelConfig) -> Model:
    """The model a config describes: AutoencoderConfig -> Autoencoder,
    VAEConfig -> VAE, ResidualDenoiserConfig -> ResidualDenoiser."""
    if type(config) is VAEConfig:
        return VAE(config)
    if type(config) is AutoencoderConfig:
        return Autoencoder(config)
    if type(config) is ResidualDenoiserConfig:
        return ResidualDenoiser(config)
    raise TypeError(
        f"config must be one of {[c.__name__ for _, c in MODEL_CLASSES.values()]}, "
        f"got {type(config).__name__}"
    )
