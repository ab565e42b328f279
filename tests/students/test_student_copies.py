"""Every chapter's student copy runs top to bottom with no answer written
(``make student-test``, quick mode).

``make student`` hands out the chapters without solutions or outputs. A student who
presses Run All before writing anything must reach the end of the notebook: each code
exercise's starter raises ``NotImplementedError``, its check cell says "Not yet" and
what is missing, and every later cell runs. This runs each copy in a fresh kernel, in
the book's folder (where the chapters find their data), and requires no error cell.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from vae_lib.notebooks import student_version

BOOK = Path(__file__).resolve().parents[2] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(autouse=True)
def quick_mode(monkeypatch):
    monkeypatch.setenv("VAE_BOOK_MODE", "quick")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


def test_there_are_seven_chapters():
    assert [p.name[:2] for p in CHAPTERS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_student_copy_runs_to_the_end_with_no_answers(chapter):
    copy = student_version(json.loads(chapter.read_text(encoding="utf-8")))
    notebook = nbformat.reads(json.dumps(copy), as_version=4)
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(BOOK)}},
        allow_errors=True,
    )
    client.execute()
    errors = [
        f"cell {i}: {o.get('ename')}: {o.get('evalue', '')[:200]}"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert errors == []
    checks = [
        "".join(o.get("text", "") for o in cell.outputs)
        for cell in notebook.cells
        if "exercise-check" in cell.metadata.get("tags", [])
    ]
    starters = [
        c for c in notebook.cells if "exercise-starter" in c.metadata.get("tags", [])
    ]
    assert len(checks) == len(starters)
    # with nothing written, every check says what is missing, and never "Correct"
    assert all(text.startswith("Not yet: write ") for text in checks), checks
