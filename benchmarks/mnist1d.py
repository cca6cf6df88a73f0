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

import argparse
import dataclasses
import json
import logging
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# `python benchmarks/mnist1d.py` puts this directory first on sys.path, where this file would shadow the
# `mnist1d` package: import the package with the directory left out.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
from mnist1d.data import get_dataset_args, make_dataset  # noqa: E402

if str(REPO) not in sys.path:  # runnable as `python benchmarks/mnist1d.py` without installing
    sys.path.insert(0, str(REPO))

from benchmarks.harness.report import (  # noqa: E402
    loadavg,
    machine,
    machine_line,
    markdown_table,
    quiet_lightning,
    text_table,
    write_results,
)

from lightning_lr import (  # noqa: E402
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
from lightning_lr.schedules import Constant, fraction  # noqa: E402

PEAK_LR = 1e-2  # the paper's Adam LR; the peak / base LR of every schedule arm
BATCH_SIZE = 100  # the paper's
CHANNELS = 24
VAL_SIZE = 500
PROBE_EVERY = 10  # optimizer steps between validation-accuracy probes
THRESHOLDS = (0.90, 0.94)
GRID = (1e-3, 3e-3, 1e-2, 3e-2)  # constant-LR grid (1e-2 is the baseline)
BASELINE = "Constant"
FINDER_STEPS = 100  # LRFinder's default; --finder-steps (and --quick) change it
PAPER_CNN = 0.94  # Greydanus & Kobak, CNN test accuracy (Adam 1e-2, batch 100, 6,000+ steps)


@dataclasses.dataclass(frozen=True)
class Arm:
    factory: Callable[[], list[Callback]]
    description: str
    lr: float = PEAK_LR
    budget_independent: bool = False


def _constant() -> list[Callback]:
    return [LRScheduler(Constant(1.0))]


ARMS: dict[str, Arm] = {
    BASELINE: Arm(_constant, f"`LRScheduler(Constant(1.0))` at LR {PEAK_LR:g}: the baseline", budget_independent=True),
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
        lambda: [LRFinder(num_training_steps=FINDER_STEPS), OneCycle()],
        "`LRFinder()` (defaults: 1e-8..1, 100 steps, valley) then `OneCycle()`",
    ),
    "LRFinder + CosineAnnealing": Arm(
        lambda: [LRFinder(num_training_steps=FINDER_STEPS), CosineAnnealing()],
        "`LRFinder()` then `CosineAnnealing()` from the suggestion",
    ),
}
for _lr in GRID:
    if _lr != PEAK_LR:
        ARMS[f"Constant {_lr:g}"] = Arm(_constant, f"constant LR {_lr:g} (grid)", lr=_lr, budget_independent=True)
CONSTANTS = [BASELINE] + [f"Constant {lr:g}" for lr in GRID if lr != PEAK_LR]


# --------------------------------------------------------------------------- data and model
Split = tuple[torch.Tensor, torch.Tensor]


def load_data() -> dict[str, Split]:
    """The paper's default MNIST-1D (4,000 / 1,000), the last ``VAL_SIZE`` training sequences held out."""
    d = make_dataset(get_dataset_args())
    x, y = torch.tensor(d["x"], dtype=torch.float32), torch.tensor(d["y"], dtype=torch.long)
    xt, yt = torch.tensor(d["x_test"], dtype=torch.float32), torch.tensor(d["y_test"], dtype=torch.long)
    n = len(y) - VAL_SIZE
    return {"train": (x[:n], y[:n]), "val": (x[n:], y[n:]), "test": (xt, yt)}


