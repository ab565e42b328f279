"""vae_lib.checks: each exercise checker accepts a right answer and explains typical wrong ones.

The answers below are written from the exercises' statements, not from the checkers' code.
"""
from __future__ import annotations

import pytest
import torch

from vae_lib.checks import (
    ExerciseCheckError,
    check_interpolation,
    check_parameter_count,
    check_pca_error,
    pca_reconstruction_error,
)

# --- Chapter 1: PCA's optimal reconstruction error -------------------------------------------------


def pca_error(x: torch.Tensor, k: int, *, centre: bool = True, components: int | None = None) -> float:
    """Mean over examples of ||x - x_hat||^2, x_hat the projection on the top principal directions."""
    mean = x.mean(dim=0) if centre else torch.zeros(x.shape[1], dtype=x.dtype)
    centred = x - mean
    _, vectors = torch.linalg.eigh(centred.T @ centred)  # eigenvalues in ascending order
    top = vectors[:, -(components or k):]
    x_hat = mean + centred @ top @ top.T
    return float(((x - x_hat) ** 2).sum(dim=1).mean())


def kept_variance(x: torch.Tensor, k: int) -> float:
    centred = x - x.mean(dim=0)
    top = torch.linalg.eigh(centred.T @ centred)[1][:, -k:]
    return float(((centred @ top) ** 2).sum(dim=1).mean())


PCA_MISTAKES = {
    "not-centred": (lambda x, k: pca_error(x, k, centre=False), "did not subtract the mean"),
    "per-pixel": (lambda x, k: pca_error(x, k) / x.shape[1], "averaged over pixels"),
    "kept-variance": (kept_variance, "variance the top k directions keep"),
    "n-minus-one": (lambda x, k: pca_error(x, k) * x.shape[0] / (x.shape[0] - 1), r"divided by N - 1"),
    "off-by-one": (lambda x, k: pca_error(x, k, components=k + 1), "off by one"),
}


@pytest.mark.parametrize(
    "answer",
    [pca_error, lambda x, k: torch.tensor(pca_error(x, k)), lambda x, k: torch.tensor([[pca_error(x, k)]])],
    ids=["float", "scalar-tensor", "one-element-tensor"],
)
def test_check_pca_error_accepts_a_right_answer(answer, capsys):
    assert check_pca_error(answer) is True
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("mistake", PCA_MISTAKES.values(), ids=PCA_MISTAKES.keys())
def test_check_pca_error_names_the_typical_mistake(mistake):
    answer, hint = mistake
    with pytest.raises(ExerciseCheckError, match=rf"for k=1 you returned .*, expected .*: .*{hint}"):
        check_pca_error(answer)


def test_check_pca_error_without_a_hint_still_says_what_was_expected():
    with pytest.raises(ExerciseCheckError, match=r"for k=1 you returned 42, expected [0-9.]+\.$"):
        check_pca_error(lambda x, k: 42.0)


