"""``RewindOnSpike``: a non-finite loss or a loss spike rewinds to the last good state, cuts the LR and runs on."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch.optim import Optimizer
from typing_extensions import override

from lightning_lr.checks import (
    check_bool,
    check_open_interval,
    check_positive_int,
    check_real,
    check_state_version,
)
from lightning_lr.logging.loss import loss_of
from lightning_lr.rewind.lr_cut import cut_lr_everywhere
from lightning_lr.rewind.snapshot import TrainingSnapshot
from lightning_lr.spike_rule import SpikeRule

STATE_VERSION = 1
REASONS = {
    "spike": "spike",
    "outlier": "outlier loss",
    "non-finite": "non-finite gradients",
    "regress": "lost progress",
}
log = logging.getLogger(__name__)

__all__ = ["RewindOnSpike", "TooManyRewindsError"]


class TooManyRewindsError(RuntimeError):
    """``RewindOnSpike`` rewound ``max_rewinds`` times and the run spiked again."""


class RewindOnSpike(Callback):
    """Rewind to the last good weights and optimizer state on a non-finite loss or a loss spike, cut the LR, go on.

    Every optimizer step's loss (averaged over DDP ranks, so all ranks decide together) goes through a
    :class:`~lightning_lr.spike_rule.SpikeRule`: the loss :math:`\\ell_t` is high when
    :math:`\\ell_t > k \\cdot \\operatorname{median}(\\text{last } W \\text{ normal losses})`, and ``patience``
    high losses in a row are a spike; one loss above ``outlier_factor`` times the median is an outlier. A run
    that **lost its progress** (the median of the last ``min_history`` losses back at the start, the median of
    the first ``min_history``, after it had been ``progress`` times the start below it) is rewound too, and
    snapshots are only taken while less than half the progress is lost.
    Before each optimizer step (without an AMP gradient scaler, whose skipped steps are its own business), a
    gradient norm that is non-finite or above ``grad_outlier_factor`` times its running median makes the
    callback drop the gradients: the step is skipped, and a lone one costs nothing more. On a spike, an
    outlier loss, a non-finite loss or a skipped step, the callback

    1. restores the weights, buffers, optimizer states and scaler state of the last good snapshot (not for a
       lone skipped step, which changed nothing) (taken every
       ``every_n_steps`` optimizer steps after a normal loss, and at the start of each fit);
    2. multiplies the LR by ``lr_factor`` for the rest of the run: through
       :meth:`~lightning_lr.callbacks.ScheduleCallback.cut_lr` of every schedule callback that sets the LR
       (kept in its checkpoint, as plateau cuts), else directly in the param groups (and the ``base_lrs`` of a
       scheduler from ``configure_optimizers``). A lone outlier or non-finite loss (the steps before it normal,
       the first rewind to that snapshot) is treated as a bad batch: rewound, the LR not cut;
    3. runs on with the next batch: the batches since the snapshot are not replayed, and the clock is not
       rewound (``trainer.global_step`` and the schedule run on from the current step; the skipped steps are
       spent);
    4. logs ``rewind/count`` and ``rewind/lr_factor`` through ``trainer.loggers`` and a warning line with the step
       and the reason.

    The rewind after ``max_rewinds`` raises :class:`TooManyRewindsError` after restoring the last good state
    into the module and the optimizers; the message gives its step (and the file, with ``snapshot_dir``).

    Args:
        spike_factor: ``k > 1`` of the rule.
        patience: High losses in a row that make a spike.
        window: Normal losses in the running median.
        min_history: Normal losses before a finite loss can be high (non-finite ones count from the start).
        outlier_factor: A single loss above this many times the median is rewound at once (``>= spike_factor``).
        progress: The recent median back at the start after it had been this fraction of the start below it is
            lost progress, in ``(0, 1)``; ``None``: no such test.
        grad_outlier_factor: A step whose gradient norm is above this many times the median of recent steps'
            norms is skipped (measured: clean GRU steps reach 11.5x, a CNN batch of inputs x 1e4 1e4x and more);
            ``patience`` gradient norms in a row above ``outlier_factor`` times it are a gradient spike (skipped,
            rewound, the LR cut).
        every_n_steps: Optimizer steps between snapshots; ``None``: 1% of the run, between 10 and 100 (50 when
            the run's length is unknown).
        lr_factor: The LR is multiplied by this at each rewind, in ``(0, 1)``.
        max_rewinds: Rewinds allowed in a run; one more event stops it.
        check_grads: Also look for non-finite gradients before each optimizer step (one reduction over the
            gradients per step).
        snapshot_dir: Keep the snapshot in ``snapshot_dir/rewind-rank<r>.pt`` instead of host memory.
        max_snapshot_bytes: Host memory a snapshot may take (``None``: no limit); a larger one raises and
            suggests ``snapshot_dir``.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from lightning_lr import OneCycle, RewindOnSpike
        >>> trainer = Trainer(max_epochs=3, callbacks=[OneCycle(), RewindOnSpike()], logger=False)
    """

    def __init__(
        self,
        spike_factor: float = 2.0,
        patience: int = 3,
        window: int = 50,
        min_history: int = 10,
        outlier_factor: float = 10.0,
        progress: float | None = 0.1,
        grad_outlier_factor: float = 100.0,
        every_n_steps: int | None = None,
        lr_factor: float = 0.5,
        max_rewinds: int = 10,
        check_grads: bool = True,
        snapshot_dir: str | Path | None = None,
        max_snapshot_bytes: int | None = 8 * 2**30,
    ) -> None:
        if check_real("spike_factor", spike_factor) <= 1.0:
            raise ValueError(f"`spike_factor` must be > 1 (a spike is above the running level), got {spike_factor!r}.")
        self.rule = SpikeRule(spike_factor, patience, window, min_history, outlier_factor, progress)
        # the gradient norm of every optimizer step: one above grad_outlier_factor x its median is an outlier
        if check_real("grad_outlier_factor", grad_outlier_factor) <= 1.0:
            raise ValueError(f"`grad_outlier_factor` must be > 1, got {grad_outlier_factor!r}.")
        # (above outlier_factor x the median for `patience` steps in a row: a gradient spike)
        self.grad_rule = SpikeRule(self.rule.outlier_factor, patience, window, min_history, grad_outlier_factor, None)
        self.every_n_steps = None if every_n_steps is None else check_positive_int("every_n_steps", every_n_steps)
        self._every = self.every_n_steps or 50
        self.lr_factor = check_open_interval("lr_factor", lr_factor, 0.0, 1.0)
        self.max_rewinds = check_positive_int("max_rewinds", max_rewinds)
        self.check_grads = check_bool("check_grads", check_grads)
        if snapshot_dir is not None and not isinstance(snapshot_dir, (str, Path)):
            raise TypeError(f"`snapshot_dir` must be a str, a Path or None, got {snapshot_dir!r}.")
        self.snapshot_dir = None if snapshot_dir is None else Path(snapshot_dir)
        self.max_snapshot_bytes = (
            None if max_snapshot_bytes is None else check_positive_int("max_snapshot_bytes", max_snapshot_bytes)
        )
        self.rewinds = 0
        self.lr_scale = 1.0  # product of the LR cuts so far
        self.events: list[dict[str, Any]] = []  # one per rewind: step, reason, loss, restored step, LR cut
        self.snapshot: TrainingSnapshot | None = None
        self._uses = 0  # rewinds to the current snapshot
        self._seen_step = -1
        self._bad_grads: str | None = None  # why this step's gradients were dropped (the step skipped)
        self._warned_no_loss = False

    # ------------------------------------------------------------------ state
    @override
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "rewinds": self.rewinds,
            "lr_scale": self.lr_scale,
            "events": [dict(e) for e in self.events],
            "rule": self.rule.state_dict(),
            "grad_rule": self.grad_rule.state_dict(),
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        check_state_version(type(self).__name__, state_dict, STATE_VERSION)
        self.rewinds, self.lr_scale = int(state_dict["rewinds"]), float(state_dict["lr_scale"])
        self.events = [dict(e) for e in state_dict["events"]]
        self.rule.load_state_dict(state_dict["rule"])
        self.grad_rule.load_state_dict(state_dict["grad_rule"])

    # ------------------------------------------------------------------ hooks
    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._seen_step = trainer.global_step
        if self.every_n_steps is None:
            total = float(trainer.estimated_stepping_batches)
            self._every = 50 if not 0 < total < math.inf else min(100, max(10, round(total / 100)))
        self.snapshot = None  # the first one at the first batch: after every on_train_epoch_start (ScheduleFree's
        # switch back to the training weights after a resume or a further fit)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.snapshot is None:
            self._take_snapshot(trainer, pl_module)

    @override
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Optimizer
    ) -> None:
        if not self.check_grads or getattr(trainer.precision_plugin, "scaler", None) is not None:
            return  # the scaler skips steps with inf/NaN gradients itself: not a spike
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norms = [torch.linalg.vector_norm(p.grad) for p in params]  # type: ignore[arg-type]
        if not norms:
            return
        total = float(torch.linalg.vector_norm(torch.stack(norms)))
        if not math.isfinite(total):
            self._bad_grads = "non-finite gradients"
        else:
            verdict = self.grad_rule.update(total)
            if verdict in ("outlier", "spike"):
                self._bad_grads = "outlier gradients" if verdict == "outlier" else "gradient spike"
                self.grad_rule.reset_run()
        if self._bad_grads is not None:
            for p in params:  # torch's optimizers leave a parameter without a gradient alone: the step is skipped
                p.grad = None

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = loss_of(outputs)
        if loss is None and self._bad_grads is None:
            self._warn_no_loss(trainer)
            return
        grad_reason, self._bad_grads = self._bad_grads, None
        value, bad_grads = self._decide_together(trainer, pl_module, loss, grad_reason is not None)
        if bad_grads:  # the step was skipped; its loss does not enter the level
            self.rule.high_run += 1
            verdict: str = "non-finite"
        else:
            verdict = self.rule.update(value)
        stepped, self._seen_step = trainer.global_step != self._seen_step, trainer.global_step
        if verdict in REASONS:
            reason = "non-finite loss" if not math.isfinite(value) else grad_reason or REASONS[verdict]
            step = trainer.global_step - 1 if stepped else trainer.global_step
            self._rewind(trainer, pl_module, reason, value, step, skipped=bad_grads)
            if verdict == "regress":  # the recent losses are not the restored state's: learn its level again
                self.rule.forget_recent()
        elif verdict == "ok" and stepped and self._snapshot_due(trainer.global_step) and self.rule.keeps_progress:
            self._take_snapshot(trainer, pl_module)

    # ------------------------------------------------------------------ the parts
    def _decide_together(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor | None, skipped: bool
    ) -> tuple[float, bool]:
        """The loss averaged over ranks (NaN anywhere is NaN everywhere) and whether any rank saw bad gradients."""
        local = torch.tensor([math.nan if loss is None else float(loss), float(skipped)], device=pl_module.device)
        if trainer.world_size > 1:
            local = trainer.strategy.reduce(local, reduce_op="mean")
        return float(local[0]), bool(local[1] > 0)

    def _snapshot_due(self, step: int) -> bool:
        return self.snapshot is not None and step - self.snapshot.step >= self._every

    def _take_snapshot(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        path = None if self.snapshot_dir is None else self.snapshot_dir / f"rewind-rank{trainer.global_rank}.pt"
        self.snapshot = TrainingSnapshot(trainer, pl_module, trainer.global_step, path, self.max_snapshot_bytes)
        self._uses = 0

    def _where(self) -> str:
        assert self.snapshot is not None
        where = f"optimizer step {self.snapshot.step}"
        return where if self.snapshot.path is None else f"{where} (saved in {self.snapshot.path})"

    def _rewind(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, reason: str, loss: float, step: int, skipped: bool
    ) -> None:
        """Restore the snapshot, cut the LR (not for a lone outlier or non-finite loss), log; ``step``: the
        offending one. A lone step whose non-finite gradients were dropped (``skipped``) changed nothing: it
        is only recorded (restored: ``step`` itself)."""
        snapshot = self.snapshot
        if snapshot is None:  # pragma: no cover - taken at the first batch of the fit
            return
        recent = bool(self.events) and step - int(self.events[-1]["step"]) <= self._every  # trouble came back
        lone = not reason.endswith("spike") and self.rule.high_run == 1 and (skipped or self._uses == 0) and not recent
        if self.rewinds >= self.max_rewinds or not (lone and skipped):
            snapshot.restore(trainer, pl_module)
            # the gradient level is learnt again from the restored state: with the window of before, whose norms
            # the state had outgrown (norms grow as a model leaves its initialization), every step was an outlier
            self.grad_rule.history.clear()
        if self.rewinds >= self.max_rewinds:
            raise TooManyRewindsError(
                f"RewindOnSpike: {reason} at optimizer step {step} (loss {loss:.4g}) after "
                f"{self.rewinds} rewinds (max_rewinds={self.max_rewinds}). The last good state, of "
                f"{self._where()}, is back in the module and the optimizers; the LR was cut to x{self.lr_scale:.3g}."
            )
        factor = 1.0 if lone else self.lr_factor
        if not lone:
            cut_lr_everywhere(trainer, factor)
            self.lr_scale *= factor
        restored = step if lone and skipped else snapshot.step
        self.rewinds += 1
        self._uses += restored == snapshot.step
        self.rule.reset_run()
        self.grad_rule.reset_run()
        self.events.append({"step": step, "reason": reason, "loss": loss, "restored": restored, "lr_cut": factor})
        if trainer.is_global_zero:
            log.warning(
                "RewindOnSpike: %s at optimizer step %d (loss %.4g): restored step %d, LR x%g (total x%.3g), "
                "rewind %d of %d",
                reason, step, loss, restored, factor, self.lr_scale, self.rewinds, self.max_rewinds,
            )  # fmt: skip
        metrics = {"rewind/count": float(self.rewinds), "rewind/lr_factor": self.lr_scale}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)

    def _warn_no_loss(self, trainer: pl.Trainer) -> None:
        if not self._warned_no_loss and trainer.is_global_zero:
            log.warning(
                "RewindOnSpike: `training_step` returned no loss (a tensor or {'loss': tensor}); nothing to watch. "
                "In manual optimization, return the loss from `training_step`."
            )
        self._warned_no_loss = True
