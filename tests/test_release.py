"""The nbgrader release (``make release``): exercises become graded cells with the
labels as grade IDs, the release holds no solution, and nbgrader's own
``generate_assignment`` and ``autograde`` accept it. A correct and a blank submission of
Chapter 3 are autograded in quick mode: every autograded point, and none."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from vae_lib import release
from vae_lib.notebooks import student_version
from vae_lib.release import (
    AUTOGRADED_POINTS,
    BEGIN_SOLUTION,
    END_SOLUTION,
    WRITTEN_POINTS,
    WRITTEN_POINTS_WITH_CODE,
    ReleaseError,
    build_course,
    find_exercises,
    grade_ids,
    run_nbgrader,
    source_version,
)

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
GRADED_CHAPTER = BOOK / "03_reparameterization.ipynb"
LABEL = re.compile(r"^:label:[ \t]*(ex-\S+)", re.MULTILINE)
SECRET = "SECRET"  # every solution below holds it, and nothing else does


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str, *tags: str) -> dict:
    output = {"output_type": "stream", "name": "stdout", "text": "printed"}
    return {
        "cell_type": "code",
        "metadata": {"tags": list(tags)} if tags else {},
        "source": text,
        "execution_count": 1,
        "outputs": [output],
    }


def _notebook(*cells: dict) -> dict:
    return {
        "cells": [_markdown("# Chapter 9: a toy"), *cells],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python"}
            | {"name": "python3"},
            "jupytext": {"formats": "ipynb,.myst.md:myst"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _exercise(label: str, text: str = "Do it. Why?") -> dict:
    return _markdown(
        f"```{{exercise}} Title of {label}\n:label: {label}\n\n{text}\n```"
    )


def _span(label: str, *cells: dict) -> list[dict]:
    start = _markdown(f"```{{solution-start}} {label}\n:class: dropdown\n```")
    return [start, *cells, _markdown("```{solution-end}\n```")]


STARTER = '''def correlated_sample(mu, covariance, eps):
    """Draws from N(mu, covariance)."""
    raise NotImplementedError("your code here")
'''
REFERENCE = """import torch


def correlated_sample(mu, covariance, eps):  # noqa: F811
    L = torch.linalg.cholesky(covariance)  # SECRET
    return mu + eps @ L.T


print(correlated_sample(torch.zeros(2), torch.eye(2), torch.ones(3, 2)))  # SECRET
"""
CHECK = (
    "from vae_lib import checks\n\n"
    "checks.attempt(checks.check_correlated_sample, correlated_sample)"
)


def _code_exercise(label: str = "ex-ch9-correlated", prose: str = "") -> list[dict]:
    solution = [_markdown(prose)] if prose else []
    return [
        _exercise(label, "Write `correlated_sample`."),
        _code(STARTER, "exercise-starter"),
        *_span(label, *solution, _code(REFERENCE, "exercise-solution")),
        _code(CHECK, "exercise-check", "nbval-check-output"),
    ]


def _written_exercise(label: str = "ex-ch9-think") -> list[dict]:
    solution = f"```{{solution}} {label}\n:class: dropdown\n\nBecause {SECRET}.\n```"
    return [_exercise(label), _markdown(solution)]


def _cells(notebook: dict) -> dict[str, dict]:
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: cell
        for cell in notebook["cells"]
        if "nbgrader" in cell.get("metadata", {})
    }


def _text(notebook: dict) -> str:
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in notebook["cells"]
    )


# --- the conversion, on small notebooks -------------------------------------------


def test_a_code_exercise_becomes_an_answer_cell_a_check_and_hidden_tests():
    source = source_version(_notebook(*_code_exercise()))
    cells = _cells(source)
    assert grade_ids(source) == ["ex-ch9-correlated", "ex-ch9-correlated-tests"]

    answer = cells["ex-ch9-correlated"]
    assert answer["metadata"]["nbgrader"] == {
        "grade": False,
        "grade_id": "ex-ch9-correlated",
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    # the starter's signature and docstring, the reference body between the markers
    assert answer["source"] == (
        'def correlated_sample(mu, covariance, eps):\n    """Draws from N(mu, '
        'covariance)."""\n    ### BEGIN SOLUTION\n    L = torch.linalg.cholesky('
        "covariance)  # SECRET\n    return mu + eps @ L.T\n    ### END SOLUTION\n"
    )
    check = cells["ex-ch9-correlated-check"]
    assert check["source"] == CHECK and check["metadata"]["nbgrader"]["locked"]
    assert check["outputs"] == [] and check["execution_count"] is None
    tests = cells["ex-ch9-correlated-tests"]
    assert tests["metadata"]["nbgrader"]["points"] == AUTOGRADED_POINTS
    assert tests["metadata"]["nbgrader"]["locked"] and tests["cell_type"] == "code"
    assert (
        "### BEGIN HIDDEN TESTS\n"
        "assert checks.check_correlated_sample(correlated_sample)\n"
        "### END HIDDEN TESTS"
    ) in tests["source"]
    # the order: exercise, answer, a cell for the extra work, the check, the tests
    order = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in source["cells"]]
    start = order.index("ex-ch9-correlated-text")
    assert order[start:] == [
        "ex-ch9-correlated-text",
        "ex-ch9-correlated",
        None,  # the solution printed a draw: room for the student's own work
        "ex-ch9-correlated-check",
        "ex-ch9-correlated-tests",
    ]
    # a code-only solution: no written answer
    assert not any(k.endswith("-answer") for k in cells)


