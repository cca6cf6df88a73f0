"""The targets of ``benchmarks/mnist1d.py``: an arm that chooses its own LR (finder-fed 1cycle, ``AutoLR``) against
the best constant LR of the grid, in steps to 94% validation accuracy, the choosing steps counted."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.harness import markdown_table
from benchmarks.harness.stats import bootstrap_ratio
from benchmarks.pages.mnist1d_summary import Cells


def pct(x: float | None, half: float | None = None) -> str:
    """A fraction as a percentage with one decimal (and its interval's half-width); ``—`` for none."""
    if x is None:
        return "—"
    return f"{100 * x:.1f}" if half is None else f"{100 * x:.1f} ± {100 * half:.1f}"


ARM, KEY = "LRFinder + OneCycle", "steps_to_94"
TARGET_ARMS = (ARM, "AutoLR")
"""The arms with a target: issue 13's finder-fed 1cycle and issue 24's ``AutoLR()``."""


def constant_grid(cells: Cells, last: int, constants: dict[str, float]) -> dict[str, Any]:
    """Per constant-LR arm that ran (``constants``: name -> LR): its LR, seeds reaching 94%, steps, test accuracy."""
    grid = {}
    for arm, lr in constants.items():
        if arm not in cells:
            continue
        recs = cells[arm][last]
        steps = [r[KEY] for r in recs]
        reached = [s for s in steps if s is not None]
        grid[arm] = {
            "lr": lr,
            "reached": len(reached),
            "steps": steps,
            "mean": statistics.fmean(reached) if reached else None,
            "test_acc_mean": statistics.fmean(r["test_acc"] for r in recs),
        }
    return grid


def per_budget(recs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "test_acc_mean": statistics.fmean(r["test_acc"] for r in recs),
        "reached": sum(r[KEY] is not None for r in recs),
        "n": len(recs),
        "suggestions": [r.get("suggestion") for r in recs],
    }


def gets_there(recs: list[dict[str, Any]]) -> bool:
    """Mean test accuracy at least 94% and every seed at 94% validation accuracy."""
    return statistics.fmean(r["test_acc"] for r in recs) >= 0.94 and all(r[KEY] is not None for r in recs)


def target(cells: Cells, budgets: list[int], spe: int, constants: dict[str, float], arm: str = ARM) -> dict[str, Any]:
    """``arm`` (finder-fed 1cycle by default) against the constant LR at its best grid value: steps until 94%
    validation accuracy, the finder's steps counted."""
    grid = constant_grid(cells, budgets[-1], constants)
    complete = {a: g for a, g in grid.items() if g["reached"] == len(g["steps"])}
    best = min(complete, key=lambda a: complete[a]["mean"]) if complete else None
    ours = cells.get(arm, {})
    found = next((b for b in budgets if ours and gets_there(ours[b])), None)
    out: dict[str, Any] = {"arm": arm, "threshold": 0.94, "grid": grid, "best_constant": best, "budget": found}
    if ours:
        out["per_budget"] = {str(b): per_budget(ours[b]) for b in budgets}
    if found is None or best is None:
        out["met"] = False
        return out
    steps = [r[KEY] for r in ours[found]]
    with_finder = [r[KEY] + r["finder_steps"] for r in ours[found]]
    theirs = grid[best]["steps"]
    out.update(
        steps=steps,
        steps_with_finder=with_finder,
        test_acc_mean=statistics.fmean(r["test_acc"] for r in ours[found]),
        ratio=statistics.fmean(steps) / statistics.fmean(theirs),
        ratio_ci95=bootstrap_ratio(steps, theirs),
        ratio_with_finder=statistics.fmean(with_finder) / statistics.fmean(theirs),
        ratio_with_finder_ci95=bootstrap_ratio(with_finder, theirs),
        grid_cost_steps=len(grid) * budgets[-1] * spe,
    )
    out["met"] = out["ratio_with_finder"] < 1.0
    out["met_significant"] = out["ratio_with_finder_ci95"][1] < 1.0
    return out


def grid_table(t: dict[str, Any]) -> list[str]:
    """The constant LRs of the grid: seeds reaching 94%, mean steps, test accuracy."""
    header = ("constant LR", "seeds reaching 94% val", "mean steps to 94%", "test acc % at the longest budget")
    rows = [
        (
            f"{g['lr']:g}{' (best)' if a == t['best_constant'] else ''}",
            f"{g['reached']}/{len(g['steps'])}",
            "—" if g["mean"] is None else f"{round(g['mean'])}",
            pct(g["test_acc_mean"]),
        )
        for a, g in t["grid"].items()
    ]
    return markdown_table([header, *rows])


def slower_why(t: dict[str, Any]) -> list[str]:
    """Why a budget that gets there still misses the ratio: the finder's share, the shorter budgets."""
    share = 1 - statistics.fmean(t["steps"]) / statistics.fmean(t["steps_with_finder"])
    shorter = [(b, pb) for b, pb in t["per_budget"].items() if int(b) < t["budget"]]
    return [
        "",
        f"Why: the choosing steps (range test, probes) are {100 * share:.0f}% of its time to 94%; "
        "without them the ratio is "
        f"{t['ratio']:.2f} ({t['ratio_ci95'][0]:.2f}-{t['ratio_ci95'][1]:.2f}"
        f"{', level within seed noise' if t['ratio_ci95'][0] <= 1 <= t['ratio_ci95'][1] else ''}). "
        "A run that anneals its LR (1cycle, a WSD cooldown) reaches its best accuracy only as the LR falls, at the "
        "end of the budget it was planned for; "
        + "; ".join(
            f"the {b}-epoch run ends at {pct(pb['test_acc_mean'])}% test with {pb['reached']}/{pb['n']} seeds "
            "at 94% validation"
            for b, pb in shorter
        )
        + ", so the shortest budget that gets there is the one above.",
    ]


def never_why(t: dict[str, Any], peak_lr: float) -> list[str]:
    """Why no budget gets there: each budget's accuracy and seeds, the finder's suggestions."""
    suggestions = [x for pb in t["per_budget"].values() for x in pb["suggestions"] if x is not None]
    return [
        "",
        "Why: "
        + "; ".join(
            f"at {b} epochs {pct(pb['test_acc_mean'])}% test, {pb['reached']}/{pb['n']} seeds at 94% validation"
            for b, pb in t["per_budget"].items()
        )
        + (
            f". The finder suggested {min(suggestions):.3g} to {max(suggestions):.3g} (the configured peak of the "
            f"other arms is {peak_lr:g})."
            if suggestions
            else "."
        ),
    ]


def verdict(t: dict[str, Any], spe: int) -> str:
    grid = t["grid"]
    low, high = t["ratio_with_finder_ci95"]
    if high < 1.0:
        sig = "the bootstrap interval lies below 1: significantly fewer steps"
    elif low > 1.0:
        sig = "the bootstrap interval lies above 1: significantly more steps"
    else:
        sig = "the bootstrap interval includes 1: not a significant difference"
    return (
        f"**Target {'met' if t['met'] else 'not met'}**: `{t['arm']}` at {t['budget']} epochs "
        f"({t['budget'] * spe} steps) reaches "
        f"{pct(t['test_acc_mean'])}% mean test accuracy; its validation accuracy first reaches 94% after "
        f"{statistics.fmean(t['steps']):.0f} steps on average ({statistics.fmean(t['steps_with_finder']):.0f} "
        f"counting the finder's test steps) against {statistics.fmean(grid[t['best_constant']]['steps']):.0f} for "
        f"the constant LR at its best grid value {grid[t['best_constant']]['lr']:g}: ratio "
        f"**{t['ratio_with_finder']:.2f}** with the finder's steps (95% bootstrap interval "
        f"{t['ratio_with_finder_ci95'][0]:.2f}-{t['ratio_with_finder_ci95'][1]:.2f}), {t['ratio']:.2f} without "
        f"({t['ratio_ci95'][0]:.2f}-{t['ratio_ci95'][1]:.2f}); {sig}. Finding that best constant LR took the "
        f"grid: {len(grid)} runs, {t['grid_cost_steps']} steps per seed."
    )


def target_lines(t: dict[str, Any], spe: int, peak_lr: float) -> list[str]:
    """The target's section: the grid table, then met / not met / not decidable, and why."""
    lines = [*grid_table(t), ""]
    if "per_budget" not in t:  # `--arms` left the target's arm out
        return [*lines, f"`{t['arm']}` was not an arm of this run (`--arms`): the target is not measured."]
    if t["budget"] is None:
        lines.append(
            f"**Target not met**: at no budget did `{t['arm']}` reach 94% mean test accuracy with every seed "
            "reaching 94% validation accuracy."
        )
    if "ratio" in t and not t["met"]:
        lines += slower_why(t)
    if t["budget"] is None and "per_budget" in t:
        lines += never_why(t, peak_lr)
    elif t["best_constant"] is None:
        lines.append(
            "**Target not decidable**: no constant LR of the grid reached 94% validation accuracy on every seed."
        )
    else:
        lines.append(verdict(t, spe))
    return lines


def targets(cells: Cells, budgets: list[int], spe: int, constants: dict[str, float]) -> dict[str, Any]:
    """:func:`target` for every arm of :data:`TARGET_ARMS`."""
    return {arm: target(cells, budgets, spe, constants, arm) for arm in TARGET_ARMS}


def target_sections(result: dict[str, Any]) -> list[str]:
    """One section per target."""
    cfg, lines = result["config"], []
    for t in result["targets"].values():
        lines += [
            f"## Target: `{t['arm']}` against the best constant LR",
            "",
            f"Steps until the validation accuracy first reaches 94% (the paper's CNN accuracy). For `{t['arm']}`: the "
            "shortest budget whose mean test accuracy is at least 94% and whose every seed reaches 94% validation "
            "accuracy, the steps it spent choosing its LR counted. For the constant LRs: the longest run, every grid "
            "value.",
            "",
            *target_lines(t, cfg["steps_per_epoch"], cfg["peak_lr"]),
            "",
        ]
    return lines
