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
# The planned-schedule and finder figures, in TensorBoard and from the CLI. TensorBoard's IMAGES and TIME
# SERIES tabs fit an image to a card about 300-350 px wide: at 4.5 in, a 10 pt label is still ~11 px there
# (checked in headless Chromium, docs/scripts/tensorboard_screenshot.py); 150 dpi keeps the image sharp
# when opened at its actual size (675 x 510 px).
FIGSIZE = (4.5, 3.4)  # inches
DPI = 150
LEGEND_SIZE = "medium"
TEXT_WIDTH = 52  # characters of 10 pt text across FIGSIZE's width: titles, notes and legend labels wrap there


def new_figure() -> Figure:
    """An empty figure of the size every lightning_lr figure has (:data:`FIGSIZE`, :data:`DPI`)."""
    from matplotlib.figure import Figure

    return Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")


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
        return plot_previews([("", self)], ax=ax, log=log, title=title)


def plot_previews(
    previews: Sequence[tuple[str, SchedulePreview]],
    ax: Axes | None = None,
    log: bool = False,
    title: str = "Planned schedules",
) -> Figure:
    """Several planned schedules on one figure, to compare them: each named in the legend, in its colour.

    LRs on the left axis, momenta dashed on the right, one legend under the axes; the previews
    share one clock (same :attr:`~SchedulePreview.unit`). A preview named ``""`` labels its curves
    by series alone (what :meth:`SchedulePreview.plot` draws).

    Args:
        previews: ``(name, preview)`` pairs, e.g. ``[("OneCycle", preview(OneCycle(), 1000)), ...]``.
        ax: Draw into these axes; ``None``: a new :class:`~matplotlib.figure.Figure` (:data:`FIGSIZE`).
        log: A log-scale LR axis (default linear).
        title: The axes' title; each preview's note is added below it.

    Example:
        >>> from lightning_lr import CosineAnnealing, OneCycle
        >>> from lightning_lr.preview import preview
        >>> figure = plot_previews([(type(c).__name__, preview(c, 100)) for c in (OneCycle(), CosineAnnealing())])
        >>> [line.get_label() for line in figure.axes[0].get_lines()]
        ['OneCycle', 'CosineAnnealing']
    """
    units = {p.unit for _, p in previews}
    if len(units) != 1:
        raise ValueError(f"`previews` must share one clock unit, got {sorted(units)}.")
    if ax is None:
        figure = new_figure()
        ax = figure.subplots()
        own = True
    else:
        figure, own = ax.get_figure(), False  # type: ignore[assignment]
    several = len(previews) > 1
    handles: list[Any] = []
    momentum_lines: list[tuple[str, SchedulePreview, list[str], list[float], Any]] = []
    for i, (name, result) in enumerate(previews):
        curves = result.curves()
        for k, (names, values) in enumerate(curves):
            style: dict[str, Any] = {"color": f"C{i}", "linestyle": ("-", "-.", ":")[k % 3]} if several else {}
            text = _curve_label(name, names, len(curves), "")
            handles += ax.plot(result.ticks, values, label=text, **style)
        for names, values in result.curves(momentum=True):
            momentum_lines.append((name, result, names, values, f"C{i}" if several else None))
    if log and any(v > 0 for _, r in previews for _, values in r.curves() for v in values):
        ax.set_yscale("log")
    unit = units.pop()
    ax.set_xlabel("optimizer step" if unit == "step" else unit)
    ax.set_ylabel("learning rate")
    if momentum_lines:
        right = ax.twinx()
        for name, result, names, values, color in momentum_lines:
            count = len(result.curves(momentum=True))
            text = _curve_label(name, names, count, "momentum")
            colour: dict[str, Any] = {"color": color} if color else {}
            handles += right.plot(result.ticks, values, linestyle="--", alpha=0.8, label=text, **colour)
        right.set_ylabel("momentum (dashed)")
    notes = [f"{name}: {r.note}" if name else r.note for name, r in previews if r.note]
    lines = [line for text in (title, *notes) for line in textwrap.wrap(text, TEXT_WIDTH)]
    ax.set_title("\n".join(lines), fontsize="medium")
    if own:
        legend_below(figure, handles)
    elif handles:
        columns = _columns(handles)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=columns, fontsize=LEGEND_SIZE)
    return figure


def legend_below(figure: Figure, handles: Sequence[Any]) -> None:
    """The figure's one legend, under the axes (never over the data); two columns when the labels are short."""
    if handles:
        figure.legend(
            handles=handles, loc="outside lower center", ncols=_columns(handles), fontsize=LEGEND_SIZE, frameon=False
        )


def _columns(handles: Sequence[Any]) -> int:
    """Two legend columns when every label fits in half the width, else one."""
    widest = max((len(line) for h in handles for line in h.get_label().splitlines()), default=0)
    return 2 if len(handles) > 1 and widest <= TEXT_WIDTH // 2 else 1


def _curve_label(name: str, series: Sequence[str], count: int, kind: str) -> str:
    """A curve's legend entry: its series alone, or its schedule's name (with the series when it has several)."""
    if not name:
        text = label(series)
    elif count == 1:
        text = f"{name}: {kind}" if kind else name
    else:
        text = f"{name}: {label(series)}"
    return "\n".join(textwrap.wrap(text, TEXT_WIDTH - 10))  # the legend's handle takes the rest of a line


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
