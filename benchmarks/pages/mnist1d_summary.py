"""The runs of ``benchmarks/mnist1d.py`` read at each budget, and summarized over seeds per budget and arm."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.harness.stats import against_baseline, interval95

Cells = dict[str, dict[int, list[dict[str, Any]]]]  # arm -> budget -> one record per seed

BASELINE = "Constant"  # every arm is compared with it
THRESHOLDS = (0.90, 0.94)  # validation accuracies whose time-to-reach is reported


def constant_arms(peak_lr: float, grid: Any) -> dict[str, float]:
    """The constant-LR arms, name -> LR: the baseline at the peak LR, then the other grid LRs."""
    return {BASELINE: peak_lr} | {f"Constant {lr:g}": lr for lr in grid if lr != peak_lr}


def seed_summary(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """One arm at one budget: test accuracy (mean, 95% half-width), steps to each threshold, the finder's answers."""
    acc = [r["test_acc"] for r in recs]
    mean, half = interval95(acc)
    row: dict[str, Any] = {"test_acc_mean": mean, "test_acc_ci95": half, "n": len(acc)}
    for t in THRESHOLDS:
        key = f"steps_to_{round(100 * t)}"
        reached = [r[key] for r in recs if r[key] is not None]
        row[key + "_reached"] = len(reached)
        row[key + "_mean"], row[key + "_ci95"] = interval95(reached) if reached else (None, None)
    if "finder_steps" in recs[0]:
        row["finder_steps_mean"] = statistics.fmean(r["finder_steps"] for r in recs)
        row["suggestions"] = [r["suggestion"] for r in recs]
    return row


def summarize(cells: Cells, budgets: list[int]) -> dict[str, Any]:
    """Per budget and arm: :func:`seed_summary`, and Welch's test against the baseline with Holm's correction."""
    summary: dict[str, Any] = {}
    for b in budgets:
        rows = {arm: seed_summary(by_budget[b]) for arm, by_budget in cells.items()}
        p, adjusted = against_baseline({a: [r["test_acc"] for r in by[b]] for a, by in cells.items()}, BASELINE)
        for arm, row in rows.items():
            if arm in p:
                row["p_welch"] = p[arm]
            if arm in adjusted:
                row["p_holm"], row["significant"] = adjusted[arm], adjusted[arm] < 0.05
        summary[str(b)] = rows
    return summary


def first_reach(run: dict[str, Any], threshold: float, last_step: int) -> int | None:
    """The first probed step <= ``last_step`` with validation accuracy >= ``threshold`` (``None``: never)."""
    for step, acc in zip(run["probe_steps"], run["val_acc"]):
        if step > last_step:
            return None
        if acc >= threshold:
            return int(step)
    return None


def per_budget(runs: list[dict[str, Any]], budget: int, steps_per_epoch: int) -> list[dict[str, Any]]:
    """What each seed's run gives at ``budget`` epochs (a longer run of a budget-independent arm is read there)."""
    out = []
    for r in runs:
        if str(budget) not in r["test_acc_at"]:
            raise AssertionError(f"run of {r['epochs']} epochs read at {budget}")
        last = budget * steps_per_epoch
        rec = {
            "seed": r["seed"],
            "test_acc": r["test_acc_at"][str(budget)],
            **{f"steps_to_{round(100 * t)}": first_reach(r, t, last) for t in THRESHOLDS},
        }
        if "finder_steps" in r:
            rec["finder_steps"], rec["suggestion"] = r["finder_steps"], r["suggestion"]
        out.append(rec)
    return out
