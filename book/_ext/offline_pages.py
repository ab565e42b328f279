"""Sphinx extension: every page of the book reads offline, without console errors.

Jupyter Book 1 always loads sphinx-thebe, which this book does not use (its launch
buttons are Binder and Colab), and whose configuration script lands twice on every page,
so that each page logged "Identifier 'THEBE_JS_URL' has already been declared". This
drops thebe's scripts and stylesheet from every page, and any script added twice.

It also drops the ipywidgets state that myst-nb copies from a notebook's metadata into
its page: no widget manager is loaded (``nb_ipywidgets_js: {}``), because the book's
explorers show their static face in HTML, so the state would only weigh the page down.
"""

from __future__ import annotations

from typing import Any

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _asset_key(asset: Any) -> tuple[str, str]:
    filename = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return filename, body


def drop_unused_scripts(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if not assets:
            continue
        kept, seen = [], set()
        for asset in assets:
            name, body = _asset_key(asset)
            if "thebe" in name.lower() or "thebe" in body.lower():
                continue
            if getattr(asset, "attributes", {}).get("type") == WIDGET_STATE:
                continue
            if (name, body) in seen:
                continue
            seen.add((name, body))
            kept.append(asset)
        assets[:] = kept


def setup(app):
    app.connect("html-page-context", drop_unused_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
