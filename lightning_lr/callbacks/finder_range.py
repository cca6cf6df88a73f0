r"""How ``Cyclical`` and ``OneCycle`` take their LR bounds from the LR finder's range.

The link is the finder itself, found among ``trainer.callbacks``: an ``LRFinder(apply=True)``
runs its test in ``on_fit_start`` and writes its suggestion into every param group (ratios
between groups kept); schedule callbacks read base LRs in ``on_train_start``, after every
``on_fit_start``. A schedule that wants the range reads ``finder.result.lr_range`` there and keeps
it as two factors of the LR the finder wrote:

.. math:: f_{low} = \eta_{low} / \eta_{s},\qquad f_{high} = \eta_{high} / \eta_{s}

(:math:`\eta_s` the suggestion), so a group whose LR is :math:`r\,\eta_s` gets the bounds
:math:`r\,\eta_{low}` and :math:`r\,\eta_{high}`. The factors are part of the schedule's start
point (:class:`RangeStart`), so a resumed or continued fit (where the finder does not run again)
keeps the same bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_warn
from typing_extensions import override

from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.checks import ScheduleConflictError
from lightning_lr.finder import LRFinder
from lightning_lr.planner import GroupSlot, StartPoint
from lightning_lr.schedules import Timeline

Factors = tuple[float, float]


def applying_finder(trainer: pl.Trainer) -> LRFinder | None:
    """The first ``LRFinder(apply=True)`` among ``trainer.callbacks``, or ``None``."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, LRFinder) and callback.apply:
            return callback
    return None


@dataclass
class RangeStart(StartPoint):
    """A start point that also keeps the finder's range as factors of the suggestion (``None``: not taken)."""

    range_factors: Factors | None = None

    def extra_state(self) -> dict[str, Any]:
        return {} if self.range_factors is None else {"finder_range_factors": list(self.range_factors)}

    @classmethod
    def extra_fields(cls, state: dict[str, Any]) -> dict[str, Any]:
        factors = state.get("finder_range_factors")
        return {"range_factors": None if factors is None else (float(factors[0]), float(factors[1]))}


class RangeSchedule(ScheduleCallback):
    """A schedule callback whose LR bounds may come from the finder's range (``Cyclical``, ``OneCycle``).

    Subclasses say through :attr:`from_finder` whether this configuration takes the range, how it is
    named in messages (``range_owner``) and what it does without a range (the factors
    ``range_fallback`` and their description ``range_fallback_text``); the hooks here require the
    finder at fit start and take the factors at a fresh start (keeping them for resumed and further fits).
    """

    start_type: ClassVar[type[StartPoint]] = RangeStart
    range_owner: str = ""
    range_fallback: Factors = (1.0, 1.0)
    range_fallback_text: str = ""

    @property
    def from_finder(self) -> bool:
        """Whether a bound comes from the LR finder."""
        return False

    def range_factors(self, slot: GroupSlot) -> Factors:
        """The factors planned with: those of the fit's start point, else the fallback (before the finder answers)."""
        start = slot.start
        if isinstance(start, RangeStart) and start.range_factors is not None:
            return start.range_factors
        return self.range_fallback

    @staticmethod
    def range_decided(slot: GroupSlot) -> bool:
        """Whether this fit's factors are decided (the finder's range, or the fallback when it gave none)."""
        return isinstance(slot.start, RangeStart) and slot.start.range_factors is not None

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.from_finder and applying_finder(trainer) is None:
            raise ScheduleConflictError(
                f"{self.range_owner} takes its LR range from the LR finder, but the trainer has no "
                "LRFinder(apply=True) among its callbacks: add `LRFinder()` to the callbacks, or give the bounds "
                "explicitly."
            )
        super().on_fit_start(trainer, pl_module)

    @override
    def before_planning(self, trainer: pl.Trainer, start: StartPoint, run: Timeline, nows: list[float]) -> StartPoint:
        if self.from_finder and isinstance(start, RangeStart) and start.range_factors is None:
            start.range_factors = self._finder_factors(trainer)
        return start

    def _finder_factors(self, trainer: pl.Trainer) -> Factors:
        finder = applying_finder(trainer)
        result = None if finder is None else finder.result
        span = None if result is None else result.lr_range
        if result is None or result.suggestion is None or span is None:
            why = "no LR finder ran" if result is None else result.explain()
            rank_zero_warn(f"{self.range_owner}: the LR finder gave no range ({why}). {self.range_fallback_text}")
            return self.range_fallback
        low, high = span
        return (low / result.suggestion, high / result.suggestion)
