"""The book's notebooks: every stored one is one clean run; the checker and the student
copies work; the set-up cell fails in one readable sentence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from vae_lib.notebooks import cell_results, stored_problems, student_version

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(p for p in BOOK.glob("*.ipynb"))


def test_the_book_has_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {BOOK}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebook_is_one_clean_run(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert stored_problems(notebook) == []
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    first = notebook["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith(
        "# "
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_parameters_cell_and_exercises(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), (
        "no cell tagged 'parameters'"
    )
    markdown = "\n".join(
        "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
    )
    assert markdown.count("```{exercise}") >= 3, (
        "each chapter has at least three exercises"
    )
    assert "{cite:p}" in markdown, "each chapter cites its sources"


def _code_cell(count, outputs=()):
    return {
        "cell_type": "code",
        "source": "x = 1",
        "execution_count": count,
        "metadata": {},
        "outputs": list(outputs),
    }


def test_checker_accepts_a_clean_run():
    assert stored_problems({"cells": [_code_cell(1), _code_cell(2)]}) == []


@pytest.mark.parametrize(
    "cells, expected",
    [
        ([_code_cell(2), _code_cell(1)], "execution counts are [2, 1]"),
        ([_code_cell(1), _code_cell(None)], "never executed"),
        (
            [
                _code_cell(
                    1,
                    [{"output_type": "error", "ename": "ValueError", "evalue": "bad"}],
                )
            ],
            "stores an error: ValueError",
        ),
        (
            [
                _code_cell(
                    1,
                    [
                        {
                            "output_type": "stream",
                            "name": "stdout",
                            "text": "saved to /home/alice/x",
                        }
                    ],
                )
            ],
            "machine-specific path",
        ),
        (
            [
                _code_cell(
                    1,
                    [
                        {
                            "output_type": "execute_result",
                            "data": {"text/plain": "'/tmp/abc'"},
                        }
                    ],
                )
            ],
            "machine-specific path",
        ),
    ],
)
def test_checker_reports_what_is_wrong(cells, expected):
    problems = stored_problems({"cells": cells})
    assert any(expected in p for p in problems), problems


def _markdown(text):
    return {"cell_type": "markdown", "source": text, "metadata": {}}


def test_student_version_removes_gated_and_inline_solutions_and_outputs():
    notebook = {
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": {}}},
        "cells": [
            _markdown("# Title"),
            _markdown("```{exercise} One\n:label: ex-1\nDo it.\n```"),
            _markdown("```{solution-start} ex-1\n:class: dropdown\n```"),
            _code_cell(
                1, [{"output_type": "stream", "name": "stdout", "text": "answer"}]
            ),
            _markdown("```{solution-end}\n```"),
            _code_cell(
                2, [{"output_type": "stream", "name": "stdout", "text": "checked"}]
            ),
            _markdown(
                "```{exercise} Two\n:label: ex-2\nThink.\n```\n\n"
                "```{solution} ex-2\n:class: dropdown\n\nBecause.\n```\nAfter."
            ),
        ],
    }
    student = student_version(notebook)
    texts = ["".join(c["source"]) for c in student["cells"]]
    assert len(student["cells"]) == 4
    assert not any("solution" in t or "Because" in t for t in texts)
    assert texts[3].startswith("```{exercise} Two") and texts[3].rstrip().endswith(
        "After."
    )
    code = student["cells"][2]
    assert code["outputs"] == [] and code["execution_count"] is None
    # original untouched
    assert "widgets" not in student["metadata"] and notebook["cells"][3]["outputs"]


def test_student_version_rejects_an_unclosed_solution():
    with pytest.raises(ValueError, match="no matching"):
        student_version(
            {"cells": [_markdown("```{solution-start} ex-1\n```"), _code_cell(1)]}
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_version_of_each_chapter_keeps_exercises_and_drops_solutions(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    student = student_version(notebook)
    text = "\n".join("".join(c["source"]) for c in student["cells"])
    original = "\n".join("".join(c["source"]) for c in notebook["cells"])
    assert text.count("```{exercise}") == original.count("```{exercise}") >= 3
    assert "{solution" not in text
    assert all(
        not c.get("outputs") for c in student["cells"] if c["cell_type"] == "code"
    )


def _setup_source(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def test_every_chapter_starts_with_the_same_setup_cell():
    sources = {_setup_source(path) for path in NOTEBOOKS}
    assert len(sources) == 1, "the chapters' set-up cells differ"
    assert "VAE_BOOK_REPO" in sources.pop()


def test_setup_cell_stops_run_all_with_one_sentence_when_cloning_fails(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    hide_vae_lib = (  # as on Colab: vae_lib is not importable
        "import importlib.util\n"
        "find_spec = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *args: (\n"
        "    None if name == 'vae_lib' else find_spec(name, *args)\n"
        ")"
    )
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(hide_vae_lib),
            nbformat.v4.new_code_cell(_setup_source(NOTEBOOKS[0])),
            nbformat.v4.new_code_cell("print('the next cell ran')"),
        ]
    )
    missing = tmp_path / "no-such-repository"
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    os.environ["VAE_BOOK_REPO"], saved = str(missing), os.environ.get("VAE_BOOK_REPO")
    try:
        with pytest.raises(CellExecutionError):
            client.execute()
    finally:
        os.environ.pop("VAE_BOOK_REPO")
        if saved is not None:
            os.environ["VAE_BOOK_REPO"] = saved
    (error,) = notebook.cells[1].outputs
    assert error["ename"] == "SetupError"
    (line,) = error["traceback"]  # one line: the message, no traceback
    assert line.startswith("SetupError: Could not clone the book's repository from")
    assert str(missing) in line and "VAE_BOOK_REPO" in line
    assert notebook.cells[2].outputs == []  # Run All stopped there


def test_cell_results_reads_status_error_and_time():
    timing = {
        "iopub.execute_input": "2026-11-30T10:00:00.000000Z",
        "shell.execute_reply": "2026-11-30T10:00:02.500000Z",
    }
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("x = 1", execution_count=1, metadata={"execution": timing}),
            new_code_cell(
                "assert x == 2, 'x is not 2'",
                execution_count=2,
                outputs=[
                    new_output(
                        "error",
                        ename="AssertionError",
                        evalue="x is not 2\nsecond line",
                        traceback=[],
                    )
                ],
            ),
            new_code_cell("y = 3"),
        ]
    )
    assert cell_results(notebook) == [
        {"cell": 1, "status": "ok", "seconds": 2.5},
        {
            "cell": 2,
            "status": "error",
            "error": "AssertionError: x is not 2",
            "seconds": None,
        },
        {"cell": 3, "status": "not run", "seconds": None},
    ]


def _check_cell(text):
    cell = _code_cell(1, [{"output_type": "stream", "name": "stdout", "text": text}])
    cell["metadata"] = {"tags": ["exercise-check", "nbval-check-output"]}
    return cell


@pytest.mark.parametrize(
    "text", ["Not yet: write my_psnr.\n", "", "Correct? no\n", "Not yet: Correct: no\n"]
)
def test_a_stored_exercise_check_must_accept_the_books_solution(text):
    problems = stored_problems({"cells": [_check_cell(text)]})
    assert any("did not accept the book's solution" in p for p in problems), problems


def test_a_stored_exercise_check_that_passed_is_fine():
    assert (
        stored_problems({"cells": [_check_cell("Correct: the path is right.\n")]}) == []
    )
