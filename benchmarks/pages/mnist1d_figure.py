"""The figure of ``benchmarks/mnist1d.py``: validation accuracy against steps, per schedule and budget."""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.pages.mnist1d_summary import BASELINE, THRESHOLDS, constant_arms

SHADES = ["#9ecae1", "#4292c6", "#08306b", "#000000"]  # one per budget, shortest first


def curve(ax: Any, runs: list[dict[str, Any]], last: int, color: str, label: str) -> None:
    """Mean validation accuracy over seeds up to step ``last``, band from min to max."""
    steps = np.asarray(runs[0]["probe_steps"])
    keep = steps <= last
    acc = np.asarray([r["val_acc"] for r in runs])[:, keep]
    ax.plot(steps[keep], acc.mean(axis=0), color=color, lw=1.3, label=label)
    ax.fill_between(steps[keep], acc.min(axis=0), acc.max(axis=0), color=color, alpha=0.2, lw=0)


def panel(ax: Any, arm: str, result: dict[str, Any], independent: Collection[str]) -> None:
    """One schedule at every budget (the constant baseline dashed), or the whole constant grid."""
    cfg, runs = result["config"], result["runs"]
    budgets, spe = cfg["budgets"], cfg["steps_per_epoch"]
    last = str(budgets[-1])
    if arm == "constant grid":
        for k, (name, lr) in enumerate(constant_arms(cfg["peak_lr"], cfg["grid"]).items()):
            if name in runs:
                curve(ax, runs[name][last], budgets[-1] * spe, f"C{k}", f"LR {lr:g}")
    else:
        if arm != BASELINE:
            base = runs[BASELINE][last]
            steps, mean = np.asarray(base[0]["probe_steps"]), np.mean([r["val_acc"] for r in base], axis=0)
            ax.plot(steps, mean, color="grey", ls="--", lw=1, label="constant")
        if arm in independent:
            curve(ax, runs[arm][last], budgets[-1] * spe, SHADES[2], f"{budgets[-1]} ep")
        else:
            for k, b in enumerate(budgets):
                curve(ax, runs[arm][str(b)], b * spe, SHADES[k % len(SHADES)], f"{b} ep")
    for t in THRESHOLDS:
        ax.axhline(t, color="red", lw=0.6, ls=":")
    ax.set_title(arm, fontsize=10)
    ax.set_ylim(0.4, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def plot(result: dict[str, Any], path: Path, independent: Collection[str]) -> None:
    """Validation accuracy vs optimizer step per schedule: mean over seeds, band from min to max, every budget.

    ``independent``: the budget-independent arms (one run, at the longest budget).
    """
    from matplotlib.figure import Figure

    cfg = result["config"]
    grid = list(constant_arms(cfg["peak_lr"], cfg["grid"]))[1:]
    arms = [a for a in result["arms"] if a not in grid]
    panels = [*arms, "constant grid"] if len(result["arms"]) > len(arms) else arms
    cols, rows = 4, math.ceil(len(panels) / 4)
    fig = Figure(figsize=(14, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    for ax, arm in zip(axes, panels):
        panel(ax, arm, result, independent)
    for ax in axes[len(panels) :]:
        ax.axis("off")
    for ax in axes[-cols:]:
        ax.set_xlabel("optimizer step")
    for ax in axes[::cols]:
        ax.set_ylabel("validation accuracy")
    fig.suptitle(
        f"MNIST-1D, 1-D CNN, Adam batch {cfg['batch_size']}: validation accuracy every {cfg['probe_every']} steps, "
        f"mean over {len(cfg['seeds'])} seeds (band: min-max); dotted: 90% and 94%",
        fontsize=11,
    )
    fig.savefig(path, dpi=90)
