"""The book's CJK web font: which characters the book uses, and which Noto Sans SC subset files cover them.

Used by ``book/_scripts/fetch_cjk_font.sh`` (which ``npm pack``s ``@fontsource/noto-sans-sc``) and by the tests
(``tests/test_cjk_font.py``, ``tests/test_book_html.py``). Standard library only.

Fontsource ships Noto Sans SC as ~100 woff2 files per weight, each declared by an ``@font-face`` rule with a
``unicode-range`` (Google Fonts' slicing: the most frequent characters share a few slices). This module keeps
only the rules whose range contains a character the book uses, copies their woff2 files and writes one CSS file
with those rules, pointing at the copies by relative URL (the site serves them itself; nothing from a CDN).
A browser downloads a slice only when a page shows a character in its range, and only if no font listed
before "Noto Sans SC" in the page's font stack has the glyph (book/_static/cjk_font.css).

Command line (paths relative to the current directory):
  python cjk_font.py chars SOURCE...                   print the CJK characters the sources use
  python cjk_font.py build PACKAGE DEST WEIGHTS SOURCE...   copy the slices + write DEST/noto-sans-sc.css
  python cjk_font.py check DEST SOURCE...              exit 1 unless DEST's CSS and files cover the sources
WEIGHTS is a comma-separated list such as ``400`` or ``400,700``.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

FAMILY = "Noto Sans SC"
CSS_NAME = "noto-sans-sc.css"

# Unicode blocks of CJK text: radicals, CJK symbols and punctuation (、。「」), kana, bopomofo, Hangul compatibility
# jamo, enclosed CJK and compatibility, the unified ideographs (extension A, the URO, extensions B-H), compatibility
# ideographs, vertical forms, CJK compatibility forms, halfwidth and fullwidth forms (，；：？（）).
CJK_BLOCKS = (
    (0x2E80, 0x2FDF), (0x2FF0, 0x2FFF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x312F), (0x3130, 0x318F),
    (0x3190, 0x31FF), (0x3200, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFE10, 0xFE1F),
    (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x323AF),
)


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_BLOCKS)


def cjk_chars_in_text(text: str) -> set[str]:
    return {ch for ch in set(text) if is_cjk(ch)}


def _strings(obj):
    """Every string in a parsed JSON document (a notebook's sources, outputs and metadata)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def cjk_chars(paths) -> set[str]:
    """The CJK characters in the given files: a notebook is parsed as JSON (so ``\\u4e00`` escapes count), any
    other file is read as UTF-8 text."""
    chars: set[str] = set()
    for path in map(Path, paths):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join(_strings(json.loads(text)))
        chars |= cjk_chars_in_text(text)
    return chars


def parse_unicode_range(value: str) -> list[tuple[int, int]]:
    """``U+4E00-4E0F, U+3001, U+4??`` -> ``[(0x4E00, 0x4E0F), (0x3001, 0x3001), (0x400, 0x4FF)]``."""
    ranges = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"[uU]\+([0-9a-fA-F?]{1,6})(?:-([0-9a-fA-F]{1,6}))?", part)
        if not m:
            raise ValueError(f"bad unicode-range item {part!r}")
        lo, hi = m.group(1), m.group(2)
        if "?" in lo:
            if hi:
                raise ValueError(f"bad unicode-range item {part!r}")
            ranges.append((int(lo.replace("?", "0"), 16), int(lo.replace("?", "F"), 16)))
        else:
            ranges.append((int(lo, 16), int(hi or lo, 16)))
    return ranges


@dataclass
class FontFace:
    family: str
    weight: str
    style: str
    urls: list[str]          # in the order of src:
    formats: list[str]       # format('...') of each url ('' if none)
    ranges: list[tuple[int, int]]  # [] = no unicode-range: covers everything the font has
    body: str                # the rule's declarations, as written

    def covers(self, ch: str) -> bool:
        cp = ord(ch)
        return not self.ranges or any(lo <= cp <= hi for lo, hi in self.ranges)

    def woff2(self) -> str | None:
        for url, fmt in zip(self.urls, self.formats):
            if fmt == "woff2" or url.split("?")[0].endswith(".woff2"):
                return url
        return None


def _decl(body: str, name: str) -> str:
    m = re.search(rf"(?:^|;|{{)\s*{name}\s*:\s*([^;]+)", body, flags=re.I)
    return m.group(1).strip() if m else ""


