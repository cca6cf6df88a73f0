"""How long the run a schedule callback plans for really is, read from the trainer's public API.

Lightning's ``estimated_stepping_batches`` is the length of the run in most cases, but not in all:

* ``GradientAccumulationScheduler`` changes the accumulation per epoch; Lightning's estimate uses
  the first value. The true number of optimizer steps is summed here epoch by epoch.
* In manual optimization every ``opt.step()`` counts towards ``max_steps``: with ``n`` optimizers
  that all step every batch, each takes ``max_steps / n`` steps. Whether an optimizer steps every
  batch cannot be known before the run, so the length is an estimate there (``exact=False``).
* ``fast_dev_run`` replaces the configured limits by a few batches (``debug=True``).
* ``StochasticWeightAveraging`` takes the LR over at its ``swa_start`` epoch: the schedule plans
  for the epochs before it (``handover_epoch``), which also leaves out SWA's extra BatchNorm epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import lightning.pytorch as pl
from lightning.pytorch.callbacks import GradientAccumulationScheduler, StochasticWeightAveraging
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lightning_lr.checks import ScheduleConflictError
from lightning_lr.planner import OptimizerPlan
from lightning_lr.schedules import Timeline
from lightning_lr.train_data import is_stream, load_train_dataloader

__all__ = [
    "Run",
    "describe_run",
    "end_note",
    "fit_start_note",
    "is_stream",
    "swa_start_epoch",
    "unresolvable",
]


def swa_start_epoch(trainer: pl.Trainer) -> int | None:
    """The epoch from which ``StochasticWeightAveraging`` owns the LR; ``None`` without SWA or before it knows."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, StochasticWeightAveraging):
            try:
                return int(callback.swa_start)
            except (AssertionError, TypeError, AttributeError):  # a fraction resolved in SWA's own on_fit_start
                return None
    return None


def has_swa(trainer: pl.Trainer) -> bool:
    return any(isinstance(c, StochasticWeightAveraging) for c in trainer.callbacks)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Run:
    """The part of training a schedule callback plans for.

    Args:
        timeline: Its length and steps per epoch, in the callback's clock units.
        exact: The length is the true number of steps (automatic optimization); in manual
            optimization it is an estimate (one step per batch for each optimizer).
        debug: ``fast_dev_run`` is set: a few batches instead of the configured run.
        handover_epoch: ``StochasticWeightAveraging`` owns the LR from this epoch on.
        handover_pending: SWA is there but has not resolved its start epoch yet (before its ``on_fit_start``).
    """

    timeline: Timeline
    exact: bool = True
    debug: bool = False
    handover_epoch: int | None = None
    handover_pending: bool = False


def describe_run(
    trainer: pl.Trainer, interval: str, num_optimizers: int = 1, owns_lr: bool = True, name: str = "schedule"
) -> Run:
    """The run as a schedule with ``interval`` (``"step"`` or ``"epoch"``) sees it; SWA ends it only for
    a schedule that sets the LR (``owns_lr``), and one that SWA owns from the first epoch is refused."""
    load_train_dataloader(trainer)
    automatic = bool(trainer.lightning_module.automatic_optimization)
    batches = float(trainer.num_training_batches)
    accumulation = _accumulation_of_epoch(trainer)
    steps_per_epoch = float(math.ceil(batches / accumulation(0))) if math.isfinite(batches) else math.inf
    handover = swa_start_epoch(trainer) if owns_lr else None
    if handover == 0:
        raise ScheduleConflictError(
            f"{name}: StochasticWeightAveraging sets the LR from the first epoch (swa_epoch_start), so {name} "
            "would never set it; start SWA later or remove the callback."
        )
    max_epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else -1
    if handover is not None and (max_epochs < 0 or handover < max_epochs):
        max_epochs = handover
    max_steps = float(trainer.max_steps) if trainer.max_steps >= 0 else math.inf
    if not automatic and math.isfinite(max_steps):  # every optimizer's step counts towards max_steps
        max_steps = float(math.ceil(max_steps / max(num_optimizers, 1)))
    if interval == "step":
        total = _total_steps(batches, accumulation, max_epochs, max_steps)
        timeline = Timeline(total=total, steps_per_epoch=steps_per_epoch)
    else:
        epochs = float(max_epochs) if max_epochs >= 0 else math.inf
        if math.isfinite(max_steps) and math.isfinite(steps_per_epoch) and steps_per_epoch > 0:
            epochs = min(epochs, float(math.ceil(max_steps / steps_per_epoch)))
        timeline = Timeline(total=epochs, steps_per_epoch=1.0, unit="epochs")
    return Run(
        timeline=timeline,
        exact=automatic,
        debug=bool(getattr(trainer, "fast_dev_run", False)),
        handover_epoch=handover,
        handover_pending=handover is None and owns_lr and has_swa(trainer),
    )


