"""The static depth explorer (no kernel needed): what a reader sees for a view that is not there."""
import ipywidgets as widgets

from resnet_lab.widgets import NOT_TRAINED, static_explorer


def _notes(w):
    out = []
    stack = [w]
    while stack:
        x = stack.pop()
        if isinstance(x, widgets.HTML) and "rl-missing" in x.value:
            out.append(x.value)
        stack += list(getattr(x, "children", ()))
    return out


def test_a_view_never_trained_says_why_and_only_there():
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    w = static_explorer({(20, "plain"): png, (20, "residual"): png}, [20, 110], ["plain", "residual"],
                        missing="not recorded yet", notes=NOT_TRAINED)
    notes = _notes(w)
    plain110 = [n for n in notes if "depth 110, plain" in n]
    res110 = [n for n in notes if "depth 110, residual" in n]
    assert len(notes) == 2 and "&gt; 60% error" in plain110[0] and "not recorded yet" in res110[0]
    assert "60%" not in res110[0]
