"""Everything a schedule callback reports: LR/momentum scalars (to the loggers and ``trainer.callback_metrics``),
the loss, TensorBoard extras."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info

from lightning_lr.logging.figures import schedule_figure
from lightning_lr.logging.loss import LossTracker, loss_of
from lightning_lr.logging.scalars import ScalarLogger, due, log_every, series_names
from lightning_lr.logging.tensorboard import SCHEDULE_FIGURE_TAG, add_dashboard, add_figure, tensorboard_writers
from lightning_lr.planner import Recipe


class Reporter:
    """Owned by a schedule callback; writes through ``trainer.loggers`` and into ``trainer.callback_metrics``.

    The first schedule callback in ``trainer.callbacks`` also logs the training loss and writes
    the TensorBoard dashboard layout (once per run, for every optimizer).
    """

    def __init__(self, log_lr: bool | None, log_loss: bool) -> None:
        self.scalars = ScalarLogger(log_lr)
        self.log_loss = log_loss
        self.loss: LossTracker | None = None
        self._seen_step = -1
        self._last_loss_step = -1

    def active(self, trainer: pl.Trainer) -> bool:
        return self.scalars.enabled is not False and bool(trainer.loggers)

    def start(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        callback: Recipe,
        first: bool,
        plans: Sequence[Any],
        names: Sequence[Sequence[str]],
        total: float,
    ) -> None:
        """At train start: dashboard layout and loss tracking (``first`` callback only), schedule figure."""
        self.scalars.reset()
        self.loss = None
        self._seen_step = trainer.global_step
        self._last_loss_step = -1
        if not self.active(trainer):
            return
        if first:
            add_dashboard(trainer, series_names(trainer.optimizers), with_loss=self.log_loss)
            if self.log_loss:
                self.loss = LossTracker().to(pl_module.device)
        if tensorboard_writers(trainer) and math.isfinite(total) and total > 0:
            try:
                figure = schedule_figure(callback, plans, names, total)
            except ImportError:  # matplotlib is a dependency; a broken install should not stop training
                rank_zero_info("lightning_lr: matplotlib could not be imported: no planned-schedule figure.")
                return
            key = "" if callback.key == "lr" else callback.key  # HyperparameterScheduler: a value other than the LR
            name = type(callback).__name__ + (f"-{key}" if key else "")
            if key:
                figure.axes[0].set_ylabel(key)
            add_figure(trainer, f"{SCHEDULE_FIGURE_TAG}/{name}", figure, trainer.global_step)

    def before_step(self, trainer: pl.Trainer, values: Callable[[], dict[str, float]]) -> None:
        """Log ``values()`` and put them into ``trainer.callback_metrics`` at this step, when either is due
        (``values()`` is built only then: with hundreds of param groups it is not free)."""
        log, publish = self.scalars.should_log(trainer), self.scalars.should_publish(trainer)
        if not (log or publish):
            return
        current = values()
        if log:
            self.scalars.log(trainer, current)
        if publish:
            self.scalars.publish(trainer, current)

    def after_batch(self, trainer: pl.Trainer, outputs: Any) -> None:
        if self.loss is None:
            return
        loss = loss_of(outputs)
        if loss is not None:
            self.loss.update(loss)
        if trainer.global_step == self._seen_step:  # mid accumulation window: no step yet
            return
        step, self._seen_step = self._seen_step, trainer.global_step  # the step(s) just taken started at `step`
        if due(step, self._last_loss_step, log_every(trainer)) and self.loss.updated:
            self._last_loss_step = step
            values = self.loss.compute()  # on every rank: may all-gather under DDP
            for logger in trainer.loggers:
                logger.log_metrics(values, step=step)
