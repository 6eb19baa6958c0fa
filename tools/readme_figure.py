"""Write book/_static/fig6.png (+ fig6.json: the runs it shows), the README's picture: Fig. 6 (left, middle)
from the recorded runs of the book's profile, and the README's claims summary (the book's first-page sentences).
Never trains. The book build redraws both when the records changed (book/_ext/run_status.py), and
tests/test_recorded_runs.py checks them against the records.

    .venv/bin/python tools/readme_figure.py [--force]
"""
import sys

from resnet_lab.book.status import (README, README_FIGURE, readme_figure_problem, render_readme_figure,
                                    write_readme_summary)

problem = readme_figure_problem()
if problem or "--force" in sys.argv:  # redrawn only when stale (or asked): an unchanged figure stays byte for byte
    meta = render_readme_figure()
    print(README_FIGURE, f"redrawn ({problem or 'forced'}; {len(meta['runs'])} runs, profile {meta['profile']})")
else:
    print(README_FIGURE, "unchanged (drawn from the records recorded now)")
print(README, "claims summary", "rewritten" if write_readme_summary() else "unchanged")
