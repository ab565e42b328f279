"""The introduction's run-time table, generated from the benchmark records.

``make bench`` (``tests/benchmarks/test_book_execution.py``) times every notebook in
quick and in full mode and records the seconds in
``book/benchmarks/book_execution_<mode>_<cpu|gpu>.json``. The table in
``book/intro.md`` between the two ``run-times`` markers is written from those records
by this module, never by hand, so the introduction and the Performance appendix cannot
disagree; a unit test checks that it is up to date.

``python -m vae_lib.run_times`` rewrites it; ``--check`` only compares.

Book tooling, not part of what the chapters import.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "book" / "benchmarks"
INTRO = ROOT / "book" / "intro.md"
BEGIN = (
    "<!-- run-times: generated from book/benchmarks/book_execution_*.json by "
    "`python -m vae_lib.run_times`; do not edit by hand -->"
)
END = "<!-- run-times end -->"
COLUMNS = (  # (record, column heading)
    ("quick_cpu", "quick mode, CPU"),
    ("full_cpu", "full mode, CPU"),
    ("full_gpu", "full mode, GPU"),
)


def duration(seconds: float) -> str:
    """'47 s', '4 min 05 s'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def chapter_title(notebook: str) -> str:
    """'02_elbo.ipynb' -> the chapter's heading, '2. The evidence lower bound'."""
    source = (ROOT / "book" / notebook).with_suffix(".myst.md")
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise ValueError(f"{source} has no '# ' title line")


def load_records(folder: Path = RECORDS) -> dict[str, dict]:
    """The book-execution records that exist, by '<mode>_<kind>'."""
    records = {}
    for key, _ in COLUMNS:
        path = folder / f"book_execution_{key}.json"
        if path.exists():
            records[key] = json.loads(path.read_text(encoding="utf-8"))
    if "quick_cpu" not in records:
        raise FileNotFoundError(
            f"no quick-mode record in {folder}: run `make bench "
            "BENCH=tests/benchmarks/test_book_execution.py`"
        )
    return records


def table(records: dict[str, dict]) -> str:
    """The Markdown table: one row per chapter, one column per record, then the date
    and machine of each record."""
    columns = [(key, heading) for key, heading in COLUMNS if key in records]
    notebooks = sorted(records["quick_cpu"]["seconds"])
    lines = [
        "| chapter | " + " | ".join(h for _, h in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for notebook in notebooks:
        cells = [
            duration(records[key]["seconds"][notebook])
            if notebook in records[key]["seconds"]
            else "not measured"
            for key, _ in columns
        ]
        title = chapter_title(notebook)
        lines.append(f"| [{title}]({notebook}) | " + " | ".join(cells) + " |")
    lines.append(
        "| **whole book** | "
        + " | ".join(f"**{duration(records[k]['total_seconds'])}**" for k, _ in columns)
        + " |"
    )
    lines.append("")
    lines += [
        f"{heading[0].upper()}{heading[1:]}: measured on {records[key]['machine']} "
        f"with torch "
        f"{records[key]['torch']}, {records[key]['date']}."
        for key, heading in columns
    ]
    return "\n".join(lines)


def replaced(text: str, generated: str) -> str:
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(
            f"{INTRO.name} must hold the markers {BEGIN!r} and {END!r} once each"
        )
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n\n{generated}\n\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = INTRO.read_text(encoding="utf-8")
    new = replaced(text, table(load_records()))
    if args.check:
        if new != text:
            print(f"{INTRO} is out of date: run python -m vae_lib.run_times")
            return 1
        return 0
    if new != text:
        partial = INTRO.with_suffix(".md.part")
        partial.write_text(new, encoding="utf-8")
        os.replace(partial, INTRO)
        print(f"rewrote the run-time table in {INTRO}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
