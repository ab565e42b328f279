"""A training run watched step by step (Chapter 3's common mistakes): ``fit``'s loop
written out, recording after every Adam step what a user could watch -- the batch's
loss, the largest gradient, the mean KL on probe images and how many entries of Adam's
second-moment estimate have overflowed to inf."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .data import binarize_dynamic
from .losses import gaussian_kl_standard_normal
from .models import VAE
from .validate import (
    check_callable,
    check_images,
    check_instance,
    check_model_dtype,
    check_positive_float,
    check_positive_int,
    check_seed,
)

LossFn = Callable[[VAE, torch.Tensor], torch.Tensor]  # (model, x (B, ...)) -> (B,)


@torch.no_grad()
def mean_kl(model: VAE, x: torch.Tensor) -> float:
    """Mean KL(q(z|x) || N(0, I)) over the images ``x`` (B, C, H, W), in nats, computed
    in float64 (a runaway logvar outgrows float32's exp)."""
    check_instance(model, "model", VAE)
    mu, logvar = (t.double() for t in model.encode(check_images(x)))
    return gaussian_kl_standard_normal(mu, logvar).mean().item()


@dataclass
class Trace:
    """Per-step records of :func:`fit_traced` (one entry per Adam step), Adam itself,
    and whether a weight whose second moment was inf ever moved."""

    loss: list[float] = field(default_factory=list)
    gradient: list[float] = field(default_factory=list)  # largest |gradient|
    kl: list[float] = field(default_factory=list)  # mean KL on the probe images
    infinite: list[int] = field(default_factory=list)  # inf entries of exp_avg_sq
    frozen_moved: bool = False
    optimizer: torch.optim.Adam | None = None


def _second_moments(
    optimizer: torch.optim.Adam, weights: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    return [
        optimizer.state[w]["exp_avg_sq"]
        if w in optimizer.state
        else torch.zeros_like(w)
        for w in weights
    ]


def fit_traced(
    model: VAE,
    x: torch.Tensor,
    loss_fn: LossFn,
    probe: torch.Tensor,
    *,
    num_epochs: int,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 1e-3,
) -> Trace:
    """Train ``model`` on images ``x`` (N, C, H, W) in [0, 1], dynamically binarised,
    with Adam on ``loss_fn(model, batch).mean()``, in ``fit``'s order of batches;
    record after every step the loss, the largest |gradient|, ``mean_kl`` on ``probe``
    (B, C, H, W) and the number of inf entries in Adam's ``exp_avg_sq``."""
    check_instance(model, "model", VAE)
    x = check_images(x, image_shape=model.config.image_shape)
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one image, got an empty batch")
    check_model_dtype(x, model, "x")
    check_callable(loss_fn, "loss_fn")
    probe = check_images(probe, "probe", image_shape=model.config.image_shape)
    check_model_dtype(probe, model, "probe")
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_positive_float(lr, "lr")
    seed = check_seed(seed)
    device = next(model.parameters()).device
    weights = list(model.parameters())
    optimizer = torch.optim.Adam(weights, lr=lr)
    generator = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)  # the model's noise
    trace = Trace(optimizer=optimizer)
    for _ in range(num_epochs):
        order = torch.randperm(len(x), generator=generator, device=device)
        for index in order.split(batch_size):
            loss = loss_fn(model, binarize_dynamic(x[index], generator)).mean()
            optimizer.zero_grad()
            loss.backward()
            frozen = [torch.isinf(v) for v in _second_moments(optimizer, weights)]
            before = [w.detach().clone() for w in weights]
            optimizer.step()
            trace.frozen_moved |= any(
                bool((w.detach() != b)[f].any())
                for w, b, f in zip(weights, before, frozen, strict=True)
            )
            trace.loss.append(loss.item())
            trace.gradient.append(
                max(w.grad.abs().max().item() for w in weights if w.grad is not None)
            )
            trace.kl.append(mean_kl(model, probe))
            trace.infinite.append(
                sum(
                    int(torch.isinf(v).sum().item())
                    for v in _second_moments(optimizer, weights)
                )
            )
    return trace