def test_a_written_exercise_becomes_a_manually_graded_answer_with_a_key_and_rubric():
    source = source_version(_notebook(*_written_exercise()))
    assert grade_ids(source) == ["ex-ch9-think-answer"]
    answer = _cells(source)["ex-ch9-think-answer"]
    assert answer["cell_type"] == "markdown"
    meta = answer["metadata"]["nbgrader"]
    assert meta["solution"] and meta["grade"] and meta["points"] == WRITTEN_POINTS
    body = answer["source"]
    assert body.index(BEGIN_SOLUTION) < body.index(f"Because {SECRET}.")
    assert body.index("**Rubric (2 points).**") < body.index(END_SOLUTION)
    # the exercise reads as plain Markdown (Jupyter renders no MyST directive)
    text = _cells(source)["ex-ch9-think-text"]["source"]
    assert text == "**Exercise ex-ch9-think: Title of ex-ch9-think**\n\nDo it. Why?\n"


def test_a_code_exercise_with_prose_gets_a_smaller_written_answer_and_keeps_order():
    notebook = _notebook(
        *_code_exercise(prose=f"Cholesky, because {SECRET}."), *_written_exercise()
    )
    source = source_version(notebook)
    assert grade_ids(source) == [
        "ex-ch9-correlated",
        "ex-ch9-correlated-tests",
        "ex-ch9-correlated-answer",
        "ex-ch9-think-answer",
    ]
    cells = _cells(source)
    answer = cells["ex-ch9-correlated-answer"]
    assert answer["metadata"]["nbgrader"]["points"] == WRITTEN_POINTS_WITH_CODE
    # the key: the prose, then the solution's code, in the book's order
    key = answer["source"]
    assert key.index("Cholesky, because") < key.index("```python\nimport torch")
    exercises = find_exercises(notebook)
    assert [e.points for e in exercises] == [
        AUTOGRADED_POINTS + WRITTEN_POINTS_WITH_CODE,
        WRITTEN_POINTS,
    ]
    # the header states the totals
    assert "2 exercises, 5 points: 2 graded automatically, 3 by hand" in _text(source)


