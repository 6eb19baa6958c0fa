"""What the book's notebooks call. A package, one module per concern and one per chapter study:

* :mod:`.render` -- Markdown, numbered tables, glued figures, numbers written for reading;
* :mod:`.store` -- the profile in force, the data, the recorded runs (the book only reads them), captions;
* :mod:`.cached` -- analyses of single nets, computed once and cached (trained runs and their untrained controls);
* :mod:`.spread` -- the depth-20 seed spread and the words for one-seed differences (described, never judged);
* :mod:`.verdicts` -- comparisons of 3+ seeds per arm under the book's rule (:mod:`resnet_lab.stats`);
* :mod:`.claims` -- the intro's table of the paper's claims;
* chapter studies: :mod:`.degradation` (ch. 1), :mod:`.convergence` (ch. 1, 3), :mod:`.cifar` and :mod:`.early`,
  :mod:`.testing` (ch. 3), :mod:`.layer_responses` and :mod:`.bn_modes` (ch. 4), :mod:`.initialisation` (ch. 5),
  :mod:`.trained` (ch. 6), :mod:`.variants` (ch. 7);
* :mod:`.status` (which runs the book asks for), :mod:`.caches` (the command that computes the costly analyses).

Notebooks hold prose, parameters and calls (``book.table(...)``, ``book.cifar.table6(...)``); these modules hold
the plumbing. Recorded runs are never retrained; analyses of a run are computed once and cached in its record.
"""
from __future__ import annotations

from ..runs import RunNotRecorded, RunRecord, training_allowed  # noqa: F401
from .cached import (ANALYSIS_IMAGES, GRADIENT_IMAGES, branch_identity, init_branch_identity,  # noqa: F401
                     init_gradients, init_responses, layer_gradients, responses)
from .render import (block_label, glue_figure, num, paper_names, pct, pct2, show, span, table,  # noqa: F401
                     table_markdown)
from .spread import pair_report, seed_spread, seed_spread_report, spread_runs  # noqa: F401
from .store import (RunSet, analysed, analysis_device, analysis_source, caption, data, data_label,  # noqa: F401
                    final_table, missing_note, profile_name, profile_note, profile_table, run, run_data, runs,
                    seeds, sweep, train_run, with_weights)

# The chapter studies (imported last: they use the plumbing above).
from . import degradation, cifar, layer_responses  # noqa: E402,F401
from . import variants, testing, trained, initialisation, convergence, bn_modes, bn_seeds, bn_channels  # noqa: E402,F401
from . import status, verdicts, early, claims, appendix  # noqa: E402,F401
