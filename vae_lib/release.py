"""The chapters as an nbgrader course, for instructors (``make release``).

``python -m vae_lib.release book/*.ipynb --out _build/release`` writes an nbgrader
course folder: ``nbgrader_config.py``, ``source/chNN_name/NN_name.ipynb`` per chapter
(the instructor's version, with solutions and hidden tests) and, from nbgrader's own
``generate_assignment``, ``release/chNN_name/NN_name.ipynb`` (what students get) and
``gradebook.db``. Nothing is executed; outputs are cleared.

How a chapter's exercises become graded cells (the exercise labels are the grade IDs):

* Every solution is removed, as in ``make student``
  (:func:`vae_lib.notebooks.student_version`); the ``{exercise}`` directive becomes
  plain Markdown (Jupyter does not render MyST directives) and its cell is locked.
* A **code exercise** (a starter cell tagged ``exercise-starter``, the reference
  definition in a solution cell tagged ``exercise-solution``, a check cell tagged
  ``exercise-check`` after the solution) becomes: the starter as an autograded answer
  cell (grade ID = the label) whose function body is the reference's, between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``, so that the release shows the
  signature and ``raise NotImplementedError()``; the check cell, locked, as the
  student's own check (it prints "Correct" or "Not yet" and never raises); and after
  it a locked autograder-tests cell (``<label>-tests``) whose hidden tests are
  ``assert checks.check_x(x)``. The checkers draw fresh random inputs on every call,
  so nothing can be fitted to the hidden tests.
* A **written answer** cell (``<label>-answer``, Markdown, graded by hand) follows
  every exercise with no autograded part, and every code exercise whose solution has
  prose (the explanation the exercise asks for): its source version holds the answer
  key (the solution's prose and code, in order) and a rubric, which the release
  replaces by "YOUR ANSWER HERE". A code exercise whose solution is code only gets
  none. Where the solution has code beyond the checked function (an experiment to
  run), an ungraded code cell for the student's work comes first.

Points: **2 per autograded test** (a code exercise's hidden tests), **2 per written
answer** of an exercise that has no autograded part, **1 per written answer** of a code
exercise (its explanation). So each exercise is worth 2 or 3 points.

Grading: copy ``_build/release`` to a course folder, collect the submissions into
``submitted/<student>/chNN_name/`` and run ``VAE_BOOK_MODE=quick nbgrader autograde
chNN_name`` there (quick mode: each chapter in seconds to a minute on a CPU); the
written answers then wait for a person in nbgrader's formgrader. A submission whose
check cells or tests were edited is graded with the source's cells (nbgrader restores
locked and test cells).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .notebooks import _block_end, _Fence, _lines, student_version

COURSE_ID = "vae-hands-on"
AUTOGRADED_POINTS = 2  # a code exercise's hidden tests
WRITTEN_POINTS = 2  # the written answer of an exercise with no autograded part
WRITTEN_POINTS_WITH_CODE = 1  # the written answer of a code exercise
STARTER_TAG, SOLUTION_TAG, CHECK_TAG = (
    "exercise-starter",
    "exercise-solution",
    "exercise-check",
)
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_MARK = "vae_release"  # cell metadata carrying a cell's role through student_version
_OPTION = re.compile(r":([\w-]+):[ \t]*(.*)")
_CHAPTER = re.compile(r"(\d+)_(\w+)")

NBGRADER_CONFIG = f'''\
# nbgrader configuration of the course written by `make release` (vae_lib.release).
# Autograde in quick mode, so that each chapter runs in seconds to a minute on a CPU:
#     VAE_BOOK_MODE=quick nbgrader autograde chNN_name
import os

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "{COURSE_ID}"
# this folder, wherever it is copied, whatever a user-wide nbgrader_config.py says
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(
    c.CourseDirectory.root, "gradebook.db"
)
c.ClearSolutions.code_stub = {{
    "python": "# YOUR CODE HERE\\nraise NotImplementedError()",
}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.Execute.timeout = 1800  # seconds per cell; quick mode needs far less
'''


class ReleaseError(ValueError):
    """A chapter's exercise markup the release cannot turn into graded cells; the
    message names the notebook cell and the exercise label."""


@dataclass
class Exercise:
    """One ``{exercise}`` of a chapter and what the release needs to grade it.

    Cell numbers count from 0 over all cells of the book notebook."""

    label: str
    title: str
    cell: int
    solution_cells: list[int] = field(default_factory=list)
    key: str = ""  # the whole solution, prose and code in order (Markdown)
    prose: str = ""  # the solution's prose alone
    key_code: list[str] = field(default_factory=list)  # the solution's code cells
    fenced: list[str] = field(default_factory=list)  # code blocks in a {solution}
    starter: int | None = None
    check: int | None = None
    function: str | None = None  # the function the student writes
    checkers: list[str] = field(default_factory=list)  # vae_lib.checks.check_* names
    reference: str | None = None  # the reference definition's body

    @property
    def autograded(self) -> bool:
        return self.check is not None

    @property
    def written(self) -> bool:
        """Whether it gets a written answer cell: an exercise with no autograded part
        always, a code exercise when its solution has prose (an explanation)."""
        return not self.autograded or bool(self.prose.strip())

    @property
    def extra_code(self) -> bool:
        """Whether the solution has code beyond the checked function's definition."""
        if not self.autograded:
            return bool(self.key_code)
        return any(_without_function(c, self.function) for c in self.key_code)

    @property
    def written_points(self) -> int:
        return WRITTEN_POINTS_WITH_CODE if self.autograded else WRITTEN_POINTS

    @property
    def points(self) -> int:
        return AUTOGRADED_POINTS * self.autograded + self.written_points * self.written

    def grade_ids(self) -> list[str]:
        """The grade IDs of this exercise's graded cells."""
        ids = [self.label, f"{self.label}-tests"] if self.autograded else []
        return ids + ([f"{self.label}-answer"] if self.written else [])


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _parse(code: str, where: str) -> ast.Module:
    """``code`` parsed, with IPython magics and shell lines blanked (lines kept)."""
    plain = "\n".join(
        "#" + line if line.lstrip().startswith(("%", "!")) else line
        for line in code.split("\n")
    )
    try:
        return ast.parse(plain)
    except SyntaxError as error:
        raise ReleaseError(f"{where}: not valid Python ({error})") from error


