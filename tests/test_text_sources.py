"""Each chapter's text source and its notebook agree; sync does what it says."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from vae_lib.notebooks import main
from vae_lib.text_sources import (
    PAIRING,
    SyncConflict,
    first_difference,
    sync,
    text_source,
)

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_inputs_match_its_text_source(path):
    difference = first_difference(path)
    assert difference is None, f"{difference} (run `make sync`)"


def test_every_text_source_has_its_notebook():
    sources = sorted(BOOK.glob("*.myst.md"))
    assert [text_source(p) for p in NOTEBOOKS] == sources


def _write_pair(folder: Path, outputs: bool = True) -> Path:
    """A three-cell chapter and its text source; the text source is the newer file."""
    printed = [new_output("stream", name="stdout", text="2\n")] if outputs else []
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# A chapter\n\nSome prose."),
            new_code_cell("x = 1 + 1\nprint(x)", execution_count=1, outputs=printed),
            new_code_cell(
                "y = 3",
                execution_count=2,
                metadata={"tags": ["nbval-check-output"]},
            ),
        ],
        metadata={
            "jupytext": {"formats": PAIRING},
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
        },
    )
    path = folder / "chapter.ipynb"
    nbformat.write(notebook, path)
    jupytext.write(notebook, text_source(path), fmt="md:myst")
    _make_older(path)
    return path


def _make_older(path: Path, seconds: float = 60) -> None:
    stat = path.stat()
    os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


def _edit_text(path: Path, old: str, new: str) -> None:
    text = text_source(path)
    contents = text.read_text(encoding="utf-8")
    assert old in contents
    text.write_text(contents.replace(old, new), encoding="utf-8")


def test_a_fresh_pair_is_in_sync(tmp_path):
    path = _write_pair(tmp_path)
    assert first_difference(path) is None
    assert sync(path) == "chapter.ipynb: in sync"


def test_prose_edit_is_named_by_chapter_cell_and_line(tmp_path):
    path = _write_pair(tmp_path)
    _edit_text(path, "Some prose.", "Some better prose.")
    difference = first_difference(path)
    assert difference.startswith("chapter.ipynb: cell 0 (counting from 0), line 3")
    assert "'Some prose.'" in difference and "'Some better prose.'" in difference


def test_tag_edit_and_cell_count_are_differences(tmp_path):
    path = _write_pair(tmp_path)
    _edit_text(path, ":tags: [nbval-check-output]", ":tags: [parameters]")
    assert "cell 2 (counting from 0) has metadata" in first_difference(path)
    path = _write_pair(tmp_path)
    with text_source(path).open("a", encoding="utf-8") as text:
        text.write("\n+++\n\nOne more paragraph.\n")
    assert "the notebook has 3 cells, its text source 4" in first_difference(path)


def test_sync_copies_prose_and_keeps_outputs(tmp_path):
    path = _write_pair(tmp_path)
    _edit_text(path, "Some prose.", "Some better prose.")
    assert "copied the inputs" in sync(path)
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].source.endswith("Some better prose.")
    assert notebook.cells[1].outputs[0]["text"] == "2\n"
    assert notebook.cells[1].execution_count == 1
    assert notebook.metadata["jupytext"] == {"formats": PAIRING}
    assert first_difference(path) is None


def test_sync_drops_the_outputs_of_a_changed_code_cell(tmp_path):
    path = _write_pair(tmp_path)
    _edit_text(path, "x = 1 + 1", "x = 2 + 2")
    sync(path)
    cell = nbformat.read(path, as_version=4).cells[1]
    assert cell.source.startswith("x = 2 + 2")
    assert cell.outputs == [] and cell.execution_count is None


def test_sync_keeps_outputs_after_an_inserted_cell_and_ids_of_edited_ones(tmp_path):
    path = _write_pair(tmp_path)
    ids = [cell.id for cell in nbformat.read(path, as_version=4).cells]
    _edit_text(path, "Some prose.", "Some prose.\n\n+++\n\nA new paragraph.")
    _edit_text(path, "y = 3", "y = 4")
    sync(path)
    cells = nbformat.read(path, as_version=4).cells
    assert [c.source for c in cells[1:3]] == ["A new paragraph.", "x = 1 + 1\nprint(x)"]
    assert cells[2].outputs[0]["text"] == "2\n" and cells[2].id == ids[1]
    assert cells[3].id == ids[2] and cells[3].execution_count is None
    assert len({c.id for c in cells}) == 4


def test_sync_refuses_when_the_newer_notebook_differs(tmp_path):
    path = _write_pair(tmp_path)
    _edit_text(path, "Some prose.", "Edited in the text source.")
    _make_older(text_source(path), seconds=600)  # the notebook is now the newer file
    before = path.read_bytes(), text_source(path).read_bytes()
    with pytest.raises(
        SyncConflict, match="newer than chapter.myst.md.*--from-notebook"
    ):
        sync(path)
    assert (path.read_bytes(), text_source(path).read_bytes()) == before


def test_sync_from_notebook_rewrites_the_text_source(tmp_path):
    path = _write_pair(tmp_path)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = "# A chapter\n\nEdited in Jupyter."
    nbformat.write(notebook, path)
    assert "wrote chapter.myst.md" in sync(path, from_notebook=True)
    assert "Edited in Jupyter." in text_source(path).read_text(encoding="utf-8")
    assert first_difference(path) is None


def test_missing_text_source_and_missing_pairing_are_clear_errors(tmp_path):
    path = _write_pair(tmp_path)
    text_source(path).unlink()
    with pytest.raises(FileNotFoundError, match=r"chapter.myst.md is missing.*--from"):
        first_difference(path)
    notebook = nbformat.read(path, as_version=4)
    del notebook.metadata["jupytext"]
    nbformat.write(notebook, path)
    with pytest.raises(ValueError, match="expected the jupytext pairing"):
        first_difference(path)
    with pytest.raises(
        ValueError, match=r"notebook: expected a path ending in \.ipynb"
    ):
        text_source(tmp_path / "chapter.md")


def test_command_line_check_sync_fails_on_a_difference(tmp_path, capsys):
    path = _write_pair(tmp_path)
    assert main(["check-sync", str(path)]) == 0
    _edit_text(path, "Some prose.", "Other prose.")
    assert main(["check-sync", str(path)]) == 1
    assert "chapter.ipynb: cell 0" in capsys.readouterr().out
    assert main(["sync", str(path)]) == 0
    assert main(["check-sync", str(path)]) == 0
