"""Sphinx extension: the book's runs, as the build sees them.

- From the start: nothing this build runs may train (``$RESNET_LAB_BOOK_BUILD=1``, inherited by the notebooks'
  kernels; ``RunStore.get_or_train`` refuses to train while it is set).
- Before the pages are read: if the README's figure (book/_static/fig6.png) was drawn from other records than
  those recorded now, redraw it, and rewrite the README's claims summary (at the book's default profile only), so
  the README cannot go stale.
- At the end of the build: list the runs the chapters ask for that are not recorded, each with the command that
  trains it. The book never trains (resnet_lab.book.run only reads records).
"""
from __future__ import annotations

import os

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _never_train(app: Sphinx, config) -> None:
    """Whatever the environment says, nothing run by this build trains: the notebooks' kernels inherit this
    variable, and ``RunStore.get_or_train`` refuses to train while it is set (a missing run is shown as missing)."""
    from resnet_lab.runs import BOOK_BUILD_VAR
    os.environ[BOOK_BUILD_VAR] = "1"


def _redraw_readme_figure(app: Sphinx) -> None:
    if os.environ.get("RESNET_LAB_PROFILE") or os.environ.get("RESNET_LAB_RUNS"):
        return  # a build at another profile or store must not redraw the README's picture
    from resnet_lab.book import status
    problem = status.readme_figure_problem()
    if problem:
        logger.info(f"resnet_lab: redrawing the README figure ({problem})")
        status.render_readme_figure()
    if status.write_readme_summary():
        logger.info("resnet_lab: rewrote the README's claims summary from the records")


def _report(app: Sphinx, exception) -> None:
    if exception is not None:
        return
    from resnet_lab.book import status
    try:
        logger.info("\n" + status.missing_report())
    except Exception as e:  # the list is a courtesy at the end of a finished build; never fail the build for it
        logger.info(f"\nresnet_lab: could not list the missing runs ({type(e).__name__}: {e})")


def setup(app: Sphinx):
    app.connect("config-inited", _never_train)
    app.connect("builder-inited", _redraw_readme_figure)
    app.connect("build-finished", _report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
