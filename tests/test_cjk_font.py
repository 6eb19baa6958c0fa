"""The CJK web font's pieces, on small synthetic inputs (no network, no build): book/_scripts/cjk_font.py finds
the CJK characters of a notebook, picks exactly the Noto Sans SC slices whose unicode-range holds one of them,
and writes a CSS whose rules point at the copied files; the book links that CSS and puts the font in its stacks."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "book" / "_scripts"


def _load():
    spec = importlib.util.spec_from_file_location("cjk_font", SCRIPTS / "cjk_font.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["cjk_font"] = mod  # before running it: its dataclass looks its module up there
    spec.loader.exec_module(mod)
    return mod


cjk_font = _load()

# A fontsource-like stylesheet: four slices of weight 400, one of 700, a Latin slice and another family.
CSS = """
/* noto-sans-sc-[1]-400-normal */
@font-face {
  font-family: 'Noto Sans SC';
  font-style: normal;
  font-display: swap;
  font-weight: 400;
  src: url(./files/s1-400.woff2) format('woff2'), url(./files/s1-400.woff) format('woff');
  unicode-range: U+4e00-4e0f,U+7684;
}
@font-face {
  font-family: 'Noto Sans SC';
  font-style: normal;
  font-weight: 400;
  src: url(./files/s2-400.woff2) format('woff2');
  unicode-range: U+5b66, U+ff0c;
}
@font-face {
  font-family: 'Noto Sans SC';
  font-style: normal;
  font-weight: 400;
  src: url(./files/s3-400.woff2) format('woff2');
  unicode-range: U+8f??;
}
@font-face {
  font-family: 'Noto Sans SC';
  font-style: normal;
  font-weight: 400;
  src: url(./files/s4-400.woff2) format('woff2');
  unicode-range: U+9000-90ff;
}
@font-face {
  font-family: 'Noto Sans SC';
  font-style: normal;
  font-weight: 700;
  src: url(./files/s1-700.woff2) format('woff2');
  unicode-range: U+4e00-4e0f,U+7684;
}
@font-face {
  font-family: 'Noto Sans SC';
  font-style: normal;
  font-weight: 400;
  src: url(./files/latin-400.woff2) format('woff2');
  unicode-range: U+0000-00ff,U+2000-206f;
}
@font-face {
  font-family: 'Other Sans';
  font-style: normal;
  font-weight: 400;
  src: url(./files/other.woff2) format('woff2');
  unicode-range: U+4e00-9fff;
}
"""


def _notebook(path: Path, ascii_json: bool = False) -> Path:
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {},
         "source": ["# A chapter\n", "\n", "> 一个残差的学习，很容易。\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["x = 1  # plain code, ±2 – …\n"],
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"text/markdown": ["36亿 multiply-adds"]}}]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, ensure_ascii=ascii_json), encoding="utf-8")
    return path


def test_scanner_finds_the_cjk_characters_of_a_notebook(tmp_path):
    nb = _notebook(tmp_path / "ch.ipynb")
    md = tmp_path / "notes.md"
    md.write_text("Only Latin here, and one quote: 「的」\n", encoding="utf-8")
    # the sources and the outputs; not ±, – or …
    assert cjk_font.cjk_chars([nb]) == set("一个残差的学习，很容易。亿")
    assert cjk_font.cjk_chars([nb, md]) == set("一个残差的学习，很容易。亿「」")
    # a notebook written with \\u escapes reads the same
    assert cjk_font.cjk_chars([_notebook(tmp_path / "ascii.ipynb", ascii_json=True)]) == cjk_font.cjk_chars([nb])
    assert not cjk_font.cjk_chars_in_text("ResNet-56, 3x3 conv, ±0.5 %, naïve, “quoted”")


def test_parse_unicode_range():
    assert cjk_font.parse_unicode_range("U+4e00-4e0f, U+7684,U+8F??") == [
        (0x4E00, 0x4E0F), (0x7684, 0x7684), (0x8F00, 0x8FFF)]
    with pytest.raises(ValueError):
        cjk_font.parse_unicode_range("U+zz")


def test_selection_picks_exactly_the_slices_that_cover_the_characters():
    faces = cjk_font.font_faces(CSS)
    assert len(faces) == 7
    # 一 (4e00) and 的 (7684) are in s1, 学 (5b66) and ， (ff0c) in s2, 过 (8fc7) in s3; nothing needs s4
    chars = set("一的学，过")
    picked = cjk_font.select_faces(faces, chars)
    assert [f.woff2() for f in picked] == ["./files/s1-400.woff2", "./files/s2-400.woff2", "./files/s3-400.woff2"]
    both = cjk_font.select_faces(faces, chars, weights=("400", "700"))
    assert [f.woff2() for f in both] == [
        "./files/s1-400.woff2", "./files/s2-400.woff2", "./files/s3-400.woff2", "./files/s1-700.woff2"]
    assert [f.woff2() for f in cjk_font.select_faces(faces, set("学"))] == ["./files/s2-400.woff2"]
    assert cjk_font.select_faces(faces, set()) == []
    # each picked slice covers something, and together they cover everything
    assert all(any(f.covers(c) for c in chars) for f in picked)
    assert all(any(f.covers(c) for f in picked) for c in chars)


def _package(root: Path) -> Path:
    (root / "files").mkdir(parents=True)
    (root / "400.css").write_text(CSS, encoding="utf-8")
    for name in ("s1-400", "s2-400", "s3-400", "s4-400", "latin-400", "s1-700", "other"):
        (root / "files" / f"{name}.woff2").write_bytes(name.encode() * 10)
        (root / "files" / f"{name}.woff").write_bytes(b"woff")
    return root


def test_build_copies_the_slices_and_writes_their_rules(tmp_path):
    pkg = _package(tmp_path / "package")
    dest = tmp_path / "site" / "fonts" / "noto-sans-sc"
    md = tmp_path / "a.md"
    md.write_text("一的学，", encoding="utf-8")
    (dest / "files").mkdir(parents=True)
    (dest / "files" / "stale.woff2").write_bytes(b"old")
    copied, chars = cjk_font.build(pkg, dest, ["400"], [md])
    assert chars == set("一的学，")
    assert sorted(p.name for p in (dest / "files").iterdir()) == ["s1-400.woff2", "s2-400.woff2"]  # stale gone
    assert (dest / "files" / "s1-400.woff2").read_bytes() == (pkg / "files" / "s1-400.woff2").read_bytes()
    css = (dest / cjk_font.CSS_NAME).read_text(encoding="utf-8")
    faces = cjk_font.font_faces(css)
    assert [(f.family, f.weight, f.urls) for f in faces] == [
        ("Noto Sans SC", "400", ["./files/s1-400.woff2"]), ("Noto Sans SC", "400", ["./files/s2-400.woff2"])]
    assert faces[0].ranges == [(0x4E00, 0x4E0F), (0x7684, 0x7684)]  # the package's ranges, as they were
    assert "http" not in css.replace("http://scripts.sil.org", "")  # relative URLs only
    assert cjk_font.uncovered(dest, [md]) == []
    # a new character outside the copied slices, or a missing file, is reported (the fetch script then refetches)
    md.write_text("一的学，过", encoding="utf-8")
    assert cjk_font.uncovered(dest, [md]) == ["characters not covered: 过"]
    (dest / "files" / "s2-400.woff2").unlink()
    assert cjk_font.uncovered(dest, [md])[0] == "file ./files/s2-400.woff2 missing"
    md.write_text("一丁", encoding="utf-8")
    assert cjk_font.main(["check", str(dest), str(md)]) == 1  # the file is still missing


def test_build_fails_when_no_slice_covers_a_character(tmp_path):
    pkg = _package(tmp_path / "package")
    md = tmp_path / "a.md"
    md.write_text("一 and 道", encoding="utf-8")  # 道 (9053) is in s4; ア (30a2) in no slice
    cjk_font.build(pkg, tmp_path / "ok", ["400"], [md])
    md.write_text("一ア", encoding="utf-8")
    with pytest.raises(SystemExit, match="ア"):
        cjk_font.build(pkg, tmp_path / "bad", ["400"], [md])


def test_the_book_links_the_font_css_and_puts_the_font_in_its_stacks():
    """_config.yml's html_css_files names the CSS the fetch script writes (served from the html_extra_path), and
    book/_static/cjk_font.css puts "Noto Sans SC" into the body and code font stacks, after local CJK fonts."""
    import re

    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))["sphinx"]["config"]
    assert "fonts/noto-sans-sc/noto-sans-sc.css" in config["html_css_files"]
    assert "_widget_js" in config["html_extra_path"]
    script = (SCRIPTS / "fetch_cjk_font.sh").read_text(encoding="utf-8")
    assert 'dest="$book/_widget_js/_static/fonts/noto-sans-sc"' in script
    css = (REPO / "book" / "_static" / "cjk_font.css").read_text(encoding="utf-8")
    stack = re.search(r"--resnet-lab-cjk-fonts:([^;]+);", css).group(1)
    assert stack.strip().endswith('"Noto Sans SC"') and "Microsoft YaHei" in stack
    for var in ("--pst-font-family-base", "--pst-font-family-monospace"):
        assert re.search(rf"{var}:[^;]*var\(--resnet-lab-cjk-fonts\)", css), var
    assert "url(" not in css and "@import" not in css  # nothing loaded from here, let alone from outside
