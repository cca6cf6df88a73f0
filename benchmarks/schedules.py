"""Schedules compared on real data: the same MLP, data, optimizer and budget; only the LR schedule changes.

Every arm trains an MLP (64-128-10, ReLU) with SGD (momentum 0.9, no weight decay) on
scikit-learn's handwritten digits (``load_digits``: 1797 8x8 images, 10 classes) for the same number
of epochs with batch size 32, inside a real ``lightning.pytorch.Trainer`` (CPU, no logger, no
checkpointing). The schedule is set by one of our callbacks; the configured LR of the optimizer is
``PEAK_LR`` in every arm and is the peak (or base) LR of every schedule. It was picked once, before
any run, as a usual value for SGD with momentum 0.9 on standardized inputs; no arm was tuned.

Data: one fixed stratified split (``random_state=0``): 60% train, 20% validation, 20% test;
features standardized with the training split's mean and std. The validation split is evaluated
after every epoch in every arm (``val_loss``, which ``ReduceLROnPlateau`` monitors); the test split
is touched only once, after training. A seed sets the weight initialization and the shuffling;
the split is the same for every seed.

Reported per schedule (mean over seeds): test accuracy (± sample std over seeds), the training
loss (cross-entropy over the whole training split after the last step, and the mean over the last
epoch's batches), and the ``trainer.fit`` wall time. The LR the optimizer used at each step of the
first seed is recorded (in ``on_before_optimizer_step``) and, for every schedule with a planned curve,
checked against ``lightning_lr.preview.preview`` of the same callback.

Run from the repository root::

    python benchmarks/schedules.py            # full run: prints the table, writes docs/benchmarks/schedules.{md,json}
                                              # and docs/images/benchmark_schedules.png
    python benchmarks/schedules.py --quick    # smoke test (seconds); writes nothing unless --write
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import sklearn
import torch
from lightning.pytorch.callbacks import Callback
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as `python benchmarks/schedules.py` without installing
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
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    ScheduleCallback,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.preview import preview  # noqa: E402
from lightning_lr.schedules import Constant, fraction  # noqa: E402

PEAK_LR = 0.05  # configured LR of SGD in every arm: the peak / base LR of every schedule
MOMENTUM = 0.9
BATCH_SIZE = 32
HIDDEN = 128
SPLIT_SEED = 0

# name -> (callback factory, how it is configured, in words). Durations are fractions of the run or
# epochs, so the arms keep their shape under --epochs.
ARMS: dict[str, tuple[Callable[[], ScheduleCallback], str]] = {
    "Constant": (lambda: LRScheduler(Constant(1.0)), "`LRScheduler(Constant(1.0))`"),
    "StepDecay": (
        lambda: StepDecay(step_size=fraction(1 / 3), gamma=0.1),
        "`StepDecay(step_size=fraction(1/3), gamma=0.1)`: x0.1 after 1/3 and 2/3 of the run",
    ),
    "MultiStepDecay": (
        lambda: MultiStepDecay(milestones=["50%", "75%"], gamma=0.1),
        "`MultiStepDecay(milestones=['50%', '75%'], gamma=0.1)`",
    ),
    "ExponentialDecay": (
        lambda: ExponentialDecay(gamma=0.01, decay_steps=fraction(1.0)),
        "`ExponentialDecay(gamma=0.01, decay_steps=fraction(1.0))`: smooth decay to 1% of the peak at the end",
    ),
    "CosineAnnealing": (lambda: CosineAnnealing(), "`CosineAnnealing()`: peak to 0 over the run"),
    "CosineRestarts": (
        lambda: CosineRestarts(T_0=fraction(1 / 7), T_mult=2),
        "`CosineRestarts(T_0=fraction(1/7), T_mult=2)`: cycles of 1/7, 2/7, 4/7 of the run",
    ),
    "WarmupLinear": (lambda: WarmupLinear(num_warmup_steps=0.1), "`WarmupLinear(num_warmup_steps=0.1)`"),
    "WarmupCosine": (lambda: WarmupCosine(num_warmup_steps=0.1), "`WarmupCosine(num_warmup_steps=0.1)`"),
    "Cyclical (triangular2)": (
        lambda: Cyclical(base_lr=PEAK_LR / 10, max_lr=PEAK_LR, step_size_up=fraction(1 / 8), mode="triangular2"),
        "`Cyclical(base_lr=peak/10, max_lr=peak, step_size_up=fraction(1/8), mode='triangular2')`: "
        "4 cycles; cycles momentum 0.8-0.9 (the PyTorch default)",
    ),
    "OneCycle": (
        lambda: OneCycle(),
        "`OneCycle()`: max LR = the configured peak, defaults (pct_start 0.3, div 25, final div 1e4); "
        "cycles momentum 0.85-0.95 (the PyTorch default)",
    ),
    "ReduceLROnPlateau": (
        lambda: ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
        "`ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=1)`: checked after each epoch's validation",
    ),
}


# --------------------------------------------------------------------------- data and model
def load_data() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Fixed stratified 60/20/20 split of the digits, standardized with the training split's statistics."""
    x, y = load_digits(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=SPLIT_SEED)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=SPLIT_SEED
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0  # some border pixels are always 0

    def prep(a: np.ndarray, b: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tensor((a - mean) / std, dtype=torch.float32), torch.tensor(b, dtype=torch.long)

    return {"train": prep(x_train, y_train), "val": prep(x_val, y_val), "test": prep(x_test, y_test)}


class MLP(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
        self.epoch_losses: list[list[float]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_epoch_start(self) -> None:
        self.epoch_losses.append([])

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.epoch_losses[-1].append(float(loss.detach()))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y), prog_bar=False)
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=False)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=PEAK_LR, momentum=MOMENTUM)


