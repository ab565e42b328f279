"""Where benchmarks put their results: a JSON record and a markdown table per benchmark.

Both go to ``book/benchmarks/<name>_<cpu|gpu>.json`` and ``.md`` (or the folder
``$VAE_BENCH_RESULTS`` names: ``make gpu-check`` collects them apart), by the kind of
machine that ran them, so a CPU run never replaces a GPU result. The book's Performance
appendix includes the tables, so the page always shows the latest run of each kind and
the machine it ran on; until a GPU run exists its table says so. Files are written to a
temporary name and renamed, so an interrupted benchmark leaves the previous result
whole.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import torch

from vae_lib.files import atomic_path
from vae_lib.runtime import default_device, machine_description

RESULTS = Path(
    os.environ.get("VAE_BENCH_RESULTS")
    or Path(__file__).resolve().parents[2] / "book" / "benchmarks"
)


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A markdown table; floats are shown as given (format them before)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine_kind() -> str:
    """Which kind of device the benchmarks run on
    (:func:`vae_lib.runtime.default_device`): ``"gpu"`` for CUDA, else the device type
    (``"cpu"``, ``"mps"``)."""
    kind = default_device().type
    return "gpu" if kind == "cuda" else kind


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save(
    name: str,
    title: str,
    record: dict,
    table: str,
    notes: str = "",
    gpu_placeholder: bool = True,
) -> dict:
    """Write ``record`` (plus the machine, torch version and date) as JSON and ``table``
    (markdown, under a line naming the machine) with ``notes`` below it, as
    ``<name>_<cpu|gpu>``; return the full record. On a CPU, ``gpu_placeholder`` also
    writes a "not measured" GPU table if none exists."""
    record = {
        "benchmark": name,
        "machine": machine_description(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        **record,
    }
    stem = f"{name}_{machine_kind()}"
    _write(RESULTS / f"{stem}.json", json.dumps(record, indent=2) + "\n")
    text = (
        f"**{title}** Measured on {record['machine']} with torch {record['torch']}, "
        f"{record['date']}.\n\n{table}"
    )
    if notes:
        text += f"\n{notes.strip()}\n"
    _write(RESULTS / f"{stem}.md", text)
    if gpu_placeholder and machine_kind() == "cpu":
        placeholder(name, title)
    print(json.dumps(record, indent=2))
    return record


def placeholder(name: str, title: str) -> None:
    """A GPU table that says it has not been measured, unless a GPU result is already
    there."""
    path = RESULTS / f"{name}_gpu.md"
    if not path.exists():
        _write(
            path,
            f"**{title}** Not measured yet: "
            "no run of this benchmark on a CUDA GPU so far.\n",
        )


def fmt(value: float, digits: int = 1) -> str:
    """A number with ``digits`` decimals and thousands separators."""
    return f"{value:,.{digits}f}"
