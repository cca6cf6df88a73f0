"""Does scheduling pay? Every schedule on MNIST-1D: test accuracy and time-to-accuracy, several budgets.

MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024) separates models
that MNIST does not: the paper reports test accuracy 32% (logistic regression), 68% (MLP), 91% (GRU)
and 94% (CNN). Its data come from ``mnist1d.data.make_dataset(get_dataset_args())``, generated
offline: 4,000 training and 1,000 test sequences of length 40, 10 classes.

Every arm trains the same small 1-D CNN (4 convolutions with batch norm, ~7k parameters) with the
paper's optimizer and batch: Adam, batch 100, no weight decay, inside a real ``lightning.pytorch.Trainer``
(CPU, no logger, no checkpointing). Only the LR callback differs. The configured LR is the paper's
``1e-2`` (``PEAK_LR``) in every arm: the peak (or base) of every schedule, picked before any run.
A small grid of constant LRs gives the baseline its best value; the finder-fed arms (``LRFinder`` +
``OneCycle``, ``LRFinder`` + ``CosineAnnealing``) take their peak from the LR range test instead.

Data: the last 500 of the 4,000 training sequences are held out for validation (the generator has
already shuffled them), 3,500 train. A probe callback measures the validation accuracy every
``PROBE_EVERY`` optimizer steps (eval mode, no gradients, nothing else touched); time-to-accuracy is
the first probed step at which it reaches 90% and 94%. Lightning's own validation runs once per epoch,
in the ``ReduceLROnPlateau`` arm only (``val_loss``, which it monitors). The test split is evaluated only
at the end of each budget. Budget-independent arms (a constant LR,
``ReduceLROnPlateau``: nothing in them depends on the run's length) run once at the longest budget
and are read at the end of the shorter ones; every other arm runs once per budget.

Reported per schedule and budget: test accuracy (mean and 95% t-interval over seeds), steps to 90%
and 94% validation accuracy, and Welch's t-test against the constant baseline at the same budget with
Holm's correction over the arms of that budget.

Run from the repository root::

    python benchmarks/mnist1d.py            # full run (~8 CPU-minutes on one thread): prints the tables,
                                            # writes docs/benchmarks/mnist1d.{md,json} and mnist1d_curves.png
    python benchmarks/mnist1d.py --quick    # smoke test (well under a minute); writes nothing unless --write
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

if __name__ == "__main__":  # `python benchmarks/mnist1d.py`: the repository first on sys.path, and this folder
    _root = Path(__file__).resolve().parents[1]  # off it, where this file would shadow the `mnist1d` package
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from benchmarks.harness import Arm, Probe, Task, cli, data, machine, models, over_seeds, write_results
from benchmarks.harness.optimizer_arms import optimizer_arms, scored
from benchmarks.pages.mnist1d import markdown, resummarize, terminal
from benchmarks.pages.mnist1d_figure import plot
from benchmarks.pages.mnist1d_summary import BASELINE, Cells, constant_arms, per_budget, summarize
from benchmarks.pages.mnist1d_target import targets
from lightning_lr import (
    AutoLR,
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    LRFinder,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
    WarmupStableDecay,
)
from lightning_lr.schedules import Constant, fraction

PEAK_LR = 1e-2  # the paper's Adam LR; the peak / base LR of every schedule arm
CHANNELS = 24
VAL_SIZE = 500
PROBE_EVERY = 10  # optimizer steps between validation-accuracy probes
GRID = (1e-3, 3e-3, 1e-2, 3e-2)  # constant-LR grid (1e-2 is the baseline)
FINDER_STEPS = 100  # the single-curve finder arms' range test; --finder-steps (and --quick) change it
TASK = Task(
    "mnist1d",
    f"1-D CNN, 4 conv + batch norm, {CHANNELS} channels",
    lambda: data.mnist1d(VAL_SIZE),
    lambda: models.cnn1d_bn(CHANNELS),
    "Adam",
    batch=100,  # the paper's
    epochs=12,
    sampler_only=True,
)


def constant() -> list[Callback]:
    return [LRScheduler(Constant(1.0))]


ARMS: dict[str, Arm] = {
    BASELINE: Arm(constant, f"`LRScheduler(Constant(1.0))` at LR {PEAK_LR:g}: the baseline", budget_independent=True),
    "StepDecay": Arm(
        lambda: [StepDecay(step_size=fraction(1 / 3), gamma=0.1)],
        "`StepDecay(step_size=fraction(1/3), gamma=0.1)`: x0.1 after 1/3 and 2/3 of the run",
    ),
    "MultiStepDecay": Arm(
        lambda: [MultiStepDecay(milestones=["50%", "75%"], gamma=0.1)], "`MultiStepDecay(milestones=['50%', '75%'])`"
    ),
    "ExponentialDecay": Arm(
        lambda: [ExponentialDecay(gamma=0.01, decay_steps=fraction(1.0))],
        "`ExponentialDecay(gamma=0.01, decay_steps=fraction(1.0))`: to 1% of the peak at the end",
    ),
    "CosineAnnealing": Arm(lambda: [CosineAnnealing()], "`CosineAnnealing()`: peak to 0 over the run"),
    "CosineRestarts": Arm(
        lambda: [CosineRestarts(T_0=fraction(1 / 7), T_mult=2)],
        "`CosineRestarts(T_0=fraction(1/7), T_mult=2)`: cycles of 1/7, 2/7, 4/7 of the run",
    ),
    "WarmupLinear": Arm(lambda: [WarmupLinear(num_warmup_steps=0.1)], "`WarmupLinear(num_warmup_steps=0.1)`"),
    "WarmupCosine": Arm(lambda: [WarmupCosine(num_warmup_steps=0.1)], "`WarmupCosine(num_warmup_steps=0.1)`"),
    "Cyclical": Arm(
        lambda: [Cyclical(base_lr=PEAK_LR / 10, max_lr=PEAK_LR, step_size_up=fraction(1 / 8), mode="triangular2")],
        "`Cyclical(base_lr=peak/10, max_lr=peak, step_size_up=fraction(1/8), mode='triangular2')`: 4 cycles, "
        "Adam's beta1 cycled 0.8-0.9 (PyTorch's default)",
    ),
    "OneCycle": Arm(
        lambda: [OneCycle()], "`OneCycle()`: PyTorch's defaults, max LR = the peak, beta1 cycled 0.85-0.95"
    ),
    "ReduceLROnPlateau": Arm(
        lambda: [ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)],
        "`ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=1)`: checked after each epoch",
        budget_independent=True,
    ),
    "WarmupStableDecay": Arm(
        lambda: [WarmupStableDecay(num_warmup_steps=0.1, num_decay_steps=0.2, decay_type="1-sqrt")],
        "`WarmupStableDecay(num_warmup_steps=0.1, num_decay_steps=0.2, decay_type='1-sqrt')`: warmup 10%, "
        "peak, 1-sqrt cooldown over the last 20%",
    ),
    "LRFinder + OneCycle": Arm(
        lambda: [LRFinder(confirm=False, num_training_steps=FINDER_STEPS), OneCycle()],
        "`LRFinder(confirm=False, num_training_steps=100)` (the single-curve finder: 1e-8..1, valley) then "
        "`OneCycle()`",
    ),
    "LRFinder + CosineAnnealing": Arm(
        lambda: [LRFinder(confirm=False, num_training_steps=FINDER_STEPS), CosineAnnealing()],
        "the single-curve `LRFinder(confirm=False, num_training_steps=100)` then `CosineAnnealing()` from the "
        "suggestion",
    ),
    "LRFinder() + OneCycle": Arm(
        lambda: [LRFinder(), OneCycle()],
        "`LRFinder()` with its defaults (range test and probes sized from the run, at most half of it) then "
        "`OneCycle()`",
    ),
    "AutoLR": Arm(
        lambda: [AutoLR()],
        "`AutoLR()`: `LRFinder()` for the peak, warmup='auto', WarmupStableDecay with the default cooldown",
    ),
}
CONSTANTS = constant_arms(PEAK_LR, GRID)  # name -> LR, the baseline first; the grid's other LRs are arms too
for _name, _lr in list(CONSTANTS.items())[1:]:
    ARMS[_name] = Arm(constant, f"constant LR {_lr:g} (grid)", lr=_lr, budget_independent=True)
ARMS.update(optimizer_arms(PEAK_LR))  # schedule-free and LR-free optimizers (issue 21)


def fit(name: str, seed: int, epochs: int, test_epochs: list[int]) -> dict[str, Any]:
    """Train one arm with one seed for ``epochs``; its probes, test accuracies at ``test_epochs`` and wall time."""
    arm = ARMS[name]
    callbacks = arm.callbacks()
    probe = Probe(scored(callbacks, TASK.score), test_epochs, PROBE_EVERY)
    plateau = any(isinstance(c, ReduceLROnPlateau) for c in callbacks)  # Lightning validates for it alone
    lr = PEAK_LR if arm.lr is None else arm.lr
    run = TASK.fit(lr, seed, [*callbacks, probe], epochs, optimizer=arm.optimizer, validate=plateau)
    out: dict[str, Any] = {
        "seed": seed,
        "epochs": epochs,
        "steps": run.trainer.global_step,
        "wall_s": run.seconds,
        "probe_steps": probe.steps,
        "val_acc": probe.val,
        "test_acc_at": probe.test,
    }
    found = (c.finder if isinstance(c, AutoLR) else c for c in callbacks)
    finder = next((c for c in found if isinstance(c, LRFinder)), None)
    if finder is not None and finder.result is not None:
        out["finder_steps"] = len(finder.result.lrs) + sum(len(p.losses) for p in finder.result.probes)
        out["suggestion"] = finder.result.suggestion
        out["finder_reason"] = finder.result.reason
    return out


def say(arm: str, r: dict[str, Any]) -> str:
    b = r["epochs"]
    extra = f"  finder {r['suggestion']:.3g}" if r.get("suggestion") else ""
    return (
        f"{arm:<28} {b:>3} ep seed {r['seed']}  test {100 * r['test_acc_at'][str(b)]:5.1f}%  "
        f"val {100 * r['val_acc'][-1]:5.1f}%  {r['wall_s']:5.1f} s{extra}"
    )


def run_arm(arm: str, budgets: list[int], seeds: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every seed at every budget (a budget-independent arm: at the longest, read at the others)."""
    spe = TASK.steps_per_epoch
    independent = ARMS[arm].budget_independent
    runs = {}
    for b in [budgets[-1]] if independent else budgets:
        read_at = budgets if independent else [b]
        runs[str(b)] = over_seeds(
            seeds, lambda s, b=b, at=read_at: fit(arm, s, b, at), lambda r: say(arm, r), b * spe, arm
        )
    return runs


