"""vae_lib.robustness: a tiny book run under two seeds, its claims and failures
recorded per seed."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from vae_lib import robustness

CLAIMING = """\
from vae_lib.claims import claim
from vae_lib.runtime import book_seed

seed = book_seed()
claim("the seed is below 500", seed < 500, margin=500 - seed)
claim("always true", True)
"""


@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    book = tmp_path / "book"
    book.mkdir()
    chapters = {
        "01_claims": [new_code_cell(CLAIMING)],
        "02_broken": [new_code_cell("raise RuntimeError('broken for every seed')")],
    }
    for name, cells in chapters.items():
        notebook = new_notebook(cells=[new_markdown_cell(f"# {name}"), *cells])
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
        }
        nbformat.write(notebook, book / f"{name}.ipynb")
    monkeypatch.setattr(robustness, "BOOK", book)
    return book


def test_claims_and_failed_cells_are_recorded_per_seed(tiny_book, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    record = robustness.run(["01", "02"], [0, 1], mode="quick", out=out)
    claims = record["chapters"]["01_claims"]
    assert claims["0"]["claims"] == [
        {"statement": "the seed is below 500", "holds": True, "margin": 500.0},
        {"statement": "always true", "holds": True, "margin": None},
    ]
    assert claims["1"]["claims"][0] == {
        "statement": "the seed is below 500",
        "holds": False,
        "margin": -500.0,
    }
    assert len(claims["1"]["claims"]) == 1  # a failing claim stops its cell
    broken = record["chapters"]["02_broken"]
    assert [c["error"] for c in broken["0"]["failed_cells"]] == [
        "RuntimeError: broken for every seed"
    ]
    saved = json.loads((out / "robustness_quick_cpu.json").read_text())
    assert saved["chapters"].keys() == record["chapters"].keys()
    table = (out / "robustness_quick_cpu.md").read_text()
    assert "| the seed is below 500 | pass (+500) | **FAIL** (-500) |" in table
    assert "seed 0, cell 1: RuntimeError: broken for every seed" in table


def test_a_later_run_adds_chapters_to_the_record_of_the_same_seeds(tiny_book, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    robustness.run(["01"], [0], mode="quick", out=out)
    record = robustness.run(["02"], [0], mode="quick", out=out)
    assert set(record["chapters"]) == {"01_claims", "02_broken"}
    record = robustness.run(["02"], [5], mode="quick", out=out)
    assert set(record["chapters"]) == {"02_broken"}  # other seeds: a new record


def test_unknown_chapters_are_named(tiny_book):
    with pytest.raises(ValueError, match=r"no chapter starts with \['09'\]"):
        robustness.run(["09"], [0])


def test_the_command_line_writes_where_out_says_and_exits_1_on_a_failure(
    tiny_book, tmp_path
):
    out = tmp_path / "new" / "folder"  # created when missing
    assert (
        robustness.main(
            ["--chapters", "01", "--seeds", "0", "--mode", "quick", "--out", str(out)]
        )
        == 0
    )
    assert (out / "robustness_quick_cpu.md").exists()
    assert (
        robustness.main(
            ["--chapters", "01", "--seeds", "1", "--mode", "quick", "--out", str(out)]
        )
        == 1
    )


@pytest.mark.parametrize(
    ("statement", "key"),
    [
        ("A beats B: +1.2 ± 0.3 dB", "A beats B"),
        (
            "at gaussian 0.5 the estimate of σ runs low (-6.6%)",
            "at gaussian 0.5 the estimate of σ runs low",
        ),
        (
            "blind MAP is within 0.3 dB of MAP told σ (+0.01 ± 0.02 dB)",
            "blind MAP is within 0.3 dB of MAP told σ",
        ),
        ("the judge (a CNN) agrees", "the judge (a CNN) agrees"),
        ("it accepts fewer (+8.70 ± 0.98 (n = 1000))", "it accepts fewer"),
    ],
)
def test_a_claim_is_known_across_seeds_without_the_numbers_a_run_prints_into_it(
    statement, key
):
    assert robustness.claim_key(statement) == key
