"""vae_lib.models: configs, shapes, input checks, the VAE as three distributions (prior,
posterior, likelihood), its draws and sampling, dtypes and train/eval modes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Independent, Normal

from vae_lib.losses import gaussian_kl_standard_normal
from vae_lib.models import (
    VAE,
    Autoencoder,
    AutoencoderConfig,
    NetworkConfig,
    VAEConfig,
    build_model,
    count_parameters,
    evaluating,
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


def images(generator, batch=5, shape=(1, 8, 8)):
    return torch.rand(batch, *shape, generator=generator)


# --- shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("image_shape", [(1, 8, 8), (3, 8, 12)], ids=["grey", "rgb"])
@pytest.mark.parametrize("output", ["sigmoid", "identity"])
def test_autoencoder_shapes(gen, architecture, image_shape, output):
    torch.manual_seed(0)
    model = Autoencoder(small_config("ae", architecture, image_shape, output=output))
    x = images(gen(), 5, image_shape)
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
    g = gen()
    x = images(g, 5, image_shape)
    out = model(x, generator=g)
    assert out.posterior.batch_shape == (5,) and out.posterior.event_shape == (3,)
    assert out.z.shape == (5, 3)
    assert out.likelihood.batch_shape == (5,)
    assert out.likelihood.event_shape == image_shape
    assert out.likelihood.mean.shape == x.shape
    log_lik, kl = model.elbo_terms(x, generator=g)
    assert log_lik.shape == kl.shape == (5,)
    assert (kl >= 0).all()
    assert model.loss(x).shape == (5,)
    mean = model.decode(out.z)
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
    g = gen()
    a, b = images(g, 1), images(g, 1)
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
        TypeError,
        match=r"config must be one of \['AutoencoderConfig', 'VAEConfig', "
        r"'ResidualDenoiserConfig'\]",
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
def test_vae_rejects_pixels_outside_the_unit_interval(make_vae, value):
    model = make_vae()
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


# --- the VAE as three distributions ---------------------------------------------------


def codes(generator, batch=4, latent_dim=3, scale=1.5):
    return scale * torch.randn(batch, latent_dim, generator=generator)


def test_prior_is_the_standard_normal_over_codes(make_vae, gen):
    prior = make_vae().prior()
    assert isinstance(prior, Independent)
    assert prior.batch_shape == () and prior.event_shape == (3,)
    z = codes(gen(), batch=6)
    expected = Normal(0.0, 1.0).log_prob(z).sum(-1)  # with its constant
    torch.testing.assert_close(prior.log_prob(z), expected)
    assert prior.log_prob(torch.zeros(3)).item() == pytest.approx(
        -1.5 * math.log(2 * math.pi), rel=1e-6
    )


@pytest.mark.parametrize("variant", VAE_VARIANTS)
def test_posterior_is_a_diagonal_gaussian_per_image(gen, variant):
    model = VAE(small_config(variant, "mlp"))
    x = images(gen(), batch=5)
    q = model.posterior(x)
    assert isinstance(q, Independent) and isinstance(q.base_dist, Normal)
    assert q.batch_shape == (5,) and q.event_shape == (3,)
    mu, logvar = model.encode(x)
    torch.testing.assert_close(q.mean, mu)
    torch.testing.assert_close(q.stddev, torch.exp(0.5 * logvar))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("image_shape", [(1, 8, 8), (3, 8, 12)], ids=["grey", "rgb"])
@pytest.mark.parametrize("variant", VAE_VARIANTS)
def test_likelihood_has_one_event_per_image(gen, architecture, image_shape, variant):
    model = VAE(small_config(variant, architecture, image_shape))
    p = model.likelihood(codes(gen(), batch=4))
    assert isinstance(p, Independent)
    assert p.batch_shape == (4,) and p.event_shape == image_shape
    expected_base = Bernoulli if variant == "bernoulli" else Normal
    assert isinstance(p.base_dist, expected_base)


@pytest.mark.parametrize("grey_levels", [False, True], ids=["binary", "grey"])
def test_bernoulli_likelihood_is_minus_the_binary_cross_entropy(
    make_vae, gen, grey_levels
):
    model = make_vae()
    g = gen()
    z = codes(g)
    x = (
        torch.rand(4, 1, 8, 8, generator=g)
        if grey_levels
        else torch.bernoulli(torch.full((4, 1, 8, 8), 0.3), generator=g)
    )
    logits = model.decoder(z)
    expected = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(
        dim=(1, 2, 3)
    )
    got = model.likelihood(z).log_prob(x)
    assert got.shape == (4,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)
    if not grey_levels:  # a true log-probability of binary images
        reference = Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
        torch.testing.assert_close(got, reference, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("variant", ["gaussian-fixed", "gaussian-learned"])
def test_gaussian_likelihood_uses_its_variance(gen, variant):
    model = VAE(small_config(variant, "mlp"))
    logvar = -1.0 if variant == "gaussian-fixed" else 0.4
    if model.x_logvar is not None:
        with torch.no_grad():
            model.x_logvar.fill_(logvar)
    g = gen()
    z, x = codes(g), images(g, 4)
    mean = torch.sigmoid(model.decoder(z))
    expected = (
        Normal(mean, torch.exp(torch.tensor(0.5 * logvar)))
        .log_prob(x)
        .flatten(1)
        .sum(1)
    )
    torch.testing.assert_close(
        model.likelihood(z).log_prob(x), expected, rtol=1e-5, atol=1e-4
    )
    by_hand = -0.5 * (
        math.log(2 * math.pi) + logvar + (x - mean) ** 2 / math.exp(logvar)
    ).sum(dim=(1, 2, 3))
    torch.testing.assert_close(
        model.likelihood(z).log_prob(x), by_hand, rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("variant", VAE_VARIANTS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_decode_is_the_likelihoods_mean_in_the_unit_interval(
    gen, variant, architecture
):
    model = VAE(small_config(variant, architecture))
    z = codes(gen(), scale=4.0)  # far codes too
    decoded = model.decode(z)
    assert decoded.shape == (4, 1, 8, 8)
    assert torch.equal(decoded, model.likelihood(z).mean)
    assert decoded.min() >= 0 and decoded.max() <= 1
    # E[x|z]: the Bernoulli's probabilities, or the Gaussian's mean
    torch.testing.assert_close(decoded, torch.sigmoid(model.decoder(z)))


def test_decoder_std_is_none_for_a_bernoulli_likelihood(make_vae):
    assert make_vae().decoder_std() is None


@pytest.mark.parametrize("logvar", [-1.0, 0.0, 0.8])
def test_decoder_std_of_a_fixed_variance_is_exp_half_gaussian_logvar(make_vae, logvar):
    model = make_vae(likelihood="gaussian", gaussian_logvar=logvar)
    std = model.decoder_std()
    assert isinstance(std, torch.Tensor) and std.shape == ()
    assert std.item() == pytest.approx(math.exp(0.5 * logvar), rel=1e-6)
    assert model.likelihood(torch.zeros(2, 3)).stddev.unique().tolist() == (
        pytest.approx([math.exp(0.5 * logvar)], rel=1e-6)
    )


def test_decoder_std_of_a_learned_variance_follows_x_logvar(make_vae):
    model = make_vae(likelihood="gaussian")
    with torch.no_grad():
        model.x_logvar.fill_(0.4)
    std = model.decoder_std()
    assert std.shape == ()
    torch.testing.assert_close(std, torch.exp(torch.tensor(0.2)))
    std.backward()  # the learned scalar is trained through it
    torch.testing.assert_close(model.x_logvar.grad, 0.5 * torch.exp(torch.tensor(0.2)))


def test_learned_logvar_receives_a_gradient(gen, make_vae):
    model = make_vae(likelihood="gaussian")
    model.loss(images(gen())).sum().backward()
    assert model.x_logvar.grad is not None and model.x_logvar.grad.abs().item() > 0


def test_vae_loss_is_the_negative_elbo(gen, make_vae):
    model = make_vae()
    x = images(gen())
    torch.manual_seed(7)
    loss = model.loss(x)
    torch.manual_seed(7)
    log_lik, kl = model.elbo_terms(x)
    torch.testing.assert_close(loss, kl - log_lik)
    torch.manual_seed(7)
    torch.testing.assert_close(model.loss(x, beta=0.5), 0.5 * kl - log_lik)


def test_autoencoder_loss_is_the_summed_squared_error(gen):
    model = Autoencoder(small_config("ae", "conv"))
    x = images(gen())
    torch.testing.assert_close(model.loss(x), ((model(x) - x) ** 2).sum(dim=(1, 2, 3)))


# --- the forward pass and the ELBO's terms --------------------------------------------


def test_forward_is_reproducible_with_a_seeded_generator(gen):
    model = VAE(small_config("bernoulli", "conv"))
    x = images(gen())
    first = model(x, generator=gen(5))
    second = model(x, generator=gen(5))
    third = model(x, generator=gen(6))
    assert torch.equal(first.z, second.z)
    assert torch.equal(
        first.likelihood.base_dist.logits, second.likelihood.base_dist.logits
    )
    assert not torch.equal(first.z, third.z)
    eps = torch.randn(first.z.shape, generator=gen(5))
    q = first.posterior
    torch.testing.assert_close(first.z, q.mean + q.stddev * eps)
    torch.testing.assert_close(first.likelihood.mean, model.decode(first.z))


@pytest.mark.parametrize("variant", VAE_VARIANTS)
def test_elbo_terms_score_one_draw_from_the_posterior(gen, variant):
    model = VAE(small_config(variant, "mlp"))
    x = images(gen())
    log_lik, _ = model.elbo_terms(x, generator=gen(3))
    out = model(x, generator=gen(3))  # the same draw
    torch.testing.assert_close(log_lik, out.likelihood.log_prob(x))
    torch.testing.assert_close(log_lik, model.likelihood(out.z).log_prob(x))
    assert not torch.equal(model.elbo_terms(x, generator=gen(4))[0], log_lik)


@pytest.mark.parametrize("variant", VAE_VARIANTS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_elbo_terms_kl_is_chapter_2s_closed_form(gen, variant, architecture):
    model = VAE(small_config(variant, architecture))
    x = images(gen(), batch=6)
    _, kl = model.elbo_terms(x, generator=gen(1))
    mu, logvar = model.encode(x)
    # float32 rounding of two ways to the same number
    torch.testing.assert_close(kl, gaussian_kl_standard_normal(mu, logvar))
    # the KL of q(z|x) to the prior does not depend on the draw
    assert torch.equal(model.elbo_terms(x, generator=gen(2))[1], kl)


def test_log_joint_adds_the_prior_and_the_likelihood(make_vae, gen):
    model = make_vae()
    g = gen()
    x = torch.bernoulli(torch.full((3, 1, 8, 8), 0.4), generator=g)
    z = torch.randn(2, 3, 3, generator=g)
    expected = torch.stack(
        [model.prior().log_prob(z_k) + model.likelihood(z_k).log_prob(x) for z_k in z]
    )
    torch.testing.assert_close(model.log_joint(x, z), expected)


# --- dtypes and modes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.encode(x),
        lambda m, x: m.posterior(x),
        lambda m, x: m(x),
        lambda m, x: m.elbo_terms(x),
        lambda m, x: m.loss(x),
        lambda m, x: m.log_joint(x, torch.zeros(2, 2, 3)),
    ],
    ids=["encode", "posterior", "forward", "elbo_terms", "loss", "log_joint"],
)
def test_float64_images_into_a_float32_vae_are_refused_naming_x(make_vae, call):
    model = make_vae()
    x = torch.full((2, 1, 8, 8), 0.5, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"x is torch.float64 but the model's weights"):
        call(model, x)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, z: m.decode(z),
        lambda m, z: m.likelihood(z),
        lambda m, z: m.log_joint(torch.full((2, 1, 8, 8), 0.5), z[None]),
    ],
    ids=["decode", "likelihood", "log_joint"],
)
def test_float64_codes_into_a_float32_vae_are_refused_naming_z(make_vae, call):
    z = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"z is torch.float64 but the model's weights"):
        call(make_vae(), z)


def test_float64_images_into_a_float32_autoencoder_are_refused_naming_x():
    model = Autoencoder(AutoencoderConfig(**SMALL, hidden_dims=(16,)))
    with pytest.raises(TypeError, match=r"x is torch.float64 but the model's weights"):
        model(torch.full((2, 1, 8, 8), 0.5, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"z is torch.float64 but the model's weights"):
        model.decode(torch.zeros(2, 3, dtype=torch.float64))


@pytest.mark.parametrize("variant", VAE_VARIANTS)
def test_a_float64_vae_computes_in_float64(gen, variant):
    # The package's convention: float64 is kept, never silently rounded to float32.
    model = VAE(small_config(variant, "mlp")).double()
    x = torch.rand(3, 1, 8, 8, generator=gen(), dtype=torch.float64)
    assert model.posterior(x).mean.dtype == torch.float64
    z = torch.randn(3, 3, generator=gen(1), dtype=torch.float64)
    assert model.decode(z).dtype == torch.float64
    assert model.likelihood(z).log_prob(x).dtype == torch.float64
    log_lik, kl = model.elbo_terms(x, generator=gen(2))
    assert log_lik.dtype == kl.dtype == torch.float64
    assert model.sample(2, generator=gen(3)).dtype == torch.float64


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_evaluating_is_eval_mode_inside_and_the_callers_mode_after(make_vae, training):
    model = make_vae().train(training)
    with evaluating(model) as inside:
        assert inside is model
        assert not any(m.training for m in model.modules())
    assert all(m.training is training for m in model.modules())


def test_evaluating_restores_each_submodules_own_mode(make_vae):
    model = make_vae().train()
    model.encoder.eval()  # e.g. a frozen encoder
    with evaluating(model):
        pass
    assert model.training and model.decoder.training
    assert not any(m.training for m in model.encoder.modules())


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_evaluating_restores_the_mode_after_an_error(make_vae, training):
    model = make_vae().train(training)
    with pytest.raises(ArithmeticError), evaluating(model):
        raise ArithmeticError("boom")
    assert all(m.training is training for m in model.modules())


# --- sampling -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VAE_VARIANTS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_sample_gives_reproducible_images_in_the_unit_interval(
    gen, variant, architecture
):
    model = VAE(small_config(variant, architecture))
    first = model.sample(6, generator=gen(1))
    again = model.sample(6, generator=gen(1))
    other = model.sample(6, generator=gen(2))
    assert first.shape == (6, 1, 8, 8)
    assert first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not first.requires_grad


@pytest.mark.parametrize("variant", VAE_VARIANTS)
def test_sample_is_the_mean_image_of_prior_draws(gen, variant):
    model = VAE(small_config(variant, "mlp"))
    z = torch.randn(4, 3, generator=gen(8))
    with torch.no_grad():
        mean_image = torch.sigmoid(model.decoder(z))  # E[x|z] for either likelihood
    torch.testing.assert_close(model.sample(4, generator=gen(8)), mean_image)
    torch.testing.assert_close(model.sample(4, generator=gen(8)), model.decode(z))


@pytest.mark.parametrize("num_samples", [0, -1, 2.0])
def test_sample_rejects_a_bad_count(make_vae, num_samples):
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        make_vae().sample(num_samples)
