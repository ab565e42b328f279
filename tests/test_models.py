"""vae_lib.models: configs, shapes, input checks, reparameterisation and sampling."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from vae_lib.models import (
    VAE,
    Autoencoder,
    AutoencoderConfig,
    NetworkConfig,
    VAEConfig,
    build_model,
    count_parameters,
)

SMALL = {"image_shape": (1, 8, 8), "latent_dim": 3}
ARCHITECTURES = {"mlp": {"hidden_dims": (16,)}, "conv": {"hidden_dims": (4, 8)}}
VAE_VARIANTS = {
    "bernoulli": {"likelihood": "bernoulli"},
    "gaussian-fixed": {"likelihood": "gaussian", "gaussian_logvar": -1.0},
    "gaussian-learned": {"likelihood": "gaussian", "gaussian_logvar": None},
}


def small_config(kind: str, architecture: str, image_shape=(1, 8, 8), **changes):
    """A tiny config: kind "ae" or one of VAE_VARIANTS."""
    fields = {
        **SMALL,
        "image_shape": image_shape,
        "architecture": architecture,
        **ARCHITECTURES[architecture],
    }
    if kind == "ae":
        return AutoencoderConfig(**fields, **changes)
    return VAEConfig(**fields, **VAE_VARIANTS[kind], **changes)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def images(gen, batch=5, shape=(1, 8, 8)):
    return torch.rand(batch, *shape, generator=gen)


# --- shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("image_shape", [(1, 8, 8), (3, 8, 12)], ids=["grey", "rgb"])
@pytest.mark.parametrize("output", ["sigmoid", "identity"])
def test_autoencoder_shapes(gen, architecture, image_shape, output):
    torch.manual_seed(0)
    model = Autoencoder(small_config("ae", architecture, image_shape, output=output))
    x = images(gen, 5, image_shape)
    z = model.encode(x)
    assert z.shape == (5, 3)
    x_hat = model(x)
    assert x_hat.shape == x.shape
    assert model.loss(x).shape == (5,)
    if output == "sigmoid":
        assert x_hat.min() >= 0 and x_hat.max() <= 1


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("image_shape", [(1, 8, 8), (3, 8, 12)], ids=["grey", "rgb"])
@pytest.mark.parametrize("variant", VAE_VARIANTS)
def test_vae_shapes(gen, architecture, image_shape, variant):
    torch.manual_seed(0)
    model = VAE(small_config(variant, architecture, image_shape))
    x = images(gen, 5, image_shape)
    out = model(x, generator=gen)
    assert out.x_param.shape == x.shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (5, 3)
    log_lik, kl = model.elbo_terms(x, generator=gen)
    assert log_lik.shape == kl.shape == (5,)
    assert (kl >= 0).all()
    assert model.loss(x).shape == (5,)
    mean = model.mean_image(out.z)
    assert mean.shape == x.shape and mean.min() >= 0 and mean.max() <= 1


def test_learned_logvar_is_a_parameter_only_when_asked_for():
    learned = VAE(small_config("gaussian-learned", "mlp"))
    fixed = VAE(small_config("gaussian-fixed", "mlp"))
    bernoulli = VAE(small_config("bernoulli", "mlp"))
    assert "x_logvar" in dict(learned.named_parameters())
    assert (
        count_parameters(learned)
        == count_parameters(fixed) + 1
        == count_parameters(bernoulli) + 1
    )


@pytest.mark.parametrize("k", [1, 2, 16])
def test_linear_autoencoder_parameter_count(k):
    model = Autoencoder(
        AutoencoderConfig(latent_dim=k, hidden_dims=(), output="identity")
    )
    # Encoder: a 784 x k weight and k biases; decoder: a k x 784 weight and 784 biases.
    assert count_parameters(model) == 2 * 784 * k + k + 784


def test_linear_autoencoder_is_affine(gen):
    model = Autoencoder(AutoencoderConfig(**SMALL, hidden_dims=(), output="identity"))
    a, b = images(gen, 1), images(gen, 1)
    # An affine map f satisfies f((a + b) / 2) = (f(a) + f(b)) / 2.
    torch.testing.assert_close(
        model((a + b) / 2), (model(a) + model(b)) / 2, atol=1e-5, rtol=1e-5
    )


def test_count_parameters_skips_frozen_ones():
    model = Autoencoder(AutoencoderConfig(**SMALL, hidden_dims=(), output="identity"))
    total = count_parameters(model)
    model.encoder.requires_grad_(False)
    assert count_parameters(model) == total - (64 * 3 + 3)


# --- configs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_class", "fields", "message"),
    [
        (
            AutoencoderConfig,
            {"architecture": "conv", "hidden_dims": (8, 16, 32)},
            "divisible by 8",
        ),
        (
            VAEConfig,
            {"architecture": "conv", "image_shape": (1, 10, 10), "hidden_dims": (4, 8)},
            "divisible by 4",
        ),
        (VAEConfig, {"architecture": "conv", "hidden_dims": ()}, "at least one layer"),
        (
            AutoencoderConfig,
            {"architecture": "rnn"},
            r"architecture must be one of \('mlp', 'conv'\)",
        ),
        (VAEConfig, {"latent_dim": 0}, "latent_dim must be a positive int"),
        (AutoencoderConfig, {"latent_dim": 2.0}, "latent_dim must be a positive int"),
        (
            VAEConfig,
            {"hidden_dims": (16, 0)},
            "each of hidden_dims must be a positive int",
        ),
        (VAEConfig, {"activation": "sigmoid"}, "activation must be one of"),
        (
            AutoencoderConfig,
            {"image_shape": (28, 28)},
            r"image_shape must be \(C, H, W\)",
        ),
        (
            AutoencoderConfig,
            {"image_shape": (1, 0, 28)},
            r"image_shape must be \(C, H, W\)",
        ),
        (
            AutoencoderConfig,
            {"output": "tanh"},
            r"output must be one of \('sigmoid', 'identity'\)",
        ),
        (
            VAEConfig,
            {"likelihood": "poisson"},
            r"likelihood must be one of \('bernoulli', 'gaussian'\)",
        ),
    ],
)
def test_bad_configs_raise(config_class, fields, message):
    with pytest.raises(ValueError, match=message):
        config_class(**fields)


def test_configs_are_frozen_and_comparable():
    config = VAEConfig(**SMALL)
    assert config == VAEConfig(**SMALL) and config != VAEConfig(
        image_shape=(1, 8, 8), latent_dim=4
    )
    with pytest.raises(AttributeError):
        config.latent_dim = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("model_class", "config"),
    [(Autoencoder, VAEConfig()), (VAE, AutoencoderConfig()), (VAE, None)],
)
def test_models_need_their_own_config_type(model_class, config):
    with pytest.raises(
        TypeError,
        match=f"{model_class.__name__} needs an? {model_class.__name__}Config",
    ):
        model_class(config)


@pytest.mark.parametrize(
    ("config", "model_class"),
    [(AutoencoderConfig(**SMALL), Autoencoder), (VAEConfig(**SMALL), VAE)],
)
def test_build_model_dispatches_on_the_config_type(config, model_class):
    model = build_model(config)
    assert type(model) is model_class and model.config is config


@pytest.mark.parametrize("config", [NetworkConfig(**SMALL), {"latent_dim": 3}])
def test_build_model_rejects_other_configs(config):
    with pytest.raises(
        TypeError, match=r"config must be one of \['AutoencoderConfig', 'VAEConfig'\]"
    ):
        build_model(config)


# --- bad inputs -----------------------------------------------------------------------


@pytest.fixture(params=["ae", "bernoulli"])
def model(request):
    return build_model(small_config(request.param, "mlp"))


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (
            torch.rand(2, 1, 8, 9),
            ValueError,
            (
                r"images of shape \(C, H, W\) = \(1, 8, 8\), "
                r"got a tensor of shape \(2, 1, 8, 9\)"
            ),
        ),
        (
            torch.rand(2, 3, 8, 8),
            ValueError,
            r"images of shape \(C, H, W\) = \(1, 8, 8\)",
        ),
        (
            torch.rand(1, 8, 8),
            ValueError,
            (
                r"x must be a batch of images shaped \(B, C, H, W\), "
                r"got a tensor of shape \(1, 8, 8\)"
            ),
        ),
        (torch.rand(2, 64), ValueError, r"shaped \(B, C, H, W\)"),
        (
            torch.ones(2, 1, 8, 8, dtype=torch.uint8),
            TypeError,
            "x must be a floating-point tensor, got .*torch.uint8",
        ),
        ([[0.5]], TypeError, "x must be a torch.Tensor, got list"),
    ],
    ids=["wrong-width", "wrong-channels", "3-d", "flat", "uint8", "list"],
)
def test_encode_rejects_bad_images_clearly(model, x, error, message):
    with pytest.raises(error, match=message):
        model.encode(x)


@pytest.mark.parametrize("value", [-0.5, 1.5, float("nan")])
def test_vae_rejects_pixels_outside_the_unit_interval(value):
    model = VAE(small_config("bernoulli", "mlp"))
    x = torch.full((2, 1, 8, 8), 0.5)
    x[1, 0, 3, 3] = value
    with pytest.raises(ValueError, match=r"x must hold pixel values in \[0, 1\]"):
        model(x)


def test_autoencoder_accepts_any_real_pixels():
    # The linear autoencoder of Chapter 1 is applied to centred data, so values outside
    # [0, 1] are fine.
    model = Autoencoder(AutoencoderConfig(**SMALL, hidden_dims=(), output="identity"))
    x = torch.linspace(-3, 3, 2 * 64).reshape(2, 1, 8, 8)
    assert model(x).shape == x.shape


@pytest.mark.parametrize(
    "z", [torch.zeros(4, 2), torch.zeros(4, 4), torch.zeros(3), torch.zeros(2, 3, 1)]
)
def test_decode_rejects_codes_of_the_wrong_width(model, z):
    with pytest.raises(
        ValueError,
        match=r"z must be shaped \(B, 3\), got shape "
        + rf"\({', '.join(map(str, z.shape))},?\)",
    ):
        model.decode(z)


def test_decode_rejects_a_non_tensor(model):
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        model.decode([[0.0, 0.0, 0.0]])


# --- likelihoods ----------------------------------------------------------------------


def test_bernoulli_vae_log_likelihood_matches_torch_distributions(gen):
    model = VAE(small_config("bernoulli", "mlp"))
    logits = torch.randn(4, 1, 8, 8, generator=gen) * 2
    x = torch.bernoulli(torch.full((4, 1, 8, 8), 0.3), generator=gen)
    expected = Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(
        model.log_likelihood(logits, x), expected, rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("variant", ["gaussian-fixed", "gaussian-learned"])
def test_gaussian_vae_log_likelihood_uses_its_variance(gen, variant):
    model = VAE(small_config(variant, "mlp"))
    logvar = -1.0 if variant == "gaussian-fixed" else 0.4
    if model.x_logvar is not None:
        with torch.no_grad():
            model.x_logvar.fill_(logvar)
    mean, x = images(gen, 4), images(gen, 4)
    expected = (
        Normal(mean, torch.exp(torch.tensor(0.5 * logvar)))
        .log_prob(x)
        .flatten(1)
        .sum(1)
    )
    torch.testing.assert_close(
        model.log_likelihood(mean, x), expected, rtol=1e-5, atol=1e-4
    )


def test_learned_logvar_receives_a_gradient(gen):
    model = VAE(small_config("gaussian-learned", "mlp"))
    model.loss(images(gen)).sum().backward()
    assert model.x_logvar.grad is not None and model.x_logvar.grad.abs().item() > 0


def test_vae_loss_is_the_negative_elbo(gen):
    model = VAE(small_config("bernoulli", "mlp"))
    x = images(gen)
    torch.manual_seed(7)
    loss = model.loss(x)
    torch.manual_seed(7)
    log_lik, kl = model.elbo_terms(x)
    torch.testing.assert_close(loss, kl - log_lik)
    torch.manual_seed(7)
    torch.testing.assert_close(model.loss(x, beta=0.5), 0.5 * kl - log_lik)


def test_autoencoder_loss_is_the_summed_squared_error(gen):
    model = Autoencoder(small_config("ae", "conv"))
    x = images(gen)
    torch.testing.assert_close(model.loss(x), ((model(x) - x) ** 2).sum(dim=(1, 2, 3)))


# --- reparameterisation ---------------------------------------------------------------


def test_reparameterize_draws_from_the_right_gaussian(gen):
    n = 20_000
    mu = torch.tensor([-2.0, 0.0, 1.5])
    logvar = torch.tensor([0.0, -2.0, 1.0])
    z = VAE.reparameterize(mu.expand(n, 3), logvar.expand(n, 3), generator=gen)
    sigma = torch.exp(0.5 * logvar)
    # Standard errors: sigma / sqrt(n) for the mean, about sigma / sqrt(2n) for the std.
    assert ((z.mean(0) - mu).abs() < 5 * sigma / n**0.5).all()
    assert ((z.std(0) - sigma).abs() < 5 * sigma / (2 * n) ** 0.5).all()


def test_reparameterize_passes_gradients_to_mu_and_logvar(gen):
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.2, -0.4]], requires_grad=True)
    z = VAE.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(3))
    z.sum().backward()
    eps = torch.randn(1, 2, generator=torch.Generator().manual_seed(3))
    # dz/dmu = 1 and dz/dlogvar = 1/2 exp(logvar / 2) eps.
    torch.testing.assert_close(mu.grad, torch.ones(1, 2))
    torch.testing.assert_close(
        logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps
    )


def test_forward_is_reproducible_with_a_seeded_generator(gen):
    model = VAE(small_config("bernoulli", "conv"))
    x = images(gen)
    first = model(x, generator=torch.Generator().manual_seed(5))
    second = model(x, generator=torch.Generator().manual_seed(5))
    third = model(x, generator=torch.Generator().manual_seed(6))
    assert torch.equal(first.z, second.z) and torch.equal(first.x_param, second.x_param)
    assert not torch.equal(first.z, third.z)
    eps = torch.randn(first.mu.shape, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(first.z, first.mu + torch.exp(0.5 * first.logvar) * eps)
    torch.testing.assert_close(first.x_param, model.decode(first.z))


# --- sampling -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VAE_VARIANTS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_sample_gives_reproducible_images_in_the_unit_interval(variant, architecture):
    model = VAE(small_config(variant, architecture))
    first = model.sample(6, generator=torch.Generator().manual_seed(1))
    again = model.sample(6, generator=torch.Generator().manual_seed(1))
    other = model.sample(6, generator=torch.Generator().manual_seed(2))
    assert first.shape == (6, 1, 8, 8)
    assert first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not first.requires_grad


def test_sample_is_the_mean_image_of_prior_draws():
    model = VAE(small_config("bernoulli", "mlp"))
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(
        model.sample(4, generator=torch.Generator().manual_seed(8)),
        torch.sigmoid(model.decode(z)),
    )


@pytest.mark.parametrize("num_samples", [0, -1, 2.0])
def test_sample_rejects_a_bad_count(num_samples):
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        VAE(small_config("bernoulli", "mlp")).sample(num_samples)
