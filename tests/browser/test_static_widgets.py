"""Browser test: the ipywidgets and the formulas of the *static* built book work offline, without a kernel.

Serves the built HTML (``book/_build/html``) from a local ``http.server`` on
127.0.0.1, opens a page holding a :func:`resnet_lab.widgets.static_explorer`
in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright),
and checks that

* the widget renders (from the widget state embedded in the page),
* moving the depth slider (keyboard, ArrowRight on the focused handle) changes
  the shown view, and so does clicking the other ToggleButton,
* no request leaves localhost (widget JS and MathJax are served by the built site;
  every other host is blocked and any attempt fails the test), and no request
  fails (e.g. a 404 for the widget bundle's fonts),
* every @font-face rule the widget CSS installs points into the site's widget
  folder (the icon fonts are then found whatever order the bundle's modules run in),

and that a page with formulas has them typeset by the site's own MathJax.

Skips (does not fail) when the built HTML, the Python package ``playwright`` or
the Chromium binary is absent. Environment variables:

``RESNET_LAB_WIDGET_PAGE``  page to open, relative to the HTML root
                            (default ``04_layer_responses.html``, the chapter with the depth explorer)
``RESNET_LAB_MATH_PAGE``    page with formulas (default ``02_residual_learning.html``)
``RESNET_LAB_BOOK_HTML``    the built HTML folder (default ``book/_build/html``)
``RESNET_LAB_CHROMIUM``     browser binary (default ``/usr/bin/chromium``)
``RESNET_LAB_WIDGET_SCREENSHOT``  if set, save a screenshot of the page there
``RESNET_LAB_BROWSER_REQUIRED``   if ``1``, fail instead of skipping (CI)

Run it with ``.ci/browser-test.sh`` (installs what is missing and builds first).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
HTML_ROOT = Path(os.environ.get("RESNET_LAB_BOOK_HTML", REPO / "book" / "_build" / "html"))
PAGE = os.environ.get("RESNET_LAB_WIDGET_PAGE", "04_layer_responses.html")
MATH_PAGE = os.environ.get("RESNET_LAB_MATH_PAGE", "02_residual_learning.html")
CHROMIUM = os.environ.get("RESNET_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRED = os.environ.get("RESNET_LAB_BROWSER_REQUIRED") == "1"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# the 3.6 MB widget bundle is parsed on a possibly busy CPU: be generous
RENDER_TIMEOUT_MS = 90_000


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"RESNET_LAB_BROWSER_REQUIRED=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site_url():
    if not (HTML_ROOT / PAGE).is_file():
        _unavailable(f"built book page {HTML_ROOT / PAGE} not found (jupyter-book build book/)")
    handler = functools.partial(_QuietHandler, directory=str(HTML_ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep pytest output clean
        pass


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("playwright not installed (pip install playwright)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


# The currently shown view of the first explorer on the page: StackView keeps
# only the selected child in the DOM, but check visibility anyway.
_SHOWN_VIEW_JS = """
() => {
  const box = document.querySelector('.resnet-lab-explorer');
  if (!box) return null;
  const shown = [...box.querySelectorAll('.rl-view')].filter(
    el => el.offsetParent !== null && el.getClientRects().length > 0);
  if (shown.length !== 1) return {count: shown.length};
  const el = shown[0];
  const img = el.tagName === 'IMG' ? el : el.querySelector('img');
  const cls = [...el.classList].find(c => c.startsWith('rl-view-')) || '';
  return {count: 1, cls: cls, src: img ? img.src : null,
          text: el.innerText.trim(), loaded: img ? img.naturalWidth > 0 : null};
}
"""


# Every url(...) in every @font-face rule of the page's style sheets, resolved against the sheet's base.
_FONT_FACE_URLS_JS = """
() => {
  const out = [];
  for (const sheet of document.styleSheets) {
    let rules;
    try { rules = sheet.cssRules; } catch (e) { continue; }
    for (const r of rules) {
      if (r.type !== CSSRule.FONT_FACE_RULE) continue;
      const src = r.style.getPropertyValue('src');
      for (const m of src.matchAll(/url\\(["']?([^"')]+)["']?\\)/g)) {
        if (m[1].startsWith('data:')) continue;
        out.push(new URL(m[1], sheet.href || document.baseURI).href);
      }
    }
  }
  return out;
}
"""


def _shown(page):
    return page.evaluate(_SHOWN_VIEW_JS)


def _wait_change(page, before, timeout_ms=30_000):
    """Wait until the shown view differs from ``before``; return the new one."""
    page.wait_for_function(
        f"""(before) => {{
              const v = ({_SHOWN_VIEW_JS})();
              return v && v.count === 1 && (v.cls !== before.cls || v.src !== before.src);
            }}""",
        arg=before,
        timeout=timeout_ms,
    )
    return _shown(page)


def test_static_widgets_interactive_offline(browser, site_url):
    context, page, requests, failed = _offline_page(browser)
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" else None
    )
    try:
        page.goto(site_url + PAGE, wait_until="load")
        explorer = page.locator(".resnet-lab-explorer").first
        explorer.wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
        slider = explorer.locator(".rl-depth")
        handle = slider.locator(".noUi-handle").first
        handle.wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
        page.wait_for_function(
            f"() => {{ const v = ({_SHOWN_VIEW_JS})(); return v && v.count === 1"
            " && (v.src === null || v.loaded); }",
            timeout=RENDER_TIMEOUT_MS,
        )

        readout = slider.locator(".widget-readout")
        first = _shown(page)
        depth0 = readout.inner_text().strip()
        kind0 = explorer.locator(".rl-kind button.mod-active").inner_text().strip()
        assert first["cls"].endswith(f"-{depth0}-{kind0}"), first
        assert first["src"], f"first view should be an image: {first}"
        assert first["src"].startswith(("data:", "blob:")), first["src"][:40]

        # 1) slider: keyboard on the focused handle -> next depth
        handle.focus()
        page.keyboard.press("ArrowRight")
        after_slider = _wait_change(page, first)
        depth1 = readout.inner_text().strip()
        assert depth1 != depth0, "slider readout did not move"
        assert after_slider["cls"] == f"rl-view-{depth1}-{kind0}", after_slider
        assert after_slider["src"] != first["src"]

        # 2) toggle buttons: click another kind
        buttons = explorer.locator(".rl-kind button")
        assert buttons.count() >= 2, "need at least two kinds to toggle"
        other = next(
            i for i in range(buttons.count()) if buttons.nth(i).inner_text().strip() != kind0
        )
        kind1 = buttons.nth(other).inner_text().strip()
        buttons.nth(other).click()
        after_toggle = _wait_change(page, after_slider)
        assert after_toggle["cls"] == f"rl-view-{depth1}-{kind1}", after_toggle
        assert (after_toggle["src"], after_toggle["text"]) != (
            after_slider["src"],
            after_slider["text"],
        )

        # the widget bundle's icon fonts (hashed names, served from _static/widgets/) -- not the theme's own
        widget_fonts = {f.name for f in (HTML_ROOT / "_static" / "widgets").iterdir()
                        if f.suffix in (".woff2", ".woff", ".ttf", ".eot", ".svg")}
        bad_fonts = [u for u in page.evaluate(_FONT_FACE_URLS_JS)
                     if u.split("?")[0].rsplit("/", 1)[-1] in widget_fonts
                     and not u.startswith(site_url + "_static/widgets/")]
        shot = os.environ.get("RESNET_LAB_WIDGET_SCREENSHOT")
        if shot:
            explorer.scroll_into_view_if_needed()
            page.screenshot(path=shot)
    finally:
        context.close()

    assert not _foreign(requests), f"page requested URLs outside the site: {_foreign(requests)}"
    assert not failed, f"failed requests (missing widget assets?): {failed}"
    assert not bad_fonts, f"@font-face rules pointing outside {site_url}_static/widgets/: {bad_fonts}"
    widget_errors = [e for e in errors if "widget" in e.lower() or "require" in e.lower()]
    assert not widget_errors, f"widget JS errors in the console: {widget_errors}"


def _foreign(requests):
    return sorted({u for u in requests if u.startswith("http") and urlsplit(u).hostname not in LOCAL_HOSTS})


def _offline_page(browser):
    """A page in a context that lets only the local site through; returns (context, page, requests, failed)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    requests: list[str] = []

    def guard(route):
        url = route.request.url
        requests.append(url)
        if urlsplit(url).hostname in LOCAL_HOSTS or not url.startswith("http"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return context, page, requests, failed


def test_formulas_typeset_offline(browser, site_url):
    if not (HTML_ROOT / MATH_PAGE).is_file():
        _unavailable(f"built book page {HTML_ROOT / MATH_PAGE} not found")
    context, page, requests, failed = _offline_page(browser)
    try:
        page.goto(site_url + MATH_PAGE, wait_until="load")
        formulas = page.evaluate("() => document.querySelectorAll('.math').length")
        assert formulas > 0, f"{MATH_PAGE} has no formulas to typeset (set RESNET_LAB_MATH_PAGE to a page with some)"
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
            " && document.querySelectorAll('mjx-container').length > 0",
            timeout=RENDER_TIMEOUT_MS)
        page.evaluate("() => MathJax.startup.promise")
        typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
        raw = page.evaluate("() => [...document.querySelectorAll('.math')].filter("
                            "el => !el.querySelector('mjx-container')).length")
        mathjax_src = page.evaluate("() => [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s))")
    finally:
        context.close()
    assert mathjax_src and all(s.startswith(site_url) for s in mathjax_src), mathjax_src
    assert typeset > 0 and raw == 0, f"{typeset} formulas typeset, {raw} left as raw LaTeX"
    assert not _foreign(requests), f"page requested URLs outside the site: {_foreign(requests)}"
    assert not failed, f"failed requests: {failed}"
