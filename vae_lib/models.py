"""Encoders, decoders, the autoencoder (Chapter 1) and the VAE (Chapters 2-4).

Every model is built from a frozen, typed config, so a checkpoint that stores the config
restores the model in one line. Shapes: images x are (B, C, H, W); latent codes z are
(B, latent_dim).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.distributions import Independent, Normal

from . import losses
from .validate import check_choice, check_images, check_positive_int, check_tensor

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
        if len(self.image_shape) != 3 or not all(
            isinstance(s, int) and s > 0 for s in self.image_shape
        ):
            raise ValueError(
                "image_shape must be (C, H, W) of positive ints, got "
                f"{self.image_shape!r}"
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


def _mlp(sizes: list[int], activation: str) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return layers


def build_encoder(config: NetworkConfig, out_features: int) -> nn.Sequential:
    """(B, C, H, W) -> (B, out_features)."""
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


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Autoencoder(nn.Module):
    """x -> z = encoder(x) -> x_hat = decoder(z), trained to make x_hat close to x
    (Chapter 1)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        if not isinstance(config, AutoencoderConfig):
            raise TypeError(
                f"Autoencoder needs an AutoencoderConfig, got {type(config).__name__}"
            )
        self.config = config
        self.encoder = build_encoder(config, config.latent_dim)
        self.decoder = build_decoder(config)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> z (B, latent_dim)."""
        return self.encoder(
            check_images(x, image_shape=self.config.image_shape, unit_range=False)
        )

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> x_hat (B, C, H, W)."""
        out = self.decoder(_check_latent(z, self.config.latent_dim))
        return torch.sigmoid(out) if self.config.output == "sigmoid" else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error per example, summed over pixels: (B, C, H, W) -> (B,)."""
        return losses.squared_error(self(x), x)


class VAEOutput(NamedTuple):
    """What a VAE's forward pass returns; ``x_param`` is logits (Bernoulli) or mean
    (Gaussian)."""

    x_param: torch.Tensor  # (B, C, H, W)
    mu: torch.Tensor  # (B, latent_dim)
    logvar: torch.Tensor  # (B, latent_dim)
    z: torch.Tensor  # (B, latent_dim)


class VAE(nn.Module):
    """Variational autoencoder (Kingma & Welling 2014): q(z|x) Gaussian,
    p(z) = N(0, I)."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise TypeError(f"VAE needs a VAEConfig, got {type(config).__name__}")
        self.config = config
        self.encoder = build_encoder(config, 2 * config.latent_dim)
        self.decoder = build_decoder(config)
        learn_logvar = (
            config.likelihood == "gaussian" and config.gaussian_logvar is None
        )
        self.x_logvar = nn.Parameter(torch.zeros(())) if learn_logvar else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> mu, logvar, each (B, latent_dim)."""
        h = self.encoder(check_images(x, image_shape=self.config.image_shape))
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> logits (Bernoulli) or mean in [0, 1] (Gaussian),
        (B, C, H, W)."""
        out = self.decoder(_check_latent(z, self.config.latent_dim))
        return out if self.config.likelihood == "bernoulli" else torch.sigmoid(out)

    def mean_image(self, z: torch.Tensor) -> torch.Tensor:
        """E[x | z], the picture a latent code stands for: (B, latent_dim) ->
        (B, C, H, W) in [0, 1]."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample whose gradient flows to mu
        and logvar."""
        eps = torch.randn(
            mu.shape, generator=generator, device=mu.device, dtype=mu.dtype
        )
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return VAEOutput(self.decode(z), mu, logvar, z)

    def log_likelihood(
        self, x_param: torch.Tensor, x: torch.Tensor, where: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(x | z) per example, (B,), from the decoder's output ``x_param``; with a
        bool mask ``where`` (B, 1, H, W), of those pixels only (pixels are independent
        given z)."""
        if self.config.likelihood == "bernoulli":
            return losses.bernoulli_log_likelihood(x_param, x, where)
        logvar = (
            self.x_logvar
            if self.x_logvar is not None
            else torch.tensor(self.config.gaussian_logvar)
        )
        return losses.gaussian_log_likelihood(
            x_param, logvar.to(x_param.device), x, where
        )

    def elbo_terms(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample estimates of E_q[log p(x|z)] and KL(q(z|x) || p(z)), each (B,)."""
        out = self(x, generator)
        return self.log_likelihood(out.x_param, x), losses.gaussian_kl_standard_normal(
            out.mu, out.logvar
        )

    def posterior(self, x: torch.Tensor) -> Independent:
        """q(z | x) as a distribution with batch shape (B,) and event shape
        (latent_dim,) (Chapter 2)."""
        mu, logvar = self.encode(x)
        return Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log p(z) + log p(x | z) for images x (B, C, H, W) and codes z
        (K, B, latent_dim).

        Returns (K, B): one value per sample and image (Chapter 2's importance weights).
        """
        if z.dim() != 3 or z.shape[1:] != (x.shape[0], self.config.latent_dim):
            raise ValueError(
                f"z must be shaped (K, {x.shape[0]}, {self.config.latent_dim}), got "
                f"{tuple(z.shape)}"
            )
        k, b = z.shape[:2]
        x_param = self.decode(z.reshape(k * b, -1))  # (K*B, C, H, W)
        # (K*B, C, H, W)
        x_repeated = x.expand(k, *x.shape).reshape(k * b, *x.shape[1:])
        log_px_given_z = self.log_likelihood(x_param, x_repeated).view(k, b)
        log_pz = -0.5 * (z.float() ** 2 + math.log(2 * math.pi)).sum(dim=-1)
        return log_pz + log_px_given_z

    def loss(self, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Negative (beta-weighted) ELBO per example in nats, (B,); beta = 1 is the true
        bound."""
        log_lik, kl = self.elbo_terms(x)
        return -losses.elbo(log_lik, kl, beta=beta)

    @torch.no_grad()
    def sample(
        self, num_samples: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw z ~ N(0, I) and return E[x | z]: (num_samples, C, H, W)."""
        check_positive_int(num_samples, "num_samples")
        device = next(self.parameters()).device
        z = torch.randn(
            num_samples, self.config.latent_dim, generator=generator, device=device
        )
        return self.mean_image(z)


def _check_latent(z: object, latent_dim: int) -> torch.Tensor:
    z = check_tensor(z, "z")
    if z.dim() != 2 or z.shape[1] != latent_dim:
        raise ValueError(
            f"z must be shaped (B, {latent_dim}), got shape {tuple(z.shape)}"
        )
    return z


MODEL_CLASSES: dict[str, tuple[type[nn.Module], type[NetworkConfig]]] = {
    "Autoencoder": (Autoencoder, AutoencoderConfig),
    "VAE": (VAE, VAEConfig),
}


def build_model(config: NetworkConfig) -> nn.Module:
    """The model a config describes: AutoencoderConfig -> Autoencoder,
    VAEConfig -> VAE."""
    for model_class, config_class in MODEL_CLASSES.values():
        if type(config) is config_class:
            return model_class(config)
    raise TypeError(
        f"config must be one of {[c.__name__ for _, c in MODEL_CLASSES.values()]}, "
        f"got {type(config).__name__}"
    )
