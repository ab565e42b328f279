"""Two ways to estimate the gradient of E_q[f(z)] with respect to q's parameters
(Chapter 3).

q = N(mu, diag(exp(log_std))^2). Each function returns one gradient estimate per sample,
shaped (S, 2 d): the derivatives with respect to mu (first d columns) and log_std
(last d), so that a chapter can average them (the estimate) and take their variance
(its cost).

* Score function (REINFORCE, Williams 1992): grad = E[(f(z) - b) grad log q(z)], z ~ q
  drawn without a gradient path; any constant baseline b keeps it unbiased.
* Pathwise (reparameterization, Kingma & Welling 2014): z = mu + std * eps,
  eps ~ N(0, I), grad = E[grad_z f(z) * dz/dparams]; needs f differentiable in z.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Normal

from .distributions import reparameterize
from .validate import check_positive_int, check_tensor

Objective = Callable[[torch.Tensor], torch.Tensor]  # z (S, d) -> f(z) (S,)


def _standard_noise(
    mu: torch.Tensor,
    log_std: torch.Tensor,
    num_samples: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    mu, log_std = check_tensor(mu, "mu"), check_tensor(log_std, "log_std")
    if mu.dim() != 1 or mu.shape != log_std.shape:
        raise ValueError(
            f"mu and log_std must both be (d,), got {tuple(mu.shape)} and "
            f"{tuple(log_std.shape)}"
        )
    check_positive_int(num_samples, "num_samples")
    return torch.randn(
        num_samples, mu.shape[0], generator=generator, dtype=mu.dtype, device=mu.device
    )


def score_function_gradients(
    f: Objective,
    mu: torch.Tensor,
    log_std: torch.Tensor,
    num_samples: int,
    *,
    baseline: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-sample score-function estimates (S, 2 d) of the gradient of E_q[f(z)].

    grad_mu log q = (z - mu) / std^2 and grad_log_std log q = (z - mu)^2 / std^2 - 1.
    """
    eps = _standard_noise(mu, log_std, num_samples, generator)
    mu, std = mu.detach(), log_std.detach().exp()
    z = reparameterize(Normal(mu, std), eps)  # (S, d), no gradient path
    # (S, 2 d)
    score = torch.cat([(z - mu) / std**2, (z - mu) ** 2 / std**2 - 1], dim=1)
    with torch.no_grad():
        values = f(z)  # (S,)
    return (values - baseline).unsqueeze(1) * score


def pathwise_gradients(
    f: Objective,
    mu: torch.Tensor,
    log_std: torch.Tensor,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-sample pathwise estimates (S, 2 d): grad_mu = grad_z f,
    grad_log_std = grad_z f * std * eps."""
    eps = _standard_noise(mu, log_std, num_samples, generator)
    std = log_std.detach().exp()
    z = reparameterize(Normal(mu.detach(), std), eps).requires_grad_(True)  # (S, d)
    (grad_z,) = torch.autograd.grad(f(z).sum(), z)  # row s is grad f at z_s
    return torch.cat([grad_z, grad_z * std * eps], dim=1)
