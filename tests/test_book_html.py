"""Checks on the built book (book/_build/html/*.html), page by page.

* no page shows the same image twice (same bytes: an inline data: URI or the file an <img> points to);
* every image in a page's content sits in a numbered figure with a caption (``{glue:figure}`` with ``:name:``);
* every table has a number and a caption (``book.table``: a MyST ``{table}``);
* no <script> or <link> points outside the site (the widget JavaScript and MathJax are served by the site).

Skips when the book is not built (``jupyter-book build book/``), unless ``RESNET_LAB_BOOK_HTML_REQUIRED=1``
(tools/test.sh sets it after its build). ``RESNET_LAB_BOOK_HTML`` overrides the folder.
"""
from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

bs4 = pytest.importorskip("bs4")

REPO = Path(__file__).resolve().parents[1]
HTML_ROOT = Path(os.environ.get("RESNET_LAB_BOOK_HTML", REPO / "book" / "_build" / "html"))
PAGES = sorted(p for p in HTML_ROOT.glob("*.html") if p.name not in ("genindex.html", "search.html"))
REQUIRED = os.environ.get("RESNET_LAB_BOOK_HTML_REQUIRED") == "1"


def _pages():
    if not PAGES:
        return [pytest.param(None, marks=pytest.mark.skipif(not REQUIRED, reason=f"book not built ({HTML_ROOT})"))]
    return PAGES


def _soup(page: Path | None):
    if page is None:
        pytest.fail(f"RESNET_LAB_BOOK_HTML_REQUIRED=1 but no built page in {HTML_ROOT}")
    return bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


def _content(soup):
    """The page's own content (not the theme's navigation)."""
    return soup.find("article") or soup.find("main") or soup


def _image_key(src: str, page: Path) -> str:
    """What identifies an image: the hash of its bytes (data: URI or local file), else its src."""
    if src.startswith("data:"):
        payload = src.split(",", 1)[-1]
        data = base64.b64decode(payload) if ";base64" in src.split(",", 1)[0] else unquote(payload).encode()
        return hashlib.sha256(data).hexdigest()
    parts = urlsplit(src)
    if not parts.scheme and not parts.netloc:
        f = (page.parent / unquote(parts.path)).resolve()
        if f.is_file():
            return hashlib.sha256(f.read_bytes()).hexdigest()
    return src


def _label(img) -> str:
    fig = img.find_parent("figure")
    cap = fig.find("figcaption") if fig else None
    return (cap.get_text(" ", strip=True)[:60] if cap else img.get("alt", "")) or img.get("src", "")[:60]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_no_image_shown_twice(page):
    soup = _soup(page)
    seen: dict[str, str] = {}
    twice = []
    for img in _content(soup).find_all("img"):
        src = img.get("src") or ""
        if not src:
            continue
        key = _image_key(src, page)
        if key in seen:
            twice.append(f"{_label(img)!r} repeats {seen[key]!r}")
        else:
            seen[key] = _label(img)
    assert not twice, f"{page.name}: the same image appears more than once: {twice}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_every_figure_has_a_number_and_a_caption(page):
    soup = _soup(page)
    content = _content(soup)
    bad = []
    for img in content.find_all("img"):
        fig = img.find_parent("figure")
        if fig is None:
            bad.append(f"image outside a figure (no number, no caption): {img.get('src', '')[:60]!r}")
            continue
    for fig in content.find_all("figure"):
        problem = _caption_problem(fig.find("figcaption"))
        if problem:
            bad.append(f"figure {fig.get('id')!r}: {problem} (a {{glue:figure}} needs a :name: and a caption)")
    assert not bad, f"{page.name}: " + "; ".join(bad)


def _caption_problem(cap) -> str | None:
    """What is wrong with a figure's or table's caption element: missing, unnumbered, or only its number."""
    text = cap.get_text(" ", strip=True) if cap else ""
    number = cap.find(class_="caption-number") if cap else None
    if not text:
        return "no caption"
    if number is None:
        return f"no number: {text[:50]!r}"
    if len(text) - len(number.get_text(strip=True)) < 10:
        return "caption is only its number"
    return None


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_no_script_or_link_leaves_the_site(page):
    soup = _soup(page)
    outside = []
    for tag, attr in (("script", "src"), ("link", "href")):
        for el in soup.find_all(tag):
            url = el.get(attr)
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                outside.append(f"<{tag} {attr}={url!r}>")
    assert not outside, f"{page.name} loads from outside the site: {outside}"



@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_every_table_has_a_number_and_a_caption(page):
    """Tables come from ``book.table`` or a MyST ``{table}``: 'Table 3.2 ...' above each, never a bare DataFrame."""
    content = _content(_soup(page))
    bad = []
    for t in content.find_all("table"):
        if t.find_parent(class_="widget-subarea"):
            continue  # a widget's own layout
        problem = _caption_problem(t.find("caption"))
        if problem:
            bad.append(f"table {t.get_text(' ', strip=True)[:60]!r}: {problem} (use book.table)")
    assert not bad, f"{page.name}: " + "; ".join(bad)


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_prose_names_nets_as_the_paper_does(page):
    """'ResNet-56' and 'plain-20' in prose, captions and tables; 'resnet56' only in code (book/_ext/paper_names.py)."""
    import re
    content = _content(_soup(page))
    for el in content.find_all(["pre", "code", "script", "style", "math"]):
        el.decompose()
    for el in content.find_all(class_=re.compile(r"widget|jupyter-widgets|output_area|math")):
        el.decompose()
    hits = re.findall(r".{0,30}\b(?:resnet|plain)\d+\b(?!-).{0,20}", content.get_text(" "))
    assert not hits, f"{page.name}: the code's net names in prose: {hits[:5]}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_no_page_calls_a_difference_a_finding(page):
    """The book's rule (resnet_lab.stats.RULE, stated in the glossary): a difference is judged only with 3+ seeds
    per net, by a stated test, and the words for it are 'difference' / 'no difference shown'; a one-seed
    difference is 'described, not judged'. The old yardstick's words ('a finding', 'no finding') appear nowhere."""
    import re
    text = " ".join(_content(_soup(page)).get_text(" ").split())
    hits = re.findall(r".{0,60}\b(?:a|no) finding\b.{0,20}|.{0,60}\bfindings\b(?! ?,? summarised).{0,20}", text,
                      flags=re.I)
    hits = [h for h in hits if "reported findings" not in h]  # Veit et al.'s, quoted (chapter 6)
    assert not hits, f"{page.name}: {hits[:3]}"
