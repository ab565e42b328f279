"""The student copies (``make student``): every way MyST lets a book write a solution is
removed, the exercises and the prose around them stay, outputs go, and what cannot be
delimited is refused with the cell named rather than handed out."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from vae_lib.notebooks import main, student_version

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))

# any solution directive, in any fence style (backticks, tildes, MyST colons)
SOLUTION_DIRECTIVE = re.compile(
    r"^[ \t>]*(?:`{3,}|~{3,}|:{3,})[ \t]*\{solution(?:-start|-end)?\}",
    re.MULTILINE | re.IGNORECASE,
)
EXERCISE = "```{exercise} Think\n:label: ex-1\n\nDo the exercise.\n```"
SECRET = "SECRET"  # every solution below holds it, and nothing else does


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str, count: int) -> dict:
    output = {"output_type": "stream", "name": "stdout", "text": f"{text} printed"}
    return {
        "cell_type": "code",
        "metadata": {},
        "source": text,
        "execution_count": count,
        "outputs": [output],
    }


def _notebook(*sources: str) -> dict:
    """A notebook of the given cells: ``code: ...`` makes a code cell with an output,
    anything else a markdown cell."""
    cells = [
        _code(s.removeprefix("code: "), i + 1)
        if s.startswith("code: ")
        else _markdown(s)
        for i, s in enumerate(sources)
    ]
    return {
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": {}}},
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": cells,
    }


def _text(notebook: dict) -> str:
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in notebook["cells"]
    )


# Solutions written inside one markdown cell, between "Before." and "After.".
INLINE_FORMS = {
    "backticks": "```{solution} ex-1\n:class: dropdown\n\nSECRET answer.\n```",
    "no options": "```{solution} ex-1\nSECRET answer.\n```",
    "space before the brace": "``` {solution} ex-1\nSECRET answer.\n```",
    "closing fence with spaces": "```{solution} ex-1\nSECRET.\n```   ",
    "yaml options": (
        "```{solution} ex-1\n---\nclass: dropdown\n---\nSECRET answer.\n```"
    ),
    "code block inside, same fence": (
        "```{solution} ex-1\n:class: dropdown\n\nLike this:\n\n"
        "```python\nprint('SECRET')\n```\n\nSECRET explained.\n```"
    ),
    "code block inside, unterminated in MyST's reading": (
        "```{solution} ex-1\nSECRET:\n```python\nprint('SECRET')\n```"
    ),
    "four backticks": (
        "````{solution} ex-1\n:class: dropdown\n\n```python\nprint('SECRET')\n```\n````"
    ),
    "four backticks, bare inner fence": "````{solution} ex-1\n```\nSECRET\n```\n````",
    "five backticks, four inside": (
        "`````{solution} ex-1\n````{note}\n```python\nSECRET\n```\n````\n`````"
    ),
    "closed by a longer fence": "```{solution} ex-1\nSECRET answer.\n`````",
    "tildes": "~~~{solution} ex-1\n:class: dropdown\n\nSECRET answer.\n~~~",
    "tildes around backticks": "~~~{solution} ex-1\n```\nSECRET\n```\n```{x}\n~~~",
    "colon fence": ":::{solution} ex-1\n:class: dropdown\n\nSECRET answer.\n:::",
    "colon fence, yaml options": (
        ":::{solution} ex-1\n---\nclass: dropdown\n---\nSECRET answer.\n:::"
    ),
    "colon fence with a note inside": (
        "::::{solution} ex-1\n:class: dropdown\n\n:::{note}\nSECRET aside.\n:::\n"
        "\nSECRET answer.\n::::"
    ),
    "colon fence with a note inside, same length": (
        ":::{solution} ex-1\n:::{note}\nSECRET aside.\n:::\nSECRET answer.\n:::"
    ),
    "colon fence around backticks": (
        ":::{solution} ex-1\n```python\nprint('SECRET')\n```\n:::"
    ),
    "math inside": (
        "```{solution} ex-1\n```{math}\n:label: eq-secret\n\\mathrm{SECRET} = 1\n```\n"
        "SECRET.\n```"
    ),
    "math inside, longer outer fence": (
        "````{solution} ex-1\n```{math}\n\\mathrm{SECRET}\n```\n````"
    ),
    "code-block inside": (
        "````{solution} ex-1\n```{code-block} python\n:linenos:\n\nSECRET = 1\n```\n"
        "````"
    ),
    "code-block holding a fence": (
        "````{solution} ex-1\n```{code-block} markdown\n"
        ":::{note}\nSECRET\n:::\n```\n````"
    ),
    "indented fences": "   ```{solution} ex-1\nSECRET answer.\n  ```",
    "in a list item, indented less than 4": (
        "- Step:\n\n  ```{solution} ex-1\n  SECRET\n  ```"
    ),
    "capitalised name": "```{Solution} ex-1\nSECRET answer.\n```",
    "two solutions": (
        "```{solution} ex-1\nSECRET one.\n```\n\nBetween.\n\n"
        ":::{solution} ex-1\nSECRET two.\n:::"
    ),
    "inside an admonition": (
        "````{admonition} Kept box\nBox text.\n\n```{solution} ex-1\nSECRET.\n```\n````"
    ),
    "gated in one cell": (
        "```{solution-start} ex-1\n:class: dropdown\n```\n\nSECRET answer.\n\n"
        "```{solution-end}\n```"
    ),
    "gated in one cell, colon fences": (
        ":::{solution-start} ex-1\n:class: dropdown\n:::\nSECRET answer.\n"
        ":::{solution-end}\n:::"
    ),
}


@pytest.mark.parametrize("form", list(INLINE_FORMS), ids=list(INLINE_FORMS))
def test_a_solution_inside_a_markdown_cell_goes_and_the_rest_stays(form):
    notebook = _notebook(
        "# Title",
        "code: setup()",
        f"Intro.\n\n{EXERCISE}\n\nBefore.\n\n{INLINE_FORMS[form]}\n\nAfter.\n",
        "code: answer()",
    )
    original = copy.deepcopy(notebook)
    student = student_version(notebook)
    text = _text(student)
    assert SECRET not in text
    assert not SOLUTION_DIRECTIVE.search(text)
    assert EXERCISE in text and ":label: ex-1" in text
    for prose in ("# Title", "Intro.", "Before.", "After."):
        assert prose in text
    if "Between." in INLINE_FORMS[form]:
        assert "Between." in text
    if "admonition" in form:
        assert "````{admonition} Kept box\nBox text." in text and "\n````" in text
    assert [c["cell_type"] for c in student["cells"]] == [
        "markdown",
        "code",
        "markdown",
        "code",
    ]
    for cell in student["cells"][1::2]:
        assert cell["outputs"] == [] and cell["execution_count"] is None
    assert "widgets" not in student["metadata"]
    assert notebook == original  # the notebook itself is untouched


# Solutions spread over cells: from a {solution-start} cell to its {solution-end} cell.
GATED_FORMS = {
    "backticks": (
        "```{solution-start} ex-1\n:class: dropdown\n```",
        "```{solution-end}\n```",
    ),
    "colon fences": (
        ":::{solution-start} ex-1\n:class: dropdown\n:::",
        ":::{solution-end}\n:::",
    ),
    "tildes": ("~~~{solution-start} ex-1\n~~~", "~~~{solution-end}\n~~~"),
    "four backticks, yaml options": (
        "````{solution-start} ex-1\n---\nclass: dropdown\n---\n````",
        "````{solution-end}\n````",
    ),
    "mixed fences": ("```{solution-start} ex-1\n```", "::::{solution-end}\n::::"),
    "prose around the markers": (
        "Try it before you look.\n\n```{solution-start} ex-1\n```\n\nSECRET step.",
        "SECRET last step.\n\n```{solution-end}\n```\n\nAfter the solution.",
    ),
}


@pytest.mark.parametrize("form", list(GATED_FORMS), ids=list(GATED_FORMS))
def test_a_solution_spanning_cells_goes_and_the_rest_stays(form):
    start, end = GATED_FORMS[form]
    notebook = _notebook(
        "# Title",
        f"{EXERCISE}\n\nBefore.",
        "code: def f():\n    raise NotImplementedError",
        start,
        "SECRET prose, with a fence:\n\n```{math}\n\\mathrm{SECRET}\n```\n\n"
        ":::{note}\nSECRET note\n:::",
        "code: def f():\n    return 'SECRET'",
        end,
        "code: check(f)",
        "Next section.",
    )
    student = student_version(notebook)
    text = _text(student)
    assert SECRET not in text and not SOLUTION_DIRECTIVE.search(text)
    assert EXERCISE in text and "Before." in text and "Next section." in text
    codes = [c for c in student["cells"] if c["cell_type"] == "code"]
    assert [c["source"] for c in codes] == [
        "def f():\n    raise NotImplementedError",
        "check(f)",
    ]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in codes)
    if form == "prose around the markers":
        assert "Try it before you look." in text and "After the solution." in text
    else:
        assert len(student["cells"]) == 5


def test_exercise_directives_of_every_kind_stay():
    exercises = [
        EXERCISE,
        ":::{exercise} Colon\n:label: ex-2\nWork.\n:::",
        "````{exercise} Long\n:label: ex-3\n```python\nf()\n```\n````",
        "```{exercise-start} Gated\n:label: ex-4\n```",
        "Gated exercise text.",
        "code: def g(): ...",
        "```{exercise-end}\n```",
    ]
    notebook = _notebook(*exercises)
    student = student_version(notebook)
    kept = [c["source"] for c in student["cells"]]
    assert kept[:5] == [e + "\n" for e in exercises[:5]]
    assert kept[5] == "def g(): ..."
    assert kept[6] == exercises[6] + "\n"


def test_a_fenced_example_of_a_solution_is_text_not_a_solution():
    example = "````markdown\n```{solution} ex-1\nThis is how to write one.\n```\n````"
    student = student_version(_notebook(f"How to write a solution:\n\n{example}"))
    assert example in _text(student)


def test_a_cell_holding_only_a_solution_is_dropped_and_an_empty_one_kept():
    notebook = _notebook(EXERCISE, ":::{solution} ex-1\nSECRET\n:::", "", "End.")
    student = student_version(notebook)
    assert [c["source"] for c in student["cells"]] == [EXERCISE + "\n", "\n", "End.\n"]


ERRORS = {
    "unclosed backticks": (
        [EXERCISE, "Intro.\n\n```{solution} ex-1\nSECRET", "After."],
        r"cell 1, line 3: the \{solution\} block is never closed",
    ),
    "unclosed colon fence": (
        [EXERCISE, ":::{solution} ex-1\nSECRET\n"],
        r"cell 1, line 1: the \{solution\} block is never closed",
    ),
    "closed by a shorter fence": (
        ["````{solution} ex-1\nSECRET\n```"],
        r"cell 0, line 1: the \{solution\} block is never closed",
    ),
    "closed by another character": (
        [":::{solution} ex-1\nSECRET\n```"],
        r"cell 0, line 1: .*never closed",
    ),
    "closing fence with an info string": (
        ["```{solution} ex-1\nSECRET\n``` python"],
        r"cell 0, line 1: .*never closed",
    ),
    "unclosed solution-start block": (
        ["```{solution-start} ex-1\n:class: dropdown\n"],
        r"cell 0, line 1: the \{solution-start\} block is never closed",
    ),
    "start without end": (
        [EXERCISE, "```{solution-start} ex-1\n```", "code: f()", "SECRET"],
        r"cell 1: a \{solution-start\} cell has no matching \{solution-end\}",
    ),
    "end without start": (
        [EXERCISE, "Text.", "```{solution-end}\n```"],
        r"cell 2, line 1: a \{solution-end\} with no \{solution-start\}",
    ),
    "colon end without start": (
        ["Text.\n\n:::{solution-end}\n:::"],
        r"cell 0, line 3: a \{solution-end\} with no \{solution-start\}",
    ),
    "start inside an open span": (
        ["```{solution-start} ex-1\n```", "SECRET", "```{solution-start} ex-2\n```"],
        r"cell 2, line 1: a \{solution-start\} inside the solution opened in cell 0",
    ),
    "start inside a directive": (
        ["````{note}\n```{solution-start} ex-1\n```\n````"],
        r"cell 0, line 2: a \{solution-start\} inside another directive",
    ),
    "in a list item": (
        ["1. Step:\n\n    ```{solution} ex-1\n    SECRET\n    ```"],
        r"cell 0, line 3: a solution directive the student copy cannot remove",
    ),
    "in a block quote": (
        ["> ```{solution} ex-1\n> SECRET\n> ```"],
        r"cell 0, line 1: a solution directive the student copy cannot remove",
    ),
    "in reStructuredText": (
        ["```{eval-rst}\n.. solution:: ex-1\n\n   SECRET\n```"],
        r"cell 0, line 2: a solution directive the student copy cannot remove",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS), ids=list(ERRORS))
def test_a_solution_that_cannot_be_delimited_is_refused_naming_the_cell(case):
    cells, message = ERRORS[case]
    with pytest.raises(ValueError, match=message):
        student_version(_notebook(*cells))


def test_the_command_names_the_notebook_and_cell_and_fails(tmp_path, capsys):
    path = tmp_path / "chapter.ipynb"
    notebook = _notebook(EXERCISE, ":::{solution} ex-1\nSECRET")
    path.write_text(json.dumps(notebook), encoding="utf-8")
    out = tmp_path / "student"
    assert main(["student", str(path), "--out", str(out)]) == 1
    assert f"{path}: cell 1, line 1" in capsys.readouterr().err
    assert not (out / "chapter.ipynb").exists()


def test_the_command_writes_a_student_copy(tmp_path):
    path = tmp_path / "chapter.ipynb"
    notebook = _notebook(EXERCISE, ":::{solution} ex-1\nSECRET\n:::", "code: f()")
    path.write_text(json.dumps(notebook), encoding="utf-8")
    assert main(["student", str(path), "--out", str(tmp_path / "student")]) == 0
    written = json.loads((tmp_path / "student" / "chapter.ipynb").read_text("utf-8"))
    assert written == student_version(notebook)


def _labels(text: str, directive: str) -> list[str]:
    """The labels of the ``{exercise}``-like directives in ``text``: the ``:label:`` of
    an exercise, the argument of a solution."""
    if directive == "solution":
        pattern = r"^(?:`{3,}|~{3,}|:{3,})\{solution(?:-start)?\}[ \t]+(\S+)"
        return re.findall(pattern, text, re.MULTILINE)
    block = r"^(?:`{3,}|~{3,}|:{3,})\{exercise(?:-start)?\}[^\n]*\n(?:[^\n]*\n)*?"
    return re.findall(block + r":label:[ \t]+(\S+)", text, re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_books_student_copies_keep_every_exercise_and_no_solution(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    original = _text(notebook)
    exercises, solutions = _labels(original, "exercise"), _labels(original, "solution")
    assert len(exercises) >= 3 and solutions and set(solutions) <= set(exercises)
    student = student_version(notebook)
    text = _text(student)
    assert not SOLUTION_DIRECTIVE.search(text)
    assert _labels(text, "exercise") == exercises
    for label in exercises:
        assert f":label: {label}" in text
    # the cells of each {solution-start} ... {solution-end} span are gone
    start, end = (
        re.compile(rf"^(?:`{{3,}}|:{{3,}})\{{solution-{name}\}}", re.MULTILINE)
        for name in ("start", "end")
    )
    inside, hidden = False, set()
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        inside = inside or bool(start.search(source))
        if inside and cell["cell_type"] == "code" and source.strip():
            hidden.add(source)
        if end.search(source):
            inside = False
    kept_code = {"".join(c["source"]) for c in student["cells"]}
    assert not hidden & kept_code
    assert all(
        c["outputs"] == [] and c["execution_count"] is None
        for c in student["cells"]
        if c["cell_type"] == "code"
    )
