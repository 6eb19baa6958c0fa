#!/usr/bin/env bash
# fetch_widget_js.sh -- put the site's JavaScript into the book -- the ipywidgets
# bundle and MathJax -- so that the built HTML renders widgets and formulas with
# no kernel and no CDN (works offline).
#
# What it does
#   1. `npm pack`s three packages from the npm registry (the only network it needs;
#      it uses npm's own registry/proxy settings, nothing else) into a temp dir:
#        @jupyter-widgets/html-manager@$HTML_MANAGER_VERSION  (ipywidgets 8 <-> 1.x)
#        requirejs@$REQUIREJS_VERSION
#        mathjax@$MATHJAX_VERSION
#   2. copies into book/_widget_js/_static/widgets/ :
#        embed-amd.js  -- the AMD embed bundle. It defines @jupyter-widgets/base,
#                         /controls and /output (and html-manager's libembed)
#                         itself, so the built-in widgets never hit a CDN.
#        require.js    -- RequireJS (the npm package ships no require.min.js).
#        *.woff2 *.woff *.ttf *.eot *.svg -- Font Awesome files that the
#                         bundle's CSS references relative to embed-amd.js
#                         (only fetched by the browser when a widget uses icons).
#        VERSIONS.txt   -- what was copied, from which tarballs.
#      and into book/_widget_js/_static/mathjax/ MathJax's es5/ build: the
#      tex-mml-chtml.js combined component (Sphinx's mathjax_path, see _config.yml)
#      and the folders it loads from at run time (fonts, TeX extensions, menu).
#   It leaves require-config.js alone: that small file is tracked in git (it
#   points the bundle's asset URLs at this folder); it checks that the module
#   list in it names every module embed-amd.js defines (else the icon fonts of
#   the missing one would be asked for at the wrong URL).
#   The folder is a Sphinx `html_extra_path` (see _config.yml), so the files land
#   in _build/html/_static/widgets/ and myst-nb's `nb_ipywidgets_js` points the
#   widget pages at them. They are generated files: git ignores them.
#   NB: not under book/_static/ on purpose -- Jupyter Book adds *every* .js under
#   book/_static/ to *every* page.
#
# Idempotent: if the copies are present and VERSIONS.txt matches, it does nothing
# (pass --force to refetch). Exits non-zero if npm fails, so CI notices.
#
# Usage (from anywhere):  bash book/_scripts/fetch_widget_js.sh [--force]
set -euo pipefail

HTML_MANAGER_VERSION="${HTML_MANAGER_VERSION:-1.0.15}"
REQUIREJS_VERSION="${REQUIREJS_VERSION:-2.3.8}"
MATHJAX_VERSION="${MATHJAX_VERSION:-3.2.2}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$(cd "$here/.." && pwd)/_widget_js/_static/widgets"
mjdest="$(cd "$here/.." && pwd)/_widget_js/_static/mathjax"
stamp="html-manager=$HTML_MANAGER_VERSION requirejs=$REQUIREJS_VERSION mathjax=$MATHJAX_VERSION"

check_modules() {  # every define("@jupyter-widgets/...") of embed-amd.js must be mapped by require-config.js
  local missing=0 name
  for name in $(grep -o 'define("@jupyter-widgets/[^"]*"' "$dest/embed-amd.js" | cut -d'"' -f2 | sort -u); do
    grep -q "\"$name\"" "$dest/require-config.js" || { echo "fetch_widget_js.sh: require-config.js does not map $name" >&2; missing=1; }
  done
  return $missing
}

mkdir -p "$dest"
if [[ "${1:-}" != "--force" && -s "$dest/embed-amd.js" && -s "$dest/require.js" && -s "$mjdest/tex-mml-chtml.js" ]] \
   && [[ "$(head -n1 "$dest/VERSIONS.txt" 2>/dev/null)" == "$stamp" ]]; then
  echo "widget JS and MathJax already present ($stamp) in $dest, $mjdest"
  check_modules
  exit 0
fi

command -v npm >/dev/null || { echo "fetch_widget_js.sh: npm not found" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$tmp"
  npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" "requirejs@$REQUIREJS_VERSION" \
    "mathjax@$MATHJAX_VERSION" >/dev/null
  mkdir hm rq mj
  tar -xzf jupyter-widgets-html-manager-"$HTML_MANAGER_VERSION".tgz -C hm
  tar -xzf requirejs-"$REQUIREJS_VERSION".tgz -C rq
  tar -xzf mathjax-"$MATHJAX_VERSION".tgz -C mj
)

# clear earlier copies, but keep the tracked require-config.js
find "$dest" -maxdepth 1 -type f ! -name require-config.js -delete
cp "$tmp/hm/package/dist/embed-amd.js" "$dest/"
cp "$tmp"/hm/package/dist/*.{woff2,woff,ttf,eot,svg} "$dest/"
cp "$tmp/hm/package/LICENSE" "$dest/LICENSE.html-manager.txt" 2>/dev/null || true
cp "$tmp/hm/package/dist/embed.js.LICENSE.txt" "$dest/" 2>/dev/null || true
cp "$tmp/rq/package/require.js" "$dest/require.js"
# MathJax: the combined component and the folders it loads from (not the other combined components)
rm -rf "$mjdest"
mkdir -p "$mjdest"
cp "$tmp/mj/package/es5/tex-mml-chtml.js" "$mjdest/"
for d in a11y adaptors input output sre ui; do cp -r "$tmp/mj/package/es5/$d" "$mjdest/"; done
cp "$tmp/mj/package/LICENSE" "$mjdest/LICENSE.txt" 2>/dev/null || true
{
  echo "$stamp"
  echo "from npm: @jupyter-widgets/html-manager@$HTML_MANAGER_VERSION (dist/), requirejs@$REQUIREJS_VERSION (require.js)"
  echo "from npm: mathjax@$MATHJAX_VERSION (es5/, in ../mathjax/)"
} > "$dest/VERSIONS.txt"
check_modules
echo "widget JS ($stamp) copied to $dest:"
ls -1 "$dest"
echo "MathJax $MATHJAX_VERSION copied to $mjdest ($(du -sh "$mjdest" | cut -f1))"
