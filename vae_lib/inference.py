"""Restoring damaged images by inference in a trained VAE (Chapters 5 to 7).

A damaged image y comes from a clean x through a known damage: a noise model
(:mod:`vae_lib.corrupt`, whose ``log_prob(y, x_hat)`` is its likelihood) or a mask of
missing pixels (then log p(y | z) is the VAE's own likelihood of the observed pixels,
the missing ones summed out). Every method here works with the posterior
p(z | y) ∝ p(y | z) p(z) of the model's distributions (:class:`vae_lib.models.VAE`):

* :func:`naive_vae` encodes y as if it were clean (the method that fails);
* :func:`map_latent` and :func:`map_inpaint` find the most probable code;
* :func:`langevin_samples` and :func:`posterior_samples` draw codes from p(z | y) with
  the Metropolis-adjusted Langevin algorithm, :func:`gibbs_sampler` alternates between
  code and missing pixels (pseudo-Gibbs, or Metropolis-within-Gibbs), and
  :func:`importance_sample` weighs draws from a proposal; a :class:`Chain` says how
  long a sampler runs;
* :func:`conditional_log_likelihood` scores draws by how well they predict hidden
  pixels.

Results come back on y's device, whatever device the model is on; the model's weights
never change and its train/eval mode is restored. Images are (B, C, H, W) in [0, 1],
masks (B, 1, H, W) with ``True`` where a pixel is missing, codes (B, latent_dim), draws
(S, B, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch.distributions import Independent, Normal

from .corrupt import NoiseModel, check_mask, keep_observed
from .distributions import masked_log_prob, rsample, sample, select
from .latent import latent_means
from .models import VAE, evaluating
from .validate import (
    check_bool,
    check_float_tensor,
    check_generator,
    check_images,
    check_instance,
    check_model_images,
    check_non_negative_int,
    check_positive_float,
    check_positive_int,
    check_same_shape,
    check_tensor,
    value_checks,
)

# z (B, latent_dim) -> log p(y | z) (B,): how well a code explains the damaged images
LogLikelihood = Callable[[torch.Tensor], torch.Tensor]


def _device(model: VAE) -> torch.device:
    return next(model.parameters()).device


def _model_images(model: object, y: object, name: str = "y") -> torch.Tensor:
    """Fail unless ``model`` is a VAE and ``y`` a batch of images it takes (its image
    shape, its weights' dtype, values in [0, 1])."""
    check_instance(model, "model", VAE)
    return check_model_images(y, model, name)  # type: ignore[arg-type]


def _check_noise(noise: object, name: str = "noise") -> NoiseModel:
    if not isinstance(noise, NoiseModel):
        raise TypeError(
            f"{name} must be a vae_lib.corrupt.NoiseModel (e.g. ClippedGaussianNoise), "
            f"got {type(noise).__name__}"
        )
    return noise


def _noisy(model: VAE, y: torch.Tensor, noise: NoiseModel) -> LogLikelihood:
    def log_p_y(z: torch.Tensor) -> torch.Tensor:
        x_hat = model.decode(z)
        with value_checks(False):  # y was checked on entry; no host sync per step
            return noise.log_prob(y, x_hat)

    _check_noise(noise)
    return log_p_y


def _observed(model: VAE, y: torch.Tensor, mask: torch.Tensor) -> LogLikelihood:
    observed = ~mask
    return lambda z: masked_log_prob(model.likelihood(z), y, observed)


def _log_posterior(model: VAE, log_p_y: LogLikelihood, z: torch.Tensor) -> torch.Tensor:
    """log p(y | z) + log p(z): log p(z | y) up to a constant, (B,)."""
    return log_p_y(z) + model.prior().log_prob(z)


def log_posterior(
    model: VAE, y: torch.Tensor, damage: NoiseModel | torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """log p(y | z) + log p(z) for damaged images y and codes z (B, latent_dim): the
    log-posterior of z up to a constant, (B,), on y's device. ``damage`` is the noise
    model that made y, or the mask (B, 1, H, W) of its missing pixels."""
    y = _model_images(model, y)
    _check_start(z, y, model, "z")
    device = _device(model)
    y_model = y.to(device)
    if isinstance(damage, torch.Tensor):
        log_p_y = _observed(model, y_model, check_mask(damage, y).to(device))
    elif isinstance(damage, NoiseModel):
        log_p_y = _noisy(model, y_model, damage)
    else:
        raise TypeError(
            "damage must be a vae_lib.corrupt.NoiseModel or a mask (a bool tensor "
            f"(B, 1, H, W), True = missing), got {type(damage).__name__}"
        )
    return _log_posterior(model, log_p_y, z.to(device)).to(y.device)


@torch.no_grad()
def naive_vae(model: VAE, y: torch.Tensor) -> torch.Tensor:
    """Encode the damaged image as if it were clean and decode the posterior mean (the
    naive method): (B, C, H, W) on y's device."""
    y = _model_images(model, y)
    with evaluating(model):
        return model.decode(latent_means(model, y)).to(y.device)


@torch.no_grad()
def naive_inpaint(model: VAE, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Encode the damaged image (holes and all) as if it were whole, decode the
    posterior mean, and paste it into the holes: the method the introductory articles
    describe."""
    return keep_observed(naive_vae(model, y), y, mask)


class MAPResult(NamedTuple):
    """The most probable codes (B, latent_dim) and the images they decode to
    (B, C, H, W)."""

    codes: torch.Tensor
    images: torch.Tensor


def _map(
    model: VAE, y: torch.Tensor, log_p_y: LogLikelihood, num_steps: int, lr: float
) -> torch.Tensor:
    """Adam on z from the encoder's mean for y, maximising the log-posterior; only z
    moves. Returns the codes (B, latent_dim) on the model's device."""
    check_positive_int(num_steps, "num_steps")
    check_positive_float(lr, "lr")
    z = latent_means(model, y).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    trainable = [p for p in model.parameters() if p.requires_grad]
    for parameter in trainable:  # the caller's choice of frozen weights is kept
        parameter.requires_grad_(False)
    try:
        # y was checked on entry and z is the optimiser's: no host sync per step
        with torch.enable_grad(), value_checks(False):
            for _ in range(num_steps):
                objective = _log_posterior(model, log_p_y, z)
                optimizer.zero_grad(set_to_none=True)
                (-objective.sum()).backward()
                optimizer.step()
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
    return z.detach()


def map_latent(
    model: VAE,
    y: torch.Tensor,
    noise: NoiseModel,
    *,
    num_steps: int = 200,
    lr: float = 0.05,
) -> MAPResult:
    """Maximise log p(y | x_hat(z)) + log p(z) over z, with ``noise`` the damage that
    made y and its likelihood, starting from the encoder's mean for y.

    Each image's code is optimised on its own (the sum decouples). Returns the codes
    and the restored images x_hat(z), on y's device.
    """
    y = _model_images(model, y)
    y_model = y.to(_device(model))
    with evaluating(model):
        z = _map(model, y_model, _noisy(model, y_model, noise), num_steps, lr)
        with torch.no_grad():
            return MAPResult(z.to(y.device), model.decode(z).to(y.device))


def map_inpaint(
    model: VAE,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    num_steps: int = 200,
    lr: float = 0.05,
) -> MAPResult:
    """MAP inpainting: the code maximising log p(y_obs | z) + log p(z), found as in
    :func:`map_latent`; returns the codes and the completions (observed pixels kept),
    on y's device."""
    y = _model_images(model, y)
    mask = check_mask(mask, y)
    device = _device(model)
    y_model = y.to(device)
    with evaluating(model):
        z = _map(
            model, y_model, _observed(model, y_model, mask.to(device)), num_steps, lr
        )
        with torch.no_grad():
            images = keep_observed(model.decode(z), y_model, mask.to(device))
    return MAPResult(z.to(y.device), images.to(y.device))


def pixel_posterior_mean(
    x_hat: torch.Tensor, y: torch.Tensor, decoder_sigma: float, noise_sigma: float
) -> torch.Tensor:
    """E[x | y, z] when the decoder says x ~ N(x_hat(z), decoder_sigma^2) per pixel and
    the damage is y = x + N(0, noise_sigma^2) (Chapter 7): the precision-weighted mean
    of x_hat and y, (B, C, H, W) on y's device.

    It puts back what the code could not hold, in proportion to how much the noise lets
    through.
    """
    x_hat, y = check_images(x_hat, "x_hat"), check_images(y, "y")
    check_same_shape(x_hat, y, ("x_hat", "y"))
    prior_precision = 1 / check_positive_float(decoder_sigma, "decoder_sigma") ** 2
    noise_precision = 1 / check_positive_float(noise_sigma, "noise_sigma") ** 2
    mean = (prior_precision * x_hat.to(y.device) + noise_precision * y) / (
        prior_precision + noise_precision
    )
    return mean.clamp(0, 1)


class Draws(NamedTuple):
    """S draws of a sampler for B damaged images: ``codes`` (S, B, latent_dim),
    ``images`` (S, B, C, H, W), each the decoded mean of its code (pasted into the holes
    when inpainting), and each chain's acceptance rate (B,)."""

    codes: torch.Tensor
    images: torch.Tensor
    acceptance: torch.Tensor

    def mean(self) -> torch.Tensor:
        """The average image (B, C, H, W): the posterior mean, best in squared error.
        Where every draw agrees (observed pixels) it is that value exactly, free of
        rounding."""
        first = self.images[0]
        return torch.where(
            (self.images == first).all(dim=0), first, self.images.mean(dim=0)
        )


@dataclass(frozen=True)
class Chain:
    """How long a Markov chain runs: ``burn_in`` steps first, then ``num_samples`` kept
    states, one every ``thin`` steps."""

    num_samples: int = 20
    burn_in: int = 100
    thin: int = 5

    def __post_init__(self) -> None:
        check_positive_int(self.num_samples, "num_samples")
        check_non_negative_int(self.burn_in, "burn_in")
        check_positive_int(self.thin, "thin")

    @property
    def steps(self) -> int:
        return self.burn_in + self.num_samples * self.thin

    def keeps(self, step: int) -> bool:
        """Whether the state after step ``step`` (0-based) is one of the kept draws."""
        return step >= self.burn_in and (step - self.burn_in + 1) % self.thin == 0


def _log_posterior_and_grad(
    model: VAE, log_p_y: LogLikelihood, z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The log-posterior (B,) and its gradient with respect to z (B, latent_dim)."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        value = _log_posterior(model, log_p_y, z)
        (grad,) = torch.autograd.grad(value.sum(), z)
    return value.detach(), grad


def _langevin(
    model: VAE,
    log_p_y: LogLikelihood,
    z_start: torch.Tensor,
    chain: Chain,
    step: float,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MALA chains from ``z_start`` on the model's device: the kept codes
    (S, B, latent_dim) and acceptance rates (B,)."""
    check_positive_float(step, "step")
    device = z_start.device
    z = z_start.detach().clone()
    steps = torch.full((z.shape[0], 1), float(step), device=device)  # tuned per chain
    log_p, grad = _log_posterior_and_grad(model, log_p_y, z)
    kept, accepted = [], torch.zeros(z.shape[0], device=device)
    with value_checks(False):  # the chain's own codes: no host sync per step
        for i in range(chain.steps):
            noise = torch.randn(z.shape, generator=generator, device=device)
            proposal = z + steps * grad + torch.sqrt(2 * steps) * noise
            log_p_new, grad_new = _log_posterior_and_grad(model, log_p_y, proposal)
            # log q(z | proposal) - log q(proposal | z) for the Langevin proposal
            # N(z + step grad, 2 step I)
            forward = (proposal - z - steps * grad).pow(2).sum(1)
            backward = (z - proposal - steps * grad_new).pow(2).sum(1)
            log_ratio = log_p_new - log_p + (forward - backward) / (4 * steps[:, 0])
            uniform = torch.rand(z.shape[0], generator=generator, device=device)
            accept = uniform.log() < log_ratio
            z = torch.where(accept[:, None], proposal, z)
            log_p = torch.where(accept, log_p_new, log_p)
            grad = torch.where(accept[:, None], grad_new, grad)
            if i < chain.burn_in:  # Robbins-Monro step-size adaptation towards 57%
                steps = steps * torch.exp(0.1 * (accept.float() - 0.57))[:, None]
            else:
                accepted += accept.float()
            if chain.keeps(i):
                kept.append(z.clone())
    return torch.stack(kept), accepted / (chain.num_samples * chain.thin)


def _check_start(
    z_start: object, y: torch.Tensor, model: VAE, name: str = "z_start"
) -> torch.Tensor:
    """Fail unless ``z_start`` holds one finite code per image: (B, latent_dim)."""
    z_start = check_float_tensor(z_start, name)
    expected = (y.shape[0], model.config.latent_dim)
    if tuple(z_start.shape) != expected:
        raise ValueError(
            f"{name} must hold one code per image, shape ({y.shape[0]}, latent_dim), "
            f"got {tuple(z_start.shape)} (latent_dim = {expected[1]})"
        )
    return z_start


def _check_chain(chain: object) -> Chain:
    if not isinstance(chain, Chain):
        raise TypeError(f"chain must be an inference.Chain, got {type(chain).__name__}")
    return chain


LANGEVIN_CHAIN = Chain(num_samples=16, burn_in=200, thin=5)


def langevin_samples(
    model: VAE,
    y: torch.Tensor,
    noise: NoiseModel,
    z_start: torch.Tensor,
    *,
    chain: Chain = LANGEVIN_CHAIN,
    step: float = 0.01,
    generator: torch.Generator | None = None,
) -> Draws:
    """Draw restorations from p(z | y) with the Metropolis-adjusted Langevin algorithm
    (Roberts & Tweedie 1996), one chain per image started at ``z_start``
    (B, latent_dim), e.g. the MAP code; ``generator`` on the model's device.

    Each proposal moves z along the gradient of log p(z | y) plus Gaussian noise and is
    accepted with the Metropolis-Hastings probability, so the chain targets the exact
    posterior. During the chain's burn-in each chain tunes its own step size, starting
    from ``step``, towards an acceptance rate of about 0.57.
    """
    y = _model_images(model, y)
    _check_noise(noise)
    _check_start(z_start, y, model)
    chain = _check_chain(chain)
    check_generator(generator)
    device = _device(model)
    y_model = y.to(device)
    with evaluating(model):
        log_p_y = _noisy(model, y_model, noise)
        codes, acceptance = _langevin(
            model, log_p_y, z_start.to(device), chain, step, generator
        )
        with torch.no_grad():
            images = model.decode(codes.flatten(0, 1)).view(-1, *y.shape)
    return Draws(codes.to(y.device), images.to(y.device), acceptance.to(y.device))


def posterior_samples(
    model: VAE,
    y: torch.Tensor,
    mask: torch.Tensor,
    z_start: torch.Tensor,
    *,
    chain: Chain = Chain(num_samples=20, burn_in=200, thin=5),
    generator: torch.Generator | None = None,
) -> Draws:
    """Multiple imputation: draws z ~ p(z | y_obs) by Metropolis-adjusted Langevin on
    the observed pixels' likelihood (as in :func:`langevin_samples`), started at
    ``z_start`` (e.g. the MAP codes), each decoded and pasted into the holes: several
    plausible completions of every image."""
    y = _model_images(model, y)
    mask = check_mask(mask, y)
    _check_start(z_start, y, model)
    chain = _check_chain(chain)
    check_generator(generator)
    device = _device(model)
    y_model, mask_model = y.to(device), mask.to(device)
    with evaluating(model):
        log_p_y = _observed(model, y_model, mask_model)
        codes, acceptance = _langevin(
            model, log_p_y, z_start.to(device), chain, 0.01, generator
        )
        with torch.no_grad():
            images = model.decode(codes.flatten(0, 1)).view(-1, *y.shape)
            images = torch.where(mask_model, images, y_model)
    return Draws(codes.to(y.device), images.to(y.device), acceptance.to(y.device))


@torch.no_grad()
def gibbs_sampler(
    model: VAE,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    metropolis: bool,
    chain: Chain = Chain(),
    z_start: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Draws:
    """Alternate between the code and the missing pixels, one chain per image:
    z ~ q(z | x_obs, x_mis), then x_mis ~ p(x_mis | z). ``generator`` on the model's
    device.

    Without ``z_start`` each chain starts from the damaged image as given (its holes
    filled with whatever y holds there) and the encoder's mean for it. With ``z_start``
    (B, latent_dim), e.g. the MAP codes, each chain starts at that code, with missing
    pixels drawn from p(x_mis | z_start): the start :func:`posterior_samples` takes,
    so that samplers can be compared from the same point.

    ``metropolis=False`` is pseudo-Gibbs sampling (Rezende et al. 2014): every draw of
    the encoder is kept, so the encoder stands in for the true posterior p(z | x) and
    the chain's stationary distribution, if it has one, is not the model's conditional
    p(x_mis | x_obs) in general. ``metropolis=True`` is Metropolis-within-Gibbs (Mattei
    & Frellsen 2018): the encoder's draw z' is a proposal, accepted with probability
    min(1, p(x, z') q(z | x) / (p(x, z) q(z' | x))), so the chain targets the model's
    exact conditional p(z, x_mis | x_obs).
    """
    y = _model_images(model, y)
    mask = check_mask(mask, y)
    check_bool(metropolis, "metropolis")
    chain = _check_chain(chain)
    if z_start is not None:
        _check_start(z_start, y, model)
    check_generator(generator)
    device = _device(model)
    y_model, mask_model = y.to(device), mask.to(device)
    prior = model.prior()
    with evaluating(model):
        if z_start is None:
            x = y_model.clone()  # current completion
            z = model.posterior(x).mean
            p_x = model.likelihood(z)  # p(x | z) of the chain's current code
        else:
            z = z_start.to(device).clone()
            p_x = model.likelihood(z)
            drawn = sample(p_x, generator=generator).clamp(0.0, 1.0)
            x = torch.where(mask_model, drawn, y_model)
        kept, accepted = [], torch.zeros(y.shape[0], device=device)
        with value_checks(False):  # inputs checked on entry: no host sync per step
            for step in range(chain.steps):
                q = model.posterior(x)
                proposal = rsample(q, generator=generator)
                p_x_proposal = model.likelihood(proposal)
                accept = torch.ones(y.shape[0], dtype=torch.bool, device=device)
                if metropolis:
                    # log rho = log p(x, z') - log p(x, z)
                    #           + log q(z | x) - log q(z' | x)
                    log_rho = (
                        p_x_proposal.log_prob(x)
                        + prior.log_prob(proposal)
                        + q.log_prob(z)
                        - p_x.log_prob(x)
                        - prior.log_prob(z)
                        - q.log_prob(proposal)
                    )
                    uniform = torch.rand(y.shape[0], generator=generator, device=device)
                    accept = uniform.log() < log_rho
                z = torch.where(accept[:, None], proposal, z)
                p_x = select(accept, p_x_proposal, p_x)
                # x_mis ~ p(x_mis | z): Bernoulli draws, or Gaussian ones clipped to
                # [0, 1]
                drawn = sample(p_x, generator=generator).clamp(0.0, 1.0)
                x = torch.where(mask_model, drawn, y_model)
                if step >= chain.burn_in:
                    accepted += accept.float()
                if chain.keeps(step):
                    kept.append(z.clone())
        codes = torch.stack(kept)  # (S, B, d)
        means = model.decode(codes.flatten(0, 1)).view(-1, *y.shape)
    images = torch.where(mask_model, means, y_model)
    acceptance = accepted / (chain.num_samples * chain.thin)
    return Draws(codes.to(y.device), images.to(y.device), acceptance.to(y.device))


def _check_codes(
    codes: object, batch: int, model: VAE, name: str = "codes"
) -> torch.Tensor:
    """Fail unless ``codes`` are finite draws (S, batch, latent_dim)."""
    codes = check_float_tensor(codes, name)
    latent_dim = model.config.latent_dim
    if codes.dim() != 3 or codes.shape[1:] != (batch, latent_dim):
        raise ValueError(
            f"{name} must be shaped (S, {batch}, latent_dim), got "
            f"{tuple(codes.shape)} (latent_dim = {latent_dim})"
        )
    return codes


def _check_log_weights(
    log_weights: object, codes: torch.Tensor, name: str = "log_weights"
) -> torch.Tensor:
    """Fail unless ``log_weights`` are one per code, (S, B), each finite or -inf (a
    weight of 0), with a positive weight for every image."""
    log_weights = check_tensor(log_weights, name)
    if not log_weights.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got {log_weights.dtype}"
        )
    if log_weights.shape != codes.shape[:2]:
        raise ValueError(
            f"{name} must be shaped {tuple(codes.shape[:2])} like the codes, got "
            f"{tuple(log_weights.shape)}"
        )
    if log_weights.numel() and (
        log_weights.isnan().any()
        or log_weights.isposinf().any()
        or not torch.isfinite(log_weights).any(dim=0).all()
    ):
        raise ValueError(
            f"{name} must be finite or -inf (a weight of 0), with a finite one for "
            "every image; got nan, +inf or an image whose weights are all -inf"
        )
    return log_weights


@torch.no_grad()
def conditional_log_likelihood(
    model: VAE,
    x: torch.Tensor,
    mask: torch.Tensor,
    codes: torch.Tensor,
    log_weights: torch.Tensor | None = None,
    chunk_size: int = 50,
) -> torch.Tensor:
    """log p(x_mis | x_obs) of the true missing pixels, estimated from codes z_s
    (S, B, latent_dim): log sum_s w_s p(x_mis | z_s) with weights softmax(log_weights)
    (S, B), or 1/S when not given.

    With draws from p(z | x_obs) (an exact sampler), equal weights estimate the model's
    conditional log-likelihood; with draws from a proposal and importance weights
    (:func:`importance_sample`), so does the self-normalised estimate. Draws from
    anywhere else score how well that sampler predicts the hidden pixels. In nats per
    image: (B,), on x's device.
    """
    x = _model_images(model, x, "x")
    mask = check_mask(mask, x)
    codes = _check_codes(codes, x.shape[0], model)
    if log_weights is None:
        log_weights = torch.zeros(codes.shape[:2], device=codes.device)
    else:
        log_weights = _check_log_weights(log_weights, codes)
    check_positive_int(chunk_size, "chunk_size")
    device = _device(model)
    x_model, mask_model = x.to(device), mask.to(device)
    b = codes.shape[1]
    with evaluating(model):
        log_p_missing = torch.cat(  # (S, B)
            [
                masked_log_prob(
                    model.likelihood(chunk.flatten(0, 1).to(device)),
                    x_model.repeat(chunk.shape[0], 1, 1, 1),
                    mask_model.repeat(chunk.shape[0], 1, 1, 1),
                ).view(chunk.shape[0], b)
                for chunk in codes.split(chunk_size)
            ]
        )
    log_weights = log_weights.to(device)
    estimate = torch.logsumexp(log_weights + log_p_missing, dim=0) - torch.logsumexp(
        log_weights, dim=0
    )
    return estimate.to(x.device)


class ImportanceSamples(NamedTuple):
    """Codes drawn from a proposal, (K, B, latent_dim), and their log importance
    weights for p(z | y_obs), (K, B); their softmax over K weighs the draws."""

    codes: torch.Tensor
    log_weights: torch.Tensor


@torch.no_grad()
def importance_sample(
    model: VAE,
    y: torch.Tensor,
    mask: torch.Tensor,
    proposal_images: torch.Tensor,
    num_samples: int,
    *,
    scale: float = 1.0,
    chunk_size: int = 50,
    generator: torch.Generator | None = None,
) -> ImportanceSamples:
    """Codes z_k ~ r(z) = q(z | proposal_images) with its standard deviations times
    ``scale``, and their importance weights for p(z | y_obs):
    log w_k = log p(y_obs | z_k) + log p(z_k) - log r(z_k); on y's device, with
    ``generator`` on the model's device."""
    y = _model_images(model, y)
    mask = check_mask(mask, y)
    check_positive_int(num_samples, "num_samples")
    scale = check_positive_float(scale, "scale")
    check_positive_int(chunk_size, "chunk_size")
    check_generator(generator)
    check_same_shape(
        check_model_images(proposal_images, model, "proposal_images"),
        y,
        ("proposal_images", "y"),
    )
    device = _device(model)
    y_model, mask_model = y.to(device), mask.to(device)
    codes, log_weights = [], []
    with evaluating(model):
        q = model.posterior(proposal_images.to(device))
        r = Independent(Normal(q.mean, q.stddev * scale), 1)
        prior = model.prior()
        for start in range(0, num_samples, chunk_size):
            k = min(chunk_size, num_samples - start)
            z = rsample(r, (k,), generator=generator)  # (k, B, d)
            log_p_observed = masked_log_prob(
                model.likelihood(z.flatten(0, 1)),
                y_model.repeat(k, 1, 1, 1),
                ~mask_model.repeat(k, 1, 1, 1),
            ).view(k, -1)
            codes.append(z)
            log_weights.append(log_p_observed + prior.log_prob(z) - r.log_prob(z))
    return ImportanceSamples(
        torch.cat(codes).to(y.device), torch.cat(log_weights).to(y.device)
    )


@torch.no_grad()
def importance_weighted_mean(
    model: VAE,
    samples: ImportanceSamples,
    y: torch.Tensor,
    mask: torch.Tensor,
    chunk_size: int = 50,
) -> torch.Tensor:
    """The self-normalised importance estimate of the posterior-mean completion,
    sum_k softmax(log w)_k E[x | z_k], pasted into the holes: (B, C, H, W) on y's
    device."""
    y = _model_images(model, y)
    mask = check_mask(mask, y)
    check_instance(samples, "samples", ImportanceSamples)
    _check_codes(samples.codes, y.shape[0], model, "samples.codes")
    _check_log_weights(samples.log_weights, samples.codes, "samples.log_weights")
    check_positive_int(chunk_size, "chunk_size")
    device = _device(model)
    weights = torch.softmax(samples.log_weights.to(device), dim=0)  # (K, B)
    mean = torch.zeros(y.shape, device=device, dtype=next(model.parameters()).dtype)
    with evaluating(model):
        for w, z in zip(weights.split(chunk_size), samples.codes.split(chunk_size)):
            images = model.decode(z.flatten(0, 1).to(device)).view(
                *z.shape[:2], *y.shape[1:]
            )
            mean += (w[:, :, None, None, None] * images).sum(dim=0)
    return keep_observed(mean.to(y.device), y, mask)
