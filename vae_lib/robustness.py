"""Does every claim hold for other seeds? ``make robustness``.

Runs chapters top to bottom under several book seeds (``$VAE_BOOK_SEED``, which shifts
every seed a chapter uses, :func:`vae_lib.runtime.book_seed`), going on past a failing
cell, and collects every claim the chapter asserts through :mod:`vae_lib.claims` with
its margin, and every cell that failed. The record goes to
``book/benchmarks/robustness_<mode>[_retrained]_<cpu|gpu>.json`` with a markdown table
beside it: one row per claim, one column per seed. Runs of further chapters with the
same settings are added to the same record.

Chapters 1 to 3 train everything they use, so a seed changes everything in them.
Chapters 4 to 7 load shipped checkpoints trained with seed 0; with ``--retrain`` they
retrain every model from its recipe under the book's seed (``$VAE_BOOK_RETRAIN=1``,
about 45 CPU-minutes per chapter and seed).

Book tooling, not part of what the chapters import.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from .files import atomic_path
from .notebooks import execute_chapter
from .runtime import machine_description

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
RESULTS = BOOK / "benchmarks"


def _chapter_paths(prefixes: list[str]) -> list[Path]:
    paths = sorted(BOOK.glob("[0-9]*.ipynb"))
    chosen = [p for p in paths if any(p.stem.startswith(x) for x in prefixes)]
    unknown = [x for x in prefixes if not any(p.stem.startswith(x) for p in paths)]
    if unknown:
        raise ValueError(
            f"chapters: no chapter starts with {unknown}; "
            f"known: {[p.stem for p in paths]}"
        )
    return chosen


def run_chapter(path: Path, seed: int, *, mode: str, retrain: bool) -> dict[str, Any]:
    """Execute one chapter under book seed ``seed``; return its seconds, failed cells
    and claims (statement, holds, margin)."""
    saved = {
        k: os.environ.get(k)
        for k in (
            "VAE_BOOK_SEED",
            "VAE_BOOK_MODE",
            "VAE_BOOK_RETRAIN",
            "VAE_BOOK_CLAIMS",
        )
    }
    with tempfile.TemporaryDirectory() as folder:
        claims_file = Path(folder) / "claims.jsonl"
        os.environ.update(
            VAE_BOOK_SEED=str(seed),
            VAE_BOOK_MODE=mode,
            VAE_BOOK_CLAIMS=str(claims_file),
        )
        if retrain:
            os.environ["VAE_BOOK_RETRAIN"] = "1"
        else:
            os.environ.pop("VAE_BOOK_RETRAIN", None)
        try:
            _, record = execute_chapter(path, timeout=3600)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        lines = (
            claims_file.read_text(encoding="utf-8").splitlines()
            if (claims_file.exists())
            else []
        )
    return {
        "seconds": record["seconds"],
        "failed_cells": record["failed_cells"],
        "claims": [json.loads(line) for line in lines],
    }


# a parenthesised aside holding a number: "(+2.3%)", "(25.1 vs 24.8 dB)"
_MEASURED_ASIDE = re.compile(r"\s*\([^()]*\d[^()]*\)")


def claim_key(statement: str) -> str:
    """What identifies a claim across seeds: its statement up to the first colon,
    without the parenthesised numbers a run prints into it ("blind MAP is within 0.3 dB
    of MAP (+0.01 ± 0.02)" -> "blind MAP is within 0.3 dB of MAP")."""
    key, previous = statement.split(":")[0], None
    while key != previous:  # innermost first: "(+8.7 ± 1.0 (n = 1000))"
        key, previous = _MEASURED_ASIDE.sub("", key), key
    return key.strip()


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "not reached"
    mark = "pass" if result["holds"] else "**FAIL**"
    margin = result.get("margin")
    return mark if margin is None else f"{mark} ({margin:+.3g})"


def markdown(record: dict[str, Any]) -> str:
    """The record as tables: per chapter, one row per claim and a column per seed."""
    seeds = record["seeds"]
    retrained = ", checkpoints retrained" if record["retrain"] else ""
    title = (
        f"**Claims under book seeds {', '.join(map(str, seeds))}** ({record['mode']} "
        f"mode{retrained}). Measured on {record['machine']} with torch "
        f"{record['torch']}, {record['date']}. A margin is how far a claim is from "
        "failing: for a comparison, its difference in standard errors less 2."
    )
    lines = [title, ""]
    for chapter, runs in record["chapters"].items():
        statements: list[str] = []
        for seed in seeds:
            for c in runs[str(seed)]["claims"]:
                key = claim_key(c["statement"])
                if key not in statements:
                    statements.append(key)
        lines += [
            f"**{chapter}**",
            "",
            "| claim | " + " | ".join(f"seed {s}" for s in seeds) + " |",
            "|---|" + "---|" * len(seeds),
        ]
        for key in statements:
            row = []
            for seed in seeds:
                found = [
                    c
                    for c in runs[str(seed)]["claims"]
                    if claim_key(c["statement"]) == key
                ]
                row.append(_cell(found[0] if found else None))
            lines.append(f"| {key} | " + " | ".join(row) + " |")
        failures = [
            f"seed {seed}, cell {cell['cell']}: {cell.get('error', '')}"
            for seed in seeds
            for cell in runs[str(seed)]["failed_cells"]
        ]
        lines += [
            "",
            "Failed cells: " + ("; ".join(failures) if failures else "none"),
            "",
        ]
    return "\n".join(lines)


def run(
    chapters: list[str],
    seeds: list[int],
    *,
    mode: str = "full",
    retrain: bool = False,
    out: Path = RESULTS,
) -> dict[str, Any]:
    """Run ``chapters`` (name prefixes such as "01") under each seed and write the
    record; returns it."""
    paths = _chapter_paths(chapters)
    kind = "gpu" if torch.cuda.is_available() else "cpu"
    path = out / f"robustness_{mode}{'_retrained' if retrain else ''}_{kind}.json"
    record: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if record.get("seeds") != seeds:  # other seeds: a new record
        record = {"chapters": {}}
    record.update(
        seeds=seeds,
        mode=mode,
        retrain=retrain,
        machine=machine_description(),
        torch=torch.__version__,
        date=datetime.date.today().isoformat(),
    )
    for chapter in paths:
        runs = record["chapters"].setdefault(chapter.stem, {})
        for seed in seeds:
            print(f"{chapter.name}, seed {seed} ...", flush=True)
            runs[str(seed)] = run_chapter(chapter, seed, mode=mode, retrain=retrain)
            failed = sum(not c["holds"] for c in runs[str(seed)]["claims"])
            print(
                f"  {runs[str(seed)]['seconds']} s, {failed} claim(s) failed, "
                f"{len(runs[str(seed)]['failed_cells'])} cell(s) failed",
                flush=True,
            )
            with atomic_path(path) as tmp:  # a run cut short keeps what it finished
                tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    with atomic_path(path.with_suffix(".md")) as tmp:
        tmp.write_text(markdown(record) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae_lib.robustness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--chapters", nargs="+", default=["01", "02", "03"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--mode", choices=("quick", "full"), default="full")
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="retrain the shipped checkpoints under each seed",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="folder of the record (default: book/benchmarks)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    record = run(
        args.chapters, args.seeds, mode=args.mode, retrain=args.retrain, out=args.out
    )
    failed = [
        (chapter, seed)
        for chapter, runs in record["chapters"].items()
        for seed, result in runs.items()
        if result["failed_cells"] or not all(c["holds"] for c in result["claims"])
    ]
    print("every claim held" if not failed else f"failures in {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
