"""Benchmark 5: how long each notebook takes to run, in quick mode and in full mode.

Each notebook is executed in a fresh kernel without touching the stored file. In full
mode a CPU loads the shipped checkpoints, while a GPU trains every chapter's models from
scratch. Budgets (DESIGN.md, section 5): the whole book in quick mode within 10 minutes
on a 2-core CPU, each chapter in full mode within 3 minutes. Results go to
``book/benchmarks/book_execution_<mode>_<cpu|gpu>``, and the introduction's run-time
table is rewritten from them (:mod:`vae_lib.run_times`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_records import fmt, machine_kind, markdown_table, save

from vae_lib import run_times
from vae_lib.notebooks import run_notebook
from vae_lib.runtime import MODE_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
BUDGET_SECONDS = {"quick": ("whole book", 600), "full": ("each chapter", 180)}


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_book_execution_time(monkeypatch, mode):
    monkeypatch.setenv(MODE_VARIABLE, mode)  # the kernels inherit it
    kind = machine_kind()
    seconds = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        _, seconds[path.name] = run_notebook(path)
    total = sum(seconds.values())
    scope, budget = BUDGET_SECONDS[mode]
    what = (
        "checkpoints trained from scratch"
        if kind == "gpu" and mode == "full"
        else "checkpoints loaded"
        if mode == "full"
        else "tiny training, small evaluation subsets"
    )
    rows = [[name, fmt(s)] for name, s in seconds.items()] + [
        ["**total**", f"**{fmt(total)}**"]
    ]
    save(
        f"book_execution_{mode}",
        f"Book execution, {mode} mode ({what}).",
        {
            "mode": mode,
            "seconds": seconds,
            "total_seconds": total,
            "budget": {"scope": scope, "seconds": budget},
        },
        markdown_table(["notebook", "seconds"], rows),
        notes=f"Budget: {scope} within {budget // 60} minutes.",
    )
    run_times.main([])  # the introduction's table follows the new record
    worst = total if scope == "whole book" else max(seconds.values())
    assert worst <= budget, (
        f"{mode} mode: {scope} took {worst:.0f} s, over the {budget} s budget"
    )
