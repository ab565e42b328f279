"""The chapters' prose, read as text: maths that Markdown cannot break, and the book's
notation (one meaning per symbol, the table in book/intro.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("0*.myst.md"))
CODE_FENCE = re.compile(r"^(`{3,}|:{3,})")
LIST_MARKER = re.compile(r"^\s*([-+*]|\d+[.)])\s")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of a text source's Markdown, without code cells, other
    fenced blocks, display maths or the front matter."""
    lines = path.read_text(encoding="utf-8").splitlines()
    kept: list[tuple[int, str]] = []
    fence: str | None = None
    in_display = False
    in_front_matter = bool(lines) and lines[0] == "---"
    for number, line in enumerate(lines, start=1):
        if in_front_matter:
            in_front_matter = number == 1 or line != "---"
            continue
        stripped = line.strip()
        if fence is not None:
            if stripped == fence:
                fence = None
            continue
        opening = CODE_FENCE.match(stripped)
        if opening and not stripped.startswith(("```{math}",)):
            fence = opening.group(1)
            continue
        if stripped.startswith("$$"):
            single_line = stripped.endswith("$$") and len(stripped) > 2
            in_display = in_display != (not single_line)
            continue
        if in_display:
            continue
        kept.append((number, line))
    return kept


def inline_maths_line_starts(path: Path) -> list[tuple[int, str]]:
    """Lines that begin inside an open inline `$...$` span, per paragraph."""
    found: list[tuple[int, str]] = []
    open_span = False
    for number, line in prose_lines(path):
        if not line.strip():
            open_span = False  # a blank line ends the paragraph (and any span)
            continue
        if open_span:
            found.append((number, line))
        text = re.sub(r"`[^`]*`", "", line.replace(r"\$", ""))
        if text.count("$") % 2:
            open_span = not open_span
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_line_inside_inline_maths_reads_as_a_list_item(path):
    """A line that starts with `- ` inside `$...$` becomes a list item, and the
    paragraph's `$` pairs no longer match: the maths shows as raw LaTeX."""
    broken = [
        f"line {number}: {line.strip()[:60]}"
        for number, line in inline_maths_line_starts(path)
        if LIST_MARKER.match(line)
    ]
    assert not broken, f"{path.name}: inline maths broken by a list marker: {broken}"


def test_inline_maths_scanner_sees_a_wrapped_span(tmp_path):
    source = tmp_path / "x.myst.md"
    source.write_text("A sum $a\n- b$ ends here.\n\n$c$ and\n- a real item\n")
    assert [n for n, _ in inline_maths_line_starts(source)] == [2]


def maths(path: Path) -> str:
    """Every inline and display maths expression of a chapter's prose, joined."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```\{code-cell\}.*?```", "", text, flags=re.DOTALL)
    return "\n".join(re.findall(r"\$\$.*?\$\$|\$[^$\n]+\$", text, flags=re.DOTALL))


def chapter(number: int) -> Path:
    (path,) = BOOK.glob(f"{number:02d}_*.myst.md")
    return path


# symbol (as a regular expression over LaTeX) -> the chapters allowed to use it
RESERVED = {
    r"\\mathcal\{L\}": range(2, 8),  # the ELBO, defined in Chapter 2
    r"\\lambda\b": [1],  # eigenvalues of the data's covariance
    r"\\boldsymbol\{?\\sigma": [],  # the encoder's standard deviation is s, not sigma
    r"\\tau\b": [3],  # the Gumbel-softmax temperature
    r"\\psi\b": [3],  # the parameters of one Gaussian q
}


@pytest.mark.parametrize("symbol", sorted(RESERVED))
def test_each_reserved_symbol_keeps_its_one_meaning(symbol):
    users = [n for n in range(1, 8) if re.search(symbol, maths(chapter(n)))]
    strays = [n for n in users if n not in RESERVED[symbol]]
    assert not strays, (
        f"{symbol} used in chapters {strays}; the notation table allows "
        f"{list(RESERVED[symbol])}"
    )


def test_the_intro_has_the_notation_table():
    intro = (BOOK / "intro.md").read_text(encoding="utf-8")
    assert "### Notation" in intro
    for symbol in (
        r"\mathcal{L}",
        r"\lambda_1",
        r"\boldsymbol{\psi}",
        r"\tau",
        r"\sigma",
    ):
        assert symbol in intro, symbol


def test_the_teaching_table_counts_each_chapters_exercises():
    """The intro's "Teaching with this book" table says how many exercises each chapter
    has, and how many of them are auto-checked code (a starter cell each)."""
    intro = (BOOK / "intro.md").read_text(encoding="utf-8")
    section = intro[intro.index("(teaching)=") : intro.index("## Conventions")]
    rows = re.findall(
        r"^\| \[(\d)\. .*\| (\d+) \((\d+) / (\d+)\) \|$", section, re.MULTILINE
    )
    assert len(rows) == 7
    for number, total, code, written in rows:
        (source,) = BOOK.glob(f"0{number}_*.myst.md")
        text = source.read_text(encoding="utf-8")
        exercises = len(re.findall(r"^```\{exercise\}", text, re.MULTILINE))
        starters = len(re.findall(r"^:tags: \[exercise-starter\]", text, re.MULTILINE))
        assert (int(total), int(code), int(written)) == (
            exercises,
            starters,
            exercises - starters,
        ), source.name
