"""What a schedule callback is apart from Lightning: a recipe that says which schedule each param group follows.

A :class:`Recipe` holds the options every schedule shares (the clock's ``interval``, a linear
``warmup`` and where it starts) and answers, for one param group of one optimizer, its resolved LR
schedule and, where it sets one, its momentum schedule. The planner
(:func:`~lightning_lr.planner.plan_optimizer`) turns a recipe into a plan; the Lightning callbacks,
:class:`~lightning_lr.ScheduleLR` and the preview are its three users.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from torch.optim import Optimizer

from lightning_lr.checks import check_choice, check_closed_interval
from lightning_lr.planner.auto_warmup import AutoWarmup
from lightning_lr.schedules import Affine, Schedule, Span, Timeline, parse_duration
from lightning_lr.schedules.combinators import _check_schedule
from lightning_lr.schedules.durations import ClockUnit

if TYPE_CHECKING:
    from lightning_lr.planner.start import StartPoint

Interval = Literal["step", "epoch", "sample", "token"]
INTERVALS = ("step", "epoch", "sample", "token")
CLOCK_UNIT: dict[str, ClockUnit] = {"step": "steps", "epoch": "epochs", "sample": "samples", "token": "tokens"}
"""What the clock of each ``interval`` counts."""
WarmupLike = int | float | str | Span | AutoWarmup | None
LengthChange = Literal["stretch", "replan"]


def parse_warmup(value: WarmupLike, name: str = "warmup") -> Span | AutoWarmup | None:
    """A part of the run (``warmup``, ``num_warmup_steps``, ...) by the rules of
    :func:`~lightning_lr.schedules.parse_duration`; ``None`` for none (``None`` or zero); ``"auto"``
    (or an :class:`~lightning_lr.planner.auto_warmup.AutoWarmup`): the length the run derives from the optimizer."""
    if value is None:
        return None
    if isinstance(value, AutoWarmup):
        return value
    if isinstance(value, str) and value.strip().lower() == "auto":
        return AutoWarmup()
    span = parse_duration(value, name, part_of_run=True)
    return span if span.amount > 0 else None


def check_auto_warmup(warmup: object, interval: str, name: str = "warmup") -> None:
    """``warmup="auto"`` counts optimizer steps: refused on another clock."""
    if isinstance(warmup, AutoWarmup) and interval != "step":
        raise ValueError(
            f"`{name}='auto'` derives a number of optimizer steps and needs `interval='step'`, got "
            f"interval={interval!r}; give the warmup as a duration on this clock instead."
        )


@dataclass(frozen=True)
class GroupSlot:
    """The param group a schedule is planned for.

    Args:
        optimizer: Index of the optimizer among those the recipe drives.
        group: Index of the param group in that optimizer.
        groups: Number of param groups planned in that optimizer.
        warmup: Clock units of the linear warmup that precedes the schedule (0: none).
        start: Where the fit starts (what a callback keeps between fits: base values, its own decisions);
            ``None`` for a plan outside a fit (a preview, ``ScheduleLR``, the check at fit start).
        auto_warmup: The steps ``warmup="auto"`` decided for this optimizer (0 without it).
    """

    optimizer: int
    group: int
    groups: int
    warmup: float = 0.0
    start: StartPoint | None = None
    auto_warmup: float = 0.0


class Recipe(ABC):
    """A schedule for every param group, as a pure function of the run (no Lightning, no state of a fit).

    Subclasses implement :meth:`lr_schedule` (and :meth:`momentum_schedule` when they set momentum).

    Args:
        interval: What the clock counts: ``"step"`` optimizer steps, ``"epoch"`` epochs, ``"sample"`` the samples
            (``"token"``: the tokens) the optimizer steps so far trained on.
        warmup: Linear warmup before the schedule: an ``int`` of clock units, a ``float`` in
            ``[0, 1)`` as a fraction of training, or a string such as ``"2 epochs"`` or ``"5%"``.
        warmup_start_factor: Warmup starts at this fraction of the schedule's first value.
    """

    holds_end: ClassVar[bool] = True
    """After its length the schedule holds its last value, as its PyTorch counterpart does (``LinearLR``,
    ``PolynomialLR``): a shorter explicit length is fine. ``False`` where the counterpart raises or turns
    back up (``OneCycleLR``, ``CosineAnnealingLR``): a length certainly shorter than the run is refused."""

    length_change: ClassVar[LengthChange] = "stretch"
    """A resume (or further ``fit``) with another run length: ``"stretch"`` the rest of the plan over it
    (:class:`~lightning_lr.planner.Stretch`), or ``"replan"`` on the new length."""

    restarts: ClassVar[bool] = False
    """The LR rises again during training (cycles, restarts): warned about on a learning-rate-free optimizer."""
    metric_driven: ClassVar[bool] = False
    """The values also follow a monitored metric (``ReduceLROnPlateau``): a plan shows them without its cuts."""

    key: str = "lr"
    """The param-group value the schedule sets (``"lr"``; ``HyperparameterScheduler``: its key)."""

    absolute_lr_args: ClassVar[tuple[str, ...]] = ()
    """The arguments that give absolute LRs (``("max_lr",)``), named in messages when :attr:`absolute_lr`."""

    def __init__(
        self, *, interval: Interval = "step", warmup: WarmupLike = None, warmup_start_factor: float = 0.0
    ) -> None:
        self.interval: Interval = check_choice("interval", interval, INTERVALS)  # type: ignore[assignment]
        self.warmup = parse_warmup(warmup)
        check_auto_warmup(self.warmup, self.interval)
        self.warmup_start_factor = check_closed_interval("warmup_start_factor", warmup_start_factor, 0.0, 1.0)

    @abstractmethod
    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        """The resolved LR schedule of the group ``slot`` after warmup, on ``timeline`` (what the warmup leaves)."""

    def momentum_schedule(self, slot: GroupSlot, timeline: Timeline) -> Schedule | None:
        """The resolved momentum (or Adam ``beta1``) schedule of a group; ``None``: leave it alone."""
        return None

    def auto_warmup_rule(self) -> AutoWarmup | None:
        """The ``warmup="auto"`` rule this recipe's warmup follows; ``None``: its warmup is given, or none."""
        return self.warmup if isinstance(self.warmup, AutoWarmup) else None

    def lr_floor(self, slot: GroupSlot) -> float:
        """The lowest value a cut may bring the group to (``ReduceLROnPlateau``'s ``min_lr``); ``-inf``: none."""
        return -math.inf

    @property
    def sets_momentum(self) -> bool:
        """Whether :meth:`momentum_schedule` gives a schedule (the momentum, or Adam's ``beta1``, is set)."""
        return False

    @property
    def lr_scales_with_base(self) -> bool:
        """Whether ``lr_schedule(b)(t) == b * lr_schedule(1)(t)`` to the last bit for every ``b`` and ``t``.

        Then the groups of an optimizer share one factor schedule, evaluated once per step, and each
        multiplies it by its base LR (``tests/test_plan_sharing.py`` holds every recipe that says so
        to the bit). Only where the product rounds exactly as the schedule built on ``b`` does
        (``start * r**k``, ``b/2 * (cos + 1)``, ``0 + b * s(t)``); never with a warmup ramp.
        """
        return False

    @property
    def absolute_lr(self) -> bool:
        """Whether the LRs set ignore the optimizer's configured LR (``OneCycle(max_lr=...)``, ``Cyclical`` with
        both bounds): an LR written into the optimizer before training (the finder's, ``ScaleLR``'s) has no effect."""
        return False

    @property
    def uniform(self) -> bool:
        """Whether every group gets the same values (a group added mid-run too, at ratio 1)."""
        return False

    def base_lrs(self, optimizer: Optimizer) -> list[float]:
        """The base value of each group (its configured ``key``), captured once at the start of a fresh fit."""
        return [float(g[self.key]) for g in optimizer.param_groups]

    def param_keys(self) -> frozenset[str]:
        """The param-group keys the schedule writes; two schedules on one optimizer conflict when these meet."""
        return frozenset({self.key, "momentum", "betas"} if self.sets_momentum else {self.key})

    def preview_note(self) -> str:
        """What a plan of this recipe leaves out (shown under previews and figures); ``""``: nothing."""
        return ""

    @property
    def clock_unit(self) -> ClockUnit:
        """What the clock counts: ``"steps"``, ``"epochs"``, ``"samples"`` or ``"tokens"``."""
        return CLOCK_UNIT[self.interval]

    def planned_name(self) -> str:
        """How the recipe is named in messages."""
        return type(self).__name__


