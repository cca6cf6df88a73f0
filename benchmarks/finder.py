"""Does the LR finder's answer train well on five different tasks, and what does it cost?

Tasks (``benchmarks/harness/five_tasks.py``): digits MLP + SGD momentum, digits CNN + AdamW, MNIST-1D 1-D
CNN + SGD momentum, MNIST-1D GRU + Adam, diabetes regression MLP + Adam (MSE; score R^2). Every
arm trains for the task's fixed budget of epochs, for the same seeds (initialization and data
order); the tables report means over seeds.

Point (constant LR):

* ``grid``: each LR of a 12-point log grid from 1e-4 to 1; "grid-best" is the grid LR with the best
  mean score; the grid's cost is the wall time of its 12 training runs.
* the single-curve ``LRFinder(confirm=False, num_training_steps=100)`` (the default before the probes,
  ``harness.lr_search.CURVE``; ``benchmarks/tuning_free.py`` measures today's ``LRFinder()``), with
  ``apply=True``, inside the training run; its cost is the test's
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

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __name__ == "__main__":  # `python benchmarks/finder.py`: the repository first on sys.path, this folder off it
    _root = Path(__file__).resolve().parents[1]
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from benchmarks.harness import Task, cli, machine, write_results
from benchmarks.harness.five_tasks import TASKS
from benchmarks.harness.lr_search import CURVE, FINDER_START_LR, ConstantRuns, finder_point
from benchmarks.harness.stats import mean, sd
from benchmarks.pages.finder import page
from lightning_lr import Cyclical, FinderResult, LRFinder, OneCycle

TARGET_SCORE, TARGET_COST = 0.97, 0.10
GRID = [float(v) for v in np.logspace(-4, 0, 12)]
HAND = {"cyclical": "cyclical", "onecycle_range": "onecycle", "onecycle_valley": "onecycle"}  # ours -> hand grid


def run_range(task: Task, seed: int, best: int, quick: bool) -> dict[str, Any]:
    """Schedules fed by ``LRFinder``'s ``lr_range`` and by hand-picked bounds around grid LR ``best``."""
    half = max(1, task.epochs * task.steps_per_epoch // 4)  # two triangular cycles over the run

    def cyclical(base: float | None = None, peak: float | None = None) -> Cyclical:
        return Cyclical(base_lr=base, max_lr=peak, step_size_up=half, cycle_momentum=False)

    def score(lr: float, *callbacks: Any) -> float:
        return task.fit(lr, seed, callbacks).score()

    peaks = GRID[max(0, best - 1) : best + (1 if quick else 2)]
    ours = {
        "cyclical": score(FINDER_START_LR, LRFinder(**CURVE), cyclical()),
        "onecycle_range": score(FINDER_START_LR, LRFinder(**CURVE), OneCycle(div_factor=None)),
        "onecycle_valley": score(FINDER_START_LR, LRFinder(**CURVE), OneCycle()),
    }
    hand_cyclical = {
        f"{peak:.3g}/{ratio:g}": score(peak, cyclical(peak / ratio, peak)) for peak in peaks for ratio in (4, 10)
    }
    hand_onecycle = {f"{peak:.3g}": score(peak, OneCycle(max_lr=peak)) for peak in peaks}
    return {"ours": ours, "cyclical": hand_cyclical, "onecycle": hand_onecycle}


def arm(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "lrs": [r["lr"] for r in runs],
        "rules": [r.get("rule") for r in runs],
        "score": mean(r["score"] for r in runs),
    }


def schedule_summary(ranges: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Ours against the best hand-picked bounds (by mean), the gap and twice its standard error."""
    hand = HAND[name]
    ours = [r["ours"][name] for r in ranges]
    means = {k: mean(r[hand][k] for r in ranges) for k in ranges[0][hand]}
    top = max(means, key=lambda k: means[k])
    theirs = [r[hand][top] for r in ranges]
    gap = means[top] - mean(ours)
    noise = 2 * math.sqrt((sd(ours) ** 2 + sd(theirs) ** 2) / len(ranges)) if len(ranges) > 1 else math.nan
    return {
        "score": mean(ours),
        "sd": sd(ours),
        "best_hand": {"bounds": top, "score": means[top], "sd": sd(theirs)},
        "gap": gap,
        "noise": noise,
        "within_noise": None if math.isnan(noise) else gap <= noise,
    }


def run_task(task: Task, seeds: list[int], quick: bool) -> dict[str, Any]:
    points = [finder_point(task, seed, GRID, ConstantRuns(task, seed)) for seed in seeds]
    grid = [mean(p["grid"][i]["score"] for p in points) for i in range(len(GRID))]
    best = int(np.argmax(grid))
    ranges = [run_range(task, seed, best, quick) for seed in seeds]
    summary: dict[str, Any] = {
        "task": task.name,
        "description": task.description,
        "grid": [{"lr": lr, "score": s} for lr, s in zip(GRID, grid)],
        "grid_best": {"lr": GRID[best], "score": grid[best]},
        "grid_seconds": mean(sum(g["seconds"] for g in p["grid"]) for p in points),
        "ours": arm([p["ours"] for p in points]) | {"finder_seconds": mean(p["ours"]["finder_s"] for p in points)},
        "rules": {m: arm([p["rules"][m] for p in points]) for m in points[0]["rules"]},
        "lightning": arm([p["lightning"] for p in points])
        | {"seconds": mean(p["lightning"]["seconds"] for p in points)},
        "ranges": [p["range"] for p in points],
        "schedules": {name: schedule_summary(ranges, name) for name in HAND},
    }
    summary["score_ratio"] = summary["ours"]["score"] / grid[best]
    summary["cost_ratio"] = summary["ours"]["finder_seconds"] / summary["grid_seconds"]
    print(f"{task.name}: " + line(summary), flush=True)
    return {"summary": summary, "points": points, "ranges": ranges}


def line(s: dict[str, Any]) -> str:
    best = s["grid_best"]["score"]
    return (
        f"grid-best {best:.3f}, ours {s['ours']['score'] / best:.3f} (cost {s['cost_ratio']:.3f}), "
        f"Lightning {s['lightning']['score'] / best:.3f}; "
        + ", ".join(f"{k} {v['score']:.3f} vs {v['best_hand']['score']:.3f}" for k, v in s["schedules"].items())
    )


def figure(curve: dict[str, Any], title: str, path: Path) -> None:
    fig = FinderResult.from_dict(curve).plot(show_all=True)
    fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=110)


def save(out: Path, results: list[dict[str, Any]], seeds: list[int], m: dict[str, Any] | None = None) -> None:
    """Write the docs files; tasks run earlier with the same seeds and not run now are kept."""
    if (out / "finder.json").exists():
        old = json.loads((out / "finder.json").read_text())
        if old["seeds"] == seeds:
            kept = {r["summary"]["task"]: r for r in old["tasks"]} | {r["summary"]["task"]: r for r in results}
            results = [kept[t.name] for t in TASKS if t.name in kept]
    m = m or machine()
    text = page(results, seeds, (TARGET_SCORE, TARGET_COST), m)
    write_results("finder", {"seeds": seeds, "tasks": results, "machine": m}, text, out, allow_nan=True)
    images = out.parent / "images"
    for r in results:
        if r["summary"]["task"] == "digits-mlp":
            figure(
                r["points"][0]["curve"], "LRFinder(confirm=False) on digits (MLP, SGD momentum)", images / "finder.png"
            )
        if r["summary"]["task"] == "mnist1d-gru":
            curve = r["points"][0]["curve"]
            figure(
                curve,
                f"LRFinder(confirm=False) on MNIST-1D (GRU, Adam): {curve['rule']} rule",
                images / "finder_divergence.png",
            )


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__, "one seed, a smaller range grid", seeds=3)
    names = [t.name for t in TASKS]
    parser.add_argument("--tasks", nargs="*", default=names, choices=names)
    parser.add_argument("--from-json", action="store_true", help="only re-render the docs files from finder.json")
    args = parser.parse_args(argv)
    cli.start(args)
    if args.from_json:
        data = json.loads((args.out_dir / "finder.json").read_text())
        save(args.out_dir, data["tasks"], data["seeds"], data.get("machine"))
        return
    seeds = list(range(1 if args.quick else args.seeds))
    results = []
    for task in TASKS:
        if task.name in args.tasks:
            results.append(run_task(task, seeds, args.quick))
            if cli.writes(args):  # after each task: a run cut short keeps what it finished
                save(args.out_dir, results, seeds)
    print(page(results, seeds, (TARGET_SCORE, TARGET_COST)))


if __name__ == "__main__":
    main()