def _accumulation_of_epoch(trainer: pl.Trainer) -> Callable[[int], int]:
    """``accumulate_grad_batches`` of each epoch (``GradientAccumulationScheduler`` changes it)."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, GradientAccumulationScheduler):
            return callback.get_accumulate_grad_batches  # type: ignore[no-any-return]
    factor = int(trainer.accumulate_grad_batches)
    return lambda epoch: factor


def _total_steps(batches: float, accumulation: Callable[[int], int], max_epochs: int, max_steps: float) -> float:
    """Optimizer steps of the run (per optimizer); ``inf`` when endless or not countable."""
    if not math.isfinite(batches) or max_epochs < 0:
        return max_steps
    total = 0.0
    for epoch in range(max_epochs):
        total += math.ceil(batches / accumulation(epoch))
        if total >= max_steps:
            return max_steps
    return total


def end_note(name: str, interval: str, plan: OptimizerPlan, now: float, run_total: float | None) -> None:
    """When training stopped before the schedule's planned end (early stopping, ``max_time``, the end of a
    stream), say so once: how far it got, and the last LR."""
    planned = min(plan.end, run_total if run_total is not None else math.inf)
    if math.isfinite(planned) and now < planned and not plan.stretches:
        lrs = ", ".join(f"{float(g.group['lr']):.4g}" for g in plan.groups)
        rank_zero_info(
            f"{name}: training stopped after {now:g} of the {planned:g} {interval}s the schedule planned "
            f"(early stopping, max_time or the end of a stream); last LR {lrs}."
        )


def fit_start_note(name: str, interval: str, run: Run, end: float) -> None:
    """What a user should know at fit start: a debug run's schedule, or a schedule longer than the run."""
    unit = f"{interval}s"
    if run.debug:
        rank_zero_info(
            f"{name}: fast_dev_run: the schedule is resolved on the debug run ({run.timeline.total:g} {unit}); "
            "explicit lengths are kept, so the debug run sees their first steps."
        )
    elif run.exact and math.isfinite(end) and math.isfinite(run.timeline.total) and end > run.timeline.total + 1e-9:
        rank_zero_warn(
            f"{name}: the schedule is planned over {end:g} {unit} but training has {run.timeline.total:g}; "
            "it stops before its end (the LR never reaches its final value)."
        )


def unresolvable(name: str, interval: str, trainer: pl.Trainer, run: Run, error: ValueError) -> ScheduleConflictError:
    """The error for a schedule that cannot be resolved on this run, with the reason where it is the data."""
    if interval == "epoch" and is_stream(trainer) and not math.isfinite(run.timeline.total):
        return ScheduleConflictError(
            f"{name}: with interval='epoch' the schedule needs the run's length in epochs, but the train data is "
            "a stream (an IterableDataset without __len__) whose epochs cannot be counted, so max_steps says "
            "nothing about epochs. Set max_epochs, give explicit lengths, or use interval='step'."
        )
    return ScheduleConflictError(f"{name}: {error}")
