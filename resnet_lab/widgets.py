"""Widgets that keep working in the static (kernel-less) HTML book.

The book is built by Jupyter Book / myst-nb, which executes each notebook with
nbclient and stores the *widget state* (every model's traits, PNG bytes
included) in the notebook metadata.  The built page then re-creates the
widgets in the browser with ``@jupyter-widgets/html-manager``.  There is no
kernel there, so any behaviour has to live in the browser: Python callbacks
(``observe``, ``interact``) do nothing on the static page.

:func:`static_explorer` therefore pre-renders every view and wires the
controls together with :func:`ipywidgets.jslink` only:

* a ``SelectionSlider`` over depths whose ``index`` is jslinked to the
  ``selected_index`` of one inner ``Stack`` per kind (each inner Stack holds one
  ``Image`` per depth, or a small HTML note when the view is missing);
* ``ToggleButtons`` over kinds whose ``index`` is jslinked to the
  ``selected_index`` of an outer ``Stack`` holding those inner Stacks.

Each view carries the DOM classes ``rl-view`` and ``rl-view-<depth>-<kind>``
(and the explorer ``resnet-lab-explorer``), which the browser test uses.
"""

from __future__ import annotations

import html
import io
import re
import sys
from typing import Any, Mapping, Sequence

import ipywidgets as widgets

__all__ = ["static_explorer", "figure_to_png"]

#: resolution used when a matplotlib Figure has to be rendered to PNG
PNG_DPI = 80


