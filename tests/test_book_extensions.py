"""The book's own Sphinx extensions (book/_ext): author-year bibliography labels and
pages without unused scripts."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from pybtex.database import parse_string

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book" / "_ext"))

import author_year_bibliography
import offline_pages

BIB = r"""
@article{one, author = {Bishop, Christopher M.}, title = {A}, year = {2006}}
@article{two, author = {Kingma, Diederik P. and Welling, Max}, title = {B},
  year = {2014}}
@article{three, author = {Ball{\'e}, J. and Laparra, V. and Simoncelli, E.},
  title = {C}, year = {2017}}
@article{von, author = {van der Walt, S. and Sch{\"o}nberger, J.}, title = {D},
  year = {2014}}
@article{fourA, author = {Dabov, K. and Foi, A. and Katkovnik, V.}, title = {E},
  year = {2007}}
@article{fourB, author = {Dabov, K. and Foi, A. and Egiazarian, K.}, title = {F},
  year = {2007}}
"""


def test_labels_are_the_citations_as_the_text_writes_them():
    entries = list(parse_string(BIB, "bibtex").entries.values())
    labels = list(author_year_bibliography.AuthorYearLabels().format_labels(entries))
    assert labels == [
        "Bishop, 2006",
        "Kingma and Welling, 2014",
        "Ballé et al., 2017",
        "van der Walt and Schönberger, 2014",
        "Dabov et al., 2007a",
        "Dabov et al., 2007b",
    ]


def asset(filename, **attributes):
    return SimpleNamespace(filename=filename, attributes=attributes)


def test_pages_lose_thebe_the_widget_state_and_duplicates():
    keep = asset("mathjax.js")
    context = {
        "script_files": [
            keep,
            asset(None, body='const THEBE_JS_URL = "x"'),
            asset("sphinx-thebe.js"),
            asset(None, body='const THEBE_JS_URL = "x"'),
            asset(None, type=offline_pages.WIDGET_STATE, body="{}"),
            asset("mathjax.js"),
        ],
        "css_files": [asset("sphinx-thebe.css"), asset("book.css")],
    }
    offline_pages.drop_unused_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] == [keep]
    assert [c.filename for c in context["css_files"]] == ["book.css"]
