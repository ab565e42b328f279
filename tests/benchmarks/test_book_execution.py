"""Benchmark: how long each notebook takes to run, in the mode of ``$VAE_BOOK_MODE`` (default quick).

``make bench`` runs it. Each notebook is executed in a fresh kernel without touching the stored
file; the times go to ``bench-results/book_execution_<mode>.json`` and ``.md`` with the machine
they were measured on. Budgets: the whole book in quick mode within 10 minutes on
a 2-core CPU; each chapter in full mode within 3 minutes on a CPU.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from vae_lib.notebooks import run_notebook
from vae_lib.runtime import MODE_VARIABLE, book_mode, machine_description

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"
BUDGET_SECONDS = {"quick": ("whole book", 600), "full": ("each chapter", 180)}


def test_book_execution_time(monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, os.environ.get(MODE_VARIABLE) or "quick")  # the kernels inherit it
    mode = book_mode()
    seconds = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        _, seconds[path.name] = run_notebook(path)
    record = {"mode": mode, "machine": machine_description(), "torch": torch.__version__, "seconds": seconds,
              "total_seconds": sum(seconds.values())}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"book_execution_{mode}.json").write_text(json.dumps(record, indent=2) + "\n")
    rows = "\n".join(f"| {name} | {s:.1f} |" for name, s in seconds.items())
    (RESULTS / f"book_execution_{mode}.md").write_text(
        f"Book execution, {mode} mode, on {record['machine']} (torch {torch.__version__})\n\n"
        f"| notebook | seconds |\n|---|---|\n{rows}\n| **total** | {record['total_seconds']:.1f} |\n"
    )
    print(json.dumps(record, indent=2))
    scope, budget = BUDGET_SECONDS[mode]
    worst = record["total_seconds"] if scope == "whole book" else max(seconds.values())
    assert worst <= budget, f"{mode} mode: {scope} took {worst:.0f} s, over the {budget} s budget"