def _function(tree: ast.Module, name: str | None) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _without_function(code: str, name: str | None) -> str:
    """``code`` without the top-level definition of ``name``, stripped."""
    tree = _parse(code, "solution code")
    lines = code.split("\n")
    node = _function(tree, name)
    if node is None:
        return code.strip()
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    assert node.end_lineno is not None
    return "\n".join(lines[: first - 1] + lines[node.end_lineno :]).strip()


@dataclass
class _Block:
    """A fenced directive of a Markdown cell: its name, argument, options, body lines
    and where it starts and ends (line indices)."""

    name: str
    argument: str
    options: dict[str, str]
    body: list[str]
    start: int
    end: int


def _directives(lines: list[str]) -> list[_Block]:
    """The fenced directives of a Markdown cell, nested ones too, in order."""
    blocks: list[_Block] = []
    index = 0
    while index < len(lines):
        fence = _Fence.of(lines[index])
        if fence is None:
            index += 1
            continue
        end = _block_end(lines, index, len(lines), fence)
        if end is None:
            end = len(lines) - 1
        closed = _Fence.of(lines[end]) is not None and end > index
        body = lines[index + 1 : end if closed else end + 1]
        if fence.directive is not None:
            argument = fence.info[len(fence.directive) + 2 :].strip()
            options: dict[str, str] = {}
            while body and (option := _OPTION.fullmatch(body[0].rstrip("\r\n"))):
                options[option.group(1)] = option.group(2).strip()
                body = body[1:]
            blocks.append(_Block(fence.directive, argument, options, body, index, end))
            if not fence.literal:
                inner = _directives(body)
                offset = index + 1 + len(options)
                for block in inner:
                    block.start, block.end = block.start + offset, block.end + offset
                blocks += inner
        index = end + 1
    return blocks


_PYTHON = ("python", "python3", "ipython", "ipython3", "py")


