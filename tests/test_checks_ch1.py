"""vae_lib.checks, Chapter 1's exercises "How many components?", "Counting parameters"
and "Walking between two codes": right answers pass, typical mistakes are refused with
their hint, inputs are drawn afresh on every call and no message gives the expected
value away."""

from __future__ import annotations

import itertools
import re

import pytest
import torch

from vae_lib import latent
from vae_lib.checks import (
    ExerciseCheckError,
    check_components_for_variance,
    check_interpolation,
    check_parameter_count,
    components_for_variance,
)
from vae_lib.latent import lerp
from vae_lib.models import Autoencoder, AutoencoderConfig, count_parameters


def long_numbers(message: str, allowed=()) -> list[str]:
    """The numbers in ``message`` with more than two significant digits, other than
    ``allowed`` (sizes the check shows): a computed value would be one of them."""
    found = re.findall(r"\d+(?:\.\d+)?", message)
    return [
        n
        for n in found
        if len(n.replace(".", "").lstrip("0")) > 2
        and n not in {str(a) for a in allowed}
    ]


def count(values: torch.Tensor, fraction: float) -> int:
    """The smallest d whose first d values hold `fraction` of their sum."""
    total, running = values.sum().item(), 0.0
    for d, value in enumerate(values.tolist(), start=1):
        running += value
        if running >= fraction * total:
            return d
    return len(values)


def by_eigh(x, fraction):
    centred = x - x.mean(dim=0)
    covariance = centred.T @ centred / (x.shape[0] - 1)  # the divisor cancels
    return count(torch.linalg.eigvalsh(covariance).flip(0), fraction)


def by_svd_tensor(x, fraction):
    singular = torch.linalg.svdvals(x - x.mean(dim=0))
    kept = (singular**2).cumsum(0) / (singular**2).sum()
    return torch.searchsorted(kept, torch.tensor(fraction, dtype=kept.dtype)) + 1


@pytest.mark.parametrize("answer", [by_eigh, by_svd_tensor, components_for_variance])
def test_right_answers_pass(answer, capsys):
    assert check_components_for_variance(answer) is True
    assert "Correct" in capsys.readouterr().out


def off_by_one(x, fraction):
    return by_eigh(x, fraction) - 1


def uncentred(x, fraction):
    return count(torch.linalg.svdvals(x) ** 2, fraction)


def ascending(x, fraction):
    centred = x - x.mean(dim=0)
    return count(torch.linalg.eigvalsh(centred.T @ centred), fraction)


def not_squared(x, fraction):
    return count(torch.linalg.svdvals(x - x.mean(dim=0)), fraction)