def test_the_source_keeps_no_book_solution_cell_output_or_jupytext_pairing():
    book = _notebook(*_code_exercise(prose="Prose."), *_written_exercise())
    source = source_version(book)
    assert "jupytext" not in source["metadata"]
    # the book's solutions are gone; the answer key is only in the graded answer cell
    answer = _cells(source).pop("ex-ch9-correlated-answer")
    outside = _text({"cells": [c for c in source["cells"] if c is not answer]})
    assert "{solution" not in outside and "noqa: F811" not in outside
    assert "{solution" not in answer["source"]
    for cell in source["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert book["cells"][2]["metadata"] == {"tags": ["exercise-starter"]}  # untouched
    nbformat.validate(nbformat.from_dict(source))


def test_a_reference_in_a_code_block_of_a_solution_directive_is_found():
    solution = (
        "````{solution} ex-ch9-correlated\nUse Cholesky.\n\n```python\n"
        + REFERENCE
        + "```\n````"
    )
    notebook = _notebook(
        _exercise("ex-ch9-correlated"),
        _code(STARTER, "exercise-starter"),
        _markdown(solution),
        _code(CHECK, "exercise-check"),
    )
    answer = _cells(source_version(notebook))["ex-ch9-correlated"]["source"]
    assert "    L = torch.linalg.cholesky(covariance)  # SECRET" in answer


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([_exercise("ex-ch9-lost")], "exercise ex-ch9-lost has no solution"),
        (
            [_exercise("ex-ch9-lost"), _code(STARTER, "exercise-starter")],
            "exercise ex-ch9-lost has no solution",
        ),
        (
            [_markdown("```{exercise} No label\n\nText.\n```")],
            "without a :label:",
        ),
        (
            [*_written_exercise("ex-ch9-a"), *_written_exercise("ex-ch9-a")],
            "the label ex-ch9-a is used twice",
        ),
        (
            [_markdown("```{solution} ex-ch9-nobody\nText.\n```")],
            "which no earlier exercise has as label",
        ),
        (
            _code_exercise()[:-1],  # no check cell
            "has a starter but no check cell",
        ),
        (
            [*_code_exercise()[:-1], _code(CHECK)],  # the check is not tagged
            "is not tagged 'exercise-check'",
        ),
        (
            [_code_exercise()[0], *_code_exercise()[2:]],  # no starter
            "has no starter cell",
        ),
        (
            [
                _code_exercise()[0],
                _code("def other(x):\n    return x\n", "exercise-starter"),
                *_code_exercise()[2:],
            ],
            "does not define correlated_sample()",
        ),
        (
            [
                *_code_exercise()[:2],
                *_span("ex-ch9-correlated", _code("print(1)", "exercise-solution")),
                _code(CHECK, "exercise-check"),
            ],
            "defines correlated_sample()",
        ),
        (
            [*_code_exercise()[:-1], _code("print(1)", "exercise-check")],
            "calls no checker",
        ),
        (
            [_code(CHECK, "exercise-check")],
            "follows no exercise",
        ),
    ],
    ids=[
        "no-solution",
        "starter-but-no-solution",
        "no-label",
        "duplicate-label",
        "solution-of-nothing",
        "no-check",
        "untagged-check",
        "no-starter",
        "starter-defines-another-function",
        "no-reference",
        "check-without-checker",
        "check-before-any-exercise",
    ],
)
def test_markup_the_release_cannot_grade_is_refused_with_a_clear_error(cells, message):
    with pytest.raises(ReleaseError, match=re.escape(message)):
        source_version(_notebook(*cells))


def test_an_unclosed_solution_is_refused_as_make_student_refuses_it():
    cells = [_exercise("ex-ch9-x"), _markdown("```{solution-start} ex-ch9-x\n```")]
    with pytest.raises(ReleaseError, match="no matching"):
        source_version(_notebook(*cells))


@pytest.mark.parametrize(
    ("name", "assignment"),
    [("03_reparameterization", "ch03_reparameterization"), ("10_x_y", "ch10_x_y")],
)
def test_assignment_names(name, assignment):
    assert release.assignment_name(Path(f"book/{name}.ipynb")) == assignment


