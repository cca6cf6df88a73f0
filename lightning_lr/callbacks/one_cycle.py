r"""1cycle: up to the peak LR and down again, momentum the other way (Smith & Topin 2019)."""

from __future__ import annotations

from torch.optim import Optimizer
from typing_extensions import Unpack

from lightning_lr.callbacks.finder_range import RangeSchedule
from lightning_lr.callbacks.options import ScheduleOptions
from lightning_lr.checks import (
    check_bool,
    check_choice,
    check_momentum,
    check_open_interval,
    check_ordered,
    check_positive,
    check_positive_int,
    per_group,
    pick_group,
)
from lightning_lr.planner import GroupSlot
from lightning_lr.schedules import Schedule, Timeline, one_cycle, one_cycle_momentum
from lightning_lr.schedules.recipes import AnnealStrategy

FALLBACK_DIV_FACTOR = 25.0
"""``OneCycle(div_factor=None)`` without a range from the finder: PyTorch's default."""


class OneCycle(RangeSchedule):
    r"""The 1cycle policy, step for step identical to PyTorch's ``OneCycleLR``.

    With :math:`T` total steps, :math:`\eta_0 = \eta_{max}/\mathrm{div\_factor}` and
    :math:`\eta_{min} = \eta_0/\mathrm{final\_div\_factor}`: the LR anneals (cosine or linear)
    :math:`\eta_0 \to \eta_{max}` over :math:`p T - 1` steps, then
    :math:`\eta_{max} \to \eta_{min}` until step :math:`T - 1`. With ``three_phase``:
    :math:`\eta_0 \to \eta_{max} \to \eta_0 \to \eta_{min}` (ends at :math:`pT-1, 2pT-2, T-1`).
    Momentum (or Adam's :math:`\beta_1`) moves the opposite way between ``base_momentum`` and
    ``max_momentum``.

    ``div_factor=None`` takes the whole cycle from the range of an ``LRFinder(apply=True)`` among
    the callbacks (:attr:`FinderResult.lr_range <lightning_lr.finder.FinderResult.lr_range>`): the
    peak is :math:`r\,\eta_{high}` and the start :math:`r\,\eta_{low}`
    (:math:`\mathrm{div\_factor} = \eta_{high}/\eta_{low}`), :math:`r` the group's LR over the
    first group's. When the finder found no range, a warning says so and the cycle peaks at each
    group's LR with ``div_factor=25`` (PyTorch's default). Without an ``LRFinder(apply=True)`` it is
    refused at fit start.

    Args:
        max_lr: Peak LR, one number or one per param group. ``None``: each group's configured LR
            (or the LR finder's suggestion) is its peak, keeping the ratios between groups.
        total_steps: Length of the cycle in clock units. ``None``: the whole run (after warmup).
        pct_start: Fraction of the cycle spent rising, in (0, 1).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: :math:`\eta_0 = \eta_{max} / \mathrm{div\_factor}`. ``None``: peak and start
            from the LR finder's range (needs ``max_lr=None``).
        final_div_factor: :math:`\eta_{min} = \eta_0 / \mathrm{final\_div\_factor}`.
        three_phase: Come back down to :math:`\eta_0` before annihilating the LR.
        cycle_momentum: Cycle ``momentum`` / ``betas[0]`` inversely to the LR.
        base_momentum: Lowest momentum (at the LR peak), one number or one per group.
        max_momentum: Highest momentum (at the start and end), one number or one per group.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> trainer = Trainer(max_epochs=10, callbacks=[OneCycle(pct_start=0.25)])  # doctest: +SKIP

    Reference: L. N. Smith, N. Topin, "Super-Convergence", 2019. arXiv:1708.07120.
    """

    holds_end = False  # PyTorch's OneCycleLR raises when stepped past total_steps

    def __init__(
        self,
        max_lr: float | list[float] | None = None,
        total_steps: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: AnnealStrategy = "cos",
        div_factor: float | None = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(**options)
        self.max_lr = None if max_lr is None else per_group("max_lr", max_lr, check_positive)
        self.total_steps = None if total_steps is None else check_positive_int("total_steps", total_steps)
        self.pct_start = check_open_interval("pct_start", pct_start, 0.0, 1.0)
        self.anneal_strategy: AnnealStrategy = check_choice(  # type: ignore[assignment]
            "anneal_strategy", anneal_strategy, ("cos", "linear")
        )
        self.div_factor = None if div_factor is None else check_positive("div_factor", div_factor)
        if div_factor is None and max_lr is not None:
            raise ValueError(
                f"`div_factor=None` takes the peak and the start of the cycle from the LR finder's range, so "
                f"`max_lr` must be None too; got max_lr={max_lr!r}. Give a `div_factor`, or leave `max_lr` unset."
            )
        self.final_div_factor = check_positive("final_div_factor", final_div_factor)
        self.three_phase = check_bool("three_phase", three_phase)
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        self.base_momentum = per_group("base_momentum", base_momentum, check_momentum)
        self.max_momentum = per_group("max_momentum", max_momentum, check_momentum)
        check_ordered("base_momentum", self.base_momentum, "max_momentum", self.max_momentum)
        if self.total_steps is not None:  # fail now rather than at fit start
            one_cycle(1.0, self.total_steps, self.pct_start, self.anneal_strategy, 1.0, 1.0, self.three_phase)

    def _cycle_steps(self, timeline: Timeline) -> float:
        if self.total_steps is not None:
            return float(self.total_steps)
        timeline.require_total("OneCycle(total_steps=None)")
        return timeline.remaining

    def base_lrs(self, optimizer: Optimizer) -> list[float]:
        n = len(optimizer.param_groups)
        if self.max_lr is None:
            return super().base_lrs(optimizer)
        return [pick_group("max_lr", self.max_lr, i, n) for i in range(n)]

    range_owner = "OneCycle(div_factor=None)"
    range_fallback = (1.0 / FALLBACK_DIV_FACTOR, 1.0)
    range_fallback_text = f"The cycle peaks at each group's LR, with div_factor={FALLBACK_DIV_FACTOR:g}."

    @property
    def from_finder(self) -> bool:
        """Whether peak and start come from the LR finder's range (``div_factor=None``)."""
        return self.div_factor is None

    @property
    def sets_momentum(self) -> bool:
        return self.cycle_momentum

    absolute_lr_args = ("max_lr",)

    @property
    def absolute_lr(self) -> bool:
        return self.max_lr is not None

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        div_factor = self.div_factor
        if div_factor is None:
            low_factor, high_factor = self.range_factors(slot)
            base_lr, div_factor = base_lr * high_factor, high_factor / low_factor
        return one_cycle(
            base_lr,
            self._cycle_steps(timeline),
            self.pct_start,
            self.anneal_strategy,
            div_factor,
            self.final_div_factor,
            self.three_phase,
        )

    def momentum_schedule(self, slot: GroupSlot, timeline: Timeline) -> Schedule | None:
        if not self.cycle_momentum:
            return None
        return one_cycle_momentum(
            pick_group("base_momentum", self.base_momentum, slot.group, slot.groups),
            pick_group("max_momentum", self.max_momentum, slot.group, slot.groups),
            self._cycle_steps(timeline),
            self.pct_start,
            self.anneal_strategy,
            self.three_phase,
        )
