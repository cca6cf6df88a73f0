"""The plans of one fit on their clocks: what a schedule callback runs between ``on_train_start`` and the end.

A :class:`Drive` holds one :class:`~lightning_lr.planner.OptimizerPlan` per optimizer with its
:class:`~lightning_lr.planner.OptimizerClock`, writes each clock value's LRs (once per value), lets
param groups added mid-run join, cuts the LR on request, hands the LR over to
``StochasticWeightAveraging`` at its start epoch, and says where the fit stands
(:meth:`Drive.state`) for a checkpoint or a further ``fit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.optim import Optimizer

from lightning_lr.callbacks.consumption import Consumption
from lightning_lr.callbacks.run_length import end_note
from lightning_lr.logging.scalars import series_names
from lightning_lr.optimizers import effective_lr, has_effective_lr
from lightning_lr.owners import check_hosted_schedulers
from lightning_lr.planner import Interval, OptimizerClock, OptimizerPlan, StartPoint


class Drive:
    """Runs ``plans`` (one per driven optimizer) from ``start`` for the callback named ``name``.

    Args:
        name: The callback's name, for messages.
        interval: ``"step"``: each plan's clock counts its optimizer's real steps; ``"epoch"``: the epoch.
        start: Where the fit started (base values, steps taken, ...).
        plans: The plans, in the order of ``start``'s optimizers; their clocks are attached here.
        all_optimizers: Every optimizer of the trainer (series names count them all).
        key_suffix: Appended to the series names (``"-weight_decay"`` for a value other than the LR).
        handover: ``StochasticWeightAveraging`` owns the LR from this epoch on (``None``: never).
        consumption: On a clock of samples or tokens, their count (the clock of every plan).
    """

    def __init__(
        self,
        name: str,
        interval: Interval,
        start: StartPoint,
        plans: list[OptimizerPlan],
        all_optimizers: Sequence[Optimizer],
        key_suffix: str = "",
        handover: int | None = None,
        consumption: Consumption | None = None,
    ) -> None:
        self.name, self.interval, self.start, self.plans = name, interval, start, plans
        self.all_optimizers, self.key_suffix, self.handover = list(all_optimizers), key_suffix, handover
        self.consumption = consumption
        self.handed_over = False
        for plan, taken in zip(plans, start.steps):
            plan.clock = OptimizerClock(plan.optimizer, taken, on_step=self._after_step)
            plan.warn = rank_zero_warn
        self.names = self._series_names()

    def clock(self, plan: OptimizerPlan, epoch: int) -> float:
        """The plan's clock value: its optimizer's steps, the epoch, or the samples (tokens) trained on."""
        if self.consumption is not None:
            return self.consumption.value
        return float(plan.steps if self.interval == "step" else epoch)

    def count(self, trainer: pl.Trainer, batch: Any, outputs: Any) -> None:
        """Count a batch on a clock of samples or tokens; when its step was taken, write the LRs of the new value."""
        if self.consumption is not None and self.consumption.add(trainer, batch, outputs) and not self.handed_over:
            self.apply_all(trainer.current_epoch)

    def before_batch(self, trainer: pl.Trainer, batch_idx: int, owns_lr: bool) -> bool:
        """Before a training batch: write the values of now; whether the plans still own them (not handed over).

        At an epoch's first batch a scheduler another callback added since (``StochasticWeightAveraging``'s,
        once the schedule has handed over it is not checked) is refused."""
        if self.handed_over:
            return False
        if batch_idx == 0 and owns_lr:
            check_hosted_schedulers(self.name, trainer, [p.optimizer for p in self.plans])
        self.apply_all(trainer.current_epoch)
        return True

    def apply_all(self, epoch: int) -> None:
        """Write every plan's values for its clock now (``epoch``: the current epoch)."""
        for plan in self.plans:
            self.apply(plan, self.clock(plan, epoch))

    def apply(self, plan: OptimizerPlan, t: float, force: bool = False) -> None:
        """Write ``plan``'s values at clock ``t`` (skipped when already written for ``t``, unless ``force``)."""
        if plan.joined or len(plan.optimizer.param_groups) != len(plan.groups):
            self._sync_joined(plan, t)
        if force or t != plan.applied_at:
            plan.apply(t, self.name, self.interval)

    def write_ahead(self, epoch: int) -> None:
        """An epoch clock at the end of an epoch: write the LRs of the following ``epoch`` when it is planned and the
        schedule still owns the LR then (another callback's ``on_train_epoch_start`` sees them, whatever the order)."""
        planned = self.start.run_total if self.start.run_total is not None else math.inf
        if not self.handed_over and epoch < planned and (self.handover is None or epoch < self.handover):
            self.apply_all(epoch)

    def end(self, epoch: int) -> None:
        """At the end of training: stop, and say so when it stopped before the plan's end."""
        self.detach()
        for plan in [] if self.handed_over else self.plans:
            end_note(self.name, self.interval, plan, self.clock(plan, epoch), self.start.run_total)

    def _after_step(self, clock: OptimizerClock) -> None:
        if self.interval == "step" and not self.handed_over:
            for plan in self.plans:
                if plan.clock is clock:
                    self.apply(plan, float(clock.steps))

    def values(self) -> dict[str, float]:
        """Each group's value (the LR, or the key it sets) and momentum (where it is set), by series name."""
        values: dict[str, float] = {}
        for plan, names in zip(self.plans, self.names):
            for g, name in zip(plan.groups, names):
                values[name] = float(g.group[g.key])
                if g.key == "lr" and has_effective_lr(plan.optimizer):  # d * lr, or the optimizer's own warmup
                    values[f"{name}-effective"] = effective_lr(g.group)
                momentum = g.current_momentum()
                if momentum is not None:
                    values[f"{name}-momentum"] = momentum
        if self.consumption is not None:  # the clock itself, to read the LR against (clock/samples, clock/tokens)
            values[f"clock/{self.consumption.unit}"] = self.consumption.value
        return values

    def detach(self) -> None:
        """Stop counting and writing (idempotent)."""
        for plan in self.plans:
            if plan.clock is not None:
                plan.clock.detach()

    def state(self) -> StartPoint:
        """Where the fit stands, as a checkpoint or a further ``fit`` would continue from it."""
        return self.start.progressed(self.plans, 0.0 if self.consumption is None else self.consumption.value)

    def cut(self, factors: Sequence[Sequence[float]], epoch: int) -> None:
        """Multiply each group's persistent LR cut by ``factors[k][i]`` and write the LRs of now."""
        for plan, row in zip(self.plans, factors):
            for g, factor in zip(plan.groups, row):
                g.factor *= factor
            self.apply(plan, self.clock(plan, epoch), force=True)

    def replan(self, build: Callable[[int, OptimizerPlan], OptimizerPlan]) -> None:
        """Replace each plan by ``build(k, plan)`` (a decision changed the schedule mid-run), keeping its clock,
        stretches, the groups that joined and the cuts; the caller writes the values of now."""
        for k, old in enumerate(self.plans):
            new = build(k, old)
            new.warn = rank_zero_warn
            for g in old.groups[len(new.groups) :]:
                new.groups.append(new.joiner(g.group, g.ratio if g.ratio is not None else 1.0))
            for g_new, g_old in zip(new.groups, old.groups):
                g_new.factor = g_old.factor
            new.stretches, new.clock = old.stretches, old.clock
            self.plans[k] = new

    # ------------------------------------------------------------------ param groups that appear mid-run
    def _sync_joined(self, plan: OptimizerPlan, t: float) -> None:
        added = plan.sync_groups(t)
        if not added:
            return
        self.names = self._series_names()
        for index, value, ratio in added:
            rank_zero_info(
                f"{self.name}: param group {index} of {type(plan.optimizer).__name__} appeared at "
                f"{self.interval} {t:g} ({plan.groups[0].key}={value:.4g}); it joins the schedule at {ratio:.4g} x "
                f"group 0's value (logged as {self.names[self.plans.index(plan)][index]})."
            )

    def _series_names(self) -> list[list[str]]:
        """``LearningRateMonitor``'s names of the driven groups (``lr-SGD/pg2``; ``lr-SGD-weight_decay`` for a key)."""
        names = series_names(self.all_optimizers)
        return [[n + self.key_suffix for n in names[self.all_optimizers.index(p.optimizer)]] for p in self.plans]

    # ------------------------------------------------------------------ StochasticWeightAveraging
    def owned_by_swa(self, epoch: int) -> bool:
        """From SWA's start epoch on the LR is SWA's: hand it over, once, and say so."""
        owned = self.handover is not None and epoch >= self.handover
        if owned and not self.handed_over:
            self.handed_over = True
            self.detach()
            rank_zero_info(
                f"{self.name}: StochasticWeightAveraging sets the LR from epoch {self.handover} (its swa_epoch_start); "
                f"{self.name} planned the epochs before it and stops here."
            )
        return owned
