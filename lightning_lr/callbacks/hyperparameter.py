r"""Schedules for param-group values other than the LR: weight decay, Adam's ``eps``, ..."""

from __future__ import annotations

from torch.optim import Optimizer
from typing_extensions import Unpack

from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.options import RunOptions
from lightning_lr.checks import ScheduleConflictError, check_bool
from lightning_lr.planner import GroupSlot
from lightning_lr.schedules import Affine, Schedule, Timeline
from lightning_lr.schedules.combinators import _check_schedule

_NOT_NUMERIC = ("params", "betas", "name")


class HyperparameterScheduler(ScheduleCallback):
    r"""Set a numeric param-group value (weight decay, ...) from a schedule at every optimizer step.

    .. math:: h_g(t) = s(t) \quad\text{or, with } \texttt{relative=True},\quad h_g(t) = h_g^{conf}\, s(t)

    where :math:`h_g^{conf}` is the value group :math:`g` was configured with, captured at the start
    of a fresh fit and kept in the checkpoint. The clock, the resume, the DDP behaviour and the
    durations (steps, ``"2 epochs"``, ``"10%"``) are those of the LR callbacks, and it runs next to
    one of them on the same optimizer: callbacks conflict only when they set the same key.
    The value is logged under ``LearningRateMonitor``'s name for it:
    ``lr-AdamW-weight_decay`` (``lr-AdamW/pg1-weight_decay`` with several groups), likewise
    ``lr-AdamW-<key>`` for other keys.

    Args:
        key: The param-group key to set, e.g. ``"weight_decay"``; its value must be a number.
        schedule: The values, a :class:`~lightning_lr.schedules.Schedule` of the clock.
        relative: ``False``: the schedule gives the values themselves (the same for every group);
            ``True``: it gives a factor of each group's configured value (a group configured with
            0 stays at 0, e.g. biases without weight decay).
        log: Log the values (like ``log_lr`` of :class:`ScheduleCallback`).
        **options: Keyword-only ``interval``, ``optimizers``, ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        The weight-decay schedule of DINO (Caron et al., 2021), cosine from 0.04 to 0.4 over training:

        >>> from lightning.pytorch import Trainer
        >>> from lightning_lr import CosineAnnealing
        >>> from lightning_lr.schedules import Cosine
        >>> callbacks = [CosineAnnealing(warmup="10%"), HyperparameterScheduler("weight_decay", Cosine(0.04, 0.4))]
        >>> trainer = Trainer(max_epochs=10, callbacks=callbacks, logger=False)
    """

    def __init__(
        self,
        key: str,
        schedule: Schedule,
        relative: bool = False,
        log: bool | None = None,
        **options: Unpack[RunOptions],
    ) -> None:
        if not isinstance(key, str) or not key or key in _NOT_NUMERIC:
            raise ValueError(
                f"`key` must name a numeric param-group value such as 'weight_decay', got {key!r} "
                f"(not one of {list(_NOT_NUMERIC)}; Adam's beta1 is the momentum of the LR callbacks)."
            )
        _check_schedule("schedule", schedule)
        super().__init__(log_lr=log, **options)
        self.key = key
        self.schedule = schedule
        self.relative = check_bool("relative", relative)
        self._state_key = f"{type(self).__qualname__}{{'key': {key!r}, 'optimizers': {self.optimizer_indices}}}"

    def base_lrs(self, optimizer: Optimizer) -> list[float]:
        """The configured value of ``key`` in every group (the base of ``relative=True``)."""
        values = []
        for i, group in enumerate(optimizer.param_groups):
            value = group.get(self.key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                keys = sorted(k for k in group if k != "params")
                raise ScheduleConflictError(
                    f"HyperparameterScheduler({self.key!r}): param group {i} of {type(optimizer).__name__} has "
                    f"{self.key!r} = {value!r}; it must hold a number (the group has {keys})."
                )
            values.append(float(value))
        return values

    @property
    def lr_scales_with_base(self) -> bool:
        return self.relative

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        resolved = self.schedule.resolve(timeline)
        return Affine(resolved, scale=base_lr) if self.relative else resolved

    @property
    def uniform(self) -> bool:
        """``relative=False``: every group gets the same values (a group added mid-run too)."""
        return not self.relative

    def __repr__(self) -> str:
        return f"HyperparameterScheduler(key={self.key!r}, schedule={self.schedule!r}, relative={self.relative})"
