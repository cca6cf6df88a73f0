"""Generate the figures of the schedule-family pages (docs/images/families/*.png) from the code.

Every curve is what a callback would set, computed by :func:`lightning_lr.preview.preview` (the
same plan the callback applies in training); the reduce-on-plateau figure comes from a short real
``Trainer.fit`` on CPU whose validation metric follows a fixed script. No randomness, so the PNGs
are the same on every run with the same library versions. Run from the repository root, before
``mkdocs build --strict``::

    python docs/scripts/make_plots.py [--out docs/images/families]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

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
    WarmupStableDecay,
)
from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.preview import preview
from lightning_lr.schedules import Clamp, Cosine, Cycle, InverseSqrt, Join, Linear, warmup_stable_decay

if TYPE_CHECKING:
    from matplotlib.figure import Figure

OUT = Path("docs/images/families")


@dataclass
class Panel:
    """One subplot: the callback's planned LR (and momentum) over ``total`` steps."""

    title: str
    make: Callable[[], ScheduleCallback]
    total: int = 1000
    base_lrs: Sequence[float] = (0.1,)
    steps_per_epoch: int = 100
    optimizer: str = "sgd"
    log: bool = False  # log-scale LR axis (for decays over several decades)


@dataclass
class FamilyFigure:
    """A figure of one or more panels, saved as ``<name>.png``."""

    name: str
    panels: list[Panel] = field(default_factory=list)


FIGURES: list[FamilyFigure] = [
    FamilyFigure(
        "one-cycle",
        [
            Panel("OneCycle()", lambda: OneCycle()),
            Panel(
                'OneCycle(three_phase=True, anneal_strategy="linear")',
                lambda: OneCycle(three_phase=True, anneal_strategy="linear"),
            ),
        ],
    ),
    FamilyFigure(
        "cyclical",
        [
            Panel(
                f'Cyclical(0.01, 0.1, step_size_up=100, mode="{mode}"{extra})',
                lambda mode=mode, gamma=gamma: Cyclical(0.01, 0.1, step_size_up=100, mode=mode, gamma=gamma),  # type: ignore[misc]
            )
            for mode, gamma, extra in (
                ("triangular", 1.0, ""),
                ("triangular2", 1.0, ""),
                ("exp_range", 0.998, ", gamma=0.998"),
            )
        ],
    ),
    FamilyFigure(
        "cosine",
        [
            Panel("CosineAnnealing(eta_min=0.001)", lambda: CosineAnnealing(eta_min=0.001)),
            Panel('CosineAnnealing(eta_min=0.001, warmup="5%")', lambda: CosineAnnealing(eta_min=0.001, warmup="5%")),
        ],
    ),
    FamilyFigure(
        "cosine-restarts",
        [
            Panel("CosineRestarts(T_0=100, T_mult=2)", lambda: CosineRestarts(T_0=100, T_mult=2), total=1500),
            Panel(
                "CosineRestarts(T_0=100, T_mult=1.5, peak_decay=0.7, cycle_warmup=10)",
                lambda: CosineRestarts(T_0=100, T_mult=1.5, peak_decay=0.7, cycle_warmup=10),
                total=1500,
            ),
        ],
    ),
    FamilyFigure(
        "decay",
        [
            Panel('StepDecay(step_size="3 epochs", gamma=0.5)', lambda: StepDecay(step_size="3 epochs", gamma=0.5)),
            Panel(
                'MultiStepDecay(milestones=["50%", "75%"], gamma=0.1)  (log scale)',
                lambda: MultiStepDecay(milestones=["50%", "75%"], gamma=0.1),
                log=True,
            ),
            Panel("ExponentialDecay(gamma=0.997)", lambda: ExponentialDecay(gamma=0.997)),
            Panel(
                'ExponentialDecay(gamma=0.5, decay_steps="2 epochs", staircase=True)',
                lambda: ExponentialDecay(gamma=0.5, decay_steps="2 epochs", staircase=True),
            ),
        ],
    ),
    FamilyFigure(
        "warmup",
        [
            Panel("WarmupLinear(num_warmup_steps=100)", lambda: WarmupLinear(num_warmup_steps=100)),
            Panel("WarmupCosine(num_warmup_steps=100)", lambda: WarmupCosine(num_warmup_steps=100)),
            Panel(
                'LRScheduler(warmup_stable_decay(1.0, warmup="5%", decay="20%"))',
                lambda: LRScheduler(warmup_stable_decay(1.0, warmup="5%", decay="20%")),
            ),
            Panel(
                'LRScheduler(warmup_stable_decay(1.0, warmup="5%", decay="20%", decay_shape="sqrt"))',
                lambda: LRScheduler(warmup_stable_decay(1.0, warmup="5%", decay="20%", decay_shape="sqrt")),
            ),
        ],
    ),
    FamilyFigure(
        "generic",
        [
            Panel(
                "LRScheduler(InverseSqrt(timescale=100), warmup=100)", lambda: LRScheduler(InverseSqrt(100), warmup=100)
            ),
            Panel(
                'LRScheduler(Join((Linear(0.0, 1.0, "10%"), Cosine(1.0, 0.0))))\nbase_lrs=[0.1, 0.01]',
                lambda: LRScheduler(Join((Linear(0.0, 1.0, "10%"), Cosine(1.0, 0.0)))),
                base_lrs=(0.1, 0.01),
            ),
            Panel(
                "LRScheduler(Cycle(Cosine(1.0, 0.0, 200), peak_decay=0.6))",
                lambda: LRScheduler(Cycle(Cosine(1.0, 0.0, 200), peak_decay=0.6)),
            ),
            Panel(
                "LRScheduler(Clamp(Cosine(1.0, 0.0), minimum=0.2),\n"
                '            momentum=Cosine(0.85, 0.95), warmup="5%")',
                lambda: LRScheduler(Clamp(Cosine(1.0, 0.0), minimum=0.2), momentum=Cosine(0.85, 0.95), warmup="5%"),
            ),
        ],
    ),
]


