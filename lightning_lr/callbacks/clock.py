"""How far training is: a per-optimizer step counter and the run's length.

:class:`OptimizerClock` counts the optimizer's *real* steps through
``Optimizer.register_step_post_hook``: a step the AMP gradient scaler skips never calls
``optimizer.step`` and so does not count, LBFGS counts once however often it evaluates its
closure, and in manual optimization each optimizer has its own count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
from torch.optim import Optimizer
from torch.utils.hooks import RemovableHandle

from lightning_lr.schedules import Timeline


class OptimizerClock:
    """Counts the real steps of one optimizer while attached.

    Args:
        optimizer: The optimizer to watch.
        steps: Steps already taken (restored from a checkpoint on resume).
        on_step: Called with the clock after each real step; ``None``: count only.
    """

    def __init__(
        self, optimizer: Optimizer, steps: int = 0, on_step: Callable[[OptimizerClock], None] | None = None
    ) -> None:
        self.optimizer = optimizer
        self.steps = steps
        self._on_step = on_step
        self._handle: RemovableHandle | None = None
        if on_step is not None:
            self._handle = optimizer.register_step_post_hook(self._tick)

    def _tick(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        self.steps += 1
        if self._on_step is not None:
            self._on_step(self)

    def detach(self) -> None:
        """Stop counting (idempotent)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def run_timeline(trainer: pl.Trainer, interval: str) -> Timeline:
    """The run's length in the callback's clock units (optimizer steps or epochs), per optimizer.

    Steps: ``trainer.estimated_stepping_batches`` (``inf`` for an endless run or an iterable
    dataset without length); in manual optimization this counts one step per batch for each
    optimizer. Epochs: ``max_epochs``, or fewer when ``max_steps`` ends training earlier.
    """
    estimated = float(trainer.estimated_stepping_batches)  # loads the train dataloader, unless max_epochs=-1
    total_steps = estimated if estimated >= 0 else math.inf
    if not math.isfinite(float(trainer.num_training_batches)) and trainer.train_dataloader is None:
        trainer.fit_loop.setup_data()  # a max_steps-only run: epochs still need the batches per epoch
    batches = float(trainer.num_training_batches)
    steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches) if math.isfinite(batches) else math.inf
    if interval == "step":
        return Timeline(total=total_steps, steps_per_epoch=float(steps_per_epoch))
    max_epochs = trainer.max_epochs
    total_epochs = float(max_epochs) if max_epochs is not None and max_epochs > 0 else math.inf
    if trainer.max_steps > 0 and math.isfinite(steps_per_epoch) and steps_per_epoch > 0:
        total_epochs = min(total_epochs, float(math.ceil(trainer.max_steps / steps_per_epoch)))
    return Timeline(total=total_epochs, steps_per_epoch=1.0)
