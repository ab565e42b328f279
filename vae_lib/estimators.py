"""Gradient estimators for E_q[f(z)] and the Gumbel-softmax relaxation (Chapter 3).

q = N(mu, diag(s^2)) with parameters psi = (mu, log s^2), the encoder's (mu, logvar).
The two estimators return one gradient estimate per sample, shaped (S, 2 d): the
derivatives with respect to mu (first d columns) and logvar (last d), so that a chapter
can average them (the estimate) and take their variance (its cost).

* Score function (REINFORCE, Williams 1992): grad = E[(f(z) - b) grad log q(z)], z ~ q
  drawn without a gradient path; any constant baseline b keeps it unbiased.
* Pathwise (reparameterization, Kingma & Welling 2014): z = g_psi(eps) = mu + s * eps,
  eps ~ N(0, I), grad = E[grad_z f(z) * dz/dpsi]; needs f differentiable in z.

``score_function_loss`` is the score-function estimator inside a VAE's loss (a
surrogate whose value is the negative ELBO and whose encoder gradient is the score
function's); ``squared_deviations`` turns per-sample estimates into per-sample
contributions to their variance, so that two variances can be compared item by item;
``lower_variance`` claims that one variance is below another on such paired items;
``gumbel_softmax`` draws relaxed one-hot samples (Jang et al. 2017, Maddison et
al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Normal, kl_divergence

from . import claims
from .claims import Comparison
from .distributions import reparameterize, rsample
from .models import VAE
from .validate import (
    check_callable,
    check_choice,
    check_finite_float,
    check_float_tensor,
    check_generator,
    check_instance,
    check_positive_float,
    check_positive_int,
    check_same_shape,
    check_seed,
    check_tensor,
)

Objective = Callable[[torch.Tensor], torch.Tensor]  # z (S, d) -> f(z) (S,)


def _standard_noise(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    mu, logvar = check_float_tensor(mu, "mu"), check_float_tensor(logvar, "logvar")
    if mu.dim() != 1 or mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must both be (d,), got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}"
        )
    num_samples = check_positive_int(num_samples, "num_samples")
    check_generator(generator)
    return torch.randn(
        num_samples, mu.shape[0], generator=generator, dtype=mu.dtype, device=mu.device
    )


def score_function_gradients(
    f: Objective,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    *,
    baseline: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-sample score-function estimates (S, 2 d) of the gradient of E_q[f(z)].

    grad_mu log q = (z - mu) / s^2 and grad_logvar log q = ((z - mu)^2 / s^2 - 1) / 2.
    """
    check_callable(f, "f")
    baseline = check_finite_float(baseline, "baseline")
    eps = _standard_noise(mu, logvar, num_samples, generator)
    mu, var = mu.detach(), logvar.detach().exp()
    z = reparameterize(Normal(mu, var.sqrt()), eps)  # (S, d), no gradient path
    # (S, 2 d)
    score = torch.cat([(z - mu) / var, ((z - mu) ** 2 / var - 1) / 2], dim=1)
    with torch.no_grad():
        values = f(z)  # (S,)
    return (values - baseline).unsqueeze(1) * score


