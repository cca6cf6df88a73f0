r"""Transformers-style schedules: linear warmup, then linear or cosine decay to zero."""

from __future__ import annotations

from typing_extensions import Unpack

from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.options import LROptions, WarmupLike, parse_warmup
from lightning_lr.checks import check_positive, check_positive_int
from lightning_lr.planner import GroupSlot
from lightning_lr.schedules import Cosine, Cycle, Join, Linear, Schedule, Span, Timeline, Truncate


class _WarmupThenDecay(ScheduleCallback):
    def __init__(
        self, num_warmup_steps: WarmupLike, num_training_steps: int | None, **options: Unpack[LROptions]
    ) -> None:
        super().__init__(warmup=parse_warmup(num_warmup_steps, "num_warmup_steps"), **options)
        self.num_training_steps = (
            None if num_training_steps is None else check_positive_int("num_training_steps", num_training_steps)
        )
        warmup = self.warmup
        if (
            self.num_training_steps is not None
            and isinstance(warmup, Span)
            and warmup.unit == "steps"
            and warmup.amount >= self.num_training_steps
        ):
            raise ValueError(
                f"`num_warmup_steps` ({num_warmup_steps!r}) must be smaller than `num_training_steps` "
                f"({num_training_steps!r})."
            )

    def _decay_steps(self, slot: GroupSlot, timeline: Timeline) -> float:
        """Steps of the decay after the warmup: ``num_training_steps`` less the warmup, or what the run leaves."""
        steps = timeline.fill() if self.num_training_steps is None else self.num_training_steps - slot.warmup
        if steps <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_training_steps={self.num_training_steps} leaves no steps "
                f"after {slot.warmup:g} warmup steps."
            )
        return steps


class WarmupLinear(_WarmupThenDecay):
    r"""Linear warmup from 0, then linear decay to 0: transformers' ``get_linear_schedule_with_warmup``.

    With :math:`w` warmup steps and :math:`T` training steps:

    .. math:: \eta(t) = \eta_{base}\,\frac{t}{w}\ (t < w),\qquad
        \eta(t) = \eta_{base}\,\frac{T - t}{T - w}\ (w \le t \le T)

    Args:
        num_warmup_steps: Warmup length: an ``int`` of steps, a ``float`` fraction of training or
            a string (``"1 epoch"``, ``"6%"``); ``"auto"``: derived from the optimizer (see
            :class:`~lightning_lr.planner.AutoWarmup`).
        num_training_steps: Total steps, warmup included; ``None``: the whole run.
        **options: Keyword-only ``interval``, ``optimizers``, ``log_lr``, ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = WarmupLinear(num_warmup_steps=500)
    """

    def __init__(
        self,
        num_warmup_steps: WarmupLike = 0,
        num_training_steps: int | None = None,
        **options: Unpack[LROptions],
    ) -> None:
        super().__init__(num_warmup_steps, num_training_steps, **options)

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        return Linear(base_lr, 0.0, self._decay_steps(slot, timeline))


class WarmupCosine(_WarmupThenDecay):
    r"""Linear warmup from 0, then cosine decay: transformers' ``get_cosine_schedule_with_warmup``.

    With progress :math:`p = (t - w)/(T - w)` after warmup and :math:`c` = ``num_cycles``:

    .. math:: \eta(t) = \eta_{base}\,\tfrac12\left(1 + \cos(2\pi c\, p)\right)

    Args:
        num_warmup_steps: Warmup length (see :class:`WarmupLinear`).
        num_training_steps: Total steps, warmup included; ``None``: the whole run.
        num_cycles: Number of cosine periods after warmup; ``0.5`` decays once from peak to 0.
        **options: Keyword-only ``interval``, ``optimizers``, ``log_lr``, ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = WarmupCosine(num_warmup_steps=0.06)
    """

    holds_end = False  # transformers' cosine turns back up after num_training_steps

    def __init__(
        self,
        num_warmup_steps: WarmupLike = 0,
        num_training_steps: int | None = None,
        num_cycles: float = 0.5,
        **options: Unpack[LROptions],
    ) -> None:
        super().__init__(num_warmup_steps, num_training_steps, **options)
        self.num_cycles = check_positive("num_cycles", num_cycles)

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        steps = self._decay_steps(slot, timeline)
        half = steps / (2.0 * self.num_cycles)
        wave = Cycle(Join((Cosine(base_lr, 0.0, half), Cosine(0.0, base_lr, half))))
        return Truncate(wave, steps)
