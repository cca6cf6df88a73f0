"""What every benchmark script shares; a script declares its question (arms, tasks, budgets, seeds, table).

- :mod:`~benchmarks.harness.data`: the data sets, split once, and the seeded batch :func:`loader`;
- :mod:`~benchmarks.harness.models`: the networks;
- :mod:`~benchmarks.harness.tasks`: :class:`Task` (data, network, loss, optimizer, batch, budget; trained
  and scored one way), :class:`Arm` (one row of a comparison), :data:`OPTIMIZERS`, :func:`over_seeds`;
- :mod:`~benchmarks.harness.five_tasks`: the five tasks of the finder benchmarks;
  :mod:`~benchmarks.harness.lr_search`: a constant-LR grid, ``LRFinder`` and Lightning's finder on one seed;
- :mod:`~benchmarks.harness.trainer`: the one quiet CPU :func:`quiet_trainer` and the callbacks that read
  a run (:class:`StepValues`, :class:`EpochMetrics`, :class:`Probe`);
- :mod:`~benchmarks.harness.stats`: intervals, Welch's test with Holm's correction, bootstrap intervals;
- :mod:`~benchmarks.harness.report`: the machine, text and markdown tables, the result files;
- :mod:`~benchmarks.harness.cli`: the shared flags (``--quick``, ``--write``, ``--threads``, ``--out-dir``).

How to add an arm, a task or a script: ``benchmarks/README.md``.
"""

from benchmarks.harness import cli, data, models, stats
from benchmarks.harness.report import (
    DOCS,
    REPO,
    loadavg,
    machine,
    machine_line,
    markdown_table,
    quiet_lightning,
    text_table,
    write_results,
)
from benchmarks.harness.tasks import OPTIMIZERS, Arm, Fitted, Module, Task, over_seeds
from benchmarks.harness.trainer import EpochMetrics, Probe, StepValues, quiet_trainer

__all__ = [
    "DOCS",
    "OPTIMIZERS",
    "REPO",
    "Arm",
    "EpochMetrics",
    "Fitted",
    "Module",
    "Probe",
    "StepValues",
    "Task",
    "cli",
    "data",
    "loadavg",
    "machine",
    "machine_line",
    "markdown_table",
    "models",
    "over_seeds",
    "quiet_lightning",
    "quiet_trainer",
    "stats",
    "text_table",
    "write_results",
]
