"""The one callback that writes ``param_groups``: it applies per-group schedules on a step clock.

Every named callback (``OneCycle``, ``CosineAnnealing``, ...) is a recipe over
:class:`ScheduleCallback`: it says which schedule each param group follows, and this class
does the rest — resolving durations against the run, warmup, the per-optimizer clock, checks
before the first step, exact resume and logging.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from torch.optim import Optimizer
from typing_extensions import override

from lightning_lr.callbacks.clock import OptimizerClock
from lightning_lr.callbacks.conflicts import (
    ScheduleConflictError,
    check_hosted_schedulers,
    check_shared_keys,
    managed_optimizers,
)
from lightning_lr.callbacks.options import Interval, ScheduleOptions, WarmupLike, parse_indices, parse_warmup
from lightning_lr.callbacks.plan import GroupPlan, OptimizerPlan, Stretch, momentum_key, one_of
from lightning_lr.callbacks.resume import StartPoint, start_point
from lightning_lr.callbacks.run_length import Run, describe_run, end_note, fit_start_note, refuse_shorter, unresolvable
from lightning_lr.checks import check_bool, check_choice, check_closed_interval, check_state_version
from lightning_lr.logging.reporter import Reporter
from lightning_lr.logging.scalars import series_names
from lightning_lr.schedules import Constant, Join, Linear, Schedule, Timeline

STATE_VERSION = 2

__all__ = [
    "GroupPlan",
    "Interval",
    "OptimizerPlan",
    "ScheduleCallback",
    "ScheduleConflictError",
    "ScheduleOptions",
    "WarmupLike",
]


class ScheduleCallback(Callback):
    """Base of all schedule callbacks: sets every managed param group's LR before each step.

    Subclasses implement :meth:`lr_schedule` (and :meth:`momentum_schedule` when they cycle
    momentum). The LR of optimizer step ``k`` is ``schedule(k)`` (``schedule(epoch)`` with
    ``interval="epoch"``), written in ``on_train_batch_start`` and right after each real
    optimizer step, so it holds for LBFGS, manual optimization and several optimizers alike.

    Args:
        interval: ``"step"``: the clock counts optimizer steps (a step skipped by the AMP
            gradient scaler does not count); ``"epoch"``: it counts epochs, as a PyTorch scheduler
            stepped once per epoch.
        warmup: Linear warmup before the schedule: an ``int`` of clock units, a ``float`` in
            ``[0, 1)`` as a fraction of training, or a string such as ``"2 epochs"`` or ``"5%"``.
        warmup_start_factor: Warmup starts at this fraction of the schedule's first value.
        optimizers: Indices (into ``trainer.optimizers``) of the optimizers to drive;
            ``None``: all of them.
        log_loss: The first schedule callback of the trainer also logs the training loss
            (``loss/train``: mean over the logging interval, ``loss/train_smoothed``: running mean
            over 20 steps; both averaged over DDP ranks) next to the LR.
        log_lr: Log the LR (and the momentum it sets) of every group through ``trainer.loggers``
            every ``log_every_n_steps``, named as ``LearningRateMonitor`` does
            (``lr-SGD``, ``lr-SGD/pg2``, ``lr-SGD-momentum``). ``None``: when the trainer has a
            logger; ``True``: also warn once if it has none; ``False``: never.
    """

    holds_end: ClassVar[bool] = True
    """After its length the schedule holds its last value, as its PyTorch counterpart does (``LinearLR``,
    ``PolynomialLR``): a shorter explicit length is fine. ``False`` where the counterpart raises or turns
    back up (``OneCycleLR``, ``CosineAnnealingLR``): a length certainly shorter than the run is refused."""

    length_change: ClassVar[Literal["stretch", "replan"]] = "stretch"
    """A resume (or further ``fit``) with another run length: ``"stretch"`` the rest of the plan over it
    (:class:`~lightning_lr.callbacks.plan.Stretch`), or ``"replan"`` on the new length."""

    def __init__(
        self,
        *,
        interval: Interval = "step",
        warmup: WarmupLike = None,
        warmup_start_factor: float = 0.0,
        optimizers: int | Sequence[int] | None = None,
        log_lr: bool | None = None,
        log_loss: bool = True,
    ) -> None:
        self.interval: Interval = check_choice("interval", interval, ("step", "epoch"))  # type: ignore[assignment]
        self.warmup = parse_warmup(warmup)
        self.warmup_start_factor = check_closed_interval("warmup_start_factor", warmup_start_factor, 0.0, 1.0)
        self.optimizer_indices = parse_indices(optimizers)
        self._state_key = f"{type(self).__qualname__}{{'optimizers': {self.optimizer_indices}}}"
        self.log_lr = None if log_lr is None else check_bool("log_lr", log_lr)
        self.log_loss = check_bool("log_loss", log_loss)
        self._reporter = Reporter(self.log_lr, self.log_loss)
        self._names: list[list[str]] = []
        self._plans: list[OptimizerPlan] = []
        self._base_lrs: list[list[float]] | None = None
        self._timeline: Timeline | None = None  # the run the schedules were resolved on
        self._run_total: float | None = None  # the length of the run they serve (another after a stretch)
        self._restored: dict[str, Any] | None = None
        self._skip: str | None = None  # why this fit runs without the schedule (fast_dev_run that cannot fit it, ...)
        self._handover: int | None = None  # StochasticWeightAveraging owns the LR from this epoch
        self._handed_over = False
        self._check_at_train_start = False  # SWA's start epoch was not known at fit start
        self._all_optimizers: list[Optimizer] = []

    # ------------------------------------------------------------------ recipe interface
    @abstractmethod
    def lr_schedule(self, base_lr: float, group_index: int, num_groups: int, timeline: Timeline) -> Schedule:
        """The resolved LR schedule of one param group, after warmup, on ``timeline``."""

    def momentum_schedule(self, group_index: int, num_groups: int, timeline: Timeline) -> Schedule | None:
        """The resolved momentum (or Adam ``beta1``) schedule of one group; ``None``: leave it alone."""
        return None

    @property
    def lr_scales_with_base(self) -> bool:
        """Whether ``lr_schedule(b)(t) == b * lr_schedule(1)(t)`` to the last bit for every ``b`` and ``t``.

        Then the groups of an optimizer share one factor schedule, evaluated once per step, and each
        multiplies it by its base LR (``tests/test_plan_sharing.py`` holds every callback that says so
        to the bit). Only where the product rounds exactly as the schedule built on ``b`` does
        (``start * r**k``, ``b/2 * (cos + 1)``, ``0 + b * s(t)``); never with a warmup ramp.
        """
        return False

    def base_lrs(self, optimizer: Optimizer) -> list[float]:
        """The base LR of each group, captured once at the start of a fresh fit."""
        return [float(g["lr"]) for g in optimizer.param_groups]

    def param_keys(self) -> frozenset[str]:
        """The param-group keys this callback writes; two callbacks on one optimizer conflict when these meet."""
        cycles = getattr(self, "cycle_momentum", False) is True or getattr(self, "momentum", None) is not None
        return frozenset({"lr", "momentum", "betas"} if cycles else {"lr"})

    # ------------------------------------------------------------------ state
    @property
    @override
    def state_key(self) -> str:
        return self._state_key

    @override
    def state_dict(self) -> dict[str, Any]:
        start = self._start_point()
        return {} if start is None else {"version": STATE_VERSION, **start.to_state()}

    def _start_point(self) -> StartPoint | None:
        """Where this fit stands, as a further fit (or a checkpoint) would continue from it."""
        if self._base_lrs is None:
            return None
        return StartPoint(
            self._base_lrs,
            [p.steps for p in self._plans],
            self._timeline,
            self._run_total,
            [[(s.start, s.old_end, s.new_end) for s in p.stretches] for p in self._plans],
            [[g.ratio for g in p.groups if g.ratio is not None] for p in self._plans],  # type: ignore[misc]
        )

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        check_state_version(type(self).__name__, state_dict, STATE_VERSION)
        self._restored = dict(state_dict)

    # ------------------------------------------------------------------ hooks
    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._skip, self._handed_over = None, False
        name = type(self).__name__
        if trainer.limit_train_batches == 0:
            self._skip = "limit_train_batches=0: no training batch runs, so there is no LR to schedule"
            rank_zero_info(f"{name}: {self._skip}.")
            return
        optimizers = self._managed(trainer)
        self._check_conflicts(trainer, optimizers)
        run = self._describe(trainer, len(optimizers))
        self._check_at_train_start = run.handover_pending
        continuing = trainer.ckpt_path is not None or trainer.global_step > 0  # checked when the plan was made
        if run.handover_pending or continuing:  # SWA resolves its start in its own on_fit_start: check later
            run = Run(run.timeline, exact=False, debug=run.debug)
        try:
            for optimizer in optimizers:  # build once with the configured LRs: fails before any step
                plan = self.build_plan(optimizer, self.base_lrs(optimizer), run.timeline, run=run)
        except ValueError as error:  # the schedule cannot be resolved on this run
            if isinstance(error, ScheduleConflictError) and not run.debug:
                raise
            if not run.debug:
                raise unresolvable(name, self.interval, trainer, run, error) from error
            self._skip = f"fast_dev_run: the schedule does not fit a debug run of {run.timeline.total:g} steps"
            rank_zero_info(f"{name}: {self._skip} ({error}); the configured LRs are used for the debug run.")
            return
        fit_start_note(name, self.interval, run, plan.end)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        restored, self._restored = self._restored, None
        if self._skip is not None:
            self._plans = []
            return
        name = type(self).__name__
        optimizers = self._managed(trainer)
        run = self._describe(trainer, len(optimizers))
        self._handover, self._all_optimizers = run.handover_epoch, list(trainer.optimizers)
        single, previous = len(trainer.optimizers) == 1, self._start_point()
        start = start_point(name, restored, previous, optimizers, self.base_lrs, trainer.global_step, single)
        nows = [float(taken if self.interval == "step" else trainer.current_epoch) for taken in start.steps]
        timeline, run_total, chains = start.continue_on(run.timeline, nows, name, self.interval, self.length_change)
        self._timeline, self._run_total, self._base_lrs = timeline, run_total, start.base_lrs
        self._remove_hooks()
        self._plans = []
        checked = Run(timeline, exact=run.exact and self._check_at_train_start, debug=run.debug)
        for k, (optimizer, bases, taken) in enumerate(zip(optimizers, start.base_lrs, start.steps)):
            plan = self.build_plan(optimizer, bases, timeline, run=checked)
            plan.clock = OptimizerClock(optimizer, taken, on_step=self._after_step)
            plan.stretches = tuple(Stretch(*s) for s in chains[k])
            plan.rejoin(start.joined[k] if k < len(start.joined) else [])
            self._plans.append(plan)
        self._names = self._series_names()
        if not self._owned_by_swa(trainer):
            self._apply_all(trainer)
        first = next(c for c in trainer.callbacks if isinstance(c, ScheduleCallback)) is self  # type: ignore[attr-defined]
        self._reporter.start(trainer, pl_module, self, first, self._plans, self._names, timeline.total)

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._plans or self._owned_by_swa(trainer):
            return
        if self.interval == "epoch":
            self._apply_all(trainer)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._handed_over or not self._plans:
            return
        if batch_idx == 0 and "lr" in self.param_keys():  # a scheduler another callback added this epoch
            check_hosted_schedulers(type(self).__name__, trainer, [p.optimizer for p in self._plans])
        self._apply_all(trainer)
        self._reporter.before_step(trainer, self.current_values)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._reporter.after_batch(trainer, outputs)

    def current_values(self) -> dict[str, float]:
        """Each managed group's LR (or the key it sets) and momentum (where it sets it), by series name."""
        values: dict[str, float] = {}
        for plan, names in zip(self._plans, self._names):
            for g, name in zip(plan.groups, names):
                values[name] = float(g.group[g.key])
                momentum = g.current_momentum()
                if momentum is not None:
                    values[f"{name}-momentum"] = momentum
        return values

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._remove_hooks()
        if self._handed_over:
            return
        for plan in self._plans:
            end_note(type(self).__name__, self.interval, plan, self._clock(plan, trainer), self._run_total)

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._remove_hooks()
        self._restored = None  # state loaded by validate/test(ckpt_path=...) must not leak into a later fit

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._remove_hooks()  # Lightning skips teardown when fit raises: stop writing into the optimizers

    # ------------------------------------------------------------------ machinery
    def _managed(self, trainer: pl.Trainer) -> list[Optimizer]:
        return managed_optimizers(type(self).__name__, trainer, self.optimizer_indices)

    def _check_conflicts(self, trainer: pl.Trainer, optimizers: list[Optimizer]) -> None:
        if "lr" in self.param_keys():
            check_hosted_schedulers(type(self).__name__, trainer, optimizers)
        others = [c for c in trainer.callbacks if c is not self and isinstance(c, ScheduleCallback)]  # type: ignore[attr-defined]
        writers = [(type(c).__name__, c.param_keys(), c._managed(trainer)) for c in others]
        check_shared_keys(type(self).__name__, self.param_keys(), optimizers, writers)

    def _describe(self, trainer: pl.Trainer, num_optimizers: int) -> Run:
        owns_lr = "lr" in self.param_keys()
        return describe_run(trainer, self.interval, num_optimizers, owns_lr=owns_lr, name=type(self).__name__)

    def build_plan(
        self, optimizer: Optimizer, bases: list[float], timeline: Timeline, *, run: Run | None = None
    ) -> OptimizerPlan:
        """Resolve the LR and momentum schedule of the first ``len(bases)`` groups on ``timeline``.

        Pure: nothing is written and no clock is attached (the callback attaches one for the run).
        Refuses what is certainly a mistake when the run's length is exact (``run.exact``, the
        default): a warmup as long as training, and an explicit length shorter than training for a
        schedule that does not hold its end (:attr:`holds_end`). ``plan.end`` is where the planned
        schedule ends. Equal schedules become one object, evaluated once per step for all their groups.
        """
        name = type(self).__name__
        strict = run is None or (run.exact and not run.debug)
        groups = optimizer.param_groups
        if len(bases) > len(groups):
            raise ScheduleConflictError(f"{name}: {len(bases)} base LRs for {len(groups)} param groups.")
        width = self.warmup.in_steps(timeline) if self.warmup is not None else 0.0
        if width >= timeline.total and strict:
            raise ScheduleConflictError(
                f"{name}: the warmup ({width:g} {self.interval}s) is not shorter than "
                f"training ({timeline.total:g} {self.interval}s)."
            )
        main, scales = timeline.after(width), self.lr_scales_with_base and not width
        plan = OptimizerPlan(optimizer, holds_end=self.holds_end)
        distinct: dict[Schedule, Schedule] = {}
        for i, (group, base) in enumerate(zip(groups, bases)):
            lr = self.lr_schedule(1.0 if scales else base, i, len(bases), main)
            momentum = self.momentum_schedule(i, len(bases), main)
            if i == 0:
                plan.end = width + lr.length
            if width:
                peak = lr(0.0)
                lr = Join((Linear(self.warmup_start_factor * peak, peak, width), lr))
                momentum = None if momentum is None else Join((Constant(momentum(0.0), width), momentum))
            key = momentum_key(name, optimizer, group, momentum)
            momentum = None if momentum is None else one_of(distinct, momentum)
            plan.groups.append(GroupPlan(group, one_of(distinct, lr), momentum, key, base if scales else 1.0))
        if strict and not self.holds_end and math.isfinite(plan.end):
            refuse_shorter(name, self.interval, plan.end - width, main.remaining, width)
        return plan

    def _clock(self, plan: OptimizerPlan, trainer: pl.Trainer) -> float:
        return float(plan.steps if self.interval == "step" else trainer.current_epoch)

    def _apply_all(self, trainer: pl.Trainer) -> None:
        for plan in self._plans:
            self._apply(plan, self._clock(plan, trainer))

    def _apply(self, plan: OptimizerPlan, t: float) -> None:
        if plan.joined or len(plan.optimizer.param_groups) != len(plan.groups):
            self._sync_joined(plan, t)
        if t != plan.applied_at:
            plan.apply(t, type(self).__name__, self.interval)

    def _after_step(self, clock: OptimizerClock) -> None:
        if self.interval == "step":
            for plan in self._plans:
                if plan.clock is clock:
                    self._apply(plan, float(clock.steps))

    def _remove_hooks(self) -> None:
        for plan in self._plans:
            if plan.clock is not None:
                plan.clock.detach()

    # ------------------------------------------------------------------ param groups that appear mid-run
    def _sync_joined(self, plan: OptimizerPlan, t: float) -> None:
        added = plan.sync_groups(t)
        if added:
            self._names = self._series_names()
            self._groups_joined(plan, len(added))
        for index, value, ratio in added:
            rank_zero_info(
                f"{type(self).__name__}: param group {index} of {type(plan.optimizer).__name__} appeared at "
                f"{self.interval} {t:g} ({plan.groups[0].key}={value:.4g}); it joins the schedule at {ratio:.4g} x "
                f"group 0's value (logged as {self._names[self._plans.index(plan)][index]})."
            )

    def _groups_joined(self, plan: OptimizerPlan, count: int) -> None:
        """Called after ``count`` groups joined ``plan`` (subclasses that keep per-group state extend it)."""

    def _series_names(self) -> list[list[str]]:
        """``LearningRateMonitor``'s names of the managed groups (``lr-SGD/pg2``; ``lr-SGD-weight_decay`` for a key)."""
        names = series_names(self._all_optimizers)
        suffix = "" if self.param_keys() & {"lr"} else "-" + "-".join(sorted(self.param_keys()))
        return [[n + suffix for n in names[self._all_optimizers.index(p.optimizer)]] for p in self._plans]

    # ------------------------------------------------------------------ run length and other LR owners
    def _owned_by_swa(self, trainer: pl.Trainer) -> bool:
        """From SWA's start epoch on the LR is SWA's: hand it over, once, and say so."""
        owned = self._handover is not None and trainer.current_epoch >= self._handover
        if owned and not self._handed_over:
            self._handed_over = True
            self._remove_hooks()
            name = type(self).__name__
            rank_zero_info(
                f"{name}: StochasticWeightAveraging sets the LR from epoch {self._handover} (its swa_epoch_start); "
                f"{name} planned the epochs before it and stops here."
            )
        return owned
