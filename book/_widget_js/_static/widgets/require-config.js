// Loaded by widget pages between require.js and embed-amd.js (see nb_ipywidgets_js
// in _config.yml). Tracked in git; the other files here come from
// book/_scripts/fetch_widget_js.sh.
//
// embed-amd.js takes the base URL of its assets (Font Awesome fonts used by the
// widget CSS) from the RequireJS URI of the module
// "@jupyter-widgets/html-manager/dist/libembed-amd", which by default resolves
// against the *page's* folder (-> 404s). Point it at this folder instead, on
// every page depth, using this script's own URL.
(function () {
  var src = document.currentScript && document.currentScript.src;
  if (!src || typeof window.require === "undefined") return;
  var here = src.split("?")[0].replace(/[^/]*$/, "");
  window.require.config({
    paths: { "@jupyter-widgets/html-manager/dist": here.replace(/\/$/, "") },
  });
  window.__jupyter_widgets_assets_path__ = here;
})();
