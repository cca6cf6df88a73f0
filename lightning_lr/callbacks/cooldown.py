r"""When ``WarmupStableDecay`` starts its decay by itself: at the end of ``max_time``, or when a metric stops improving.

:class:`TimeTrigger` (``cooldown_on="max_time"``) measures the run's pace while it trains: with
:math:`e` seconds of training elapsed (Lightning's ``Timer``, the one ``Trainer(max_time=...)`` adds),
:math:`n` optimizer steps taken since the first measured step of this fit and :math:`r` seconds left,

.. math:: \hat p = \frac{e - e_0}{n},\qquad \hat L = \frac{r}{\hat p}

steps still fit in the budget. The estimate is made again after every step (validation pauses and a
slower machine are in it). The decay of :math:`d` steps starts at the first step where
:math:`(1 - m)\hat L \le d` (``m``: a safety margin, 5%), so that it ends shortly before ``max_time``;
training then stops when the decay is done. Rank 0 decides and broadcasts the decision, so every
DDP rank starts the decay at the same step. A fractional ``num_decay_steps`` is a fraction of the
estimated run, :math:`d = f\,(n_{done} + \hat L)`.

:class:`MetricTrigger` (``monitor=...``) counts checks of a logged metric without improvement (the
rule of :class:`~lightning_lr.callbacks.metric_watch.Improvement`, shared with ``ReduceLROnPlateau``)
and starts the decay after more than ``patience`` of them.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.utilities import rank_zero_warn

from lightning_lr.callbacks.metric_watch import Improvement, Patience, read_metric
from lightning_lr.schedules import Span, Timeline

MARGIN = 0.05
"""The decay starts when (1 - MARGIN) x the steps that still fit is its length: it ends before ``max_time``."""
MIN_MEASURED = 3
"""Optimizer steps measured before the pace is trusted."""


def find_timer(trainer: pl.Trainer, name: str) -> Timer:
    """The ``Timer`` of ``Trainer(max_time=...)`` (or one the user added with a duration); refused clearly without."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, Timer) and callback.time_remaining() is not None:
            return callback
    raise ValueError(
        f"{name}(cooldown_on='max_time') needs a time budget: pass `Trainer(max_time=...)` (or a "
        "`lightning.pytorch.callbacks.Timer(duration=...)`), or use cooldown_on='end'."
    )


class TimeTrigger:
    """Decides the step at which the decay starts so that it ends when ``max_time`` runs out."""

    def __init__(self, timer: Timer, margin: float = MARGIN) -> None:
        self.timer, self.margin = timer, margin
        self.mark: tuple[float, int] | None = None  # (seconds elapsed, steps) at the first measured step
        self.warned = False  # the first estimate was checked for room (warmup + decay)

    def steps_left(self, steps: int) -> float | None:
        """The optimizer steps that still fit in the budget at the pace measured so far (``None``: not measured)."""
        elapsed, remaining = self.timer.time_elapsed(), self.timer.time_remaining()
        if self.mark is None:
            self.mark = (elapsed, steps)  # the first step of a fit pays for warm-up costs: measure from after it
            return None
        measured = steps - self.mark[1]
        if measured < MIN_MEASURED or remaining is None:
            return None
        pace = (elapsed - self.mark[0]) / measured
        return math.inf if pace <= 0 else max(remaining, 0.0) / pace

    def decide(self, steps: int, decay: Span, timeline: Timeline, warmup: float) -> int | None:
        """On rank 0: the decay's length if it starts now (at step ``steps``), else ``None``."""
        left = self.steps_left(steps)
        if left is None or not math.isfinite(left):
            return None
        usable = math.floor((1.0 - self.margin) * left)
        length = decay.amount * (steps + left) if decay.unit == "fraction" else decay.in_steps(timeline)
        first, self.warned = not self.warned, True  # the budget's first estimate: is there room at all?
        if first and usable < max(warmup - steps, 0.0) + length:
            rank_zero_warn(
                f"WarmupStableDecay(cooldown_on='max_time'): max_time leaves about {usable} more steps "
                f"({self.timer.time_remaining() or 0.0:.3g}s left), fewer than the warmup still to do "
                f"({max(warmup - steps, 0):g}) plus the decay ({length:g}): the decay starts as soon as the steps "
                "left are its length, or now over the steps left, from the LR of then."
            )
        if usable > length:
            return None
        return max(1, min(math.ceil(length), usable))


class MetricTrigger:
    """Starts the decay when ``monitor`` has not improved for more than ``patience`` checks."""

    def __init__(self, monitor: str, rule: Improvement, patience: int) -> None:
        self.monitor, self.rule, self.patience = monitor, rule, patience
        self.before_validation: Any = None
        self.validated = False

    def check(self, trainer: pl.Trainer, watch: Patience) -> bool:
        """Read the metric (averaged over ranks) into ``watch``; whether the decay should start now."""
        return watch.update(read_metric(trainer, self.monitor), self.rule, self.patience)

    def logged_by_validation(self, trainer: pl.Trainer) -> bool:
        """After a validation run: whether it logged the metric on every rank (refused clearly when nothing has)."""
        value = trainer.callback_metrics.get(self.monitor)
        logged = value is not None and value is not self.before_validation
        if trainer.strategy.reduce_boolean_decision(logged, all=True):
            self.validated = True
            return True
        if not trainer.strategy.reduce_boolean_decision(self.monitor in trainer.callback_metrics, all=True):
            self.missing(trainer, "after validation")
        return False

    def logged_in_training(self, trainer: pl.Trainer) -> bool:
        """At a training epoch's end: whether the metric is there to check (refused when it never can be)."""
        if self.validated:
            return False  # validation logs it: checked there
        if trainer.strategy.reduce_boolean_decision(self.monitor in trainer.callback_metrics, all=True):
            return True
        if not trainer.enable_validation:
            self.missing(trainer, f"at the end of epoch {trainer.current_epoch} (no validation runs)")
        return False

    def missing(self, trainer: pl.Trainer, where: str) -> None:
        raise ValueError(
            f"WarmupStableDecay(monitor={self.monitor!r}) found no such metric {where}; logged here: "
            f"{sorted(trainer.callback_metrics)}. Log it with `self.log({self.monitor!r}, ...)` on every rank, or fix "
            "the name."
        )
