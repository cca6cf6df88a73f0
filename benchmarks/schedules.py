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
                                              # and docs/images/benchmark_schedules.png (next to --out-dir)
    python benchmarks/schedules.py --quick    # smoke test (seconds); writes nothing unless --write
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import sklearn

if __name__ == "__main__":  # `python benchmarks/schedules.py`: the repository first on sys.path, this folder off it
    _root = Path(__file__).resolve().parents[1]
    sys.path[:] = [str(_root), *(p for p in sys.path if Path(p or ".").resolve() != _root / "benchmarks")]

from benchmarks.harness import (
    Arm,
    EpochMetrics,
    StepValues,
    Task,
    cli,
    data,
    machine,
    models,
    over_seeds,
    text_table,
    write_results,
)
from benchmarks.harness.stats import mean, sd
from benchmarks.pages.schedules import HEADER, markdown, plot, rows
from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.preview import preview
from lightning_lr.schedules import Constant, fraction

PEAK_LR = 0.05  # configured LR of SGD in every arm: the peak / base LR of every schedule
MOMENTUM = 0.9
HIDDEN = 128
TASK = Task(
    "digits",
    f"MLP 64-{HIDDEN}-10 ReLU",
    data.digits_standardized,
    lambda: models.mlp(64, HIDDEN, 10),
    "SGD momentum 0.9",
    batch=32,
    epochs=10,
)

# Durations are fractions of the run or epochs, so the arms keep their shape under --epochs.
ARMS: dict[str, Arm] = {
    "Constant": Arm(lambda: [LRScheduler(Constant(1.0))], "`LRScheduler(Constant(1.0))`"),
    "StepDecay": Arm(
        lambda: [StepDecay(step_size=fraction(1 / 3), gamma=0.1)],
        "`StepDecay(step_size=fraction(1/3), gamma=0.1)`: x0.1 after 1/3 and 2/3 of the run",
    ),
    "MultiStepDecay": Arm(
        lambda: [MultiStepDecay(milestones=["50%", "75%"], gamma=0.1)],
        "`MultiStepDecay(milestones=['50%', '75%'], gamma=0.1)`",
    ),
    "ExponentialDecay": Arm(
        lambda: [ExponentialDecay(gamma=0.01, decay_steps=fraction(1.0))],
        "`ExponentialDecay(gamma=0.01, decay_steps=fraction(1.0))`: smooth decay to 1% of the peak at the end",
    ),
    "CosineAnnealing": Arm(lambda: [CosineAnnealing()], "`CosineAnnealing()`: peak to 0 over the run"),
    "CosineRestarts": Arm(
        lambda: [CosineRestarts(T_0=fraction(1 / 7), T_mult=2)],
        "`CosineRestarts(T_0=fraction(1/7), T_mult=2)`: cycles of 1/7, 2/7, 4/7 of the run",
    ),
    "WarmupLinear": Arm(lambda: [WarmupLinear(num_warmup_steps=0.1)], "`WarmupLinear(num_warmup_steps=0.1)`"),
    "WarmupCosine": Arm(lambda: [WarmupCosine(num_warmup_steps=0.1)], "`WarmupCosine(num_warmup_steps=0.1)`"),
    "Cyclical (triangular2)": Arm(
        lambda: [Cyclical(base_lr=PEAK_LR / 10, max_lr=PEAK_LR, step_size_up=fraction(1 / 8), mode="triangular2")],
        "`Cyclical(base_lr=peak/10, max_lr=peak, step_size_up=fraction(1/8), mode='triangular2')`: "
        "4 cycles; cycles momentum 0.8-0.9 (the PyTorch default)",
    ),
    "OneCycle": Arm(
        lambda: [OneCycle()],
        "`OneCycle()`: max LR = the configured peak, defaults (pct_start 0.3, div 25, final div 1e4); "
        "cycles momentum 0.85-0.95 (the PyTorch default)",
    ),
    "ReduceLROnPlateau": Arm(
        lambda: [ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)],
        "`ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=1)`: checked after each epoch's validation",
    ),
}


def fit(arm: str, seed: int, epochs: int) -> dict[str, Any]:
    """Train one arm with one seed; its metrics and what the optimizer saw at each step."""
    (schedule,) = ARMS[arm].callbacks()
    values, metrics = StepValues(("lr", "momentum")), EpochMetrics()
    run = TASK.fit(PEAK_LR, seed, [schedule, values, metrics], epochs, validate=True, deterministic=True)
    train_loss, train_acc = TASK.evaluate(run.module, "train")
    test_loss, test_acc = TASK.evaluate(run.module, "test")
    lr = values.series("lr")
    out: dict[str, Any] = {
        "seed": seed,
        "test_acc": test_acc,
        "test_loss": test_loss,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "last_epoch_train_loss": mean(metrics.train_losses[-1]),
        "val_loss": metrics.val["val_loss"],
        "val_acc": metrics.val["val_acc"],
        "wall_s": run.seconds,
        "steps": run.trainer.global_step,
        "steps_per_epoch": TASK.steps_per_epoch,
        "lr": lr,
        "momentum": values.series("momentum"),
    }
    if isinstance(schedule, ReduceLROnPlateau):
        out["plateau_reductions"] = sum(
            round(math.log(s) / math.log(schedule.factor)) for s in schedule.lr_cuts[0]
        )
        # (step, new LR) of each change the optimizer saw; a reduction after the last epoch is never used
        out["lr_changes"] = [(k, v) for k, v in enumerate(lr) if k and v != lr[k - 1]]
    return out


