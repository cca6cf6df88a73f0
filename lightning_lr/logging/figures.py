"""The planned schedule as data and as a matplotlib figure.

The figure is a :class:`matplotlib.figure.Figure` built without pyplot (no global state, no backend
choice): the preview CLI saves it, the TensorBoard logger renders it. The same rules hold for both:
a linear y-axis unless asked for a log one, param groups whose curves are identical drawn once, the
legend below the axes (never over the data), and a note when the plan is not the whole story
(``ReduceLROnPlateau``'s cuts depend on the metric).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lightning_lr.planner import Recipe

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MOMENTUM_SUFFIX = "-momentum"


@dataclass
class SchedulePreview:
    """Planned values of every series (``lr-SGD``, ``lr-SGD-momentum``, ...) at clock ``ticks``.

    Attributes:
        ticks: Clock values (optimizer steps, or epochs) sampled.
        series: Values per series name, one per tick.
        unit: ``"step"`` or ``"epoch"``.
        note: What the plan does not show (empty when it shows everything).
    """

    ticks: list[float]
    series: dict[str, list[float]] = field(default_factory=dict)
    unit: str = "step"
    note: str = ""

    def curves(self, momentum: bool = False) -> list[tuple[list[str], list[float]]]:
        """Distinct curves with the names of the series that follow each (identical groups merged).

        Example:
            >>> p = SchedulePreview([0.0, 1.0], {"lr-SGD/pg1": [1.0, 0.5], "lr-SGD/pg2": [1.0, 0.5]})
            >>> p.curves()
            [(['lr-SGD/pg1', 'lr-SGD/pg2'], [1.0, 0.5])]
        """
        merged: dict[tuple[float, ...], list[str]] = {}
        for name, values in self.series.items():
            if name.endswith(MOMENTUM_SUFFIX) == momentum:
                merged.setdefault(tuple(values), []).append(name)
        return [(names, list(values)) for values, names in merged.items()]

    def plot(self, ax: Axes | None = None, log: bool = False, title: str = "Planned schedule") -> Figure:
        """LR curves on the left axis, momentum (dashed) on the right, one legend under the axes.

        Args:
            ax: Draw into these axes; ``None``: a new :class:`~matplotlib.figure.Figure`.
            log: A log-scale LR axis (default linear: what the schedule formulas describe).
            title: The axes' title; :attr:`note` is added below it.
        """
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(7.0, 4.0), layout="constrained")
            ax = figure.subplots()
            own = True
        else:
            figure, own = ax.get_figure(), False  # type: ignore[assignment]
        handles: list[Any] = []
        for names, values in self.curves():
            handles += ax.plot(self.ticks, values, label=label(names))
        if log and any(v > 0 for _, values in self.curves() for v in values):
            ax.set_yscale("log")
        ax.set_xlabel("optimizer step" if self.unit == "step" else self.unit)
        ax.set_ylabel("learning rate")
        momenta = self.curves(momentum=True)
        if momenta:
            right = ax.twinx()
            for names, values in momenta:
                handles += right.plot(self.ticks, values, linestyle="--", alpha=0.8, label=label(names))
            right.set_ylabel("momentum (dashed)")
        note = "\n".join(textwrap.wrap(self.note, 80))
        ax.set_title(f"{title}\n{note}" if note else title, fontsize="medium")
        columns = min(len(handles), 2)
        if own:
            figure.legend(handles=handles, loc="outside lower center", ncols=columns, fontsize="small", frameon=False)
        elif handles:
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=columns, fontsize="small")
        return figure


def label(names: Sequence[str]) -> str:
    """One legend entry for series with identical curves: ``lr-SGD/pg1, pg2`` (shared prefix written once).

    Example:
        >>> label(["lr-SGD/pg1", "lr-SGD/pg2", "lr-SGD/pg3"])
        'lr-SGD/pg1, pg2, pg3'
        >>> label(["lr-SGD", "lr-Adam"])
        'lr-SGD, lr-Adam'
    """
    first, rest = names[0], names[1:]
    prefix = first.rsplit("/", 1)[0] + "/" if "/" in first else None
    if prefix and all(n.startswith(prefix) for n in rest):
        return ", ".join([first, *(n[len(prefix) :] for n in rest)])
    return ", ".join(names)


def sample_ticks(total: float, points: int = 1000) -> list[float]:
    """Integer clock values covering ``[0, total)``, at most ``points`` of them (all when fewer)."""
    count = int(total)
    if count <= points:
        return [float(t) for t in range(count)]
    return [float(math.floor(i * (count - 1) / (points - 1))) for i in range(points)]


def plans_preview(
    plans: Sequence[Any],
    names: Sequence[Sequence[str]],
    total: float,
    unit: str,
    points: int = 1000,
    note: str = "",
) -> SchedulePreview:
    """Sample the resolved schedules of plans (:func:`~lightning_lr.planner.plan_optimizer`) by series name."""
    result = SchedulePreview(sample_ticks(total, points), unit=unit, note=note)
    for plan, group_names in zip(plans, names):
        for name, group in zip(group_names, plan.groups):
            result.series[name] = [group.lr(t) for t in result.ticks]
            if group.momentum is not None:
                result.series[f"{name}{MOMENTUM_SUFFIX}"] = [group.momentum(t) for t in result.ticks]
    return result


def schedule_figure(
    callback: Recipe, plans: Sequence[Any], names: Sequence[Sequence[str]], total: float, log: bool = False
) -> Figure:
    """The planned-schedule figure of a schedule callback (what TensorBoard shows at train start)."""
    result = plans_preview(plans, names, total, callback.interval, note=callback.preview_note())
    key = "" if callback.key == "lr" else callback.key  # HyperparameterScheduler: a value other than the LR
    return result.plot(log=log, title=f"Planned schedule: {type(callback).__name__}" + (f" ({key})" if key else ""))