def _fenced_code(lines: list[str]) -> list[str]:
    """The Python code blocks among ``lines`` (plain fences or code directives)."""
    found = []
    index = 0
    while index < len(lines):
        fence = _Fence.of(lines[index])
        if fence is None:
            index += 1
            continue
        end = _block_end(lines, index, len(lines), fence) or len(lines)
        words = fence.info.split()
        language = words[1] if fence.directive and len(words) > 1 else fence.info
        directive = fence.directive in (None, "code-block", "code", "code-cell")
        if directive and language.strip().lower() in _PYTHON:
            body = lines[index + 1 : end]
            while body and _OPTION.fullmatch(body[0].rstrip("\r\n")):
                body = body[1:]
            found.append("".join(body))
        elif fence.directive is not None and not fence.literal:
            found += _fenced_code(lines[index + 1 : end])
        index = end + 1
    return found


def _text(lines: list[str]) -> str:
    return "".join(lines).strip()


def find_exercises(notebook: dict) -> list[Exercise]:
    """The exercises of a book notebook with their solutions, starters and checks.

    Raises ReleaseError for an exercise without a label or without a solution, a
    solution of no exercise, a label used twice, a starter or check cell that belongs
    to no exercise or lacks its partner, and a code cell outside the solutions that
    calls a checker without the ``exercise-check`` tag (it would not be graded)."""
    cells = notebook["cells"]
    exercises: dict[str, Exercise] = {}
    order: list[tuple[int, str]] = []  # (cell, label) of each exercise
    span: tuple[str, int] | None = None  # an open {solution-start}: label, cell
    span_key: list[str] = []
    for index, cell in enumerate(cells):
        where = f"cell {index}"
        if cell["cell_type"] != "markdown":
            if span is not None:
                exercises[span[0]].solution_cells.append(index)
                if cell["cell_type"] == "code" and _source(cell).strip():
                    code = _source(cell).strip()
                    exercises[span[0]].key_code.append(code)
                    span_key.append(f"```python\n{code}\n```")
            continue
        lines = _lines(_source(cell))
        position = 0  # where the prose of an open span resumes in this cell
        for block in _directives(lines):
            if block.name in ("exercise", "exercise-start"):
                label = block.options.get("label")
                if block.name == "exercise-start" or not label:
                    raise ReleaseError(
                        f"{where}: an {{{block.name}}} "
                        + ("without a :label:" if not label else "(gated exercises)")
                        + " cannot be graded; use {exercise} with :label: ex-chN-name"
                    )
                if label in exercises:
                    raise ReleaseError(f"{where}: the label {label} is used twice")
                exercises[label] = Exercise(label, block.argument, index)
                order.append((index, label))
            elif block.name == "solution":
                exercise = _solved(exercises, block.argument, where)
                exercise.key = exercise.prose = _text(block.body)
                exercise.fenced = _fenced_code(block.body)
                for code in exercise.fenced:
                    exercise.prose = exercise.prose.replace(code.strip(), "")
                exercise.solution_cells.append(index)
            elif block.name == "solution-start":
                exercise = _solved(exercises, block.argument, where)
                exercise.solution_cells.append(index)
                span, span_key, position = (block.argument, index), [], block.end + 1
            elif block.name == "solution-end" and span is not None:
                span_key.append(_text(lines[position : block.start]))
                exercise = exercises[span[0]]
                exercise.key = "\n\n".join(p for p in span_key if p)
                exercise.prose = "\n\n".join(
                    p for p in span_key if p and not p.startswith("```python\n")
                )
                exercises[span[0]].solution_cells.append(index)
                span = None
        if span is not None:
            if span[1] != index:
                exercises[span[0]].solution_cells.append(index)
            span_key.append(_text(lines[position:]))
    for label, exercise in exercises.items():
        if not exercise.solution_cells:
            raise ReleaseError(
                f"cell {exercise.cell}: exercise {label} has no solution: add a "
                f"{{solution}} {label} block or a {{solution-start}} {label} ... "
                "{solution-end} span (its prose is the answer key)"
            )
    _attach_code(cells, exercises, order)
    return [exercises[label] for _, label in order]


def _solved(exercises: dict[str, Exercise], label: str, where: str) -> Exercise:
    exercise = exercises.get(label)
    if exercise is None:
        raise ReleaseError(
            f"{where}: a solution of {label!r}, which no earlier exercise has as label"
        )
    if exercise.solution_cells:
        raise ReleaseError(f"{where}: a second solution of {label}")
    return exercise


