"""Run, check, pair and hand out the book's notebooks.

``python -m vae_lib.notebooks COMMAND NOTEBOOK ...``, where COMMAND is one of:

- ``execute``: run each notebook top to bottom in a fresh kernel (full mode unless
  ``$VAE_BOOK_MODE`` says otherwise) on the inputs of its text source, and store its
  outputs and widget state, replacing the file only when the run succeeded;
- ``check``: report stored notebooks that were not one clean run (execution counts not
  1..n, error outputs, machine-specific paths);
- ``sync`` / ``check-sync``: bring each notebook in line with its text source, or report
  the first cell where they differ (:mod:`vae_lib.text_sources`);
- ``student``: write copies without solutions and without outputs, for instructors to
  hand out (``make student``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from .files import atomic_path
from .runtime import book_mode
from .text_sources import SyncConflict, first_difference, sync

MACHINE_PATH = re.compile(r"(/tmp/|/root/|/home/\w|/work/|/Users/\w|[A-Za-z]:\\Users)")


def _output_text(output: dict) -> str:
    parts = [output.get("text", "")] if "text" in output else []
    parts += [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
    parts += [output.get("ename", ""), output.get("evalue", "")] + output.get(
        "traceback", []
    )
    return "\n".join("".join(p) if isinstance(p, list) else str(p) for p in parts)


def stored_problems(notebook: dict) -> list[str]:
    """What keeps a stored notebook from being one top-to-bottom run ([]: none)."""
    problems, counts = [], []
    for i, cell in enumerate(notebook.get("cells", [])):
        if (
            cell.get("cell_type") != "code"
            or not "".join(cell.get("source", "")).strip()
        ):
            continue
        if cell.get("execution_count") is None:
            problems.append(f"cell {i} was never executed")
        else:
            counts.append(cell["execution_count"])
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                error = f"{output.get('ename')}: {output.get('evalue', '')[:80]}"
                problems.append(f"cell {i} stores an error: {error}")
            found = MACHINE_PATH.search(_output_text(output))
            if found:
                problems.append(
                    f"cell {i} shows a machine-specific path ({found.group(0)}...)"
                )
        shown = "".join(_output_text(o) for o in cell.get("outputs", []))
        tags = cell.get("metadata", {}).get("tags", [])
        if (
            "exercise-check" in tags
            and cell.get("execution_count") is not None
            and (not shown.startswith("Correct:"))
        ):
            problems.append(
                f"cell {i} checks an exercise and did not accept the book's solution: "
                f"{shown.strip()[:120] or 'no output'}"
            )
    if counts != list(range(1, len(counts) + 1)):
        problems.append(
            f"execution counts are {counts}, not 1..{len(counts)}: "
            "run it top to bottom with `make execute`"
        )
    return problems


def run_notebook(path: Path, timeout: int = 1800):
    """Run ``path`` top to bottom in a fresh kernel in its own folder.

    Returns (notebook, seconds). The run mode is whatever ``$VAE_BOOK_MODE`` says in
    this process (the kernel inherits it).
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return notebook, time.perf_counter() - start


def execute_notebook(path: Path, timeout: int = 1800) -> float:
    """Run ``path`` and store its outputs in place if the run is fit to store.

    Returns the seconds the run took."""
    import nbformat

    notebook, seconds = run_notebook(path, timeout)
    problems = stored_problems(notebook)
    if problems:
        raise RuntimeError(
            f"{path} ran but its outputs are not fit to store: {problems}"
        )
    with atomic_path(Path(path)) as tmp:
        nbformat.write(notebook, tmp)
    return seconds


def _seconds(cell: Any) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.datetime.fromisoformat
    return (
        parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
    ).total_seconds()


def cell_results(notebook: Any) -> list[dict]:
    """Each code cell's outcome: its index (counting from 0 over all cells), ``status``
    (``"ok"``, ``"error"`` or ``"not run"``), the error's name and first line, and the
    seconds it ran."""
    results = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or not cell["source"].strip():
            continue
        errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
        status = "not run" if cell.get("execution_count") is None else "ok"
        result: dict[str, Any] = {
            "cell": index,
            "status": "error" if errors else status,
        }
        if errors:
            message = (errors[0].get("evalue") or "").strip().splitlines() or [""]
            result["error"] = f"{errors[0]['ename']}: {message[0][:300]}"
        result["seconds"] = _seconds(cell)
        results.append(result)
    return results


