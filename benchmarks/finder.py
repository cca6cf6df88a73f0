"""Does the LR finder's answer train well on five different tasks, and what does it cost?

Tasks (``benchmarks/finder_tasks.py``): digits MLP + SGD momentum, digits CNN + AdamW, MNIST-1D 1-D
CNN + SGD momentum, MNIST-1D GRU + Adam, diabetes regression MLP + Adam (MSE; score R^2). Every
arm trains for the task's fixed budget of epochs, for the same seeds (initialization and data
order); the tables report means over seeds.

Point (constant LR):

* ``grid``: each LR of a 12-point log grid from 1e-4 to 1; "grid-best" is the grid LR with the best
  mean score; the grid's cost is the wall time of its 12 training runs.
* the single-curve ``LRFinder(confirm=False, num_training_steps=100)`` (the default before the probes,
  pinned here so this page keeps measuring the curve rules; ``benchmarks/tuning_free.py`` measures
  today's ``LRFinder()``), with ``apply=True``, inside the training run; its cost is the test's
  wall time (``result.seconds``). Every rule of ours is trained once more on the same curve.
* Lightning's ``Tuner(trainer).lr_find(model)`` with its defaults, then training at its suggestion.

Range (schedules): that finder feeding ``Cyclical()`` (both bounds from ``lr_range``; two
triangular cycles over the run) and ``OneCycle(div_factor=None)`` (peak and start from
``lr_range``), plus ``OneCycle()`` peaking at the suggestion; against the best hand-picked bounds
of a small grid around the constant-LR grid-best (Cyclical: max_lr in the 3 grid LRs around it x
base_lr = max_lr/4 or /10; OneCycle: max_lr in the same 3 LRs, div_factor 25). "Within noise": the gap to the
best hand-picked mean is at most twice its standard error over seeds.

Run from the repository root::

    python benchmarks/finder.py            # 3 seeds; writes docs/benchmarks/finder.{md,json}, docs/images/finder*.png
    python benchmarks/finder.py --quick    # 1 seed, writes nothing unless --write
    python benchmarks/finder.py --tasks digits-mlp diabetes-mlp
    python benchmarks/finder.py --from-json   # re-render the markdown from docs/benchmarks/finder.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.tuner import Tuner

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as `python benchmarks/finder.py` without installing
    sys.path.insert(0, str(REPO))

from benchmarks.finder_tasks import TASKS, Task  # noqa: E402
from benchmarks.report import (  # noqa: E402
    DOCS,
    machine,
    machine_line,
    markdown_table,
    quiet_lightning,
    quiet_trainer,
    write_results,
)
from lightning_lr import Cyclical, OneCycle  # noqa: E402
from lightning_lr.finder import METHODS, FinderResult, LRFinder  # noqa: E402

TARGET_SCORE, TARGET_COST = 0.97, 0.10
CURVE: dict[str, Any] = {"confirm": False, "num_training_steps": 100}  # the single-curve finder this page measures
GRID = [float(v) for v in np.logspace(-4, 0, 12)]
mean = statistics.fmean


def fit(task: Task, lr: float, seed: int, callbacks: list[Any] | None = None) -> tuple[float, float]:
    """The score after the budget and the wall time of the fit."""
    model = task.build(lr, seed)
    start = time.perf_counter()
    quiet_trainer(task.epochs, callbacks).fit(model)
    return task.score(model), time.perf_counter() - start


def steps_per_epoch(task: Task) -> int:
    return math.ceil(len(task.data()[0]) / task.batch)


class Runner:
    """Constant-LR runs of one task and seed, cached by LR (rules often agree)."""

    def __init__(self, task: Task, seed: int) -> None:
        self.task, self.seed = task, seed
        self.cache: dict[float, tuple[float, float]] = {}

    def constant(self, lr: float | None) -> tuple[float, float]:
        if lr is None:
            return 0.0, 0.0
        if lr not in self.cache:
            self.cache[lr] = fit(self.task, lr, self.seed)
        return self.cache[lr]


def run_point(task: Task, seed: int, runner: Runner) -> dict[str, Any]:
    grid = [runner.constant(lr) for lr in GRID]
    finder = LRFinder(**CURVE)
    score, fit_s = fit(task, 0.01, seed, [finder])
    result = finder.result
    assert result is not None
    rules = {
        m: {"lr": a.lr, "rule": a.rule, "score": runner.constant(a.lr)[0]} for m, a in result.suggestions().items()
    }
    model = task.build(0.01, seed)
    start = time.perf_counter()
    found = Tuner(quiet_trainer(task.epochs)).lr_find(model)
    pl_s = time.perf_counter() - start
    pl_lr = found.suggestion() if found is not None else None
    return {
        "grid": [{"lr": lr, "score": a, "seconds": s} for lr, (a, s) in zip(GRID, grid)],
        "ours": {"lr": result.suggestion, "rule": result.rule, "score": score, "finder_s": result.seconds},
        "range": result.lr_range,
        "fit_s": fit_s,
        "rules": rules,
        "lightning": {"lr": pl_lr, "score": runner.constant(pl_lr)[0], "seconds": pl_s},
        "curve": result.to_dict(),
    }


def run_range(task: Task, seed: int, best: int, quick: bool) -> dict[str, Any]:
    half = max(1, task.epochs * steps_per_epoch(task) // 4)  # two triangular cycles over the run

    def cyclical(base: float | None = None, peak: float | None = None) -> Cyclical:
        return Cyclical(base_lr=base, max_lr=peak, step_size_up=half, cycle_momentum=False)

    peaks = GRID[max(0, best - 1) : best + (1 if quick else 2)]
    ours = {
        "cyclical": fit(task, 0.01, seed, [LRFinder(**CURVE), cyclical()])[0],
        "onecycle_range": fit(task, 0.01, seed, [LRFinder(**CURVE), OneCycle(div_factor=None)])[0],
        "onecycle_valley": fit(task, 0.01, seed, [LRFinder(**CURVE), OneCycle()])[0],
    }
    hand_cyclical = {
        f"{peak:.3g}/{ratio:g}": fit(task, peak, seed, [cyclical(peak / ratio, peak)])[0]
        for peak in peaks
        for ratio in (4, 10)
    }
    hand_onecycle = {f"{peak:.3g}": fit(task, peak, seed, [OneCycle(max_lr=peak)])[0] for peak in peaks}
    return {"ours": ours, "cyclical": hand_cyclical, "onecycle": hand_onecycle}


def run_task(task: Task, seeds: list[int], quick: bool) -> dict[str, Any]:
    runners = {seed: Runner(task, seed) for seed in seeds}
    points = [run_point(task, seed, runners[seed]) for seed in seeds]
    grid = [mean(p["grid"][i]["score"] for p in points) for i in range(len(GRID))]
    best = int(np.argmax(grid))
    ranges = [run_range(task, seed, best, quick) for seed in seeds]
    summary: dict[str, Any] = {
        "task": task.name,
        "description": task.description,
        "grid": [{"lr": lr, "score": s} for lr, s in zip(GRID, grid)],
        "grid_best": {"lr": GRID[best], "score": grid[best]},
        "grid_seconds": mean(sum(g["seconds"] for g in p["grid"]) for p in points),
        "ours": _arm([p["ours"] for p in points]) | {"finder_seconds": mean(p["ours"]["finder_s"] for p in points)},
        "rules": {m: _arm([p["rules"][m] for p in points]) for m in METHODS},
        "lightning": _arm([p["lightning"] for p in points])
        | {"seconds": mean(p["lightning"]["seconds"] for p in points)},
        "ranges": [p["range"] for p in points],
        "schedules": {},
    }
    summary["score_ratio"] = summary["ours"]["score"] / grid[best]
    summary["cost_ratio"] = summary["ours"]["finder_seconds"] / summary["grid_seconds"]
    for name, hand in (("cyclical", "cyclical"), ("onecycle_range", "onecycle"), ("onecycle_valley", "onecycle")):
        ours = [r["ours"][name] for r in ranges]
        keys = list(ranges[0][hand])
        means = {k: mean(r[hand][k] for r in ranges) for k in keys}
        top = max(keys, key=lambda k: means[k])
        theirs = [r[hand][top] for r in ranges]
        gap = means[top] - mean(ours)
        noise = 2 * math.sqrt((_sd(ours) ** 2 + _sd(theirs) ** 2) / len(seeds)) if len(seeds) > 1 else math.nan
        summary["schedules"][name] = {
            "score": mean(ours),
            "sd": _sd(ours),
            "best_hand": {"bounds": top, "score": means[top], "sd": _sd(theirs)},
            "gap": gap,
            "noise": noise,
            "within_noise": None if math.isnan(noise) else gap <= noise,
        }
    print(f"{task.name}: " + _line(summary), flush=True)
    return {"summary": summary, "points": points, "ranges": ranges}


def _arm(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "lrs": [r["lr"] for r in runs],
        "rules": [r.get("rule") for r in runs],
        "score": mean(r["score"] for r in runs),
    }


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


def _line(s: dict[str, Any]) -> str:
    best = s["grid_best"]["score"]
    return (
        f"grid-best {best:.3f}, ours {s['ours']['score'] / best:.3f} (cost {s['cost_ratio']:.3f}), "
        f"Lightning {s['lightning']['score'] / best:.3f}; "
        + ", ".join(f"{k} {v['score']:.3f} vs {v['best_hand']['score']:.3f}" for k, v in s["schedules"].items())
    )


def _lrs(values: list[float | None], rules: list[str | None] | None = None) -> str:
    marks = rules or [None] * len(values)
    return ", ".join(
        "none" if v is None else f"{v:.3g}" + ("*" if r == "divergence" else "") for v, r in zip(values, marks)
    )


def table(tasks: list[dict[str, Any]], seeds: list[int], m: dict[str, Any] | None = None) -> str:
    m = m or machine()
    lines = [
        "# LR finder on five tasks",
        "",
        f"Generated by `python benchmarks/finder.py`; mean over seeds {seeds}. Scores: test accuracy, R^2 for "
        "diabetes. Ratios are to the grid-best mean score of a 12-point constant-LR grid from 1e-4 to 1. "
        "`*`: suggested by the divergence fallback (no clear descent).",
        "",
        "## Benchmark: point (constant LR)",
        "",
    ]
    points = [
        (
            "task",
            "grid-best LR (score)",
            "`LRFinder(confirm=False)` LR (per seed)",
            "ours / grid-best",
            "cost / grid",
            *(f"rule `{rule}`" for rule in METHODS),
            "Lightning LR",
            "Lightning / grid-best",
        )
    ]
    misses = []
    for t in tasks:
        s = t["summary"]
        best = s["grid_best"]
        ours, theirs = s["ours"], s["lightning"]
        points.append(
            (
                f"{s['task']} ({s['description']})",
                f"{best['lr']:.3g} ({best['score']:.3f})",
                _lrs(ours["lrs"], ours["rules"]),
                f"**{s['score_ratio']:.3f}**",
                f"{s['cost_ratio']:.3f}",
                *(f"{s['rules'][rule]['score'] / best['score']:.3f}" for rule in METHODS),
                _lrs(theirs["lrs"]),
                f"{theirs['score'] / best['score']:.3f}",
            )
        )
        if s["score_ratio"] < TARGET_SCORE:
            misses.append(f"{s['task']}: ours reaches {s['score_ratio']:.3f} of the grid-best (target {TARGET_SCORE})")
        if ours["score"] < theirs["score"]:
            misses.append(f"{s['task']}: ours ({ours['score']:.3f}) is below Lightning's ({theirs['score']:.3f})")
        if s["cost_ratio"] > TARGET_COST:
            misses.append(f"{s['task']}: the test costs {s['cost_ratio']:.3f} of the grid (target {TARGET_COST})")
    lines += [
        *markdown_table(points, align="lllrr" + "r" * len(METHODS) + "lr"),
        "",
        "## Benchmark: range (schedules fed by `lr_range`)",
        "",
    ]
    ranges = [
        (
            "task",
            "`lr_range` (per seed)",
            "schedule",
            "ours (sd)",
            "best hand-picked bounds (sd)",
            "gap",
            "2 SE",
            "within noise",
        )
    ]
    names = {
        "cyclical": "`Cyclical()`",
        "onecycle_range": "`OneCycle(div_factor=None)`",
        "onecycle_valley": "`OneCycle()`",
    }
    for t in tasks:
        s = t["summary"]
        spans = ", ".join("none" if r is None else f"{r[0]:.2g}-{r[1]:.2g}" for r in s["ranges"])
        for name, v in s["schedules"].items():
            hand = v["best_hand"]
            verdict = {None: "n/a (1 seed)", True: "yes", False: "**no**"}[v["within_noise"]]
            ranges.append(
                (
                    s["task"],
                    spans,
                    names[name],
                    f"{v['score']:.3f} ({v['sd']:.3f})",
                    f"{hand['bounds']}: {hand['score']:.3f} ({hand['sd']:.3f})",
                    f"{v['gap']:+.3f}",
                    f"{v['noise']:.3f}",
                    verdict,
                )
            )
            if v["within_noise"] is False:
                misses.append(f"{s['task']}: {names[name]} is {v['gap']:.3f} below the best hand-picked bounds")
    lines += [
        *markdown_table(ranges, align="lllrlrrl"),
        "",
        "Hand-picked bounds: Cyclical `max_lr/ratio` (base_lr = max_lr / ratio), OneCycle `max_lr` "
        "(div_factor 25). Gap: best hand-picked mean minus ours; within noise: gap <= 2 SE.",
        "",
        "## Benchmark: targets",
        "",
        f"Ours >= {TARGET_SCORE} of the grid-best on every task, never below Lightning's suggestion, test cost <= "
        f"{TARGET_COST} of the grid; schedules fed by `lr_range` within seed noise of the best hand-picked bounds.",
        "",
        *(["All met."] if not misses else ["Missed:", "", *(f"- {m}" for m in misses)]),
        "",
        f"{machine_line(m)[:-1]}, {m['date']}.",
    ]
    return "\n".join(lines) + "\n"


def figure(curve: dict[str, Any], title: str, path: Path) -> None:
    fig = FinderResult.from_dict(curve).plot(show_all=True)
    fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, a smaller range grid")
    parser.add_argument("--write", action="store_true", help="write the docs files also with --quick")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=[t.name for t in TASKS], choices=[t.name for t in TASKS])
    parser.add_argument("--from-json", action="store_true", help="only re-render the docs files from finder.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.from_json:
        data = json.loads((DOCS / "finder.json").read_text())
        save(data["tasks"], data["seeds"], data.get("machine"))
        return
    quiet_lightning()
    seeds = list(range(1 if args.quick else args.seeds))
    write = args.write or not args.quick
    results = []
    for task in TASKS:
        if task.name in args.tasks:
            results.append(run_task(task, seeds, args.quick))
            if write:  # after each task: a run cut short keeps what it finished
                save(results, seeds)
    print(table(results, seeds))


def save(results: list[dict[str, Any]], seeds: list[int], m: dict[str, Any] | None = None) -> None:
    """Write the docs files; tasks run earlier with the same seeds and not run now are kept."""
    if (DOCS / "finder.json").exists():
        old = json.loads((DOCS / "finder.json").read_text())
        if old["seeds"] == seeds:
            fresh = {r["summary"]["task"]: r for r in results}
            kept = {r["summary"]["task"]: r for r in old["tasks"]} | fresh
            results = [kept[t.name] for t in TASKS if t.name in kept]
    m = m or machine()
    write_results(
        "finder", {"seeds": seeds, "tasks": results, "machine": m}, table(results, seeds, m), DOCS, allow_nan=True
    )
    images = REPO / "docs" / "images"
    for r in results:
        if r["summary"]["task"] == "digits-mlp":
            title = "LRFinder(confirm=False) on digits (MLP, SGD momentum)"
            figure(r["points"][0]["curve"], title, images / "finder.png")
        if r["summary"]["task"] == "mnist1d-gru":
            curve = r["points"][0]["curve"]
            title = f"LRFinder(confirm=False) on MNIST-1D (GRU, Adam): {curve['rule']} rule"
            figure(curve, title, images / "finder_divergence.png")


if __name__ == "__main__":
    main()
