"""vae_lib.run_times: the introduction's run-time table comes from the records."""

from __future__ import annotations

import pytest

from vae_lib import run_times


def test_the_intro_table_is_generated_from_the_current_records():
    text = run_times.INTRO.read_text(encoding="utf-8")
    expected = run_times.replaced(text, run_times.table(run_times.load_records()))
    assert text == expected, "run python -m vae_lib.run_times after make bench"


def test_durations_read_as_minutes_and_seconds():
    assert run_times.duration(47.4) == "47 s"
    assert run_times.duration(245.2) == "4 min 05 s"


def test_a_chapter_missing_from_a_record_says_so():
    records = {
        "quick_cpu": {
            "seconds": {"02_elbo.ipynb": 13.2},
            "total_seconds": 13.2,
            "machine": "CPU",
            "torch": "2",
            "date": "today",
        },
        "full_cpu": {
            "seconds": {},
            "total_seconds": 0.0,
            "machine": "CPU",
            "torch": "2",
            "date": "today",
        },
    }
    lines = run_times.table(records).splitlines()
    assert (
        lines[2]
        == "| [2. The evidence lower bound](02_elbo.ipynb) | 13 s | not measured |"
    )


def test_the_markers_must_be_there(tmp_path):
    with pytest.raises(ValueError, match="must hold the markers"):
        run_times.replaced("no markers here", "| table |")
