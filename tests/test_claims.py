"""vae_lib.claims: paired comparisons with standard errors, and claims recorded with
their margins."""

from __future__ import annotations

import json
import math

import pytest
import torch

from vae_lib.claims import (
    ClaimError,
    Comparison,
    beats,
    claim,
    indistinguishable,
    paired,
)


def test_paired_is_the_mean_and_standard_error_of_the_differences():
    a = torch.tensor([3.0, 5.0, 4.0, 8.0])
    b = torch.tensor([1.0, 2.0, 4.0, 4.0])
    difference = torch.tensor([2.0, 3.0, 0.0, 4.0], dtype=torch.float64)
    comparison = paired(a, b)
    assert comparison.n == 4
    assert comparison.mean == pytest.approx(difference.mean().item())
    assert comparison.standard_error == pytest.approx(
        difference.std().item() / 2.0  # sqrt(4)
    )


def test_pairing_removes_what_the_items_share():
    """Two methods that differ by 0.1 on every item are told apart however much the
    items differ from each other; unpaired, the spread of the items would hide it."""
    items = torch.linspace(0, 100, 50)
    comparison = paired(items + 0.1 + 1e-3 * torch.arange(50), items)
    assert comparison.z > 50  # unpaired, the items' spread of about 29 would swamp 0.1


@pytest.mark.parametrize(
    "mean, standard_error, z",
    [(1.0, 0.25, 4.0), (-1.0, 0.5, -2.0), (0.0, 0.0, 0.0), (0.5, 0.0, math.inf)],
)
def test_z_is_the_mean_in_standard_errors(mean, standard_error, z):
    assert Comparison(mean, standard_error, 10).z == z


@pytest.mark.parametrize(
    "mean, verdict",
    [
        (0.5, "MAP beats median"),
        (-0.5, "median beats MAP"),
        (0.15, "MAP and median are indistinguishable"),
        (-0.19, "MAP and median are indistinguishable"),
    ],
)
def test_the_verdict_follows_the_two_standard_error_rule(mean, verdict):
    assert Comparison(mean, 0.1, 30).verdict("MAP", "median") == verdict


def test_a_comparison_prints_its_mean_and_standard_error():
    assert str(Comparison(0.4321, 0.0987, 500)) == "+0.43 ± 0.10 (n = 500)"


@pytest.mark.parametrize(
    "a, b, message",
    [
        (torch.ones(3), torch.ones(4), "same N >= 2 items"),
        (torch.ones(1), torch.ones(1), "same N >= 2 items"),
        (torch.ones(2, 2), torch.ones(2, 2), "shaped \\(N,\\)"),
        (torch.tensor([1.0, math.nan]), torch.ones(2), "finite"),
    ],
)
def test_paired_rejects_scores_that_are_not_paired(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired(a, b)


def test_a_claim_that_holds_passes_and_one_that_fails_names_itself():
    claim("PSNR above 20 dB", True, margin=1.5)
    with pytest.raises(ClaimError, match="not true in this run: PSNR above 20 dB"):
        claim("PSNR above 20 dB", False, margin=-0.5)
    with pytest.raises(TypeError, match="statement"):
        claim("", True)


def test_claims_are_recorded_with_their_margins_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("VAE_BOOK_CLAIMS", str(log))
    claim("the loss went down", True, margin=3)
    with pytest.raises(ClaimError):
        claim("the KL went up", False)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records == [
        {"statement": "the loss went down", "holds": True, "margin": 3.0},
        {"statement": "the KL went up", "holds": False, "margin": None},
    ]


def test_claims_are_not_recorded_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("VAE_BOOK_CLAIMS", raising=False)
    monkeypatch.chdir(tmp_path)
    claim("quiet", True)
    assert list(tmp_path.iterdir()) == []


def test_beats_needs_two_standard_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_BOOK_CLAIMS", str(tmp_path / "claims.jsonl"))
    generator = torch.Generator().manual_seed(0)
    b = torch.rand(400, generator=generator)
    clearly_better = b + 0.1 + 0.05 * torch.randn(400, generator=generator)
    comparison = beats(clearly_better, b, "A", "B")
    assert comparison.z > 2
    barely = b + 0.001 * torch.randn(400, generator=generator)
    with pytest.raises(ClaimError, match="A beats B"):
        beats(barely, b, "A", "B")
    (first, second) = [
        json.loads(line)
        for line in (tmp_path / "claims.jsonl").read_text().splitlines()
    ]
    assert first["holds"] and first["margin"] == pytest.approx(comparison.z - 2)
    assert first["statement"].startswith("A beats B: +0.10 ± ")
    assert not second["holds"] and second["margin"] < 0


def test_indistinguishable_fails_when_one_is_clearly_better():
    generator = torch.Generator().manual_seed(1)
    b = torch.rand(200, generator=generator)
    same = b + 0.01 * torch.randn(200, generator=generator)
    assert abs(indistinguishable(same, b, "A", "B").z) < 2
    with pytest.raises(ClaimError, match="A and B are indistinguishable"):
        indistinguishable(b + 1.0, b, "A", "B")
