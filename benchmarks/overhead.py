"""Per-step cost of ``lightning_lr.OneCycle`` against PyTorch's ``OneCycleLR`` + ``LearningRateMonitor``.

The question: what does one optimizer step cost with our callback instead of the usual PyTorch way,
hosted by Lightning, at 1, 100 and 1,000 param groups (layer-wise fine-tuning makes hundreds of groups
common)? Target: ratio <= 1.0 at every group count.

The model is one small MLP (16 inputs, tanh hidden layer, linear head) whose hidden layer is stored as
one parameter tensor per unit, so that it has as many tensors as the largest group count while its
arithmetic stays small; for each group count its tensors are split into that many param groups of
consecutive tensors with LRs rising group by group (from ``MAX_LR / 2`` to ``MAX_LR`` at the head, as
layer-wise decay does), so only the number of groups changes between rows. Both arms train it on the same in-memory
data with SGD (momentum 0.9) and a real ``CSVLogger``; the model logs its loss with ``self.log``.

* ``pytorch``: ``configure_optimizers`` returns ``OneCycleLR`` (each group's LR as its peak,
  ``interval="step"``) and ``LearningRateMonitor(logging_interval="step", log_momentum=True)`` logs
  every group's LR and momentum;
* ``ours``: the bare optimizer and ``OneCycle(log_loss=False)``, which sets and logs the same LR and
  momentum of every group and nothing else (``OneCycle()`` also logs the loss by default).

A warm-up run of each arm checks the equivalence: the LR and momentum of every group agree at every
step to 1e-12 and both arms log the same series. Timing: the time between consecutive
``on_train_batch_start`` is one optimizer step's full cost; the first 10% of the steps of a run are
dropped and a run is summarised by its median step. The arms run in interleaved rounds (the leading
arm alternates); the ratio is the MEDIAN over rounds of ``median step (ours) / median step (PyTorch)``,
with a bootstrap 95% interval over rounds.

Probes of Lightning's internals (callback dispatch, the scheduler update) and cProfile of our hooks are
in ``benchmarks/overhead_probes.py``.

Run from the repository root::

    python benchmarks/overhead.py            # 1, 100, 1000 groups; writes docs/benchmarks/overhead.{md,json}
    python benchmarks/overhead.py --quick    # seconds: 1 and 10 groups, one round; writes nothing unless --write
    python benchmarks/overhead.py --groups 1 300 --pairs 5
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

if __name__ == "__main__":  # `python benchmarks/overhead.py`: the repository first on sys.path, this folder off it
    _root = Path(__file__).resolve().parents[1]
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from benchmarks.harness import StepValues, cli, machine, quiet_trainer, text_table, write_results
from benchmarks.harness.stats import bootstrap_median
from benchmarks.pages.overhead import HEADER, markdown, rows, verdict
from lightning_lr import OneCycle

MAX_LR = 0.1
WIDTH = 16
ARMS = ("pytorch", "ours")
LABELS = {
    "pytorch": "PyTorch OneCycleLR + LearningRateMonitor",
    "ours": "lightning_lr OneCycle(log_loss=False)",
}


# --------------------------------------------------------------------------- model, data, trainer
def split(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` consecutive pieces whose sizes differ by at most one."""
    size, extra = divmod(n, parts)
    bounds = [k * size + min(k, extra) for k in range(parts + 1)]
    return [range(a, b) for a, b in itertools.pairwise(bounds)]


