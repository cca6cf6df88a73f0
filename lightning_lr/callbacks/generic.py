r"""The generic callback: any schedule expression, applied as a factor of each group's base LR."""

from __future__ import annotations

from typing_extensions import Unpack

from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.options import ScheduleOptions
from lightning_lr.planner import FactorRecipe
from lightning_lr.schedules import Schedule


class LRScheduler(FactorRecipe, ScheduleCallback):
    r"""Drive every param group with ``base_lr * schedule(t)``.

    .. math:: \eta_g(t) = \eta_g^{base}\, s(t)

    The base LR of each group is the LR it was configured with (or the one the LR finder
    wrote), captured at the start of a fresh fit, so the ratios between groups are kept.

    Args:
        schedule: Any :class:`~lightning_lr.schedules.Schedule` (a factor, usually ``<= 1``).
        momentum: Optional schedule of absolute momentum (or Adam ``beta1``) values.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> from lightning_lr.schedules import Cosine, Join, Linear, epochs
        >>> callback = LRScheduler(Join((Linear(0.1, 1.0, epochs(1)), Cosine(1.0, 0.0))))
    """

    def __init__(
        self,
        schedule: Schedule,
        momentum: Schedule | None = None,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(schedule, momentum, **options)
