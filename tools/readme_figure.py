"""Write book/_static/fig6.png, the README's picture: Fig. 6 (left, middle) from the recorded runs.

Run after a sweep:  .venv/bin/python tools/readme_figure.py   (never trains: RESNET_LAB_ALLOW_TRAINING=0)
"""
import os
from pathlib import Path

os.environ.setdefault("RESNET_LAB_ALLOW_TRAINING", "0")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

from resnet_lab import book, plots

runs = book.sweep()
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, kind, depths in ((left, "plain", (20, 32, 44, 56)), (right, "resnet", (20, 32, 44, 56, 110))):
    shown = [runs[f"{kind}{d}"] for d in depths if f"{kind}{d}" in runs]
    if shown:
        plots.training_curves(shown, ax=ax, title="plain" if kind == "plain" else "ResNet", log=True)
missing = [f"{c.arch}" for c in runs.missing]
fig.suptitle(f"CIFAR-10, {book.caption(runs)}, seed 0" + (f"; not recorded yet: {', '.join(missing)}" if missing else ""),
             fontsize=10)
fig.tight_layout()
out = Path(__file__).resolve().parents[1] / "book" / "_static" / "fig6.png"
out.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(out, dpi=90)
print(out)
