r"""How ``Cyclical`` and ``OneCycle`` take their LR bounds from the LR finder's range.

The link is the finder itself, found among ``trainer.callbacks``: an ``LRFinder(apply=True)``
runs its test in ``on_fit_start`` and writes its suggestion into every param group (ratios
between groups kept); schedule callbacks read base LRs in ``on_train_start``, after every
``on_fit_start``. A schedule that wants the range reads ``finder.result.lr_range`` there and keeps
it as two factors of the LR the finder wrote:

.. math:: f_{low} = \eta_{low} / \eta_{s},\qquad f_{high} = \eta_{high} / \eta_{s}

(:math:`\eta_s` the suggestion), so a group whose LR is :math:`r\,\eta_s` gets the bounds
:math:`r\,\eta_{low}` and :math:`r\,\eta_{high}`. The factors are saved in the schedule's own
checkpoint state: a resumed fit (where the finder does not run again) keeps the same bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_warn
from typing_extensions import override

from lightning_lr.callbacks.base import ScheduleCallback

if TYPE_CHECKING:
    from lightning_lr.finder.callback import LRFinder


def applying_finder(trainer: pl.Trainer) -> LRFinder | None:
    """The first ``LRFinder(apply=True)`` among ``trainer.callbacks``, or ``None``."""
    from lightning_lr.finder.callback import LRFinder  # the finder package imports the callbacks

    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, LRFinder) and callback.apply:
            return callback
    return None


class FinderRange:
    """The finder's range as factors of the LR the finder wrote (see the module docstring).

    Args:
        owner: How the schedule is named in messages, e.g. ``"Cyclical(base_lr=None)"``.
        fallback: The factors used when the finder found no range (no clear descent, no answer,
            test not run): ``(low, high)`` relative to each group's LR.
        fallback_text: What the fallback does, for the warning.
    """

    def __init__(self, owner: str, fallback: tuple[float, float], fallback_text: str) -> None:
        self.owner = owner
        self.fallback = fallback
        self.fallback_text = fallback_text
        self.factors: tuple[float, float] | None = None
        self._restored: tuple[float, float] | None = None

    def require(self, trainer: pl.Trainer) -> None:
        """Refuse a run without an ``LRFinder(apply=True)`` (called in ``on_fit_start``, before any step)."""
        if applying_finder(trainer) is None:
            from lightning_lr.callbacks.base import ScheduleConflictError

            raise ScheduleConflictError(
                f"{self.owner} takes its LR range from the LR finder, but the trainer has no LRFinder(apply=True) "
                "among its callbacks: add `LRFinder()` to the callbacks, or give the bounds explicitly."
            )

    def resolve(self, trainer: pl.Trainer) -> None:
        """Fix the factors in ``on_train_start``: from the checkpoint, the last fit, or the finder's result."""
        restored, self._restored = self._restored, None
        if restored is not None:
            self.factors = restored
            return
        if trainer.global_step > 0 and self.factors is not None:
            return  # a further fit() on the same trainer: keep the bounds of the first
        finder = applying_finder(trainer)
        result = None if finder is None else finder.result
        span = None if result is None else result.lr_range
        if result is None or result.suggestion is None or span is None:
            why = "no LR finder ran" if result is None else result.explain()
            rank_zero_warn(f"{self.owner}: the LR finder gave no range ({why}). {self.fallback_text}")
            self.factors = self.fallback
            return
        low, high = span
        self.factors = (low / result.suggestion, high / result.suggestion)

    def bounds(self) -> tuple[float, float]:
        """The factors in use (the fallback until :meth:`resolve` has run)."""
        return self.factors if self.factors is not None else self.fallback

    def state(self) -> dict[str, Any]:
        """Entries for the schedule's ``state_dict``."""
        return {} if self.factors is None else {"finder_range_factors": list(self.factors)}

    def load(self, state: dict[str, Any]) -> dict[str, Any]:
        """Take this helper's entries out of a loaded ``state_dict``; returns the rest."""
        rest = dict(state)
        factors = rest.pop("finder_range_factors", None)
        if factors is not None:
            low, high = (float(v) for v in factors)
            self._restored = (low, high)
        return rest


class RangeSchedule(ScheduleCallback):
    """A schedule callback whose LR bounds may come from the finder's range (``Cyclical``, ``OneCycle``).

    Subclasses set ``self._finder_range`` and say, through :attr:`from_finder`, whether this
    configuration takes the range; the hooks here require the finder at fit start, fix the factors
    at train start and keep them in the checkpoint.
    """

    _finder_range: FinderRange

    @property
    def from_finder(self) -> bool:
        """Whether a bound comes from the LR finder."""
        return False

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.from_finder:
            self._finder_range.require(trainer)
        super().on_fit_start(trainer, pl_module)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.from_finder:
            self._finder_range.resolve(trainer)
        super().on_train_start(trainer, pl_module)

    @override
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        return {**state, **self._finder_range.state()} if state else state

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(self._finder_range.load(state_dict))
