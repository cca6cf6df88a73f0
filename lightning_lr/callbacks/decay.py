r"""Decays of the base LR: cosine annealing, warm restarts, step, multi-step and exponential."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from typing_extensions import Unpack

from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.options import ScheduleOptions
from lightning_lr.checks import (
    check_bool,
    check_closed_interval,
    check_non_negative,
    check_real,
)
from lightning_lr.planner import GroupSlot
from lightning_lr.schedules import (
    Cosine,
    Exponential,
    MultiStep,
    Schedule,
    Step,
    Timeline,
    cosine_restarts,
    parse_duration,
)
from lightning_lr.schedules.base import DurationLike


class CosineAnnealing(ScheduleCallback):
    r"""Cosine annealing from each group's base LR to ``eta_min`` (closed form of ``CosineAnnealingLR``).

    .. math:: \eta(t) = \eta_{min} + (\eta_{base} - \eta_{min})\,\frac{1 + \cos(\pi t / T_{max})}{2}

    Args:
        T_max: Clock units to reach ``eta_min`` (a number, or ``"30 epochs"``); ``None``: the
            whole run after warmup.
        eta_min: Final LR (absolute, the same for every group, as in PyTorch).
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = CosineAnnealing(eta_min=1e-5, warmup="5%")

    Reference: I. Loshchilov, F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
    """

    holds_end = False  # CosineAnnealingLR turns back up after T_max

    def __init__(
        self,
        T_max: DurationLike | None = None,
        eta_min: float = 0.0,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(**options)
        self.T_max = None if T_max is None else parse_duration(T_max, "T_max", require="one unit")
        self.eta_min = check_non_negative("eta_min", eta_min)

    @property
    def lr_scales_with_base(self) -> bool:
        return self.eta_min == 0.0

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        return Cosine(base_lr, self.eta_min, self.T_max).resolve(timeline)


class CosineRestarts(ScheduleCallback):
    r"""Cosine annealing with warm restarts (SGDR), as ``CosineAnnealingWarmRestarts`` and beyond.

    Cycle :math:`n` lasts :math:`T_n = T_0 m^n`; inside it, with :math:`T_{cur}` the clock
    units since the restart and :math:`\delta` the peak decay:

    .. math:: \eta(t) = \eta_{min} + (\eta_{base} - \eta_{min})\,\delta^{n}\,\frac{1 + \cos(\pi T_{cur}/T_n)}{2}

    Args:
        T_0: Length of the first cycle (a number, or ``"5 epochs"``).
        T_mult: Each cycle is ``T_mult`` times longer than the previous (>= 1, may be fractional).
        eta_min: Lowest LR (absolute).
        peak_decay: Each restart's peak height above ``eta_min`` is this fraction of the previous.
        cycle_warmup: Linear warmup at the start of every cycle, in clock units of the first
            cycle (stretched with ``T_mult``); must be shorter than ``T_0``.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = CosineRestarts(T_0="10 epochs", T_mult=2, peak_decay=0.8)

    Reference: I. Loshchilov, F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
    """

    restarts = True  # the LR rises again: warned about on a learning-rate-free optimizer

    def __init__(
        self,
        T_0: DurationLike,
        T_mult: float = 1,
        eta_min: float = 0.0,
        peak_decay: float = 1.0,
        cycle_warmup: DurationLike = 0,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(**options)
        self.T_0 = parse_duration(T_0, "T_0", require="one unit")
        self.T_mult = check_real("T_mult", T_mult)
        if self.T_mult < 1:
            raise ValueError(f"`T_mult` must be >= 1, got {T_mult!r}.")
        self.eta_min = check_non_negative("eta_min", eta_min)
        self.peak_decay = check_closed_interval("peak_decay", peak_decay, 0.0, 1.0)
        self.cycle_warmup = parse_duration(cycle_warmup, "cycle_warmup")
        if self.cycle_warmup.unit == self.T_0.unit and self.cycle_warmup.amount >= self.T_0.amount:
            raise ValueError(f"`cycle_warmup` ({cycle_warmup!r}) must be shorter than `T_0` ({T_0!r}).")

    @property
    def lr_scales_with_base(self) -> bool:
        return self.eta_min == 0.0

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        return cosine_restarts(
            base_lr,
            self.T_0.in_steps(timeline),
            self.T_mult,
            self.eta_min,
            self.peak_decay,
            self.cycle_warmup.in_steps(timeline),
        )


class StepDecay(ScheduleCallback):
    r"""Multiply the LR by ``gamma`` every ``step_size`` (PyTorch's ``StepLR``).

    .. math:: \eta(t) = \eta_{base}\,\gamma^{\lfloor t / s \rfloor}

    Args:
        step_size: Period of decay in clock units (a number, or ``"30 epochs"``).
        gamma: Multiplicative factor, >= 0.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = StepDecay(step_size=30, gamma=0.1, interval="epoch")
    """

    def __init__(
        self,
        step_size: DurationLike,
        gamma: float = 0.1,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(**options)
        self.step_size = parse_duration(step_size, "step_size", require="one unit")
        self.gamma = check_non_negative("gamma", gamma)

    @property
    def lr_scales_with_base(self) -> bool:
        return True

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        return Step(self.step_size.in_steps(timeline), self.gamma, start=base_lr)


class MultiStepDecay(ScheduleCallback):
    r"""Multiply the LR by ``gamma`` at each milestone (PyTorch's ``MultiStepLR``).

    .. math:: \eta(t) = \eta_{base}\,\gamma^{\#\{i:\, m_i \le t\}}

    Args:
        milestones: Increasing clock units (numbers, or strings such as ``"60 epochs"``/``"50%"``).
        gamma: Multiplicative factor, >= 0.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = MultiStepDecay(milestones=["50%", "75%"], gamma=0.1)
    """

    def __init__(
        self,
        milestones: Sequence[DurationLike],
        gamma: float = 0.1,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(**options)
        self.milestones = MultiStep(milestones, 1.0).milestones  # type: ignore[arg-type]  # validates the list
        self.gamma = check_non_negative("gamma", gamma)

    @property
    def lr_scales_with_base(self) -> bool:
        return True

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        schedule = cast(MultiStep, MultiStep(self.milestones, self.gamma, start=base_lr).resolve(timeline))
        points = [cast(float, p) for p in schedule.milestones]  # numbers once resolved
        if points != sorted(points):
            raise ValueError(
                f"MultiStepDecay: milestones {list(self.milestones)} are not increasing on this run "
                f"({points} {self.interval}s)."
            )
        return schedule


class ExponentialDecay(ScheduleCallback):
    r"""Exponential decay: PyTorch's ``ExponentialLR`` and its continuous forms.

    .. math:: \eta(t) = \eta_{base}\,\gamma^{t / s}\quad\text{or}\quad \eta_{base}\,e^{-k t / s}

    (with ``staircase``, the exponent is rounded down). ``ExponentialDecay(gamma)`` is
    ``ExponentialLR(gamma)``; ``decay_steps`` gives optax's ``decay_rate ** (t / decay_steps)``.

    Args:
        gamma: Factor per ``decay_steps``, >= 0 (as ``StepDecay``'s; PyTorch accepts any); give this or ``k``.
        k: Continuous rate (>= 0) per ``decay_steps``; give this or ``gamma``.
        decay_steps: Clock units per decay period (a number, or ``"1 epoch"``).
        staircase: Decay in whole periods only.
        **options: Keyword-only ``interval``, ``warmup``, ``warmup_start_factor``, ``optimizers``, ``log_lr``,
            ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = ExponentialDecay(gamma=0.5, decay_steps="10 epochs")
    """

    def __init__(
        self,
        gamma: float | None = None,
        k: float | None = None,
        decay_steps: DurationLike = 1,
        staircase: bool = False,
        **options: Unpack[ScheduleOptions],
    ) -> None:
        super().__init__(**options)
        if (gamma is None) == (k is None):
            raise ValueError(f"Give exactly one of `gamma` (got {gamma!r}) and `k` (got {k!r}).")
        self.gamma = None if gamma is None else check_non_negative("gamma", gamma)
        self.k = None if k is None else check_non_negative("k", k)
        self.decay_steps = parse_duration(decay_steps, "decay_steps", require="one unit")
        self.staircase = check_bool("staircase", staircase)

    @property
    def lr_scales_with_base(self) -> bool:
        return True

    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        period = self.decay_steps.in_steps(timeline)
        if self.k is not None:
            return Exponential.from_rate(self.k, period, self.staircase, start=base_lr)
        return Exponential(cast(float, self.gamma), period, self.staircase, start=base_lr)
