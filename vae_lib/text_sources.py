"""Each chapter's text source: the MyST Markdown file paired with its notebook.

A chapter is two files (jupytext pairing ``ipynb,.myst.md:myst``). The text source,
``book/NAME.myst.md``, holds its inputs -- prose, code and cell tags -- and is what
people edit and review; the notebook, ``book/NAME.ipynb``, keeps the outputs of the last
``make execute``. :func:`first_difference` says where a pair disagrees; :func:`sync`
copies the text source's inputs into the notebook and keeps every output whose cell is
unchanged, or, with ``from_notebook=True``, rewrites the text source from the notebook
(after an edit made in a notebook editor that does not know jupytext).

Book tooling, not part of what the chapters import: it needs jupytext and nbformat (both
in ``requirements.txt``), imported when a function runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .files import atomic_path

# the jupytext "formats" every chapter notebook declares
PAIRING = "ipynb,.myst.md:myst"
TEXT_FORMAT = "md:myst"
TEXT_SUFFIX = ".myst.md"


class SyncConflict(RuntimeError):
    """The notebook is newer than its text source and differs from it: keep which?"""


def text_source(notebook: str | Path) -> Path:
    """The text source paired with ``notebook``: ``NAME.ipynb`` -> ``NAME.myst.md``."""
    notebook = Path(notebook)
    if notebook.suffix != ".ipynb":
        raise ValueError(f"notebook: expected a path ending in .ipynb, got {notebook}")
    return notebook.with_suffix(TEXT_SUFFIX)


def _read_notebook(notebook: Path) -> Any:
    import nbformat

    if not notebook.is_file():
        raise FileNotFoundError(f"notebook: no file {notebook}")
    contents = nbformat.read(notebook, as_version=4)
    formats = contents.metadata.get("jupytext", {}).get("formats")
    if formats != PAIRING:
        raise ValueError(
            f"{notebook.name}: expected the jupytext pairing {PAIRING!r} in its "
            f"metadata, found {formats!r}; pair it with "
            f"`jupytext --set-formats {PAIRING} {notebook}`"
        )
    return contents


def _read_text(notebook: Path) -> Any:
    import jupytext

    text = text_source(notebook)
    if not text.is_file():
        raise FileNotFoundError(
            f"{notebook.name}: its text source {text} is missing; write it from the "
            "notebook with "
            f"`python -m vae_lib.notebooks sync --from-notebook {notebook}`"
        )
    return jupytext.read(text, fmt=TEXT_FORMAT)


def _as_text(notebook_contents: Any) -> Any:
    """The notebook's inputs as its text source would hold them (outputs and the
    metadata jupytext leaves out of text files dropped)."""
    import jupytext

    text = jupytext.writes(notebook_contents, fmt=TEXT_FORMAT)
    return jupytext.reads(text, fmt=TEXT_FORMAT)


def _first_line_difference(a: str, b: str) -> tuple[int, str, str]:
    a_lines, b_lines = a.splitlines(), b.splitlines()
    for number, (line_a, line_b) in enumerate(zip(a_lines, b_lines), start=1):
        if line_a != line_b:
            return number, line_a, line_b
    number = min(len(a_lines), len(b_lines)) + 1
    longer_a = a_lines[number - 1] if len(a_lines) >= number else "<end of cell>"
    longer_b = b_lines[number - 1] if len(b_lines) >= number else "<end of cell>"
    return number, longer_a, longer_b


def _describe(index: int, cell_a: Any, cell_b: Any) -> str | None:
    """How notebook cell ``cell_a`` differs from text cell ``cell_b`` (None: alike)."""
    where = f"cell {index} (counting from 0)"
    if cell_a.cell_type != cell_b.cell_type:
        return (
            f"{where} is a {cell_a.cell_type} cell in the notebook "
            f"and a {cell_b.cell_type} cell in the text source"
        )
    if cell_a.source != cell_b.source:
        line, in_notebook, in_text = _first_line_difference(
            cell_a.source, cell_b.source
        )
        return (
            f"{where}, line {line}: the notebook has {in_notebook[:70]!r}, "
            f"the text source has {in_text[:70]!r}"
        )
    if dict(cell_a.metadata) != dict(cell_b.metadata):
        return (
            f"{where} has metadata {dict(cell_a.metadata)} in the notebook "
            f"and {dict(cell_b.metadata)} in the text source"
        )
    return None


def first_difference(notebook: str | Path) -> str | None:
    """Where ``notebook``'s inputs first differ from its text source's, or None.

    The answer names the chapter's file and the first differing cell (counting from 0),
    e.g. ``"02_elbo.ipynb: cell 12 (counting from 0), line 3: the notebook has ..."``.
    """
    notebook = Path(notebook)
    in_notebook = _as_text(_read_notebook(notebook)).cells
    in_text = _read_text(notebook).cells
    for index, (cell_a, cell_b) in enumerate(zip(in_notebook, in_text)):
        difference = _describe(index, cell_a, cell_b)
        if difference:
            return f"{notebook.name}: {difference}"
    if len(in_notebook) != len(in_text):
        agreeing = min(len(in_notebook), len(in_text))
        return (
            f"{notebook.name}: the notebook has {len(in_notebook)} cells, its text "
            f"source {len(in_text)}; the first {agreeing} agree"
        )
    return None


def _with_outputs(text_cells: list[Any], notebook_cells: list[Any]) -> list[Any]:
    """The text source's cells, with the outputs of the notebook's unchanged cells.

    The two cell lists are aligned on (type, source), as ``diff`` aligns lines. An
    unchanged cell takes the notebook cell's id, outputs and execution count; an edited
    cell (one of a block replaced cell for cell) keeps only its id, so the notebook's
    diff is the edit alone; a new cell comes without outputs.
    """
    from difflib import SequenceMatcher

    def key(cell: Any) -> tuple[str, str]:
        return cell.cell_type, cell.source

    matcher = SequenceMatcher(
        a=[key(c) for c in notebook_cells],
        b=[key(c) for c in text_cells],
        autojunk=False,
    )
    for tag, old_start, old_stop, new_start, new_stop in matcher.get_opcodes():
        pairs = zip(notebook_cells[old_start:old_stop], text_cells[new_start:new_stop])
        if tag == "equal":
            kept: tuple[str, ...] = ("id", "outputs", "execution_count", "attachments")
        elif tag == "replace" and old_stop - old_start == new_stop - new_start:
            kept = ("id",)
        else:
            continue
        for old, new in pairs:
            if old.cell_type == new.cell_type:
                new.update({k: old[k] for k in kept if k in old})
    return text_cells


def _write_notebook(contents: Any, notebook: Path) -> None:
    import nbformat

    with atomic_path(notebook) as tmp:
        nbformat.write(contents, tmp)


def _write_text(contents: Any, notebook: Path) -> None:
    import jupytext

    with atomic_path(text_source(notebook)) as tmp:
        tmp.write_text(jupytext.writes(contents, fmt=TEXT_FORMAT), encoding="utf-8")


def sync(notebook: str | Path, *, from_notebook: bool = False) -> str:
    """Bring ``notebook`` and its text source in line; returns what was done.

    By default the text source wins: its inputs go into the notebook, each unchanged
    cell keeps its outputs and a changed code cell loses them (``make execute`` runs it
    again). If the notebook is newer than its text source and differs from it, it may
    hold edits made in a notebook editor, so nothing is written and
    :class:`SyncConflict` says how to choose. ``from_notebook=True`` rewrites the text
    source from the notebook instead.
    """
    notebook = Path(notebook)
    contents = _read_notebook(notebook)
    text = text_source(notebook)
    if from_notebook:
        if text.is_file() and first_difference(notebook) is None:
            return f"{notebook.name}: in sync"
        _write_text(contents, notebook)
        return f"{notebook.name}: wrote {text.name} from the notebook"
    difference = first_difference(notebook)
    if difference is None:
        return f"{notebook.name}: in sync"
    if notebook.stat().st_mtime > text.stat().st_mtime:
        raise SyncConflict(
            f"{difference}. The notebook is newer than {text.name}, so it may hold "
            f"edits made in a notebook editor; nothing was written. To keep the text "
            f"source, `touch {text}` and sync again; to keep the notebook, run "
            f"`python -m vae_lib.notebooks sync --from-notebook {notebook}`"
        )
    contents.cells = _with_outputs(_read_text(notebook).cells, contents.cells)
    _write_notebook(contents, notebook)
    return f"{notebook.name}: copied the inputs of {text.name} into the notebook"