class GroupedMLP(pl.LightningModule):
    """A one-hidden-layer MLP with ``tensors`` parameter tensors, in ``groups`` param groups.

    The hidden layer is stored as one ``(1, WIDTH)`` tensor per hidden unit, concatenated in the forward
    pass, and the head is a ``Linear``: the model has as many tensors as the largest group count while
    its arithmetic stays small, so the per-group work of the LR machinery shows in the step time.
    """

    def __init__(self, arm: str, tensors: int, groups: int, total_steps: int | None = None) -> None:
        super().__init__()
        self.total_steps = total_steps  # OneCycleLR's length; None: the run's
        if tensors < 3 or groups > tensors:
            raise ValueError(f"tensors={tensors}, groups={groups}: need 3 <= tensors and groups <= tensors")
        self.arm, self.groups = arm, groups
        g = torch.Generator().manual_seed(0)
        units = [nn.Parameter(torch.randn(1, WIDTH, generator=g) / WIDTH**0.5) for _ in range(tensors - 2)]
        self.units = nn.ParameterList(units)
        self.unit_list = units  # the same tensors: iterating a ParameterList costs ~3 us per tensor
        self.head = nn.Linear(tensors - 2, 1)

    def on_fit_start(self) -> None:
        self.unit_list = list(self.units)  # after the move to the device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(x @ torch.cat(self.unit_list).T))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def param_groups(self) -> list[dict[str, Any]]:
        """Consecutive tensors per group; LRs rise group by group from ``MAX_LR / 2`` to ``MAX_LR`` (the head's)."""
        params = list(self.parameters())
        decay = 0.5 ** (1.0 / max(1, self.groups - 1))
        return [
            {"params": [params[i] for i in part], "lr": MAX_LR * decay ** (self.groups - 1 - g)}
            for g, part in enumerate(split(len(params), self.groups))
        ]

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.param_groups(), lr=MAX_LR, momentum=0.9, foreach=True)
        if self.arm != "pytorch":
            return optimizer
        peaks = [g["lr"] for g in optimizer.param_groups]
        total = self.total_steps or int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def make_loader(steps: int, batch_size: int) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps * batch_size, WIDTH, generator=g)
    y = x[:, :1] * 0.5 + 0.1 * torch.randn(steps * batch_size, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def arm_callbacks(arm: str) -> list[Callback]:
    """The LR callbacks of one arm."""
    if arm == "pytorch":
        return [LearningRateMonitor(logging_interval="step", log_momentum=True)]
    return [OneCycle(log_loss=False)]


# --------------------------------------------------------------------------- one run
class StepTimer(Callback):
    """Wall time at the start of each training batch (``time.perf_counter``)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        self.stamps.append(time.perf_counter())

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.stamps.append(time.perf_counter())  # closes the last step


def fit(arm: str, groups: int, tensors: int, args: argparse.Namespace, record: bool = False) -> dict[str, Any]:
    """One training run of ``args.steps`` optimizer steps: step intervals (s), what was set and logged."""
    timer, values = StepTimer(), StepValues(("lr", "momentum"), all_groups=True)
    callbacks: list[Callback] = [timer, *arm_callbacks(arm)] + ([values] if record else [])
    with tempfile.TemporaryDirectory(prefix="lr_overhead_") as tmp:
        trainer = quiet_trainer(
            1,
            callbacks,
            logger=CSVLogger(tmp, name="bench"),
            log_every_n_steps=args.log_every,
            default_root_dir=tmp,
            accelerator=args.accelerator,
        )
        model = GroupedMLP(arm, tensors, groups)
        gc.collect()
        trainer.fit(model, make_loader(args.steps, args.batch_size))
        assert trainer.global_step == args.steps, (trainer.global_step, args.steps)
        logged = logged_series(Path(trainer.logger.log_dir) / "metrics.csv") if record else {}  # type: ignore[union-attr]
    return {"intervals": [b - a for a, b in itertools.pairwise(timer.stamps)], "logged": logged, "set": values.steps}


def logged_series(path: Path) -> dict[str, int]:
    """Rows of ``metrics.csv`` holding each series (``step``/``epoch`` aside)."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    keys = sorted({k for r in rows for k in r} - {"step", "epoch"})
    return {k: sum(1 for r in rows if r.get(k)) for k in keys}


def check_equivalent(warm: dict[str, dict[str, Any]], groups: int, steps: int) -> dict[str, Any]:
    """Both arms set the same LR/momentum of every group at every step and log the same series."""
    ref, got = warm["pytorch"]["set"], warm["ours"]["set"]
    assert len(ref) == len(got) == steps and all(len(s) == groups for s in ref + got), (len(ref), len(got))
    worst = max(abs(a - b) / abs(a) for sr, sg in zip(ref, got) for pr, pg in zip(sr, sg) for a, b in zip(pr, pg))
    assert worst < 1e-12, f"OneCycle does not set the same LR/momentum as OneCycleLR (max relative diff {worst:.3g})"
    theirs, ours = warm["pytorch"]["logged"], warm["ours"]["logged"]
    assert set(theirs) == set(ours), ("the arms log different series", sorted(set(theirs) ^ set(ours))[:6])
    lr_series = [k for k in theirs if k.startswith("lr-")]
    assert len(lr_series) == 2 * groups, lr_series[:6]  # LR and momentum of every group
    for key in lr_series:  # LearningRateMonitor logs at steps 49, 99, ...; OneCycle at 0, 50, ...
        assert theirs[key] > 0 and abs(theirs[key] - ours[key]) <= 1, (key, theirs[key], ours[key])
    return {"max_rel_diff_lr_momentum": worst, "series_logged": len(theirs), "rows_per_series": theirs[lr_series[0]]}


# --------------------------------------------------------------------------- one group count
def measure(groups: int, tensors: int, args: argparse.Namespace) -> dict[str, Any]:
    """Warm-up and check, then ``args.pairs`` interleaved rounds; the summary of the per-round ratios."""
    warm = {arm: fit(arm, groups, tensors, args, record=True) for arm in ARMS}
    check = check_equivalent(warm, groups, args.steps)
    skip = max(2, args.steps // 10)
    medians: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for p in range(args.pairs):
        order = ARMS if p % 2 == 0 else ARMS[::-1]
        for arm in order:
            steps_ms = [x * 1e3 for x in fit(arm, groups, tensors, args)["intervals"][skip:]]
            medians[arm].append(statistics.median(steps_ms))
        ours, ref = medians["ours"][-1], medians["pytorch"][-1]
        what = f"pytorch {ref:.3f} ms, ours {ours:.3f} ms (x{ours / ref:.3f})"
        print(f"  {groups} groups, round {p + 1}/{args.pairs}: {what}")
    ratios = [o / t for o, t in zip(medians["ours"], medians["pytorch"])]
    return {
        "groups": groups,
        "median_ms_per_step": {arm: statistics.median(medians[arm]) for arm in ARMS},
        "ratio": statistics.median(ratios),
        "ratio_ci95": bootstrap_median(ratios),
        "round_ratios": ratios,
        "rounds_faster": sum(r < 1.0 for r in ratios),
        "diff_us_per_step": statistics.median((o - t) * 1e3 for o, t in zip(medians["ours"], medians["pytorch"])),
        "round_medians_ms": medians,
        "check": check,
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = cli.parser(__doc__, "seconds: 1 and 10 groups, 1 round of 30 steps, logging every 10")
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 100, 1000], help="param group counts")
    parser.add_argument("--pairs", type=int, default=9, help="interleaved rounds per group count (default 9)")
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per run (default 150)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--log-every", type=int, default=50, help="Trainer log_every_n_steps (default 50)")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks/overhead.*")
    parser.add_argument("--accelerator", default="cpu", help="Trainer accelerator (default cpu; gpu_check: cuda)")
    args = parser.parse_args(argv)
    if args.quick:
        args.groups, args.pairs, args.steps, args.log_every = [1, 10], 1, 30, 10
    if args.pairs < 1 or args.steps < 20 or min(args.groups) < 1:
        parser.error("need --pairs >= 1, --steps >= 20 and group counts >= 1")
    return args


