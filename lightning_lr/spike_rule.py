"""The rule that tells a loss spike from ordinary noise (pure Python, no Lightning, no torch).

A step's loss :math:`\\ell_t` is *high* when it is above ``factor`` times the running level, the median
of the last ``window`` losses that were not high:

.. math::

    \\text{level}_t = \\operatorname{median}(\\ell_{s} : s \\in \\text{last } W \\text{ normal steps}), \\qquad
    \\text{high}_t \\iff \\ell_t > \\text{level}_t + (k - 1)\\,|\\text{level}_t|

(for a non-negative loss: :math:`\\ell_t > k \\cdot \\text{level}_t`). A **spike** is ``patience`` high
steps in a row; a non-finite loss is reported at once, and so is an **outlier**, a
finite loss above ``outlier_factor`` times the level (one batch far off the run: corrupt data, or the start
of a blow-up). The level needs ``min_history`` normal steps
before a finite loss can be high. High losses do not enter the window, so a spike does not raise the
level it is measured against. The median, not a mean, so that one odd batch moves nothing.

Example:
    >>> rule = SpikeRule(factor=2.0, patience=2, window=10, min_history=3)
    >>> [rule.update(x) for x in (1.0, 1.1, 0.9, 1.0, 5.0, 6.0)]
    ['ok', 'ok', 'ok', 'ok', 'high', 'spike']
    >>> rule.update(float("nan"))
    'non-finite'
    >>> rule.reset_run()
    >>> rule.update(50.0)
    'outlier'
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any, Literal

from lightning_lr.checks import check_positive_int, check_real

Verdict = Literal["ok", "high", "spike", "outlier", "non-finite"]

__all__ = ["SpikeRule", "Verdict"]


class SpikeRule:
    """Running median level and a run-length test: see the module docstring for the formula.

    Args:
        factor: ``k > 1``: a loss above ``k`` times the level is high.
        patience: ``m``: this many high losses in a row are a spike.
        window: ``W``: the level is the median of the last ``W`` normal losses.
        min_history: Normal losses needed before a finite loss can be judged high.
        outlier_factor: A single loss above this many times the level is reported at once (``>= factor``).
    """

    def __init__(
        self,
        factor: float = 2.0,
        patience: int = 3,
        window: int = 50,
        min_history: int = 10,
        outlier_factor: float = 10.0,
    ) -> None:
        self.factor = check_real("factor", factor)
        if self.factor <= 1.0:
            raise ValueError(f"`factor` must be > 1 (a spike is above the running level), got {factor!r}.")
        self.patience = check_positive_int("patience", patience)
        self.window = check_positive_int("window", window)
        self.min_history = check_positive_int("min_history", min_history)
        if self.min_history > self.window:
            raise ValueError(f"`min_history` must be <= `window` ({window}), got {min_history!r}.")
        self.outlier_factor = check_real("outlier_factor", outlier_factor)
        if self.outlier_factor < self.factor:
            raise ValueError(f"`outlier_factor` must be >= `factor` ({factor}), got {outlier_factor!r}.")
        self.history: deque[float] = deque(maxlen=self.window)
        self.high_run = 0  # high losses in a row so far

    @property
    def level(self) -> float | None:
        """The running level (median of the window), or ``None`` before ``min_history`` normal losses."""
        return statistics.median(self.history) if len(self.history) >= self.min_history else None

    def threshold(self, factor: float | None = None) -> float | None:
        """The loss above which a step is high now (above ``factor`` times the level; ``None``: too little history)."""
        level = self.level
        return None if level is None else level + ((factor or self.factor) - 1.0) * abs(level)

    def update(self, loss: float) -> Verdict:
        """Judge one step's loss and remember it (a normal one enters the window)."""
        if not math.isfinite(loss):
            self.high_run += 1
            return "non-finite"
        limit, far = self.threshold(), self.threshold(self.outlier_factor)
        if limit is not None and far is not None and loss > limit:
            self.high_run += 1
            if self.high_run >= self.patience:
                return "spike"
            return "outlier" if loss > far else "high"
        self.high_run = 0
        self.history.append(loss)
        return "ok"

    def reset_run(self) -> None:
        """Forget the current run of high losses (after a rewind); the level stays."""
        self.high_run = 0

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "high_run": self.high_run}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = deque((float(x) for x in state["history"]), maxlen=self.window)
        self.high_run = int(state["high_run"])