def test_a_notebook_that_is_not_a_chapter_is_refused():
    with pytest.raises(ReleaseError, match="NN_name"):
        release.assignment_name(Path("intro.ipynb"))


# --- the whole book ---------------------------------------------------------------


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The course of all seven chapters, as `make release` builds it (no execution)."""
    out = tmp_path_factory.mktemp("release") / "course"
    start = time.perf_counter()
    build_course(NOTEBOOKS, out)
    seconds = time.perf_counter() - start
    print(f"release of {len(NOTEBOOKS)} chapters built in {seconds:.1f} s")
    return out


def _book_solutions(book: dict) -> set[str]:
    """Lines of the book's solutions (the answer keys and the reference code) that
    appear nowhere in the student copy: none may reach the release."""
    student = _text(student_version(book))
    lines = set()
    for exercise in find_exercises(book):
        for line in exercise.key.splitlines():
            line = line.strip()
            if len(line) >= 20 and line not in student:
                lines.add(line)
    return lines


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_book_has_seven_chapters_to_release():
    assert len(NOTEBOOKS) == 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_label_is_a_grade_id_and_the_release_holds_no_solution(
    course, path
):
    from nbgrader.preprocessors import CheckCellMetadata

    book = _read(path)
    name = release.assignment_name(path)
    source = _read(course / "source" / name / path.name)
    handed_out = _read(course / "release" / name / path.name)
    labels = LABEL.findall(_text(book))
    assert labels, f"{path.name} has no exercises"
    ids = grade_ids(source)
    assert ids == grade_ids(handed_out)
    assert len(ids) == len(set(ids))
    for label in labels:
        assert label in ids or f"{label}-answer" in ids, f"{label} is not graded"
    print(f"{name}: {', '.join(ids)}")

    # nbgrader's own metadata check and the notebook format, on both versions
    for notebook in (source, handed_out):
        node = nbformat.from_dict(notebook)
        nbformat.validate(node)
        CheckCellMetadata().preprocess(node, {})

    released = _text(handed_out)
    for marker in (BEGIN_SOLUTION, END_SOLUTION, "BEGIN HIDDEN TESTS", "{solution"):
        assert marker not in released
    leaked = [line for line in _book_solutions(book) if line in released]
    assert not leaked, f"solution text in the release of {path.name}: {leaked[:3]}"

    for cell in handed_out["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code":
            assert cell["outputs"] == []
        text = _text({"cells": [cell]})
        if meta.get("solution") and cell["cell_type"] == "code":
            assert text.rstrip().endswith("raise NotImplementedError()")
        elif meta.get("solution"):
            assert "YOUR ANSWER HERE" in text
        if meta.get("grade") and cell["cell_type"] == "code":
            assert meta["locked"] and "assert" not in text


def test_the_course_has_nbgrader_s_configuration_and_gradebook(course):
    assert (course / "gradebook.db").is_file()
    config = (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert 'course_id = "vae-hands-on"' in config
    names = sorted(p.name for p in (course / "release").iterdir())
    assert names == sorted(release.assignment_name(p) for p in NOTEBOOKS)


def _submission(source: dict, handed_out: dict) -> dict:
    """The release with every answer cell written as the source's solution."""
    answers = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in source["cells"]
        if c["metadata"].get("nbgrader", {}).get("solution")
    }
    notebook = copy.deepcopy(handed_out)
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            lines = answers[grade_id].split("\n")
            markers = (BEGIN_SOLUTION, END_SOLUTION)
            cell["source"] = "\n".join(x for x in lines if x.strip() not in markers)
    return notebook


