"""The whole book and the GPU benchmarks in one call on a lent GPU: ``make gpu-check``.

A GPU machine is lent to a session only now and then, for minutes, with PyTorch and CUDA
but without the notebook tools and without a network. Everything it needs is prepared
here: ``make gpu-wheels`` (``python -m vae_lib.gpu_check wheels``) downloads the missing
packages into ``.whl/`` as wheels for that machine's Python and platform. There,
``python -m vae_lib.gpu_check run`` installs them into a temporary folder, executes
every chapter top to bottom in full mode on CUDA (each cell's pass or failure and time
recorded, and every claim the chapter asserts with its margin, :mod:`vae_lib.claims`),
runs the GPU benchmarks, and packs the executed notebooks, the benchmark records, the
per-cell results and the logs into one archive, ``gpu-check.tar.gz``, in the output
folder; the archive and ``results.json`` are rewritten after every step, so
a run cut short still returns what it finished. Parts run in order (chapters,
throughput, nll, speed) within a time budget; what does not fit is recorded as not run.

``--retrain`` sets ``VAE_BOOK_RETRAIN=1``, so the chapters retrain every checkpoint from
its recipe, and the per-cell results show which asserts fail after a retrain.
``--dry-run`` does all of it on this machine's CPU in quick mode (the benchmarks that
need CUDA are only collected), to test the script before any device time is spent; it
also checks that the wheels in ``.whl/`` are complete. ``python -m vae_lib.gpu_check
adopt ARCHIVE`` copies into ``book/`` the executed notebooks whose every cell passed and
the GPU benchmark records.

Book tooling, not part of what the chapters import.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

from .claims import CLAIMS_VARIABLE
from .files import atomic_path
from .notebooks import execute_chapter
from .runtime import machine_description

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
WHEELS = ROOT / ".whl"
ARCHIVE = "gpu-check.tar.gz"
# The notebook tools the lent machine lacks; the wheels match the versions installed
# here by requirements.txt.
NEEDED = ("ipykernel", "nbclient", "nbformat", "ipywidgets")
# Requirements left out of .whl/: on the lent machine's image already (the device
# tool's package list), or front-end assets that a kernel never imports.
ON_THE_GPU_IMAGE = frozenset(
    {"attrs", "packaging", "psutil", "pygments", "python-dateutil", "six"}
    | {"typing-extensions", "tzdata"}
)
NOT_IMPORTED = frozenset({"widgetsnbextension", "jupyterlab-widgets"})
GPU_PYTHON = "3.12"
GPU_PLATFORMS = tuple(
    f"manylinux_2_{n}_x86_64" for n in (5, 12, 17, 24, 26, 27, 28, 31, 34, 35)
) + ("manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64")
# Each benchmark part: the pytest node ids it runs. In this order: the speedrun's time
# is bounded, the comparison with the conventional loop's is not.
BENCHMARKS = {
    "throughput": ("tests/benchmarks/test_gpu_throughput.py",),
    "nll": ("tests/benchmarks/test_nll_speedrun.py",),
    "speed": (
        "tests/benchmarks/test_training_speed.py::"
        + "test_fit_reaches_106_nats_faster_than_the_conventional_loop",
    ),
}
PARTS = ("chapters", *BENCHMARKS)
NLL_TRAINING_SECONDS = 120  # the speedrun's training budget inside one call


def normalise(name: str) -> str:
    """A distribution's name as pip compares them: ``Foo_Bar`` -> ``foo-bar``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_name(path: Path) -> str:
    return normalise(path.name.split("-")[0])


# --- wheels ------------------------------------------------------------------------


def download_wheels(dest: Path = WHEELS) -> list[Path]:
    """Download the notebook tools and what they need as wheels for the lent machine
    (CPython 3.12, manylinux x86-64) into ``dest``, leaving out what its image has."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in NEEDED]
    platforms = [arg for p in GPU_PLATFORMS for arg in ("--platform", p)]
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
            + ["--python-version", GPU_PYTHON, "--implementation", "cp", *platforms]
            + ["--disable-pip-version-check", "-d", folder, *pins],
            check=True,
        )
        left_out = ON_THE_GPU_IMAGE | NOT_IMPORTED
        kept = [p for p in Path(folder).glob("*.whl") if _wheel_name(p) not in left_out]
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for wheel in kept:
            shutil.copy2(wheel, dest / wheel.name)
    return sorted(dest.glob("*.whl"))


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(
            n for n in archive.namelist() if n.endswith(".dist-info/METADATA")
        )
        text = archive.read(metadata).decode("utf-8")
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]


def unmet_requirements(wheels: Path = WHEELS) -> list[str]:
    """What a wheel in ``wheels`` requires on the lent machine and nothing provides:
    "wheel needs requirement" strings; empty when the set is complete."""
    from packaging.requirements import Requirement

    found = sorted(wheels.glob("*.whl"))
    if not found:
        return [f"no wheels in {wheels}: run `make gpu-wheels`"]
    names = [_wheel_name(p) for p in found]
    problems = [f"{n} is there twice" for n in sorted(set(names)) if names.count(n) > 1]
    provided = set(names) | ON_THE_GPU_IMAGE | NOT_IMPORTED
    machine = {
        "python_version": GPU_PYTHON,
        "python_full_version": f"{GPU_PYTHON}.3",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    for wheel in found:
        for text in _requirements(wheel):
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(machine):
                continue
            if normalise(requirement.name) not in provided:
                problems.append(f"{wheel.name} needs {text}")
    return problems


def install_wheels(wheels: Path, target: Path) -> None:
    """Install ``wheels`` into ``target`` (no network, no dependency resolution) and
    make them importable here and in the kernels this process starts."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
        + ["--no-compile", "--no-cache-dir", "--upgrade", "--target", str(target)]
        + [str(p) for p in sorted(wheels.glob("*.whl"))],
        check=True,
    )
    sys.path.insert(0, str(target))
    _prepend_python_path(target)


