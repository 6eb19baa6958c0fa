#!/usr/bin/env bash
# fetch_cjk_font.sh -- serve the Chinese of the study notes quoted in the book with a web font from the site
# itself, so that it renders on machines without a CJK font (no CDN: the site stays offline).
#
# What it does
#   1. `npm pack`s @fontsource/noto-sans-sc@$NOTO_SANS_SC_VERSION from the npm registry (the only network it
#      needs; npm's own registry/proxy settings) into a temp dir. The package is Noto Sans SC (SIL OFL 1.1) as
#      ~100 woff2 files per weight, each with an @font-face rule and a unicode-range (Google Fonts' slicing).
#   2. scans the book for the CJK characters it uses (book/*.ipynb -- sources and outputs -- book/*.md, and
#      resnet_lab/book/*.py, which writes some of the pages' sentences) and keeps only the slices whose
#      unicode-range contains one of them, for the weights in $CJK_FONT_WEIGHTS (default 400: the only bold
#      CJK in the book is one character in a **bold** number, which the browser emboldens itself),
#      into book/_widget_js/_static/fonts/noto-sans-sc/ :
#        files/*.woff2     -- the slices, byte for byte as in the package
#        noto-sans-sc.css  -- just their @font-face rules, pointing at files/ by relative URL
#        LICENSE.txt       -- the font's licence (OFL 1.1)
#        VERSIONS.txt      -- what was copied, from which tarball; the characters
#      The folder is under a Sphinx `html_extra_path` (see _config.yml), so it lands in
#      _build/html/_static/fonts/noto-sans-sc/; _config.yml's html_css_files links the CSS from every page and
#      book/_static/cjk_font.css puts "Noto Sans SC" into the theme's font stacks. Generated files: git ignores
#      them. The work is done by book/_scripts/cjk_font.py (standard library only).
#
# Idempotent: does nothing if VERSIONS.txt matches and the CSS and files there cover every CJK character the book
# uses now (so a new character in the notebooks triggers a refetch); --force refetches. Exits non-zero if npm
# fails, so CI notices.
#
# Usage (from anywhere):  bash book/_scripts/fetch_cjk_font.sh [--force]
set -euo pipefail

NOTO_SANS_SC_VERSION="${NOTO_SANS_SC_VERSION:-5.2.9}"
CJK_FONT_WEIGHTS="${CJK_FONT_WEIGHTS:-400}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
book="$(cd "$here/.." && pwd)"
repo="$(cd "$book/.." && pwd)"
dest="$book/_widget_js/_static/fonts/noto-sans-sc"
stamp="noto-sans-sc=$NOTO_SANS_SC_VERSION weights=$CJK_FONT_WEIGHTS"
py="$repo/.venv/bin/python"
[[ -x "$py" ]] || py="$(command -v python3)"

shopt -s nullglob
sources=("$book"/*.ipynb "$book"/*.md "$repo"/resnet_lab/book/*.py)
shopt -u nullglob

mkdir -p "$dest"
if [[ "${1:-}" != "--force" ]] && [[ "$(head -n1 "$dest/VERSIONS.txt" 2>/dev/null)" == "$stamp" ]] \
   && "$py" "$here/cjk_font.py" check "$dest" "${sources[@]}"; then
  echo "CJK font already present ($stamp) in $dest"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch_cjk_font.sh: npm not found" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  npm pack --silent "@fontsource/noto-sans-sc@$NOTO_SANS_SC_VERSION" >/dev/null \
    || { echo "fetch_cjk_font.sh: npm pack @fontsource/noto-sans-sc@$NOTO_SANS_SC_VERSION failed" >&2; exit 1; }
  tgz=(*.tgz)
  [[ ${#tgz[@]} == 1 && -s "${tgz[0]}" ]] || { echo "fetch_cjk_font.sh: npm pack gave no tarball" >&2; exit 1; }
  mv "${tgz[0]}" noto-sans-sc.tgz
  mkdir pkg
  members=(package/LICENSE)
  for w in ${CJK_FONT_WEIGHTS//,/ }; do members+=("package/$w.css" "package/files/*-$w-normal.woff2"); done
  tar -xzf noto-sans-sc.tgz -C pkg --wildcards "${members[@]}"
)

# clear earlier copies (build() replaces files/), then copy and write the CSS
rm -f "$dest/noto-sans-sc.css" "$dest/VERSIONS.txt"
summary="$("$py" "$here/cjk_font.py" build "$tmp/pkg/package" "$dest" "$CJK_FONT_WEIGHTS" "${sources[@]}")"
cp "$tmp/pkg/package/LICENSE" "$dest/LICENSE.txt"
{
  echo "$stamp"
  echo "from npm: @fontsource/noto-sans-sc@$NOTO_SANS_SC_VERSION (<weight>.css, files/*-<weight>-normal.woff2)"
  echo "$summary"
  echo "characters: $("$py" "$here/cjk_font.py" chars "${sources[@]}")"
} > "$dest/VERSIONS.txt"
"$py" "$here/cjk_font.py" check "$dest" "${sources[@]}"
echo "CJK font ($stamp) copied to $dest: $summary ($(du -sh "$dest" | cut -f1) in all)"