def config(args: Any, budgets: list[int], seeds: list[int]) -> dict[str, Any]:
    split = TASK.data()
    return {
        "peak_lr": PEAK_LR,
        "optimizer": TASK.optimizer,
        "batch_size": TASK.batch,
        "channels": CHANNELS,
        "params": models.count(TASK.net()),
        "budgets": budgets,
        "steps_per_epoch": TASK.steps_per_epoch,
        "seeds": seeds,
        "probe_every": PROBE_EVERY,
        "finder_steps": args.finder_steps,
        "grid": list(GRID),
        "quick": args.quick,
        "threads": args.threads,
        **{f"n_{name}": len(split[name][1]) for name in ("train", "val", "test")},
    }


def run(args: Any, arms: list[str], budgets: list[int], load_start: float | None) -> dict[str, Any]:
    """Every arm over the seeds and budgets; the result as written to mnist1d.json."""
    start, cpu_start = time.perf_counter(), time.process_time()
    seeds, spe = list(range(args.seeds)), TASK.steps_per_epoch
    runs = {arm: run_arm(arm, budgets, seeds) for arm in arms}
    cells: Cells = {
        a: {b: per_budget(by.get(str(b), by[str(budgets[-1])]), b, spe) for b in budgets} for a, by in runs.items()
    }
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    every = [r for by in runs.values() for group in by.values() for r in group]
    return {
        "config": config(args, budgets, seeds),
        "arms": arms,
        "configuration": {a: ARMS[a].description for a in arms},
        "machine": machine(load_start, mnist1d=version("mnist1d")),
        "total_wall_s": total,
        "total_cpu_s": cpu,
        "fit_wall_s": sum(r["wall_s"] for r in every),
        "n_fits": len(every),
        "summary": summarize(cells, budgets),
        "targets": targets(cells, budgets, spe, CONSTANTS),
        "cells": {a: {str(b): c for b, c in by.items()} for a, by in cells.items()},
        "runs": runs,
    }