def _prepend_python_path(folder: Path) -> None:
    parts = [str(folder), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
    os.environ["PYTHONPATH"] = ":".join(dict.fromkeys(parts))


# --- the run -----------------------------------------------------------------------


class _Run:
    """Where a run keeps its results: a staging folder, packed after every step."""

    def __init__(self, out: Path, stage: Path, settings: dict) -> None:
        self.out, self.stage = out, stage
        self.results: dict[str, Any] = {**settings, "chapters": {}, "benchmarks": {}}
        for folder in ("notebooks", "benchmarks", "logs"):
            (stage / folder).mkdir(parents=True, exist_ok=True)

    def save(self) -> None:
        text = json.dumps(self.results, indent=2) + "\n"
        (self.stage / "results.json").write_text(text, encoding="utf-8")
        with atomic_path(self.out / "results.json") as tmp:
            tmp.write_text(text, encoding="utf-8")
        with atomic_path(self.out / ARCHIVE) as tmp, tarfile.open(tmp, "w:gz") as tar:
            tar.add(self.stage, arcname="gpu-check")


def _run_chapters(run: _Run, deadline: float) -> None:
    import nbformat

    for path in sorted(BOOK.glob("[0-9]*.ipynb")):
        left = deadline - time.monotonic()
        if left < 10:
            run.results["chapters"][path.stem] = {"status": "not run: out of time"}
            continue
        print(f"{path.name}: running ({left:.0f} s left)", flush=True)
        # every claim the chapter asserts, with its margin (vae_lib.claims)
        claims_file = run.stage / "logs" / f"claims_{path.stem}.jsonl"
        saved = os.environ.get(CLAIMS_VARIABLE)
        os.environ[CLAIMS_VARIABLE] = str(claims_file)
        try:
            notebook, record = execute_chapter(path, timeout=left)
        finally:
            if saved is None:
                os.environ.pop(CLAIMS_VARIABLE, None)
            else:
                os.environ[CLAIMS_VARIABLE] = saved
        lines = (
            claims_file.read_text("utf-8").splitlines() if claims_file.exists() else []
        )
        record["claims"] = [json.loads(line) for line in lines]
        nbformat.write(notebook, run.stage / "notebooks" / path.name)
        run.results["chapters"][path.stem] = record
        passed = "all cells passed" if record["all_passed"] else "FAILED CELLS"
        print(f"{path.name}: {record['seconds']} s, {passed}", flush=True)
        run.save()


def _run_benchmark(run: _Run, part: str, deadline: float, dry_run: bool) -> None:
    left = deadline - time.monotonic()
    if left < 30:
        run.results["benchmarks"][part] = {"status": "not run: out of time"}
        return
    env = {**os.environ, "VAE_BENCH_RESULTS": str(run.stage / "benchmarks")}
    if part == "nll":  # leave time for the probe and the k = 5000 evaluation
        budget = min(NLL_TRAINING_SECONDS, max(10, left / 2))
        env["VAE_BENCH_NLL_SECONDS"] = str(round(budget))
    # Without CUDA only the throughput benchmark runs (it records that it could not);
    # the others, minutes long on a CPU, are only collected.
    collect_only = dry_run and part != "throughput"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "-q"]
    command += ["--collect-only"] if collect_only else []
    command += list(BENCHMARKS[part])
    print(f"benchmark {part}: {' '.join(command[3:])}", flush=True)
    start = time.perf_counter()
    log = run.stage / "logs" / f"benchmark_{part}.log"
    with log.open("w", encoding="utf-8") as stream:
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                stdout=stream,
                stderr=subprocess.STDOUT,
                timeout=left,
                check=False,
            )
            status = {0: "passed", 5: "nothing collected"}.get(
                done.returncode, f"failed (pytest exit {done.returncode})"
            )
        except subprocess.TimeoutExpired:
            status = "stopped: out of time"
    tail = log.read_text(encoding="utf-8").strip().splitlines()[-1:] or [""]
    run.results["benchmarks"][part] = {
        "status": "collected only (dry run)"
        if collect_only and status == "passed"
        else status,
        "seconds": round(time.perf_counter() - start, 1),
        "summary": tail[0][:300],
    }
    run.save()


