"""The page of ``benchmarks/schedules.py`` (``docs/benchmarks/schedules.md``) and its figure, from its result."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from benchmarks.harness import machine_line, markdown_table


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


def plot(result: dict[str, Any], path: Path, momentum: float) -> None:
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
        f"SGD momentum {momentum}, peak LR {cfg['peak_lr']}\n{cfg['epochs']} epochs x {spe} steps, "
        f"batch {cfg['batch_size']}",
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


def plateau_line(result: dict[str, Any]) -> list[str]:
    """What ``ReduceLROnPlateau`` did on each seed (nothing when it was not an arm)."""
    cfg, spe = result["config"], result["config"]["steps_per_epoch"]
    seeds = [
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
    if not seeds:
        return []
    return [
        f"- ReduceLROnPlateau ({len(result['runs']['ReduceLROnPlateau'][0]['val_loss'])} checks, one per epoch): "
        + "; ".join(seeds)
        + ". A reduction decided at the last check comes after the last step and changes nothing."
    ]


def reading(result: dict[str, Any]) -> list[str]:
    """The findings in words, computed from the numbers."""
    cfg, s, arms = result["config"], result["summary"], result["arms"]
    best = max(arms, key=lambda a: s[a]["test_acc_mean"])
    worst = min(arms, key=lambda a: s[a]["test_acc_mean"])
    fit_best = min(arms, key=lambda a: s[a]["train_loss_mean"])
    fit_worst = max(arms, key=lambda a: s[a]["train_loss_mean"])
    spread = 100 * (s[best]["test_acc_mean"] - s[worst]["test_acc_mean"])
    median_std = statistics.median(100 * s[a]["test_acc_std"] for a in arms)
    resolution = 100 / cfg["n_test"]
    checks = {a: v for a, v in result["preview_check"].items() if v is not None}
    lines = [
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
    lines += plateau_line(result)
    if checks:
        lines.append(
            "- The LR the optimizer used at every step (first seed) matches `lightning_lr.preview.preview` of the "
            f"same callback for every schedule with a planned curve (largest relative difference "
            f"{max(checks.values()):.1e})."
        )
    return lines


def markdown(result: dict[str, Any], momentum: float, hidden: int) -> list[str]:
    m, cfg = result["machine"], result["config"]
    resolution = 100 / cfg["n_test"]
    configuration = [(a, result["configuration"][a]) for a in result["arms"]]
    lines = [
        "# Schedules on real data: digits, same model, same budget",
        "",
        f"Generated by `python benchmarks/schedules.py` on {m['date']} (total {result['total_wall_s']:.0f} s). "
        f"Every arm trains the same MLP (64-{hidden}-10, ReLU) with SGD (momentum {momentum}, no weight decay, "
        f"batch {cfg['batch_size']}) on scikit-learn's `load_digits` for {cfg['epochs']} epochs "
        f"({cfg['steps']} optimizer steps) in a real `lightning.pytorch.Trainer` (CPU, no logger, no checkpointing); "
        f"only the LR callback differs. The optimizer's configured LR is **{cfg['peak_lr']}** in every arm, the peak "
        "(or base) LR of every schedule; it was picked once before any run and no arm was tuned.",
        "",
        f"Data: one fixed stratified split (random_state={cfg['split_seed']}): {cfg['n_train']} train / {cfg['n_val']} "
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
        *reading(result),
        "",
        "## Arms",
        "",
        *markdown_table([("schedule", "configuration"), *configuration], align="ll"),
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
