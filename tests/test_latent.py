"""vae_lib.latent: codes, rate and distortion, active units and paths through the latent
space.

Rate and distortion are checked against the closed-form KL and the model's own forward
pass; the paths against their geometric definitions; the grid against SciPy's normal
quantiles.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch.distributions import Normal, kl_divergence

from vae_lib.latent import (
    RateDistortion,
    active_units,
    kl_per_dimension,
    latent_grid,
    latent_means,
    lerp,
    rate_distortion,
    reconstruct,
    slerp,
    traverse,
)
from vae_lib.losses import gaussian_kl_standard_normal

LIKELIHOODS = {
    "bernoulli": {},
    "gaussian-learned": {"likelihood": "gaussian"},
    "gaussian-fixed": {"likelihood": "gaussian", "gaussian_logvar": -2.0},
}


@pytest.fixture
def model(make_vae):
    return make_vae()


@pytest.fixture
def x(gen):
    return torch.rand(10, 1, 8, 8, generator=gen())


# --- codes and reconstructions --------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1000, 3])
def test_latent_means_are_the_encoders_means(model, x, batch_size):
    with torch.no_grad():
        expected = model.encode(x)[0]
    got = latent_means(model, x, batch_size=batch_size)
    assert got.shape == (10, 3)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("changes", LIKELIHOODS.values(), ids=LIKELIHOODS.keys())
def test_reconstruct_decodes_the_posterior_mean(make_vae, x, changes):
    model = make_vae(**changes)
    with torch.no_grad():
        # E[x | z], the probabilities of a Bernoulli or the mean of a Gaussian
        expected = torch.sigmoid(model.decoder(model.encode(x)[0]))
    got = reconstruct(model, x, batch_size=4)
    assert got.shape == x.shape
    torch.testing.assert_close(got, expected)
    assert got.min() >= 0 and got.max() <= 1


@pytest.mark.parametrize(
    "fn", [latent_means, reconstruct, rate_distortion, kl_per_dimension]
)
def test_latent_functions_need_a_batch_of_images(model, fn):
    with pytest.raises(
        ValueError, match=r"x must be a batch of images shaped \(B, C, H, W\)"
    ):
        fn(model, torch.rand(8, 8))


@pytest.mark.parametrize("fn", [latent_means, rate_distortion, kl_per_dimension])
def test_latent_functions_need_a_positive_batch_size(model, x, fn):
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        fn(model, x, batch_size=0)


@pytest.mark.parametrize(
    "fn", [latent_means, reconstruct, rate_distortion, kl_per_dimension]
)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_latent_functions_run_in_eval_mode_and_restore_the_mode(model, x, fn, training):
    model.train(training)
    seen = []
    model.encoder.register_forward_hook(
        lambda module, args, out: seen.append(module.training)
    )
    fn(model, x)
    assert seen and not any(seen)
    assert all(m.training is training for m in model.modules())


@pytest.mark.parametrize(
    "fn", [latent_means, reconstruct, rate_distortion, kl_per_dimension]
)
def test_latent_functions_refuse_float64_images_for_a_float32_model(model, x, fn):
    with pytest.raises(TypeError, match="x is torch.float64 but the model's weights"):
        fn(model, x.double())


# --- rate and distortion --------------------------------------------------------------


@pytest.mark.parametrize("changes", LIKELIHOODS.values(), ids=LIKELIHOODS.keys())
def test_rate_plus_distortion_is_the_negative_elbo_of_the_same_draw(
    make_vae, gen, x, changes
):
    model = make_vae(**changes)
    rd = rate_distortion(model, x, seed=3)
    assert isinstance(rd, RateDistortion)
    assert rd.rate.shape == rd.distortion.shape == (10,)
    with torch.no_grad():
        out = model.eval()(x, gen(3))
        log_lik = model.likelihood(out.z).log_prob(x)
        kl = gaussian_kl_standard_normal(*model.encode(x))
    torch.testing.assert_close(rd.distortion, -log_lik)
    torch.testing.assert_close(rd.rate, kl)
    torch.testing.assert_close(rd.negative_elbo, kl - log_lik)
    assert torch.equal(rd.negative_elbo, rd.rate + rd.distortion)


def test_rate_is_the_closed_form_kl_of_the_posterior(model, x):
    with torch.no_grad():
        q = model.posterior(x)
    expected = kl_divergence(q.base_dist, Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(
        rate_distortion(model, x).rate, expected, rtol=1e-5, atol=1e-5
    )


def test_rate_does_not_depend_on_the_seed_or_the_batch_size(model, x):
    a, b = (
        rate_distortion(model, x, seed=0),
        rate_distortion(model, x, seed=1, batch_size=3),
    )
    torch.testing.assert_close(a.rate, b.rate)


def test_rate_distortion_is_repeatable_and_follows_its_seed(model, x):
    first, again, other = (rate_distortion(model, x, seed=s) for s in (5, 5, 6))
    assert torch.equal(first.distortion, again.distortion) and torch.equal(
        first.rate, again.rate
    )
    assert not torch.equal(first.distortion, other.distortion)


def test_rate_distortion_does_not_touch_the_global_random_state(model, x):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    rate_distortion(model, x)
    assert torch.equal(torch.rand(3), expected)


def test_kl_per_dimension_sums_to_the_mean_rate(model, x):
    per_dim = kl_per_dimension(model, x, batch_size=4)
    assert per_dim.shape == (3,)
    assert (per_dim >= 0).all()
    torch.testing.assert_close(
        per_dim.sum(), rate_distortion(model, x).rate.mean(), rtol=1e-5, atol=1e-5
    )


def test_kl_per_dimension_matches_torch_distributions(model, x):
    with torch.no_grad():
        q = model.posterior(x).base_dist
    expected = kl_divergence(q, Normal(0.0, 1.0)).mean(0)
    torch.testing.assert_close(
        kl_per_dimension(model, x), expected, rtol=1e-5, atol=1e-6
    )


# --- active units ---------------------------------------------------------------------


def test_active_units_thresholds_the_variance_of_the_means(gen):
    g = gen()
    n = 500
    mu = torch.stack(
        [
            torch.full((n,), 0.7),  # constant: inactive
            torch.randn(n, generator=g),  # variance ~1: active
            # variance ~0.0025: inactive at 0.01
            0.05 * torch.randn(n, generator=g) + 2.0,
            # variance ~0.09: active at 0.01, not at 0.5
            0.3 * torch.randn(n, generator=g),
        ],
        dim=1,
    )
    assert active_units(mu).tolist() == [False, True, False, True]
    assert active_units(mu, threshold=0.5).tolist() == [False, True, False, False]
    assert active_units(mu, threshold=1e-3).tolist() == [False, True, True, True]


def test_active_units_agrees_with_numpy_variance(gen):
    mu = torch.rand(50, 6, generator=gen(1)) * torch.tensor(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    )
    threshold = 0.01
    expected = np.var(mu.numpy().astype(np.float64), axis=0, ddof=1) > threshold
    assert active_units(mu, threshold).tolist() == expected.tolist()


def re_shape(shape: tuple) -> str:
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("shape", [(5,), (1, 4), (2, 3, 4)])
def test_active_units_needs_several_codes(shape):
    with pytest.raises(
        ValueError,
        match=rf"mu must be \(N, latent_dim\) with N >= 2, got shape {re_shape(shape)}",
    ):
        active_units(torch.zeros(shape))


@pytest.mark.parametrize("threshold", [0, -0.1, True])
def test_active_units_needs_a_positive_threshold(threshold):
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        active_units(torch.zeros(4, 2), threshold)


# --- lerp -----------------------------------------------------------------------------


@pytest.fixture
def codes(gen):
    g = gen(7)
    return (
        torch.randn(8, generator=g, dtype=torch.float64),
        2 * torch.randn(8, generator=g, dtype=torch.float64),
    )


def test_lerp_is_torch_lerp_at_evenly_spaced_weights(codes):
    z_a, z_b = codes
    path = lerp(z_a, z_b, 6)
    assert path.shape == (6, 8) and path.dtype == torch.float64
    expected = torch.stack([torch.lerp(z_a, z_b, i / 5) for i in range(6)])
    torch.testing.assert_close(path, expected)
    assert torch.equal(path[0], z_a)
    torch.testing.assert_close(path[-1], z_b)


@pytest.mark.parametrize("path", [lerp, slerp])
@pytest.mark.parametrize(
    ("z_a", "z_b", "steps", "message"),
    [
        (
            torch.ones(3),
            torch.ones(4),
            5,
            r"z_a and z_b must have the same shape, got \(3,\) and \(4,\)",
        ),
        (
            torch.ones(2, 3),
            torch.ones(2, 3),
            5,
            r"single codes of shape \(latent_dim,\), got \(2, 3\)",
        ),
        (torch.ones(3), torch.ones(3), 1, "steps must be an int >= 2 .*got 1"),
        (torch.ones(3), torch.ones(3), 4.0, "steps must be an int >= 2 .*got 4.0"),
        (torch.ones(3), torch.ones(3), True, "steps must be an int >= 2 .*got True"),
    ],
    ids=["shape-mismatch", "batch-of-codes", "one-step", "float-steps", "bool-steps"],
)
def test_paths_reject_bad_inputs(path, z_a, z_b, steps, message):
    with pytest.raises(ValueError, match=message):
        path(z_a, z_b, steps)


@pytest.mark.parametrize("path", [lerp, slerp])
def test_paths_need_tensors(path):
    with pytest.raises(TypeError, match="z_b must be a torch.Tensor, got list"):
        path(torch.ones(2), [1.0, 1.0], 3)


# --- slerp ----------------------------------------------------------------------------


def test_slerp_starts_at_z_a_and_ends_at_z_b(codes):
    z_a, z_b = codes
    path = slerp(z_a, z_b, 7)
    assert path.shape == (7, 8) and path.dtype == torch.float64
    torch.testing.assert_close(path[0], z_a)
    torch.testing.assert_close(path[-1], z_b)


def test_slerp_norms_change_linearly(codes):
    z_a, z_b = codes
    norms = slerp(z_a, z_b, 9).norm(dim=1)
    torch.testing.assert_close(
        norms,
        torch.linspace(z_a.norm().item(), z_b.norm().item(), 9, dtype=torch.float64),
    )


def test_slerp_directions_stay_on_the_great_circle(codes):
    z_a, z_b = codes
    path = slerp(z_a, z_b, 9)
    directions = path / path.norm(dim=1, keepdim=True)
    # orthonormal basis of span(z_a, z_b)
    basis, _ = torch.linalg.qr(torch.stack([z_a, z_b], dim=1))
    in_plane = directions @ basis
    # nothing outside the plane
    torch.testing.assert_close(in_plane @ basis.T, directions)
    torch.testing.assert_close(in_plane.norm(dim=1), torch.ones(9, dtype=torch.float64))


def test_slerp_moves_along_the_arc_at_constant_speed(codes):
    z_a, z_b = codes
    u_a, u_b = z_a / z_a.norm(), z_b / z_b.norm()
    omega = torch.arccos(u_a @ u_b)
    directions = slerp(z_a, z_b, 9)
    directions = directions / directions.norm(dim=1, keepdim=True)
    angles_from_a = torch.arccos((directions @ u_a).clamp(-1, 1))
    angles_to_b = torch.arccos((directions @ u_b).clamp(-1, 1))
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    torch.testing.assert_close(angles_from_a, t * omega, atol=1e-6, rtol=0)
    torch.testing.assert_close(angles_to_b, (1 - t) * omega, atol=1e-6, rtol=0)


def test_slerp_of_orthogonal_unit_codes_is_the_quarter_circle():
    e1, e2 = torch.eye(2, dtype=torch.float64)
    angles = torch.linspace(0, math.pi / 2, 5, dtype=torch.float64)
    expected = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    torch.testing.assert_close(slerp(e1, e2, 5), expected)


def test_slerp_keeps_sample_norms_where_lerp_cuts_through_the_centre():
    z_a, z_b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    assert torch.allclose(slerp(z_a, z_b, 3)[1].norm(), torch.tensor(3.0))
    assert lerp(z_a, z_b, 3)[1].norm() < 2.2  # 3 / sqrt(2)


@pytest.mark.parametrize(
    "factor", [3.0, 1.0, 1.0 + 1e-7], ids=["scaled", "equal", "within-rounding"]
)
def test_slerp_of_parallel_codes_is_the_line_between_them(factor):
    z_a = torch.tensor([0.6, -0.8, 1.5])
    z_b = factor * z_a
    path = slerp(z_a, z_b, 5)
    assert torch.isfinite(path).all()
    torch.testing.assert_close(path, lerp(z_a, z_b, 5))


def test_slerp_of_opposite_codes_is_refused():
    """Opposite directions: every half great circle joins them, so slerp must refuse
    rather than divide by sin(pi) ~ 0 and collapse the path to the origin."""
    z_a, z_b = torch.tensor([1.0, 0.5, 0.0]), torch.tensor([-2.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="opposite directions"):
        slerp(z_a, z_b, 5)


@pytest.mark.parametrize("zero", ["z_a", "z_b"])
def test_slerp_of_a_zero_code_is_refused(zero):
    codes = {"z_a": torch.tensor([1.0, 2.0]), "z_b": torch.tensor([-1.0, 0.5])}
    codes[zero] = torch.zeros(2)
    with pytest.raises(ValueError, match="slerp needs two non-zero codes"):
        slerp(codes["z_a"], codes["z_b"], 4)


# --- grid and traversals --------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 6])
def test_latent_grid_takes_normal_quantiles_row_major_with_z2_decreasing(n):
    extent = 0.9
    grid = latent_grid(n, extent)
    assert grid.shape == (n * n, 2)
    q = norm.ppf(np.linspace(1 - extent, extent, n))
    cells = grid.reshape(n, n, 2).double().numpy()  # [row, column, coordinate]
    # z_1 grows along each row
    np.testing.assert_allclose(cells[:, :, 0], np.tile(q, (n, 1)), atol=1e-5)
    # z_2 falls down rows
    np.testing.assert_allclose(
        cells[:, :, 1], np.tile(q[::-1, None], (1, n)), atol=1e-5
    )


def test_latent_grid_is_symmetric_about_the_origin():
    grid = latent_grid(5)
    torch.testing.assert_close(grid, -grid.flip(0))
    # the centre cell of an odd grid is the prior's mean
    assert torch.equal(grid[12], torch.zeros(2))
    # top left: z_1 low, z_2 high
    assert grid[0].tolist() == pytest.approx([norm.ppf(0.05), norm.ppf(0.95)], abs=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0,), "num_per_side must be a positive int, got 0"),
        ((2.0,), "num_per_side must be a positive int, got 2.0"),
        ((4, 0.5), r"extent must be a number in \(0.5, 1\), got 0.5"),
        ((4, 1.0), r"extent must be a number in \(0.5, 1\), got 1.0"),
        ((4, 0.2), r"extent must be a number in \(0.5, 1\), got 0.2"),
    ],
)
def test_latent_grid_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        latent_grid(*args)


def test_traverse_sets_one_dimension_to_each_value():
    z = torch.tensor([0.5, -1.0, 2.0])
    values = torch.tensor([-3.0, 0.0, 1.5, 3.0])
    codes = traverse(z, 1, values)
    assert codes.shape == (4, 3)
    assert torch.equal(codes[:, 1], values)
    assert torch.equal(codes[:, [0, 2]], z[[0, 2]].expand(4, 2))
    assert torch.equal(z, torch.tensor([0.5, -1.0, 2.0]))  # z itself is left alone


def test_traverse_casts_the_values_to_the_codes_dtype():
    codes = traverse(torch.zeros(2, dtype=torch.float64), 0, torch.tensor([1, 2]))
    assert codes.dtype == torch.float64 and codes[:, 0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("z", "dim", "values", "message"),
    [
        (torch.zeros(3), 3, torch.ones(2), r"dim must be an index in \[0, 3\), got 3"),
        (
            torch.zeros(3),
            -1,
            torch.ones(2),
            r"dim must be an index in \[0, 3\), got -1",
        ),
        (
            torch.zeros(3),
            True,
            torch.ones(2),
            r"dim must be an index in \[0, 3\), got True",
        ),
        (
            torch.zeros(1, 3),
            0,
            torch.ones(2),
            r"z must be \(latent_dim,\) and values \(n,\), got \(1, 3\) and \(2,\)",
        ),
        (
            torch.zeros(3),
            0,
            torch.ones(2, 1),
            r"z must be \(latent_dim,\) and values \(n,\), got \(3,\) and \(2, 1\)",
        ),
    ],
)
def test_traverse_rejects_bad_arguments(z, dim, values, message):
    with pytest.raises(ValueError, match=message):
        traverse(z, dim, values)
