"""What a plan does to one optimizer: per-group schedules on a clock, and their time map.

A :class:`GroupPlan` writes one param group's LR (and momentum) for a clock value. An
:class:`OptimizerPlan` holds the plans of an optimizer's groups, where the planned schedule ends,
after a resume with another run length the :class:`Stretch` that maps the new run's clock onto the
old plan, and, once training runs, its :class:`~lightning_lr.planner.OptimizerClock`. Nothing here
knows Lightning: warnings go through the plan's ``warn`` (the callbacks pass ``rank_zero_warn``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from lightning_lr.checks import ScheduleConflictError
from lightning_lr.planner.clock import OptimizerClock
from lightning_lr.schedules import Affine, Clamp, Schedule

Warn = Callable[[str], None]


def python_warning(message: str) -> None:
    """The default ``warn`` of a plan outside Lightning: a Python ``UserWarning``."""
    warnings.warn(message, UserWarning, stacklevel=3)


def write_value(group: dict[str, Any], key: str, value: float) -> None:
    """Set ``group[key]``; a tensor (``lr=torch.tensor(...)`` for ``torch.compile``/capturable optimizers) in place."""
    current = group.get(key)
    if type(current) is not float and isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        group[key] = value


@dataclass
class GroupPlan:
    r"""The resolved schedules of one param group and how its value follows from them.

    The group's value at clock ``t`` is

    .. math:: v(t) = r\,(c\, f\, s(t)) \ \ (f = 1), \qquad v(t) = \max\big(r\,(c\, f\, s(t)),\ v_{min}\big)\ \ (f < 1)

    with ``shape`` :math:`s`, ``scale`` :math:`c` (the base LR when the shape is a factor of it,
    else 1), ``factor`` :math:`f` (the LR cuts: ``ReduceLROnPlateau``'s reductions, ``cut_lr``; 1
    otherwise), ``ratio`` :math:`r` (a group that joined mid-run: its LR over the first group's; 1
    otherwise) and ``floor`` :math:`v_{min}` (``min_lr``), which bounds the cuts only, as PyTorch's
    ``min_lr`` does. Groups that share a shape share one evaluation per step.
    """

    group: dict[str, Any]
    shape: Schedule
    momentum: Schedule | None
    momentum_key: str | None  # "momentum", "betas" (Adam's beta1) or None when momentum is left alone
    scale: float = 1.0
    key: str = "lr"  # the param-group value the plan sets (HyperparameterScheduler: "weight_decay", ...)
    ratio: float | None = None  # a group that joined mid-run: its value is `ratio` x the first group's
    factor: float = 1.0  # the LR cuts so far (ReduceLROnPlateau's reductions, cut_lr)
    floor: float = -math.inf  # ReduceLROnPlateau's min_lr: the lowest a cut brings the value
    written: float = math.nan  # the value a joined group was last given (another writer changes it)

    def unratioed(self, shape_value: float) -> float:
        """The value for the shape's value ``shape_value`` before the ratio and the floor: :math:`c f s`."""
        value = self.scale * shape_value
        return value if self.factor == 1.0 else self.factor * value

    def value_of(self, shape_value: float) -> float:
        """The group's value for its shape's value ``shape_value``."""
        value = self.unratioed(shape_value)
        if self.ratio is not None:
            value = self.ratio * value
        return self.floor if value < self.floor and self.factor < 1.0 else value

    def value(self, t: float) -> float:
        """The group's value at clock ``t`` (before any plateau cut that happens later)."""
        return self.value_of(self.shape(t))

    @property
    def lr(self) -> Schedule:
        """The group's value as one schedule, for figures and previews (cuts and floor included)."""
        scale = self.scale * self.factor * (1.0 if self.ratio is None else self.ratio)
        schedule = self.shape if scale == 1.0 else Affine(self.shape, scale=scale)
        return schedule if self.floor == -math.inf or self.factor == 1.0 else Clamp(schedule, minimum=self.floor)

    def write(self, value: float, momentum: float | None) -> None:
        """Write ``value`` (and the momentum, or Adam's ``beta1``) into the param group."""
        write_value(self.group, self.key, value)
        if self.ratio is not None:
            self.written = value
        if momentum is None:
            return
        if self.momentum_key == "betas":
            betas = self.group["betas"]
            if isinstance(betas[0], torch.Tensor):
                betas[0].fill_(momentum)
            else:
                self.group["betas"] = (momentum, betas[1])
        else:
            write_value(self.group, "momentum", momentum)

    def current_momentum(self) -> float | None:
        """The momentum (or ``beta1``) the group holds, when this plan sets it."""
        if self.momentum_key == "betas":
            return float(self.group["betas"][0])
        if self.momentum_key == "momentum":
            return float(self.group["momentum"])
        return None


