"""The bad-input sweep reaches every public function and class of the library.

Each ``tests/test_bad_inputs_*.py`` table lists its calls (``CASES``) and the names it
leaves out on purpose, with the reason (``EXEMPT``). A public name of a library module
that is in neither fails here, so a new function cannot skip the sweep. Exception
classes and named tuples of results take no input and need no entry.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from bad_inputs import load_table, table_paths

import vae_lib

# Modules that are the book's own tooling rather than the library a reader calls.
TOOLING = {
    "notebooks": "executes and checks the book's notebooks (make execute)",
    "text_sources": "pairs notebooks with their text sources (make sync)",
    "robustness": "re-runs the chapters' claims per seed (make robustness)",
    "run_times": "writes the intro's run-time table from benchmark records",
    "web_assets": "fetches MathJax for the HTML book (make book)",
    "gpu_check": "the GPU machine's check (make gpu-check)",
    "shipped": "builds and verifies the shipped checkpoints (make checkpoints)",
    "release": "writes the nbgrader course from the chapters (make release)",
    "checks": "exercise checkers, tested by their own wrong-answer tables",
    "validate": "the argument checks the sweep exercises through every caller",
    "files": "file-format helpers behind data and checkpoints; malformed files raise "
    "DataFileError naming the file (tests/test_files.py)",
}
TABLES = table_paths()


def _public_names(module_name: str) -> list[str]:
    module = importlib.import_module(f"vae_lib.{module_name}")
    names = []
    for name, value in vars(module).items():
        if (
            name.startswith("_")
            or getattr(value, "__module__", None) != module.__name__
        ):
            continue
        if inspect.isclass(value) and (
            issubclass(value, BaseException)
            or (issubclass(value, tuple) and hasattr(value, "_fields"))
            or getattr(value, "_is_protocol", False)
        ):
            continue
        if inspect.isfunction(value) or inspect.isclass(value):
            names.append(f"{module_name}.{name}")
    return names


LIBRARY = sorted(
    m.name for m in pkgutil.iter_modules(vae_lib.__path__) if m.name not in TOOLING
)


def test_every_table_has_cases_and_reasons():
    assert len(TABLES) >= 3
    for table in map(load_table, TABLES):
        assert table.CASES, table.__file__
        assert all(reason.strip() for reason in table.EXEMPT.values()), table.__file__


@pytest.mark.parametrize("module_name", LIBRARY)
def test_every_public_name_is_swept_or_exempt_with_a_reason(module_name):
    tables = [load_table(path) for path in TABLES]
    called = {case.function for table in tables for case in table.CASES}
    exempt = {name for table in tables for name in table.EXEMPT}
    missing = [
        name
        for name in _public_names(module_name)
        if name not in exempt
        and not any(c == name or c.startswith(name + ".") for c in called)
    ]
    assert missing == [], f"not in any bad-input table, nor EXEMPT: {missing}"
