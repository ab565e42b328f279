"""The bad-input sweep's harness: calls of the public API with inputs it must refuse,
and how each call ends.

A :class:`Case` is one call with one bad argument. It ends in one of three ways:

* ``clear``: a ``ValueError`` or ``TypeError`` whose message names the argument;
* ``unclear``: any other exception, or a message that does not name the argument;
* ``silent``: the call returned, so a wrong result could go unnoticed.

The tables of cases live in ``tests/test_bad_inputs_*.py`` (each a ``CASES`` list),
where every case must end ``clear``. ``python tests/bad_inputs.py`` counts the outcomes
of every table (run it against an older checkout, with ``PYTHONPATH`` pointing there,
for the "before" counts).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

OUTCOMES = ("clear", "unclear", "silent")


@dataclass(frozen=True)
class Case:
    """One call of ``function`` (its qualified name, e.g. ``"metrics.psnr"``) in which
    ``argument`` is bad in the way ``kind`` says (``"shape"``, ``"dtype"``, ``"range"``,
    ``"nan"``, ``"inf"``, ``"empty"``, ``"type"``, ``"choice"``, ``"mask"``, ...)."""

    function: str
    argument: str
    kind: str
    call: Callable[[], object]

    @property
    def id(self) -> str:
        return f"{self.function}-{self.argument}-{self.kind}"


def names_argument(message: str, argument: str) -> bool:
    """Whether ``message`` names ``argument`` as a word of its own (``x`` in
    "x must be ...", not in "max")."""
    return re.search(rf"(?<![\w.]){re.escape(argument)}(?!\w)", message) is not None


def outcome(case: Case) -> tuple[str, str]:
    """``(kind, detail)``: how the call ended, and the message or result that shows
    it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.call()
    except (ValueError, TypeError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        return ("clear" if names_argument(str(exc), case.argument) else "unclear"), (
            message
        )
    except Exception as exc:  # noqa: BLE001 - every other ending is the finding
        return "unclear", f"{type(exc).__name__}: {exc}"
    return "silent", "returned " + " ".join(repr(result).split())[:200]


def count(cases: Iterable[Case]) -> tuple[Counter, list[tuple[Case, str, str]]]:
    """Outcome counts and every case that did not end ``clear``."""
    counts: Counter = Counter(dict.fromkeys(OUTCOMES, 0))
    failures = []
    for case in cases:
        kind, detail = outcome(case)
        counts[kind] += 1
        if kind != "clear":
            failures.append((case, kind, detail))
    return counts, failures


def table_paths() -> list[Path]:
    """Every table: ``tests/test_bad_inputs_*.py``."""
    return sorted(Path(__file__).parent.glob("test_bad_inputs_*.py"))


@functools.cache
def load_table(path: Path) -> ModuleType:
    """A table module, loaded once: its ``CASES`` and ``EXEMPT``."""
    spec = importlib.util.spec_from_file_location(f"_table_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or table_paths()
    sys.path.insert(0, str(Path(__file__).parent))
    total: Counter = Counter(dict.fromkeys(OUTCOMES, 0))
    for path in paths:
        counts, failures = count(load_table(path).CASES)
        total += counts
        print(f"{path.name}: " + ", ".join(f"{counts[k]} {k}" for k in OUTCOMES))
        for case, kind, detail in failures:
            print(f"  {kind:8} {case.id}: {detail[:160]}")
    print(
        f"all {sum(total.values())} calls: "
        + ", ".join(f"{total[k]} {k}" for k in OUTCOMES)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