def factor_of_base(schedule: Schedule, base_lr: float, timeline: Timeline) -> Schedule:
    r"""The generic recipe's rule: each group's base value times ``schedule``, resolved on ``timeline``.

    .. math:: \eta_g(t) = \eta_g^{base}\, s(t)
    """
    return Affine(schedule.resolve(timeline), scale=base_lr)


class FactorRecipe(Recipe):
    """Any schedule as a factor of each group's base value, with an optional momentum schedule (absolute values).

    The recipe of :class:`~lightning_lr.LRScheduler` and of :class:`~lightning_lr.ScheduleLR` given a schedule.

    Example:
        >>> from lightning_lr.schedules import Cosine
        >>> recipe = FactorRecipe(Cosine(1.0, 0.0, 10))
        >>> recipe.lr_schedule(0.1, GroupSlot(0, 0, 1), Timeline(total=10))(5)
        0.05
    """

    def __init__(self, schedule: Schedule, momentum: Schedule | None = None, **options: Any) -> None:
        super().__init__(**options)
        _check_schedule("schedule", schedule)
        if momentum is not None:
            _check_schedule("momentum", momentum)
        self.schedule = schedule
        self.momentum = momentum

    @property
    def lr_scales_with_base(self) -> bool:
        return True

    @property
    def sets_momentum(self) -> bool:
        return self.momentum is not None

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        return factor_of_base(self.schedule, base_lr, timeline)

    def momentum_schedule(self, slot: GroupSlot, timeline: Timeline) -> Schedule | None:
        return None if self.momentum is None else self.momentum.resolve(timeline)