def say(arm: str, r: dict[str, Any]) -> str:
    extra = ""
    if "plateau_reductions" in r:
        extra = f", {r['plateau_reductions']} reduction(s), LR changes (step, LR) {r['lr_changes']}"
    return (
        f"seed {r['seed']} {arm:<24} test acc {100 * r['test_acc']:6.2f}%  train loss {r['train_loss']:.4f}  "
        f"final LR {r['lr'][-1]:.3g}  {r['wall_s']:.2f} s{extra}"
    )


def check_against_preview(arm: str, run: dict[str, Any]) -> float | None:
    """Largest relative difference between the LR used in training and the callback's planned LR (None: no plan)."""
    if arm == "ReduceLROnPlateau":  # its curve depends on the metric: nothing to plan
        return None
    (schedule,) = ARMS[arm].callbacks()
    planned = preview(
        schedule, total=run["steps"], base_lrs=[PEAK_LR], steps_per_epoch=run["steps_per_epoch"], points=10**9
    ).series["lr-SGD"]
    if len(planned) != len(run["lr"]):
        raise AssertionError(f"{arm}: preview has {len(planned)} steps, the run took {len(run['lr'])}")
    return max(abs(p - r) / max(abs(p), 1e-12) for p, r in zip(planned, run["lr"]))


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    acc, loss = [r["test_acc"] for r in runs], [r["train_loss"] for r in runs]
    return {
        "test_acc_mean": mean(acc),
        "test_acc_std": sd(acc) if len(acc) > 1 else 0.0,
        "test_acc_min": min(acc),
        "test_acc_max": max(acc),
        "train_loss_mean": mean(loss),
        "train_loss_std": sd(loss) if len(loss) > 1 else 0.0,
        "last_epoch_train_loss_mean": mean(r["last_epoch_train_loss"] for r in runs),
        "test_loss_mean": mean(r["test_loss"] for r in runs),
        "final_val_loss_mean": mean(r["val_loss"][-1] for r in runs),
        "wall_s_mean": mean(r["wall_s"] for r in runs),
    }


def config(args: Any, seeds: list[int]) -> dict[str, Any]:
    split = TASK.data()
    return {
        "peak_lr": PEAK_LR,
        "optimizer": f"SGD(momentum={MOMENTUM})",
        "model": TASK.model,
        "batch_size": TASK.batch,
        "epochs": args.epochs,
        "steps_per_epoch": TASK.steps_per_epoch,
        "steps": args.epochs * TASK.steps_per_epoch,
        "seeds": seeds,
        "quick": args.quick,
        "threads": args.threads,
        "split_seed": data.SPLIT_SEED,
        **{f"n_{name}": len(split[name][1]) for name in ("train", "val", "test")},
    }


def run(args: Any, load_start: float | None) -> dict[str, Any]:
    """Every arm over the seeds; the result as written to schedules.json."""
    seeds, steps = list(range(args.seeds)), args.epochs * TASK.steps_per_epoch
    start = time.perf_counter()
    runs = {
        arm: over_seeds(
            seeds, lambda seed, arm=arm: fit(arm, seed, args.epochs), lambda r, arm=arm: say(arm, r), steps, arm
        )
        for arm in args.arms
    }
    total = time.perf_counter() - start
    preview_check = {arm: check_against_preview(arm, runs[arm][0]) for arm in args.arms}
    lr_curves = {arm: runs[arm][0]["lr"] for arm in args.arms}
    for arm in args.arms:  # per-step curves are kept for the first seed only (the plot uses them)
        for r in runs[arm][1:]:
            del r["lr"], r["momentum"]
    return {
        "config": config(args, seeds),
        "arms": list(args.arms),
        "configuration": {arm: ARMS[arm].description for arm in args.arms},
        "machine": machine(load_start, sklearn=sklearn.__version__),
        "total_wall_s": total,
        "summary": {arm: summarize(runs[arm]) for arm in args.arms},
        "preview_check": preview_check,
        "lr_curves": lr_curves,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(__doc__, "2 epochs, 1 seed: smoke test", seeds=3)
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per run (default 10)")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="subset of schedules")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = 1, 2
    if args.seeds < 1 or args.epochs < 1:
        parser.error("need --seeds >= 1 and --epochs >= 1")
    result = run(args, cli.start(args))
    print(f"\n{text_table([HEADER, *rows(result)])}\n")
    checked = {a: v for a, v in result["preview_check"].items() if v is not None}
    print(
        "LR used in training vs preview (max relative difference): "
        + ", ".join(f"{a} {v:.1e}" for a, v in checked.items())
    )
    print(f"total {result['total_wall_s']:.1f} s for {len(args.arms)} schedules x {args.seeds} seeds")
    bad = {a: v for a, v in checked.items() if v > 1e-9}
    if bad:
        print(f"WARNING: the LR used in training differs from the preview for {bad}")
    if cli.writes(args):
        image = args.out_dir.parent / "images" / "benchmark_schedules.png"
        write_results("schedules", result, markdown(result, MOMENTUM, HIDDEN), args.out_dir)
        plot(result, image, MOMENTUM)
        print(f"wrote {args.out_dir / 'schedules.md'}, {args.out_dir / 'schedules.json'} and {image}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