def run(
    out: Path,
    *,
    dry_run: bool = False,
    retrain: bool = False,
    parts: tuple[str, ...] = PARTS,
    budget_seconds: float = 480,
) -> Path:
    """Run ``parts`` within ``budget_seconds`` and leave ``gpu-check.tar.gz`` and
    ``results.json`` in ``out``; returns the archive's path."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"parts: expected some of {PARTS}, got {unknown}")
    if not dry_run and not torch.cuda.is_available():
        raise RuntimeError(
            "no CUDA GPU here: run with --dry-run to try the script "
            "on the CPU in quick mode"
        )
    deadline = time.monotonic() + budget_seconds
    out.mkdir(parents=True, exist_ok=True)
    os.environ["VAE_BOOK_MODE"] = "quick" if dry_run else "full"
    if retrain:
        os.environ["VAE_BOOK_RETRAIN"] = "1"
    _prepend_python_path(ROOT)  # the kernels import vae_lib from this checkout
    settings = {
        "mode": os.environ["VAE_BOOK_MODE"],
        "dry_run": dry_run,
        "retrain": retrain,
        "machine": machine_description(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "budget_seconds": budget_seconds,
        "parts": list(parts),
    }
    with tempfile.TemporaryDirectory() as folder:
        if importlib.util.find_spec("nbclient") is None:
            install_wheels(WHEELS, Path(folder) / "site")
            settings["wheels"] = f"installed from {WHEELS.name}"
        else:
            settings["wheels"] = unmet_requirements(WHEELS) or "complete"
        gpu_run = _Run(out, Path(folder) / "gpu-check", settings)
        gpu_run.save()
        start = time.perf_counter()
        for part in parts:
            if part == "chapters":
                _run_chapters(gpu_run, deadline)
            else:
                _run_benchmark(gpu_run, part, deadline, dry_run)
        gpu_run.results["seconds"] = round(time.perf_counter() - start, 1)
        gpu_run.save()
    return out / ARCHIVE


# --- after the run -------------------------------------------------------------------


def adopt(archive: Path) -> list[str]:
    """Copy into ``book/`` the executed notebooks of ``archive`` whose every cell
    passed, and into ``book/benchmarks`` its GPU benchmark records; returns what was
    copied."""
    from .notebooks import stored_problems

    copied = []
    with tempfile.TemporaryDirectory() as folder, tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
        stage = Path(folder) / "gpu-check"
        results = json.loads((stage / "results.json").read_text(encoding="utf-8"))
        if results.get("dry_run"):
            raise ValueError(f"archive: {archive} is a dry run, not a GPU run")
        for name, record in results["chapters"].items():
            executed = stage / "notebooks" / f"{name}.ipynb"
            notebook = (
                json.loads(executed.read_text(encoding="utf-8"))
                if (executed.is_file())
                else None
            )
            if record.get("all_passed") and notebook and not stored_problems(notebook):
                shutil.copy2(executed, BOOK / executed.name)
                copied.append(f"book/{executed.name}")
        for record in sorted((stage / "benchmarks").glob("*_gpu.*")):
            shutil.copy2(record, BOOK / "benchmarks" / record.name)
            copied.append(f"book/benchmarks/{record.name}")
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae_lib.gpu_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    wheels = commands.add_parser("wheels", help="download the lent machine's wheels")
    wheels.add_argument("--dest", type=Path, default=WHEELS)
    go = commands.add_parser("run", help="run the book and the GPU benchmarks")
    go.add_argument(
        "--out", type=Path, default=Path(os.environ.get("OUT") or "_build/gpu-check")
    )
    go.add_argument("--dry-run", action="store_true", help="CPU, quick mode")
    go.add_argument("--retrain", action="store_true", help="VAE_BOOK_RETRAIN=1")
    go.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated, in order (default: {','.join(PARTS)})",
    )
    go.add_argument("--budget", type=float, default=480, help="seconds for all parts")
    take = commands.add_parser("adopt", help="store a GPU run's passing chapters")
    take.add_argument("archive", type=Path)
    args = parser.parse_args(argv)
    if args.command == "wheels":
        found = download_wheels(args.dest)
        size = sum(p.stat().st_size for p in found) / 2**20
        print(f"{len(found)} wheels, {size:.1f} MiB, in {args.dest}")
        problems = unmet_requirements(args.dest)
        print("\n".join(problems) or "complete: every requirement is met")
        return 1 if problems else 0
    if args.command == "adopt":
        print("\n".join(adopt(args.archive)) or "nothing passed: nothing copied")
        return 0
    parts = tuple(p for p in args.parts.split(",") if p)
    archive = run(
        args.out,
        dry_run=args.dry_run,
        retrain=args.retrain,
        parts=parts,
        budget_seconds=args.budget,
    )
    results = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
    failed = {
        name: [c["cell"] for c in record.get("failed_cells", [])]
        for name, record in results["chapters"].items()
    }
    print(
        json.dumps(
            {
                "archive": str(archive),
                "failed_cells": failed,
                "benchmarks": results["benchmarks"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