class LRRecorder(Callback):
    """The LR and momentum the optimizer is about to use at each step, and the validation metrics per epoch."""

    def __init__(self) -> None:
        self.lr: list[float] = []
        self.momentum: list[float] = []
        self.val_loss: list[float] = []
        self.val_acc: list[float] = []

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        group = optimizer.param_groups[0]
        self.lr.append(float(group["lr"]))
        self.momentum.append(float(group["momentum"]))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.val_loss.append(float(trainer.callback_metrics["val_loss"]))
            self.val_acc.append(float(trainer.callback_metrics["val_acc"]))


@torch.no_grad()
def evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Cross-entropy and accuracy over the whole split."""
    model.eval()
    logits = model(x)
    return float(nn.functional.cross_entropy(logits, y)), float((logits.argmax(dim=1) == y).float().mean())


def fit(arm: str, seed: int, epochs: int, data: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, Any]:
    """Train one arm with one seed; returns its metrics and what the optimizer saw at each step."""
    pl.seed_everything(seed, workers=True, verbose=False)
    model = MLP()
    shuffle = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(*data["train"]), batch_size=BATCH_SIZE, shuffle=True, generator=shuffle)
    val = DataLoader(TensorDataset(*data["val"]), batch_size=len(data["val"][1]))
    schedule = ARMS[arm][0]()
    recorder = LRRecorder()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        callbacks=[schedule, recorder],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    start = time.perf_counter()
    trainer.fit(model, train, val)
    wall = time.perf_counter() - start
    train_loss, train_acc = evaluate(model, *data["train"])
    test_loss, test_acc = evaluate(model, *data["test"])
    out: dict[str, Any] = {
        "seed": seed,
        "test_acc": test_acc,
        "test_loss": test_loss,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "last_epoch_train_loss": statistics.fmean(model.epoch_losses[-1]),
        "val_loss": recorder.val_loss,
        "val_acc": recorder.val_acc,
        "wall_s": wall,
        "steps": trainer.global_step,
        "steps_per_epoch": math.ceil(len(data["train"][1]) / BATCH_SIZE),
        "lr": recorder.lr,
        "momentum": recorder.momentum,
    }
    if isinstance(schedule, ReduceLROnPlateau):
        out["plateau_reductions"] = sum(
            round(math.log(s) / math.log(schedule.factor)) for s in schedule.plateau.scales[0]
        )
        # (step, new LR) of each change the optimizer saw; a reduction after the last epoch is never used
        out["lr_changes"] = [(k, v) for k, v in enumerate(recorder.lr) if k and v != recorder.lr[k - 1]]
    return out


def check_against_preview(arm: str, run: dict[str, Any]) -> float | None:
    """Largest relative difference between the LR used in training and the callback's planned LR (None: no plan)."""
    if arm == "ReduceLROnPlateau":  # its curve depends on the metric: nothing to plan
        return None
    planned = preview(
        ARMS[arm][0](), total=run["steps"], base_lrs=[PEAK_LR], steps_per_epoch=run["steps_per_epoch"], points=10**9
    ).series["lr-SGD"]
    if len(planned) != len(run["lr"]):
        raise AssertionError(f"{arm}: preview has {len(planned)} steps, the run took {len(run['lr'])}")
    return max(abs(p - r) / max(abs(p), 1e-12) for p, r in zip(planned, run["lr"]))