def execute_chapter(path: Path, timeout: float) -> tuple[Any, dict]:
    """Run a chapter top to bottom in a fresh kernel, going on past failing cells.

    Returns the executed notebook and its record: cells, seconds, whether all passed."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # no outputs of the last `make execute` are kept
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        notebook,
        timeout=max(1, int(timeout)),
        kernel_name="python3",
        allow_errors=True,
        record_timing=True,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start, stopped = time.perf_counter(), None
    try:
        client.execute()
    except (CellTimeoutError, DeadKernelError) as error:
        stopped = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"
    cells = cell_results(notebook)
    record = {
        "seconds": round(time.perf_counter() - start, 1),
        "all_passed": stopped is None and all(c["status"] == "ok" for c in cells),
        "failed_cells": [c for c in cells if c["status"] == "error"],
        "cells": cells,
    }
    if stopped:
        record["stopped"] = stopped
    return notebook, record


# Student copies: a small fence-aware reader of the Markdown cells, so that a solution
# is removed whatever fence MyST allows around it (```, ````, ~~~, :::, of any length,
# with options, nested fences and directives inside) and nothing the reader cannot
# place is kept or dropped silently.

_SOLUTION_DIRECTIVES = ("solution", "solution-start", "solution-end")
# directives whose body is not Markdown: fences inside them are text
_LITERAL_DIRECTIVES = frozenset(
    ("code-block", "code", "sourcecode", "code-cell", "math", "raw", "literalinclude")
)
_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,}|:{3,})[ \t]*(.*?)[ \t]*")
_DIRECTIVE = re.compile(r"\{([^}\s]+)\}")
# a solution directive where the reader does not look for one (in a list item, a block
# quote, indented, or reStructuredText in an {eval-rst}): refused rather than handed out
_MISPLACED_SOLUTION = re.compile(
    r"[ \t>]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)*(?:`{3,}|~{3,}|:{3,})[ \t]*"
    r"\{solution(?:-start|-end)?\}"
    r"|[ \t>]*\.\.[ \t]+solution(?:-start|-end)?::",
    re.IGNORECASE,
)


class _Fence:
    """An opening or closing fence line: its character, its length, its info string."""

    def __init__(self, char: str, length: int, info: str) -> None:
        self.char, self.length, self.info = char, length, info
        found = _DIRECTIVE.match(info)
        self.directive = found.group(1).lower() if found else None
        # a code block, or a directive whose body is not parsed as Markdown
        self.literal = self.directive is None or self.directive in _LITERAL_DIRECTIVES

    @classmethod
    def of(cls, line: str) -> _Fence | None:
        """The fence ``line`` is (CommonMark, plus MyST's colon fences), or None."""
        found = _FENCE_LINE.fullmatch(line.rstrip("\r\n"))
        if not found:
            return None
        run, info = found.groups()
        if run[0] == "`" and "`" in info:  # ```a``` is inline code, not a fence
            return None
        return cls(run[0], len(run), info)

    def closes(self, opening: _Fence) -> bool:
        """Whether this line closes ``opening``: the same character, at least as long,
        and no info string."""
        return (
            not self.info
            and self.char == opening.char
            and self.length >= opening.length
        )


def _lines(text: str) -> list[str]:
    """``text`` split after each newline (only ``\\n`` ends a line in Markdown)."""
    return re.findall(r"[^\n]*\n|[^\n]+", text)


def _block_end(lines: list[str], start: int, stop: int, opening: _Fence) -> int | None:
    """The index of the line that closes the fence ``opening`` on ``lines[start]``, or
    None if nothing before ``stop`` does.

    Inside a directive whose body is Markdown, a fence line that does not close the
    directive opens a nested block, which takes its own closing fence: so a
    ``{solution}`` holding a code block or a directive behind fences as long as its own
    (```` ``` ```` inside ```` ``` ````), which is how authors write it and what they
    mean, ends at its own closing fence and not at the first bare one. A closing line
    that could close several open blocks closes the innermost one of exactly its length,
    else the outermost one it can close (the CommonMark reading). If the nested reading
    finds no end, the plain CommonMark one (the first line that closes ``opening``,
    which is where MyST ends the block) decides."""
    stack, first_close = [opening], None
    for index in range(start + 1, stop):
        fence = _Fence.of(lines[index])
        if fence is None:
            continue
        if first_close is None and fence.closes(opening):
            first_close = index
        closable = [k for k, block in enumerate(stack) if fence.closes(block)]
        if closable:
            exact = [k for k in closable if stack[k].length == fence.length]
            level = exact[-1] if exact else closable[0]
            if level == 0:
                return index
            del stack[level:]
        elif not stack[-1].literal:
            stack.append(fence)
    return first_close


class _Gate:
    """Where a ``{solution-start}`` ... ``{solution-end}`` span is open: the index of
    the cell holding its ``{solution-start}``, or None."""

    def __init__(self) -> None:
        self.opened_in: int | None = None


def _kept_lines(
    lines: list[str], start: int, stop: int, cell: int, gate: _Gate, depth: int = 0
) -> list[str]:
    """``lines[start:stop]`` of markdown cell ``cell`` without solutions.

    Drops every ``{solution}`` block, every ``{solution-start}`` and ``{solution-end}``
    block and everything between them (``gate`` carries an open span over to the next
    cells), and looks inside the bodies of other directives; raises ValueError, naming
    the cell, for an unclosed solution, a ``{solution-end}`` without a start, a span
    opened inside another one or inside a directive, and a solution directive where it
    cannot be removed safely."""
    kept: list[str] = []
    index = start
    while index < stop:
        line = lines[index]
        where = f"cell {cell}, line {index + 1}"
        opening = _Fence.of(line)  # a bare fence opens a code block
        if opening is None:
            if gate.opened_in is None:
                if _MISPLACED_SOLUTION.match(line):
                    raise ValueError(
                        f"{where}: a solution directive the student copy cannot remove "
                        f"(in a list, a quote or indented?): {line.strip()!r}"
                    )
                kept.append(line)
            index += 1
            continue
        name = opening.directive
        end = _block_end(lines, index, stop, opening)
        if end is None:
            if name in _SOLUTION_DIRECTIVES:
                raise ValueError(
                    f"{where}: the {{{name}}} block is never closed (no closing "
                    f"{opening.char * opening.length} fence in the cell)"
                )
            end = stop - 1  # an unclosed fence runs to the end of its cell
        if name in ("solution-start", "solution-end") and depth:
            raise ValueError(f"{where}: a {{{name}}} inside another directive")
        if gate.opened_in is not None:  # inside a span: everything goes
            if name == "solution-start":
                raise ValueError(
                    f"{where}: a {{solution-start}} inside the solution opened in cell "
                    f"{gate.opened_in}, which has no {{solution-end}} before it"
                )
            if name == "solution-end":
                gate.opened_in = None
        elif name == "solution-start":
            gate.opened_in = cell
        elif name == "solution-end":
            raise ValueError(f"{where}: a {{solution-end}} with no {{solution-start}}")
        elif name != "solution":
            kept.append(line)
            body_end = end if _closing_line(lines, end, opening) else end + 1
            if opening.literal:
                kept += lines[index + 1 : body_end]
            else:
                kept += _kept_lines(lines, index + 1, body_end, cell, gate, depth + 1)
            kept += lines[body_end : end + 1]
        index = end + 1
    return kept


def _closing_line(lines: list[str], index: int, opening: _Fence) -> bool:
    fence = _Fence.of(lines[index])
    return fence is not None and fence.closes(opening)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def student_version(notebook: dict) -> dict:
    """A copy of ``notebook`` without solutions or outputs.

    Removes every ``{solution}`` block from the markdown cells, whatever its fence
    (backticks, tildes or MyST colons, of any length, with nested fences inside), and
    everything from a ``{solution-start}`` to its ``{solution-end}``, cells and parts of
    cells (prose around them in the same cell stays); drops the cells this empties;
    clears outputs and execution counts; keeps the exercises. Raises ValueError naming
    the cell for a solution it cannot delimit: an unclosed ``{solution}``, a
    ``{solution-start}`` without ``{solution-end}`` or the reverse.
    """
    cells, gate = [], _Gate()
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "markdown":
            text = _source(cell)
            lines = _lines(text)
            kept = "".join(_kept_lines(lines, 0, len(lines), index, gate)).rstrip()
            if kept or not text.strip():
                cells.append({**cell, "source": kept + "\n"})
        elif gate.opened_in is None:
            cell = dict(cell)
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
            cells.append(cell)
    if gate.opened_in is not None:
        raise ValueError(
            f"cell {gate.opened_in}: a {{solution-start}} cell has no matching "
            "{solution-end} cell"
        )
    metadata = {k: v for k, v in notebook.get("metadata", {}).items() if k != "widgets"}
    return {**notebook, "cells": cells, "metadata": metadata}


def _check(path: Path, args: argparse.Namespace) -> bool:
    problems = stored_problems(json.loads(path.read_text(encoding="utf-8")))
    print(f"{path}: " + ("; ".join(problems) if problems else "ok"))
    return not problems


def _check_sync(path: Path, args: argparse.Namespace) -> bool:
    difference = first_difference(path)
    print(difference or f"{path.name}: in sync with its text source")
    return difference is None


def _sync(path: Path, args: argparse.Namespace) -> bool:
    print(sync(path, from_notebook=args.from_notebook), flush=True)
    return True


def _student(path: Path, args: argparse.Namespace) -> bool:
    target = args.out / path.name
    try:
        copy = student_version(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    with atomic_path(target) as tmp:
        tmp.write_text(
            json.dumps(copy, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    print(f"{path} -> {target} (solutions and outputs removed)")
    return True


def _execute(path: Path, args: argparse.Namespace) -> bool:
    print(sync(path), flush=True)  # run what the text source says
    print(f"{path}: running in {book_mode()} mode ...", flush=True)
    seconds = execute_notebook(path)
    print(f"{path}: {seconds:.1f} s", flush=True)
    return True


COMMANDS = {
    "execute": _execute,
    "check": _check,
    "sync": _sync,
    "check-sync": _check_sync,
    "student": _student,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae_lib.notebooks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=tuple(COMMANDS))
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument(
        "--out", type=Path, default=Path("_build/student"), help="student: the folder"
    )
    parser.add_argument(
        "--from-notebook",
        action="store_true",
        help="sync: rewrite each text source from its notebook instead",
    )
    args = parser.parse_args(argv)
    failed = 0
    for path in args.notebooks:
        try:
            failed += not COMMANDS[args.command](path, args)
        except (SyncConflict, FileNotFoundError, ValueError) as error:
            print(error, file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