def _check_calls(tree: ast.Module) -> list[tuple[str, str]]:
    """The (checker, function) pairs a check cell tests: ``checks.attempt(
    checks.check_x, fn)`` or ``checks.check_x(fn)``."""
    pairs = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        args = node.args
        if node.func.attr == "attempt" and len(args) == 2:
            checker, answer = args
        elif node.func.attr.startswith("check_") and len(args) == 1:
            checker, answer = node.func, args[0]
        else:
            continue
        if (
            isinstance(checker, ast.Attribute)
            and checker.attr.startswith("check_")
            and isinstance(answer, ast.Name)
        ):
            pairs.append((checker.attr, answer.id))
    return pairs


def _attach_code(
    cells: list[dict], exercises: dict[str, Exercise], order: list[tuple[int, str]]
) -> None:
    """Find each exercise's starter, check and reference definition."""
    in_solution = {i for e in exercises.values() for i in e.solution_cells}
    owner: str | None = None  # the exercise the cells since the last exercise follow
    starts = dict(order)
    for index, cell in enumerate(cells):
        owner = starts.get(index, owner)
        if cell["cell_type"] != "code" or index in in_solution:
            continue
        where, tags = f"cell {index}", _tags(cell)
        code = _source(cell)
        if STARTER_TAG in tags or CHECK_TAG in tags:
            if owner is None:
                raise ReleaseError(f"{where}: tagged {tags} but follows no exercise")
            exercise = exercises[owner]
            if STARTER_TAG in tags:
                _starter(exercise, index, code, where)
            if CHECK_TAG in tags:
                _check(exercise, index, code, where)
        elif _check_calls(_parse(code, where)):
            raise ReleaseError(
                f"{where}: calls a vae_lib.checks checker but is not tagged "
                f"{CHECK_TAG!r}, so the release would not grade it"
            )
    for label, exercise in exercises.items():
        if exercise.starter is not None and exercise.check is None:
            raise ReleaseError(
                f"cell {exercise.starter}: exercise {label} has a starter but no "
                f"check cell tagged {CHECK_TAG!r} after its solution"
            )
        if exercise.check is not None:
            _reference(cells, exercise)


def _starter(exercise: Exercise, index: int, code: str, where: str) -> None:
    if exercise.starter is not None:
        raise ReleaseError(f"{where}: a second starter for {exercise.label}")
    exercise.starter = index


def _check(exercise: Exercise, index: int, code: str, where: str) -> None:
    if exercise.check is not None:
        raise ReleaseError(f"{where}: a second check cell for {exercise.label}")
    pairs = _check_calls(_parse(code, where))
    if not pairs:
        raise ReleaseError(
            f"{where}: the check cell of {exercise.label} calls no checker (expected "
            "checks.attempt(checks.check_x, x))"
        )
    functions = {function for _, function in pairs}
    if len(functions) != 1:
        raise ReleaseError(f"{where}: checks several functions {sorted(functions)}")
    if exercise.starter is None:
        raise ReleaseError(
            f"{where}: the check of {exercise.label} has no starter cell tagged "
            f"{STARTER_TAG!r} before it"
        )
    exercise.check, exercise.function = index, functions.pop()
    exercise.checkers = [checker for checker, _ in pairs]


def _reference(cells: list[dict], exercise: Exercise) -> None:
    """The reference definition of the checked function, from the solution cell
    tagged ``exercise-solution`` (or the first solution cell defining it)."""
    assert exercise.starter is not None
    name = exercise.function
    starter = _function(_parse(_source(cells[exercise.starter]), "starter"), name)
    if starter is None:
        raise ReleaseError(
            f"cell {exercise.starter}: the starter of {exercise.label} does not define "
            f"{name}(), which its check cell tests"
        )
    candidates = [
        i
        for i in exercise.solution_cells
        if cells[i]["cell_type"] == "code" and SOLUTION_TAG in _tags(cells[i])
    ] or [i for i in exercise.solution_cells if cells[i]["cell_type"] == "code"]
    codes = [(_source(cells[i]), f"cell {i}") for i in candidates]
    codes += [(code, f"a code block of {exercise.label}") for code in exercise.fenced]
    for code, where in codes:
        node = _function(_parse(code, where), name)
        if node is not None:
            exercise.reference = _body(code, node)
            return
    raise ReleaseError(
        f"exercise {exercise.label}: no solution cell (tagged {SOLUTION_TAG!r}) "
        f"defines {name}()"
    )