def test_check_pca_error_finds_a_mistake_that_only_shows_for_larger_k():
    def wrong_from_k3(x, k):
        return pca_error(x, k) if k < 3 else pca_error(x, k) + 1

    with pytest.raises(ExerciseCheckError, match="for k=3 you returned"):
        check_pca_error(wrong_from_k3)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda x, k: "0.5", "fn\\(x, k=1\\) should be a number, got str"),
        (lambda x, k: True, "should be a number, got bool"),
        (lambda x, k: torch.zeros(3), r"should be one number, got a tensor of shape \(3,\)"),
    ],
    ids=["str", "bool", "vector"],
)
def test_check_pca_error_needs_one_number(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_pca_error(answer)


def test_pca_reference_agrees_with_an_explicit_projection():
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * torch.arange(1.0, 7.0).double()
    for k in (1, 3, 5):
        assert pca_reconstruction_error(x, k) == pytest.approx(pca_error(x, k), rel=1e-9)


# --- Chapter 1: counting an MLP autoencoder's parameters ------------------------------------------


def layer_params(sizes: list[int], *, biases: bool = True) -> int:
    return sum(n_in * n_out + (n_out if biases else 0) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def parameter_count(num_pixels, hidden_dims, latent_dim, *, biases=True, decoder=True) -> int:
    encoder = [num_pixels, *hidden_dims, latent_dim]
    total = layer_params(encoder, biases=biases)
    return total + (layer_params(encoder[::-1], biases=biases) if decoder else 0)


def test_check_parameter_count_accepts_a_right_answer(capsys):
    assert check_parameter_count(parameter_count) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda p, h, k: parameter_count(p, h, k, biases=False), "not the biases"),
        (lambda p, h, k: parameter_count(p, h, k, decoder=False), "encoder alone"),
    ],
    ids=["no-biases", "encoder-only"],
)
def test_check_parameter_count_names_the_typical_mistake(answer, hint):
    with pytest.raises(ExerciseCheckError, match=rf"num_pixels=784, hidden_dims=\(256,\), latent_dim=2 you returned \d+, expected \d+\..*{hint}"):
        check_parameter_count(answer)


def test_check_parameter_count_reports_other_mistakes_plainly():
    wrong = 1 + parameter_count(784, (256,), 2)
    with pytest.raises(ExerciseCheckError, match=rf"you returned {wrong}, expected {wrong - 1}\.$"):
        check_parameter_count(lambda p, h, k: parameter_count(p, h, k) + 1)


def test_check_parameter_count_tries_a_network_without_hidden_layers():
    def wrong_without_hidden(p, h, k):
        return parameter_count(p, h, k) if h else 0

    with pytest.raises(ExerciseCheckError, match=r"num_pixels=64, hidden_dims=\(\), latent_dim=3 you returned 0"):
        check_parameter_count(wrong_without_hidden)


# --- Chapter 1: walking between two codes ---------------------------------------------------------


def interpolate(z0, z1, num_steps):
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype).unsqueeze(1)
    return torch.lerp(z0.unsqueeze(0), z1.unsqueeze(0), t)


def test_check_interpolation_accepts_a_right_answer(capsys):
    assert check_interpolation(interpolate) is True
    assert "Correct" in capsys.readouterr().out


def test_check_interpolation_accepts_a_loop_over_steps():
    def loop(z0, z1, n):
        return torch.stack([z0 * (1 - i / (n - 1)) + z1 * (i / (n - 1)) for i in range(n)])

    assert check_interpolation(loop) is True


def test_check_interpolation_accepts_a_right_answer_in_double_precision():
    def in_float64(z0, z1, n):
        return interpolate(z0.double(), z1.double(), n)

    assert check_interpolation(in_float64) is True


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda z0, z1, n: interpolate(z1, z0, n), "runs from z1 to z0; start at z0"),
        (lambda z0, z1, n: z0 + (torch.arange(n) / n).unsqueeze(1) * (z1 - z0), r"torch.linspace\), not arange"),
        (lambda z0, z1, n: interpolate(z0, z1, n).T, r"must be shaped \(2, 5\), got \(5, 2\)"),
        (lambda z0, z1, n: interpolate(z0, z1, n + 1), r"must be shaped \(2, 5\), got \(3, 5\)"),
        (lambda z0, z1, n: interpolate(z0, z1, n).tolist(), r"must be shaped \(2, 5\), got list"),
        (lambda z0, z1, n: interpolate(z0, z1, n) ** 2, "not z0 \\+ t \\(z1 - z0\\) for evenly spaced t"),
    ],
    ids=["reversed", "arange", "transposed", "one-step-too-many", "list", "not-a-line"],
)
def test_check_interpolation_explains_wrong_answers(answer, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_interpolation(answer)


def test_check_interpolation_errors_are_assertion_errors():
    # Notebook readers see the message as a failed assertion, not as a crash of the library.
    assert issubclass(ExerciseCheckError, AssertionError)
