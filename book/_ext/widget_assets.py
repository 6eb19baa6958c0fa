"""Sphinx extension: check that the site's JavaScript was fetched (ipywidgets and MathJax).

Widget pages load the files named in myst-nb's ``nb_ipywidgets_js`` from
``_static/`` of the built site, and every page with a formula loads
``mathjax_path`` from there.  They come from ``html_extra_path`` (see
_config.yml), filled by ``book/_scripts/fetch_widget_js.sh``.  If a file is
missing the page would silently show no widgets, or raw LaTeX, so warn instead
(which fails ``jupyter-book build -W``).  A ``mathjax_path`` that points off the
site (a CDN) is warned about too: the book must work offline.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _check(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    roots = [Path(app.confdir, p) for p in app.config.html_extra_path]
    roots += [Path(app.confdir, p) for p in app.config.html_static_path]
    wanted = list(app.config.nb_ipywidgets_js)
    mathjax = getattr(app.config, "mathjax_path", "") or ""
    if "://" in mathjax or mathjax.startswith("//"):
        logger.warning("mathjax_path %r is not served by the site (set it to mathjax/tex-mml-chtml.js)", mathjax,
                       type="resnet_lab", subtype="mathjax")
    elif mathjax:
        wanted.append(mathjax)
    for js in wanted:
        if "://" in js:
            continue
        if not any(root.joinpath("_static", js).is_file() or root.joinpath(js).is_file()
                   for root in roots):
            logger.warning(
                "site JS %r not found (run: bash book/_scripts/fetch_widget_js.sh)",
                js,
                type="resnet_lab",
                subtype="widget_js",
            )


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _check)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