def _body(code: str, node: ast.FunctionDef) -> str:
    """The body of ``node`` without its docstring, dedented."""
    body = node.body
    if len(body) > 1 and _is_docstring(body[0]):
        body = body[1:]
    assert node.end_lineno is not None
    if body[0].lineno == node.lineno:
        raise ReleaseError(
            f"{node.name}(): write the reference's body on its own lines, not on the "
            "line of its def"
        )
    lines = code.split("\n")[body[0].lineno - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


# --- the source notebook ------------------------------------------------------------


def _metadata(
    grade_id: str, *, solution: bool, grade: bool, points: int = 0, locked: bool
) -> dict:
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def _cell(kind: str, source: str, nbgrader: dict | None = None) -> dict:
    cell: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": source}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = nbgrader
    if kind == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def _plain_exercise(text: str) -> str:
    """``text`` with each ``{exercise}`` directive written as plain Markdown."""
    lines = _lines(text)
    out, index = [], 0
    for block in _directives(lines):
        if block.name != "exercise" or block.start < index:
            continue
        title = f": {block.argument}" if block.argument else ""
        label = block.options.get("label", "")
        out += lines[index : block.start]
        out.append(f"**Exercise {label}{title}**\n\n")
        body = list(block.body)
        while body and not body[0].strip():
            body.pop(0)
        out += body
        if body and not body[-1].endswith("\n"):
            out.append("\n")
        index = block.end + 1
    return "".join(out + lines[index:]).rstrip() + "\n"


def _answer_code(starter: str, exercise: Exercise) -> str:
    """The starter with its function's body replaced by the reference body between
    the solution markers."""
    node = _function(_parse(starter, "starter"), exercise.function)
    assert node is not None and node.end_lineno is not None and exercise.reference
    body = node.body
    keep = 1 if len(body) > 1 and _is_docstring(body[0]) else 0
    lines = starter.split("\n")
    start = body[keep].lineno - 1 if keep < len(body) else node.end_lineno
    if body[0].lineno == node.lineno:
        raise ReleaseError(
            f"{node.name}(): write the starter's body on its own lines, not on the "
            "line of its def"
        )
    indent = " " * body[0].col_offset
    solution = textwrap.indent(exercise.reference, indent)
    inner = [indent + BEGIN_SOLUTION, solution, indent + END_SOLUTION]
    return "\n".join(lines[:start] + inner + lines[node.end_lineno :])


def _tests_code(exercise: Exercise) -> str:
    asserts = [f"assert checks.{c}({exercise.function})" for c in exercise.checkers]
    return "\n".join(
        [
            (
                f"# Autograder tests of {exercise.function}() ({exercise.label}, "
                f"{AUTOGRADED_POINTS} points): {', '.join(exercise.checkers)} on "
                "fresh random inputs."
            ),
            "from vae_lib import checks",
            "",
            BEGIN_HIDDEN,
            *asserts,
            END_HIDDEN,
        ]
    )


def _answer_markdown(exercise: Exercise) -> str:
    points = exercise.written_points
    unit = "point" if points == 1 else "points"
    what = (
        "the explanation the exercise asks for (the function itself is graded by "
        "the autograder tests)"
        if exercise.autograded
        else "the answer"
    )
    rubric = (
        f"**Rubric ({points} {unit}).** Full marks: {what} reaches the key's "
        "conclusions (numbers within what another seed or run would give), with "
        "the reason the key gives or another correct one. "
        + (
            "Half: the right conclusion with a missing or wrong reason, or a right "
            "reason with a slip in the result. "
            if points > 1
            else ""
        )
        + "None: a wrong conclusion or no answer."
    )
    return (
        f"**Your answer to {exercise.label}** ({points} {unit}, graded by hand; "
        "write it in this cell, with your working in code cells above)\n\n"
        f"{BEGIN_SOLUTION}\n\n**Answer key.**\n\n{exercise.key}\n\n{rubric}\n\n"
        f"{END_SOLUTION}\n"
    )


def assignment_name(notebook: Path) -> str:
    """``book/03_reparameterization.ipynb`` -> ``ch03_reparameterization``."""
    found = _CHAPTER.fullmatch(Path(notebook).stem)
    if not found:
        raise ReleaseError(f"{notebook}: not a chapter notebook named NN_name.ipynb")
    return f"ch{found.group(1)}_{found.group(2)}"


def source_version(notebook: dict) -> dict:
    """The nbgrader source (instructor) version of a book notebook: solutions removed,
    each exercise turned into graded cells (see the module docstring), outputs cleared.
    Raises ReleaseError, naming the cell, for markup it cannot grade."""
    marked = _one_exercise_per_cell(notebook)
    exercises = find_exercises(marked)
    roles: dict[int, tuple[str, Exercise]] = {}
    for exercise in exercises:
        roles[exercise.cell] = ("exercise", exercise)
        if exercise.starter is not None:
            roles[exercise.starter] = ("starter", exercise)
        if exercise.check is not None:
            roles[exercise.check] = ("check", exercise)
    for index, (role, exercise) in roles.items():
        marked["cells"][index].setdefault("metadata", {})[_MARK] = [
            role,
            exercise.label,
        ]
    try:
        student = student_version(marked)
    except ValueError as error:
        raise ReleaseError(str(error)) from error
    by_label = {e.label: e for e in exercises}
    cells: list[dict] = []
    for cell in student["cells"]:
        cell = copy.deepcopy(cell)
        metadata = cell.setdefault("metadata", {})
        mark = metadata.pop(_MARK, None)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            metadata.pop("execution", None)
        if mark is None:
            cells.append(cell)
            continue
        role, exercise = mark[0], by_label[mark[1]]
        extra: list[dict] = []
        working = _cell(
            "code",
            f"# Your work for {exercise.label} (not graded itself; report it in your "
            "answer)\n",
        )
        if role == "exercise":
            cell["source"] = _plain_exercise(_source(cell))
            metadata["nbgrader"] = _metadata(
                f"{exercise.label}-text", solution=False, grade=False, locked=True
            )
            if exercise.starter is None:
                extra += [working] if exercise.extra_code else []
                extra += [_answer_cell(exercise)] if exercise.written else []
        elif role == "starter":
            cell["source"] = _answer_code(_source(cell), exercise)
            metadata["nbgrader"] = _metadata(
                exercise.label, solution=True, grade=False, locked=False
            )
            extra += [working] if exercise.extra_code else []
        else:  # the check
            metadata["nbgrader"] = _metadata(
                f"{exercise.label}-check", solution=False, grade=False, locked=True
            )
            tests = _metadata(
                f"{exercise.label}-tests",
                solution=False,
                grade=True,
                points=AUTOGRADED_POINTS,
                locked=True,
            )
            extra.append(_cell("code", _tests_code(exercise), tests))
            extra += [_answer_cell(exercise)] if exercise.written else []
        cells += [cell] + extra
    total = sum(e.points for e in exercises)
    auto = sum(AUTOGRADED_POINTS for e in exercises if e.autograded)
    header = _cell(
        "markdown",
        f"**Assignment.** {len(exercises)} exercises, {total} points: {auto} graded "
        f"automatically, {total - auto} by hand. Write each function in the cell that "
        "says `YOUR CODE HERE` (its check cell below tells you whether it is right; "
        "the grader runs further hidden tests on fresh inputs) and each written answer "
        "in the cell that says `YOUR ANSWER HERE`. Do not rename the functions. "
        "Before you hand in, restart the kernel and run all cells; the grader runs "
        "the notebook in quick mode (`VAE_BOOK_MODE=quick`).\n",
        _metadata("assignment-header", solution=False, grade=False, locked=True),
    )
    cells.insert(min(1, len(cells)), header)
    metadata = {k: v for k, v in student.get("metadata", {}).items() if k != "jupytext"}
    if (student.get("nbformat"), student.get("nbformat_minor", 0)) >= (4, 5):
        _give_ids(cells)
    return {**student, "cells": cells, "metadata": metadata}


def _give_ids(cells: list[dict]) -> None:
    """Give each new cell a unique id (nbformat 4.5): its grade ID where it has one."""
    taken = {cell["id"] for cell in cells if "id" in cell}
    for index, cell in enumerate(cells):
        if "id" in cell:
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        name = re.sub(r"[^A-Za-z0-9_-]", "-", grade_id or f"cell-{index}")[:56]
        candidate, suffix = name, 0
        while candidate in taken:
            suffix += 1
            candidate = f"{name}-{suffix}"
        cell["id"] = candidate
        taken.add(candidate)


def _one_exercise_per_cell(notebook: dict) -> dict:
    """A copy of ``notebook`` with each Markdown cell that holds several exercises cut
    before each exercise after the first, so that each exercise's graded cells can
    follow it."""
    cells = []
    for cell in notebook["cells"]:
        lines = _lines(_source(cell)) if cell["cell_type"] == "markdown" else []
        blocks = _directives(lines)
        cuts = [
            block.start
            for block in blocks
            if block.name == "exercise"
            and not any(o.start < block.start <= o.end for o in blocks)
        ][1:]
        if not cuts:
            cells.append(copy.deepcopy(cell))
            continue
        for number, (start, stop) in enumerate(zip([0, *cuts], [*cuts, len(lines)])):
            piece = copy.deepcopy(cell)
            piece["source"] = "".join(lines[start:stop]).strip() + "\n"
            if number:
                piece.pop("id", None)
            cells.append(piece)
    return {**notebook, "cells": cells}


def _answer_cell(exercise: Exercise) -> dict:
    meta = _metadata(
        f"{exercise.label}-answer",
        solution=True,
        grade=True,
        points=exercise.written_points,
        locked=False,
    )
    return _cell("markdown", _answer_markdown(exercise), meta)


def grade_ids(notebook: dict) -> list[str]:
    """The grade IDs of a notebook's answer and graded cells (nbgrader ``solution``
    or ``grade``), in order."""
    ids = []
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") or meta.get("grade"):
            ids.append(meta["grade_id"])
    return ids


# --- the course ---------------------------------------------------------------------


def run_nbgrader(
    course: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 1800
) -> str:
    """Run ``nbgrader ARGS`` in the course folder (no server, no network); return its
    log. Raises ReleaseError with the log's end if it fails."""
    command = [sys.executable, "-m", "nbgrader", *args]
    # nbgrader runs its environment's `alembic` command for the gradebook
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    result = subprocess.run(
        command,
        check=False,
        cwd=course,
        env={**os.environ, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    log = result.stdout + result.stderr
    if result.returncode:
        raise ReleaseError(
            f"nbgrader {' '.join(args)} failed in {course}:\n{log[-3000:]}"
        )
    return log


def _write_json(path: Path, notebook: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def build_course(notebooks: list[Path], out: Path, generate: bool = True) -> dict:
    """Write the nbgrader course for ``notebooks`` into ``out`` (replaced whole).

    Returns ``{assignment: [grade IDs]}``. With ``generate`` (the default), nbgrader's
    ``generate_assignment`` then writes ``release/`` and ``gradebook.db``. The course
    is built next to ``out`` and moved into place, so ``out`` is never half written."""
    out = Path(out)
    building = out.with_name(out.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    (building / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    grades = {}
    try:
        for path in notebooks:
            path = Path(path)
            name = assignment_name(path)
            try:
                book = json.loads(path.read_text(encoding="utf-8"))
                source = source_version(book)
            except ReleaseError as error:
                raise ReleaseError(f"{path}: {error}") from error
            _write_json(building / "source" / name / path.name, source)
            grades[name] = grade_ids(source)
        if generate:  # every assignment in one run: nbgrader starts once
            run_nbgrader(building, "generate_assignment", "*", "--force")
        shutil.rmtree(out, ignore_errors=True)
        building.rename(out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae_lib.release",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("_build/release"))
    parser.add_argument(
        "--no-generate",
        action="store_true",
        help="write source/ only, without nbgrader's generate_assignment",
    )
    args = parser.parse_args(argv)
    try:
        grades = build_course(args.notebooks, args.out, generate=not args.no_generate)
    except ReleaseError as error:
        print(error, file=sys.stderr)
        return 1
    for name, ids in grades.items():
        print(f"{args.out}/source/{name}: {len(ids)} graded cells: {', '.join(ids)}")
    print(f"{args.out}: nbgrader course {COURSE_ID!r} (release/ for the students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
