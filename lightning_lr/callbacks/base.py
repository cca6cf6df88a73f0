"""The one callback that writes ``param_groups``: a :class:`~lightning_lr.planner.Recipe` driven through Lightning's
hooks (checked at fit start, started from the one lifecycle decision at train start, written at every step)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from torch.optim import Optimizer
from typing_extensions import override

from lightning_lr.callbacks.consumption import check_clock_options
from lightning_lr.callbacks.drive import Drive
from lightning_lr.callbacks.options import Interval, ScheduleOptions, WarmupLike, parse_indices
from lightning_lr.callbacks.starting import check_at_fit_start, describe, drive_from, managed, start_of_fit
from lightning_lr.checks import ScheduleConflictError, check_bool, check_positive, check_state_version
from lightning_lr.logging.reporter import Reporter
from lightning_lr.planner import Recipe, StartPoint
from lightning_lr.schedules import Timeline

STATE_VERSION = 3

__all__ = ["ScheduleCallback", "ScheduleConflictError", "ScheduleOptions"]


class ScheduleCallback(Recipe, Callback):
    """Base of all schedule callbacks: sets every managed param group's value before each step.

    Subclasses implement :meth:`~lightning_lr.planner.Recipe.lr_schedule` (and ``momentum_schedule``).
    The LR of optimizer step ``k`` is ``schedule(k)`` (``schedule(epoch)`` with ``interval="epoch"``),
    written in ``on_train_batch_start`` and right after each real optimizer step, so it holds for LBFGS,
    manual optimization and several optimizers alike; an epoch clock writes the next epoch's LR at the
    end of the previous epoch, so every other callback's ``on_train_epoch_start`` already sees it.

    Args:
        interval: ``"step"``: the clock counts optimizer steps (a step skipped by the AMP gradient scaler
            does not count); ``"epoch"``: it counts epochs, as a PyTorch scheduler stepped once per epoch.
        warmup: Linear warmup before the schedule: an ``int`` of clock units, a ``float`` in ``[0, 1)`` as a
            fraction of training, a string such as ``"2 epochs"`` or ``"5%"``, or ``"auto"``: 2/(1-beta2) steps for
            Adam-type optimizers, none for SGD, capped at 10% of the run, decided at a fresh fit
            (:class:`~lightning_lr.planner.AutoWarmup`).
        warmup_start_factor: Warmup starts at this fraction of the schedule's first value.
        optimizers: Indices (into ``trainer.optimizers``) of the optimizers to drive; ``None``: all of them.
        log_loss: The first schedule callback of the trainer also logs the training loss (``loss/train``:
            mean over the logging interval, ``loss/train_smoothed``: running mean over 20 steps; both
            averaged over DDP ranks) next to the LR.
        count: On a clock of samples or tokens, how a batch is counted: ``None`` (samples: the size of the batch
            dimension of its first tensor), the key of the count in the ``training_step`` output (``"num_tokens"``),
            or a function of the batch (``lambda batch: int(batch["attention_mask"].sum())``). Required for tokens.
        total: On a clock of samples or tokens, the run's length when the trainer cannot tell it (always for
            tokens): ``"300B tokens"``, ``"1.2M samples"`` or a number of them.
        log_lr: Log the LR (and the momentum it sets) of every group every ``log_every_n_steps``, named as
            ``LearningRateMonitor`` does (``lr-SGD``, ``lr-SGD/pg2``, ``lr-SGD-momentum``), through
            ``trainer.loggers`` and into ``trainer.callback_metrics``. ``None``: when the trainer has a
            logger; ``True``: also warn once if it has none; ``False``: never.
    """

    start_type: ClassVar[type[StartPoint]] = StartPoint
    """What the callback keeps between fits and in checkpoints (subclasses extend it with their fields)."""

    def __init__(
        self,
        *,
        interval: Interval = "step",
        warmup: WarmupLike = None,
        warmup_start_factor: float = 0.0,
        optimizers: int | Sequence[int] | None = None,
        log_lr: bool | None = None,
        log_loss: bool = True,
        count: str | Callable[[Any], float] | None = None,
        total: float | str | None = None,
    ) -> None:
        super().__init__(interval=interval, warmup=warmup, warmup_start_factor=warmup_start_factor)
        self.count, self.total = check_clock_options(self.interval, count, total)
        self.optimizer_indices = parse_indices(optimizers)
        self._state_key = f"{type(self).__qualname__}{{'optimizers': {self.optimizer_indices}}}"
        self.log_lr = None if log_lr is None else check_bool("log_lr", log_lr)
        self.log_loss = check_bool("log_loss", log_loss)
        self._reporter = Reporter(self.log_lr, self.log_loss)
        self._drive: Drive | None = None  # the plans of the running (or last) fit
        self._restored: dict[str, Any] | None = None
        self._skip: str | None = None  # why this fit runs without the schedule (fast_dev_run that cannot fit it, ...)
        self._check_at_train_start = False  # SWA's start epoch was not known at fit start
        self._trainer: pl.Trainer | None = None

    # ------------------------------------------------------------------ state
    @property
    @override
    def state_key(self) -> str:
        return self._state_key

    @override
    def state_dict(self) -> dict[str, Any]:
        return {} if self._drive is None else {"version": STATE_VERSION, **self._drive.state().to_state()}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        check_state_version(type(self).__name__, state_dict, STATE_VERSION)
        self._restored = dict(state_dict)

    # ------------------------------------------------------------------ the LR cut
    def cut_lr(self, factor: float) -> None:
        """Multiply the LR of every group this callback drives by ``factor`` from now on, on top of the schedule.

        The cut stays: it is kept in the callback's checkpoint state and carried into further fits of the
        Trainer (a fresh fit starts uncut). ``ReduceLROnPlateau``'s reductions are such cuts.
        """
        factor = check_positive("factor", factor)
        if self._drive is None or self._trainer is None:
            raise RuntimeError(f"{type(self).__name__}.cut_lr() works during `trainer.fit` (from on_train_start on).")
        self._drive.cut([[factor] * len(p.groups) for p in self._drive.plans], self._trainer.current_epoch)

    @property
    def lr_cuts(self) -> list[list[float]]:
        """Each driven group's LR cut so far, per optimizer (1.0: none)."""
        return [] if self._drive is None else self._drive.state().cuts

    # ------------------------------------------------------------------ hooks
    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._skip = check_at_fit_start(self, trainer)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        restored, self._restored = self._restored, None
        if self._skip is not None:
            self._drive = None
            return
        optimizers = managed(self, trainer)
        run = describe(self, trainer, len(optimizers))
        previous = None if self._drive is None else self._drive.state()
        start = start_of_fit(self, trainer, restored, previous, optimizers, run.timeline)
        if self._drive is not None:
            self._drive.detach()
        self._drive = drive_from(self, trainer, start, optimizers, run, self._check_at_train_start)
        self._trainer = trainer
        if not self._drive.owned_by_swa(trainer.current_epoch):
            self._drive.apply_all(trainer.current_epoch)
        first = next((c for c in trainer.callbacks if isinstance(c, ScheduleCallback)), self) is self  # type: ignore[attr-defined]
        total = run.timeline.total if start.planned is None else start.planned.total
        self._reporter.start(trainer, pl_module, self, first, self._drive.plans, self._drive.names, total)

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        drive = self._drive
        if drive is not None and not drive.owned_by_swa(trainer.current_epoch) and self.interval == "epoch":
            drive.apply_all(trainer.current_epoch)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._drive is not None and self._drive.before_batch(trainer, batch_idx, "lr" in self.param_keys()):
            self._reporter.before_step(trainer, self.current_values)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._drive is not None:
            self._drive.count(trainer, batch, outputs)  # a clock of samples or tokens
        self._reporter.after_batch(trainer, outputs)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """An epoch clock writes the next epoch's LR now, as Lightning steps epoch schedulers here."""
        if self.interval == "epoch" and self._drive is not None and not trainer.should_stop:
            self._drive.write_ahead(trainer.current_epoch + 1)

    def current_values(self) -> dict[str, float]:
        """Each managed group's value (the LR, or the key it sets) and momentum (where it sets it), by series name."""
        return {} if self._drive is None else self._drive.values()

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._drive is not None:
            self._drive.end(trainer.current_epoch)

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.on_exception(trainer, pl_module, None)  # type: ignore[arg-type]
        self._restored, self._trainer = None, None  # state loaded by validate/test(ckpt_path=...) must not leak

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self._drive is not None:  # Lightning skips teardown when fit raises: stop writing into the optimizers
            self._drive.detach()

    # ------------------------------------------------------------------ planning
    def fresh_start(self, trainer: pl.Trainer, optimizers: list[Optimizer]) -> StartPoint:
        """The start point of a fresh fit: base values from the optimizers as they are now, clocks at 0."""
        return self.start_type([self.base_lrs(o) for o in optimizers], [0] * len(optimizers))

    def before_planning(self, trainer: pl.Trainer, start: StartPoint, run: Timeline, nows: list[float]) -> StartPoint:
        """A last look at ``start`` before the plans are made on ``run`` (``nows``: each clock); returns it."""
        return start
