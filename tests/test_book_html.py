"""Checks on the built book (book/_build/html/*.html), page by page.

* no page shows the same image twice (same bytes: an inline data: URI or the file an <img> points to);
* every image in a page's content sits in a numbered figure with a caption (``{glue:figure}`` with ``:name:``);
* every table has a number and a caption (``book.table``: a MyST ``{table}``);
* no <script> or <link> points outside the site (the widget JavaScript and MathJax are served by the site);
* every figure and table with an id is the target of an internal link on its page (a {numref} in the prose);
* no list has more than 5 items in a row that state verdicts (a wall of verdicts belongs in a table).

Skips when the book is not built (``jupyter-book build book/``), unless ``RESNET_LAB_BOOK_HTML_REQUIRED=1``
(tools/test.sh sets it after its build). ``RESNET_LAB_BOOK_HTML`` overrides the folder.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
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


# ---- figures and tables are referred to by number; verdicts come in tables, not walls of bullets

VERDICT_WORDS = re.compile(r"\bjudged\b|\bdescribed\b|\bseed range\b|\bdifferences?\b|\bp\s*=|\bfindings?\b", re.I)
MAX_VERDICT_ITEMS = 5


def _in_widget(el) -> bool:
    return el.find_parent(class_=re.compile(r"widget-subarea|jupyter-widgets")) is not None


def unreferenced_targets(content) -> list[str]:
    """The ids of the figures and tables in ``content`` that no internal link on the page points to (an
    ``a.reference.internal`` whose href ends with ``#<id>``: what {numref} makes)."""
    fragments = {a["href"].rsplit("#", 1)[1] for a in content.select("a.reference.internal[href]") if "#" in a["href"]}
    ids = [el["id"] for el in content.find_all(["figure", "table"]) if el.get("id") and not _in_widget(el)]
    return [i for i in ids if i not in fragments]


def verdict_walls(content, limit: int = MAX_VERDICT_ITEMS) -> list[str]:
    """Lists with more than ``limit`` items in a row that state verdicts ('judged', 'described', 'seed range',
    'difference', 'p =', 'finding'): the first words of each such run."""
    walls = []
    for lst in content.find_all(["ul", "ol"]):
        run = []
        for li in lst.find_all("li", recursive=False) + [None]:
            if li is not None and VERDICT_WORDS.search(li.get_text(" ")):
                run.append(" ".join(li.get_text(" ").split())[:60])
                continue
            if len(run) > limit:
                walls.append(f"{len(run)} verdict items in a row, from {run[0]!r}")
            run = []
    return walls


def _known(page: Path) -> tuple[set[str], bool]:
    """The labels a page is known not to refer to yet, and whether it still has unnamed tables (auto ids 'id3'):
    tests/test_book_sources.py's temporary lists, for the pages being rewritten."""
    from test_book_sources import KNOWN_UNNAMED, KNOWN_UNREFERENCED
    nb = page.stem + ".ipynb"
    return set(KNOWN_UNREFERENCED.get(nb, ())), bool(KNOWN_UNNAMED.get(nb))


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_every_figure_and_table_is_referred_to_on_its_page(page):
    """A student reads "Fig. 3.2 shows ..." where the text discusses it: every numbered figure and table is the
    target of a {numref} on its own page (book/*.ipynb: tests/test_book_sources.py checks the sources)."""
    known, unnamed = _known(page)
    missing = [i for i in unreferenced_targets(_content(_soup(page)))
               if i not in known and not (unnamed and re.fullmatch(r"id\d+", i))]
    assert not missing, f"{page.name}: figures/tables no {{numref}} on the page points to: {missing}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_no_wall_of_verdicts(page):
    """More than five verdicts in a row belong in a table (pair, difference, uncertainty, verdict)."""
    walls = verdict_walls(_content(_soup(page)))
    assert not walls, f"{page.name}: {walls}"


# ---- the helpers above, on small pages (no build needed)

def _html(body: str):
    return _content(bs4.BeautifulSoup(f"<html><body><article>{body}</article></body></html>", "html.parser"))


def test_unreferenced_targets_finds_figures_and_tables_no_link_points_to():
    body = ('<p>As <a class="reference internal" href="#fig-a"><span>Fig. 1.1</span></a> shows, and '
            '<a class="reference internal" href="03_cifar.html#tab-b">Table 3.1</a>.</p>'
            '<figure id="fig-a"><img src="a.png"/></figure><table id="tab-b"></table>'
            '<figure id="fig-c"></figure><table id="id3"></table><table></table>'
            '<a class="reference external" href="https://x.org/#fig-c">not internal</a>'
            '<div class="widget-subarea"><table id="w1"></table></div>')
    assert unreferenced_targets(_html(body)) == ["fig-c", "id3"]
    assert unreferenced_targets(_html('<figure id="f"></figure><a class="reference internal" href="#f">1</a>')) == []


def test_verdict_walls_counts_verdict_items_in_a_row():
    item = "<li>resnet20 against plain20: {} -- one seed per net: described, not judged</li>"
    six = "".join(item.format(i) for i in range(6))
    assert verdict_walls(_html(f"<ul>{six}</ul>")) == [
        "6 verdict items in a row, from 'resnet20 against plain20: 0 -- one seed per net: described, '"]
    five = "".join(item.format(i) for i in range(5))
    assert verdict_walls(_html(f"<ul>{five}</ul>")) == []
    broken = five[:len(five) // 5 * 3] + "<li>Lowest error per net: 16.2%.</li>" + five
    assert verdict_walls(_html(f"<ol>{broken}</ol>")) == []  # 3, then 5: no run of 6
    assert len(verdict_walls(_html(f"<ul><li>x</li>{five}<li>p = 0.04</li></ul>"))) == 1  # 'p =' counts
    plain = "".join(f"<li>resnet{i}: 17.3%</li>" for i in range(8))
    assert verdict_walls(_html(f"<ul>{plain}</ul>")) == []  # a long list of plain numbers is not a wall of verdicts
    nested = f"<ul><li>outer<ul>{six}</ul></li></ul>"
    assert len(verdict_walls(_html(nested))) == 1  # the inner list, counted once


# ---- the Chinese of the quoted study notes is set in the site's own CJK font (book/_scripts/fetch_cjk_font.sh)

def _cjk_font_module():
    """book/_scripts/cjk_font.py: what counts as a CJK character, and the @font-face parser the fetch script uses."""
    import importlib.util
    import sys
    if "cjk_font" not in sys.modules:
        spec = importlib.util.spec_from_file_location("cjk_font", REPO / "book" / "_scripts" / "cjk_font.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["cjk_font"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["cjk_font"]


def _site_file(url: str, base: Path) -> Path | None:
    """The file a relative URL names (query and fragment dropped), or None for an absolute or data: URL."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (base / unquote(parts.path)).resolve()


def _stylesheets(soup, page: Path) -> list[Path]:
    """The site's CSS files a page loads: its <link rel="stylesheet">s and what they @import."""
    import re
    todo = [_site_file(link.get("href") or "", page.parent) for link in soup.find_all("link")
            if "stylesheet" in (link.get("rel") or [])]
    seen: list[Path] = []
    while todo:
        f = todo.pop(0)
        if f is None or f in seen or not f.is_file():
            continue
        seen.append(f)
        text = f.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"@import\s+(?:url\(\s*)?[\"']?([^\"')\s;]+)", text):
            todo.append(_site_file(m.group(1), f.parent))
    return seen


def cjk_font_problems(page: Path) -> list[str]:
    """Why the CJK characters of a built page might show as boxes on a machine without a CJK font: no stylesheet
    of the page declares Noto Sans SC @font-face rules, or none names the font outside them (in a font stack:
    book/_static/cjk_font.css), or a font file a rule names is not in the site, or a character is in no rule's
    unicode-range. [] if fine or no CJK."""
    import re
    cjk_font = _cjk_font_module()
    html = page.read_text(encoding="utf-8")
    chars = cjk_font.cjk_chars_in_text(html)
    if not chars:
        return []
    sheets = _stylesheets(bs4.BeautifulSoup(html, "html.parser"), page)
    faces, stacks, problems = [], False, []
    for sheet in sheets:
        text = sheet.read_text(encoding="utf-8", errors="replace")
        for face in cjk_font.font_faces(text):
            if face.family == cjk_font.FAMILY:
                faces.append(face)
                for url in face.urls:
                    f = _site_file(url, sheet.parent)
                    if f is None or not f.is_file():
                        problems.append(f"{sheet.name}: font file {url!r} is not in the site")
        rest = re.sub(r"@font-face\s*{[^}]*}", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))
        stacks |= bool(re.search(r"[\"']" + cjk_font.FAMILY + r"[\"']", rest))
    if not faces:
        return [f"shows {len(chars)} CJK characters but links no stylesheet declaring @font-face "
                f"{cjk_font.FAMILY!r} (run bash book/_scripts/fetch_cjk_font.sh, then build)"]
    if not stacks:
        problems.append(f"no stylesheet puts {cjk_font.FAMILY!r} into a font-family stack (book/_static/cjk_font.css)")
    missing = "".join(sorted(c for c in chars if not any(face.covers(c) for face in faces)))
    if missing:
        problems.append(f"CJK characters in no {cjk_font.FAMILY} unicode-range: {missing!r} "
                        "(bash book/_scripts/fetch_cjk_font.sh refetches when the book's characters change)")
    return problems


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name if p else "none")
def test_cjk_text_is_served_with_the_sites_font(page):
    """A page that shows Chinese (the study notes it quotes) links a stylesheet with Noto Sans SC @font-face rules
    whose files the site serves and whose unicode-ranges cover every CJK character of the page."""
    if page is None:
        _soup(page)  # fails: required but not built
    problems = cjk_font_problems(page)
    assert not problems, f"{page.name}: " + "; ".join(problems)


