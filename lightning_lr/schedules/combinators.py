r"""The schedule algebra: join phases, repeat in cycles, multiply, shift and scale, clamp, warm up.

Each combinator is itself a frozen-dataclass :class:`~lightning_lr.schedules.Schedule`, so
expressions nest: ``Warmup(Cycle(Cosine(1, 0, 1000), period_mult=2), duration="5%")``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, replace

from lightning_lr.checks import check_closed_interval, check_non_negative, check_positive_int, check_real
from lightning_lr.schedules.base import (
    DurationLike,
    Schedule,
    Timeline,
    clock_units,
    duration_field,
    parse_duration,
    schedule_field,
)
from lightning_lr.schedules.primitives import Constant, Linear


def _check_schedule(name: str, value: object) -> None:
    if not isinstance(value, Schedule):
        raise TypeError(f"`{name}` must be a Schedule, got {value!r} of type {type(value).__name__}.")


@dataclass(frozen=True)
class Join(Schedule):
    r"""Phases one after another; each phase sees its own clock starting at 0.

    .. math:: v(t) = s_i(t - b_i)\quad\text{for } b_i \le t < b_{i+1},\; b_i = \textstyle\sum_{j<i} \ell_j

    Every phase but the last needs a finite length; one phase with ``duration=None`` fills what
    the other phases leave of training (a last ``Constant`` with no duration runs forever).

    Example:
        >>> from lightning_lr.schedules import Cosine, Linear
        >>> s = Join((Linear(0.0, 1.0, 10), Cosine(1.0, 0.0, 90)))
        >>> s(5), s(10), s(100)
        (0.5, 1.0, 0.0)
    """

    phases: tuple[Schedule, ...] = schedule_field(many=True)
    _starts: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.phases, Schedule) or not hasattr(self.phases, "__iter__"):
            raise TypeError(f"`phases` must be a sequence of Schedules, got {self.phases!r}.")
        object.__setattr__(self, "phases", tuple(self.phases))
        if not self.phases:
            raise ValueError("`phases` must hold at least one Schedule.")
        for i, phase in enumerate(self.phases):
            _check_schedule(f"phases[{i}]", phase)
        starts: list[float] = [0.0]
        if all(phase.is_resolved for phase in self.phases[:-1]):
            for phase in self.phases[:-1]:
                starts.append(starts[-1] + phase.length)
        else:  # durations that depend on the run: boundaries are known after resolve()
            starts = []
        object.__setattr__(self, "_starts", tuple(starts))

    def __call__(self, t: float) -> float:
        if not self._starts:
            raise RuntimeError(f"{self!r} has unresolved durations; call `.resolve(Timeline(...))` first.")
        i = max(bisect.bisect_right(self._starts, t) - 1, 0)
        return self.phases[i](t - self._starts[i])

    @property
    def length(self) -> float:
        return sum(phase.length for phase in self.phases)

    def resolve(self, timeline: Timeline) -> Join:
        last = len(self.phases) - 1
        fills = [i for i, p in enumerate(self.phases) if _fills(p, is_last=i == last)]
        if len(fills) > 1:
            raise ValueError(f"Join: only one phase may have `duration=None` (fill the rest), got phases {fills}.")
        resolved: dict[int, Schedule] = {}
        used = 0.0
        for i, phase in enumerate(self.phases):
            if i in fills:
                continue
            resolved[i] = phase = phase.resolve(timeline.after(used))
            if i < last and not math.isfinite(phase.length):
                raise ValueError(f"Join: phase {i} ({phase!r}) never ends, so the phases after it never start.")
            used += phase.length if i < last else 0.0
        if fills:
            rest = timeline.fill() - sum(p.length for p in resolved.values())
            if rest < 0:
                raise ValueError(
                    f"Join: the phases with a length ({timeline.fill() - rest:g} steps) are longer "
                    f"than training ({timeline.fill():g} steps)."
                )
            resolved[fills[0]] = replace(self.phases[fills[0]], duration=rest)  # type: ignore[type-var]
        return Join(tuple(resolved[i] for i in range(len(self.phases))))


def _fills(phase: Schedule, is_last: bool) -> bool:
    """A phase whose ``duration=None`` means "whatever the other phases leave"."""
    if getattr(phase, "duration", 0.0) is not None:
        return False
    return not (is_last and isinstance(phase, Constant))


@dataclass(frozen=True)
class Cycle(Schedule):
    r"""Repeat ``schedule`` (warm restarts), each cycle ``period_mult`` times longer.

    Cycle :math:`n` (from 0) lasts :math:`\ell\,m^n` and starts at :math:`\ell (m^n - 1)/(m - 1)`
    (:math:`\ell n` when :math:`m = 1`); inside it the schedule is stretched to that length and
    scaled by :math:`\delta^n`:

    .. math:: v(t) = \delta^{n}\, s\!\left(\frac{t - t_n}{m^{n}}\right)

    After ``max_cycles`` cycles the last value is held. ``period_mult`` may be fractional (>= 1).

    Example:
        >>> from lightning_lr.schedules import Linear
        >>> saw = Cycle(Linear(1.0, 0.0, 10), period_mult=2.0, peak_decay=0.5)
        >>> saw(0), saw(5), saw(10), saw(20)
        (1.0, 0.5, 0.5, 0.25)
    """

    schedule: Schedule = schedule_field()
    period_mult: float = 1.0
    peak_decay: float = 1.0
    max_cycles: int | None = None

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        period = self.schedule.length if self.schedule.is_resolved else 1.0  # else checked once resolved
        if not (math.isfinite(period) and period > 0):
            raise ValueError(f"`schedule` of a Cycle must have a finite, positive length, got {self.schedule!r}.")
        if check_real("period_mult", self.period_mult) < 1.0:
            raise ValueError(f"`period_mult` must be >= 1, got {self.period_mult!r}.")
        check_non_negative("peak_decay", self.peak_decay)
        if self.max_cycles is not None:
            check_positive_int("max_cycles", self.max_cycles)

    def _cycle_start(self, n: int) -> float:
        period, m = self.schedule.length, self.period_mult
        return period * n if m == 1.0 else period * (m**n - 1.0) / (m - 1.0)

    def _cycle_of(self, t: float) -> int:
        period, m = self.schedule.length, self.period_mult
        n = int(t // period) if m == 1.0 else int(math.log(t * (m - 1.0) / period + 1.0, m))
        while n > 0 and self._cycle_start(n) > t:  # log/floor may land one cycle off at a boundary
            n -= 1
        while self._cycle_start(n + 1) <= t:
            n += 1
        return n

    def __call__(self, t: float) -> float:
        period = self.schedule.length
        if not math.isfinite(period) or period <= 0:
            raise ValueError(f"Cycle needs a schedule of finite, positive length, got {self.schedule!r}.")
        t = max(t, 0.0)
        if self.max_cycles is not None and t >= self.length:
            n, local = self.max_cycles - 1, period
        else:
            n = self._cycle_of(t)
            local = (t - self._cycle_start(n)) / self.period_mult**n
        return self.peak_decay**n * self.schedule(local)

    @property
    def length(self) -> float:
        return math.inf if self.max_cycles is None else self._cycle_start(self.max_cycles)


@dataclass(frozen=True)
class Product(Schedule):
    r"""The product of several schedules, all on the same clock.

    .. math:: v(t) = \prod_i s_i(t)

    Example:
        >>> from lightning_lr.schedules import Constant, Exponential
        >>> Product((Constant(2.0), Exponential(0.5)))(1)
        1.0
    """

    factors: tuple[Schedule, ...] = schedule_field(many=True)

    def __post_init__(self) -> None:
        if isinstance(self.factors, Schedule) or not hasattr(self.factors, "__iter__"):
            raise TypeError(f"`factors` must be a sequence of Schedules, got {self.factors!r}.")
        object.__setattr__(self, "factors", tuple(self.factors))
        if not self.factors:
            raise ValueError("`factors` must hold at least one Schedule.")
        for i, f in enumerate(self.factors):
            _check_schedule(f"factors[{i}]", f)

    def __call__(self, t: float) -> float:
        return math.prod(f(t) for f in self.factors)

    @property
    def length(self) -> float:
        return min(f.length for f in self.factors)


@dataclass(frozen=True)
class Affine(Schedule):
    r"""Scale and shift: ``offset + scale * schedule(t)``.

    .. math:: v(t) = o + a\, s(t)

    Example:
        >>> from lightning_lr.schedules import Linear
        >>> Affine(Linear(0.0, 1.0, 10), scale=0.9, offset=0.1)(10)
        1.0
    """

    schedule: Schedule = schedule_field()
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        check_real("scale", self.scale)
        check_real("offset", self.offset)

    def __call__(self, t: float) -> float:
        return self.offset + self.scale * self.schedule(t)

    @property
    def length(self) -> float:
        return self.schedule.length


@dataclass(frozen=True)
class Clamp(Schedule):
    r"""Keep ``schedule`` inside ``[minimum, maximum]`` (``None``: no bound).

    .. math:: v(t) = \min(\max(s(t), \mathrm{lo}), \mathrm{hi})

    Example:
        >>> from lightning_lr.schedules import Exponential
        >>> Clamp(Exponential(0.5), minimum=0.1)(10)
        0.1
    """

    schedule: Schedule = schedule_field()
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        lo = None if self.minimum is None else check_real("minimum", self.minimum)
        hi = None if self.maximum is None else check_real("maximum", self.maximum)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"`minimum` ({lo!r}) must be <= `maximum` ({hi!r}).")

    def __call__(self, t: float) -> float:
        value = self.schedule(t)
        if self.minimum is not None and value < self.minimum:
            value = self.minimum
        if self.maximum is not None and value > self.maximum:
            value = self.maximum
        return value

    @property
    def length(self) -> float:
        return self.schedule.length


@dataclass(frozen=True)
class Warmup(Schedule):
    r"""Linear warmup into ``schedule``: a :class:`Join` of a ramp and the schedule.

    The ramp goes from ``start_factor * schedule(0)`` to ``schedule(0)`` over ``duration``;
    the schedule then runs on what is left of training. ``duration`` reads as a callback's
    ``warmup`` does: an ``int`` of clock units, a ``float`` in ``[0, 1)`` as a fraction of training,
    or a string (``"2 epochs"``, ``"5%"``); see :func:`~lightning_lr.schedules.durations.parse_duration`.

    .. math:: v(t) = s(0)\left(f_0 + (1 - f_0)\frac{t}{w}\right) \text{ for } t < w,
        \qquad v(t) = s(t - w) \text{ after}

    Example:
        >>> from lightning_lr.schedules import Cosine, Timeline
        >>> s = Warmup(Cosine(1.0, 0.0), duration="10%").resolve(Timeline(total=100))
        >>> s(5), s(10), s(55)
        (0.5, 1.0, 0.5)
    """

    schedule: Schedule = schedule_field()
    duration: DurationLike = duration_field()
    start_factor: float = 0.0

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        parse_duration(self.duration, "duration", part_of_run=True)
        check_closed_interval("start_factor", self.start_factor, 0.0, 1.0)

    def __call__(self, t: float) -> float:
        raise RuntimeError(f"{self!r} must be resolved first: call `.resolve(Timeline(...))`.")

    @property
    def length(self) -> float:
        raise RuntimeError(f"{self!r} must be resolved first: call `.resolve(Timeline(...))`.")

    @property
    def is_resolved(self) -> bool:
        return False  # resolving turns it into a Join

    def resolve(self, timeline: Timeline) -> Schedule:
        width = parse_duration(self.duration, "duration", part_of_run=True).in_steps(timeline)
        if math.isfinite(timeline.remaining) and width >= timeline.remaining:
            raise ValueError(
                f"The warmup ({self.duration!r} = {width:g} steps) is not shorter than training "
                f"({timeline.remaining:g} steps)."
            )
        return ramp_into(self.schedule.resolve(timeline.after(width)), width, self.start_factor)


def ramp_into(main: Schedule, width: float, start_factor: float) -> Schedule:
    r"""``main`` (resolved) after a linear ramp of ``width`` clock units from ``start_factor`` times its first value.

    .. math:: v(t) = s(0)\left(f + (1 - f)\,\frac{t}{w}\right)\ (t < w),\qquad v(t) = s(t - w)\ (t \ge w)

    The one warmup ramp: :class:`Warmup` resolves to it, and so does every callback's ``warmup=``
    (a momentum schedule is held at its first value during the warmup: ``start_factor=1``).

    Example:
        >>> from lightning_lr.schedules import Constant
        >>> s = ramp_into(Constant(2.0), 4, 0.5)
        >>> [s(t) for t in range(6)]
        [1.0, 1.25, 1.5, 1.75, 2.0, 2.0]
    """
    if width == 0:
        return main
    peak = main(0.0)
    return Join((Linear(start_factor * peak, peak, width), main))


@dataclass(frozen=True)
class Truncate(Schedule):
    r"""Run ``schedule`` for ``duration`` clock units, then hold the value it reached.

    .. math:: v(t) = s(\min(t, d))

    Example:
        >>> from lightning_lr.schedules import Exponential
        >>> Truncate(Exponential(0.5), duration=2)(10)
        0.25
    """

    schedule: Schedule = schedule_field()
    duration: DurationLike = duration_field()

    def __post_init__(self) -> None:
        _check_schedule("schedule", self.schedule)
        parse_duration(self.duration, "duration")

    def __call__(self, t: float) -> float:
        return self.schedule(min(t, self.length))

    @property
    def length(self) -> float:
        return clock_units(self.duration, self)


__all__ = ["Affine", "Clamp", "Cycle", "Join", "Product", "Truncate", "Warmup", "ramp_into"]
