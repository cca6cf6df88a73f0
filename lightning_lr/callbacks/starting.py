"""Where a schedule callback's fit starts: the one lifecycle decision, then the run its plans are made for.

:func:`start_of_fit` asks :func:`~lightning_lr.planner.begin` (fresh, resumed from a checkpoint, or a
further ``fit``), lets the callback look at the start point (``before_planning``: ``WarmupStableDecay``
follows a new run length there, the range schedules take the finder's range) and decides how the
plan continues on a run of another length (:meth:`~lightning_lr.planner.StartPoint.continue_on`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.optim import Optimizer

from lightning_lr.callbacks.consumption import Consumption, consumption_run
from lightning_lr.callbacks.drive import Drive
from lightning_lr.callbacks.run_length import Run, describe_run, fit_start_note, unresolvable
from lightning_lr.checks import ScheduleConflictError
from lightning_lr.lifecycle import fit_kind
from lightning_lr.optimizers import warn_internal_warmup, warn_restarts_on_lr_free, warn_schedule_free_unswitched
from lightning_lr.owners import check_conflicts, managed_optimizers
from lightning_lr.planner import StartPoint, begin, plan_optimizer
from lightning_lr.schedules import Timeline

if TYPE_CHECKING:
    from lightning_lr.callbacks.base import ScheduleCallback


def check_at_fit_start(callback: ScheduleCallback, trainer: pl.Trainer) -> str | None:
    """Plan once with the configured LRs, to refuse a run that cannot work before any step; why this fit runs
    without the schedule (``limit_train_batches=0``, a ``fast_dev_run`` the schedule cannot fit), else ``None``."""
    name = type(callback).__name__
    if trainer.limit_train_batches == 0:
        skip = "limit_train_batches=0: no training batch runs, so there is no LR to schedule"
        rank_zero_info(f"{name}: {skip}.")
        return skip
    optimizers = managed(callback, trainer)
    check_conflicts(callback, trainer, optimizers)
    switched = any(  # by name: lightning_lr.schedule_free imports the callbacks package
        "ScheduleFree" in (k.__name__ for k in type(c).__mro__)
        for c in trainer.callbacks  # type: ignore[attr-defined]
    )
    for warning in (warn_restarts_on_lr_free(name, optimizers) if callback.restarts else None,
                    warn_internal_warmup(name, optimizers) if "lr" in callback.param_keys() else None,
                    None if switched else warn_schedule_free_unswitched(name, optimizers)):  # fmt: skip
        if warning is not None:
            rank_zero_warn(warning)
    run = describe(callback, trainer, len(optimizers))
    callback._check_at_train_start = run.handover_pending
    if run.handover_pending or trainer.ckpt_path is not None or trainer.global_step > 0:
        run = Run(run.timeline, exact=False, debug=run.debug)  # SWA's start, or the resumed plan: at train start
    try:
        for k, optimizer in enumerate(optimizers):
            bases, strict = callback.base_lrs(optimizer), run.exact and not run.debug
            plan = plan_optimizer(callback, optimizer, bases, run.timeline, optimizer_index=k, strict=strict)
    except ValueError as error:  # the schedule cannot be resolved on this run
        if isinstance(error, ScheduleConflictError) and not run.debug:
            raise
        if not run.debug:
            raise unresolvable(name, callback.interval, trainer, run, error) from error
        skip = f"fast_dev_run: the schedule does not fit a debug run of {run.timeline.total:g} steps"
        rank_zero_info(f"{name}: {skip} ({error}); the configured LRs are used for the debug run.")
        return skip
    fit_start_note(name, callback.interval, run, plan.end)
    return None


def start_of_fit(
    callback: ScheduleCallback,
    trainer: pl.Trainer,
    restored: dict[str, Any] | None,
    previous: StartPoint | None,
    optimizers: list[Optimizer],
    run: Timeline,
) -> StartPoint:
    """The start point of this fit, its ``planned`` run, ``run_total`` and stretches set for ``run``.

    Args:
        callback: The schedule callback.
        trainer: The trainer (for the kind of fit, its epoch and global step).
        restored: The callback's state from the checkpoint (``None``: none loaded).
        previous: Where the callback's last fit on this trainer stood (``None``: no earlier fit).
        optimizers: The optimizers it drives.
        run: The run, in the callback's clock units.
    """
    name = type(callback).__name__
    if previous is not None and len(previous.steps) != len(optimizers):
        previous = None
    saved = None if not restored or restored.get("base_lrs") is None else callback.start_type.from_state(restored)
    start = begin(
        fit_kind(trainer),
        saved,
        previous,
        lambda: callback.fresh_start(trainer, optimizers),
        lambda: _without_state(callback, trainer, optimizers),
    )
    if len(start.base_lrs) != len(optimizers):
        raise ScheduleConflictError(
            f"{name}: the checkpoint holds {len(start.base_lrs)} optimizers' state, the model has {len(optimizers)}."
        )
    rule = callback.auto_warmup_rule()
    if rule is not None and start.auto_warmup is None:  # decided once, at the fresh fit; kept for resumes
        start.auto_warmup = [rule.steps(o, run) for o in optimizers]
        for o in optimizers:
            rank_zero_info(f"{name}: {rule.explain(o, run)}.")
    nows = [_now(callback.interval, start, s, trainer.current_epoch) for s in start.steps]
    start = callback.before_planning(trainer, start, run, nows)
    start.planned, start.run_total, start.stretches = start.continue_on(
        run, nows, name, callback.interval, callback.length_change, rank_zero_warn
    )
    return start


def _now(interval: str, start: StartPoint, steps: int, epoch: int) -> float:
    """An optimizer's clock where the fit starts."""
    if interval in ("sample", "token"):
        return start.consumed
    return float(steps if interval == "step" else epoch)


