"""The page of ``benchmarks/mnist1d.py`` (``docs/benchmarks/mnist1d.md``): summary, tables and words, from its result.

Everything here reads the result (``mnist1d.json``): ``--report-only`` redraws the page from it.
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import machine_line, markdown_table, text_table
from benchmarks.pages.mnist1d_summary import BASELINE, THRESHOLDS, constant_arms, summarize
from benchmarks.pages.mnist1d_target import pct, target_sections, targets

PAPER_CNN = 0.94  # Greydanus & Kobak, CNN test accuracy (Adam 1e-2, batch 100, 6,000+ steps)


def steps_cell(row: dict[str, Any], t: float, n: int) -> str:
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
            (
                arm,
                pct(r["test_acc_mean"], r["test_acc_ci95"]),
                delta,
                p,
                *(steps_cell(r, t, r["n"]) for t in THRESHOLDS),
            )
        )
    return out


ANCHOR_ROW = ("*anchor: the paper's CNN (6,000+ steps)*", f"{round(100 * PAPER_CNN)}", "", "", "", "")
HEADER = ("schedule", "test acc % (mean ± 95% CI)", "Δ vs constant", "p (Welch, Holm)", "steps to 90%", "steps to 94%")


def reading(result: dict[str, Any]) -> list[str]:
    """The findings in words, computed from the numbers (nothing here is hand-written per run)."""
    budgets, summary = result["config"]["budgets"], result["summary"]
    constants = constant_arms(result["config"]["peak_lr"], result["config"]["grid"])
    lines = []
    n_tests = sum(len(summary[str(b)]) - 1 for b in budgets)
    for b in budgets:
        rows = summary[str(b)]
        sig = [a for a, r in rows.items() if r.get("significant")]
        better = [a for a in sig if rows[a]["test_acc_mean"] > rows[BASELINE]["test_acc_mean"]]
        worse = [a for a in sig if a not in better]
        best = max(rows, key=lambda a: rows[a]["test_acc_mean"])
        lines.append(
            f"- **{b} epochs**: constant {pct(rows[BASELINE]['test_acc_mean'])}%; best "
            f"{best} {pct(rows[best]['test_acc_mean'])}%. Significantly better than the constant LR after Holm's "
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
            + ("" if any(a in constants for _, a, _ in complete) else " No constant LR gets there on every seed.")
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


def anchor(result: dict[str, Any]) -> list[str]:
    """The paper's table, then this CNN's constant LR and best schedule at every budget."""
    cfg, spe = result["config"], result["config"]["steps_per_epoch"]
    lines = [
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
        lines.append(
            f"| this CNN, constant LR {cfg['peak_lr']:g}, {b} epochs ({b * spe} steps) | "
            f"{pct(rows[BASELINE]['test_acc_mean'])} |"
        )
        lines.append(f"| this CNN, best schedule ({best}), {b} epochs | {pct(rows[best]['test_acc_mean'])} |")
    return lines


def rerun_note(result: dict[str, Any]) -> str:
    """A sentence naming the arms run again after a change (``"rerun"`` in the json), or nothing."""
    rerun = result.get("rerun")
    if not rerun:
        return ""
    arms = ", ".join(f"`{a}`" for a in rerun["arms"])
    return f" {arms} were run again on {rerun['date']} ({rerun['why']}); the other arms are from the run above."


def intro(result: dict[str, Any]) -> list[str]:
    """Title, setup, data and the anchor."""
    cfg, m, spe = result["config"], result["machine"], result["config"]["steps_per_epoch"]
    return [
        f"# Does scheduling pay? MNIST-1D, every schedule, {len(cfg['budgets'])} budgets",
        "",
        f"Generated by `python benchmarks/mnist1d.py` on {m['date']} (total {result['total_wall_s'] / 60:.1f} min on "
        f"{cfg['threads']} CPU thread). Raw numbers: [mnist1d.json](mnist1d.json).{rerun_note(result)}",
        "",
        "MNIST-1D (Greydanus & Kobak, *Scaling down deep learning with MNIST-1D*, ICML 2024) is small enough for a "
        "CPU and hard enough to separate models that MNIST does not. Every arm trains the same 1-D CNN "
        f"({cfg['params']:,} parameters: a 5-tap convolution and three stride-2 3-tap convolutions, "
        f"{cfg['channels']} channels, "
        "batch norm, ReLU, a linear head) with the paper's optimizer and batch size — Adam, batch "
        f"{cfg['batch_size']}, no weight decay — in a real `lightning.pytorch.Trainer` (CPU, no logger, no "
        "checkpointing). Only the LR callback differs. "
        f"The configured LR is the paper's **{cfg['peak_lr']:g}** in every schedule arm (the peak or "
        "base LR of every schedule; picked before any run, no arm tuned); a grid of constant LRs "
        f"({', '.join(f'{lr:g}' for lr in cfg['grid'])}) gives the constant baseline its best value, and the "
        "finder-fed arms take their peak from `LRFinder`'s suggestion.",
        "",
        f"Data: `make_dataset(get_dataset_args())` of the `mnist1d` package (the paper's defaults, generated offline): "
        f"4,000 training and 1,000 test sequences. The last {cfg['n_val']} training sequences are held out for "
        f"validation: {cfg['n_train']} train, {spe} steps per epoch. Seeds {cfg['seeds']} set the initialization "
        f"and the shuffling. Budgets: {', '.join(str(b) for b in cfg['budgets'])} epochs.",
        "",
        "## Anchor: the paper's table",
        "",
        *anchor(result),
        "",
        "The paper's CNN is smaller (three convolutions, 25 channels, no batch norm) and trains for 6,000+ steps; "
        f"this one, with batch norm, is trained for at most {cfg['budgets'][-1] * spe} steps, which is what makes "
        "a CPU benchmark with many arms and seeds possible. The anchor says what accuracy is good on this data, "
        "not that the two setups are the same.",
        "",
    ]


def tables(result: dict[str, Any]) -> list[str]:
    """One table per budget, and what its columns mean."""
    cfg, spe = result["config"], result["config"]["steps_per_epoch"]
    lines = []
    for b in cfg["budgets"]:
        lines += [
            f"## {b} epochs ({b * spe} optimizer steps)",
            "",
            *markdown_table([HEADER, ANCHOR_ROW, *table_rows(result["summary"], b)]),
            "",
        ]
    return [
        *lines,
        "- test acc: mean over seeds and the half-width of its 95% t-interval.",
        "- Δ vs constant: difference of the means in points; p: Welch's t-test against the constant baseline, "
        "Holm-adjusted over the arms of the budget; `*`: significant at 0.05 after the adjustment.",
        f"- steps to 90% / 94%: optimizer steps until the validation accuracy (probed every {cfg['probe_every']} "
        "steps) first reaches it, mean ± 95% interval over the seeds that reach it, `(k/n)` when only k of n do; the "
        "finder's test steps are not included (see the target).",
        "- Budget-independent arms (constant LRs, `ReduceLROnPlateau`) run once at the longest budget and are read at "
        "the end of the shorter ones: nothing in them depends on the run's length.",
        "",
    ]


def arms_and_machine(result: dict[str, Any]) -> list[str]:
    """The arms' configurations, the finder's suggestions, the machine and the time taken."""
    cfg, m = result["config"], result["machine"]
    last = result["summary"][str(cfg["budgets"][-1])]
    suggestions = last.get("LRFinder + OneCycle", {}).get("suggestions", [])
    return [
        *markdown_table(
            [("schedule", "configuration"), *((a, result["configuration"][a]) for a in result["arms"])], align="ll"
        ),
        "",
        *(
            []
            if "WarmupStableDecay" in result["arms"]
            else ["`WarmupStableDecay` was not an arm of this run (`--arms`).", ""]
        ),
        f"Finder suggestions per seed (LRFinder + OneCycle, {cfg['budgets'][-1]} epochs): "
        + ", ".join(f"{s:.3g}" if s is not None else "none" for s in suggestions)
        + ".",
        "",
        f"{machine_line(m)} With 2 CPUs, a load above ~1 means other processes shared them: the wall time is then "
        "an upper bound. "
        f"{result['n_fits']} `trainer.fit` calls, {result['fit_wall_s'] / 60:.1f} min inside them; "
        f"{result['total_wall_s'] / 60:.1f} min wall and {result.get('total_cpu_s', float('nan')) / 60:.1f} min of "
        "CPU time (this process) in all.",
    ]


def markdown(result: dict[str, Any]) -> list[str]:
    """The page: intro and anchor, one table per budget, the reading, the target, the curves, the arms."""
    return [
        *intro(result),
        *tables(result),
        "## Reading it",
        "",
        *reading(result),
        "",
        *target_sections(result),
        "## Curves",
        "",
        "![validation accuracy against steps](mnist1d_curves.png)",
        "",
        "## Arms",
        "",
        *arms_and_machine(result),
    ]


def terminal(result: dict[str, Any]) -> str:
    """The tables, the reading and the target as the terminal shows them."""
    cfg, m = result["config"], result["machine"]
    spe = cfg["steps_per_epoch"]
    lines = []
    for b in cfg["budgets"]:
        lines += ["", f"{b} epochs ({b * spe} steps)", text_table([HEADER, *table_rows(result["summary"], b)])]
    lines += ["", *reading(result), "", *target_sections(result)]
    return "\n".join(lines) + (
        f"\n\ntotal {result['total_wall_s'] / 60:.1f} min wall, {result['total_cpu_s'] / 60:.1f} min CPU "
        f"({result['n_fits']} fits, {result['fit_wall_s'] / 60:.1f} min in fit); "
        f"1-min load average {m['loadavg_1min_start']} -> {m['loadavg_1min_end']}"
    )


def resummarize(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its summary and target recomputed from its per-seed cells (``--report-only``)."""
    cfg = result["config"]
    cells = {a: {int(b): c for b, c in by.items()} for a, by in result["cells"].items()}
    constants = constant_arms(cfg["peak_lr"], cfg["grid"])
    result["summary"] = summarize(cells, cfg["budgets"])
    result["targets"] = targets(cells, cfg["budgets"], cfg["steps_per_epoch"], constants)
    return result
