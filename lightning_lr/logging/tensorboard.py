"""TensorBoard extras: the planned-schedule figure and a ready "Learning rate" dashboard layout.

Only used when the trainer has a :class:`~lightning.pytorch.loggers.TensorBoardLogger`; its
``experiment`` is a ``SummaryWriter`` on rank zero (a no-op elsewhere).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import TensorBoardLogger

LOSS_TAG = "loss/train"
SMOOTHED_LOSS_TAG = "loss/train_smoothed"
SCHEDULE_FIGURE_TAG = "lightning_lr/planned_schedule"
FINDER_FIGURE_TAG = "lightning_lr/lr_finder"
DASHBOARD = "Learning rate"
_WITH_LAYOUT: weakref.WeakSet[Any] = weakref.WeakSet()  # writers that already hold the layout


def tensorboard_writers(trainer: pl.Trainer) -> list[Any]:
    """The ``SummaryWriter`` of every TensorBoard logger, on global rank zero only."""
    if not trainer.is_global_zero:
        return []
    return [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


def dashboard_layout(series: Sequence[Sequence[str]], with_loss: bool = True) -> dict[str, Any]:
    """The custom-scalars layout: per optimizer an LR chart and a momentum chart, then the loss.

    Example:
        >>> layout = dashboard_layout([["lr-SGD/pg1", "lr-SGD/pg2"]])
        >>> sorted(layout["Learning rate"])
        ['lr-SGD: learning rate', 'lr-SGD: momentum', 'training loss']
    """
    charts: dict[str, Any] = {}
    for names in series:
        optimizer = names[0].split("/")[0]
        tags = "|".join(re.escape(n) for n in names)
        charts[f"{optimizer}: learning rate"] = ["Multiline", [f"^({tags})$"]]
        charts[f"{optimizer}: momentum"] = ["Multiline", [f"^({tags})-momentum$"]]
    if with_loss:
        charts["training loss"] = ["Multiline", [f"^{re.escape(LOSS_TAG)}(_smoothed)?$"]]
    return {DASHBOARD: charts}


def add_dashboard(trainer: pl.Trainer, series: Sequence[Sequence[str]], with_loss: bool = True) -> None:
    """Write the layout once per writer (``add_custom_scalars`` may only be called once)."""
    for writer in tensorboard_writers(trainer):
        if writer in _WITH_LAYOUT:
            continue
        writer.add_custom_scalars(dashboard_layout(series, with_loss))
        _WITH_LAYOUT.add(writer)


def add_figure(trainer: pl.Trainer, tag: str, figure: Any, step: int = 0) -> None:
    """Add a matplotlib figure to every TensorBoard logger and close it."""
    for writer in tensorboard_writers(trainer):
        writer.add_figure(tag, figure, global_step=step, close=False)
        writer.flush()
    import matplotlib.pyplot as plt

    plt.close(figure)
