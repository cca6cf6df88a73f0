"""The range-test figure: loss against LR on a log x-axis, the suggestion marked (matplotlib)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from lightning_lr.finder.suggest import CLIMB_DIVISOR
from lightning_lr.logging.figures import LEGEND_SIZE, legend_below, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lightning_lr.finder.result import FinderResult

_COLORS = {"valley": "tab:red", "steepest": "tab:green", "minimum": "tab:purple"}


def plot_result(result: FinderResult, ax: Axes | None = None, show_raw: bool = True, show_all: bool = False) -> Figure:
    """Draw ``result`` (see :meth:`FinderResult.plot`): raw loss, EMA, the rules' curve, suggestions, ``lr_range``."""
    own = ax is None
    if ax is None:
        try:
            figure = new_figure()
        except ImportError as error:  # pragma: no cover - matplotlib is a dependency
            raise ImportError("FinderResult.plot needs matplotlib: `pip install matplotlib`.") from error
        ax = figure.subplots()
    else:
        figure = ax.get_figure()  # type: ignore[assignment]
    lrs, usable = result.lrs, result.usable
    trend = result.trend()
    if show_raw and lrs:
        ax.plot(lrs, result.losses, color="tab:blue", alpha=0.3, linewidth=1.0, label="loss")
    if lrs:
        ax.plot(lrs, result.smoothed_losses, color="tab:gray", linewidth=1.0, linestyle="--", label="EMA (stop rule)")
    if trend:
        ax.plot(lrs[:usable], trend, color="tab:blue", linewidth=2.0, label="smoothed loss (rules)")
    if result.diverged:
        ax.axvline(lrs[usable], color="gray", linestyle=":", linewidth=1.0, label="stopped")
    span = result.lr_range
    if span is not None:
        ax.axvspan(span[0], span[1], color="tab:orange", alpha=0.12, label=f"lr_range: {span[0]:.3g}-{span[1]:.3g}")
    methods = [result.method, *(m for m in _COLORS if m != result.method)] if show_all else [result.method]
    for method in methods:
        answer = result.suggest(method)
        if answer.lr is None or not trend:
            continue
        if answer.rule == "divergence" and method != result.method:
            continue  # every rule falls back to the same answer: mark it once
        if answer.rule == "divergence":
            climb = answer.lr * CLIMB_DIVISOR
            ax.axvline(climb, color="tab:brown", linestyle=":", linewidth=1.5, label=f"loss climbs: {climb:.3g}")
        color = _COLORS.get(method, "tab:red")
        y = float(np.interp(math.log(answer.lr), np.log(lrs[:usable]), trend))
        ax.axvline(answer.lr, color=color, linestyle="--", linewidth=1.0)
        ax.plot(
            [answer.lr],
            [y],
            marker="o",
            markersize=8,
            color=color,
            linestyle="none",
            label=f"{method}: {answer.lr:.3g}" if answer.rule == method else f"{answer.rule} rule: {answer.lr:.3g}",
        )
    if result.probes:
        _draw_probes(ax, result)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(result.monitor)
    # The y-range covers the curve up to its lowest smoothed point: the climb after it leaves through the
    # top instead of flattening the part where the rules decide (the stop line still marks where it ended).
    end = min(range(len(trend)), key=trend.__getitem__) + 1 if trend else max(usable, 1)
    finite = [v for v in (result.losses if show_raw else trend)[:end] if math.isfinite(v)]
    if finite:
        low, high = min(finite), max(finite)
        pad = 0.05 * (high - low or abs(high) or 1.0)
        ax.set_ylim(low - pad, high + 2 * pad)
    ax.set_title("LR range test" if result.suggestion is not None else "LR range test: no suggestion")
    handles = ax.get_legend_handles_labels()[0]
    if own:  # under the axes, never over the curve (as the planned-schedule figure)
        legend_below(figure, handles)
    elif handles:
        ax.legend(loc="best", fontsize=LEGEND_SIZE)
    return figure


def _draw_probes(ax: Axes, result: FinderResult) -> None:
    """The probes on a second y-axis: each probe's score at its LR (a cross at the top for one that stopped on a
    NaN/inf loss), the suggestion ringed."""
    twin = ax.twinx()
    finite = [p for p in result.probes if math.isfinite(p.score)]
    twin.plot(
        [p.lr for p in finite],
        [p.score for p in finite],
        marker="s",
        color="tab:olive",
        linestyle="none",
        label=f"probes ({result.probe_steps} steps): score",
    )
    stopped = [p for p in result.probes if not math.isfinite(p.score)]
    if stopped:
        top = max((p.score for p in finite), default=1.0)
        twin.plot([p.lr for p in stopped], [top] * len(stopped), marker="x", color="tab:olive", linestyle="none")
    chosen = [p for p in finite if p.lr == result.suggestion]
    if chosen:
        twin.plot([chosen[0].lr], [chosen[0].score], marker="o", markersize=12, fillstyle="none", color="tab:olive")
    twin.set_ylabel("probe score (loss after the probe)")
    twin.legend(loc="upper center", fontsize="small")
