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
from dataclasses import dataclass, field
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn
from torch.optim import Optimizer
from typing_extensions import override

from lightning_lr.callbacks.clock import OptimizerClock, run_timeline
from lightning_lr.checks import check_bool, check_choice, check_closed_interval, check_real
from lightning_lr.logging.reporter import Reporter
from lightning_lr.logging.scalars import series_names
from lightning_lr.schedules import Constant, Join, Schedule, Span, Timeline, Warmup

Interval = Literal["step", "epoch"]
WarmupLike = int | float | str | Span | None
STATE_VERSION = 1


class ScheduleConflictError(ValueError):
    """The schedule cannot run as configured with this trainer (raised before the first step)."""


def parse_warmup(value: WarmupLike, name: str = "warmup") -> Span | None:
    """``int``: clock units; ``float`` in ``[0, 1)``: fraction of training; ``"2 epochs"``/``"5%"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be an int (steps), a float in [0, 1) (fraction of training) or a string "
            f"like '2 epochs'; got {value!r}."
        )
    if isinstance(value, float):
        check_real(name, value)
        if not 0.0 <= value < 1.0:
            raise ValueError(
                f"`{name}` as a float is a fraction of training and must be in [0, 1), got {value!r}; "
                "give an int for a number of steps."
            )
        return Span(value, "fraction")
    span = Span.parse(value, name)
    if span.unit == "fraction" and span.amount >= 1.0:
        raise ValueError(f"`{name}` must be shorter than training, got {value!r}.")
    return span if span.amount > 0 else None


@dataclass
class GroupPlan:
    """The resolved LR and momentum schedules of one param group."""

    group: dict[str, Any]
    lr: Schedule
    momentum: Schedule | None
    momentum_key: str | None  # "momentum", "betas" (Adam's beta1) or None when momentum is left alone

    def apply(self, t: float) -> None:
        """Write the LR (and momentum) of clock ``t`` into the param group."""
        self.group["lr"] = self.lr(t)
        if self.momentum is not None:
            if self.momentum_key == "betas":
                self.group["betas"] = (self.momentum(t), self.group["betas"][1])
            else:
                self.group["momentum"] = self.momentum(t)

    def current_momentum(self) -> float | None:
        """The momentum (or ``beta1``) the group holds, when this plan sets it."""
        if self.momentum_key == "betas":
            return float(self.group["betas"][0])
        if self.momentum_key == "momentum":
            return float(self.group["momentum"])
        return None


@dataclass
class OptimizerPlan:
    """What a callback does to one optimizer: its clock and one :class:`GroupPlan` per param group."""

    clock: OptimizerClock
    groups: list[GroupPlan] = field(default_factory=list)
    applied_at: float = -1.0


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

    def __init__(
        self,
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
        self.optimizer_indices = _parse_indices(optimizers)
        self._state_key = f"{type(self).__qualname__}{{'optimizers': {self.optimizer_indices}}}"
        self.log_lr = None if log_lr is None else check_bool("log_lr", log_lr)
        self.log_loss = check_bool("log_loss", log_loss)
        self._reporter = Reporter(self.log_lr, self.log_loss)
        self._names: list[list[str]] = []
        self._plans: list[OptimizerPlan] = []
        self._base_lrs: list[list[float]] | None = None
        self._restored: dict[str, Any] | None = None

    # ------------------------------------------------------------------ recipe interface
    @abstractmethod
    def lr_schedule(self, base_lr: float, group_index: int, num_groups: int, timeline: Timeline) -> Schedule:
        """The resolved LR schedule of one param group, after warmup, on ``timeline``."""

    def momentum_schedule(self, group_index: int, num_groups: int, timeline: Timeline) -> Schedule | None:
        """The resolved momentum (or Adam ``beta1``) schedule of one group; ``None``: leave it alone."""
        return None

    def span(self, timeline: Timeline) -> float | None:
        """Clock units the schedule is meant to cover (``None``: endless); checked against the run."""
        return None

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
        if self._base_lrs is None:
            return {}
        return {
            "version": STATE_VERSION,
            "base_lrs": [list(b) for b in self._base_lrs],
            "steps": [p.clock.steps for p in self._plans],
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        version = state_dict.get("version", 1)
        if version > STATE_VERSION:
            raise ValueError(
                f"{type(self).__name__} state has version {version}, newer than this lightning_lr "
                f"({STATE_VERSION}); upgrade lightning_lr to resume from this checkpoint."
            )
        self._restored = dict(state_dict)

    # ------------------------------------------------------------------ hooks
    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizers = self._managed(trainer)
        self._check_conflicts(trainer, optimizers)
        try:
            timeline = run_timeline(trainer, self.interval)
            for optimizer in optimizers:  # build once with the configured LRs: fails before any step
                self.build_plan(optimizer, self.base_lrs(optimizer), timeline, OptimizerClock(optimizer))
        except ScheduleConflictError:
            raise
        except ValueError as error:  # the schedule cannot be resolved on this run
            raise ScheduleConflictError(f"{type(self).__name__}: {error}") from error

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizers = self._managed(trainer)
        restored, self._restored = self._restored, None
        if restored and restored.get("base_lrs") is not None:
            base_lrs = [list(map(float, b)) for b in restored["base_lrs"]]
            steps = list(map(int, restored["steps"]))
        elif trainer.global_step > 0 and self._base_lrs is not None and len(self._plans) == len(optimizers):
            # a further fit() on the same Trainer and callback: carry on from where the last one ended
            base_lrs, steps = self._base_lrs, [plan.clock.steps for plan in self._plans]
        else:
            base_lrs = [self.base_lrs(opt) for opt in optimizers]
            steps = [0] * len(optimizers)
            if trainer.global_step > 0:
                steps = [trainer.global_step if len(trainer.optimizers) == 1 else 0] * len(optimizers)
                rank_zero_warn(
                    f"{type(self).__name__}: training starts at global step {trainer.global_step} without this "
                    "callback's state (a checkpoint written without it?); base LRs are read from the optimizer "
                    f"as it is now and the clock starts at {steps}."
                )
        if len(base_lrs) != len(optimizers):
            raise ScheduleConflictError(
                f"{type(self).__name__}: the checkpoint holds {len(base_lrs)} optimizers' "
                f"state, the model has {len(optimizers)}."
            )
        timeline = run_timeline(trainer, self.interval)
        self._base_lrs = base_lrs
        self._remove_hooks()
        self._plans = []
        for optimizer, bases, taken in zip(optimizers, base_lrs, steps):
            clock = OptimizerClock(optimizer, taken, on_step=self._after_step)
            self._plans.append(self.build_plan(optimizer, bases, timeline, clock))
        all_names = series_names(trainer.optimizers)
        self._names = [all_names[trainer.optimizers.index(opt)] for opt in optimizers]
        self._apply_all(trainer)
        first = next(c for c in trainer.callbacks if isinstance(c, ScheduleCallback)) is self  # type: ignore[attr-defined]
        self._reporter.start(trainer, pl_module, self, first, self._plans, self._names, timeline.total)

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.interval == "epoch":
            self._apply_all(trainer)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._apply_all(trainer)
        self._reporter.before_step(trainer, self.current_values)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._reporter.after_batch(trainer, outputs)

    def current_values(self) -> dict[str, float]:
        """The LR (and momentum, where this callback sets it) of every managed group, by series name."""
        values: dict[str, float] = {}
        for plan, names in zip(self._plans, self._names):
            for g, name in zip(plan.groups, names):
                values[name] = float(g.group["lr"])
                momentum = g.current_momentum()
                if momentum is not None:
                    values[f"{name}-momentum"] = momentum
        return values

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._remove_hooks()

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._remove_hooks()
        self._restored = None  # state loaded by validate/test(ckpt_path=...) must not leak into a later fit

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._remove_hooks()  # Lightning skips teardown when fit raises: stop writing into the optimizers

    # ------------------------------------------------------------------ machinery
    def _managed(self, trainer: pl.Trainer) -> list[Optimizer]:
        optimizers = list(trainer.optimizers)
        if not any(opt.param_groups for opt in optimizers):  # None from configure_optimizers: Lightning's stand-in
            raise ScheduleConflictError(
                f"{type(self).__name__} found no optimizer: `configure_optimizers` must return at least one."
            )
        if self.optimizer_indices is None:
            return optimizers
        for i in self.optimizer_indices:
            if i >= len(optimizers):
                raise ScheduleConflictError(
                    f"{type(self).__name__}(optimizers={list(self.optimizer_indices)}) but the "
                    f"model has {len(optimizers)} optimizer(s)."
                )
        return [optimizers[i] for i in self.optimizer_indices]

    def _check_conflicts(self, trainer: pl.Trainer, optimizers: list[Optimizer]) -> None:
        mine, keys = {id(o) for o in optimizers}, self.param_keys()
        for config in trainer.lr_scheduler_configs:
            if "lr" in keys and id(getattr(config.scheduler, "optimizer", None)) in mine:
                raise ScheduleConflictError(
                    f"{type(self).__name__} and the {type(config.scheduler).__name__} returned by "
                    "`configure_optimizers` both set the LR of the same optimizer. Return only the optimizer "
                    "from `configure_optimizers`, or remove the callback."
                )
        for other in trainer.callbacks:  # type: ignore[attr-defined]
            if other is self or not isinstance(other, ScheduleCallback):
                continue
            shared = sorted(keys & other.param_keys())
            if shared and {id(o) for o in other._managed(trainer)} & mine:
                raise ScheduleConflictError(
                    f"{type(self).__name__} and {type(other).__name__} both set {', '.join(shared)} of one optimizer; "
                    "give each its own with `optimizers=[index]`, or compose the schedules into one."
                )

    def build_plan(
        self, optimizer: Optimizer, bases: list[float], timeline: Timeline, clock: OptimizerClock
    ) -> OptimizerPlan:
        """Resolve every group's LR and momentum schedule on ``timeline``; checks the length and the optimizer."""
        name = type(self).__name__
        groups = optimizer.param_groups
        if len(bases) != len(groups):
            raise ScheduleConflictError(f"{name}: {len(bases)} base LRs for {len(groups)} param groups.")
        width = self.warmup.in_steps(timeline) if self.warmup is not None else 0.0
        if width >= timeline.total:
            raise ScheduleConflictError(
                f"{name}: the warmup ({width:g} {self.interval}s) is not shorter than "
                f"training ({timeline.total:g} {self.interval}s)."
            )
        main = timeline.after(width)
        span = self.span(main)
        plan = OptimizerPlan(clock)
        for i, (group, base) in enumerate(zip(groups, bases)):
            lr = self.lr_schedule(base, i, len(groups), main)
            momentum = self.momentum_schedule(i, len(groups), main)
            span = span if span is not None or not math.isfinite(lr.length) else lr.length
            if width:
                lr = Warmup(lr, width, self.warmup_start_factor).resolve(timeline)
                momentum = None if momentum is None else Join((Constant(momentum(0.0), width), momentum))
            plan.groups.append(GroupPlan(group, lr, momentum, _momentum_key(name, optimizer, group, momentum)))
        if span is not None and math.isfinite(timeline.total) and not math.isclose(span, main.remaining, rel_tol=1e-9):
            raise ScheduleConflictError(
                f"{name}: the schedule spans {span:g} {self.interval}s but training has {main.remaining:g} "
                f"(after {width:g} of warmup). Leave the length unset to span the whole run, or change "
                "max_epochs/max_steps."
            )
        return plan

    def _clock(self, plan: OptimizerPlan, trainer: pl.Trainer) -> float:
        return float(plan.clock.steps if self.interval == "step" else trainer.current_epoch)

    def _apply_all(self, trainer: pl.Trainer) -> None:
        for plan in self._plans:
            self._apply(plan, self._clock(plan, trainer))

    def _apply(self, plan: OptimizerPlan, t: float) -> None:
        if t == plan.applied_at:
            return
        plan.applied_at = t
        for g in plan.groups:
            g.apply(t)

    def _after_step(self, clock: OptimizerClock) -> None:
        if self.interval == "step":
            for plan in self._plans:
                if plan.clock is clock:
                    self._apply(plan, float(clock.steps))

    def _remove_hooks(self) -> None:
        for plan in self._plans:
            plan.clock.detach()


def _momentum_key(name: str, optimizer: Optimizer, group: dict[str, Any], momentum: Schedule | None) -> str | None:
    if momentum is None:
        return None
    if "betas" in group:
        return "betas"
    if "momentum" in group:
        return "momentum"
    raise ScheduleConflictError(
        f"{name} cycles momentum but {type(optimizer).__name__} has neither `momentum` nor "
        "`betas`; pass `cycle_momentum=False`."
    )


def _parse_indices(value: int | Sequence[int] | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (int, Sequence)) or isinstance(value, (str, bool)):
        raise TypeError(f"`optimizers` must be an int >= 0, a list of them, or None; got {value!r}.")
    items = [value] if isinstance(value, int) else value
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items):
        raise TypeError(f"`optimizers` must be an int >= 0, a list of them, or None; got {value!r}.")
    if not items or len(set(items)) != len(items):
        raise ValueError(f"`optimizers` must list distinct indices, got {value!r}.")
    return tuple(items)
