"""The planned schedule as data and as a matplotlib figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass
class SchedulePreview:
    """Planned values of every series (``lr-SGD``, ``lr-SGD-momentum``, ...) at clock ``ticks``."""

    ticks: list[float]
    series: dict[str, list[float]] = field(default_factory=dict)
    unit: str = "step"

    def plot(self, ax: Axes | None = None) -> Figure:
        """LR series on the left axis (log scale when they span > 2 decades), momentum on the right."""
        import matplotlib.pyplot as plt

        if ax is None:
            figure, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
        else:
            figure = ax.get_figure()  # type: ignore[assignment]
        lr_names = [n for n in self.series if not n.endswith("-momentum")]
        for name in lr_names:
            ax.plot(self.ticks, self.series[name], label=name)
        lows = [min(v for v in self.series[n] if v > 0) for n in lr_names if any(v > 0 for v in self.series[n])]
        if lows and max(max(self.series[n]) for n in lr_names) / min(lows) > 100:
            ax.set_yscale("log")
        ax.set_xlabel(self.unit)
        ax.set_ylabel("learning rate")
        momentum_names = [n for n in self.series if n.endswith("-momentum")]
        if momentum_names:
            right = ax.twinx()
            for name in momentum_names:
                right.plot(self.ticks, self.series[name], linestyle="--", alpha=0.7, label=name)
            right.set_ylabel("momentum")
            right.legend(loc="upper right", fontsize="small")
        ax.legend(loc="upper left", fontsize="small")
        ax.set_title("Planned schedule")
        return figure  # type: ignore[return-value]


def sample_ticks(total: float, points: int = 1000) -> list[float]:
    """Integer clock values covering ``[0, total)``, at most ``points`` of them (all when fewer)."""
    count = int(total)
    if count <= points:
        return [float(t) for t in range(count)]
    return [float(math.floor(i * (count - 1) / (points - 1))) for i in range(points)]


def plans_preview(
    plans: Sequence[Any], names: Sequence[Sequence[str]], total: float, unit: str, points: int = 1000
) -> SchedulePreview:
    """Sample the resolved schedules of optimizer plans (``ScheduleCallback.build_plan``) by series name."""
    result = SchedulePreview(sample_ticks(total, points), unit=unit)
    for plan, group_names in zip(plans, names):
        for name, group in zip(group_names, plan.groups):
            result.series[name] = [group.lr(t) for t in result.ticks]
            if group.momentum is not None:
                result.series[f"{name}-momentum"] = [group.momentum(t) for t in result.ticks]
    return result
