"""VAE.posterior and VAE.log_joint (Chapter 2's importance weights) against
torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal

from vae_lib.models import VAE, VAEConfig

CONFIGS = {
    "bernoulli-mlp": VAEConfig(
        image_shape=(1, 4, 4), latent_dim=2, hidden_dims=(8,), likelihood="bernoulli"
    ),
    "bernoulli-conv": VAEConfig(
        architecture="conv", image_shape=(1, 4, 4), latent_dim=3, hidden_dims=(4,)
    ),
    "gaussian-fixed": VAEConfig(
        image_shape=(2, 2, 2),
        latent_dim=2,
        hidden_dims=(8,),
        likelihood="gaussian",
        gaussian_logvar=-1.5,
    ),
    "gaussian-learned": VAEConfig(
        image_shape=(1, 4, 4), latent_dim=2, hidden_dims=(), likelihood="gaussian"
    ),
}


def seeded_vae(config: VAEConfig) -> VAE:
    torch.manual_seed(0)
    model = VAE(config)
    if model.x_logvar is not None:
        with torch.no_grad():
            model.x_logvar.fill_(0.7)  # away from 0, so a forgotten variance would show
    return model.eval()


def images(config: VAEConfig, batch: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    if config.likelihood == "bernoulli":
        return torch.bernoulli(
            torch.full((batch, *config.image_shape), 0.4), generator=generator
        )
    return torch.rand(batch, *config.image_shape, generator=generator)


def reference_log_joint(model: VAE, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) + log p(x | z), one decoder call per sample k, from
    torch.distributions."""
    rows = []
    for z_k in z:  # (B, d)
        log_prior = Normal(0.0, 1.0).log_prob(z_k).sum(-1)
        out = model.decoder(z_k)  # raw decoder output (B, C, H, W)
        if model.config.likelihood == "bernoulli":
            likelihood = Bernoulli(logits=out)
        else:
            logvar = (
                model.x_logvar
                if model.x_logvar is not None
                else torch.tensor(model.config.gaussian_logvar)
            )
            likelihood = Normal(torch.sigmoid(out), torch.exp(0.5 * logvar))
        rows.append(log_prior + likelihood.log_prob(x).flatten(1).sum(1))
    return torch.stack(rows)


@pytest.mark.parametrize("name", CONFIGS)
def test_log_joint_matches_torch_distributions_for_each_sample(name):
    config = CONFIGS[name]
    model = seeded_vae(config)
    x = images(config)
    z = 1.5 * torch.randn(
        4, 3, config.latent_dim, generator=torch.Generator().manual_seed(2)
    )
    with torch.no_grad():
        got = model.log_joint(x, z)
        expected = reference_log_joint(model, x, z)
    assert got.shape == (4, 3)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)


def test_log_joint_pairs_sample_k_of_image_b_with_image_b():
    # Different images with the same codes must give different rows; swapping images
    # swaps columns.
    config = CONFIGS["bernoulli-mlp"]
    model = seeded_vae(config)
    x = images(config, batch=2)
    z = torch.randn(5, 2, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        joint = model.log_joint(x, z)
        swapped = model.log_joint(x.flip(0), z.flip(1))
    torch.testing.assert_close(swapped, joint.flip(1))
    for k in range(5):
        with torch.no_grad():
            single = model.log_joint(x[1:], z[k : k + 1, 1:])
        torch.testing.assert_close(single, joint[k : k + 1, 1:])


def test_log_joint_prior_term_is_the_standard_normal_density():
    # With an all-zero decoder (logits 0), log p(x | z) = D log(1/2) whatever z is.
    config = CONFIGS["bernoulli-mlp"]
    model = seeded_vae(config)
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.zero_()
    x = images(config, batch=2)
    z = torch.tensor([[[0.0, 0.0], [1.0, -2.0]]])  # (1, 2, 2)
    got = model.log_joint(x, z)
    constant = 16 * math.log(0.5)
    expected = (
        torch.tensor([[-math.log(2 * math.pi), -math.log(2 * math.pi) - 2.5]])
        + constant
    )
    torch.testing.assert_close(got, expected)


def test_log_joint_is_differentiable_in_z_and_the_decoder():
    config = CONFIGS["bernoulli-mlp"]
    model = seeded_vae(config)
    z = torch.randn(
        2, 3, 2, generator=torch.Generator().manual_seed(4), requires_grad=True
    )
    model.log_joint(images(config), z).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.decoder.parameters())


@pytest.mark.parametrize(
    "shape",
    [(3, 2), (4, 2, 2), (4, 3, 3), (4, 3, 1), (1, 4, 3, 2)],
    ids=["2d", "wrong-batch", "too-wide", "too-narrow", "4d"],
)
def test_log_joint_rejects_z_of_the_wrong_shape(shape):
    model = seeded_vae(CONFIGS["bernoulli-mlp"])
    with pytest.raises(ValueError, match=r"z must be shaped \(K, 3, 2\)"):
        model.log_joint(images(CONFIGS["bernoulli-mlp"]), torch.zeros(shape))


@pytest.mark.parametrize("name", CONFIGS)
def test_posterior_is_the_encoders_diagonal_gaussian(name):
    config = CONFIGS[name]
    model = seeded_vae(config)
    x = images(config)
    with torch.no_grad():
        q = model.posterior(x)
        mu, logvar = model.encode(x)
    assert isinstance(q, Independent)
    assert q.batch_shape == (3,) and q.event_shape == (config.latent_dim,)
    torch.testing.assert_close(q.mean, mu)
    torch.testing.assert_close(q.stddev, torch.exp(logvar / 2))
    torch.testing.assert_close(q.variance, torch.exp(logvar))
    # Its density is the product of the per-coordinate normal densities.
    z = torch.randn(5, 3, config.latent_dim, generator=torch.Generator().manual_seed(5))
    manual = (
        -0.5 * ((z - mu) ** 2 / logvar.exp() + logvar + math.log(2 * math.pi))
    ).sum(-1)
    torch.testing.assert_close(q.log_prob(z), manual, rtol=1e-5, atol=1e-5)


def test_posterior_samples_carry_gradients_to_the_encoder():
    config = CONFIGS["bernoulli-mlp"]
    model = seeded_vae(config)
    z = model.posterior(images(config)).rsample((4,))
    assert z.shape == (4, 3, 2)
    z.sum().backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0
        for p in model.encoder.parameters()
    )


def test_posterior_checks_the_images():
    model = seeded_vae(CONFIGS["bernoulli-mlp"])
    with pytest.raises(ValueError):
        model.posterior(torch.zeros(3, 1, 5, 5))