def write_files(out_dir: Path, result: dict[str, Any]) -> None:
    """mnist1d.json first (``--report-only`` redraws the rest from it), then the page and the figure."""
    for groups in result["runs"].values():
        for group in groups.values():
            for r in group:
                r["val_acc"] = [round(a, 4) for a in r["val_acc"]]  # accuracies on 500 sequences: 0.002 apart
    write_results("mnist1d", result, lambda: markdown(result), out_dir)
    plot(result, out_dir / "mnist1d_curves.png", {a for a, arm in ARMS.items() if arm.budget_independent})
    print(f"wrote {out_dir / 'mnist1d.md'}, mnist1d.json and mnist1d_curves.png")


def report_only(out_dir: Path) -> None:
    """Summary and target recomputed from the per-seed cells of mnist1d.json (reporting changes apply), redrawn."""
    write_files(out_dir, resummarize(json.loads((out_dir / "mnist1d.json").read_text())))


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(__doc__, "1 seed, budgets 1 2, 20 finder steps", seeds=5)
    parser.add_argument("--budgets", type=int, nargs="+", default=[3, 6, 12], help="epochs (default 3 6 12)")
    parser.add_argument(
        "--finder-steps", type=int, default=100, help="the single-curve LRFinder arms' num_training_steps (default 100)"
    )
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="subset of arms")
    parser.add_argument("--report-only", action="store_true", help="redraw mnist1d.md and the figure from mnist1d.json")
    args = parser.parse_args(argv)
    if args.report_only:
        report_only(args.out_dir)
        return 0
    if args.quick:
        args.seeds, args.budgets, args.finder_steps = 1, [1, 2], 20
    budgets = sorted(set(args.budgets))
    global FINDER_STEPS
    FINDER_STEPS = args.finder_steps
    if args.seeds < 1 or budgets[0] < 1:
        parser.error("need --seeds >= 1 and every budget >= 1")
    arms = [a for a in ARMS if a in args.arms or a == BASELINE]  # everything is compared with the baseline
    result = run(args, arms, budgets, cli.start(args))
    print(terminal(result))
    if cli.writes(args):
        write_files(args.out_dir, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
