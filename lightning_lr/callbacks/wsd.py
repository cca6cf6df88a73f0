r"""Warmup-stable-decay: a schedule whose length can be decided during the run.

The LR rises, holds its peak for as long as training goes on, then cools down. The cooldown can
sit at the end of the run (the default), after a fixed stable phase, or start whenever the user
says so (:meth:`WarmupStableDecay.decay_now`); a run resumed with a larger ``max_steps`` before
the cooldown simply holds the peak longer.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from typing_extensions import Unpack, override

from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.cooldown import MetricTrigger, TimeTrigger, find_timer
from lightning_lr.callbacks.metric_watch import Improvement, Mode, Patience, ThresholdMode
from lightning_lr.callbacks.options import LROptions, WarmupLike, parse_warmup
from lightning_lr.callbacks.wsd_start import WSDStart
from lightning_lr.checks import check_choice, check_closed_interval, check_non_negative_int
from lightning_lr.planner import AutoWarmup, GroupSlot, OptimizerPlan, StartPoint, plan_optimizer
from lightning_lr.planner.recipe import check_auto_warmup
from lightning_lr.schedules import (
    Constant,
    Join,
    Schedule,
    Span,
    Timeline,
    Truncate,
    parse_duration,
    warmup_stable_decay,
)
from lightning_lr.schedules.recipes import wsd_decay, wsd_warmup

WarmupType = Literal["linear", "cosine", "1-sqrt"]
DecayType = Literal["linear", "cosine", "1-sqrt"]
CooldownOn = Literal["end", "max_time"]
TYPES = ("linear", "cosine", "1-sqrt")


class WarmupStableDecay(ScheduleCallback):
    r"""Warmup, a stable peak, then a decay: transformers' ``get_wsd_schedule``, with a cooldown on demand.

    With :math:`w` warmup, :math:`s` stable and :math:`d` decay steps, :math:`m` = ``min_lr_ratio``
    and the factor :math:`\lambda(t)` of each group's base LR:

    .. math::

        \lambda(t) = \begin{cases}
            m + (1 - m)\, f(t/w) & t < w \\
            1 & w \le t < w + s \\
            m + (1 - m)\, g\!\left(\frac{t - w - s}{d}\right) & w + s \le t < w + s + d \\
            m & t \ge w + s + d
        \end{cases}

    with :math:`f(p) = p`, :math:`\tfrac12(1 - \cos\pi p)` or :math:`1 - \sqrt{1 - p}` (``warmup_type``
    linear, cosine, 1-sqrt) and :math:`g(p) = 1 - p`, :math:`\tfrac12(1 + \cos\pi p)` or
    :math:`1 - \sqrt{p}` (``decay_type``; 1-sqrt is the cooldown Hägele et al. found best).
    ``num_stable_steps=None``: :math:`s` fills the run, so the decay ends where training ends (in an
    endless run the peak holds until :meth:`decay_now`).

    Cooldown on demand: :meth:`decay_now` starts the decay at the next step and stops training
    when it is done. Resume: the decision is part of the checkpoint. A run resumed (or fit again)
    with a larger ``max_steps``/``max_epochs`` before the decay has begun keeps the peak longer
    and decays at the new end, exactly as an uninterrupted run of the new length; once the decay
    has begun it is kept as it was (with a warning), so the LR never jumps.

    Args:
        num_warmup_steps: Warmup length: an ``int`` of clock units, a ``float`` in ``[0, 1)`` as a
            fraction of training, or a string (``"1 epoch"``, ``"2%"``); 0: none; ``"auto"``: derived from the
            optimizer at the fresh fit (:class:`~lightning_lr.planner.AutoWarmup`).
        num_decay_steps: Decay length, in the same forms (> 0).
        num_stable_steps: Stable length, in the same forms; ``None``: whatever warmup and decay leave
            of the run. When warmup + stable + decay is not the run's length a warning says so; after
            the decay the LR holds ``min_lr_ratio`` times the base, as in transformers.
        warmup_type: ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
        decay_type: ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
        min_lr_ratio: Where warmup starts and decay ends, as a fraction of the base LR, in ``[0, 1]``.
        **options: Keyword-only ``interval``, ``optimizers``, ``log_lr``, ``log_loss``: see :class:`ScheduleCallback`.

    Example:
        >>> callback = WarmupStableDecay(num_warmup_steps="2%", num_decay_steps="20%", decay_type="1-sqrt")
        >>> # in a hook, or any code that holds the callback, e.g. when the budget is spent:
        >>> # callback.decay_now()  -> 20% of the run's length of cooldown, then training stops

    References:
        A. Hägele et al., "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations",
        NeurIPS 2024. S. Hu et al., "MiniCPM: Unveiling the Potential of Small Language Models with
        Scalable Training Strategies", 2024 (the WSD schedule).
    """

    length_change: ClassVar[Literal["stretch", "replan"]] = "replan"
    """A resume with another run length re-plans: the decision of :meth:`before_planning` keeps the LR continuous."""
    start_type: ClassVar[type[StartPoint]] = WSDStart

    def __init__(
        self,
        num_warmup_steps: WarmupLike,
        num_decay_steps: WarmupLike,
        num_stable_steps: WarmupLike = None,
        warmup_type: WarmupType = "linear",
        decay_type: DecayType = "cosine",
        min_lr_ratio: float = 0.0,
        cooldown_on: CooldownOn = "end",
        monitor: str | None = None,
        mode: Mode = "min",
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: ThresholdMode = "rel",
        **options: Unpack[LROptions],
    ) -> None:
        super().__init__(**options)
        self.cooldown_on: CooldownOn = check_choice("cooldown_on", cooldown_on, ("end", "max_time"))  # type: ignore[assignment]
        if self.cooldown_on == "max_time" and self.interval != "step":
            raise ValueError(
                f"`cooldown_on='max_time'` counts optimizer steps: needs interval='step', got {self.interval!r}."
            )
        if monitor is not None and (not isinstance(monitor, str) or not monitor):
            raise TypeError(f"`monitor` must be the name of a logged metric or None, got {monitor!r}.")
        self.monitor = monitor
        rule = Improvement(mode, threshold, threshold_mode)
        self._metric = (
            None if monitor is None else MetricTrigger(monitor, rule, check_non_negative_int("patience", patience))
        )
        self._time: TimeTrigger | None = None
        self._timer: Timer | None = None
        self.num_warmup_steps = parse_warmup(num_warmup_steps, "num_warmup_steps")
        check_auto_warmup(self.num_warmup_steps, self.interval, "num_warmup_steps")
        self.num_decay_steps = _positive(num_decay_steps, "num_decay_steps")
        stable = None if num_stable_steps is None else parse_warmup(num_stable_steps, "num_stable_steps") or Span(0.0)
        if isinstance(stable, AutoWarmup):
            raise ValueError("`num_stable_steps='auto'`: only the warmup is derived; pass a duration or None.")
        self.num_stable_steps = stable
        self.warmup_type: WarmupType = check_choice("warmup_type", warmup_type, TYPES)  # type: ignore[assignment]
        self.decay_type: DecayType = check_choice("decay_type", decay_type, TYPES)  # type: ignore[assignment]
        self.min_lr_ratio = check_closed_interval("min_lr_ratio", min_lr_ratio, 0.0, 1.0)
        self._epoch_mark = (-1, -1)  # (epoch, global step) when the epoch began: decay_now in an epoch clock

    # ------------------------------------------------------------------ the schedule
    @override
    def auto_warmup_rule(self) -> AutoWarmup | None:
        return self.num_warmup_steps if isinstance(self.num_warmup_steps, AutoWarmup) else None

    def _warmup_units(self, timeline: Timeline, start: StartPoint | None, auto: float = 0.0) -> float:
        """The warmup in clock units: as fixed at the fresh start, else from ``num_warmup_steps`` (``auto``: the steps
        ``"auto"`` decided for the optimizer planned; the longest of all optimizers' once a fit has started)."""
        if isinstance(start, WSDStart) and start.warmup is not None:
            return start.warmup
        if isinstance(self.num_warmup_steps, AutoWarmup):
            return max(start.auto_warmup) if start is not None and start.auto_warmup else auto
        return 0.0 if self.num_warmup_steps is None else self.num_warmup_steps.in_steps(timeline)

    def natural_decay(
        self, timeline: Timeline, start: StartPoint | None = None, auto: float = 0.0
    ) -> tuple[float, float]:
        """Where the decay starts and how long it lasts on ``timeline`` when nobody called :meth:`decay_now`."""
        endless = not math.isfinite(timeline.total) and self.num_stable_steps is None
        if endless and self.cooldown_on == "max_time" and self.num_decay_steps.unit == "fraction":
            return math.inf, math.nan  # a fraction of the run that max_time will have: decided by the time trigger
        w, d = self._warmup_units(timeline, start, auto), self.num_decay_steps.in_steps(timeline)
        if self.num_stable_steps is not None:
            return w + self.num_stable_steps.in_steps(timeline), d
        if not math.isfinite(timeline.total):
            return math.inf, d
        if timeline.total - d < w:
            raise ValueError(
                f"the warmup ({w:g}) and the decay ({d:g}) are longer than training ({timeline.total:g} "
                f"{self.interval}s); shorten them or train longer."
            )
        return timeline.total - d, d

    def _decay(
        self, timeline: Timeline, start: StartPoint | None, index: int, auto: float = 0.0
    ) -> tuple[float, float]:
        """Where optimizer ``index``'s decay starts and how long it lasts: as decided, else at its natural place."""
        pinned = start.decay_at[index] if isinstance(start, WSDStart) and index < len(start.decay_at) else None
        if pinned is None:
            return self.natural_decay(timeline, start, auto)
        return pinned, float(start.decay_len or 0.0) if isinstance(start, WSDStart) else 0.0

    @override
    def lr_schedule(self, base_lr: float, slot: GroupSlot, timeline: Timeline) -> Schedule:
        w = self._warmup_units(timeline, slot.start, slot.auto_warmup)
        at, d = self._decay(timeline, slot.start, slot.optimizer, slot.auto_warmup)
        start = end = self.min_lr_ratio * base_lr
        if not math.isfinite(at):
            peak = Constant(base_lr)
            return Join((wsd_warmup(start, base_lr, w, self.warmup_type), peak)) if w else peak
        if at >= w:
            shape = warmup_stable_decay(base_lr, w, d, at - w, end, self.decay_type, self.warmup_type, start)
            return Join((shape, Constant(end)))
        ramp = wsd_warmup(start, base_lr, w, self.warmup_type)  # decay_now during warmup: cool down from here
        cooldown = (wsd_decay(ramp(at), end, d, self.decay_type), Constant(end))
        return Join((Truncate(ramp, at), *cooldown) if at > 0 else cooldown)

    # ------------------------------------------------------------------ cooldown on demand
    def decay_now(self, num_decay_steps: WarmupLike = None) -> None:
        """Start the decay at the next optimizer step (epoch) and stop training when it is done.

        Call it during ``fit``, on every rank (from a hook all ranks run, deciding on synced values,
        as ``EarlyStopping`` does). The decay starts from the LR of that step (the peak, in the
        stable phase) and lasts ``num_decay_steps`` (same forms as the constructor's; ``None``: the
        configured ``num_decay_steps``); then ``trainer.should_stop`` is set. Checkpoints keep the
        decision. A second call, or a call once the decay has begun, only warns.
        """
        trainer, drive = self._trainer, self._drive
        if trainer is None or drive is None or not isinstance(drive.start, WSDStart) or drive.start.planned is None:
            raise RuntimeError("WarmupStableDecay.decay_now() works during `trainer.fit` (from on_train_start on).")
        start, timeline = drive.start, drive.start.planned
        span = self.num_decay_steps if num_decay_steps is None else _positive(num_decay_steps, "num_decay_steps")
        length = span.in_steps(timeline)
        started = []
        for i, plan in enumerate(drive.plans):
            now, at = self._next_position(trainer, plan), self._decay(timeline, start, i)[0]
            if now >= at:
                rank_zero_warn(f"WarmupStableDecay.decay_now(): the decay already began at {self.interval} {at:g}.")
                continue
            start.decay_at[i] = now
            started.append(now)
        if not started:
            return
        start.decay_len, start.stop = length, True
        drive.replan(
            lambda k, plan: plan_optimizer(
                self, plan.optimizer, start.base_lrs[k], timeline, optimizer_index=k, strict=False, start=start
            )
        )
        drive.apply_all(trainer.current_epoch)
        rank_zero_info(
            f"WarmupStableDecay: decay from {self.interval} {started[0]:g} for {length:g} {self.interval}s; "
            f"training stops after {self.interval} {started[0] + length - 1:g}."
        )

    def _next_position(self, trainer: pl.Trainer, plan: OptimizerPlan) -> float:
        """The first clock unit whose LR no optimizer step has used yet."""
        if self.interval == "step":
            return float(plan.steps)
        begun = self._epoch_mark[0] == trainer.current_epoch and trainer.global_step > self._epoch_mark[1]
        return float(trainer.current_epoch + (1 if begun else 0))

    def _decay_done(self, position: float) -> bool:
        start = None if self._drive is None else self._drive.start
        if not isinstance(start, WSDStart) or not start.stop:
            return False
        ends = [at + (start.decay_len or 0.0) for at in start.decay_at if at is not None]
        return bool(ends) and position >= max(ends)

    # ------------------------------------------------------------------ a new run length
    @override
    def before_planning(self, trainer: pl.Trainer, start: StartPoint, run: Timeline, nows: list[float]) -> StartPoint:
        if not isinstance(start, WSDStart):
            return start
        count = len(start.base_lrs)
        start.decay_at = (start.decay_at + [None] * count)[:count]
        previous = start.run_total if start.run_total is not None else None
        if previous is not None and previous != run.total:
            self._follow_new_length(start, Timeline(previous, run.steps_per_epoch, unit=run.unit), run, nows)
        start.warmup = self._warmup_units(run, start)
        return start

    def _follow_new_length(self, start: WSDStart, old: Timeline, timeline: Timeline, nows: list[float]) -> None:
        for i, now in enumerate(nows):
            if start.decay_at[i] is not None:
                continue  # decay_now's decision stands whatever the length
            old_at, old_len = self.natural_decay(old, start)
            try:
                new_at = self.natural_decay(timeline, start)[0]
            except ValueError:  # warmup + decay no longer fit in the run
                new_at = -math.inf
            where = f"resumed at {self.interval} {now:g} with a run of {timeline.total:g} {self.interval}s"
            if now > old_at:
                start.decay_at[i], start.decay_len = old_at, old_len
                rank_zero_warn(
                    f"WarmupStableDecay {where} (planned: {old.total:g}), but the decay began at {old_at:g}: "
                    "it goes on as planned and the LR then holds min_lr_ratio. Resume from a checkpoint "
                    "of the stable phase to extend it."
                )
            elif new_at < now:
                start.decay_at[i], start.decay_len = now, timeline.total - now
                rank_zero_warn(
                    f"WarmupStableDecay {where} (planned: {old.total:g}): too short to decay at the configured "
                    f"length, so the decay starts now over the {timeline.total - now:g} {self.interval}s left."
                )
            elif new_at != old_at:
                rank_zero_info(f"WarmupStableDecay {where}: the decay now starts at {new_at:g} (was {old_at:g}).")

    def _check_length(self, timeline: Timeline, start: StartPoint) -> None:
        at, d = self.natural_decay(timeline, start)
        if self.num_stable_steps is not None and math.isfinite(timeline.total) and at + d != timeline.total:
            rank_zero_warn(
                f"WarmupStableDecay: warmup + stable + decay = {at + d:g} {self.interval}s but training has "
                f"{timeline.total:g}; "
                + ("the LR holds min_lr_ratio after the decay." if at + d < timeline.total else "training ends first.")
                + " Leave `num_stable_steps=None` to fill the run."
            )

    # ------------------------------------------------------------------ the cooldown triggers (cooldown.py)
    def _decay_begun(self) -> bool:
        """Whether every optimizer's decay has begun (decided, or reached at its natural place)."""
        drive = self._drive
        if drive is None or not isinstance(drive.start, WSDStart) or drive.start.planned is None:
            return True
        epoch = self._trainer.current_epoch if self._trainer is not None else 0
        timeline = drive.start.planned
        return all(drive.clock(p, epoch) >= self._decay(timeline, drive.start, i)[0] for i, p in enumerate(drive.plans))

    def _on_time(self, trainer: pl.Trainer) -> None:
        """After a step: rank 0 decides from the pace whether the decay starts now; every rank follows."""
        drive = self._drive
        if self._time is None or drive is None or self._decay_begun() or not isinstance(drive.start, WSDStart):
            return
        if drive.start.planned is None:
            return
        steps, timeline, warmup = min(p.steps for p in drive.plans), drive.start.planned, drive.start.warmup or 0.0
        decided = self._time.decide(steps, self.num_decay_steps, timeline, warmup) if trainer.is_global_zero else None
        length = trainer.strategy.broadcast(decided, src=0)
        if length:
            self.decay_now(int(length))

    def _on_metric(self, trainer: pl.Trainer) -> None:
        drive = self._drive
        if self._metric is None or drive is None or not isinstance(drive.start, WSDStart) or self._decay_begun():
            return
        if drive.start.watch is None:
            drive.start.watch = Patience(best=self._metric.rule.worst())
        if self._metric.check(trainer, drive.start.watch):
            self.decay_now()

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        self._timer = find_timer(trainer, "WarmupStableDecay") if self.cooldown_on == "max_time" else None

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._metric is not None:
            self._metric.before_validation = trainer.callback_metrics.get(self._metric.monitor)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        fitting = trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
        watching = self._metric is not None and fitting and self._drive is not None and not self._decay_begun()
        if watching and self._metric is not None and self._metric.logged_by_validation(trainer):
            self._on_metric(trainer)

    # ------------------------------------------------------------------ hooks
    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._time = None if self._timer is None else TimeTrigger(self._timer)  # the pace is measured per fit
        if self._metric is not None:
            self._metric.validated = False
        drive = self._drive
        if drive is None or not isinstance(drive.start, WSDStart) or drive.start.planned is None:
            return  # the base skips this fit (fast_dev_run that cannot fit the schedule, ...)
        if all(at is None for at in drive.start.decay_at):
            self._check_length(drive.start.planned, drive.start)
        if self._decay_done(drive.clock(drive.plans[0], trainer.current_epoch) if drive.plans else 0.0):
            trainer.should_stop = True

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_mark = (trainer.current_epoch, trainer.global_step)
        super().on_train_epoch_start(trainer, pl_module)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        drive = self._drive
        if self.interval == "step" and drive is not None and self._decay_done(min(p.steps for p in drive.plans)):
            trainer.should_stop = True
        self._on_time(trainer)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        watching = self._metric is not None and self._drive is not None and not self._decay_begun()
        if watching and self._metric is not None and self._metric.logged_in_training(trainer):
            self._on_metric(trainer)
        if self.interval == "epoch" and self._decay_done(float(trainer.current_epoch + 1)):
            trainer.should_stop = True
        super().on_train_epoch_end(trainer, pl_module)


def _positive(value: WarmupLike, name: str) -> Span:
    return parse_duration(value, name, part_of_run=True, require="one unit")
