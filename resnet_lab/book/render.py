"""How the book shows things: Markdown, numbered tables, glued figures, and numbers written for reading."""
from __future__ import annotations

import re

import pandas as pd


def show(text: str) -> None:
    """Display ``text`` as Markdown, or nothing when it is empty (an empty ``Markdown`` would show its repr)."""
    if text and text.strip():
        from IPython.display import Markdown, display
        display(Markdown(text))


def _cell(v) -> str:
    """One cell of a pipe table: NaN/None -> an en dash, '|' escaped, no line breaks."""
    if v is None or (not isinstance(v, (str, bytes)) and pd.api.types.is_scalar(v) and pd.isna(v)):
        return "\u2013"
    return " ".join(str(v).split()).replace("|", "\\|")


def table_markdown(frame: pd.DataFrame, caption: str, name: str | None = None) -> str:
    """``frame`` as a MyST ``{table}`` (a numbered, captioned pipe table: 'Table 3.2: caption'). The index becomes
    the first column (every level of a MultiIndex, repeated labels left blank), headed by its name; net names in
    the index read as in the paper ('resnet56' -> 'ResNet-56')."""
    from ..models import paper_name
    if not caption or not caption.strip():
        raise ValueError("a table needs a caption")
    flat = frame.reset_index()
    levels = frame.index.nlevels
    heads = [_cell(n if n is not None and not (i < levels and str(n).startswith("level_")) else "")
             for i, n in enumerate(flat.columns)]
    heads = [h if h != "index" else "" for h in heads]
    rows, last = [], [None] * levels
    for rec in flat.itertuples(index=False):
        cells = list(rec)
        keys = [paper_name(_cell(c)) for c in cells[:levels]]
        shown = [k if k != last[i] or any(keys[j] != last[j] for j in range(i)) else "" for i, k in enumerate(keys)]
        last = keys
        rows.append(shown + [_cell(c) for c in cells[levels:]])
    def numeric(j):  # right-align a column of numbers ('12.3%', '+0.8', '×1.94', '21,623,848')
        vals = [r[j] for r in rows if r[j] not in ("", "\u2013")]
        return j >= levels and bool(vals) and all(re.match(r"^[-+×~<>]?\s*\d", v) for v in vals)
    lines = ["| " + " | ".join(heads) + " |", "|" + "".join("---:|" if numeric(j) else "---|"
                                                           for j in range(len(heads)))]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    opts = f":name: {name}\n" if name else ""
    return f":::{{table}} {' '.join(caption.split())}\n{opts}:align: left\n\n" + "\n".join(lines) + "\n:::"


def table(frame: pd.DataFrame, caption: str, name: str | None = None) -> None:
    """Display ``frame`` as a numbered table with ``caption`` (see ``table_markdown``); an empty frame shows
    nothing."""
    if frame is not None and not frame.empty:
        show(table_markdown(frame, caption, name))


def glue_figure(name: str, fig) -> None:
    """Glue a figure for the page's {glue:figure} directive and close it, so it is shown once (not also as the
    cell's output)."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    paper_names(fig)
    glue(name, fig, display=False)
    plt.close(fig)


def paper_names(fig):
    """Rename the nets in a figure's titles, legends and tick labels as the paper writes them ('resnet56' ->
    'ResNet-56'); returns the figure."""
    from ..models import paper_name

    def fix(text):
        new = paper_name(text.get_text())
        if new != text.get_text():
            text.set_text(new)

    if getattr(fig, "_suptitle", None) is not None:
        fix(fig._suptitle)
    for leg in fig.legends:
        for t in leg.get_texts():
            fix(t)
    for ax in fig.axes:
        fix(ax.title)
        for t in (ax._left_title, ax._right_title):
            fix(t)
        if ax.get_legend() is not None:
            for t in ax.get_legend().get_texts():
                fix(t)
        for axis in (ax.xaxis, ax.yaxis):  # categorical ticks (a formatter would redraw the old text)
            labels = [t.get_text() for t in axis.get_ticklabels()]
            if any(paper_name(x) != x for x in labels):
                axis.set_ticks(axis.get_ticklocs(), [paper_name(x) for x in labels])
    return fig


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pct2(x: float) -> str:
    """Two decimals: for errors set beside a difference and a seed spread, so that rounding never makes a
    difference look equal to the spread it is judged against."""
    return f"{100 * x:.2f}%"


def num(x: float) -> str:
    """A loss or a ratio for reading: three decimals below 10, one below 100, whole numbers above
    ('0.404', '25.4', '11,285')."""
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 100 else f"{x:,.0f}"


def block_label(name: str) -> str:
    """A module path for readers: 'stage2.0' -> 'block 1 of stage 2'; other names unchanged."""
    m = re.fullmatch(r"stage(\d+)\.(\d+)", str(name))
    return f"block {int(m.group(2)) + 1} of stage {m.group(1)}" if m else str(name)


def span(lo: float, hi: float, fmt: str = ".2f", every: str = "layer") -> str:
    """'between 0.84 and 1.20', or '1.00 in every layer' when the two ends print the same."""
    a, b = format(lo, fmt), format(hi, fmt)
    return f"{a} in every {every}" if a == b else f"between {a} and {b}"


def indexed_frame(rows: dict[tuple, dict], names: list[str]) -> pd.DataFrame:
    """``{(key, key, ...): {column: cell}}`` as a table whose index levels are named ``names`` (an empty table
    without rows)."""
    if not rows:
        return pd.DataFrame()
    t = pd.DataFrame.from_dict(rows, orient="index")
    t.index = pd.MultiIndex.from_tuples(t.index, names=names)
    return t


def and_list(items) -> str:
    """'a', 'a and b', 'a, b and c' ('' for none): a list in a computed sentence."""
    items = [str(i) for i in items]
    return "" if not items else items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def seeds(ss) -> str:
    """'seed 0', 'seeds 1 and 2', 'seeds 0, 1 and 2' (sorted): the seeds of a net in a computed sentence."""
    ss = sorted(ss)
    return f"seed {ss[0]}" if len(ss) == 1 else f"seeds {and_list(ss)}"


def _shown(error: float) -> float:
    """An error as the book prints it (percent, two decimals), so that a difference of two printed errors is
    the difference the reader computes from them (17.91% - 17.59% = 0.32, not 0.31)."""
    return round(100 * error, 2) / 100
