"""The schedule protocol: a pure function of the clock whose durations resolve once.

A schedule is a frozen dataclass and a pure function of the clock ``t`` (optimizer steps, or
epochs when a callback runs with ``interval="epoch"``). Durations may be written in steps, in
epochs or as a fraction of training (:mod:`~lightning_lr.schedules.durations`); they become plain
numbers once, in :meth:`Schedule.resolve`, when the trainer knows how long the run is.

What ``resolve`` does is declared on the fields: :func:`duration_field` marks a duration,
:func:`schedule_field` a child schedule (or a tuple of them); the one generic :meth:`Schedule.resolve`
and :attr:`Schedule.is_resolved` read those marks.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import MISSING, Field, field, fields, replace
from typing import Any, Literal

from lightning_lr.checks import check_real
from lightning_lr.schedules.durations import (
    DurationLike,
    Span,
    Timeline,
    epochs,
    fraction,
    is_clock_units,
    parse_duration,
    resolve_duration,
    steps,
)

__all__ = [
    "DurationLike",
    "Schedule",
    "Span",
    "Timeline",
    "check_duration",
    "clock_units",
    "duration_field",
    "epochs",
    "fraction",
    "parse_duration",
    "resolve_duration",
    "schedule_field",
    "steps",
]

NoneMeans = Literal["fill", "forever", "never"]


def duration_field(default: Any = MISSING, *, none: NoneMeans = "never", many: bool = False) -> Any:
    """A dataclass field holding a duration that :meth:`Schedule.resolve` turns into clock units.

    ``none``: what ``None`` means — ``"fill"`` whatever the run leaves, ``"forever"`` (kept as it
    is), or ``"never"`` allowed. ``many``: a tuple of durations (``MultiStep``'s milestones).
    """
    return field(default=default, metadata={"resolve": "durations" if many else "duration", "none": none})


def schedule_field(*, many: bool = False) -> Any:
    """A dataclass field holding a child schedule (``many``: a tuple of them), resolved with its parent."""
    return field(metadata={"resolve": "schedules" if many else "schedule"})


def clock_units(duration: DurationLike | None, owner: Schedule) -> float:
    """A resolved duration as a float; a clear error when ``owner`` was not resolved."""
    if type(duration) is float:  # the usual case, on every step: no ABC check
        return duration
    if is_clock_units(duration):
        return float(duration)  # type: ignore[arg-type]
    raise RuntimeError(
        f"{owner!r} has a duration that depends on the run ({duration!r}); call "
        "`.resolve(Timeline(...))` first (the callbacks do this at fit start)."
    )


def _marked(schedule: Schedule) -> list[tuple[Field[Any], Any]]:
    return [(f, getattr(schedule, f.name)) for f in fields(schedule) if "resolve" in f.metadata]  # type: ignore[arg-type]


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

    @property
    def is_resolved(self) -> bool:
        """Whether every duration, here and in the child schedules, is a plain number of clock units."""
        for f, value in _marked(self):
            kind = f.metadata["resolve"]
            if kind == "schedule" and not value.is_resolved:
                return False
            if kind == "schedules" and not all(v.is_resolved for v in value):
                return False
            if kind == "durations" and not all(is_clock_units(v) for v in value):
                return False
            if kind == "duration" and not (
                is_clock_units(value) or (value is None and f.metadata["none"] == "forever")
            ):
                return False
        return True

    def resolve(self, timeline: Timeline) -> Schedule:
        """A copy whose durations are plain numbers of clock units on ``timeline``."""
        changes: dict[str, Any] = {}
        for f, value in _marked(self):
            kind = f.metadata["resolve"]
            if kind == "schedule":
                changes[f.name] = value.resolve(timeline)
            elif kind == "schedules":
                changes[f.name] = tuple(v.resolve(timeline) for v in value)
            elif kind == "durations":
                changes[f.name] = tuple(resolve_duration(v, timeline) for v in value)
            elif value is not None or f.metadata["none"] == "fill":
                changes[f.name] = resolve_duration(value, timeline)
        return replace(self, **changes) if changes else self  # type: ignore[type-var]

    def __mul__(self, other: Schedule | float) -> Schedule:
        from lightning_lr.schedules.combinators import Affine, Product

        if isinstance(other, Schedule):
            return Product((self, other))
        return Affine(self, scale=check_real("factor", other))

    __rmul__ = __mul__


def check_duration(name: str, value: DurationLike | None, none: NoneMeans = "never") -> None:
    """A schedule's duration argument: ``None`` where allowed, else a positive duration (see :func:`parse_duration`)."""
    if value is None:
        if none == "never":
            raise ValueError(f"`{name}` is required.")
        return
    parse_duration(value, name, require="positive")
