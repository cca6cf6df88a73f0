"""Tuning-free training: does ``LRFinder()`` + cosine reach a grid-tuned cosine, and what does choosing cost?

Tasks: the five of ``benchmarks/harness/five_tasks.py`` (designed on) and ``charlm``, a small character-level
transformer trained on Python's standard library source (``harness.data.stdlib_text``; held out: no rule
was designed on it; its row is reported separately). Every arm trains the task's budget with
``CosineAnnealing()`` (from the peak LR to 0 over the run), for the same seeds (initialization and data
order). Arms:

* ``grid``: 6 full runs, LRs half a decade apart (placed per task so that the best is inside); the arm's
  score is the best mean over seeds. It spends 6 runs choosing.
* ``lightning``: ``Tuner(trainer).lr_find(model)`` (100 steps), then cosine from its suggestion.
* ``curve``: the single-curve finder of before the probes, ``LRFinder(confirm=False, num_training_steps=100)``.
* ``default``: ``LRFinder()``, sized from the run (range test + probes, at most half a run).
* ``autolr``: ``AutoLR()`` alone (its finder's LR as the peak, ``warmup="auto"``, a WSD cooldown), not cosine.

Reported: each arm's mean score / the grid's best mean score, and the optimizer steps it spent choosing
/ one run's steps. To add an arm, add a function ``(task, seed) -> (lr, score, choosing_steps)`` to ``ARMS``.

Run from the repository root::

    python benchmarks/tuning_free.py               # 3 seeds, every task; writes docs/benchmarks/tuning_free.{md,json}
    python benchmarks/tuning_free.py --quick       # 1 seed, digits-mlp; writes nothing unless --write
    python benchmarks/tuning_free.py --from-json   # re-render the page from docs/benchmarks/tuning_free.json
    python benchmarks/tuning_free.py --arms autolr # rerun one arm; the grid and other arms kept from the json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.tuner import Tuner

if __name__ == "__main__":  # `python benchmarks/tuning_free.py`: the repository first on sys.path, this folder off it
    _root = Path(__file__).resolve().parents[1]
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from benchmarks.harness import (
    DOCS,
    Task,
    cli,
    data,
    machine,
    machine_line,
    markdown_table,
    models,
    quiet_trainer,
    text_table,
    write_results,
)
from benchmarks.harness.five_tasks import TASKS
from benchmarks.harness.lr_search import FINDER_START_LR
from lightning_lr import AutoLR, CosineAnnealing, LRFinder

CHAR_LM = Task("charlm", "char transformer 2x64", data.stdlib_text, models.CharTransformer, "AdamW", epochs=1)
HELD_OUT = CHAR_LM.name
GRIDS = {  # exponents of 10, half a decade apart; the best of each is inside
    "digits-mlp": -2.5,
    "diabetes-mlp": -4.0,
    "digits-cnn": -4.0,
    "mnist1d-cnn": -2.5,
    "mnist1d-gru": -3.0,
    HELD_OUT: -4.0,
}
TARGET_SCORE, TARGET_COST = 0.99, 0.5
Result = tuple[float | None, float, int]  # (LR it chose, score, optimizer steps spent choosing)


def grid(task: Task) -> list[float]:
    return [float(10 ** (GRIDS[task.name] + 0.5 * k)) for k in range(6)]


def cosine(task: Task, lr: float, seed: int, finder: LRFinder | None = None) -> float:
    """Train ``task`` with ``CosineAnnealing()`` from ``lr`` (or from the finder's pick); the score."""
    return task.fit(lr, seed, [*([finder] if finder else []), CosineAnnealing()]).score()


def finder_arm(**kwargs: Any) -> Callable[[Task, int], Result]:
    def arm(task: Task, seed: int) -> Result:
        finder = LRFinder(**kwargs)
        score = cosine(task, FINDER_START_LR, seed, finder)
        result = finder.result
        assert result is not None
        spent = len(result.lrs) + sum(len(p.losses) for p in result.probes)
        return result.suggestion, score, spent

    return arm


def lightning_arm(task: Task, seed: int) -> Result:
    found = Tuner(quiet_trainer(task.epochs)).lr_find(task.build(FINDER_START_LR, seed))
    lr = found.suggestion() if found is not None else None
    spent = len(found.results["lr"]) if found is not None else 0
    return lr, cosine(task, lr if lr is not None else FINDER_START_LR, seed), spent


def autolr_arm(task: Task, seed: int) -> Result:
    """``AutoLR()`` alone: finder -> peak, warmup="auto", WSD with a linear cooldown over the last half."""
    auto = AutoLR()
    score = task.fit(FINDER_START_LR, seed, [auto]).score()
    result = auto.finder.result
    assert result is not None
    return result.suggestion, score, len(result.lrs) + sum(len(p.losses) for p in result.probes)


ARMS: dict[str, Callable[[Task, int], Result]] = {
    "lightning": lightning_arm,
    "curve": finder_arm(confirm=False, num_training_steps=100),
    "default": finder_arm(),
    "autolr": autolr_arm,
}
NAMES = {
    "lightning": "Lightning `lr_find` + cosine",
    "curve": "single-curve `LRFinder(confirm=False, num_training_steps=100)` + cosine",
    "default": "`LRFinder()` + cosine",
    "autolr": "`AutoLR()` (finder peak, auto warmup, WSD with a linear cooldown over the last half)",
}
SHORT = {"lightning": "Lightning", "curve": "single curve", "default": "`LRFinder()`", "autolr": "`AutoLR()`"}
TARGETED = ("default", "autolr")  # the arms the targets are for


def run_task(task: Task, seeds: list[int], arms: list[str], saved: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``arms`` on every seed; the grid's best mean (run, or ``saved`` from an earlier run with its other arms
    kept), and each arm's score and cost relative to it."""
    out = saved if saved is not None else grid_run(task, seeds)
    means, steps = [g["mean"] for g in out["grid"]], out["run_steps"]
    best = int(np.argmax(means))
    for name in arms:
        arm = ARMS[name]
        runs = [arm(task, seed) for seed in seeds]
        score = statistics.fmean(r[1] for r in runs)
        out["arms"][name] = {
            "lrs": [r[0] for r in runs],
            "scores": [r[1] for r in runs],
            "score_ratio": score / means[best],
            "choosing_ratio": statistics.fmean(r[2] for r in runs) / steps,
        }
    out["arms"]["grid"] = {"lrs": [out["grid"][best]["lr"]], "score_ratio": 1.0, "choosing_ratio": float(len(means))}
    print(f"{task.name}: " + ", ".join(f"{k} {v['score_ratio']:.3f}" for k, v in out["arms"].items()), flush=True)
    return out


def grid_run(task: Task, seeds: list[int]) -> dict[str, Any]:
    """The 6-point grid of full cosine runs: every LR's scores and the best mean."""
    lrs = grid(task)
    table = [[cosine(task, lr, seed) for seed in seeds] for lr in lrs]
    means = [statistics.fmean(row) for row in table]
    best = int(np.argmax(means))
    return {
        "task": task.name,
        "description": task.description,
        "run_steps": task.epochs * task.steps_per_epoch,
        "grid": [{"lr": lr, "scores": row, "mean": m} for lr, row, m in zip(lrs, table, means)],
        "grid_best": {"lr": lrs[best], "score": means[best], "edge": best in (0, len(lrs) - 1)},
        "arms": {},
    }


def rows(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Per task: each arm's score / grid and its choosing steps / run."""
    head = ("task", "run steps", "grid-best LR (score)", *(f"{SHORT[a]}: score / grid" for a in ARMS))
    out: list[tuple[str, ...]] = [(*head, *(f"{SHORT[a]}: choosing / run" for a in ARMS))]
    for r in results:
        best, arms = r["grid_best"], r["arms"]
        out.append(
            (
                r["task"] + (" *(held out)*" if r["task"] == HELD_OUT else ""),
                str(r["run_steps"]),
                f"{best['lr']:.3g} ({best['score']:.3f})" + (" (edge)" if best["edge"] else ""),
                *(f"{arms[a]['score_ratio']:.3f}" for a in ARMS),
                *(f"{arms[a]['choosing_ratio']:.2f}" for a in ARMS),
            )
        )
    return out


def picks(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Per task: the LR each arm chose on each seed."""
    out: list[tuple[str, ...]] = [("task", *(f"{SHORT[a]}: LR per seed" for a in ARMS))]
    for r in results:
        lrs = [", ".join("none" if v is None else f"{v:.3g}" for v in r["arms"][a]["lrs"]) for a in ARMS]
        out.append((r["task"], *lrs))
    return out


def summary(results: list[dict[str, Any]]) -> tuple[list[tuple[str, ...]], list[str]]:
    """Min over the designed-on tasks and the held-out row per arm; the targets the default arm missed."""
    designed = [r for r in results if r["task"] != HELD_OUT]
    held = [r for r in results if r["task"] == HELD_OUT]
    table: list[tuple[str, ...]] = [("arm", "min score / grid (designed on)", "held out", "max choosing / run")]
    for a in [*ARMS, "grid"]:
        worst = min((r["arms"][a]["score_ratio"] for r in designed), default=float("nan"))
        out = f"{held[0]['arms'][a]['score_ratio']:.3f}" if held else "not run"
        cost = max(r["arms"][a]["choosing_ratio"] for r in results)
        table.append((NAMES.get(a, "grid-tuned cosine (6 runs)"), f"{worst:.3f}", out, f"{cost:.2f}"))
    misses = [m for r in results for a in TARGETED if a in r["arms"] for m in target_misses(r, a)]
    return table, misses


def target_misses(r: dict[str, Any], arm: str) -> list[str]:
    """The targets ``arm`` misses on the task ``r``."""
    ours, theirs, name, out = r["arms"][arm], r["arms"]["lightning"], SHORT[arm], []
    if ours["score_ratio"] < TARGET_SCORE:
        out.append(f"{r['task']}: {name} reaches {ours['score_ratio']:.3f} of the grid (target {TARGET_SCORE})")
    if ours["score_ratio"] < theirs["score_ratio"]:
        out.append(
            f"{r['task']}: {name} below Lightning's `lr_find` ({ours['score_ratio']:.3f} < {theirs['score_ratio']:.3f})"
        )
    if ours["choosing_ratio"] > TARGET_COST:
        out.append(f"{r['task']}: {name} choosing took {ours['choosing_ratio']:.2f} of a run (target {TARGET_COST})")
    return out


def markdown(results: list[dict[str, Any]], seeds: list[int], m: dict[str, Any]) -> list[str]:
    table, misses = summary(results)
    return [
        "# Tuning-free: `LRFinder()` + cosine and `AutoLR()` against a grid-tuned cosine",
        "",
        f"Generated by `python benchmarks/tuning_free.py`; mean over seeds {seeds}. Scores: test accuracy (next-"
        "character accuracy for charlm), R^2 for diabetes. Every arm but `AutoLR()` trains with `CosineAnnealing()` "
        "from the LR it chose (`AutoLR()` runs its own warmup-stable-decay schedule from its finder's LR); the grid "
        "arm is the best mean of 6 full runs half a decade apart. `choosing / run`: optimizer steps "
        "spent choosing (range test + probes; Lightning's test) over one run's steps. The held-out task was not used "
        "to design the rules.",
        "",
        *markdown_table(table, align="lrrr"),
        "",
        *markdown_table(rows(results), align="lrl" + "r" * (2 * len(ARMS))),
        "",
        *markdown_table(picks(results), align="l" * (1 + len(ARMS))),
        "",
        "Arms: " + "; ".join(f"{SHORT[a]}: {NAMES[a]}" for a in ARMS) + ".",
        "",
        f"Targets for `LRFinder()` + cosine and for `AutoLR()`: >= {TARGET_SCORE} of the grid on every task, never "
        f"below Lightning's `lr_find` + cosine, choosing <= {TARGET_COST} of one run.",
        "",
        *(["All met."] if not misses else ["Missed:", "", *(f"- {line}" for line in misses)]),
        "",
        f"{machine_line(m)[:-1]}, {m['date']}.",
    ]


def previous(args: Any) -> dict[str, Any]:
    """The saved results that a run of some ``--arms`` completes (from --out-dir, else docs/benchmarks)."""
    for folder in (args.out_dir, DOCS):
        if (folder / "tuning_free.json").exists():
            return dict(json.loads((folder / "tuning_free.json").read_text()))
    raise SystemExit("--arms without a saved tuning_free.json: run every arm once first")


def main() -> None:
    parser = cli.parser(__doc__, "1 seed, digits-mlp only", seeds=3)
    names = [t.name for t in [*TASKS, CHAR_LM]]
    parser.add_argument("--tasks", nargs="*", default=names, choices=names)
    parser.add_argument("--from-json", action="store_true", help="only re-render the page from tuning_free.json")
    parser.add_argument(
        "--arms",
        nargs="*",
        default=list(ARMS),
        choices=list(ARMS),
        help="run only these arms; the grid and the "
        "other arms' numbers are read from tuning_free.json in --out-dir (or docs/benchmarks) and kept",
    )
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads((args.out_dir / "tuning_free.json").read_text())
        page = markdown(saved["tasks"], saved["seeds"], saved["machine"])
        write_results("tuning_free", saved, page, args.out_dir)
        return
    load = cli.start(args)
    seeds = list(range(1 if args.quick else args.seeds))
    tasks = ["digits-mlp"] if args.quick else args.tasks
    saved = previous(args) if set(args.arms) != set(ARMS) else {}
    if saved and saved["seeds"] != seeds:
        raise SystemExit(f"--arms: the saved results are for seeds {saved['seeds']}, this run for {seeds}")
    kept = {r["task"]: r for r in saved.get("tasks", [])}
    results = [run_task(t, seeds, args.arms, kept.get(t.name)) for t in [*TASKS, CHAR_LM] if t.name in tasks]
    print(text_table(rows(results)))
    print(text_table(summary(results)[0]))
    if cli.writes(args):
        m = machine(load)
        write_results(
            "tuning_free", {"seeds": seeds, "tasks": results, "machine": m}, markdown(results, seeds, m), args.out_dir
        )


if __name__ == "__main__":
    main()
