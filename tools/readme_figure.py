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
plots.training_curves([runs[f"plain{d}"] for d in (20, 32, 44, 56)], ax=left, title="plain")
plots.training_curves([runs[f"resnet{d}"] for d in (20, 32, 44, 56, 110)], ax=right, title="ResNet")
fig.suptitle(f"CIFAR-10, {book.caption(runs)}", fontsize=10)
fig.tight_layout()
out = Path(__file__).resolve().parents[1] / "book" / "_static" / "fig6.png"
out.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(out, dpi=90)
print(out)
