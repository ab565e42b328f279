"""What a model is trained to minimise beyond its own ``loss``: the KL warm-up of
Chapter 4 (:class:`KLWarmup`) and the denoising objectives of Chapter 5
(:func:`denoising_loss`). Each returns a per-example loss (B,) and plugs into
``fit(loss_fn=...)``.
"""

from __future__ import annotations

import inspect

import torch
from torch.distributions.kl import kl_divergence

from .denoisers import ResidualDenoiser
from .losses import elbo, squared_error
from .models import VAE, Autoencoder, Model
from .validate import (
    check_images,
    check_instance,
    check_model_dtype,
    check_non_negative_float,
    check_positive_int,
    check_same_shape,
)


def denoising_loss(
    model: Model,
    noisy: torch.Tensor,
    clean: torch.Tensor,
    beta: float = 1.0,
) -> torch.Tensor:
    """Loss of a denoiser that sees ``noisy`` and must produce ``clean`` (both
    (B, C, H, W)), per example (B,).

    An :class:`~vae_lib.models.Autoencoder` pays the squared error of its output (a
    denoising autoencoder, Vincent et al. 2008), and so does a
    :class:`~vae_lib.denoisers.ResidualDenoiser` (DnCNN, Zhang et al. 2017). A
    :class:`~vae_lib.models.VAE` pays the negative ELBO of the clean image with the
    code inferred from the noisy one, -E_q(z|noisy)[log p(clean | z)]
    + beta KL(q(z|noisy) || p(z)) (the denoising VAE of Im et al. 2017; Chapter 5).
    ``clean`` must be in [0, 1] for a VAE; ``noisy`` may leave it.
    """
    check_instance(model, "model", (Autoencoder, VAE, ResidualDenoiser))
    noisy = check_model_dtype(
        check_images(noisy, "noisy", unit_range=False), model, "noisy"
    )
    clean = check_images(clean, "clean", unit_range=isinstance(model, VAE))
    check_same_shape(noisy, clean, ("noisy", "clean"))
    check_model_dtype(clean, model, "clean")
    beta = check_non_negative_float(beta, "beta")
    if not isinstance(model, VAE):
        return squared_error(model(noisy), clean)
    out = model(noisy)
    kl = kl_divergence(out.posterior, model.prior())
    return -elbo(out.likelihood.log_prob(clean), kl, beta=beta)


class KLWarmup:
    """A VAE loss whose KL weight rises linearly from 0 to ``beta`` over
    ``warmup_steps`` training steps.

    KL warm-up (Bowman et al. 2016; Sønderby et al. 2016, Chapter 4) lets the decoder
    learn to use z before the KL term pushes q(z|x) onto the prior. Pass it as
    ``fit(..., loss_fn=KLWarmup(n))``: each call made in training mode with gradients on
    counts as one step; evaluation calls use the current weight and do not advance it.
    Returns the per-example loss (B,) of ``model.loss``.
    """

    def __init__(self, warmup_steps: int, beta: float = 1.0) -> None:
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps")
        self.beta = check_non_negative_float(beta, "beta")
        self.step = 0

    @property
    def current_beta(self) -> float:
        return self.beta * min(1.0, self.step / self.warmup_steps)

    def __call__(self, model: VAE, x: torch.Tensor) -> torch.Tensor:
        """The loss of ``model`` (a VAE) on images x (B, C, H, W): (B,)."""
        loss = getattr(model, "loss", None)
        if not callable(loss) or "beta" not in inspect.signature(loss).parameters:
            raise TypeError(
                "model must have a loss(x, *, beta) method, as a VAE does, got "
                f"{type(model).__name__}"
            )
        beta = self.current_beta
        if model.training and torch.is_grad_enabled():
            self.step += 1
        return model.loss(x, beta=beta)
