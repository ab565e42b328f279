"""Sphinx extension: the bibliography labelled the way the text cites.

The chapters cite author-year, "(Kingma and Welling, 2014)" (``bibtex_reference_style:
author_year``), but pybtex's plain style numbers the bibliography, [1], [2], so a reader
could not find a citation in the list by what the text says. This registers a pybtex
style, ``author_year``, whose labels are the citation itself: "Kingma and Welling,
2014", "Burda et al., 2016", "van der Walt et al., 2014", with a, b for works that
would share one; entries are sorted by author and year as in the plain style.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surnames(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    # "Ball{\\'e}" -> "Ballé": the surnames as a reader sees them
    names = [
        Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as(
            "text"
        )
        for person in people
    ]
    if not names:
        return entry.fields.get("organization", entry.key)
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Surname, Year", "A and B, Year", "A et al., Year" (a, b when shared)."""

    def format_labels(self, sorted_entries):
        labels = [
            f"{_surnames(entry)}, {entry.fields.get('year', '')}".strip(", ")
            for entry in sorted_entries
        ]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
