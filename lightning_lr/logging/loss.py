"""The training loss next to the LR: raw (mean over the logging interval) and a running mean.

Both are torchmetrics metrics, so under DDP they are averaged over all ranks when computed.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.aggregation import MeanMetric, RunningMean

from lightning_lr.logging.tensorboard import LOSS_TAG, SMOOTHED_LOSS_TAG


def loss_of(outputs: Any) -> torch.Tensor | None:
    """The loss a ``training_step`` returned (a tensor or ``{"loss": tensor}``), if any."""
    if isinstance(outputs, dict):
        outputs = outputs.get("loss")
    if isinstance(outputs, torch.Tensor) and outputs.numel() == 1:
        return outputs.detach().float()
    return None


class LossTracker:
    """Accumulates the per-step training loss; ``compute()`` syncs across ranks.

    Args:
        window: Steps in the running mean of ``loss/train_smoothed``.
    """

    def __init__(self, window: int = 20) -> None:
        self.interval = MeanMetric(nan_strategy="ignore")
        self.running = RunningMean(window=window, nan_strategy="ignore")
        self.updated = False

    def to(self, device: torch.device) -> LossTracker:
        self.interval.to(device)
        self.running.to(device)
        return self

    def update(self, loss: torch.Tensor) -> None:
        loss = loss.to(self.interval.device)
        self.interval.update(loss)
        self.running.update(loss)
        self.updated = True

    def compute(self) -> dict[str, float]:
        """Raw (interval mean) and smoothed loss; call on every rank (it may all-gather)."""
        values = {LOSS_TAG: float(self.interval.compute()), SMOOTHED_LOSS_TAG: float(self.running.compute())}
        self.interval.reset()
        self.updated = False
        return values
