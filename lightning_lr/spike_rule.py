"""The rule that tells a loss spike from ordinary noise (pure Python, no Lightning, no torch).

A step's loss :math:`\\ell_t` is *high* when it is above ``factor`` times the running level, the median
of the last ``window`` losses that were not high:

.. math::

    \\text{level}_t = \\operatorname{median}(\\ell_{s} : s \\in \\text{last } W \\text{ normal steps}), \\qquad
    \\text{high}_t \\iff \\ell_t > \\text{level}_t + (k - 1)\\,|\\text{level}_t|

(for a non-negative loss: :math:`\\ell_t > k \\cdot \\text{level}_t`), and, once the level is below the start
:math:`s` (defined below), also :math:`\\ell_t > \\text{level}_t + (s - \\text{level}_t)/2`: a batch must undo at
least half the progress made to count (near a loss of 0 a ratio says nothing: a batch with one hard example is
10x a median of 0.01). A **spike** is ``patience`` high
steps in a row; a non-finite loss is reported at once, and so is an **outlier**, a
finite loss above ``outlier_factor`` times the level (one batch far off the run: corrupt data, or the start
of a blow-up). The level needs ``min_history`` normal steps
before a finite loss can be high. High losses do not enter the window, so a spike does not raise the
level it is measured against. The median, not a mean, so that one odd batch moves nothing.

**Lost progress** (a slow divergence, which never doubles the loss: a classifier that dies goes back to
chance level): with the start :math:`s` (the median of the first ``min_history`` = :math:`m` normal
losses), the recent level :math:`r_t` (the median of the last :math:`m` normal losses), the batch noise
:math:`\\hat\\sigma_t = 1.4826 \\operatorname{median}|\\ell_{u} - \\ell_{u-1}| / \\sqrt 2` over the window
(differences: a trend does not count as noise) and the standard error of a median of :math:`m`,
:math:`e_t = 1.25\\,\\hat\\sigma_t / \\sqrt m`, the run has **made progress** once

.. math::

    s - r_t \\ge \\max\\big(p\\,|s|,\\; 3 \\sqrt 2\\, e_t\\big)

(a fraction ``progress`` :math:`p` of the start, and three standard errors of the difference of two
medians), and the rule reports ``"regress"`` when, after that, :math:`r_t \\ge s` for :math:`m` steps in a
row (back where it started for a whole recent window). The run *keeps its progress*
(:attr:`SpikeRule.keeps_progress`: a state worth keeping) while it has made none, or while :math:`r_t` and the
last normal loss are both :math:`\\le b_t + (s - b_t)/2` with :math:`b_t = \\min_{u \\le t} r_u`: less
than half the progress lost.

Example:
    >>> rule = SpikeRule(factor=2.0, patience=2, window=10, min_history=3)
    >>> [rule.update(x) for x in (1.0, 1.1, 0.9, 1.0, 5.0, 6.0)]
    ['ok', 'ok', 'ok', 'ok', 'high', 'spike']
    >>> rule.update(float("nan"))
    'non-finite'
    >>> rule.reset_run()
    >>> rule.update(50.0)
    'outlier'
    >>> rule = SpikeRule(window=10, min_history=3, progress=0.1)
    >>> [rule.update(x) for x in (2.3, 2.3, 2.3, 1.9, 1.9, 1.9, 2.3, 2.3, 2.3, 2.3)][-3:]
    ['ok', 'ok', 'regress']
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any, Literal

from lightning_lr.checks import check_open_interval, check_positive_int, check_real

Verdict = Literal["ok", "high", "spike", "outlier", "non-finite", "regress"]

__all__ = ["SpikeRule", "Verdict"]


class SpikeRule:
    """Running median level and a run-length test: see the module docstring for the formula.

    Args:
        factor: ``k > 1``: a loss above ``k`` times the level is high.
        patience: ``m``: this many high losses in a row are a spike.
        window: ``W``: the level is the median of the last ``W`` normal losses.
        min_history: Normal losses needed before a finite loss can be judged high.
        outlier_factor: A single loss above this many times the level is reported at once (``>= factor``).
        progress: ``p`` in (0, 1): the recent level back at the start for ``min_history`` steps, after it had
            been ``p`` times the start (and three standard errors) below it, is ``"regress"``; ``None``: no such
            test (gradient norms).
    """

    def __init__(
        self,
        factor: float = 2.0,
        patience: int = 3,
        window: int = 50,
        min_history: int = 10,
        outlier_factor: float = 10.0,
        progress: float | None = 0.1,
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
        self.progress = None if progress is None else check_open_interval("progress", progress, 0.0, 1.0)
        self.history: deque[float] = deque(maxlen=self.window)
        self.high_run = 0  # high losses in a row so far
        self.start: float | None = None  # median of the first min_history normal losses
        self.best: float | None = None  # lowest recent level so far
        self.progressed = False  # the recent level was clearly below the start once
        self.back_run = 0  # recent levels at or above the start in a row, after progress

    @property
    def level(self) -> float | None:
        """The running level (median of the window), or ``None`` before ``min_history`` normal losses."""
        return statistics.median(self.history) if len(self.history) >= self.min_history else None

    def threshold(self, factor: float | None = None) -> float | None:
        """The loss above which a step is high now: above ``factor`` times the level and, once the level is below the
        start, above half the way back to it (``None``: too little history)."""
        level = self.level
        if level is None:
            return None
        above = level + ((factor or self.factor) - 1.0) * abs(level)
        if self.start is not None and self.start > level:  # near a loss of 0 a ratio is not a spike: a batch must
            above = max(above, level + (self.start - level) / 2)  # also undo half the progress made
        return above

    @property
    def recent(self) -> float | None:
        """The recent level: the median of the last ``min_history`` normal losses (``None`` before them)."""
        if len(self.history) < self.min_history:
            return None
        return statistics.median(list(self.history)[-self.min_history :])

    @property
    def keeps_progress(self) -> bool:
        """Less than half the progress from the start to the best recent level is lost, in the recent level and
        in the last normal loss (the level lags); ``True`` before any progress, ``False`` while the recent level
        is learnt again after progress (:meth:`forget_recent`)."""
        if not self.progressed or self.start is None or self.best is None:
            return True
        recent, half = self.recent, self.best + (self.start - self.best) / 2
        return recent is not None and recent <= half and self.history[-1] <= half

    def _noise_margin(self) -> float:
        """Three standard errors of the difference of two medians of ``min_history`` losses (robust noise)."""
        steps = [abs(b - a) for a, b in zip(list(self.history), list(self.history)[1:])]
        sigma = 1.4826 * statistics.median(steps) / math.sqrt(2) if steps else 0.0
        return 3.0 * math.sqrt(2) * 1.25 * sigma / math.sqrt(self.min_history)

    def _regressed(self) -> bool:
        recent, start = self.recent, self.start
        if self.progress is None or recent is None or start is None:
            return False
        self.best = recent if self.best is None else min(self.best, recent)
        if not self.progressed:
            margin = max(self.progress * abs(start), self._noise_margin())
            self.progressed = start - recent >= margin
        self.back_run = self.back_run + 1 if self.progressed and recent >= start else 0
        return self.back_run >= self.min_history

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
        if self.start is None and len(self.history) >= self.min_history:
            self.start = self.recent
        return "regress" if self._regressed() else "ok"

    def reset_run(self) -> None:
        """Forget the current run of high losses (after a rewind); the level stays."""
        self.high_run = 0

    def forget_recent(self) -> None:
        """Learn the level again from the next losses (after restoring an older state); start and best stay."""
        self.history.clear()
        self.high_run = self.back_run = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "history": list(self.history),
            "high_run": self.high_run,
            "start": self.start,
            "best": self.best,
            "progressed": self.progressed,
            "back_run": self.back_run,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = deque((float(x) for x in state["history"]), maxlen=self.window)
        self.high_run = int(state["high_run"])
        self.start, self.best = state.get("start"), state.get("best")
        self.progressed, self.back_run = bool(state.get("progressed", False)), int(state.get("back_run", 0))
