"""Durations: how long a phase lasts, in clock units, epochs, samples, tokens or a fraction of training.

One parser, :func:`parse_duration`, reads every duration a user gives — to a schedule or to a
callback — with one set of rules (see its docstring); :class:`Timeline` turns a parsed duration
into clock units once the trainer knows how long the run is.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lightning_lr.checks import check_choice, check_non_negative, check_real

Unit = Literal["steps", "epochs", "fraction", "samples", "tokens"]
ClockUnit = Literal["steps", "epochs", "samples", "tokens"]
Require = Literal["non-negative", "positive", "one unit"]
FRACTION_HINT = "for a fraction of training write e.g. '{percent}'"
UNITS = ("steps", "epochs", "fraction", "samples", "tokens")
CLOCK_UNITS = ("steps", "epochs", "samples", "tokens")
SCALES = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


@dataclass(frozen=True)
class Span:
    """A duration in ``"steps"`` (clock units), ``"epochs"``, ``"samples"``, ``"tokens"`` or as a ``"fraction"``
    of training.

    ``named``: the duration was written as ``"N steps"`` (not as a bare number); such a duration counts
    optimizer steps and is refused on a clock of samples or tokens instead of being read as N of them.

    Example:
        >>> Span.parse("10%"), Span.parse("2 epochs"), Span.parse(500)
        (Span(amount=0.1, unit='fraction'), Span(amount=2.0, unit='epochs'), Span(amount=500.0, unit='steps'))
        >>> Span.parse("2M tokens"), Span.parse("50k samples")
        (Span(amount=2000000.0, unit='tokens'), Span(amount=50000.0, unit='samples'))
    """

    amount: float
    unit: Unit = "steps"
    named: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", check_non_negative("amount", self.amount))
        check_choice("unit", self.unit, UNITS)
        if self.unit == "fraction" and self.amount > 1:
            raise ValueError(f"`amount` of a fraction of training must be in [0, 1], got {self.amount!r}.")

    @staticmethod
    def parse(value: DurationLike, name: str = "duration") -> Span:
        """Read a duration by the rules of :func:`parse_duration` (a number is clock units)."""
        return parse_duration(value, name)

    def in_steps(self, timeline: Timeline) -> float:
        """This duration in clock units on ``timeline``."""
        if self.unit in ("samples", "tokens") or (self.unit == "steps" and self.named):
            return self._counted(timeline)
        if self.unit == "steps":
            return self.amount
        if self.unit == "fraction":
            return self.amount * timeline.require_total(f"a duration of {self.amount:.0%} of training")
        if not math.isfinite(timeline.steps_per_epoch) and self.amount > 0:
            raise ValueError(
                f"a duration of {self.amount:g} epochs needs the number of steps per epoch, which is not known here "
                "(a stream without length, or `steps_per_epoch` not given); give it in steps or as a fraction ('10%')."
            )
        return self.amount * timeline.steps_per_epoch

    def _counted(self, timeline: Timeline) -> float:
        """A duration in samples, tokens or named steps: only on a clock that counts them."""
        if self.unit == "steps" and timeline.unit in ("steps", "epochs"):
            return self.amount  # "N steps" on a step (or, as before, an epoch) clock: clock units
        if self.unit == timeline.unit:
            return self.amount
        wanted = {"samples": "interval='sample'", "tokens": "interval='token'", "steps": "interval='step'"}[self.unit]
        raise ValueError(
            f"a duration of {self.amount:g} {self.unit} cannot be measured on a clock that counts "
            f"{timeline.unit}: set {wanted} to count {self.unit}, or give the duration in {timeline.unit} or as a "
            "fraction ('10%')."
        )


DurationLike = float | int | str | Span


def parse_duration(
    value: Any, name: str = "duration", *, part_of_run: bool = False, require: Require = "non-negative"
) -> Span:
    """The one reading of a duration, for schedules and callbacks alike.

    * a :class:`Span` is taken as it is; a string is ``"N steps"``, ``"N epochs"`` or ``"P%"``;
    * a number is a count of clock units (optimizer steps, or epochs with ``interval="epoch"``),
      except where ``part_of_run`` (a callback's ``warmup``, ``num_warmup_steps``, ...: a part of
      the run, as Lightning's ``limit_train_batches``): there an ``int`` counts clock units and a
      ``float`` is a fraction of training in ``[0, 1)``; a part of the run is shorter than the run;
    * ``require``: ``"non-negative"``, ``"positive"``, or ``"one unit"`` (positive, and at least one
      clock unit when counted in them: a period of less than one step is a mistake, and the message
      says how to write a fraction of training instead).

    Example:
        >>> parse_duration(0.25, "warmup", part_of_run=True), parse_duration("2 epochs")
        (Span(amount=0.25, unit='fraction'), Span(amount=2.0, unit='epochs'))
    """
    span = _read(value, name, part_of_run)
    if part_of_run and span.unit == "fraction" and span.amount >= 1.0:
        raise ValueError(f"`{name}` must be shorter than training, got {value!r}.")
    if require != "non-negative" and span.amount <= 0:
        raise ValueError(f"`{name}` must be > 0, got {value!r}.")
    if require == "one unit" and span.unit == "steps" and span.amount < 1:
        hint = FRACTION_HINT.format(percent=f"{span.amount:.0%}")
        raise ValueError(
            f"`{name}` is {value!r} clock units (steps, or epochs with interval='epoch'): it must be at least 1; "
            f"{hint}."
        )
    return span


def _read(value: Any, name: str, part_of_run: bool) -> Span:
    if isinstance(value, Span):
        return value
    if isinstance(value, str):
        return _read_text(value, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        allowed = "an int of clock units, a float in [0, 1) (a fraction of training)" if part_of_run else "a number"
        raise TypeError(
            f"`{name}` must be {allowed} or a string like '500 steps', '2 epochs' or '10%'; "
            f"got {value!r} of type {type(value).__name__}."
        )
    if part_of_run and not isinstance(value, numbers.Integral):
        fraction = check_real(name, value)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(
                f"`{name}` as a float is a fraction of training and must be in [0, 1), got {value!r}; "
                "give an int for a number of clock units, or write e.g. '10%' or '2 epochs'."
            )
        return Span(fraction, "fraction")
    return Span(check_non_negative(name, value), "steps")


def _read_text(value: str, name: str) -> Span:
    match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([kKMBGT]?)\s*(%|steps?|epochs?|samples?|tokens?)\s*", value)
    if match is None:
        raise ValueError(
            f"`{name}` must look like '500 steps', '2 epochs', '10%', '50k samples' or '2M tokens', got {value!r}."
        )
    try:
        amount = float(match.group(1)) * SCALES[match.group(2)]
    except ValueError:
        raise ValueError(f"`{name}` must start with a number, got {value!r}.") from None
    amount = check_non_negative(name, amount)
    unit = match.group(3)
    if unit == "%":
        if amount > 100 or match.group(2):
            raise ValueError(f"`{name}` as a percentage of training must be in [0%, 100%], got {value!r}.")
        return Span(amount / 100.0, "fraction")
    plural = unit if unit.endswith("s") else unit + "s"
    return Span(amount, plural, named=plural == "steps")  # type: ignore[arg-type]


def steps(amount: float) -> Span:
    """A duration of ``amount`` clock units (optimizer steps, or epochs with ``interval="epoch"``)."""
    return Span(amount, "steps")


def epochs(amount: float) -> Span:
    """A duration of ``amount`` training epochs."""
    return Span(amount, "epochs")


def fraction(amount: float) -> Span:
    """A duration of ``amount`` (in ``[0, 1]``) of the whole training run."""
    return Span(amount, "fraction")


def is_clock_units(duration: object) -> bool:
    """Whether ``duration`` is already a plain number of clock units (a resolved duration)."""
    return isinstance(duration, numbers.Real) and not isinstance(duration, bool)


@dataclass(frozen=True)
class Timeline:
    """What a schedule needs to know about the run to resolve its durations.

    Args:
        total: Length of the run in clock units (``math.inf`` when unknown or endless).
        steps_per_epoch: Clock units per epoch (``1.0`` when the clock counts epochs; samples per epoch when it
            counts samples; ``math.inf`` when not known).
        remaining: Clock units left for the schedule being resolved (``nan``: all of ``total``);
            a phase with no duration fills what remains.
        unit: What the clock counts: ``"steps"`` (optimizer steps), ``"epochs"``, ``"samples"`` or ``"tokens"``.
    """

    total: float
    steps_per_epoch: float = 1.0
    remaining: float = math.nan
    unit: ClockUnit = "steps"

    def __post_init__(self) -> None:
        for name in ("total", "steps_per_epoch"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value < 0:
                raise ValueError(f"`{name}` must be a number >= 0 (inf allowed), got {value!r}.")
        if self.steps_per_epoch == 0:
            raise ValueError("`steps_per_epoch` must be > 0, got 0.")
        check_choice("unit", self.unit, CLOCK_UNITS)
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
        return Timeline(self.total, self.steps_per_epoch, self.remaining - used, self.unit)


def resolve_duration(duration: DurationLike | None, timeline: Timeline) -> float:
    """Clock units of ``duration``; ``None`` fills the rest of the timeline."""
    if duration is None:
        return timeline.fill()
    return parse_duration(duration).in_steps(timeline)
