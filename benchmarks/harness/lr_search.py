"""The LR searches the finder benchmarks compare, for one task and seed.

- :class:`ConstantRuns`: training at a constant LR, cached by LR (a grid; the rules' answers often agree);
- :func:`lightning_lr_find`: Lightning's ``Tuner.lr_find`` with its defaults;
- :func:`finder_point`: the single-curve ``LRFinder`` (:data:`CURVE`) inside a training run, every rule's answer
  and Lightning's trained at a constant LR, against a grid.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lightning.pytorch.tuner import Tuner

from benchmarks.harness.tasks import Task
from benchmarks.harness.trainer import quiet_trainer
from lightning_lr import LRFinder

FINDER_START_LR = 0.01  # the optimizer's configured LR in a run that the finder sets
CURVE: dict[str, Any] = {"confirm": False, "num_training_steps": 100}
"""The single-curve finder (the default before the probes) whose rules the finder pages measure; today's
``LRFinder()`` is ``benchmarks/tuning_free.py``'s question."""


class ConstantRuns:
    """Constant-LR runs of one task and seed, cached by LR: ``(score, seconds of trainer.fit)``."""

    def __init__(self, task: Task, seed: int) -> None:
        self.task, self.seed = task, seed
        self.cache: dict[float, tuple[float, float]] = {}

    def __call__(self, lr: float | None) -> tuple[float, float]:
        """``(0, 0)`` without an LR (a finder that suggested none)."""
        if lr is None:
            return 0.0, 0.0
        if lr not in self.cache:
            run = self.task.fit(lr, self.seed)
            self.cache[lr] = self.task.score(run.module), run.seconds
        return self.cache[lr]


def lightning_lr_find(task: Task, seed: int) -> tuple[float | None, float]:
    """Lightning's ``Tuner.lr_find`` with its defaults: its suggestion and the test's wall time."""
    module = task.build(FINDER_START_LR, seed)
    start = time.perf_counter()
    found = Tuner(quiet_trainer(task.epochs)).lr_find(module)
    return (found.suggestion() if found is not None else None), time.perf_counter() - start


def finder_point(task: Task, seed: int, grid: Sequence[float], runs: ConstantRuns) -> dict[str, Any]:
    """One seed: the grid, the single-curve finder applied in training, each rule's and Lightning's LR trained
    constant."""
    scores = [runs(lr) for lr in grid]
    finder = LRFinder(**CURVE)
    fitted = task.fit(FINDER_START_LR, seed, [finder])
    result = finder.result
    if result is None:
        raise RuntimeError(f"{task.name}, seed {seed}: LRFinder ran no test")
    rules = {m: {"lr": a.lr, "rule": a.rule, "score": runs(a.lr)[0]} for m, a in result.suggestions().items()}
    pl_lr, pl_s = lightning_lr_find(task, seed)
    return {
        "grid": [{"lr": lr, "score": a, "seconds": s} for lr, (a, s) in zip(grid, scores)],
        "ours": {
            "lr": result.suggestion,
            "rule": result.rule,
            "score": task.score(fitted.module),
            "finder_s": result.seconds,
        },
        "range": result.lr_range,
        "fit_s": fitted.seconds,
        "rules": rules,
        "lightning": {"lr": pl_lr, "score": runs(pl_lr)[0], "seconds": pl_s},
        "curve": result.to_dict(),
    }