def draw(figure: FamilyFigure) -> Figure:
    """All panels of ``figure``, each from ``preview(callback, total, base_lrs).plot(ax)``."""
    import matplotlib.pyplot as plt

    rows = len(figure.panels)  # one column: the page shows the figure ~700 px wide, text stays legible
    fig, axes = plt.subplots(rows, 1, figsize=(8.0, 2.9 * rows), layout="constrained", squeeze=False)
    for ax, panel in zip(axes.flat, figure.panels):
        plan = preview(
            panel.make(),
            total=panel.total,
            base_lrs=list(panel.base_lrs),
            steps_per_epoch=panel.steps_per_epoch,
            optimizer=panel.optimizer,  # type: ignore[arg-type]
        )
        plan.plot(ax=ax, log=panel.log)  # the legend goes under the panel, off the curves
        ax.set_title(panel.title, fontsize="small", family="monospace")
        ax.grid(alpha=0.3)
    return fig


# ----------------------------------------------------------------------------- reduce on plateau
PLATEAU_SCRIPT = (1.0, 0.7, 0.55, 0.5, 0.49, 0.49, 0.495, 0.49, 0.42, 0.4, 0.4, 0.401, 0.4, 0.4, 0.39, 0.39, 0.39, 0.39)
PLATEAU_STEPS_PER_EPOCH = 20


class ScriptedMetric(pl.LightningModule):
    """One weight, a zero loss; validation logs ``val_loss`` from a fixed script; records each step's LR."""

    def __init__(self, script: Sequence[float]) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.script = list(script)
        self.lrs: list[float] = []

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(TensorDataset(torch.zeros(PLATEAU_STEPS_PER_EPOCH, 1)), batch_size=1)

    def val_dataloader(self) -> DataLoader[Any]:
        return DataLoader(TensorDataset(torch.zeros(1, 1)), batch_size=1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.lrs.append(float(self.trainer.optimizers[0].param_groups[0]["lr"]))  # set before this step
        return (self.weight**2).sum()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self.script[self.current_epoch])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def draw_plateau() -> Figure:
    """A real fit with ``ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, warmup="1 epoch")``."""
    import matplotlib.pyplot as plt

    model = ScriptedMetric(PLATEAU_SCRIPT)
    callback = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, warmup="1 epoch")
    trainer = pl.Trainer(
        max_epochs=len(PLATEAU_SCRIPT),
        callbacks=[callback],
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model)

    fig, ax = plt.subplots(figsize=(8.0, 3.4), layout="constrained")
    ax.plot(range(len(model.lrs)), model.lrs, label="lr-SGD (set before each step)")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    right = ax.twinx()
    ends = [(e + 1) * PLATEAU_STEPS_PER_EPOCH for e in range(len(PLATEAU_SCRIPT))]
    right.plot(ends, PLATEAU_SCRIPT, "o--", color="tab:orange", alpha=0.8, label="val_loss (checked after each epoch)")
    right.set_ylabel("val_loss")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    ax.set_title(
        'ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, warmup="1 epoch")\n'
        f"in a real fit, {PLATEAU_STEPS_PER_EPOCH} steps per epoch",
        fontsize="small",
        family="monospace",
    )
    return fig


