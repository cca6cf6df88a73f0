"""Who else sets the LR of an optimizer: schedulers hosted by Lightning, and where they came from."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import lightning.pytorch as pl
from torch.optim import Optimizer


class ScheduleConflictError(ValueError):
    """The schedule cannot run as configured with this trainer (raised before the first step)."""


def scheduler_source(pl_module: pl.LightningModule | None) -> str:
    """Where the schedulers of ``configure_optimizers`` come from, in words a user recognizes."""
    method = getattr(pl_module, "configure_optimizers", None)
    func = getattr(method, "__func__", None)
    if isinstance(func, functools.partial) and "lr_scheduler" in func.keywords:
        owner = getattr(func.func, "__self__", None)
        cli = type(owner).__name__ if owner is not None else "LightningCLI"
        return (
            f"{cli}'s `lr_scheduler:` config key (or `--lr_scheduler` on the command line), which "
            "replaces `configure_optimizers`"
        )
    return "`configure_optimizers`"


def hosted_schedulers(trainer: pl.Trainer, optimizers: Iterable[Optimizer]) -> list[Any]:
    """The schedulers in ``trainer.lr_scheduler_configs`` that step one of ``optimizers``."""
    mine = {id(o) for o in optimizers}
    return [c.scheduler for c in trainer.lr_scheduler_configs if id(getattr(c.scheduler, "optimizer", None)) in mine]


def check_hosted_schedulers(name: str, trainer: pl.Trainer, optimizers: Iterable[Optimizer]) -> None:
    """Refuse a scheduler hosted by Lightning on an optimizer this callback drives."""
    for scheduler in hosted_schedulers(trainer, optimizers):
        source = scheduler_source(trainer.lightning_module)
        raise ScheduleConflictError(
            f"{name} and the {type(scheduler).__name__} returned by {source} both set the LR of the same "
            "optimizer. Remove the scheduler (return only the optimizer), or remove the callback."
        )


def managed_optimizers(name: str, trainer: pl.Trainer, indices: tuple[int, ...] | None) -> list[Optimizer]:
    """The optimizers a callback with ``optimizers=indices`` drives (all of them for ``None``)."""
    optimizers = list(trainer.optimizers)
    if not any(opt.param_groups for opt in optimizers):  # None from configure_optimizers: Lightning's stand-in
        raise ScheduleConflictError(f"{name} found no optimizer: `configure_optimizers` must return at least one.")
    if indices is None:
        return optimizers
    for i in indices:
        if i >= len(optimizers):
            raise ScheduleConflictError(
                f"{name}(optimizers={list(indices)}) but the model has {len(optimizers)} optimizer(s)."
            )
    return [optimizers[i] for i in indices]


def check_shared_keys(
    name: str,
    keys: frozenset[str],
    optimizers: list[Optimizer],
    others: Iterable[tuple[str, frozenset[str], list[Optimizer]]],
) -> None:
    """Refuse a second schedule callback that sets one of ``keys`` of one of the same ``optimizers``.

    ``others``: each other schedule callback's name, the param-group keys it sets and its optimizers.
    """
    mine = {id(o) for o in optimizers}
    for other, their_keys, theirs in others:
        shared = sorted(keys & their_keys)
        if shared and {id(o) for o in theirs} & mine:
            raise ScheduleConflictError(
                f"{name} and {other} both set {', '.join(shared)} of one optimizer; "
                "give each its own with `optimizers=[index]`, or compose the schedules into one."
            )
