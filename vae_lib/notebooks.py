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


_SOLUTION_BLOCK = re.compile(
    r"^```{solution}.*?^```[ \t]*\n?", re.DOTALL | re.MULTILINE
)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def student_version(notebook: dict) -> dict:
    """A copy of ``notebook`` without solutions or outputs.

    Removes every cell from a ``{solution-start}`` cell to its ``{solution-end}`` cell
    (both included) and every ``{solution}`` block inside a markdown cell; clears
    outputs and execution counts.
    """
    cells, inside = [], False
    for cell in notebook["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown" and "```{solution-start}" in text:
            inside = True
        if not inside:
            cell = dict(cell)
            if cell["cell_type"] == "markdown":
                cell["source"] = _SOLUTION_BLOCK.sub("", text).rstrip() + "\n"
            elif cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
            cells.append(cell)
        if cell["cell_type"] == "markdown" and "```{solution-end}" in text:
            inside = False
    if inside:
        raise ValueError("a {solution-start} cell has no matching {solution-end} cell")
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
    copy = student_version(json.loads(path.read_text(encoding="utf-8")))
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