def pathwise_gradients(
    f: Objective,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-sample pathwise estimates (S, 2 d): grad_mu = grad_z f,
    grad_logvar = grad_z f * s * eps / 2."""
    check_callable(f, "f")
    eps = _standard_noise(mu, logvar, num_samples, generator)
    std = (0.5 * logvar.detach()).exp()
    z = reparameterize(Normal(mu.detach(), std), eps).requires_grad_(True)  # (S, d)
    (grad_z,) = torch.autograd.grad(f(z).sum(), z)  # row s is grad f at z_s
    return torch.cat([grad_z, grad_z * std * eps / 2], dim=1)


def squared_deviations(values: torch.Tensor) -> torch.Tensor:
    """(N,) squared distance of each row of ``values`` (N, k) from the rows' mean,
    times N / (N - 1): their mean is the trace of the sample covariance (the sample
    variance when k = 1), and their standard error is that of the variance."""
    values = check_float_tensor(values, "values")
    if values.dim() != 2 or values.shape[0] < 2:
        raise ValueError(
            f"values must be (N, k) with N >= 2, got {tuple(values.shape)}"
        )
    n = values.shape[0]
    return ((values - values.mean(dim=0)) ** 2).sum(dim=1) * n / (n - 1)


def score_function_loss(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """A VAE's negative ELBO per image (B,) whose gradient for the encoder is the
    score-function estimate (one sample per image, baseline f at the mean code).

    z is drawn without a path to the encoder; the term (f - b) (log q - stop(log q))
    has value 0 and gradient (f - b) grad log q, so the loss reads as the usual one.
    """
    check_instance(model, "model", VAE)
    q = model.posterior(x)  # q(z|x), batch (B,)
    z = rsample(q).detach()  # (B, d): no path to the encoder
    log_lik = model.likelihood(z).log_prob(x)  # (B,) decoder: usual gradient
    with torch.no_grad():
        baseline = model.likelihood(q.mean).log_prob(x)  # (B,) b(x): f at the mean
    log_q = q.log_prob(z)  # (B,) its gradient is the score
    surrogate = (log_lik.detach() - baseline) * (log_q - log_q.detach())  # value 0
    kl = kl_divergence(q, model.prior())  # (B,) exact, differentiable
    return -(log_lik + surrogate - kl)


def gumbel_softmax(
    logits: torch.Tensor,
    tau: float,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Relaxed one-hot samples softmax((logits + gamma) / tau), shaped (S, C), with
    Gumbel noise gamma = -log(-log u), u ~ Uniform(0, 1); differentiable in the logits
    (C,) or (S, C). As tau -> 0 they tend to one-hot Gumbel-max draws of
    Categorical(softmax(logits))."""
    logits = check_float_tensor(logits, "logits")
    tau = check_positive_float(tau, "tau")
    num_samples = check_positive_int(num_samples, "num_samples")
    check_generator(generator)
    if logits.dim() not in (1, 2) or (
        logits.dim() == 2 and logits.shape[0] != num_samples
    ):
        raise ValueError(
            f"logits must be (C,) or (num_samples, C) = ({num_samples}, C), got "
            f"{tuple(logits.shape)}"
        )
    num_categories = logits.shape[-1]
    u = torch.rand(
        num_samples,
        num_categories,
        generator=generator,
        dtype=logits.dtype,
        device=logits.device,
    )
    u = u.clamp_min(torch.finfo(logits.dtype).tiny)  # log(0) never happens
    gamma = -torch.log(-torch.log(u))  # (S, C)
    return torch.softmax((logits + gamma) / tau, dim=-1)


ESTIMATORS = ("score", "score + baseline", "pathwise")


def per_sample_gradients(
    name: str,
    f: Objective,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    num_samples: int,
    *,
    baseline: float = 0.0,
    seed: int = 0,
) -> torch.Tensor:
    """(S, 2 d) one-sample gradient estimates of E_q[f] by the estimator ``name``, one
    of ``ESTIMATORS``, from a generator seeded with ``seed`` (the same seed gives every
    estimator the same noise). ``baseline`` is used by "score + baseline" only."""
    check_choice(name, "name", ESTIMATORS)
    mu = check_tensor(mu, "mu")
    generator = torch.Generator(device=mu.device).manual_seed(check_seed(seed))
    if name == "pathwise":
        return pathwise_gradients(f, mu, logvar, num_samples, generator=generator)
    b = baseline if name == "score + baseline" else 0.0
    return score_function_gradients(
        f, mu, logvar, num_samples, baseline=b, generator=generator
    )


def lower_variance(
    low: torch.Tensor, high: torch.Tensor, name_low: str, name_high: str
) -> Comparison:
    """Claim that the variance behind the squared deviations ``low`` (N,) is below the
    one behind ``high`` (N,), paired item by item (the same noise behind both), by at
    least two standard errors of the paired difference; returns high minus low."""
    for scores, name in ((low, "low"), (high, "high")):
        scores = check_float_tensor(scores, name)
        if scores.dim() != 1:
            raise ValueError(f"{name} must be shaped (N,), got {tuple(scores.shape)}")
    check_same_shape(low, high, ("low", "high"))
    for label, name in ((name_low, "name_low"), (name_high, "name_high")):
        if not isinstance(label, str):
            raise TypeError(f"{name} must be a str, got {label!r}")
    comparison = claims.paired(high, low)
    claims.claim(
        f"{name_low} has a lower variance than {name_high}: {comparison}",
        comparison.z >= 2,
        margin=comparison.z - 2,
    )
    return comparison