# ----------------------------------------------------------------------------- warmup-stable-decay
WSD_BRANCHES = (400, 700, 1000)  # checkpoints of the stable phase (steps)
WSD_DECAYS = (0.1, 0.2)  # cooldown lengths, as a fraction of the run that ends after it


def draw_wsd() -> Figure:
    """One long stable phase with checkpoints as branch points, each ending in cooldowns of several lengths.

    A branch of length ``d`` from checkpoint ``k`` is what ``decay_now(d)`` at step ``k`` sets; it equals
    the plan of a run of ``k + d`` steps (``num_stable_steps=None``), drawn here with ``preview``.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8.0, 6.2), layout="constrained")
    ax = axes[0]
    end = max(WSD_BRANCHES)
    trunk = preview(WarmupStableDecay(50, 1, num_stable_steps=end - 51), total=end, base_lrs=[0.1], points=end)
    trunk = trunk.series["lr-SGD"]
    ax.plot(range(end), trunk, color="black", lw=1.5, label="warmup + stable (one run)")
    colors = ("tab:blue", "tab:orange")
    for k in WSD_BRANCHES:
        ax.axvline(k, color="grey", ls=":", lw=0.8)
        ax.plot([k], [0.1], "o", color="black", ms=5)
        for share, color in zip(WSD_DECAYS, colors):
            d = round(k * share / (1 - share))  # the cooldown is `share` of the branch run's k + d steps
            branch = preview(WarmupStableDecay(50, d, decay_type="1-sqrt"), total=k + d, base_lrs=[0.1], points=k + d)
            lrs = [*branch.series["lr-SGD"][k:], 0.0]  # and the LR it reaches after the last step
            ax.plot(range(k, k + d + 1), lrs, color=color, label=f"cooldown of {share:.0%}" if k == end else None)
    ax.set_title(
        'WarmupStableDecay(50, d, decay_type="1-sqrt"): checkpoints (dots) of the stable phase\n'
        "branch into cooldowns of several lengths (decay_now(d), or a resume with max_steps = k + d)",
        fontsize="small",
        family="monospace",
    )
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.legend(loc="lower left", bbox_to_anchor=(0.08, 0.0), fontsize="small")
    ax.grid(alpha=0.3)
    ax = axes[1]
    for decay_type in ("linear", "cosine", "1-sqrt"):
        callback = WarmupStableDecay(50, 200, decay_type=decay_type, warmup_type="linear")  # type: ignore[arg-type]
        ax.plot(preview(callback, total=1000, base_lrs=[0.1]).series["lr-SGD"], label=f'decay_type="{decay_type}"')
    ax.set_title("WarmupStableDecay(50, 200, decay_type=...) over 1000 steps", fontsize="small", family="monospace")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.legend(loc="lower left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """Write every family figure into ``--out``; returns the paths written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default: {OUT})")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcdefaults()
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    drawings: list[tuple[str, Callable[[], Figure]]] = [(f.name, lambda f=f: draw(f)) for f in FIGURES]  # type: ignore[misc]
    drawings.append(("plateau", draw_plateau))
    drawings.append(("wsd", draw_wsd))
    for name, make in drawings:
        fig = make()
        path = args.out / f"{name}.png"
        fig.savefig(path, dpi=150, metadata={"Software": None})  # no version stamp: same bytes on every run
        plt.close(fig)
        written.append(path)
        print(path)
    return written


if __name__ == "__main__":
    main()