def test_a_correct_submission_gets_every_autograded_point_and_a_blank_one_none(course):
    from nbgrader.api import Gradebook

    name = release.assignment_name(GRADED_CHAPTER)
    notebook = GRADED_CHAPTER.name
    source = _read(course / "source" / name / notebook)
    handed_out = _read(course / "release" / name / notebook)
    submissions = {"correct": _submission(source, handed_out), "blank": handed_out}
    for student, submitted in submissions.items():
        path = course / "submitted" / student / name / notebook
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(submitted), encoding="utf-8")
        start = time.perf_counter()
        run_nbgrader(
            course,
            "autograde",
            name,
            "--student",
            student,
            "--force",
            env={"VAE_BOOK_MODE": "quick", "OMP_NUM_THREADS": "1"},
            timeout=600,
        )
        seconds = time.perf_counter() - start
        print(f"autograded the {student} submission of {name} in {seconds:.1f} s")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = {
            student: gradebook.find_submission_notebook(
                GRADED_CHAPTER.stem, name, student
            )
            for student in submissions
        }
        tests = {
            student: [g for g in nb.grades if g.name.endswith("-tests")]
            for student, nb in graded.items()
        }
        answers = {
            student: [g for g in nb.grades if g.name.endswith("-answer")]
            for student, nb in graded.items()
        }
        assert tests["correct"] and answers["correct"]
        for grade in tests["correct"]:
            assert grade.auto_score == grade.max_score == AUTOGRADED_POINTS, grade.name
        for grade in tests["blank"]:
            assert grade.auto_score == 0, grade.name
        # written answers wait for a person; nbgrader scores an untouched one 0
        for grade in answers["correct"]:
            assert grade.needs_manual_grade and grade.auto_score is None, grade.name
        for grade in answers["blank"]:
            assert not grade.needs_manual_grade and grade.score == 0, grade.name
        autograded = sum(g.max_score for g in tests["correct"])
        assert graded["correct"].score == autograded
        assert graded["blank"].score == 0


def test_a_written_exercise_whose_key_is_code_only_still_gets_an_answer_cell():
    label = "ex-ch9-run"
    notebook = _notebook(
        _exercise(label, "Run it: how much does it add?"),
        *_span(label, _code(f"print('{SECRET}')")),
    )
    source = source_version(notebook)
    assert grade_ids(source) == [f"{label}-answer"]
    assert (
        f"```python\nprint('{SECRET}')\n```"
        in _cells(source)[f"{label}-answer"]["source"]
    )


def test_exercises_sharing_a_cell_each_get_their_own_graded_cells():
    first, second = _written_exercise("ex-ch9-a"), _written_exercise("ex-ch9-b")
    shared = "\n\n".join(c["source"] for c in [*first, *second])
    source = source_version(_notebook(_markdown("Intro.\n\n" + shared)))
    order = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in source["cells"]]
    assert order[-4:] == [
        "ex-ch9-a-text",
        "ex-ch9-a-answer",
        "ex-ch9-b-text",
        "ex-ch9-b-answer",
    ]
    assert _cells(source)["ex-ch9-a-text"]["source"].startswith("Intro.\n\n**Exercise")


def test_the_command_line_writes_the_source_and_fails_cleanly(tmp_path, capsys):
    book = tmp_path / "09_toy.ipynb"
    book.write_text(json.dumps(_notebook(*_written_exercise())), encoding="utf-8")
    out = tmp_path / "course"
    assert release.main([str(book), "--out", str(out), "--no-generate"]) == 0
    assert "ex-ch9-think-answer" in capsys.readouterr().out
    assert (out / "source" / "ch09_toy" / "09_toy.ipynb").is_file()
    assert (out / "nbgrader_config.py").is_file()

    book.write_text(json.dumps(_notebook(_exercise("ex-ch9-x"))), encoding="utf-8")
    assert release.main([str(book), "--out", str(out), "--no-generate"]) == 1
    assert "09_toy.ipynb: cell 1: exercise ex-ch9-x has no solution" in (
        capsys.readouterr().err
    )
    assert (out / "source" / "ch09_toy").is_dir()  # the old course is kept whole
    assert not (tmp_path / "course.building").exists()