def test_cjk_font_problems_on_a_small_site(tmp_path):
    static = tmp_path / "_static"
    (static / "fonts" / "files").mkdir(parents=True)
    (static / "fonts" / "files" / "a.woff2").write_bytes(b"wOF2")
    (static / "fonts" / "sc.css").write_text(
        "@font-face { font-family: 'Noto Sans SC'; font-weight: 400; src: url(./files/a.woff2) format('woff2');\n"
        "  unicode-range: U+4e00-4e0f, U+3002; }\n", encoding="utf-8")
    (static / "stack.css").write_bytes((REPO / "book" / "_static" / "cjk_font.css").read_bytes())  # the book's
    page = tmp_path / "ch.html"
    links = ('<link rel="stylesheet" href="_static/fonts/sc.css?v=1234" />'
             '<link rel="stylesheet" href="_static/stack.css" />')
    page.write_text(f"<html><head>{links}</head><body><blockquote>一丁。</blockquote></body></html>",
                    encoding="utf-8")
    assert cjk_font_problems(page) == []
    page.write_text(f"<html><head>{links}</head><body>一丁。的</body></html>", encoding="utf-8")
    assert cjk_font_problems(page) == ["CJK characters in no Noto Sans SC unicode-range: '的' "
                                       "(bash book/_scripts/fetch_cjk_font.sh refetches when the book's characters "
                                       "change)"]
    (static / "fonts" / "files" / "a.woff2").unlink()
    page.write_text(f"<html><head>{links}</head><body>一</body></html>", encoding="utf-8")
    assert cjk_font_problems(page) == ["sc.css: font file './files/a.woff2' is not in the site"]
    page.write_text('<html><head><link rel="stylesheet" href="_static/stack.css" /></head><body>一</body></html>',
                    encoding="utf-8")
    assert "links no stylesheet declaring @font-face" in cjk_font_problems(page)[0]
    (static / "imports.css").write_text('@import url("fonts/sc.css");\n', encoding="utf-8")
    page.write_text('<html><head><link rel="stylesheet" href="_static/imports.css" /></head><body>一</body></html>',
                    encoding="utf-8")
    assert cjk_font_problems(page) == ["sc.css: font file './files/a.woff2' is not in the site",
                                       "no stylesheet puts 'Noto Sans SC' into a font-family stack "
                                       "(book/_static/cjk_font.css)"]
    page.write_text("<html><body>Latin only</body></html>", encoding="utf-8")
    assert cjk_font_problems(page) == []
