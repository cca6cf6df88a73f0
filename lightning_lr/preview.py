"""See a schedule before training: its planned LR and momentum, as numbers, a sparkline or a figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from lightning_lr.checks import check_positive, check_positive_int
from lightning_lr.logging.figures import SchedulePreview, plans_preview, plot_previews
from lightning_lr.logging.scalars import series_names
from lightning_lr.planner import Recipe, outside_lightning, plan_optimizer

__all__ = ["SchedulePreview", "plot_previews", "preview", "sparkline"]

SPARKS = "▁▂▃▄▅▆▇█"


def preview(
    callback: Recipe,
    total: int,
    base_lrs: Sequence[float] = (0.1,),
    steps_per_epoch: int | None = None,
    optimizer: Literal["sgd", "adam"] = "sgd",
    points: int = 1000,
) -> SchedulePreview:
    """What ``callback`` would set over a run of ``total`` clock units, without training.

    For ``ReduceLROnPlateau`` the preview has no cuts (they depend on the metric) and says so in
    its ``note``.

    Args:
        callback: Any schedule callback, e.g. ``OneCycle()`` (any :class:`~lightning_lr.planner.Recipe`).
        total: Length of the run in the callback's clock units (steps, or epochs).
        base_lrs: Configured LR of each param group.
        steps_per_epoch: Steps per epoch, for durations given in epochs (``None``: such durations are refused).
        optimizer: ``"sgd"`` (with momentum 0.9) or ``"adam"`` (betas 0.9, 0.999).
        points: At most this many sample points.

    Example:
        >>> from lightning_lr import WarmupLinear
        >>> p = preview(WarmupLinear(num_warmup_steps=2), total=10, base_lrs=[1.0])
        >>> [round(v, 3) for v in p.series["lr-SGD"]]
        [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
    """
    check_positive_int("total", total)
    if not base_lrs:
        raise ValueError("`base_lrs` must hold one LR per param group.")
    for i, lr in enumerate(base_lrs):
        check_positive(f"base_lrs[{i}]", lr)
    groups: list[dict[str, Any]] = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in base_lrs]
    opt: torch.optim.Optimizer
    if optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=base_lrs[0], momentum=0.9)
    elif optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=base_lrs[0])
    else:
        raise ValueError(f"`optimizer` must be 'sgd' or 'adam', got {optimizer!r}.")
    timeline = outside_lightning(callback.interval, total, steps_per_epoch)
    plan = plan_optimizer(callback, opt, callback.base_lrs(opt), timeline)
    return plans_preview([plan], series_names([opt]), total, callback.interval, points, callback.preview_note())


def sparkline(values: Sequence[float], width: int = 60, low: float | None = None, high: float | None = None) -> str:
    """A one-line text picture of ``values`` (``width`` characters, ``low``..``high`` mapped to ▁..█).

    ``low`` and ``high`` default to the values' own minimum and maximum; give several lines the same
    ones to compare their heights.

    Example:
        >>> sparkline([0, 1, 2, 3, 4, 5, 6, 7], width=8)
        '▁▂▃▄▅▆▇█'
        >>> sparkline([0, 1, 2, 3], width=4, low=0, high=7)
        '▁▂▃▄'
    """
    if not values:
        return ""
    step = max(len(values) / width, 1.0)
    picked = [values[min(int(i * step), len(values) - 1)] for i in range(min(width, len(values)))]
    low = min(values) if low is None else low
    high = max(values) if high is None else high
    span = high - low
    if span <= 0:
        return SPARKS[0] * len(picked)
    return "".join(SPARKS[max(0, min(int((v - low) / span * len(SPARKS)), len(SPARKS) - 1))] for v in picked)