def figure_to_png(fig: Any, dpi: int = PNG_DPI) -> bytes:
    """Render a matplotlib Figure to PNG bytes (and close it if pyplot owns it).

    Closing matters in a notebook: a pyplot figure still open at the end of a
    cell is also displayed by the inline backend, i.e. it would appear twice.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)
    return buf.getvalue()


def _as_png(view: Any) -> bytes:
    if isinstance(view, (bytes, bytearray, memoryview)):
        return bytes(view)
    if hasattr(view, "savefig"):
        return figure_to_png(view)
    raise TypeError(
        f"a view must be a matplotlib Figure or PNG bytes, not {type(view).__name__}"
    )


def _css_token(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(value))


def static_explorer(
    views: Mapping[tuple[int, str], Any],
    depths: Sequence[int],
    kinds: Sequence[str],
    title: str = "",
    missing: str = "not recorded",
    notes: Mapping[tuple[int, str], str] | None = None,
) -> widgets.Widget:
    """A depth slider x kind toggle explorer that works without a kernel.

    :param views: ``views[(depth, kind)]`` is a matplotlib Figure or PNG bytes;
        missing keys are shown as a small note containing ``missing``.
    :param depths: slider positions, in order (labels are ``str(depth)``).
    :param kinds: toggle buttons, in order (e.g. ``["plain", "residual"]``).
    :param title: optional heading shown above the controls.
    :param missing: text of the note for a missing view.
    :param notes: ``notes[(depth, kind)]`` replaces ``missing`` for that one view (e.g. why a net is not trained).
    :returns: a ``VBox`` to display (it must be the cell's displayed output, or
        passed to ``display``, for its state to end up in the built page).
    """
    depths = list(depths)
    kinds = list(kinds)
    if not depths or not kinds:
        raise ValueError("static_explorer needs at least one depth and one kind")
    unknown = [k for k in views if k not in {(d, kd) for d in depths for kd in kinds}]
    if unknown:
        raise KeyError(f"views has keys outside depths x kinds: {unknown!r}")

    inner_stacks = []
    for kind in kinds:
        children = []
        for depth in depths:
            key = (depth, kind)
            if key in views and views[key] is not None:
                child = widgets.Image(
                    value=_as_png(views[key]),
                    format="png",
                    layout=widgets.Layout(max_width="100%", height="auto"),
                )
            else:
                child = widgets.HTML(
                    value=(
                        '<div class="rl-missing" style="padding:1em;color:#666;'
                        'font-style:italic">'
                        f"depth {html.escape(str(depth))}, {html.escape(str(kind))}: "
                        f"{html.escape((notes or {}).get(key, missing))}</div>"
                    )
                )
            child.add_class("rl-view")
            child.add_class(f"rl-view-{_css_token(depth)}-{_css_token(kind)}")
            children.append(child)
        inner = widgets.Stack(children=children, selected_index=0)
        inner.add_class("rl-kind-stack")
        inner_stacks.append(inner)

    outer = widgets.Stack(children=inner_stacks, selected_index=0)
    outer.add_class("rl-views")

    slider = widgets.SelectionSlider(
        options=[(str(d), d) for d in depths],
        index=0,
        description="depth",
        continuous_update=True,
    )
    slider.add_class("rl-depth")
    toggles = widgets.ToggleButtons(options=kinds, index=0, description="network")
    toggles.add_class("rl-kind")

    # Browser-side links only: these are widget models of their own, stored in
    # the notebook's widget state and re-created by the html-manager.  They
    # stay alive in the kernel as long as the explorer is open.
    links = [
        widgets.jslink((slider, "index"), (inner, "selected_index"))
        for inner in inner_stacks
    ]
    links.append(widgets.jslink((toggles, "index"), (outer, "selected_index")))

    parts: list[widgets.Widget] = []
    if title:
        parts.append(widgets.HTML(f"<strong>{html.escape(title)}</strong>"))
    controls = widgets.HBox([slider, toggles], layout=widgets.Layout(flex_flow="row wrap"))
    parts += [controls, outer]
    box = widgets.VBox(parts)
    box.add_class("resnet-lab-explorer")
    box._rl_links = links  # keep a Python reference next to the widget
    return box


# ---------------------------------------------------------------------------
# The book's explorers (precomputed, work without a kernel) and the live panel
# ---------------------------------------------------------------------------

NOT_TRAINED = {(110, "plain"): "not trained: the paper's plain-110 has > 60% error, so the sweep leaves it out"}


def depth_explorer(records: Mapping[str, Any], draw, title: str = "", missing: str = "not recorded",
                   notes: Mapping[tuple[int, str], str] | None = None):
    """A :func:`static_explorer` over recorded runs: ``draw(record)`` returns the Figure for one run.

    ``records`` maps names like 'plain56' / 'resnet110' to run records. A view the sweep never trains (plain-110)
    says so (:data:`NOT_TRAINED`, extended by ``notes``) instead of ``missing``.
    """
    import re as _re
    views, depths = {}, set()
    for name, rec in records.items():
        m = _re.fullmatch(r"(plain|resnet)(\d+)", name)
        if not m:
            continue
        depth, kind = int(m.group(2)), "residual" if m.group(1) == "resnet" else "plain"
        depths.add(depth)
        views[(depth, kind)] = draw(rec)
    if not views:  # nothing recorded yet: say so instead of an empty widget
        import ipywidgets as widgets
        return widgets.HTML(f"<p><b>{html.escape(title)}</b>: no run is recorded at this profile yet.</p>")
    from .experiments import PLAIN_DEPTHS, RESNET_DEPTHS
    depths |= set(PLAIN_DEPTHS) | set(RESNET_DEPTHS)  # every depth of the sweep: a missing run shows as a note
    return static_explorer(views, sorted(depths), ["plain", "residual"], title=title, missing=missing,
                           notes={**NOT_TRAINED, **(notes or {})})


def train_panel(data, iterations: int = 60, subset: int = 2000):
    """"Train it yourself" (needs a live kernel): pick depth, plain/residual, shortcut; watch the curve; stop.

    Trains on a ``subset`` of the training split with the paper's recipe scaled to
    ``iterations`` (lr drops at 1/2 and 3/4). Runs in a background thread so the
    Stop button is heard; nothing is recorded in the run store.
    """
    import threading
    from dataclasses import replace

    import matplotlib.pyplot as plt

    from .profiles import get_profile
    from .train import RunConfig, train

    depth = widgets.Dropdown(options=[20, 32, 44, 56, 110], value=20, description="depth")
    kind = widgets.ToggleButtons(options=["plain", "residual"], value="residual", description="network")
    shortcut = widgets.Dropdown(options=["A", "B", "C"], value="A", description="shortcut")
    its = widgets.IntSlider(value=iterations, min=10, max=2000, step=10, description="iterations")
    go, stop = widgets.Button(description="Train", button_style="success"), widgets.Button(description="Stop")
    status, out = widgets.HTML(), widgets.Output()
    state = {"stop": False, "thread": None}

    def draw(points, title):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot([p["iter"] for p in points], [100 * p["error"] for p in points], "--", label="train error")
        ev = [p for p in points if "test_error" in p]
        ax.plot([p["iter"] for p in ev], [100 * p["test_error"] for p in ev], "o-", lw=2, label="test error")
        ax.set_xlabel("iterations"), ax.set_ylabel("error (%)"), ax.set_ylim(0, 100), ax.grid(alpha=0.3)
        ax.set_title(title), ax.legend()
        from IPython.display import display
        with out:
            out.clear_output(wait=True)
            display(fig)
        plt.close(fig)

    def work():
        n = its.value
        cfg = RunConfig(f"{'resnet' if kind.value == 'residual' else 'plain'}{depth.value}",
                        shortcut=shortcut.value if kind.value == "residual" else None,
                        profile="cpu", data_source=data.source)
        prof = replace(get_profile("cpu"), name="panel", iterations=n, milestones=(n // 2, n * 3 // 4),
                       train_subset=subset, log_every=max(1, n // 30), eval_every=max(1, n // 30) * 5,
                       eval_subset=500, checkpoint_every=10 ** 9, final_eval_subset=1000)
        points, title = [], f"{cfg.arch}" + (f" (option {cfg.shortcut})" if cfg.shortcut else "")
        try:
            res = train(cfg, data, profile=prof, progress=False, should_stop=lambda it: state["stop"],
                        on_log=lambda p: (points.append(p), draw(points, title)))
            m = res.metrics
            status.value = (f"{m['status']} after {m['iterations']} iterations: train error "
                            f"{m['final_train_error']:.1%}, test error {m['final_test_error']:.1%} "
                            f"({m['images_per_second']:.0f} img/s)")
        except Exception as e:  # shown in the panel, not lost in a thread
            status.value = f"<span style='color:#b00'>failed: {html.escape(str(e))}</span>"
        finally:
            go.disabled = False

    def on_go(_):
        if state["thread"] is not None and state["thread"].is_alive():
            return
        state["stop"], go.disabled = False, True
        status.value = "training..."
        state["thread"] = threading.Thread(target=work, daemon=True)
        state["thread"].start()

    def on_stop(_):
        state["stop"] = True

    go.on_click(on_go)
    stop.on_click(on_stop)
    panel = widgets.VBox([widgets.HBox([depth, kind]), widgets.HBox([shortcut, its]), widgets.HBox([go, stop]),
                          status, out])
    panel._rl_run = work  # for tests: run synchronously
    panel._rl_controls = dict(depth=depth, kind=kind, shortcut=shortcut, iterations=its, go=go, stop=stop,
                              status=status, out=out)
    return panel
