"""What the book asks for, and what of it is recorded: the missing-runs list the build prints at its end, and the
README's figure, made from the records so that it cannot go stale.

The book never trains. Every run a chapter reads is in ``experiments.book_runs(profile)`` (a test calls each
chapter's run selection on an empty store and checks it); the build lists those of the book's profile that are not
recorded, each with the command that trains it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import experiments
from ..runs import RunStore, describe, train_command
from ..train import RunConfig

README_FIGURE = Path(__file__).resolve().parents[2] / "book" / "_static" / "fig6.png"


def requested_runs(profile: str | None = None) -> list[RunConfig]:
    """Every run the chapters ask for at ``profile`` (default: the book's profile), on the book's data, and those
    they ask for at a profile of their own whatever the book's (``experiments.fixed_profile_runs``)."""
    from .store import _data_source, profile_name
    both = experiments.book_runs(profile or profile_name(), _data_source()) + \
        experiments.fixed_profile_runs(_data_source())
    return list(dict.fromkeys(both))  # at profile 'quick' the two lists share runs: each once


def _asked(profile: str, runs: list[RunConfig]) -> str:
    """'at profile 'cpu'', or 'at profile 'cpu' (and 6 at profile 'quick')' where some runs have their own."""
    other: dict[str, int] = {}
    for c in runs:
        if c.profile != profile:
            other[c.profile] = other.get(c.profile, 0) + 1
    extra = ", ".join(f"{n} at profile {p!r}" for p, n in other.items())
    return f"at profile {profile!r}" + (f" (and {extra})" if extra else "")


def missing_runs(profile: str | None = None, store: RunStore | None = None) -> list[RunConfig]:
    """The requested runs that ``store`` (default: the run store in force) does not hold as completed."""
    store = store or RunStore()
    out = []
    for c in requested_runs(profile):
        rec = store.get(c)
        if rec is None or rec.failed:
            out.append(c)
    return out


def missing_report(profile: str | None = None) -> str:
    """Plain text for the end of a build: the missing runs with their commands, or that none is missing."""
    from .store import profile_name
    profile = profile or profile_name()
    missing = missing_runs(profile)
    asked = requested_runs(profile)
    n, where = len(asked), _asked(profile, asked)
    if not missing:
        return f"resnet_lab: all {n} runs the chapters ask for {where} are recorded."
    lines = [f"resnet_lab: {len(missing)} of the {n} runs the chapters ask for {where} are not "
             f"recorded; their pages show them as missing. The book never trains; train them with:"]
    lines += [f"  {train_command(c)}    # {describe(c)}" for c in missing]
    return "\n".join(lines)


# --- the README's figure --------------------------------------------------------------------------------------

def _sweep_records():
    from .store import sweep
    return sweep()


def readme_sources(records) -> dict:
    """What the README figure is made of: the profile and the ids of the sweep runs it shows."""
    from .store import profile_name
    return {"profile": profile_name(), "runs": sorted(r.id for r in records.values()),
            "missing": sorted(f"{c.arch}" for c in records.missing)}


def _sidecar(png: Path) -> Path:
    return png.with_suffix(".json")


def render_readme_figure(png: Path = README_FIGURE) -> dict:
    """Write the README's picture (Fig. 6 left and middle from the recorded sweep of the book's profile) and,
    beside it, ``fig6.json``: the run ids it was drawn from and the PNG's SHA-256. Returns that dict."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .. import plots
    from .render import paper_names
    from .store import caption

    runs = _sweep_records()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, kind, depths in ((left, "plain", experiments.PLAIN_DEPTHS), (right, "resnet", experiments.RESNET_DEPTHS)):
        shown = [runs[f"{kind}{d}"] for d in depths if f"{kind}{d}" in runs]
        if shown:
            plots.training_curves(shown, ax=ax, title="plain" if kind == "plain" else "ResNet", log=True)
    fig.suptitle(f"CIFAR-10, {caption(runs)}", fontsize=10)
    paper_names(fig)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(png.name + ".tmp.png")
    fig.savefig(tmp, dpi=90, metadata={"Software": None})
    plt.close(fig)
    tmp.replace(png)
    meta = readme_sources(runs) | {"sha256": hashlib.sha256(png.read_bytes()).hexdigest()}
    _sidecar(png).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def readme_figure_problem(png: Path = README_FIGURE) -> str | None:
    """None when the README figure was drawn from exactly the sweep runs recorded now (and the PNG is the one
    drawn then); else what is stale, in one line."""
    side = _sidecar(png)
    if not png.exists() or not side.exists():
        return f"{png} or {side.name} is missing"
    meta = json.loads(side.read_text())
    if meta.get("sha256") != hashlib.sha256(png.read_bytes()).hexdigest():
        return f"{png.name} is not the figure {side.name} describes (changed by hand?)"
    want = readme_sources(_sweep_records())
    for key in ("profile", "runs", "missing"):
        if meta.get(key) != want[key]:
            return f"{png.name} was drawn from other records ({key}: {meta.get(key)} -> now {want[key]})"
    return None


# --- the README's summary of the claims ------------------------------------------------------------------------
README = README_FIGURE.parents[2] / "README.md"
SUMMARY_START = "<!-- claims summary: written from the records by tools/readme_figure.py; tests check it -->"
SUMMARY_END = "<!-- /claims summary -->"


def readme_summary() -> str:
    """The README's sentence on what the records show: the book's first-page summary of the paper's claims
    (:func:`resnet_lab.book.claims.summary`) at the book's profile."""
    from .claims import summary
    from .store import profile_name
    return summary([profile_name()])


def _summary_span(text: str, readme: Path) -> tuple[int, int]:
    a, b = text.find(SUMMARY_START), text.find(SUMMARY_END)
    if a < 0 or b < a:
        raise ValueError(f"{readme} has no claims-summary block ({SUMMARY_START!r} ... {SUMMARY_END!r})")
    return a + len(SUMMARY_START), b


def readme_summary_problem(readme: Path = README) -> str | None:
    """None when the README's claims-summary block says what the records say now; else what differs, in one line."""
    text = readme.read_text(encoding="utf-8")
    a, b = _summary_span(text, readme)
    if text[a:b].strip() != readme_summary():
        return f"{readme.name}'s claims summary is not what the records say now (rewrite it: tools/readme_figure.py)"
    return None


def write_readme_summary(readme: Path = README) -> bool:
    """Rewrite the README's claims-summary block from the records (atomically); whether it changed."""
    from ..atomic import atomic_write_bytes
    text = readme.read_text(encoding="utf-8")
    a, b = _summary_span(text, readme)
    new = text[:a] + "\n" + readme_summary() + "\n" + text[b:]
    if new == text:
        return False
    atomic_write_bytes(readme, new.encode("utf-8"))
    return True