# --------------------------------------------------------------------------- reporting
def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def mean_std(key: str) -> tuple[float, float]:
        values = [r[key] for r in runs]
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    acc, acc_std = mean_std("test_acc")
    loss, loss_std = mean_std("train_loss")
    return {
        "test_acc_mean": acc,
        "test_acc_std": acc_std,
        "test_acc_min": min(r["test_acc"] for r in runs),
        "test_acc_max": max(r["test_acc"] for r in runs),
        "train_loss_mean": loss,
        "train_loss_std": loss_std,
        "last_epoch_train_loss_mean": mean_std("last_epoch_train_loss")[0],
        "test_loss_mean": mean_std("test_loss")[0],
        "final_val_loss_mean": statistics.fmean(r["val_loss"][-1] for r in runs),
        "wall_s_mean": mean_std("wall_s")[0],
    }


def rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for arm in result["arms"]:
        s = result["summary"][arm]
        out.append(
            (
                arm,
                f"{100 * s['test_acc_mean']:.2f} ± {100 * s['test_acc_std']:.2f}",
                f"{s['train_loss_mean']:.4f}",
                f"{s['last_epoch_train_loss_mean']:.4f}",
                f"{s['wall_s_mean']:.2f}",
            )
        )
    return out


HEADER = ("schedule", "test acc % (mean ± std)", "train loss", "last-epoch loss", "fit wall s")


