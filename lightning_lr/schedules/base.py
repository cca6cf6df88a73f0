"""The schedule protocol, durations and the timeline that resolves them.

A schedule is a frozen dataclass and a pure function of the clock ``t`` (optimizer steps, or
epochs when a callback runs with ``interval="epoch"``). Durations may be written in steps, in
epochs or as a fraction of training (:class:`Span`); they become plain numbers once, in
:meth:`Schedule.resolve`, when the trainer knows how long the run is (:class:`Timeline`).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from lightning_lr.checks import check_choice, check_non_negative, check_real

Unit = Literal["steps", "epochs", "fraction"]


@dataclass(frozen=True)
class Span:
    """A duration in ``"steps"`` (clock units), ``"epochs"`` or as a ``"fraction"`` of training.

    Example:
        >>> Span.parse("10%"), Span.parse("2 epochs"), Span.parse(500)
        (Span(amount=0.1, unit='fraction'), Span(amount=2.0, unit='epochs'), Span(amount=500.0, unit='steps'))
    """

    amount: float
    unit: Unit = "steps"

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", check_non_negative("amount", self.amount))
        check_choice("unit", self.unit, ("steps", "epochs", "fraction"))
        if self.unit == "fraction" and self.amount > 1:
            raise ValueError(f"`amount` of a fraction of training must be in [0, 1], got {self.amount!r}.")

    @staticmethod
    def parse(value: DurationLike, name: str = "duration") -> Span:
        """Read a duration: a number of steps, ``"N steps"``, ``"N epochs"``, ``"P%"`` or a Span."""
        if isinstance(value, Span):
            return value
        if isinstance(value, str):
            match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(%|steps?|epochs?)\s*", value)
            if match is None:
                raise ValueError(f"`{name}` must look like '500 steps', '2 epochs' or '10%', got {value!r}.")
            try:
                amount = float(match.group(1))
            except ValueError:
                raise ValueError(f"`{name}` must start with a number, got {value!r}.") from None
            amount = check_non_negative(name, amount)
            unit = match.group(2)
            if unit == "%":
                if amount > 100:
                    raise ValueError(f"`{name}` as a percentage of training must be in [0%, 100%], got {value!r}.")
                return Span(amount / 100.0, "fraction")
            return Span(amount, "epochs" if unit.startswith("epoch") else "steps")
        return Span(check_non_negative(name, value), "steps")

    @staticmethod
    def positive(value: DurationLike, name: str) -> Span:
        """A duration of a callback parameter: > 0, and at least one clock unit when given in steps."""
        span = Span.parse(value, name)
        if span.amount <= 0:
            raise ValueError(f"`{name}` must be > 0, got {value!r}.")
        if span.unit == "steps" and span.amount < 1:
            raise ValueError(
                f"`{name}` is {value!r} clock units (steps, or epochs with interval='epoch'): it must be at least 1; "
                f"for a fraction of training write e.g. '{span.amount:.0%}'."
            )
        return span

    def in_steps(self, timeline: Timeline) -> float:
        """This duration in clock units on ``timeline``."""
        if self.unit == "steps":
            return self.amount
        if self.unit == "fraction":
            return self.amount * timeline.require_total(f"a duration of {self.amount:.0%} of training")
        return self.amount * timeline.steps_per_epoch


DurationLike = float | int | str | Span


def steps(amount: float) -> Span:
    """A duration of ``amount`` clock units (optimizer steps, or epochs with ``interval="epoch"``)."""
    return Span(amount, "steps")


def epochs(amount: float) -> Span:
    """A duration of ``amount`` training epochs."""
    return Span(amount, "epochs")


def fraction(amount: float) -> Span:
    """A duration of ``amount`` (in ``[0, 1]``) of the whole training run."""
    return Span(amount, "fraction")


@dataclass(frozen=True)
class Timeline:
    """What a schedule needs to know about the run to resolve its durations.

    Args:
        total: Length of the run in clock units (``math.inf`` when unknown or endless).
        steps_per_epoch: Clock units per epoch (``1.0`` when the clock counts epochs).
        remaining: Clock units left for the schedule being resolved (``nan``: all of ``total``);
            a phase with no duration fills what remains.
    """

    total: float
    steps_per_epoch: float = 1.0
    remaining: float = math.nan

    def __post_init__(self) -> None:
        for name in ("total", "steps_per_epoch"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value < 0:
                raise ValueError(f"`{name}` must be a number >= 0 (inf allowed), got {value!r}.")
        if self.steps_per_epoch == 0:
            raise ValueError("`steps_per_epoch` must be > 0, got 0.")
        if math.isnan(self.remaining):
            object.__setattr__(self, "remaining", self.total)

    def require_total(self, what: str) -> float:
        if not math.isfinite(self.total) or self.total <= 0:
            raise ValueError(
                f"{what} needs the length of training, but this run has no known length "
                f"(estimated steps: {self.total}). Set `max_epochs`/`max_steps` on the Trainer or give "
                "the schedule an explicit length in steps."
            )
        return self.total

    def fill(self) -> float:
        """The length of a phase with no duration: whatever remains of the run."""
        if not math.isfinite(self.remaining):
            self.require_total("A schedule phase without a length")
        return self.remaining

    def after(self, used: float) -> Timeline:
        """The timeline for what follows a phase of length ``used``."""
        return Timeline(self.total, self.steps_per_epoch, self.remaining - used)


def resolve_duration(duration: DurationLike | None, timeline: Timeline) -> float:
    """Clock units of ``duration``; ``None`` fills the rest of the timeline."""
    if duration is None:
        return timeline.fill()
    return Span.parse(duration).in_steps(timeline)


class Schedule(ABC):
    """A pure, closed-form function of the clock ``t``.

    Subclasses are frozen dataclasses: picklable, comparable and with a readable ``repr``.
    ``schedule(t)`` is defined for every ``t >= 0``; before resolution durations given in epochs
    or as a fraction of training cannot be evaluated (call :meth:`resolve` first).
    """

    @abstractmethod
    def __call__(self, t: float) -> float:
        """The value at clock ``t``."""

    @property
    def length(self) -> float:
        """Clock units until the schedule ends (``math.inf`` when it never ends)."""
        return math.inf

    def resolve(self, timeline: Timeline) -> Schedule:
        """A copy whose durations are plain numbers of clock units on ``timeline``."""
        return self

    def __mul__(self, other: Schedule | float) -> Schedule:
        from lightning_lr.schedules.combinators import Affine, Product

        if isinstance(other, Schedule):
            return Product((self, other))
        return Affine(self, scale=check_real("factor", other))

    __rmul__ = __mul__
