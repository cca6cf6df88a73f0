"""The planner: recipe + the facts of a run -> the plan of each optimizer. Pure: no Lightning in here.

Layers (imports run one way, see docs/architecture.md): :mod:`lightning_lr.schedules` (closed-form
schedules) -> this package -> the Lightning callbacks, :class:`~lightning_lr.ScheduleLR` and the
preview, which all plan through :func:`plan_optimizer` and start through :func:`begin`.

Example:
    >>> import torch
    >>> from lightning_lr import OneCycle
    >>> from lightning_lr.schedules import Timeline
    >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> plan = plan_optimizer(OneCycle(), optimizer, [0.1], Timeline(total=100))
    >>> plan.write_values(0.0)
    >>> round(optimizer.param_groups[0]["lr"], 12), optimizer.param_groups[0]["momentum"]
    (0.004, 0.95)
"""

from lightning_lr.checks import ScheduleConflictError
from lightning_lr.planner.auto_warmup import AutoWarmup, adam_beta2
from lightning_lr.planner.build import outside_lightning, plan_optimizer, refuse_shorter
from lightning_lr.planner.clock import OptimizerClock
from lightning_lr.planner.plan import GroupPlan, OptimizerPlan, Stretch, write_value
from lightning_lr.planner.recipe import (
    FactorRecipe,
    GroupSlot,
    Interval,
    LengthChange,
    Recipe,
    WarmupLike,
    factor_of_base,
    parse_warmup,
)
from lightning_lr.planner.start import FitKind, StartPoint, begin, length_change

__all__ = [
    "AutoWarmup",
    "FactorRecipe",
    "FitKind",
    "GroupPlan",
    "GroupSlot",
    "Interval",
    "LengthChange",
    "OptimizerClock",
    "OptimizerPlan",
    "Recipe",
    "ScheduleConflictError",
    "StartPoint",
    "Stretch",
    "WarmupLike",
    "adam_beta2",
    "begin",
    "factor_of_base",
    "length_change",
    "outside_lightning",
    "parse_warmup",
    "plan_optimizer",
    "refuse_shorter",
    "write_value",
]
