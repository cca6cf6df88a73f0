"""A persistent LR cut on top of whatever sets the LR: the schedule callbacks, a hosted scheduler, or nothing."""

from __future__ import annotations

import lightning.pytorch as pl

from lightning_lr.callbacks import ScheduleCallback
from lightning_lr.owners import recipes_of
from lightning_lr.planner.plan import write_value

__all__ = ["cut_lr_everywhere"]


def cut_lr_everywhere(trainer: pl.Trainer, factor: float) -> None:
    """``factor`` times every optimizer's LR from now on.

    An optimizer driven by a schedule callback that sets the LR is cut through
    :meth:`~lightning_lr.callbacks.ScheduleCallback.cut_lr` (kept in its checkpoint, as plateau cuts); any
    other has its param groups multiplied (saved with the optimizer state), and the ``base_lrs`` of a
    scheduler from ``configure_optimizers`` on it too, or its closed form would undo the cut at its next step.
    """
    covered: set[int] = set()
    for callback in recipes_of(trainer):  # AutoLR's schedule too: a cut in the groups alone it would undo
        if isinstance(callback, ScheduleCallback) and "lr" in callback.param_keys() and callback.lr_cuts:
            callback.cut_lr(factor)
            indices = callback.optimizer_indices
            covered.update(range(len(trainer.optimizers)) if indices is None else indices)
    for index, optimizer in enumerate(trainer.optimizers):
        if index in covered:
            continue
        for group in optimizer.param_groups:
            write_value(group, "lr", float(group["lr"]) * factor)
        for config in trainer.lr_scheduler_configs:
            if config.scheduler.optimizer is optimizer and hasattr(config.scheduler, "base_lrs"):
                config.scheduler.base_lrs = [b * factor for b in config.scheduler.base_lrs]
