"""Never lose a run: does ``RewindOnSpike()`` save diverging and corrupted runs, and stay silent on clean ones?

Tasks: MNIST-1D 1-D CNN (SGD momentum 0.9, batch 64, 4 epochs) and GRU (Adam, batch 128, 3 epochs) of
``benchmarks/harness/five_tasks.py``. Three scenarios, 5 seeds each, every arm on the same seeds:

* ``too high``: ``OneCycle()`` to a peak LR far above the stable one (the warmup carries the run into
  divergence after it has learned a little), without and with ``RewindOnSpike``;
* ``clean``: a constant, good LR: it must never fire (same test accuracy to the bit);
* ``corrupted``: the clean run with corrupt batches at fixed steps (inputs x 1e4 at 25% and 75% of the run,
  NaN inputs at 50%).

A run **diverged** when its last epoch's median training loss is not finite or not below its first step's
loss (it ended no better than it started), or when ``RewindOnSpike`` stopped it (``TooManyRewindsError``).
Reported per arm: diverged seeds, mean test accuracy, rewinds (a skipped step counts as one), extra steps
(optimizer steps whose progress was thrown away: from the restored snapshot to the offending step, or the
one skipped step).

Run from the repository root::

    python benchmarks/spikes.py            # 5 seeds; writes docs/benchmarks/spikes.{md,json}
    python benchmarks/spikes.py --quick    # 1 seed; writes nothing unless --write
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

if __name__ == "__main__":  # `python benchmarks/spikes.py`: the repository first on sys.path, this folder off it
    _root = Path(__file__).resolve().parents[1]
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from lightning.pytorch.callbacks import Callback

from benchmarks.harness import (
    EpochMetrics,
    Module,
    Task,
    cli,
    machine,
    machine_line,
    markdown_table,
    quiet_trainer,
    text_table,
    write_results,
)
from benchmarks.harness.five_tasks import TASKS
from lightning_lr import OneCycle, RewindOnSpike, TooManyRewindsError

CNN, GRU = TASKS[3], TASKS[4]
GOOD_LR = {CNN.name: 0.05, GRU.name: 0.05}  # constant LRs that train well in the budget (clean, corrupted)
TOO_HIGH = {CNN.name: 1.0, GRU.name: 1.0}  # OneCycle peaks where plain training diverges
ARMS: dict[str, Callable[[], list[Callback]]] = {
    "plain": list,
    "RewindOnSpike()": lambda: [RewindOnSpike()],
    "RewindOnSpike(lr_factor=0.25)": lambda: [RewindOnSpike(lr_factor=0.25)],
}


class Corrupted(Module):
    """A task's module whose batch at optimizer step ``s`` is corrupted as ``corrupt[s]`` says, once."""

    def __init__(self, base: Module, corrupt: dict[int, str]) -> None:
        super().__init__(base.task, base.net, base.lr, base.seed, base.optimizer_name)
        self.corrupt = dict(corrupt)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        kind = self.corrupt.pop(self.trainer.global_step, None)
        if kind is not None:
            x = x * (1e4 if kind == "x1e4" else math.nan)
        return self.task.criterion(self(x), y)


