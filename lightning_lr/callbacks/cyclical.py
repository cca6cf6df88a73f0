r"""Cyclical learning rates (Smith 2017): triangular, triangular2 and exp_range."""

from __future__ import annotations

from typing_extensions import Unpack

from lightning_lr.callbacks.finder_range import RangeSchedule
from lightning_lr.callbacks.options import ScheduleOptions
from lightning_lr.checks import (
    ScheduleConflictError,
    check_bool,
    check_choice,
    check_left_open_interval,
    check_momentum,
    check_non_negative,
    check_ordered,
    check_positive,
    per_group,
    pick_group,
)
from lightning_lr.planner import GroupSlot
from lightning_lr.schedules import Schedule, Timeline, between, parse_duration, triangle_wave
from lightning_lr.schedules.base import DurationLike
from lightning_lr.schedules.recipes import CyclicMode

FALLBACK_RATIO = 4.0
"""Without the finder's range, ``base_lr = max_lr / FALLBACK_RATIO`` (Smith 2017: 3 to 4)."""


class Cyclical(RangeSchedule):
    r"""Cyclical LR, step for step identical to PyTorch's ``CyclicLR``.

    With :math:`h(t) \in [0, 1]` a triangle wave rising over ``step_size_up`` and falling over
    ``step_size_down``, :math:`c = \lfloor t / (s_{up} + s_{down}) \rfloor`:

    .. math:: \eta(t) = \eta_{base} + (\eta_{max} - \eta_{base})\, h(t)\, \phi,\qquad
        \phi = 1,\; 2^{-c},\; \gamma^{t} \text{ for triangular, triangular2, exp\_range}

    Momentum moves the other way: :math:`m(t) = m_{max} - (m_{max} - m_{base})\, h(t)\,\phi`.

    A bound left ``None`` comes from the range of an ``LRFinder(apply=True)`` among the callbacks
    (:attr:`FinderResult.lr_range <lightning_lr.finder.FinderResult.lr_range>`, Smith's use of the
    range test): :math:`\eta_{base} = r\,\eta_{low}`, :math:`\eta_{max} = r\,\eta_{high}`, with
    :math:`r` the group's LR over the first group's (ratios between groups kept). When the finder
    found no range, a warning says so and ``max_lr`` is each group's LR (the suggestion, when there
    is one), ``base_lr`` a quarter of it (Smith: "3 to 4 times" below). Without an
    ``LRFinder(apply=True)`` a ``None`` bound is refused at fit start.

    Args:
        base_lr: Lower LR bound, one number or one per param group; ``None``: from the LR finder.
        max_lr: Upper LR bound, one number or one per param group; ``None``: from the LR finder.
        step_size_up: Clock units of the rising half (a number, or ``"4 epochs"``).
        step_size_down: Clock units of the falling half; ``None``: same as ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: Decay base of ``exp_range``, in (0, 1].
        cycle_momentum: Cycle ``momentum`` / ``betas[0]`` inversely to the LR.
        base_momentum: Lower momentum bound, one number or one per group.
        max_momentum: Upper momentum bound, one number or one per group.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = Cyclical(base_lr=1e-3, max_lr=1e-2, step_size_up="4 epochs", mode="triangular2")
        >>> from lightning_lr import LRFinder
        >>> callbacks = [LRFinder(), Cyclical(step_size_up="2 epochs")]  # bounds from the range test

    Reference: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
    """

    restarts = True  # the LR rises again: warned about on a learning-rate-free optimizer

    def __init__(
        self,
        base_lr: float | list[float] | None = None,
        max_lr: float | list[float] | None = None,
        step_size_up: DurationLike = 2000,
        step_size_down: DurationLike | None = None,
        mode: CyclicMode = "triangular",
        gamma: float = 1.0,
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(**options)
        self.base_lr = None if base_lr is None else per_group("base_lr", base_lr, check_non_negative)
        self.max_lr = None if max_lr is None else per_group("max_lr", max_lr, check_positive)
        if self.base_lr is not None and self.max_lr is not None:
            check_ordered("base_lr", self.base_lr, "max_lr", self.max_lr)
        missing = " and ".join(n for n, v in (("base_lr", self.base_lr), ("max_lr", self.max_lr)) if v is None)
        self.range_owner = f"Cyclical({missing}=None)"
        self.step_size_up = parse_duration(step_size_up, "step_size_up", require="one unit")
        self.step_size_down = (
            None if step_size_down is None else parse_duration(step_size_down, "step_size_down", require="one unit")
        )
        self.mode: CyclicMode = check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))  # type: ignore[assignment]
        self.gamma = check_left_open_interval("gamma", gamma, 0.0, 1.0)
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        self.base_momentum = per_group("base_momentum", base_momentum, check_momentum)
        self.max_momentum = per_group("max_momentum", max_momentum, check_momentum)
        check_ordered("base_momentum", self.base_momentum, "max_momentum", self.max_momentum)

    def _wave(self, timeline: Timeline) -> Schedule:
        up = self.step_size_up.in_steps(timeline)
        down = None if self.step_size_down is None else self.step_size_down.in_steps(timeline)
        return triangle_wave(up, down, self.mode, self.gamma)

    range_fallback = (1.0 / FALLBACK_RATIO, 1.0)
    range_fallback_text = f"max_lr is each group's LR, base_lr a {FALLBACK_RATIO:g}th of it."

    @property
    def from_finder(self) -> bool:
        """Whether a bound comes from the LR finder (``base_lr`` or ``max_lr`` left ``None``)."""
        return self.base_lr is None or self.max_lr is None

    @property
    def sets_momentum(self) -> bool:
        return self.cycle_momentum

    absolute_lr_args = ("base_lr", "max_lr")

    @property
    def absolute_lr(self) -> bool:
        return not self.from_finder

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        low_factor, high_factor = self.range_factors(slot)
        if self.base_lr is None:
            low = base_lr * low_factor
        else:
            low = pick_group("base_lr", self.base_lr, slot.group, slot.groups)
        if self.max_lr is None:
            high = base_lr * high_factor
        else:
            high = pick_group("max_lr", self.max_lr, slot.group, slot.groups)
        if low > high and self.range_decided(slot):  # checked once the finder has answered
            raise ScheduleConflictError(
                f"Cyclical: base_lr ({low:.4g}) > max_lr ({high:.4g}) for param group {slot.group} once the "
                "bounds from the LR finder are filled in; give both bounds, or neither."
            )
        return between(self._wave(timeline), low, high)

    def momentum_schedule(self, slot: GroupSlot, timeline: Timeline) -> Schedule | None:
        if not self.cycle_momentum:
            return None
        low = pick_group("base_momentum", self.base_momentum, slot.group, slot.groups)
        high = pick_group("max_momentum", self.max_momentum, slot.group, slot.groups)
        return between(self._wave(timeline), high, low)