def font_faces(css: str) -> list[FontFace]:
    """The @font-face rules of a stylesheet (comments dropped)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    faces = []
    for m in re.finditer(r"@font-face\s*{([^}]*)}", css, flags=re.I):
        body = m.group(1)
        src = _decl(body, "src")
        urls, formats = [], []
        url_format = r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)(?:\s*format\(\s*['\"]?([^'\")]+)['\"]?\s*\))?"
        for item in re.finditer(url_format, src):
            urls.append(item.group(2))
            formats.append(item.group(3) or "")
        ur = _decl(body, "unicode-range")
        faces.append(FontFace(
            family=_decl(body, "font-family").strip("'\""),
            weight=_decl(body, "font-weight") or "400",
            style=_decl(body, "font-style") or "normal",
            urls=urls, formats=formats,
            ranges=parse_unicode_range(ur) if ur else [],
            body=body,
        ))
    return faces


def select_faces(faces, chars, weights=("400",), style="normal", family=FAMILY) -> list[FontFace]:
    """The rules of ``family`` in ``weights`` and ``style`` whose unicode-range contains at least one of ``chars``
    (in their order in the stylesheet)."""
    weights = {str(w) for w in weights}
    return [f for f in faces
            if f.family == family and f.weight in weights and f.style == style and any(f.covers(c) for c in chars)]


def _range_text(ranges) -> str:
    return ",".join(f"U+{lo:04x}" if lo == hi else f"U+{lo:04x}-{hi:04x}" for lo, hi in ranges)


def build(package: Path, dest: Path, weights, sources) -> tuple[list[Path], set[str]]:
    """Copy the woff2 slices of ``package`` (an unpacked @fontsource/noto-sans-sc: ``<weight>.css`` and
    ``files/``) that the sources' CJK characters need into ``dest/files/`` and write ``dest/noto-sans-sc.css``.
    Returns the copied files and the characters. Clears earlier copies in ``dest/files``."""
    package, dest = Path(package), Path(dest)
    chars = cjk_chars(sources)
    files_dir = dest / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)
    files_dir.mkdir(parents=True)
    rules, copied, selected = [], [], []
    for w in weights:
        css_path = package / f"{w}.css"
        faces = select_faces(font_faces(css_path.read_text(encoding="utf-8")), chars, weights=(w,))
        for face in faces:
            url = face.woff2()
            if url is None:
                raise SystemExit(f"cjk_font.py: no woff2 in {css_path}: {face.body.strip()[:80]}")
            src = (css_path.parent / url).resolve()
            target = files_dir / src.name
            shutil.copyfile(src, target)
            copied.append(target)
            selected.append(face)
            used = "".join(sorted(c for c in chars if face.covers(c)))
            rules.append(
                f"/* {src.name}: {used} */\n"
                "@font-face {\n"
                f"  font-family: '{FAMILY}';\n"
                f"  font-style: {face.style};\n"
                "  font-display: swap;\n"
                f"  font-weight: {face.weight};\n"
                f"  src: url(./files/{src.name}) format('woff2');\n"
                f"  unicode-range: {_range_text(face.ranges)};\n"
                "}\n")
    missing = sorted(c for c in chars if not any(f.covers(c) for f in selected))
    if missing:
        raise SystemExit(f"cjk_font.py: no Noto Sans SC slice covers {''.join(missing)!r}")
    header = ('@charset "UTF-8";\n'
              "/* Noto Sans SC (SIL Open Font License 1.1, see LICENSE.txt): the woff2 slices of\n"
              "   @fontsource/noto-sans-sc whose unicode-range contains a character of the book.\n"
              f"   Generated by book/_scripts/fetch_cjk_font.sh: {len(chars)} characters, {len(copied)} files.\n"
              "   Do not edit. */\n\n")
    (dest / CSS_NAME).write_text(header + "\n".join(rules), encoding="utf-8")
    return copied, chars


def uncovered(dest: Path, sources) -> list[str]:
    """What is wrong with ``dest`` for the sources: characters no rule of its CSS covers, files it names that are
    missing. Empty when the fetched font serves the book as it is now."""
    css = Path(dest) / CSS_NAME
    if not css.is_file():
        return [f"{css} missing"]
    faces = [f for f in font_faces(css.read_text(encoding="utf-8")) if f.family == FAMILY]
    problems = [f"file {u} missing" for f in faces for u in f.urls if not (css.parent / u).is_file()]
    chars = cjk_chars(sources)
    missing = "".join(sorted(c for c in chars if not any(f.covers(c) for f in faces)))
    if missing:
        problems.append(f"characters not covered: {missing}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "chars":
        print("".join(sorted(cjk_chars(argv[1:]))))
        return 0
    if len(argv) >= 4 and argv[0] == "build":
        package, dest, weights, sources = Path(argv[1]), Path(argv[2]), argv[3].split(","), argv[4:]
        copied, chars = build(package, dest, weights, sources)
        size = sum(p.stat().st_size for p in copied)
        print(f"{len(chars)} CJK characters in {len(sources)} files -> {len(copied)} woff2 files, {size} bytes")
        return 0
    if len(argv) >= 2 and argv[0] == "check":
        problems = uncovered(Path(argv[1]), argv[2:])
        for p in problems:
            print(f"cjk_font.py: {p}", file=sys.stderr)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