def corruption(task: Task) -> dict[int, str]:
    total = task.steps_per_epoch * task.epochs
    return {total // 4: "x1e4", total // 2: "nan", 3 * total // 4: "x1e4"}


def one_run(task: Task, scenario: str, arm: str, seed: int) -> dict[str, Any]:
    """Train ``task`` in ``scenario`` with ``arm``'s callbacks on ``seed``; what the tables need."""
    lr = TOO_HIGH[task.name] if scenario == "too high" else GOOD_LR[task.name]
    module: Module = task.build(lr, seed)
    if scenario == "corrupted":
        module = Corrupted(module, corruption(task))
    losses = EpochMetrics(())
    extra = ARMS[arm]()
    callbacks = [losses, *([OneCycle()] if scenario == "too high" else []), *extra]
    trainer = quiet_trainer(task.epochs, callbacks)
    try:
        trainer.fit(module)
        stopped = False
    except TooManyRewindsError:  # a run it stops counts as diverged
        stopped = True
    last = losses.train_losses[-1]
    final = math.nan if stopped else statistics.median(last)  # the median: a corrupt batch's own loss is out
    first = losses.train_losses[0][0]
    events = [e for c in extra if isinstance(c, RewindOnSpike) for e in c.events]
    return {
        "seed": seed,
        "accuracy": task.score(module) if math.isfinite(final) else 0.0,
        "final_train_loss": final,
        "diverged": not (math.isfinite(final) and final < first),
        "stopped": stopped,
        "rewinds": len(events),
        "extra_steps": sum(e["step"] + 1 - e["restored"] for e in events),
        "events": [{k: (v if k != "loss" or math.isfinite(v) else str(v)) for k, v in e.items()} for e in events],
        "steps": trainer.global_step,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "diverged": sum(r["diverged"] for r in runs),
        "seeds": len(runs),
        "accuracy": statistics.fmean(r["accuracy"] for r in runs),
        "rewinds": sum(r["rewinds"] for r in runs),
        "extra_steps": sum(r["extra_steps"] for r in runs),
    }


def run_all(seeds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for task in (CNN, GRU):
        for scenario in ("too high", "clean", "corrupted"):
            for arm in ARMS:
                runs = [one_run(task, scenario, arm, seed) for seed in range(seeds)]
                key = f"{task.name} | {scenario} | {arm}"
                results[key] = {"runs": runs, **summarize(runs)}
                s = results[key]
                print(f"{key}: diverged {s['diverged']}/{s['seeds']}, accuracy {s['accuracy']:.3f}, "
                      f"rewinds {s['rewinds']}, extra steps {s['extra_steps']}", flush=True)  # fmt: skip
    return results


def table(results: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["task", "scenario", "arm", "diverged", "test acc.", "rewinds", "extra steps"]]
    for key, s in results.items():
        task, scenario, arm = key.split(" | ")
        rows.append([task, scenario, arm, f"{s['diverged']}/{s['seeds']}", f"{s['accuracy']:.3f}", s["rewinds"],
                     s["extra_steps"]])  # fmt: skip
    return rows


def verdicts(results: dict[str, Any]) -> list[str]:
    """The three targets, per task and arm, met or missed."""
    lines = []
    for task in (CNN.name, GRU.name):
        plain = results[f"{task} | too high | plain"]
        clean = results[f"{task} | clean | plain"]
        for arm in list(ARMS)[1:]:
            high, quiet = results[f"{task} | too high | {arm}"], results[f"{task} | clean | {arm}"]
            corrupt = results[f"{task} | corrupted | {arm}"]
            gap = 100 * (clean["accuracy"] - corrupt["accuracy"])
            lines.append(
                f"- {task}, `{arm}`: too high: {high['diverged']}/{high['seeds']} diverged with it, "
                f"{plain['diverged']}/{plain['seeds']} without "
                f"({'met' if high['diverged'] == 0 and plain['diverged'] >= 3 else 'MISSED'}: 0 where plain >= 3/5); "
                f"corrupted: {gap:+.1f} points below clean ({'met' if gap <= 2 else 'MISSED'}: within 2); "
                f"clean: {quiet['rewinds']} rewinds ({'met' if quiet['rewinds'] == 0 else 'MISSED'}: never fires)"
            )
    return lines


def page(result: dict[str, Any]) -> list[str]:
    return [
        "# Benchmark: recovery from spikes and divergence (`RewindOnSpike`)",
        "",
        "Generated by `python benchmarks/spikes.py`; the numbers are in `spikes.json`. What the scenarios and",
        "the columns mean: the script's docstring and [Loss spikes and divergence](../spikes.md).",
        "",
        *markdown_table(table(result["results"]), align="lllrrrr"),
        "",
        "## Targets",
        "",
        *verdicts(result["results"]),
        "",
        machine_line(result["machine"]),
    ]


def main() -> None:
    args = cli.parser(__doc__, "1 seed", seeds=5).parse_args()
    load = cli.start(args)
    seeds = 1 if args.quick else args.seeds
    results = run_all(seeds)
    result = {"seeds": seeds, "results": results, "machine": machine(load)}
    print(text_table(table(results)))
    print("\n".join(verdicts(results)))
    if cli.writes(args):
        write_results("spikes", result, lambda: page(result), args.out_dir, allow_nan=True)


if __name__ == "__main__":
    main()