def _without_state(callback: ScheduleCallback, trainer: pl.Trainer, optimizers: list[Optimizer]) -> StartPoint:
    """A resumed or continued fit without the callback's state: base values as the optimizers hold them now."""
    start = callback.fresh_start(trainer, optimizers)
    if trainer.global_step > 0:
        start.steps = [trainer.global_step if len(trainer.optimizers) == 1 else 0] * len(optimizers)
        rank_zero_warn(
            f"{type(callback).__name__}: training starts at global step {trainer.global_step} without this "
            "callback's state (a checkpoint written without it?); base LRs are read from the optimizer as it is "
            f"now and the clock starts at {start.steps}."
        )
    return start


def drive_from(
    callback: ScheduleCallback,
    trainer: pl.Trainer,
    start: StartPoint,
    optimizers: list[Optimizer],
    run: Run,
    check: bool,
) -> Drive:
    """The plans of this fit made from ``start`` (``check``: refuse certain mistakes now, as the length could not
    be checked at fit start), on their clocks."""
    timeline = start.planned or run.timeline
    strict = run.exact and check and not run.debug
    plans = []
    for k, (optimizer, bases) in enumerate(zip(optimizers, start.base_lrs)):
        plan = plan_optimizer(callback, optimizer, bases, timeline, optimizer_index=k, strict=strict, start=start)
        start.rebuild(plan, k)
        plans.append(plan)
    keys = callback.param_keys()
    suffix = "" if "lr" in keys else "-" + "-".join(sorted(keys))
    name, unit = type(callback).__name__, callback.clock_unit
    consumption = None
    if unit in ("samples", "tokens"):
        consumption = Consumption(unit, callback.count, start.consumed, trainer.global_step)
    return Drive(name, callback.interval, start, plans, trainer.optimizers, suffix, run.handover_epoch, consumption)


def managed(callback: ScheduleCallback, trainer: pl.Trainer) -> list[Optimizer]:
    """The optimizers ``callback`` drives (refused clearly when its indices are out of range)."""
    return managed_optimizers(type(callback).__name__, trainer, callback.optimizer_indices)


def describe(callback: ScheduleCallback, trainer: pl.Trainer, num_optimizers: int) -> Run:
    """The run as ``callback``'s clock sees it (SWA ends it for a callback that sets the LR)."""
    owns_lr, name, unit = "lr" in callback.param_keys(), type(callback).__name__, callback.clock_unit
    if unit in ("samples", "tokens"):
        steps = describe_run(trainer, "step", num_optimizers, owns_lr=owns_lr, name=name)
        return consumption_run(trainer, unit, callback.count, callback.total, steps)
    return describe_run(trainer, callback.interval, num_optimizers, owns_lr=owns_lr, name=name)
