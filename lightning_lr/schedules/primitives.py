r"""Primitive schedules: closed-form functions of the clock ``t``.

Interpolations (:class:`Linear`, :class:`Cosine`, :class:`Polynomial`) run from ``start`` to
``end`` over ``duration`` and then hold ``end``; ``duration=None`` fills the rest of training.
Decays (:class:`Exponential`, :class:`Step`, :class:`MultiStep`, :class:`InverseSqrt`) never end.
Values are plain numbers: a factor of the base LR when used with :class:`~lightning_lr.LRScheduler`,
an LR or a momentum inside the named callbacks. A number given as a duration counts clock units
(see :func:`~lightning_lr.schedules.durations.parse_duration`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from lightning_lr.checks import check_bool, check_non_negative, check_positive, check_real
from lightning_lr.schedules.base import (
    DurationLike,
    Schedule,
    check_duration,
    clock_units,
    duration_field,
)
from lightning_lr.schedules.durations import is_clock_units


@dataclass(frozen=True)
class Constant(Schedule):
    """A constant ``value``, for ``duration`` clock units (``None``: forever).

    Example:
        >>> Constant(0.5)(1000)
        0.5
    """

    value: float = 1.0
    duration: DurationLike | None = duration_field(None, none="forever")

    def __post_init__(self) -> None:
        check_real("value", self.value)
        check_duration("duration", self.duration, none="forever")

    def __call__(self, t: float) -> float:
        return self.value

    @property
    def length(self) -> float:
        return math.inf if self.duration is None else clock_units(self.duration, self)


@dataclass(frozen=True)
class _Interpolation(Schedule):
    start: float = 1.0
    end: float = 0.0
    duration: DurationLike | None = duration_field(None, none="fill")

    def __post_init__(self) -> None:
        check_real("start", self.start)
        check_real("end", self.end)
        check_duration("duration", self.duration, none="fill")
        resolved = self.duration is not None and is_clock_units(self.duration)
        object.__setattr__(self, "_units", float(self.duration) if resolved else None)  # type: ignore[arg-type]

    def _shape(self, progress: float) -> float:
        """Value at ``progress`` in ``[0, 1]``."""
        raise NotImplementedError

    def __call__(self, t: float) -> float:
        d = self._units  # type: ignore[attr-defined]  # the resolved duration, read on every step
        if d is None:
            d = clock_units(self.duration, self)  # raises: not resolved
        if t >= d:
            return self.end
        return self._shape((t if t > 0.0 else 0.0) / d)

    @property
    def length(self) -> float:
        return clock_units(self.duration, self)


@dataclass(frozen=True)
class Linear(_Interpolation):
    r"""Straight line from ``start`` to ``end``.

    .. math:: v(t) = (\mathrm{end} - \mathrm{start})\,\frac{t}{d} + \mathrm{start},\quad 0 \le t \le d

    Example:
        >>> Linear(0.0, 1.0, duration=4)(1)
        0.25
    """

    def _shape(self, progress: float) -> float:
        return (self.end - self.start) * progress + self.start


@dataclass(frozen=True)
class Cosine(_Interpolation):
    r"""Half a cosine wave from ``start`` to ``end`` (SGDR, Loshchilov & Hutter 2017).

    .. math:: v(t) = \mathrm{end} + \frac{\mathrm{start} - \mathrm{end}}{2}\left(1 + \cos\frac{\pi t}{d}\right)

    Example:
        >>> Cosine(1.0, 0.0, duration=10)(5)
        0.5
    """

    def _shape(self, progress: float) -> float:
        return self.end + (self.start - self.end) / 2.0 * (math.cos(math.pi * progress) + 1.0)


@dataclass(frozen=True)
class Polynomial(_Interpolation):
    r"""Polynomial decay from ``start`` to ``end`` (``power=1`` is linear).

    .. math:: v(t) = \mathrm{end} + (\mathrm{start} - \mathrm{end})\left(1 - \frac{t}{d}\right)^{p}

    Example:
        >>> Polynomial(1.0, 0.0, duration=10, power=2.0)(5)
        0.25
    """

    power: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("power", self.power)

    def _shape(self, progress: float) -> float:
        return self.end + (self.start - self.end) * float((1.0 - progress) ** self.power)


@dataclass(frozen=True)
class Power(_Interpolation):
    r"""From ``start`` to ``end`` along :math:`(t/d)^p` (``power=0.5``: fast first, the "sqrt" cooldown).

    .. math:: v(t) = \mathrm{start} + (\mathrm{end} - \mathrm{start})\left(\frac{t}{d}\right)^{p}

    Example:
        >>> Power(1.0, 0.0, duration=4, power=0.5)(1)
        0.5
    """

    power: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("power", self.power)

    def _shape(self, progress: float) -> float:
        return self.start + (self.end - self.start) * float(progress**self.power)


@dataclass(frozen=True)
class Exponential(Schedule):
    r"""Exponential decay by ``decay_rate`` every ``decay_steps`` (optionally in whole steps).

    .. math:: v(t) = \mathrm{start}\cdot r^{t / s}
        \quad\text{or, with staircase,}\quad \mathrm{start}\cdot r^{\lfloor t / s \rfloor}

    ``Exponential(gamma)`` is PyTorch's ``ExponentialLR``; ``decay_rate ** (t / decay_steps)`` is
    TensorFlow's / optax's ``exponential_decay``; the continuous form :math:`e^{-k t / s}` is the
    same formula with :math:`r = e^{-k}` (:meth:`from_rate`).

    Example:
        >>> Exponential(0.5, decay_steps=2)(4)
        0.25
    """

    decay_rate: float
    decay_steps: DurationLike = duration_field(1.0)
    staircase: bool = False
    start: float = 1.0

    def __post_init__(self) -> None:
        check_non_negative("decay_rate", self.decay_rate)
        check_duration("decay_steps", self.decay_steps)
        check_bool("staircase", self.staircase)
        check_real("start", self.start)

    @classmethod
    def from_rate(
        cls, k: float, decay_steps: DurationLike = 1.0, staircase: bool = False, start: float = 1.0
    ) -> Exponential:
        r"""Continuous decay with rate ``k`` per ``decay_steps``: :math:`v(t) = \mathrm{start}\cdot e^{-k t / s}`.

        Example:
            >>> round(Exponential.from_rate(k=math.log(2))(1), 12)
            0.5
        """
        return cls(math.exp(-check_non_negative("k", k)), decay_steps, staircase, start)

    def __call__(self, t: float) -> float:
        exponent = max(t, 0.0) / clock_units(self.decay_steps, self)
        if self.staircase:
            exponent = math.floor(exponent)
        return self.start * float(self.decay_rate**exponent)


@dataclass(frozen=True)
class Step(Schedule):
    r"""Multiply by ``gamma`` every ``step_size`` (PyTorch's ``StepLR``).

    .. math:: v(t) = \mathrm{start}\cdot\gamma^{\lfloor t / s \rfloor}

    Example:
        >>> Step(step_size=10, gamma=0.1)(25)
        0.010000000000000002
    """

    step_size: DurationLike = duration_field()
    gamma: float = 0.1
    start: float = 1.0

    def __post_init__(self) -> None:
        check_duration("step_size", self.step_size)
        check_non_negative("gamma", self.gamma)
        check_real("start", self.start)

    def __call__(self, t: float) -> float:
        return self.start * float(self.gamma ** math.floor(max(t, 0.0) / clock_units(self.step_size, self)))


@dataclass(frozen=True)
class MultiStep(Schedule):
    r"""Multiply by ``gamma`` at each milestone (PyTorch's ``MultiStepLR``).

    .. math:: v(t) = \mathrm{start}\cdot\gamma^{\#\{m_i \le t\}}

    Example:
        >>> MultiStep(milestones=(10, 20), gamma=0.5)(15)
        0.5
    """

    milestones: tuple[DurationLike, ...] = duration_field(many=True)
    gamma: float = 0.1
    start: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.milestones, (str, bytes)) or not hasattr(self.milestones, "__iter__"):
            raise TypeError(f"`milestones` must be a list of durations, got {self.milestones!r}.")
        object.__setattr__(self, "milestones", tuple(self.milestones))
        if not self.milestones:
            raise ValueError("`milestones` must not be empty.")
        for i, m in enumerate(self.milestones):
            check_duration(f"milestones[{i}]", m)
        numbers = [m for m in self.milestones if isinstance(m, (int, float))]
        if numbers != sorted(numbers):
            raise ValueError(f"`milestones` must be increasing, got {list(self.milestones)!r}.")
        check_non_negative("gamma", self.gamma)
        check_real("start", self.start)

    def __call__(self, t: float) -> float:
        points = [clock_units(m, self) for m in self.milestones]
        return self.start * self.gamma ** bisect.bisect_right(points, t)


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    r"""Inverse square-root decay (Vaswani et al. 2017), equal to ``start`` at ``t = 0``.

    .. math:: v(t) = \mathrm{start}\sqrt{\frac{\tau}{t + \tau}}

    Example:
        >>> InverseSqrt(timescale=100)(300)
        0.5
    """

    timescale: DurationLike = duration_field()
    start: float = 1.0

    def __post_init__(self) -> None:
        check_duration("timescale", self.timescale)
        check_real("start", self.start)

    def __call__(self, t: float) -> float:
        tau = clock_units(self.timescale, self)
        return self.start * math.sqrt(tau / (max(t, 0.0) + tau))
