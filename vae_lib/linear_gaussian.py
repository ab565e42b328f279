"""A latent-variable model whose every quantity is exact: the linear-Gaussian model
(Chapter 2).

z ~ N(0, I_d),  x | z ~ N(W z + b, sigma^2 I_D).

Its marginal is Gaussian, p(x) = N(b, W W^T + sigma^2 I), and so is its posterior,
p(z | x) = N(S W^T (x - b) / sigma^2, S) with S = (I + W^T W / sigma^2)^{-1}
(probabilistic PCA, Tipping & Bishop 1999). The book uses it as ground truth for the
ELBO, the IWAE bound and the gradient estimators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.distributions import MultivariateNormal

from .distributions import standard_normal
from .validate import (
    check_finite,
    check_float_tensor,
    check_generator,
    check_instance,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_tensor,
)


@dataclass(frozen=True)
class LinearGaussianModel:
    """W (D, d), b (D,), noise standard deviation sigma > 0; float64 for exact
    checks."""

    W: torch.Tensor
    b: torch.Tensor
    sigma: float

    def __post_init__(self) -> None:
        check_float_tensor(self.W, "W")
        check_float_tensor(self.b, "b")
        # a NumPy number becomes a Python float
        object.__setattr__(self, "sigma", check_positive_float(self.sigma, "sigma"))
        if self.W.dim() != 2 or self.b.shape != (self.W.shape[0],):
            raise ValueError(
                f"W must be (D, d) and b (D,), got {tuple(self.W.shape)} and "
                f"{tuple(self.b.shape)}"
            )
        if self.b.dtype != self.W.dtype:
            raise TypeError(f"b must have W's dtype {self.W.dtype}, got {self.b.dtype}")

    @classmethod
    def random(
        cls, data_dim: int, latent_dim: int, sigma: float = 0.5, seed: int = 0
    ) -> LinearGaussianModel:
        """A model with W, b drawn from N(0, 1) (seeded), in float64."""
        data_dim = check_positive_int(data_dim, "data_dim")
        latent_dim = check_positive_int(latent_dim, "latent_dim")
        sigma = check_positive_float(sigma, "sigma")
        generator = torch.Generator().manual_seed(check_seed(seed))
        W = torch.randn(data_dim, latent_dim, generator=generator, dtype=torch.float64)
        b = torch.randn(data_dim, generator=generator, dtype=torch.float64)
        return cls(W, b, sigma)

    @classmethod
    def toy_2d(cls) -> LinearGaussianModel:
        """The book's 2-D-latent toy (Chapters 2 and 3), in float64: D = 3, d = 2,
        sigma = 0.5, b = 0, and a W whose columns point almost the same way, so the
        exact posterior is strongly correlated (correlation -0.82, standard deviations
        0.63 and 0.61 for every x) and no diagonal Gaussian can match it."""
        W = torch.tensor(
            [[1.0, 0.9], [0.8, 1.0], [0.3, -0.1]], dtype=torch.float64
        )  # (D, d) = (3, 2)
        return cls(W, torch.zeros(3, dtype=torch.float64), 0.5)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        """Data (B, D), finite floats, computed in W's dtype."""
        x = check_float_tensor(x, "x")
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(
                f"x must be shaped (B, {self.data_dim}), got {tuple(x.shape)}"
            )
        return x.to(self.W.dtype)

    def sample(
        self, num_samples: int, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw x ~ p(x): (num_samples, D)."""
        num_samples = check_positive_int(num_samples, "num_samples")
        check_generator(generator)
        z = torch.randn(
            num_samples, self.latent_dim, generator=generator, dtype=self.W.dtype
        )
        noise = torch.randn(
            num_samples, self.data_dim, generator=generator, dtype=self.W.dtype
        )
        return z @ self.W.T + self.b + self.sigma * noise

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) per example: (B, D) -> (B,)."""
        covariance = self.W @ self.W.T + self.sigma**2 * torch.eye(
            self.data_dim, dtype=self.W.dtype
        )
        return MultivariateNormal(self.b, covariance_matrix=covariance).log_prob(
            self._check_x(x)
        )

    def posterior(self, x: torch.Tensor) -> MultivariateNormal:
        """The exact posterior p(z | x): batch shape (B,), event shape (d,)."""
        x = self._check_x(x)
        precision = (
            torch.eye(self.latent_dim, dtype=self.W.dtype)
            + self.W.T @ self.W / self.sigma**2
        )
        covariance = torch.linalg.inv(precision)
        # (B, d); covariance is symmetric
        mean = (x - self.b) @ self.W @ covariance / self.sigma**2
        return MultivariateNormal(
            mean, covariance_matrix=covariance.expand(x.shape[0], -1, -1)
        )

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(z) + log p(x | z) for x (B, D) and z (K, B, d): (K, B)."""
        x = self._check_x(x)
        z = check_finite(check_tensor(z, "z"), "z")
        if z.dim() != 3 or z.shape[1:] != (x.shape[0], self.latent_dim):
            raise ValueError(
                f"z must be shaped (K, {x.shape[0]}, {self.latent_dim}), got "
                f"{tuple(z.shape)}"
            )
        log_pz = standard_normal(self.latent_dim, dtype=self.W.dtype).log_prob(z)
        residual = x - (z @ self.W.T + self.b)  # (K, B, D)
        log_px_given_z = -0.5 * (
            (residual / self.sigma) ** 2 + math.log(2 * math.pi * self.sigma**2)
        ).sum(dim=-1)
        return log_pz + log_px_given_z

    def exact_elbo(self, x: torch.Tensor, q: MultivariateNormal) -> torch.Tensor:
        """The ELBO of a Gaussian q(z | x) = N(m, S) in closed form, per example (B,).

        E_q[log p(x|z)] = -D/2 log(2 pi sigma^2)
                          - (||x - W m - b||^2 + tr(W S W^T)) / (2 sigma^2),
        E_q[log p(z)]   = -d/2 log(2 pi) - (||m||^2 + tr S) / 2,
        H[q] = 1/2 log det(2 pi e S).
        """
        x = self._check_x(x)
        check_instance(q, "q", MultivariateNormal)
        # (B, d), (B, d, d)
        m, S = (
            q.mean.to(self.W.dtype),
            q.covariance_matrix.to(self.W.dtype),
        )
        if m.shape != (x.shape[0], self.latent_dim):
            raise ValueError(
                f"q must have mean shaped ({x.shape[0]}, {self.latent_dim}), got "
                f"{tuple(m.shape)}"
            )
        trace_wsw = torch.einsum("ij,bjk,ik->b", self.W, S, self.W)  # tr(W S W^T)
        residual = ((x - m @ self.W.T - self.b) ** 2).sum(dim=1)
        expected_log_lik = -0.5 * self.data_dim * math.log(
            2 * math.pi * self.sigma**2
        ) - (residual + trace_wsw) / (2 * self.sigma**2)
        trace_s = torch.diagonal(S, dim1=-2, dim2=-1).sum(dim=-1)
        expected_log_prior = -0.5 * self.latent_dim * math.log(2 * math.pi) - 0.5 * (
            (m**2).sum(dim=1) + trace_s
        )
        return expected_log_lik + expected_log_prior + q.entropy()