def plot(result: dict[str, Any], path: Path) -> None:
    """LR actually used at every step of the first seed (one panel per schedule), and test accuracy per schedule."""
    import matplotlib
    from matplotlib.figure import Figure

    arms, cfg = result["arms"], result["config"]
    spe = cfg["steps_per_epoch"]
    fig = Figure(figsize=(13, 10), layout="constrained")  # no pyplot: the caller's backend is left alone
    grid = fig.add_gridspec(4, 4, height_ratios=[1, 1, 1, 1.5])
    palette = [*matplotlib.colormaps["tab10"].colors, "black", "olive", "navy"]
    colors = [palette[i % len(palette)] for i in range(len(arms))]
    first = None
    for i, arm in enumerate(arms):
        ax = fig.add_subplot(grid[i // 4, i % 4], sharey=first)
        first = first or ax
        lr = result["lr_curves"][arm]
        ax.plot([k / spe for k in range(len(lr))], lr, color=colors[i], lw=1.5)
        ax.set_title(arm, fontsize=10)
        ax.set_xlim(0, cfg["epochs"])
        ax.grid(alpha=0.3)
        ax.set_xlabel("epoch", fontsize=9)
        if i % 4 == 0:
            ax.set_ylabel("LR")
    note = fig.add_subplot(grid[2, 3])
    note.axis("off")
    note.text(
        0.0,
        0.5,
        f"LR used at each optimizer step\n(seed {cfg['seeds'][0]}; ReduceLROnPlateau's\ncurve depends on the seed)\n\n"
        f"SGD momentum {MOMENTUM}, peak LR {PEAK_LR}\n{cfg['epochs']} epochs x {spe} steps, batch {BATCH_SIZE}",
        fontsize=9,
        va="center",
    )
    ax = fig.add_subplot(grid[3, :])
    s = result["summary"]
    means = [100 * s[a]["test_acc_mean"] for a in arms]
    stds = [100 * s[a]["test_acc_std"] for a in arms]
    ax.bar(range(len(arms)), means, yerr=stds, capsize=4, color=colors)
    for i, arm in enumerate(arms):
        accs = [100 * r["test_acc"] for r in result["runs"][arm]]
        ax.scatter([i] * len(accs), accs, color="black", s=10, zorder=3)
    low = min(100 * s[a]["test_acc_min"] for a in arms)
    ax.set_ylim(max(0.0, math.floor(low) - 1), 100)
    ax.set_xticks(range(len(arms)), arms, rotation=20, ha="right")
    ax.set_ylabel("test accuracy %")
    ax.set_title(
        f"Test accuracy on digits (n={cfg['n_test']}): mean ± std over {len(cfg['seeds'])} seed(s), dots = seeds "
        "(y axis does not start at 0)",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Same MLP, data, optimizer and budget; only the LR schedule changes", fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


MD_HEADER = ("schedule", "test accuracy % (mean ± std)", "train loss", "last-epoch train loss", "`fit` wall s")


def markdown(result: dict[str, Any]) -> list[str]:
    m, cfg, s = result["machine"], result["config"], result["summary"]
    arms = result["arms"]
    best = max(arms, key=lambda a: s[a]["test_acc_mean"])
    worst = min(arms, key=lambda a: s[a]["test_acc_mean"])
    fit_best = min(arms, key=lambda a: s[a]["train_loss_mean"])
    fit_worst = max(arms, key=lambda a: s[a]["train_loss_mean"])
    spread = 100 * (s[best]["test_acc_mean"] - s[worst]["test_acc_mean"])
    median_std = statistics.median(100 * s[a]["test_acc_std"] for a in arms)
    resolution = 100 / cfg["n_test"]
    checks = {a: v for a, v in result["preview_check"].items() if v is not None}
    spe = cfg["steps_per_epoch"]
    plateau = [
        f"seed {r['seed']}: {r['plateau_reductions']} reduction(s), "
        + (
            ", ".join(
                f"LR {v:.3g} from step {k} (start of epoch {k // spe + 1} of {cfg['epochs']})"
                for k, v in r["lr_changes"]
            )
            if r["lr_changes"]
            else "none before the end of training"
        )
        for r in result["runs"].get("ReduceLROnPlateau", [])
    ]
    reading = [
        f"- Mean test accuracy ranges from {100 * s[worst]['test_acc_mean']:.2f}% ({worst}) to "
        f"{100 * s[best]['test_acc_mean']:.2f}% ({best}): a spread of {spread:.2f} points, about "
        f"{spread / resolution:.1f} test images, against a median std over seeds of {median_std:.2f} points. "
        + (
            f"Differences this small are within seed noise at {len(cfg['seeds'])} seeds and {cfg['n_test']} test "
            "images: the table does not rank the schedules; it shows them all working end to end under one budget."
            if spread <= 2 * median_std + resolution
            else "One seed gives no estimate of the seed noise: this is no ranking."
            if len(cfg["seeds"]) < 2
            else f"The spread exceeds the seed noise, but with {len(cfg['seeds'])} seeds only the extremes are "
            "clearly apart; the schedules were not tuned, so this is no general ranking."
        ),
        f"- Training loss after the last step: lowest {fit_best} ({s[fit_best]['train_loss_mean']:.4f}), highest "
        f"{fit_worst} ({s[fit_worst]['train_loss_mean']:.4f}).",
    ]
    if plateau:
        reading.append(
            f"- ReduceLROnPlateau ({len(result['runs']['ReduceLROnPlateau'][0]['val_loss'])} checks, one per epoch): "
            + "; ".join(plateau)
            + ". A reduction decided at the last check comes after the last step and changes nothing."
        )
    if checks:
        reading.append(
            "- The LR the optimizer used at every step (first seed) matches `lightning_lr.preview.preview` of the "
            f"same callback for every schedule with a planned curve (largest relative difference "
            f"{max(checks.values()):.1e})."
        )
    lines = [
        "# Schedules on real data: digits, same model, same budget",
        "",
        f"Generated by `python benchmarks/schedules.py` on {m['date']} (total {result['total_wall_s']:.0f} s). "
        f"Every arm trains the same MLP (64-{HIDDEN}-10, ReLU) with SGD (momentum {MOMENTUM}, no weight decay, "
        f"batch {BATCH_SIZE}) on scikit-learn's `load_digits` for {cfg['epochs']} epochs "
        f"({cfg['steps']} optimizer steps) in a real `lightning.pytorch.Trainer` (CPU, no logger, no checkpointing); "
        f"only the LR callback differs. The optimizer's configured LR is **{PEAK_LR}** in every arm, the peak "
        "(or base) LR of every schedule; it was picked once before any run and no arm was tuned.",
        "",
        f"Data: one fixed stratified split (random_state={SPLIT_SEED}): {cfg['n_train']} train / {cfg['n_val']} "
        f"validation / {cfg['n_test']} test images, standardized with the training split's statistics. "
        "Validation runs after every epoch in every arm (`ReduceLROnPlateau` monitors `val_loss`); the test split is "
        f"used once, after training. Seeds {cfg['seeds']} set the initialization and the shuffling.",
        "",
        *markdown_table([MD_HEADER, *rows(result)]),
        "",
        "- test accuracy: fraction of the test images classified right, mean and sample std over seeds "
        f"(one test image = {resolution:.2f} points).",
        "- train loss: cross-entropy over the whole training split after the last step (mean over seeds); "
        "last-epoch train loss: mean over the batches of the last epoch, as the model was being trained.",
        "- `fit` wall s: mean `trainer.fit` time per run (training and the per-epoch validation).",
        "",
        "## Reading it",
        "",
        *reading,
        "",
        "## Arms",
        "",
        *markdown_table([("schedule", "configuration"), *((a, ARMS[a][1]) for a in result["arms"])], align="ll"),
        "",
        "The momentum of SGD is 0.9 throughout except where a callback cycles it by default (Cyclical, OneCycle), as "
        "their PyTorch counterparts do. Durations are fractions of the run so every arm keeps its shape "
        "under `--epochs`.",
        "",
        "![LR curves and test accuracy](../images/benchmark_schedules.png)",
        "",
        f"{machine_line(m)} Above ~0.3 other processes shared the CPUs and the wall times are noisy. "
        "Raw numbers: [schedules.json](schedules.json).",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default 3)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per run (default 10)")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 seed: smoke test; writes nothing")
    parser.add_argument("--write", action="store_true", help="write the docs files even with --quick")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="subset of schedules")
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = 1, 2
    if args.seeds < 1 or args.epochs < 1:
        parser.error("need --seeds >= 1 and --epochs >= 1")
    write = args.write or not args.quick

    torch.set_num_threads(args.threads)
    quiet_lightning()

    load_start = loadavg()
    data = load_data()
    seeds = list(range(args.seeds))
    steps_per_epoch = math.ceil(len(data["train"][1]) / BATCH_SIZE)
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in args.arms}
    start = time.perf_counter()
    for seed in seeds:
        for arm in args.arms:
            r = fit(arm, seed, args.epochs, data)
            if r["steps"] != args.epochs * steps_per_epoch:
                raise AssertionError(f"{arm}: {r['steps']} steps, expected {args.epochs * steps_per_epoch}")
            runs[arm].append(r)
            extra = ""
            if "plateau_reductions" in r:
                extra = f", {r['plateau_reductions']} reduction(s), LR changes (step, LR) {r['lr_changes']}"
            print(
                f"seed {seed} {arm:<24} test acc {100 * r['test_acc']:6.2f}%  train loss {r['train_loss']:.4f}  "
                f"final LR {r['lr'][-1]:.3g}  {r['wall_s']:.2f} s{extra}",
                flush=True,
            )
    total = time.perf_counter() - start

    preview_check = {arm: check_against_preview(arm, runs[arm][0]) for arm in args.arms}
    lr_curves = {arm: runs[arm][0]["lr"] for arm in args.arms}
    for arm in args.arms:  # per-step curves are kept for the first seed only (the plot uses them)
        for r in runs[arm][1:]:
            del r["lr"], r["momentum"]
    result: dict[str, Any] = {
        "config": {
            "peak_lr": PEAK_LR,
            "optimizer": f"SGD(momentum={MOMENTUM})",
            "model": f"MLP 64-{HIDDEN}-10 ReLU",
            "batch_size": BATCH_SIZE,
            "epochs": args.epochs,
            "steps_per_epoch": steps_per_epoch,
            "steps": args.epochs * steps_per_epoch,
            "seeds": seeds,
            "quick": args.quick,
            "threads": args.threads,
            "split_seed": SPLIT_SEED,
            "n_train": len(data["train"][1]),
            "n_val": len(data["val"][1]),
            "n_test": len(data["test"][1]),
        },
        "arms": list(args.arms),
        "configuration": {arm: ARMS[arm][1] for arm in args.arms},
        "machine": machine(load_start, sklearn=sklearn.__version__),
        "total_wall_s": total,
        "summary": {arm: summarize(runs[arm]) for arm in args.arms},
        "preview_check": preview_check,
        "lr_curves": lr_curves,
        "runs": runs,
    }

    print()
    print(text_table([HEADER, *rows(result)]))
    print()
    checked = {a: v for a, v in preview_check.items() if v is not None}
    print(
        "LR used in training vs preview (max relative difference): "
        + ", ".join(f"{a} {v:.1e}" for a, v in checked.items())
    )
    print(f"total {total:.1f} s for {len(args.arms)} schedules x {len(seeds)} seeds")
    bad = {a: v for a, v in checked.items() if v > 1e-9}
    if bad:
        print(f"WARNING: the LR used in training differs from the preview for {bad}")
    if write:
        bench_dir, image = args.out_dir / "benchmarks", args.out_dir / "images" / "benchmark_schedules.png"
        write_results("schedules", result, markdown(result), bench_dir)
        plot(result, image)
        print(f"wrote {bench_dir / 'schedules.md'}, {bench_dir / 'schedules.json'} and {image}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
