r"""Reduce the LR when a metric stops improving — composable with warmup and any schedule."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal

import lightning.pytorch as pl
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn
from typing_extensions import Unpack, override

from lightning_lr.callbacks.generic import LRScheduler
from lightning_lr.callbacks.metric_watch import Improvement, read_metric
from lightning_lr.callbacks.options import ScheduleOptions
from lightning_lr.checks import (
    check_choice,
    check_non_negative,
    check_non_negative_int,
    check_open_interval,
    per_group,
    pick_group,
)
from lightning_lr.planner import GroupSlot, StartPoint
from lightning_lr.schedules import Constant, Schedule, Timeline


@dataclass
class PlateauState:
    """What ``ReduceLROnPlateau`` remembers between checks (saved in checkpoints; the cuts themselves are the
    callback's :attr:`~lightning_lr.ScheduleCallback.lr_cuts`)."""

    best: float
    num_bad_checks: int = 0
    cooldown_counter: int = 0
    checks: int = 0


@dataclass
class PlateauStart(StartPoint):
    """A start point that also keeps the plateau checks (``None`` in a state written without them)."""

    plateau: PlateauState | None = None

    def extra_state(self) -> dict[str, Any]:
        return {} if self.plateau is None else {"plateau": asdict(self.plateau)}

    @classmethod
    def extra_fields(cls, state: dict[str, Any]) -> dict[str, Any]:
        saved = state.get("plateau")
        if saved is None:
            return {}
        known = {f.name for f in fields(PlateauState)}  # before version 3 it also held the cuts ("scales")
        return {"plateau": PlateauState(**{k: v for k, v in saved.items() if k in known})}


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply the LR by ``factor`` when ``monitor`` has not improved for ``patience`` checks.

    Same decisions as PyTorch's ``ReduceLROnPlateau``: a value :math:`a` improves on the best
    :math:`b` when :math:`a < b(1 - \theta)` (``mode="min"``, ``threshold_mode="rel"``),
    :math:`a < b - \theta` (``"abs"``), or the mirror images for ``mode="max"``. After more than
    ``patience`` checks without improvement each group's LR becomes
    :math:`\max(\eta \cdot \mathrm{factor}, \eta_{min})` (skipped when the change is
    :math:`\le \epsilon`), then ``cooldown`` checks are ignored.

    Unlike PyTorch it composes: the reductions multiply ``schedule`` (constant by default) and
    the optional ``warmup``,

    .. math:: \eta_g(t) = \max\!\left(\eta_g^{base}\, s(t)\, \mathrm{factor}^{r_g},\ \eta_{min,g}\right)

    after :math:`r_g \ge 1` reductions of group :math:`g`, and :math:`\eta_g^{base}\, s(t)` before the
    first (``min_lr`` bounds the reductions, as in PyTorch: it never raises an LR that was not cut).

    The metric is checked when it is logged: after each validation run (not the sanity check)
    or, for a metric logged in training, at the end of each training epoch. Under DDP it is
    averaged over ranks first, so every rank takes the same decision.

    Args:
        monitor: Name of the logged metric, e.g. ``"val_loss"``.
        mode: ``"min"`` or ``"max"``.
        factor: Reduction factor, in (0, 1).
        patience: Checks without improvement tolerated before reducing.
        threshold: Minimal change that counts as an improvement.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: Checks to wait after a reduction before counting again.
        min_lr: Floor of the LR, one number or one per param group.
        eps: Reductions smaller than this are skipped.
        schedule: Factor schedule the reductions multiply; ``None``: constant 1.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = ReduceLROnPlateau(monitor="val_loss", patience=3, warmup="1 epoch")
    """

    metric_driven: ClassVar[bool] = True
    start_type: ClassVar[type[StartPoint]] = PlateauStart

    def __init__(
        self,
        monitor: str,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
        schedule: Schedule | None = None,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(schedule if schedule is not None else Constant(1.0), **options)
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"`monitor` must be the name of a logged metric, got {monitor!r}.")
        self.monitor = monitor
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.factor = check_open_interval("factor", factor, 0.0, 1.0)
        self.patience = check_non_negative_int("patience", patience)
        self.threshold = check_non_negative("threshold", threshold)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self._rule = Improvement(self.mode, self.threshold, self.threshold_mode)  # type: ignore[arg-type]
        self.cooldown = check_non_negative_int("cooldown", cooldown)
        self.min_lr = per_group("min_lr", min_lr, check_non_negative)
        self.eps = check_non_negative("eps", eps)
        self._validated = False
        self._before_validation: Any = None
        self._warned_missing = False

    @property
    def plateau(self) -> PlateauState:
        """Best value, checks so far, checks without improvement and the cooldown left (see :attr:`lr_cuts`
        for the reductions)."""
        start = self._drive.start if self._drive is not None else None
        if isinstance(start, PlateauStart) and start.plateau is not None:
            return start.plateau
        return PlateauState(best=self._worst())

    def _worst(self) -> float:
        return self._rule.worst()

    def is_better(self, current: float, best: float) -> bool:
        """Whether ``current`` improves on ``best`` by more than the threshold (:class:`Improvement`)."""
        return self._rule.is_better(current, best)

    def lr_floor(self, slot: GroupSlot) -> float:
        return pick_group("min_lr", self.min_lr, slot.group, slot.groups)

    def preview_note(self) -> str:
        return (
            f"no cuts shown: they depend on the metric (each x{self.factor:g} after "
            f"{self.patience} checks of '{self.monitor}' without improvement)"
        )

    # ------------------------------------------------------------------ state
    @override
    def before_planning(self, trainer: pl.Trainer, start: StartPoint, run: Timeline, nows: list[float]) -> StartPoint:
        if isinstance(start, PlateauStart) and start.plateau is None:
            start.plateau = PlateauState(best=self._worst())
        return start

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._before_validation = trainer.callback_metrics.get(self.monitor)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._drive is None or trainer.state.fn != TrainerFn.FITTING:
            return  # only validation inside fit counts (not the sanity check, not trainer.validate())
        value = trainer.callback_metrics.get(self.monitor)
        logged = value is not None and value is not self._before_validation  # by this validation run
        if trainer.strategy.reduce_boolean_decision(logged, all=True):  # every rank has it: one collective check
            self._validated = True
            self._check(trainer)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._validated:  # else validation logs it: checked there
            self._check_logged_in_training(trainer)
        super().on_train_epoch_end(trainer, pl_module)

    def _check_logged_in_training(self, trainer: pl.Trainer) -> None:
        if trainer.strategy.reduce_boolean_decision(self.monitor in trainer.callback_metrics, all=True):
            self._check(trainer)
        elif not self._warned_missing:
            self._warned_missing = True
            rank_zero_warn(
                f"ReduceLROnPlateau(monitor={self.monitor!r}) found no such metric on every rank at the end of "
                f"epoch {trainer.current_epoch} (logged here: {sorted(trainer.callback_metrics)}); the LR is not "
                "reduced until it is logged (on every rank: not with `rank_zero_only=True`)."
            )

    # ------------------------------------------------------------------ machinery
    def _check(self, trainer: pl.Trainer) -> None:
        current = read_metric(trainer, self.monitor)
        state = self.plateau
        state.checks += 1
        if self.is_better(current, state.best):
            state.best, state.num_bad_checks = current, 0
        else:
            state.num_bad_checks += 1
        if state.cooldown_counter > 0:
            state.cooldown_counter -= 1
            state.num_bad_checks = 0
        if state.num_bad_checks > self.patience:
            self._reduce(trainer)
            state.cooldown_counter, state.num_bad_checks = self.cooldown, 0

    def _reduce(self, trainer: pl.Trainer) -> None:
        """Cut each group by ``factor`` unless the cut is ``<= eps`` (PyTorch's rule), never below ``min_lr``."""
        if self._drive is None:
            return
        factors = []
        for plan in self._drive.plans:
            row = []
            for g in plan.groups:
                old = float(g.group["lr"])
                row.append(self.factor if old - max(old * self.factor, g.floor) > self.eps else 1.0)
            factors.append(row)
        self._drive.cut(factors, trainer.current_epoch)
