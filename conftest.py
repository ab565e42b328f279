"""pytest configuration shared by the unit tests and the notebook tests (nbval)."""


def pytest_collectstart(collector):
    """In notebooks, compare stdout and rich outputs of tagged cells, never stderr or
    HTML/JS: warnings and progress bars differ between machines."""
    path = getattr(collector, "path", None)
    if (
        path is not None
        and path.suffix == ".ipynb"
        and hasattr(collector, "skip_compare")
    ):
        collector.skip_compare += (
            "text/html",
            "application/javascript",
            "stderr",
            "application/vnd.jupyter.widget-view+json",
        )
