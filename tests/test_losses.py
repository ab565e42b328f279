"""vae_lib.losses against torch.distributions and a Monte Carlo estimate (the
likelihoods also of the pixels where= selects); the KL warm-up of vae_lib.objectives."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

from vae_lib.losses import (
    bernoulli_log_likelihood,
    elbo,
    gaussian_kl_per_dimension,
    gaussian_kl_standard_normal,
    gaussian_log_likelihood,
    squared_error,
)
from vae_lib.objectives import KLWarmup
from vae_lib.train import evaluate, fit


@pytest.fixture
def posterior(gen):
    """mu, logvar (B=6, latent_dim=4) spread over a realistic range."""
    g = gen()
    return torch.randn(6, 4, generator=g) * 2, torch.randn(6, 4, generator=g) * 1.5


def test_kl_matches_torch_distributions(posterior):
    mu, logvar = posterior
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(
        -1
    )
    got = gaussian_kl_standard_normal(mu, logvar)
    assert got.shape == (6,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_kl_is_zero_exactly_at_the_prior():
    assert torch.equal(
        gaussian_kl_standard_normal(torch.zeros(3, 5), torch.zeros(3, 5)),
        torch.zeros(3),
    )


def test_kl_matches_a_monte_carlo_estimate(gen):
    """KL = E_q[log q(z) - log p(z)]; the mean of n draws is within 5 standard errors of
    it."""
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.3, -0.7, 0.0]], dtype=torch.float64)
    q, p = (
        Normal(mu, torch.exp(0.5 * logvar)),
        Normal(torch.zeros_like(mu), torch.ones_like(mu)),
    )
    n = 200_000
    z = mu + torch.exp(0.5 * logvar) * torch.randn(
        n, 1, 3, generator=gen(), dtype=torch.float64
    )
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1).squeeze(-1)  # (n,)
    estimate, standard_error = (
        log_ratio.mean().item(),
        (log_ratio.std() / n**0.5).item(),
    )
    closed_form = gaussian_kl_standard_normal(mu, logvar).item()
    assert abs(closed_form - estimate) < 5 * standard_error
    # the test is sharp enough to catch a wrong factor or term
    assert standard_error < 0.01


def test_bernoulli_log_likelihood_matches_torch_distributions_on_binary_x(gen):
    g = gen()
    logits = torch.randn(5, 1, 4, 4, generator=g) * 3
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.4), generator=g)
    expected = Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    got = bernoulli_log_likelihood(logits, x)
    assert got.shape == (5,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_bernoulli_log_likelihood_on_grey_levels_is_minus_cross_entropy(gen):
    g = gen()
    logits = torch.randn(3, 10, generator=g, dtype=torch.float64)
    x = torch.rand(3, 10, generator=g, dtype=torch.float64)
    s = torch.sigmoid(logits)
    expected = (x * torch.log(s) + (1 - x) * torch.log1p(-s)).sum(1)
    torch.testing.assert_close(
        bernoulli_log_likelihood(logits, x), expected, rtol=1e-5, atol=1e-5
    )


def test_bernoulli_log_likelihood_is_finite_for_extreme_logits():
    logits = torch.tensor([[-200.0, 200.0]])
    x = torch.tensor([[0.0, 1.0]])
    got = bernoulli_log_likelihood(logits, x)
    assert torch.isfinite(got).all() and got.abs().item() < 1e-6


@pytest.mark.parametrize("bad", [-0.1, 1.1])
def test_bernoulli_log_likelihood_rejects_x_outside_the_unit_interval(bad):
    x = torch.tensor([[0.0, bad]])
    with pytest.raises(
        ValueError, match=r"x must be in \[0, 1\] for a Bernoulli likelihood"
    ):
        bernoulli_log_likelihood(torch.zeros(1, 2), x)


@pytest.mark.parametrize(
    "logvar",
    [0.7, torch.tensor(-1.3), torch.linspace(-2, 2, 12).reshape(1, 3, 4)],
    ids=["float", "scalar-tensor", "per-pixel-tensor"],
)
def test_gaussian_log_likelihood_matches_torch_distributions(gen, logvar):
    g = gen()
    mean = torch.rand(4, 1, 3, 4, generator=g)
    x = torch.rand(4, 1, 3, 4, generator=g)
    std = torch.exp(0.5 * torch.as_tensor(logvar))
    expected = Normal(mean, std).log_prob(x).flatten(1).sum(1)
    got = gaussian_log_likelihood(mean, logvar, x)
    assert got.shape == (4,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)


def test_gaussian_log_likelihood_passes_gradients_to_a_learned_logvar(gen):
    logvar = torch.zeros((), requires_grad=True)
    g = gen()
    mean, x = torch.rand(2, 6, generator=g), torch.rand(2, 6, generator=g)
    gaussian_log_likelihood(mean, logvar, x).sum().backward()
    # d/dlogvar of sum_i -1/2 (logvar + r_i^2 e^-logvar) at 0 is sum_i -1/2 (1 - r_i^2).
    expected = (-0.5 * (1 - (x - mean) ** 2)).sum()
    torch.testing.assert_close(logvar.grad, expected)


def test_squared_error_sums_over_everything_but_the_batch(gen):
    g = gen()
    x_hat, x = (
        torch.rand(3, 2, 4, 4, generator=g),
        torch.rand(3, 2, 4, 4, generator=g),
    )
    expected = torch.stack([((a - b) ** 2).sum() for a, b in zip(x_hat, x)])
    torch.testing.assert_close(squared_error(x_hat, x), expected)


def test_elbo_with_beta_one_is_exactly_log_likelihood_minus_kl(gen):
    g = gen()
    log_lik, kl = -torch.rand(7, generator=g) * 100, torch.rand(7, generator=g) * 10
    assert torch.equal(elbo(log_lik, kl), log_lik - kl)
    assert torch.equal(elbo(log_lik, kl, beta=1.0), log_lik - kl)


@pytest.mark.parametrize("beta", [0, 0.25, 4])
def test_elbo_weights_the_kl_by_beta(gen, beta):
    g = gen()
    log_lik, kl = -torch.rand(7, generator=g) * 100, torch.rand(7, generator=g) * 10
    torch.testing.assert_close(elbo(log_lik, kl, beta=beta), log_lik - beta * kl)


@pytest.mark.parametrize("beta", [-0.5, True, "1", None])
def test_elbo_rejects_a_bad_beta(beta):
    with pytest.raises(ValueError, match="beta must be a non-negative number"):
        elbo(torch.zeros(2), torch.zeros(2), beta=beta)


LOSSES = {
    "squared_error": lambda a, b: squared_error(a, b),
    "bernoulli": lambda a, b: bernoulli_log_likelihood(a, b),
    "gaussian": lambda a, b: gaussian_log_likelihood(a, 0.0, b),
    "kl": lambda a, b: gaussian_kl_standard_normal(a, b),
    "elbo": lambda a, b: elbo(a, b),
}


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_every_loss_rejects_mismatched_shapes(loss):
    with pytest.raises(
        ValueError, match=r"must have the same shape, got \(2, 3\) and \(2, 4\)"
    ):
        loss(torch.zeros(2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
@pytest.mark.parametrize("shape", [(), (0, 3)], ids=["scalar", "empty-batch"])
def test_every_loss_needs_a_non_empty_batch(loss, shape):
    with pytest.raises(ValueError, match="non-empty batch dimension first"):
        loss(torch.zeros(shape), torch.zeros(shape))


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_every_loss_rejects_non_tensors(loss):
    with pytest.raises(TypeError, match="must be a torch.Tensor, got list"):
        loss([[0.5]], torch.zeros(1, 1))


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_returns_float32_per_example_under_bf16_autocast(name):
    shape = (2,) if name == "elbo" else (2, 3)  # the ELBO combines per-example terms
    a, b = (
        torch.full(shape, 0.3, dtype=torch.bfloat16),
        torch.full(shape, 0.6, dtype=torch.bfloat16),
    )
    loss = LOSSES[name]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(a, b)
    assert out.dtype == torch.float32 and out.shape == (2,)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_keeps_float64_in_float64(name):
    shape = (2,) if name == "elbo" else (2, 3)
    a, b = (
        torch.full(shape, 0.3, dtype=torch.float64),
        torch.full(shape, 0.6, dtype=torch.float64),
    )
    out = LOSSES[name](a, b)
    assert out.dtype == torch.float64 and out.shape == (2,)


def test_float64_losses_are_not_rounded_to_float32():
    # A difference of 1e-10 survives in float64 and vanishes in float32.
    x = torch.tensor([[0.5]], dtype=torch.float64)
    x_hat = x + 1e-10
    assert squared_error(x_hat, x).item() == pytest.approx(1e-20, rel=1e-4)
    mu = torch.tensor([[1e-5]], dtype=torch.float64)  # KL = mu^2 / 2 = 5e-11
    kl = gaussian_kl_standard_normal(mu, torch.zeros_like(mu))
    assert kl.item() == pytest.approx(5e-11, rel=1e-4)
    assert gaussian_kl_per_dimension(mu, torch.zeros_like(mu)).dtype == torch.float64


# --- the likelihoods of some pixels: where= -------------------------------------------


def test_bernoulli_log_likelihood_where_sums_the_selected_pixels_only(gen):
    logits = torch.randn(2, 3, 5, 5, generator=gen(17)) * 3
    x = torch.rand(2, 3, 5, 5, generator=gen(18))
    where = torch.rand(2, 1, 5, 5, generator=gen(19)) < 0.4
    per_pixel = x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)
    expected = torch.stack(
        [per_pixel[b][where[b].expand(3, 5, 5)].sum() for b in range(2)]
    )
    torch.testing.assert_close(
        bernoulli_log_likelihood(logits, x, where), expected, atol=1e-4, rtol=1e-5
    )
    torch.testing.assert_close(
        bernoulli_log_likelihood(logits, x, torch.ones_like(where)),
        bernoulli_log_likelihood(logits, x),
    )
    assert torch.equal(
        bernoulli_log_likelihood(logits, x, torch.zeros_like(where)), torch.zeros(2)
    )


@pytest.mark.parametrize(
    "logvar",
    [-1.5, torch.tensor(0.7), torch.linspace(-1, 1, 5)[None, None, None, :]],
    ids=["float", "scalar-tensor", "per-column"],
)
def test_gaussian_log_likelihood_where_sums_the_selected_pixels_only(logvar, gen):
    mean = torch.rand(2, 1, 5, 5, generator=gen(20))
    x = torch.rand(2, 1, 5, 5, generator=gen(21))
    where = torch.rand(2, 1, 5, 5, generator=gen(22)) < 0.5
    std = torch.exp(0.5 * torch.as_tensor(logvar)).expand_as(x)
    per_pixel = Normal(mean, std).log_prob(x)
    expected = torch.stack([per_pixel[b][where[b]].sum() for b in range(2)])
    torch.testing.assert_close(
        gaussian_log_likelihood(mean, logvar, x, where), expected, atol=1e-4, rtol=1e-5
    )
    torch.testing.assert_close(
        gaussian_log_likelihood(mean, logvar, x, torch.ones_like(where)),
        gaussian_log_likelihood(mean, logvar, x),
    )


@pytest.mark.parametrize(
    "where",
    [
        torch.ones(2, 1, 4, 4),
        torch.ones(2, 1, 4, 4, dtype=torch.uint8),
        torch.ones(2, 4, 4, dtype=torch.bool),
        torch.ones(1, 1, 4, 4, dtype=torch.bool),
    ],
    ids=["float", "uint8", "3-d", "batch"],
)
def test_likelihoods_reject_a_bad_where(where, gen):
    x = torch.rand(2, 1, 4, 4, generator=gen())
    with pytest.raises(ValueError, match="where must be a bool tensor"):
        bernoulli_log_likelihood(x, x, where)
    with pytest.raises(ValueError, match="where must be a bool tensor"):
        gaussian_log_likelihood(x, 0.0, x, where)


# --- KL warm-up -----------------------------------------------------------------------


class BetaRecorder(torch.nn.Module):
    """Stands in for a VAE: records the beta of each loss call and returns beta per
    example."""

    def __init__(self) -> None:
        super().__init__()
        self.betas: list[float] = []

    def loss(self, x, beta=1.0):
        self.betas.append(beta)
        return torch.full((x.shape[0],), float(beta))


def training_call(warmup, model, x):
    model.train()
    with torch.enable_grad():
        return warmup(model, x)


def test_kl_warmup_ramps_beta_linearly_then_holds_it():
    warmup, model = KLWarmup(4, beta=2.0), BetaRecorder()
    for _ in range(7):
        training_call(warmup, model, torch.zeros(3, 2))
    assert model.betas == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert warmup.step == 7 and warmup.current_beta == 2.0


def test_kl_warmup_defaults_to_beta_one():
    warmup = KLWarmup(2)
    assert warmup.current_beta == 0.0
    warmup.step = 1
    assert warmup.current_beta == 0.5
    warmup.step = 10
    assert warmup.current_beta == 1.0


def test_kl_warmup_returns_the_models_loss_at_the_current_beta(make_vae, gen):
    model = make_vae()
    x = torch.rand(5, 1, 8, 8, generator=gen(1))
    warmup = KLWarmup(4, beta=3.0)
    warmup.step = 1
    torch.manual_seed(2)
    got = training_call(warmup, model, x)
    torch.manual_seed(2)
    expected = model.loss(x, beta=0.75)
    assert got.shape == (5,) and got.requires_grad
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("how", ["eval-mode", "no-grad", "inference-mode"])
def test_kl_warmup_does_not_advance_outside_training_steps(how):
    warmup, model = KLWarmup(4), BetaRecorder()
    training_call(warmup, model, torch.zeros(1, 2))
    if how == "eval-mode":
        model.eval()
        for _ in range(3):
            warmup(model, torch.zeros(1, 2))
    else:
        model.train()
        context = torch.no_grad() if how == "no-grad" else torch.inference_mode()
        with context:
            for _ in range(3):
                warmup(model, torch.zeros(1, 2))
    assert warmup.step == 1
    assert model.betas == [0.0, 0.25, 0.25, 0.25]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0,), "warmup_steps must be a positive int, got 0"),
        ((-3,), "warmup_steps must be a positive int, got -3"),
        ((10.0,), "warmup_steps must be a positive int, got 10.0"),
        ((True,), "warmup_steps must be a positive int, got True"),
        ((10, -0.5), "beta must be a non-negative number, got -0.5"),
        ((10, "1"), "beta must be a non-negative number, got '1'"),
        ((10, False), "beta must be a non-negative number, got False"),
    ],
)
def test_kl_warmup_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        KLWarmup(*args)


def test_kl_warmup_counts_the_optimizer_steps_of_fit(make_vae, gen):
    model = make_vae()
    g = gen()
    train_x, val_x = (
        torch.rand(20, 1, 8, 8, generator=g),
        torch.rand(6, 1, 8, 8, generator=g),
    )
    warmup = KLWarmup(100, beta=1.0)
    history = fit(
        model,
        train_x,
        num_epochs=3,
        batch_size=8,
        loss_fn=warmup,
        val_x=val_x,
        progress=False,
        device="cpu",
    )
    # ceil(20 / 8) = 3 batches per epoch; validation does not count
    assert warmup.step == 3 * 3
    assert len(history.train_loss) == len(history.val_loss) == 3
    assert all(math.isfinite(v) for v in history.train_loss + history.val_loss)
    evaluate(model, val_x, loss_fn=warmup)
    assert warmup.step == 9


def test_kl_warmup_with_zero_beta_never_weighs_the_kl():
    warmup, model = KLWarmup(3, beta=0), BetaRecorder()
    for _ in range(5):
        training_call(warmup, model, torch.zeros(1, 1))
    assert model.betas == [0.0] * 5


def test_gaussian_kl_per_dimension_matches_torch_distributions_and_sums_to_the_total(
    gen,
):
    generator = gen(5)
    mu, logvar = (
        torch.randn(4, 3, generator=generator),
        torch.randn(4, 3, generator=generator),
    )
    per_dim = gaussian_kl_per_dimension(mu, logvar)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
        torch.distributions.Normal(0.0, 1.0),
    )
    torch.testing.assert_close(per_dim, expected)
    torch.testing.assert_close(
        per_dim.sum(dim=1), gaussian_kl_standard_normal(mu, logvar)
    )