def share_of_error(x, fraction):
    return by_eigh(x, 1 - fraction)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (off_by_one, "off by one"),
        (uncentred, "subtract the mean"),
        (ascending, "largest first"),
        (not_squared, "square them"),
        (share_of_error, "share of the variance kept"),
    ],
)
def test_typical_mistakes_are_refused_with_their_hint(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_components_for_variance(answer)


def test_a_constant_is_refused():
    # Whatever constant: the targets are drawn afresh, from 2 up to D - 1.
    for constant in (3, 5):
        with pytest.raises(ExerciseCheckError, match="not yet"):
            check_components_for_variance(lambda x, fraction, c=constant: c)


def test_no_value_is_printed_and_data_change_between_calls(capsys):
    first_fractions = []

    def spy(x, fraction):
        if not first_fractions or len(seen) % 6 == 0:
            first_fractions.append(round(fraction, 9))
        seen.append((tuple(x.shape), by_eigh(x, fraction)))
        return 1  # wrong for every target (targets are >= 2)

    seen: list = []
    for _ in range(3):
        with pytest.raises(ExerciseCheckError) as error:
            check_components_for_variance(spy)
        assert "expected" not in str(error.value)
    assert len(seen) == 18  # every wrong count is looked at, six per call
    assert len(set(first_fractions)) == 3  # a new data set on every call
    assert capsys.readouterr().out == ""


def test_the_answer_must_be_an_int():
    with pytest.raises(ExerciseCheckError, match="Python int"):
        check_components_for_variance(lambda x, f: float(by_eigh(x, f)))


def test_inputs_modified_in_place_are_refused():
    def centre_in_place(x, fraction):
        x -= x.mean(dim=0)
        return by_eigh(x, fraction)

    with pytest.raises(ExerciseCheckError, match="in place"):
        check_components_for_variance(centre_in_place)


def test_reference_on_an_exact_case():
    # Rows +-a e_i: centred, with variances proportional to 4, 2, 1, 1 along the axes,
    # so the top 1, 2, 3 components keep 50%, 75% and 87.5% of the variance.
    axes = torch.diag(torch.tensor([2.0, 2**0.5, 1.0, 1.0], dtype=torch.float64))
    x = torch.cat([axes, -axes]) + 7.0
    assert components_for_variance(x, 0.5) == 1
    assert components_for_variance(x, 0.6) == 2
    assert components_for_variance(x, 0.8) == 3
    assert components_for_variance(x, 0.9) == 4


# --- counting parameters --------------------------------------------------------------


def count_by_layers(num_pixels, hidden_dims, latent_dim):
    encoder = [num_pixels, *hidden_dims, latent_dim]
    decoder = encoder[::-1]
    total = 0
    for sizes in (encoder, decoder):
        for n_in, n_out in itertools.pairwise(sizes):
            total += n_in * n_out + n_out  # weights, then one bias per output
    return total


def count_in_closed_form(num_pixels, hidden_dims, latent_dim):
    sizes = [num_pixels, *hidden_dims, latent_dim]
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    # every size gets biases once: the encoder's outputs, then the decoder's
    return 2 * weights + 2 * sum(hidden_dims) + latent_dim + num_pixels


@pytest.mark.parametrize("answer", [count_by_layers, count_in_closed_form])
def test_check_parameter_count_accepts_right_answers(answer, capsys):
    assert check_parameter_count(answer) is True
    assert "Correct" in capsys.readouterr().out


def no_biases(num_pixels, hidden_dims, latent_dim):
    sizes = [num_pixels, *hidden_dims, latent_dim]
    return 2 * sum(a * b for a, b in itertools.pairwise(sizes))


def encoder_only(num_pixels, hidden_dims, latent_dim):
    sizes = [num_pixels, *hidden_dims, latent_dim]
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def decoder_as_a_copy(num_pixels, hidden_dims, latent_dim):
    return 2 * encoder_only(num_pixels, hidden_dims, latent_dim)


def without_the_code_layer(num_pixels, hidden_dims, latent_dim):
    sizes = [num_pixels, *hidden_dims]
    return 2 * sum(a * b + b for a, b in itertools.pairwise(sizes))


def by_building_the_model(num_pixels, hidden_dims, latent_dim):
    side = int(num_pixels**0.5)
    config = AutoencoderConfig(
        image_shape=(1, side, side),
        hidden_dims=tuple(hidden_dims),
        latent_dim=latent_dim,
    )
    return count_parameters(Autoencoder(config))


def by_torch_layers(num_pixels, hidden_dims, latent_dim):
    sizes = [num_pixels, *hidden_dims, latent_dim]
    layers = [torch.nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    layers += [torch.nn.Linear(b, a) for a, b in itertools.pairwise(sizes)]
    return sum(p.numel() for layer in layers for p in layer.parameters())


def hard_coded(num_pixels, hidden_dims, latent_dim):
    # what the old checker's first architecture printed
    return (
        403_972
        if (num_pixels, tuple(hidden_dims), latent_dim) == (784, (256,), 2)
        else 0
    )


def appends_the_code_size(num_pixels, hidden_dims, latent_dim):
    if isinstance(hidden_dims, list):
        hidden_dims.append(latent_dim)
        hidden_dims.pop()
        hidden_dims.insert(0, num_pixels)
    return count_by_layers(num_pixels, hidden_dims, latent_dim)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (no_biases, "not the biases"),
        (encoder_only, "encoder alone"),
        (decoder_as_a_copy, "biases belong to its outputs"),
        (without_the_code_layer, "into and out of the latent code"),
        (by_building_the_model, "does the exercise for you"),
        (by_torch_layers, "does the exercise for you"),
        (lambda p, h, k: float(count_by_layers(p, h, k)), "Python int"),
        (lambda p, h, k: torch.tensor(count_by_layers(p, h, k)), "Python int"),
        (lambda p, h, k: str(count_by_layers(p, h, k)), "Python int"),
        (lambda p, h, k: count_by_layers(p, h, k) + 1, "a \\* b weights and b biases"),
        (hard_coded, "not yet"),
        (appends_the_code_size, "in place"),
    ],
    ids=[
        "no-biases",
        "encoder-only",
        "decoder-copy",
        "no-code-layer",
        "library-model",
        "torch-layers",
        "float",
        "tensor",
        "str",
        "off-by-one",
        "hard-coded",
        "in-place",
    ],
)
def test_check_parameter_count_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseCheckError, match=hint):
        check_parameter_count(answer)


