"""The planner: a recipe and the facts of a run in, the plan of one optimizer out. Pure: nothing is written.

Every user of a schedule calls :func:`plan_optimizer`: the Lightning callbacks (at fit start, to
check, and at train start, to run), :class:`~lightning_lr.ScheduleLR` and the preview.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch.optim import Optimizer

from lightning_lr.checks import ScheduleConflictError
from lightning_lr.planner.auto_warmup import AutoWarmup
from lightning_lr.planner.plan import GroupPlan, OptimizerPlan, momentum_key, one_of
from lightning_lr.planner.recipe import CLOCK_UNIT, GroupSlot, Recipe
from lightning_lr.planner.start import StartPoint
from lightning_lr.schedules import Schedule, Span, Timeline
from lightning_lr.schedules.combinators import ramp_into


def plan_optimizer(
    recipe: Recipe,
    optimizer: Optimizer,
    bases: Sequence[float],
    timeline: Timeline,
    *,
    optimizer_index: int = 0,
    strict: bool = True,
    start: StartPoint | None = None,
) -> OptimizerPlan:
    """Resolve ``recipe``'s schedule of the first ``len(bases)`` param groups of ``optimizer`` on ``timeline``.

    The recipe's ``warmup`` precedes each group's schedule as a linear ramp
    (:func:`~lightning_lr.schedules.combinators.ramp_into`; a momentum schedule is held meanwhile).
    Equal schedules become one object, evaluated once per step for all their groups; where the
    recipe's LR is a factor of the base LR to the bit (``lr_scales_with_base``, no warmup), all groups
    share one factor schedule.

    ``strict`` (the run's length is exact): refuse what is certainly a mistake — a warmup as long as
    training, and an explicit length shorter than training for a schedule that does not hold its
    end (``recipe.holds_end``). ``plan.end`` is where the planned schedule ends (warmup included).

    Args:
        recipe: What each group follows (a schedule callback, or any :class:`Recipe`).
        optimizer: Its param groups get the plans.
        bases: The base value of each group (the configured LR, captured at a fresh fit).
        timeline: The run, in the recipe's clock units.
        optimizer_index: Which of the recipe's optimizers this is (a recipe may plan them differently).
        strict: Refuse certain mistakes (see above).
        start: Where the fit starts, for a recipe whose plan depends on decisions kept between fits.

    Example:
        >>> import torch
        >>> from lightning_lr import CosineAnnealing
        >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> plan = plan_optimizer(CosineAnnealing(warmup=2), optimizer, [0.1], Timeline(total=10))
        >>> plan.write_values(1.0); optimizer.param_groups[0]["lr"]
        0.05
    """
    name = recipe.planned_name()
    groups = optimizer.param_groups
    if len(bases) > len(groups):
        raise ScheduleConflictError(f"{name}: {len(bases)} base LRs for {len(groups)} param groups.")
    auto = decided_warmup(recipe, optimizer, timeline, start, optimizer_index)
    width = auto if isinstance(recipe.warmup, AutoWarmup) else 0.0
    if isinstance(recipe.warmup, Span):
        width = recipe.warmup.in_steps(timeline)
    if width >= timeline.total and strict:
        raise ScheduleConflictError(
            f"{name}: the warmup ({width:g} {recipe.interval}s) is not shorter than "
            f"training ({timeline.total:g} {recipe.interval}s)."
        )
    main, shared = timeline.after(width), recipe.lr_scales_with_base and not width
    plan = OptimizerPlan(optimizer, holds_end=recipe.holds_end, uniform=recipe.uniform)
    distinct: dict[Schedule, Schedule] = {}
    for i, (group, base) in enumerate(zip(groups, bases)):
        slot = GroupSlot(optimizer_index, i, len(bases), width, start, auto)
        lr = recipe.lr_schedule(1.0 if shared else base, slot, main)
        momentum = recipe.momentum_schedule(slot, main)
        if i == 0:
            plan.end = width + lr.length
        lr = ramp_into(lr, width, recipe.warmup_start_factor)
        momentum = None if momentum is None else one_of(distinct, ramp_into(momentum, width, 1.0))
        key = momentum_key(name, optimizer, group, momentum)
        scale = base if shared else 1.0
        shape = one_of(distinct, lr)
        plan.groups.append(GroupPlan(group, shape, momentum, key, scale, recipe.key, floor=recipe.lr_floor(slot)))
    if strict and not recipe.holds_end and math.isfinite(plan.end):
        refuse_shorter(name, recipe.interval, plan.end - width, main.remaining, width)
    return plan


def decided_warmup(
    recipe: Recipe, optimizer: Optimizer, timeline: Timeline, start: StartPoint | None, index: int
) -> float:
    """The steps of ``warmup="auto"`` for optimizer ``index``: as decided at the fresh fit (kept in ``start``), else
    derived from ``optimizer`` now; 0 when the recipe's warmup is not automatic."""
    rule = recipe.auto_warmup_rule()
    if rule is None:
        return 0.0
    if start is not None and start.auto_warmup is not None and index < len(start.auto_warmup):
        return start.auto_warmup[index]
    return rule.steps(optimizer, timeline)


def outside_lightning(interval: str, total: float | None, steps_per_epoch: float | None) -> Timeline:
    """The run of a plan made outside a Lightning fit (``ScheduleLR``, the preview), from what the user says.

    ``total`` clock units (``None``: endless); ``steps_per_epoch`` clock units per epoch (``None``: not
    known, so a duration in epochs is refused when it is resolved); with ``interval="epoch"`` the clock
    counts epochs, one per epoch.

    Example:
        >>> outside_lightning("step", 100, None)
        Timeline(total=100.0, steps_per_epoch=inf, remaining=100.0, unit='steps')
    """
    per_epoch = 1.0 if interval == "epoch" else math.inf if steps_per_epoch is None else float(steps_per_epoch)
    return Timeline(math.inf if total is None else float(total), per_epoch, unit=CLOCK_UNIT[interval])


def refuse_shorter(name: str, interval: str, span: float, remaining: float, warmup: float) -> None:
    """Refuse an explicit length certainly shorter than training, for a schedule that does not hold its end."""
    if math.isfinite(remaining) and span < remaining * (1 - 1e-9):
        raise ScheduleConflictError(
            f"{name}: the schedule spans {span:g} {interval}s but training has {remaining:g} (after {warmup:g} of "
            "warmup), and this schedule does not simply hold its last value after its end (its PyTorch "
            "counterpart raises or turns back up). Leave the length unset to span the whole run, or change "
            "max_epochs/max_steps."
        )