@dataclass(frozen=True)
class Stretch:
    r"""Maps the clock of a longer (or shorter) run onto a plan made for the old length, without a jump.

    Up to ``start`` (where training resumed) the clock is unchanged; the rest of the old plan,
    from ``start`` to ``old_end``, is spread evenly over ``start .. new_end``:

    .. math:: t' = s + (t - s)\,\frac{T_{old} - s}{T_{new} - s}\quad (t \ge s)

    When the old plan had already ended (``start >= old_end``) its final value is held.

    Example:
        >>> Stretch(start=50, old_end=100, new_end=150)(100)
        75.0
    """

    start: float
    old_end: float
    new_end: float

    def __call__(self, t: float) -> float:
        if t <= self.start:
            return t
        if self.start >= self.old_end or self.new_end <= self.start:
            return max(self.old_end, self.start)
        return self.start + (t - self.start) * (self.old_end - self.start) / (self.new_end - self.start)


@dataclass
class OptimizerPlan:
    """What a callback does to one optimizer: one :class:`GroupPlan` per param group, and its clock.

    Building a plan is pure (:func:`~lightning_lr.planner.plan_optimizer`: no clock, nothing written);
    the callback attaches an :class:`~lightning_lr.planner.OptimizerClock` for the run. ``end`` is the
    clock value where the planned schedule ends (warmup included; ``inf`` when it never ends);
    ``stretches`` map the clock after resumes with other run lengths.
    """

    optimizer: torch.optim.Optimizer
    groups: list[GroupPlan] = field(default_factory=list)
    clock: OptimizerClock | None = None
    applied_at: float = -1.0
    end: float = math.inf
    holds_end: bool = True
    stretches: tuple[Stretch, ...] = ()
    warned_past_end: bool = False
    joined: bool = False  # some groups joined mid-run: check them at every step
    uniform: bool = False  # every group gets the same values: a joined group too, at ratio 1
    warn: Warn = field(default=python_warning, repr=False, compare=False)
    _slots: tuple[list[Schedule], list[tuple[GroupPlan, int, int]]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def steps(self) -> int:
        """Optimizer steps counted so far (0 before a clock is attached)."""
        return 0 if self.clock is None else self.clock.steps

    def apply(self, t: float, name: str, interval: str) -> None:
        """Write every group's values for the run's clock ``t``, evaluating each distinct schedule once
        (a schedule that does not hold its end warns once when ``t`` passes it, then holds its final value)."""
        self.applied_at = t
        at = self.plan_time(t)
        if at > self.end and not self.holds_end and not self.warned_past_end:
            self.warned_past_end = True
            self.warn(
                f"{name}: {type(self.optimizer).__name__} is at {interval} {t:g}, past the end of its schedule "
                f"({self.end:g}); the LR is held at its final value from here on."
            )
        self.write_values(at)

    def write_values(self, at: float) -> None:
        """Write every group's values at the plan's clock ``at``, evaluating each distinct schedule once."""
        schedules, slots = self._layout()
        values = [schedule(at) for schedule in schedules]
        for g, lr, momentum in slots:
            g.write(g.value_of(values[lr]), None if momentum < 0 else values[momentum])

    def _layout(self) -> tuple[list[Schedule], list[tuple[GroupPlan, int, int]]]:
        """The distinct schedule objects of the groups, and each group's index into them (-1: no momentum);
        made again when groups join (a group's schedules never change once planned)."""
        if self._slots is None or len(self._slots[1]) != len(self.groups):
            index: dict[int, int] = {}
            schedules: list[Schedule] = []

            def slot(schedule: Schedule | None) -> int:
                if schedule is None:
                    return -1
                if id(schedule) not in index:
                    index[id(schedule)] = len(schedules)
                    schedules.append(schedule)
                return index[id(schedule)]

            self._slots = (schedules, [(g, slot(g.shape), slot(g.momentum)) for g in self.groups])
        return self._slots

    def joiner(self, group: dict[str, Any], ratio: float) -> GroupPlan:
        """The plan of a group added mid-run: ``ratio`` x the first group's value, its momentum schedule, cut and
        floor too."""
        first = self.groups[0]
        key = first.momentum_key if first.momentum_key is not None and first.momentum_key in group else None
        momentum = first.momentum if key else None
        self.joined = True
        return GroupPlan(group, first.shape, momentum, key, first.scale, first.key, ratio, first.factor, first.floor)

    def rejoin(self, ratios: list[float]) -> None:
        """After a resume: the groups that had joined before, at their saved ratios, in order."""
        for ratio in ratios:
            if len(self.groups) < len(self.optimizer.param_groups):
                self.groups.append(self.joiner(self.optimizer.param_groups[len(self.groups)], ratio))

    def sync_groups(self, t: float) -> list[tuple[int, float, float]]:
        """Let groups added since the last step join; adopt values another callback wrote into joined groups.

        A joined group whose value differs from the one it was last given was set by someone else
        (Lightning's ``BackboneFinetuning`` raises its backbone group every epoch): the new value
        becomes its ratio to the first group, so the two cooperate instead of overwriting each other.
        Returns ``(index, value, ratio)`` of each group that joined now.
        """
        first = self.groups[0]
        shape = first.shape(self.plan_time(self.applied_at if self.applied_at >= 0 else t))
        for g in self.groups:
            reference = g.unratioed(shape)  # a joined group's value but for its ratio
            if g.ratio is not None and not self.uniform and float(g.group[g.key]) != g.written and reference > 0:
                g.ratio = float(g.group[g.key]) / reference
                self.applied_at = -1.0
        added = []
        reference = first.unratioed(shape)
        for group in self.optimizer.param_groups[len(self.groups) :]:
            value = float(group.get(first.key, math.nan))
            ratio = value / reference if reference > 0 and not self.uniform and math.isfinite(value) else 1.0
            self.groups.append(self.joiner(group, ratio))
            added.append((len(self.groups) - 1, value, ratio))
            self.applied_at = -1.0
        return added

    def plan_time(self, t: float) -> float:
        """The clock value of the plan for the run's clock ``t`` (after each stretch, oldest last)."""
        for stretch in reversed(self.stretches):
            t = stretch(t)
        return t


def momentum_key(
    name: str, optimizer: torch.optim.Optimizer, group: dict[str, Any], momentum: Schedule | None
) -> str | None:
    """Where a group keeps the momentum a schedule sets: ``"momentum"``, Adam's ``"betas"``, or ``None``."""
    if momentum is None:
        return None
    if "betas" in group:
        return "betas"
    if "momentum" in group:
        return "momentum"
    raise ScheduleConflictError(
        f"{name} cycles momentum but {type(optimizer).__name__} has neither `momentum` nor "
        "`betas`; pass `cycle_momentum=False`."
    )


def one_of(distinct: dict[Schedule, Schedule], schedule: Schedule) -> Schedule:
    """The object already in ``distinct`` that equals ``schedule`` (``schedule`` itself the first time)."""
    try:
        return distinct.setdefault(schedule, schedule)
    except TypeError:  # a user's schedule class that is not hashable: evaluated on its own
        return schedule