def test_check_parameter_count_draws_new_architectures_and_never_tells_the_count():
    seen = []

    def spy(num_pixels, hidden_dims, latent_dim):
        seen.append((num_pixels, tuple(hidden_dims), latent_dim))
        return count_by_layers(num_pixels, hidden_dims, latent_dim) + 1

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_parameter_count(spy)
        messages.append(str(error.value))
    assert len(seen) == 8 and seen[:4] != seen[4:]
    assert sorted(len(h) for _, h, _ in seen[:4]) == [0, 1, 2, 3]
    shown = {n for p, h, k in seen for n in (p, *h, k)}
    counts = {count_by_layers(*architecture) for architecture in seen}
    for message in messages:
        numbers = {int(n) for n in re.findall(r"\d+", message)}
        assert not (numbers & counts) - shown
        assert long_numbers(message, shown) == []


def test_check_parameter_count_agrees_with_the_library_model():
    for hidden in ((), (5,), (7, 3), (9, 4, 6)):
        config = AutoencoderConfig(
            image_shape=(3, 4, 5), hidden_dims=hidden, latent_dim=2
        )
        assert count_parameters(Autoencoder(config)) == count_by_layers(60, hidden, 2)


# --- walking between two codes --------------------------------------------------------


def interpolate_broadcast(z0, z1, num_steps):
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype).unsqueeze(1)
    return (1 - t) * z0 + t * z1


def interpolate_loop(z0, z1, n):
    return torch.stack([z0 * (1 - i / (n - 1)) + z1 * (i / (n - 1)) for i in range(n)])


def interpolate_torch_lerp(z0, z1, num_steps):
    weights = torch.linspace(0, 1, num_steps, dtype=z0.dtype)[:, None]
    return torch.lerp(z0.expand(num_steps, -1), z1.expand(num_steps, -1), weights)


@pytest.mark.parametrize(
    "answer", [interpolate_broadcast, interpolate_loop, interpolate_torch_lerp]
)
def test_check_interpolation_accepts_right_answers(answer, capsys):
    assert check_interpolation(answer) is True
    assert "Correct" in capsys.readouterr().out


def changes_z1(z0, z1, num_steps):
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype).unsqueeze(1)
    return z0 + t * z1.sub_(z0)


def calls_the_library_by_module(z0, z1, num_steps):
    return latent.lerp(z0, z1, num_steps)


def calls_the_library_in_a_helper(z0, z1, num_steps):
    return helper_path(z0, z1, num_steps)


def helper_path(z0, z1, num_steps):
    return lerp(z0, z1, num_steps)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            lambda z0, z1, n: interpolate_broadcast(z1, z0, n),
            "runs from z1 to z0; start at z0",
        ),
        (
            lambda z0, z1, n: z0 + (torch.arange(n) / n).unsqueeze(1) * (z1 - z0),
            r"torch.linspace\), not arange",
        ),
        (
            lambda z0, z1, n: z0 + torch.linspace(0, 1, n)[:, None] * z1,
            "move along the difference",
        ),
        (lambda z0, z1, n: interpolate_broadcast(z0, z1, n).T, "must be shaped"),
        (lambda z0, z1, n: interpolate_broadcast(z0, z1, n + 1), "must be shaped"),
        (lambda z0, z1, n: interpolate_broadcast(z0, z1, n).tolist(), "got list"),
        (lambda z0, z1, n: interpolate_broadcast(z0, z1, n) ** 2, "not z0 \\+ t"),
        (lambda z0, z1, n: interpolate_broadcast(z0, z1, n).long(), "float tensor"),
        (lerp, "does the exercise for you"),
        (calls_the_library_by_module, "vae_lib.latent.lerp"),
        (calls_the_library_in_a_helper, "does the exercise for you"),
        (changes_z1, "in place"),
    ],
    ids=[
        "reversed",
        "arange",
        "no-difference",
        "transposed",
        "one-step-too-many",
        "list",
        "not-a-line",
        "integers",
        "library",
        "library-by-module",
        "library-in-helper",
        "in-place",
    ],
)
def test_check_interpolation_refuses_wrong_answers(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_interpolation(answer)


def test_check_interpolation_draws_new_codes_and_never_prints_a_path():
    seen = []

    def spy(z0, z1, num_steps):
        seen.append((z0.clone(), num_steps))
        return interpolate_broadcast(z0, z1, num_steps) + 0.01

    messages = []
    for _ in range(2):
        with pytest.raises(ExerciseCheckError) as error:
            check_interpolation(spy)
        messages.append(str(error.value))
    assert not torch.equal(seen[0][0], seen[1][0])
    for message in messages:
        assert long_numbers(message) == [] and "tensor" not in message
