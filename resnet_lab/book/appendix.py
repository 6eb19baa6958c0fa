"""The appendix "How the runs were made": every recorded run's provenance in one table."""
from __future__ import annotations

import pandas as pd

from ..models import paper_name
from ..runs import RunStore, VARIANT_WORDS


def _net(r) -> str:
    c = r.config
    extra = [VARIANT_WORDS.get(c.variant, c.variant)] if c.variant != "basic" else []
    extra += [f"option {c.shortcut}"] if c.shortcut not in (None, "A") else []
    return paper_name(c.arch) + (f" ({', '.join(extra)})" if extra else "")


def provenance_table(profile: str | None = None) -> pd.DataFrame:
    """One row per recorded run (of ``profile``, default every profile): net, profile, seed, device, torch, the
    code's commit, when it started, its wall time and data, read from each record's ``provenance.json``."""
    recs = [r for r in RunStore().records() if profile is None or r.config.profile == profile]
    rows = []
    for r in sorted(recs, key=lambda r: (r.config.profile, r.config.arch, r.config.variant, str(r.config.shortcut),
                                         r.config.seed)):
        p = r.provenance
        wall = p.get("wall_seconds")
        rows.append({"net": _net(r), "profile": r.config.profile, "seed": r.config.seed,
                     "device": p.get("device", "?"), "torch": p.get("torch", "?"),
                     "commit": str(p.get("commit", "?")), "started": str(p.get("started", "?"))[:10],
                     "wall time": "–" if wall is None else f"{wall / 60:.0f} min",
                     "data": str(p.get("data", r.config.data_source)).split(" (")[0],
                     "status": "failed" if r.failed else "complete"})
    return pd.DataFrame(rows).set_index("net").rename_axis(None) if rows else pd.DataFrame()


def provenance_summary(frame: pd.DataFrame) -> str:
    """One sentence on the table: how many runs, on which devices, how many from a commit with uncommitted
    changes ('-dirty')."""
    if frame.empty:
        return "No run is recorded in this run store yet."
    dirty = int(frame.commit.str.endswith("-dirty").sum())
    devices = sorted({d.split(" (")[0] for d in frame.device})
    return (f"{len(frame)} runs are recorded, on {', '.join(devices)}; {dirty} of them were started from a working "
            f"tree with uncommitted changes (commit marked '-dirty'): the commit names the code they grew from, "
            f"not every line they ran.")
