// Loaded by widget pages between require.js and embed-amd.js (see nb_ipywidgets_js
// in _config.yml). Tracked in git; the other files here come from
// book/_scripts/fetch_widget_js.sh.
//
// embed-amd.js is several AMD modules in one file (define("@jupyter-widgets/...")).
// EACH of them takes the base URL of its assets -- the Font Awesome fonts that
// its bundled widget CSS references -- from the RequireJS URI of its own module
// name (module.uri), which by default resolves against the *page's* folder
// (e.g. <site root>/@jupyter-widgets/controls.js -> fonts asked for at
// <site root>/@jupyter-widgets/<hash>.woff2, a 404). Which module's @font-face
// rule the page ends up using depends on the order they run in, so mapping only
// one of them (as before) fixed the URL only sometimes. Map every module the
// bundle defines to a file in THIS folder, so all of them agree, on every page
// depth. fetch_widget_js.sh checks that MODULES lists every define() name.
(function () {
  var MODULES = [
    "@jupyter-widgets/base",
    "@jupyter-widgets/base7",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/controls7",
    "@jupyter-widgets/html-manager",
    "@jupyter-widgets/html-manager/dist/libembed-amd",
  ];
  var src = document.currentScript && document.currentScript.src;
  if (!src || typeof window.require === "undefined") return;
  var here = src.split("?")[0].replace(/[^/]*$/, "");
  var paths = {};
  MODULES.forEach(function (name) {
    // module.uri becomes <here><last part>.js: its folder is this one
    paths[name] = here + name.split("/").pop();
  });
  window.require.config({ paths: paths });
  window.__jupyter_widgets_assets_path__ = here;
})();
