"""Who sets the LR of an optimizer: schedulers hosted by Lightning, schedule callbacks, and who ignores it.

One answer to each question, asked by the schedule callbacks, the LR finder and ``ScaleLR`` alike:
:func:`hosted_schedulers` (a scheduler from ``configure_optimizers`` on an optimizer),
:func:`absolute_lr_owners` (callbacks whose LRs ignore the optimizer's configured LR).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import lightning.pytorch as pl
from torch.optim import Optimizer

from lightning_lr.checks import ScheduleConflictError
from lightning_lr.planner import Recipe


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


def check_conflicts(recipe: Recipe, trainer: pl.Trainer, optimizers: list[Optimizer]) -> None:
    """Refuse, for a schedule callback driving ``optimizers``: a scheduler from ``configure_optimizers`` on one of
    them (when it sets the LR), and another schedule callback that sets one of the same param-group keys of one."""
    name, keys = type(recipe).__name__, recipe.param_keys()
    if "lr" in keys:
        check_hosted_schedulers(name, trainer, optimizers)
    mine = {id(o) for o in optimizers}
    for other in recipes_of(trainer):
        if other is recipe:
            continue
        shared = sorted(keys & other.param_keys())
        theirs = {id(trainer.optimizers[i]) for i in driven_indices(other, len(trainer.optimizers))}
        if shared and theirs & mine:
            raise ScheduleConflictError(
                f"{name} and {type(other).__name__} both set {', '.join(shared)} of one optimizer; "
                "give each its own with `optimizers=[index]`, or compose the schedules into one."
            )


def recipes_of(trainer: pl.Trainer) -> list[Recipe]:
    """Every recipe that drives the trainer's optimizers: the schedule callbacks in ``trainer.callbacks``, and
    those a callback runs on its own behalf and lists in ``inner_recipes`` (``AutoLR``'s ``WarmupStableDecay``)."""
    found: list[Recipe] = []
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, Recipe):
            found.append(callback)
        found.extend(r for r in getattr(callback, "inner_recipes", ()) if isinstance(r, Recipe))
    return found


def check_every_schedule(trainer: pl.Trainer) -> None:
    """:func:`check_conflicts` for every recipe of :func:`recipes_of`, now: what must refuse a run before any training
    step (the finder asks it before its range test, which would otherwise spend up to half a run first)."""
    for recipe in recipes_of(trainer):
        name = type(recipe).__name__
        optimizers = managed_optimizers(name, trainer, getattr(recipe, "optimizer_indices", None))
        check_conflicts(recipe, trainer, optimizers)


def driven_indices(callback: Any, num_optimizers: int) -> list[int]:
    """The indices of the optimizers a schedule callback drives (its ``optimizer_indices``; ``None``: all)."""
    indices = getattr(callback, "optimizer_indices", None)
    return list(range(num_optimizers)) if indices is None else [i for i in indices if i < num_optimizers]


def absolute_lr_owners(trainer: pl.Trainer) -> dict[int, Recipe]:
    """``{optimizer index: callback}`` for the optimizers whose LR a callback sets while ignoring the optimizer's
    configured LR (:attr:`Recipe.absolute_lr <lightning_lr.planner.Recipe.absolute_lr>`), so an LR written into
    the optimizer before training (the finder's suggestion, ``ScaleLR``'s factor) has no effect."""
    owners: dict[int, Recipe] = {}
    for callback in recipes_of(trainer):
        if callback.absolute_lr and "lr" in callback.param_keys():
            for index in driven_indices(callback, len(trainer.optimizers)):
                owners[index] = callback
    return owners


def with_absolute_lrs(recipe: Recipe) -> str:
    """How a recipe with absolute LRs is named in messages: ``"OneCycle(max_lr=...)"``."""
    return f"{type(recipe).__name__}({', '.join(f'{a}=...' for a in recipe.absolute_lr_args)})"