def config(args: argparse.Namespace, argv: list[str] | None, tensors: int) -> dict[str, Any]:
    return {
        "command": " ".join(["python benchmarks/overhead.py", *(sys.argv[1:] if argv is None else argv)]),
        "groups": args.groups,
        "tensors": tensors,
        "rounds": args.pairs,
        "steps": args.steps,
        "skip": max(2, args.steps // 10),
        "batch_size": args.batch_size,
        "log_every": args.log_every,
        "threads": args.threads,
        "accelerator": args.accelerator,
        "quick": args.quick,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    load_start = cli.start(args)
    if load_start is not None and load_start > 0.5:
        print(f"note: 1-min load average {load_start} at the start: other processes share the CPUs, expect noise")
    tensors = max(3, *args.groups)
    by_groups = [measure(groups, tensors, args) for groups in args.groups]
    result: dict[str, Any] = {
        "config": config(args, argv, tensors),
        "arms": list(ARMS),
        "labels": LABELS,
        "machine": machine(load_start),
        "by_groups": by_groups,
        "target_met": all(r["ratio"] <= 1.0 for r in by_groups),
    }
    print(f"\n{text_table([HEADER, *rows(result)])}\n")
    print(verdict(result))
    if cli.writes(args) and not args.no_write:
        paths = write_results("overhead", result, markdown(result, WIDTH, MAX_LR), args.out_dir, indent=2)
        print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0 if all(math.isfinite(r["ratio"]) for r in by_groups) else 1


if __name__ == "__main__":
    raise SystemExit(main())
