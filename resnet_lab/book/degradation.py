"""Chapter 1 (the degradation problem): the computed sentences of Sec. 4.2's claims and of the gradient argument."""
from __future__ import annotations

import pandas as pd

from ..runs import RunRecord
from .render import pct, span
from .spread import compare, seed_spread, steps_report
from .store import _schedule_share


def degradation_report(records: dict[str, RunRecord]) -> str:
    """A sentence per claim of Sec. 4.2, computed from the records and judged against the seed spread."""
    m = {k: r for k, r in records.items() if not r.failed}
    lines = []
    plains = [k for k in ("plain20", "plain32", "plain44", "plain56") if k in m]
    if plains:
        lines.append("- Final **training** error of the plain nets, shallow to deep: "
                     + ", ".join(f"{k} {pct(m[k].metrics['final_train_error'])}" for k in plains) + ".")
    if len(plains) >= 2:
        lines.append(f"- Degradation: {compare(plains[-1], m[plains[-1]], plains[0], m[plains[0]], 'final_train_error')}")
    if steps := steps_report(m, plains):
        lines.append(f"- Plain nets, {steps}.")
    for d in (20, 32, 44, 56, 110):
        p, r = m.get(f"plain{d}"), m.get(f"resnet{d}")
        if p and r:
            lines.append(f"- Depth {d}, training: {compare(f'resnet{d}', r, f'plain{d}', p, 'final_train_error')}"
                         f" Test: {compare(f'resnet{d}', r, f'plain{d}', p)}")
    res = [k for k in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110") if k in m]
    if res:
        lines.append("- ResNet test error, shallow to deep: "
                     + ", ".join(f"{k} {pct(m[k].metrics['final_test_error'])}" for k in res) + ".")
    if len(res) >= 2:
        lines.append(f"- Deeper ResNets: {compare(res[-1], m[res[-1]], res[0], m[res[0]])}")
        deep, shallow = m[res[-1]].metrics["final_train_error"], m[res[0]].metrics["final_train_error"]
        spread = seed_spread("final_train_error")
        if spread is None or abs(deep - shallow) <= spread:
            verdict = "no difference either way is measured at this profile"
        elif deep < shallow:
            verdict = "our runs agree"
        else:
            verdict = (f"our runs show the opposite at this profile: after {_schedule_share()} of the paper's "
                       f"schedule the deeper ResNet fits its training data less well than the shallower one")
        lines.append(f"- Deeper ResNets, training: {compare(res[-1], m[res[-1]], res[0], m[res[0]], 'final_train_error')}"
                     f" In the paper (Fig. 6 middle, full schedule) the deeper ResNet has the lower training "
                     f"error; {verdict}.")
    for metric in ("final_train_error", "final_test_error"):
        if steps := steps_report(m, res, metric):
            lines.append(f"- ResNets, {steps}.")
    return "\n".join(lines) if lines else "- No run of this comparison is recorded at this profile yet."


def gradient_report(stats: dict[str, pd.DataFrame]) -> str:
    """Per net: the forward std range and how the gradient RMS changes from the last 3x3 layer to the first;
    then, where the frames are there, three labelled verdicts: depth (plain-20 vs plain-56 at initialisation), the
    control (plain-56 against its residual twin at initialisation) and after training."""
    lines, ratio = [], {}
    for label, f in stats.items():
        g = f["grad_rms"].to_numpy()
        ratio[label] = g[0] / g[-1]
        lines.append(f"- {label}: forward std {span(f['std'].min(), f['std'].max())}; gradient RMS "
                     f"{g[-1]:.2e} at the last 3x3 layer, {g[0]:.2e} at the first (ratio first/last "
                     f"{ratio[label]:.3g}: it {'grows' if ratio[label] > 1 else 'shrinks'} on the way back).")
    p20, p = ratio.get("plain20 (init)"), ratio.get("plain56 (init)")
    r = ratio.get("resnet56 (init)")
    if p20 is not None and p is not None:
        lines.append(f"- **Depth**, at initialisation: the first/last ratio is {p20:.3g} for plain-20 and {p:.3g} for "
                     f"plain-56 -- the growth {'itself grows' if p > p20 > 1 else 'does NOT grow'} with depth.")
    if p is not None and r is not None:
        still = ("ResNet-56's gradient still grows on its way back, less" if 1 < r < p else
                 "ResNet-56's gradient does not grow on its way back" if r <= 1 else
                 "ResNet-56's gradient grows MORE than plain-56's")
        effect = (f"the shortcuts cut the growth by a factor of {p / r:.3g}" if r < p else
                  f"the shortcuts do not cut the growth (it is {r / p:.3g} times plain-56's)")
        lines.append(f"- **Control** at initialisation: the gradient changes {p:.3g}-fold through plain-56 and "
                     f"{r:.3g}-fold through ResNet-56 -- {effect}; {still}.")
    pt, rt = ratio.get("plain56 (trained)"), ratio.get("resnet56 (trained)")
    if p is not None and pt is not None:
        twin = f"; through ResNet-56 {r:.3g} at init, {rt:.3g} trained" if r is not None and rt is not None else ""
        state = ("the first layer's gradient is within a factor of ten of the last layer's: neither an explosion nor "
                 "a vanishing gradient is left" if 0.1 < pt < 10 else
                 "the gradient still grows more than tenfold on its way back" if pt >= 10 else
                 "the gradient falls more than tenfold on its way back: it vanishes")
        lines.append(f"- **After training**: the first/last gradient ratio of plain-56 is {pt:.3g} (at initialisation "
                     f"{p:.3g}): training "
                     f"{'removes the growth' if pt <= 1 else 'reduces the growth' if pt < p else 'does not reduce it'}"
                     f"; {state}{twin}.")
    return "\n".join(lines)
