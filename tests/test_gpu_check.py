"""vae_lib.gpu_check: the one-call GPU run, tried on the CPU with tiny notebooks."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from vae_lib import gpu_check


def _wheel(folder: Path, name: str, requires: list[str]) -> Path:
    path = folder / f"{name}-1.0-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-1.0.dist-info/METADATA", metadata)
    return path


def test_unmet_requirements_names_what_neither_wheels_nor_the_image_provide(tmp_path):
    _wheel(tmp_path, "nbclient", ["jupyter_client>=8", "Pygments", "missing_one"])
    _wheel(tmp_path, "jupyter_client", ['old_backport; python_version < "3.8"'])
    _wheel(
        tmp_path, "ipywidgets", ["widgetsnbextension~=4.0", "docs_tool; extra == 'x'"]
    )
    assert gpu_check.unmet_requirements(tmp_path) == [
        "nbclient-1.0-py3-none-any.whl needs missing_one"
    ]


def test_unmet_requirements_reports_no_wheels_and_duplicates(tmp_path):
    assert "run `make gpu-wheels`" in gpu_check.unmet_requirements(tmp_path)[0]
    _wheel(tmp_path, "nbformat", [])
    (tmp_path / "nbformat-2.0-py3-none-any.whl").write_bytes(
        (tmp_path / "nbformat-1.0-py3-none-any.whl").read_bytes()
    )
    assert gpu_check.unmet_requirements(tmp_path) == ["nbformat is there twice"]


def test_run_refuses_unknown_parts_and_a_gpu_run_without_cuda(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"parts: expected some of .*'pictures'"):
        gpu_check.run(tmp_path, dry_run=True, parts=("chapters", "pictures"))
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA GPU here: run with --dry-run"):
        gpu_check.run(tmp_path)


@pytest.fixture
def tiny_book(tmp_path, monkeypatch):
    """A book of two chapters, one with a failing cell, in place of the real one."""
    book = tmp_path / "book"
    book.mkdir()
    passing = new_notebook(
        cells=[
            new_markdown_cell("# One"),
            new_code_cell(
                "from vae_lib.claims import claim\n"
                "claim('two is more than one', 2 > 1, margin=1.0)"
            ),
        ]
    )
    failing = new_notebook(
        cells=[
            new_markdown_cell("# Two"),
            new_code_cell("assert 1 + 1 == 3, 'arithmetic'"),
            new_code_cell("print('after the failure')"),
        ]
    )
    for name, notebook in (("01_one", passing), ("02_two", failing)):
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
        }
        nbformat.write(notebook, book / f"{name}.ipynb")
    monkeypatch.setattr(gpu_check, "BOOK", book)
    monkeypatch.delenv("VAE_BOOK_MODE", raising=False)
    return book


def test_dry_run_packs_notebooks_results_and_logs(tiny_book, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "WHEELS", tmp_path / "no-wheels")
    out = tmp_path / "out"
    archive = gpu_check.run(out, dry_run=True, parts=("chapters",), budget_seconds=120)
    assert archive == out / gpu_check.ARCHIVE
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["mode"] == "quick" and results["dry_run"] is True
    assert "run `make gpu-wheels`" in results["wheels"][0]  # none here
    one, two = results["chapters"]["01_one"], results["chapters"]["02_two"]
    assert one["all_passed"] and [c["status"] for c in one["cells"]] == ["ok"]
    assert one["claims"] == [
        {"statement": "two is more than one", "holds": True, "margin": 1.0}
    ]
    assert two["claims"] == []
    assert not two["all_passed"]
    assert two["failed_cells"][0]["error"] == "AssertionError: arithmetic"
    assert [c["status"] for c in two["cells"]] == ["error", "ok"]  # it went on
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {
        "gpu-check/results.json",
        "gpu-check/notebooks/01_one.ipynb",
        "gpu-check/notebooks/02_two.ipynb",
    } <= names
    # the book's own notebooks are untouched: the executed copies are in the archive
    assert (
        nbformat.read(tiny_book / "01_one.ipynb", as_version=4).cells[1].outputs == []
    )


def test_a_part_that_does_not_fit_is_recorded_as_not_run(tiny_book, tmp_path):
    out = tmp_path / "out"
    gpu_check.run(out, dry_run=True, parts=("chapters", "nll"), budget_seconds=5)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["chapters"]["01_one"] == {"status": "not run: out of time"}
    assert results["benchmarks"]["nll"] == {"status": "not run: out of time"}


def _archive(tmp_path: Path, results: dict, chapters=(), records=()) -> Path:
    """A run's archive holding ``results``, one clean notebook per chapter name and an
    empty file per benchmark record name."""
    stage = tmp_path / "stage" / "gpu-check"
    (stage / "notebooks").mkdir(parents=True)
    (stage / "benchmarks").mkdir()
    (stage / "results.json").write_text(json.dumps(results), encoding="utf-8")
    clean = new_notebook(cells=[new_code_cell("x = 1", execution_count=1)])
    for name in chapters:
        nbformat.write(clean, stage / "notebooks" / f"{name}.ipynb")
    for name in records:
        (stage / "benchmarks" / name).write_text("table\n", encoding="utf-8")
    path = tmp_path / "gpu-check.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(stage, arcname="gpu-check")
    return path


def test_adopt_stores_only_chapters_whose_every_cell_passed(tmp_path, monkeypatch):
    book = tmp_path / "book"
    (book / "benchmarks").mkdir(parents=True)
    monkeypatch.setattr(gpu_check, "BOOK", book)
    results = {
        "dry_run": False,
        "chapters": {"01_one": {"all_passed": True}, "02_two": {"all_passed": False}},
    }
    archive = _archive(
        tmp_path, results, ("01_one", "02_two"), ("nll_speedrun_gpu.md",)
    )
    assert gpu_check.adopt(archive) == [
        "book/01_one.ipynb",
        "book/benchmarks/nll_speedrun_gpu.md",
    ]
    assert (book / "01_one.ipynb").is_file() and not (book / "02_two.ipynb").exists()


def test_adopt_refuses_a_dry_run(tmp_path):
    archive = _archive(tmp_path, {"dry_run": True})
    with pytest.raises(ValueError, match="archive: .* is a dry run, not a GPU run"):
        gpu_check.adopt(archive)