class Batches(Dataset[Split]):
    """In-memory tensors; a whole batch is one indexing operation (``__getitems__``), no per-sample work."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> Split:
        return self.x[i], self.y[i]

    def __getitems__(self, indices: list[int]) -> Split:
        idx = torch.as_tensor(indices)
        return self.x[idx], self.y[idx]


def _whole(batch: Split) -> Split:
    return batch


def loader(split: Split, seed: int | None) -> DataLoader[Split]:
    """Shuffled batches of ``BATCH_SIZE`` drawn by a generator seeded with ``seed`` (``None``: one batch, in order)."""
    ds = Batches(*split)
    if seed is None:
        return DataLoader(ds, batch_size=len(ds), collate_fn=_whole)
    sampler = RandomSampler(ds, generator=torch.Generator().manual_seed(seed))
    return DataLoader(ds, batch_sampler=BatchSampler(sampler, BATCH_SIZE, drop_last=False), collate_fn=_whole)


def cnn() -> nn.Module:
    """1-D CNN: conv(5) then three stride-2 conv(3), each with batch norm and ReLU; linear head on 5 positions."""
    layers: list[nn.Module] = [nn.Unflatten(1, (1, 40))]
    c_in, c = 1, CHANNELS
    for kernel, stride in ((5, 1), (3, 2), (3, 2), (3, 2)):
        layers += [nn.Conv1d(c_in, c, kernel, stride, kernel // 2, bias=False), nn.BatchNorm1d(c), nn.ReLU()]
        c_in = c
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 5, 10))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.net = cnn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Split, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch: Split, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


@torch.no_grad()
def accuracy(model: nn.Module, split: Split) -> float:
    was_training = model.training
    model.eval()
    acc = float((model(split[0]).argmax(dim=1) == split[1]).float().mean())
    model.train(was_training)
    return acc


class Probe(Callback):
    """Validation accuracy every ``PROBE_EVERY`` steps (and at step 0 and each epoch's end), the LR of each step,
    and the test accuracy at the end of the epochs in ``test_epochs``."""

    def __init__(self, val: Split, test: Split, test_epochs: Sequence[int]) -> None:
        self.val, self.test, self.test_epochs = val, test, set(test_epochs)
        self.steps: list[int] = []
        self.val_acc: list[float] = []
        self.test_acc: dict[str, float] = {}  # epoch (1-based, as a string: JSON keys) -> accuracy
        self.lr: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.steps.append(0)
        self.val_acc.append(accuracy(pl_module, self.val))

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        self.lr.append(float(optimizer.param_groups[0]["lr"]))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step % PROBE_EVERY == 0 and trainer.global_step != self.steps[-1]:
            self.steps.append(trainer.global_step)
            self.val_acc.append(accuracy(pl_module, self.val))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step != self.steps[-1]:  # an epoch that does not end on a probe
            self.steps.append(trainer.global_step)
            self.val_acc.append(accuracy(pl_module, self.val))
        if trainer.current_epoch + 1 in self.test_epochs:
            self.test_acc[str(trainer.current_epoch + 1)] = accuracy(pl_module, self.test)


def fit(arm: str, seed: int, epochs: int, data: dict[str, Split], test_epochs: Sequence[int]) -> dict[str, Any]:
    """Train one arm with one seed for ``epochs``; its probes, test accuracies, LRs and wall time."""
    pl.seed_everything(seed, verbose=False)
    model = Classifier(ARMS[arm].lr)
    callbacks = ARMS[arm].factory()
    probe = Probe(data["val"], data["test"], test_epochs)
    plateau = any(isinstance(c, ReduceLROnPlateau) for c in callbacks)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        callbacks=[*callbacks, probe],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if plateau else 0,  # Lightning's validation feeds val_loss to the plateau arm only
    )
    start = time.perf_counter()
    trainer.fit(model, loader(data["train"], seed), loader(data["val"], None))
    out: dict[str, Any] = {
        "seed": seed,
        "epochs": epochs,
        "steps": trainer.global_step,
        "wall_s": time.perf_counter() - start,
        "probe_steps": probe.steps,
        "val_acc": probe.val_acc,
        "test_acc_at": probe.test_acc,
        "lr": probe.lr,
    }
    finder = next((c for c in callbacks if isinstance(c, LRFinder)), None)
    if finder is not None and finder.result is not None:
        out["finder_steps"] = len(finder.result.lrs)
        out["suggestion"] = finder.result.suggestion
        out["finder_reason"] = finder.result.reason
    return out


def first_reach(run: dict[str, Any], threshold: float, last_step: int) -> int | None:
    """The first probed step <= ``last_step`` with validation accuracy >= ``threshold`` (``None``: never)."""
    for step, acc in zip(run["probe_steps"], run["val_acc"]):
        if step > last_step:
            return None
        if acc >= threshold:
            return int(step)
    return None


# --------------------------------------------------------------------------- statistics
def interval95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval (0 with one value)."""
    from scipy import stats

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / math.sqrt(len(values))


def welch(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test; ``None`` with fewer than 2 values a side (no test possible)."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    if statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0:  # t undefined: equal or surely different
        return 1.0 if statistics.fmean(a) == statistics.fmean(b) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (family-wise error control over the given tests)."""
    order = sorted(pvalues, key=pvalues.__getitem__)
    adjusted, running = {}, 0.0
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * pvalues[key]))
        adjusted[key] = running
    return adjusted


def bootstrap_ratio(a: Sequence[float], b: Sequence[float], seed: int = 0, n: int = 10_000) -> tuple[float, float]:
    """95% percentile-bootstrap interval of mean(a) / mean(b), resampling seeds within each arm."""
    rng = np.random.default_rng(seed)
    ra = rng.choice(np.asarray(a, dtype=float), size=(n, len(a))).mean(axis=1)
    rb = rng.choice(np.asarray(b, dtype=float), size=(n, len(b))).mean(axis=1)
    lo, hi = np.percentile(ra / rb, [2.5, 97.5])
    return float(lo), float(hi)


# --------------------------------------------------------------------------- results
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


def summarize(cells: dict[str, dict[int, list[dict[str, Any]]]], budgets: list[int]) -> dict[str, Any]:
    """Per budget and arm: test-accuracy mean and 95% interval, steps to each threshold, Welch vs the baseline."""
    summary: dict[str, Any] = {}
    for b in budgets:
        base = [r["test_acc"] for r in cells[BASELINE][b]]
        rows: dict[str, Any] = {}
        for arm, by_budget in cells.items():
            recs = by_budget[b]
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
            if arm != BASELINE:
                row["p_welch"] = welch(acc, base)
            rows[arm] = row
        adjusted = holm({a: r["p_welch"] for a, r in rows.items() if r.get("p_welch") is not None})
        for arm, p in adjusted.items():
            rows[arm]["p_holm"] = p
            rows[arm]["significant"] = p < 0.05
        summary[str(b)] = rows
    return summary


def target(cells: dict[str, dict[int, list[dict[str, Any]]]], budgets: list[int], spe: int) -> dict[str, Any]:
    """Finder-fed 1cycle against the constant LR at its best grid value: steps until 94% validation accuracy."""
    key = "steps_to_94"
    out: dict[str, Any] = {"arm": "LRFinder + OneCycle", "threshold": 0.94}
    grid = {}
    for arm in CONSTANTS:
        if arm not in cells:
            continue
        recs = cells[arm][budgets[-1]]
        steps = [r[key] for r in recs]
        grid[arm] = {
            "lr": ARMS[arm].lr,
            "reached": sum(s is not None for s in steps),
            "steps": steps,
            "mean": statistics.fmean(s for s in steps if s is not None) if any(s is not None for s in steps) else None,
            "test_acc_mean": statistics.fmean(r["test_acc"] for r in recs),
        }
    out["grid"] = grid
    complete = {a: g for a, g in grid.items() if g["reached"] == len(g["steps"])}
    best = min(complete, key=lambda a: complete[a]["mean"]) if complete else None
    out["best_constant"] = best
    found = None
    if out["arm"] in cells:
        for b in budgets:
            recs = cells[out["arm"]][b]
            acc = statistics.fmean(r["test_acc"] for r in recs)
            if acc >= 0.94 and all(r[key] is not None for r in recs):
                found = b
                break
    out["budget"] = found
    if out["arm"] in cells:
        out["per_budget"] = {
            str(b): {
                "test_acc_mean": statistics.fmean(r["test_acc"] for r in cells[out["arm"]][b]),
                "reached": sum(r[key] is not None for r in cells[out["arm"]][b]),
                "n": len(cells[out["arm"]][b]),
                "suggestions": [r.get("suggestion") for r in cells[out["arm"]][b]],
            }
            for b in budgets
        }
    if found is None or best is None:
        out["met"] = False
        return out
    recs = cells[out["arm"]][found]
    ours = [r[key] for r in recs]
    with_finder = [r[key] + r["finder_steps"] for r in recs]
    theirs = grid[best]["steps"]
    out.update(
        steps=ours,
        steps_with_finder=with_finder,
        test_acc_mean=statistics.fmean(r["test_acc"] for r in recs),
        ratio=statistics.fmean(ours) / statistics.fmean(theirs),
        ratio_ci95=bootstrap_ratio(ours, theirs),
        ratio_with_finder=statistics.fmean(with_finder) / statistics.fmean(theirs),
        ratio_with_finder_ci95=bootstrap_ratio(with_finder, theirs),
        grid_cost_steps=len(grid) * budgets[-1] * spe,
    )
    out["met"] = out["ratio_with_finder"] < 1.0
    out["met_significant"] = out["ratio_with_finder_ci95"][1] < 1.0
    return out


# --------------------------------------------------------------------------- reporting
def _pct(x: float | None, half: float | None = None) -> str:
    if x is None:
        return "—"
    return f"{100 * x:.1f}" if half is None else f"{100 * x:.1f} ± {100 * half:.1f}"


def _steps(row: dict[str, Any], t: float, n: int) -> str:
    key = f"steps_to_{round(100 * t)}"
    if not row[key + "_reached"]:
        return "never"
    text = f"{row[key + '_mean']:.0f} ± {row[key + '_ci95']:.0f}"
    return text if row[key + "_reached"] == n else f"{text} ({row[key + '_reached']}/{n})"


def table_rows(summary: dict[str, Any], budget: int) -> list[tuple[str, ...]]:
    rows = summary[str(budget)]
    base = rows[BASELINE]["test_acc_mean"]
    out = []
    for arm, r in rows.items():
        delta = "—" if arm == BASELINE else f"{100 * (r['test_acc_mean'] - base):+.1f}"
        p = "—" if "p_holm" not in r else f"{r['p_holm']:.3f}{' *' if r['significant'] else ''}"
        out.append(
            (arm, _pct(r["test_acc_mean"], r["test_acc_ci95"]), delta, p, *(_steps(r, t, r["n"]) for t in THRESHOLDS))
        )
    return out


ANCHOR_ROW = ("*anchor: the paper's CNN (6,000+ steps)*", f"{round(100 * PAPER_CNN)}", "", "", "", "")
HEADER = ("schedule", "test acc % (mean ± 95% CI)", "Δ vs constant", "p (Welch, Holm)", "steps to 90%", "steps to 94%")


def plot(result: dict[str, Any], path: Path) -> None:
    """Validation accuracy vs optimizer step per schedule: mean over seeds, band from min to max, every budget."""
    from matplotlib.figure import Figure

    arms = [a for a in result["arms"] if a not in CONSTANTS[1:]]
    budgets, spe = result["config"]["budgets"], result["config"]["steps_per_epoch"]
    panels = [*arms, "constant grid"] if len(result["arms"]) > len(arms) else arms
    cols = 4
    fig = Figure(figsize=(14, 3.0 * math.ceil(len(panels) / cols)), layout="constrained")
    axes = fig.subplots(math.ceil(len(panels) / cols), cols, sharex=True, sharey=True, squeeze=False).ravel()
    shades = ["#9ecae1", "#4292c6", "#08306b", "#000000"]

    def curve(ax: Any, runs: list[dict[str, Any]], last: int, color: str, label: str) -> None:
        steps = np.asarray(runs[0]["probe_steps"])
        keep = steps <= last
        acc = np.asarray([r["val_acc"] for r in runs])[:, keep]
        ax.plot(steps[keep], acc.mean(axis=0), color=color, lw=1.3, label=label)
        ax.fill_between(steps[keep], acc.min(axis=0), acc.max(axis=0), color=color, alpha=0.2, lw=0)

    base = result["runs"][BASELINE][str(budgets[-1])]
    for ax, arm in zip(axes, panels):
        if arm == "constant grid":
            for k, name in enumerate(CONSTANTS):
                if name in result["runs"]:
                    runs = result["runs"][name][str(budgets[-1])]
                    curve(ax, runs, budgets[-1] * spe, f"C{k}", f"LR {ARMS[name].lr:g}")
        else:
            if arm != BASELINE:
                steps, mean = np.asarray(base[0]["probe_steps"]), np.mean([r["val_acc"] for r in base], axis=0)
                ax.plot(steps, mean, color="grey", ls="--", lw=1, label="constant")
            if ARMS[arm].budget_independent:
                curve(ax, result["runs"][arm][str(budgets[-1])], budgets[-1] * spe, shades[2], f"{budgets[-1]} ep")
            else:
                for k, b in enumerate(budgets):
                    curve(ax, result["runs"][arm][str(b)], b * spe, shades[k % len(shades)], f"{b} ep")
        for t in THRESHOLDS:
            ax.axhline(t, color="red", lw=0.6, ls=":")
        ax.set_title(arm, fontsize=10)
        ax.set_ylim(0.4, 1.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[len(panels) :]:
        ax.axis("off")
    for ax in axes[-cols:]:
        ax.set_xlabel("optimizer step")
    for ax in axes[::cols]:
        ax.set_ylabel("validation accuracy")
    fig.suptitle(
        f"MNIST-1D, 1-D CNN, Adam batch {BATCH_SIZE}: validation accuracy every {PROBE_EVERY} steps, mean over "
        f"{len(result['config']['seeds'])} seeds (band: min-max); dotted: 90% and 94%",
        fontsize=11,
    )
    fig.savefig(path, dpi=90)


def reading(result: dict[str, Any]) -> list[str]:
    """The findings in words, computed from the numbers (nothing here is hand-written per run)."""
    budgets, summary = result["config"]["budgets"], result["summary"]
    lines = []
    n_tests = sum(len(summary[str(b)]) - 1 for b in budgets)
    for b in budgets:
        rows = summary[str(b)]
        sig = [a for a, r in rows.items() if r.get("significant")]
        better = [a for a in sig if rows[a]["test_acc_mean"] > rows[BASELINE]["test_acc_mean"]]
        worse = [a for a in sig if a not in better]
        best = max(rows, key=lambda a: rows[a]["test_acc_mean"])
        lines.append(
            f"- **{b} epochs**: constant {_pct(rows[BASELINE]['test_acc_mean'])}%; best "
            f"{best} {_pct(rows[best]['test_acc_mean'])}%. Significantly better than the constant LR after Holm's "
            f"correction: {', '.join(better) or 'none'}; significantly worse: {', '.join(worse) or 'none'}; "
            f"the other {len(rows) - 1 - len(sig)} are within seed noise."
        )
    key = "steps_to_94"
    complete = [
        (row[key + "_mean"], arm, int(b))
        for b, rows in summary.items()
        for arm, row in rows.items()
        if row[key + "_reached"] == row["n"] and row[key + "_mean"] is not None
    ]
    if complete:
        fastest = ", ".join(f"{arm} at {b} epochs ({steps:.0f})" for steps, arm, b in sorted(complete)[:4])
        lines.append(
            f"- Fastest to 94% validation accuracy on every seed (mean steps): {fastest}."
            + ("" if any(a in CONSTANTS for _, a, _ in complete) else " No constant LR gets there on every seed.")
        )
    else:
        lines.append("- No arm reached 94% validation accuracy on every seed at any budget.")
    lines.append(
        f"- Significance: Welch's t-test of each arm's test accuracy against the constant baseline at the same "
        f"budget ({len(result['config']['seeds'])} seeds each), Holm-adjusted over the "
        f"{len(summary[str(budgets[0])]) - 1} arms of that budget (`*`: adjusted p < 0.05). Across the "
        f"{len(budgets)} budgets that is {n_tests} tests; "
        "a Bonferroni reading over all of them multiplies the unadjusted p-values by that count instead. One test "
        "sequence is 0.1 points of accuracy."
    )
    return lines


def target_lines(t: dict[str, Any], spe: int) -> list[str]:
    grid = t["grid"]
    lines = [
        *markdown_table(
            [
                ("constant LR", "seeds reaching 94% val", "mean steps to 94%", "test acc % at the longest budget"),
                *(
                    (
                        f"{g['lr']:g}{' (best)' if a == t['best_constant'] else ''}",
                        f"{g['reached']}/{len(g['steps'])}",
                        "—" if g["mean"] is None else f"{round(g['mean'])}",
                        _pct(g["test_acc_mean"]),
                    )
                    for a, g in grid.items()
                ),
            ]
        ),
        "",
    ]
    if t["budget"] is None:
        lines.append(
            "**Target not met**: at no budget did `LRFinder + OneCycle` reach 94% mean test accuracy with every seed "
            "reaching 94% validation accuracy."
        )
    if t.get("budget") is not None and not t.get("met"):
        share = 1 - statistics.fmean(t["steps"]) / statistics.fmean(t["steps_with_finder"])
        shorter = [(b, pb) for b, pb in t["per_budget"].items() if int(b) < t["budget"]]
        lines += [
            "",
            f"Why: the range test's own steps are {100 * share:.0f}% of its time to 94%; without them the ratio is "
            f"{t['ratio']:.2f} ({t['ratio_ci95'][0]:.2f}-{t['ratio_ci95'][1]:.2f}"
            f"{', level within seed noise' if t['ratio_ci95'][0] <= 1 <= t['ratio_ci95'][1] else ''}). "
            "A 1cycle run reaches its best accuracy only as its LR anneals, at the "
            "end of the budget it was planned for; "
            + "; ".join(
                f"the {b}-epoch run ends at {_pct(pb['test_acc_mean'])}% test with {pb['reached']}/{pb['n']} seeds "
                "at 94% validation"
                for b, pb in shorter
            )
            + ", so the shortest budget that gets there is the one above.",
        ]
    if t["budget"] is None and "per_budget" in t:
        suggestions = [x for pb in t["per_budget"].values() for x in pb["suggestions"] if x is not None]
        lines += [
            "",
            "Why: "
            + "; ".join(
                f"at {b} epochs {_pct(pb['test_acc_mean'])}% test, {pb['reached']}/{pb['n']} seeds at 94% validation"
                for b, pb in t["per_budget"].items()
            )
            + (
                f". The finder suggested {min(suggestions):.3g} to {max(suggestions):.3g} (the configured peak of the "
                f"other arms is {PEAK_LR:g})."
                if suggestions
                else "."
            ),
        ]
    elif t["best_constant"] is None:
        lines.append(
            "**Target not decidable**: no constant LR of the grid reached 94% validation accuracy on every seed."
        )
    else:
        verdict = "met" if t["met"] else "not met"
        low, high = t["ratio_with_finder_ci95"]
        if high < 1.0:
            sig = "the bootstrap interval lies below 1: significantly fewer steps"
        elif low > 1.0:
            sig = "the bootstrap interval lies above 1: significantly more steps"
        else:
            sig = "the bootstrap interval includes 1: not a significant difference"
        lines.append(
            f"**Target {verdict}**: `LRFinder + OneCycle` at {t['budget']} epochs ({t['budget'] * spe} steps) reaches "
            f"{_pct(t['test_acc_mean'])}% mean test accuracy; its validation accuracy first reaches 94% after "
            f"{statistics.fmean(t['steps']):.0f} steps on average ({statistics.fmean(t['steps_with_finder']):.0f} "
            f"counting the finder's test steps) against {statistics.fmean(grid[t['best_constant']]['steps']):.0f} for "
            f"the constant LR at its best grid value {grid[t['best_constant']]['lr']:g}: ratio "
            f"**{t['ratio_with_finder']:.2f}** with the finder's steps (95% bootstrap interval "
            f"{t['ratio_with_finder_ci95'][0]:.2f}-{t['ratio_with_finder_ci95'][1]:.2f}), {t['ratio']:.2f} without "
            f"({t['ratio_ci95'][0]:.2f}-{t['ratio_ci95'][1]:.2f}); {sig}. Finding that best constant LR took the "
            f"grid: {len(grid)} runs, {t['grid_cost_steps']} steps per seed."
        )
    return lines


def markdown(result: dict[str, Any]) -> list[str]:
    cfg, m, spe = result["config"], result["machine"], result["config"]["steps_per_epoch"]
    anchor = [
        "| model (paper: Greydanus & Kobak, Table 1) | test accuracy % |",
        "|---|---:|",
        "| logistic regression (paper) | 32 |",
        "| MLP (paper) | 68 |",
        "| GRU (paper) | 91 |",
        f"| **CNN (paper; Adam 1e-2, batch 100, 6,000+ steps): the anchor** | **{round(100 * PAPER_CNN)}** |",
    ]
    for b in cfg["budgets"]:
        rows = result["summary"][str(b)]
        best = max(rows, key=lambda a: rows[a]["test_acc_mean"])
        anchor.append(
            f"| this CNN, constant LR {PEAK_LR:g}, {b} epochs ({b * spe} steps) | "
            f"{_pct(rows[BASELINE]['test_acc_mean'])} |"
        )
        anchor.append(f"| this CNN, best schedule ({best}), {b} epochs | {_pct(rows[best]['test_acc_mean'])} |")
    lines = [
        f"# Does scheduling pay? MNIST-1D, every schedule, {len(cfg['budgets'])} budgets",
        "",
        f"Generated by `python benchmarks/mnist1d.py` on {m['date']} (total {result['total_wall_s'] / 60:.1f} min on "
        f"{cfg['threads']} CPU thread). Raw numbers: [mnist1d.json](mnist1d.json).",
        "",
        "MNIST-1D (Greydanus & Kobak, *Scaling down deep learning with MNIST-1D*, ICML 2024) is small enough for a "
        "CPU and hard enough to separate models that MNIST does not. Every arm trains the same 1-D CNN "
        f"({cfg['params']:,} parameters: a 5-tap convolution and three stride-2 3-tap convolutions, "
        f"{CHANNELS} channels, "
        f"batch norm, ReLU, a linear head) with the paper's optimizer and batch size — Adam, batch {BATCH_SIZE}, no "
        f"weight decay — in a real `lightning.pytorch.Trainer` (CPU, no logger, no checkpointing). Only the LR "
        f"callback differs. The configured LR is the paper's **{PEAK_LR:g}** in every schedule arm (the peak or base "
        "LR of every schedule; picked before any run, no arm tuned); a grid of constant LRs "
        f"({', '.join(f'{lr:g}' for lr in GRID)}) gives the constant baseline its best value, and the finder-fed "
        "arms take their peak from `LRFinder`'s suggestion.",
        "",
        f"Data: `make_dataset(get_dataset_args())` of the `mnist1d` package (the paper's defaults, generated offline): "
        f"4,000 training and 1,000 test sequences. The last {VAL_SIZE} training sequences are held out for "
        f"validation: {cfg['n_train']} train, {spe} steps per epoch. Seeds {cfg['seeds']} set the initialization "
        f"and the shuffling. Budgets: {', '.join(str(b) for b in cfg['budgets'])} epochs.",
        "",
        "## Anchor: the paper's table",
        "",
        *anchor,
        "",
        "The paper's CNN is smaller (three convolutions, 25 channels, no batch norm) and trains for 6,000+ steps; "
        f"this one, with batch norm, is trained for at most {cfg['budgets'][-1] * spe} steps, which is what makes "
        "a CPU benchmark with many arms and seeds possible. The anchor says what accuracy is good on this data, "
        "not that the two setups are the same.",
        "",
    ]
    for b in cfg["budgets"]:
        lines += [
            f"## {b} epochs ({b * spe} optimizer steps)",
            "",
            *markdown_table([HEADER, ANCHOR_ROW, *table_rows(result["summary"], b)]),
            "",
        ]
    lines += [
        "- test acc: mean over seeds and the half-width of its 95% t-interval.",
        "- Δ vs constant: difference of the means in points; p: Welch's t-test against the constant baseline, "
        "Holm-adjusted over the arms of the budget; `*`: significant at 0.05 after the adjustment.",
        f"- steps to 90% / 94%: optimizer steps until the validation accuracy (probed every {PROBE_EVERY} steps) first "
        "reaches it, mean ± 95% interval over the seeds that reach it, `(k/n)` when only k of n do; the finder's "
        "test steps are not included (see the target).",
        "- Budget-independent arms (constant LRs, `ReduceLROnPlateau`) run once at the longest budget and are read at "
        "the end of the shorter ones: nothing in them depends on the run's length.",
        "",
        "## Reading it",
        "",
        *reading(result),
        "",
        "## Target: finder-fed 1cycle against the best constant LR",
        "",
        "Steps until the validation accuracy first reaches 94% (the paper's CNN accuracy). For `LRFinder + OneCycle`: "
        "the shortest budget whose mean test accuracy is at least 94% and whose every seed reaches 94% validation "
        "accuracy. For the constant LRs: the longest run, every grid value.",
        "",
        *target_lines(result["target"], spe),
        "",
        "## Curves",
        "",
        "![validation accuracy against steps](mnist1d_curves.png)",
        "",
        "## Arms",
        "",
        *markdown_table(
            [("schedule", "configuration"), *((a, ARMS[a].description) for a in result["arms"])], align="ll"
        ),
        "",
        *(
            []
            if "WarmupStableDecay" in result["arms"]
            else [
                "`WarmupStableDecay` was not an arm of this run (`--arms`).",
                "",
            ]
        ),
        f"Finder suggestions per seed (LRFinder + OneCycle, {cfg['budgets'][-1]} epochs): "
        + ", ".join(
            f"{s:.3g}" if s is not None else "none"
            for s in result["summary"][str(cfg["budgets"][-1])].get("LRFinder + OneCycle", {}).get("suggestions", [])
        )
        + ".",
        "",
        f"{machine_line(m)} With 2 CPUs, a load above ~1 means other processes shared them: the wall time is then "
        "an upper bound. "
        f"{result['n_fits']} `trainer.fit` calls, {result['fit_wall_s'] / 60:.1f} min inside them; "
        f"{result['total_wall_s'] / 60:.1f} min wall and {result.get('total_cpu_s', float('nan')) / 60:.1f} min of "
        "CPU time (this process) in all.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default 5)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[3, 6, 12], help="epochs (default 3 6 12)")
    parser.add_argument("--finder-steps", type=int, default=100, help="LRFinder num_training_steps (default 100)")
    parser.add_argument("--quick", action="store_true", help="1 seed, budgets 1 2, 20 finder steps; writes nothing")
    parser.add_argument("--write", action="store_true", help="write the docs files even with --quick")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="subset of arms")
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs" / "benchmarks")
    parser.add_argument("--report-only", action="store_true", help="redraw mnist1d.md and the figure from mnist1d.json")
    args = parser.parse_args(argv)
    if args.report_only:  # summary and target recomputed from the per-seed cells, so reporting changes apply
        result = json.loads((args.out_dir / "mnist1d.json").read_text())
        budgets, spe = result["config"]["budgets"], result["config"]["steps_per_epoch"]
        cells = {a: {int(b): c for b, c in by.items()} for a, by in result["cells"].items()}
        result["summary"], result["target"] = summarize(cells, budgets), target(cells, budgets, spe)
        write_files(args.out_dir, result)
        return 0
    if args.quick:
        args.seeds, args.budgets, args.finder_steps = 1, [1, 2], 20
    budgets = sorted(set(args.budgets))
    global FINDER_STEPS
    FINDER_STEPS = args.finder_steps
    if args.seeds < 1 or budgets[0] < 1:
        parser.error("need --seeds >= 1 and every budget >= 1")
    arms = [a for a in ARMS if a in args.arms]
    if BASELINE not in arms:
        arms.insert(0, BASELINE)  # everything is compared with it
    write = args.write or not args.quick

    torch.set_num_threads(args.threads)
    quiet_lightning()
    logging.getLogger("lightning_lr").setLevel(logging.ERROR)

    load_start = loadavg()
    start, cpu_start = time.perf_counter(), time.process_time()
    data = load_data()
    spe = math.ceil(len(data["train"][1]) / BATCH_SIZE)
    seeds = list(range(args.seeds))
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    cells: dict[str, dict[int, list[dict[str, Any]]]] = {}
    fit_wall, n_fits = 0.0, 0
    for arm in arms:
        own = [budgets[-1]] if ARMS[arm].budget_independent else budgets
        runs[arm] = {str(b): [] for b in own}
        for b in own:
            for seed in seeds:
                r = fit(arm, seed, b, data, budgets if ARMS[arm].budget_independent else [b])
                if r["steps"] != b * spe:
                    raise AssertionError(f"{arm}: {r['steps']} steps, expected {b * spe}")
                runs[arm][str(b)].append(r)
                fit_wall, n_fits = fit_wall + r["wall_s"], n_fits + 1
                extra = f"  finder {r['suggestion']:.3g}" if r.get("suggestion") else ""
                print(
                    f"{arm:<28} {b:>3} ep seed {seed}  test {100 * r['test_acc_at'][str(b)]:5.1f}%  "
                    f"val {100 * r['val_acc'][-1]:5.1f}%  {r['wall_s']:5.1f} s{extra}",
                    flush=True,
                )
        cells[arm] = {b: per_budget(runs[arm][str(b if str(b) in runs[arm] else budgets[-1])], b, spe) for b in budgets}
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start

    from importlib.metadata import version

    summary = summarize(cells, budgets)
    result: dict[str, Any] = {
        "config": {
            "peak_lr": PEAK_LR,
            "optimizer": "Adam",
            "batch_size": BATCH_SIZE,
            "channels": CHANNELS,
            "params": sum(p.numel() for p in cnn().parameters()),
            "budgets": budgets,
            "steps_per_epoch": spe,
            "seeds": seeds,
            "probe_every": PROBE_EVERY,
            "finder_steps": args.finder_steps,
            "grid": list(GRID),
            "quick": args.quick,
            "threads": args.threads,
            "n_train": len(data["train"][1]),
            "n_val": len(data["val"][1]),
            "n_test": len(data["test"][1]),
        },
        "arms": arms,
        "configuration": {a: ARMS[a].description for a in arms},
        "machine": machine(load_start, mnist1d=version("mnist1d")),
        "total_wall_s": total,
        "total_cpu_s": cpu,
        "fit_wall_s": fit_wall,
        "n_fits": n_fits,
        "summary": summary,
        "target": target(cells, budgets, spe),
        "cells": {a: {str(b): c for b, c in by.items()} for a, by in cells.items()},
        "runs": runs,
    }

    for b in budgets:
        print(f"\n{b} epochs ({b * spe} steps)")
        print(text_table([HEADER, *table_rows(summary, b)]))
    print()
    print("\n".join(reading(result)))
    print()
    print("\n".join(target_lines(result["target"], spe)))
    print(
        f"\ntotal {total / 60:.1f} min wall, {cpu / 60:.1f} min CPU ({n_fits} fits, {fit_wall / 60:.1f} min in fit); "
        f"1-min load average {result['machine']['loadavg_1min_start']} -> {result['machine']['loadavg_1min_end']}"
    )
    if write:
        write_files(args.out_dir, result)
    return 0


def write_files(out_dir: Path, result: dict[str, Any]) -> None:
    """mnist1d.json first (``--report-only`` redraws the rest from it), then the page and the figure."""
    for groups in result["runs"].values():  # the per-step LRs are for checks while running, not for the record
        for group in groups.values():
            for r in group:
                r.pop("lr", None)
                r["val_acc"] = [round(a, 4) for a in r["val_acc"]]  # accuracies on 500 sequences: 0.002 apart
    write_results("mnist1d", result, lambda: markdown(result), out_dir)
    plot(result, out_dir / "mnist1d_curves.png")
    print(f"wrote {out_dir / 'mnist1d.md'}, mnist1d.json and mnist1d_curves.png")


if __name__ == "__main__":
    raise SystemExit(main())
