r"""``AutoLR()``: the whole LR schedule decided by the run — peak LR, warmup and cooldown — in one callback.

It is a recipe of existing pieces that Lightning sees as one callback: an :class:`~lightning_lr.LRFinder`
(range test + probes) picks the peak LR in ``on_fit_start``, then a
:class:`~lightning_lr.WarmupStableDecay` with ``num_warmup_steps="auto"`` (2/(1-beta2) steps for
Adam-type optimizers, capped at 10% of the run; none for SGD) holds that peak and cools down linearly over
the last half of the run, at the end of the known length, or, under
``Trainer(max_time=...)``, so that the decay ends when the time budget runs out (whichever comes first).
AutoLR forwards every hook to the two in that order (a Lightning callback cannot add callbacks to the
trainer through public API, so it delegates).
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, Timer
from lightning.pytorch.utilities import rank_zero_info
from typing_extensions import override

from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.wsd import DecayType, WarmupStableDecay
from lightning_lr.checks import ScheduleConflictError, check_choice, check_open_interval
from lightning_lr.finder import LRFinder
from lightning_lr.logging.tensorboard import tensorboard_writers
from lightning_lr.owners import check_hosted_schedulers
from lightning_lr.planner import AutoWarmup


class AutoLR(Callback):
    r"""One callback, no required argument: the finder's LR as the peak, an automatic warmup, a WSD cooldown.

    With :math:`\eta^*` the :class:`~lightning_lr.LRFinder` suggestion, :math:`w` the ``warmup="auto"``
    steps (:class:`~lightning_lr.planner.AutoWarmup`) and :math:`d = f\,T` the decay over the last
    ``decay_fraction`` of a run of :math:`T` steps, each group's LR is :class:`~lightning_lr.WarmupStableDecay`'s

    .. math:: \eta(t) = \eta^* \cdot \begin{cases} t/w & t < w \\ 1 & w \le t < T - d \\
        1 - (t - T + d)/d & t \ge T - d \end{cases}

    (group ratios kept). Under ``Trainer(max_time=...)`` :math:`T` is estimated during the run from the
    pace of the steps, and the decay starts so that it ends with the budget (``cooldown_on="max_time"``).

    Refused clearly: another LR owner (a schedule callback, another ``LRFinder``, a scheduler returned
    by ``configure_optimizers``) and a run whose length is unknown without ``max_time``.

    Args:
        decay_fraction: The cooldown's share of the run, in (0, 1). 0.5 with a linear decay: measured best of
            (0.2, 1-sqrt), (0.2, linear), (0.5, 1-sqrt), (0.5, linear) on the five designed-on tasks of
            ``benchmarks/tuning_free.py`` (runs of 90-250 steps; ``docs/auto.md``).
        decay_type: ``"linear"``, ``"1-sqrt"`` (Hägele et al. 2024) or ``"cosine"``.
        **finder: Passed to :class:`~lightning_lr.LRFinder` (``min_lr``, ``max_lr``, ``monitor``, ...).

    Attributes:
        finder: The :class:`~lightning_lr.LRFinder` it runs.
        schedule: The :class:`~lightning_lr.WarmupStableDecay` it drives.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> auto = AutoLR()
        >>> trainer = Trainer(max_epochs=3, callbacks=[auto], logger=False)
        >>> # trainer.fit(model); print(auto.explain())
    """

    def __init__(self, decay_fraction: float = 0.5, decay_type: DecayType = "linear", **finder: Any) -> None:
        self.decay_fraction = check_open_interval("decay_fraction", decay_fraction, 0.0, 1.0)
        self.decay_type: DecayType = check_choice("decay_type", decay_type, ("linear", "cosine", "1-sqrt"))  # type: ignore[assignment]
        self.finder = LRFinder(**finder)
        self.schedule = WarmupStableDecay(
            num_warmup_steps=AutoWarmup(), num_decay_steps=self.decay_fraction, decay_type=self.decay_type
        )
        self._cooldown = "at the end of the run"
        self._logged = False

    @property
    def inner_recipes(self) -> tuple[WarmupStableDecay]:
        """The schedule it drives, for whoever asks what sets the LR (``owners.recipes_of``: ``RewindOnSpike``'s LR
        cut goes through it, as through any schedule callback)."""
        return (self.schedule,)

    # ------------------------------------------------------------------ what it decided
    def explain(self) -> str:
        """What it decided: the peak LR (and how the finder chose it), the warmup, the cooldown."""
        result = self.finder.result
        peak = "not chosen yet" if result is None else result.explain()
        start = self.schedule.state_dict()
        warmup = start.get("wsd", {}).get("warmup")
        decay_at = [a for a in start.get("wsd", {}).get("decay_at", []) if a is not None]
        warm = "not decided yet" if warmup is None else f"{warmup:g} steps (warmup='auto', Ma & Yarats 2021)"
        cooldown = f"{self.decay_type} decay over {self.decay_fraction:.0%} of the run, {self._cooldown}"
        if decay_at:
            cooldown += f"; started at step {decay_at[0]:g} for {start['wsd']['decay_len']:g} steps"
        return f"AutoLR: peak LR: {peak} Warmup: {warm}. Cooldown: {cooldown}."

    def _log(self, trainer: pl.Trainer) -> None:
        rank_zero_info(self.explain())
        result, warmup = self.finder.result, self.schedule.state_dict().get("wsd", {}).get("warmup")
        metrics = {"autolr/warmup_steps": float(warmup or 0.0)}
        if result is not None and result.suggestion is not None:
            metrics["autolr/peak_lr"] = result.suggestion
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        for writer in tensorboard_writers(trainer):
            writer.add_text("autolr/decisions", self.explain(), trainer.global_step)

    # ------------------------------------------------------------------ checks
    def _refuse(self, trainer: pl.Trainer) -> None:
        others = [
            type(c).__name__
            for c in trainer.callbacks  # type: ignore[attr-defined]
            if c is not self and isinstance(c, (ScheduleCallback, LRFinder, AutoLR))
        ]
        if others:
            raise ScheduleConflictError(
                f"AutoLR owns the LR (finder, warmup and cooldown) but the trainer also has {', '.join(others)}: "
                "remove them, or replace AutoLR by the pieces you want (LRFinder(), WarmupStableDecay(...))."
            )
        check_hosted_schedulers("AutoLR", trainer, trainer.optimizers)  # before its finder's test, in its name
        timed = any(isinstance(c, Timer) and c.time_remaining() is not None for c in trainer.callbacks)  # type: ignore[attr-defined]
        steps = trainer.estimated_stepping_batches
        if not timed and (not math.isfinite(steps) or steps <= 0):
            raise ValueError(
                "AutoLR needs to know when the run ends to place the cooldown: set `max_steps` or `max_epochs` "
                "(with a sized train loader), or a time budget with `Trainer(max_time=...)`."
            )
        self.schedule.cooldown_on = "max_time" if timed else "end"
        self._cooldown = "ending with max_time (pace measured during the run)" if timed else "at the end of the run"

    # ------------------------------------------------------------------ state
    @property
    @override
    def state_key(self) -> str:
        return "AutoLR"

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"finder": self.finder.state_dict(), "schedule": self.schedule.state_dict()}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("finder"):
            self.finder.load_state_dict(state_dict["finder"])
        if state_dict.get("schedule"):
            self.schedule.load_state_dict(state_dict["schedule"])

    # ------------------------------------------------------------------ hooks
    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._refuse(trainer)
        self.finder.on_fit_start(trainer, pl_module)
        self.schedule.on_fit_start(trainer, pl_module)
        self._logged = False

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.schedule.on_train_start(trainer, pl_module)
        self._log(trainer)

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.schedule.on_train_epoch_start(trainer, pl_module)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.schedule.on_train_batch_start(trainer, pl_module, batch, batch_idx)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        decided = self._decided_now()
        self.schedule.on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if not decided and self.schedule.cooldown_on == "max_time" and self._decided_now():
            self._log(trainer)

    def _decided_now(self) -> bool:
        return any(a is not None for a in self.schedule.state_dict().get("wsd", {}).get("decay_at", []))

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.schedule.on_train_epoch_end(trainer, pl_module)

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.schedule.on_validation_start(trainer, pl_module)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.schedule.on_validation_end(trainer, pl_module)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.schedule.on_train_end(trainer, pl_module)

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.schedule.teardown(trainer, pl_module, stage)

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.schedule.on_exception(trainer, pl_module, exception)
