"""The training loss next to the LR: raw (mean over the logging interval) and a running mean.

Per step only a reference to the detached loss tensor is kept (no device sync, no metric
update: about a microsecond); at a logging step the interval and the window are averaged and
combined across DDP ranks by a torchmetrics ``MeanMetric`` (weighted by the number of steps).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import torch
from torchmetrics.aggregation import MeanMetric

from lightning_lr.logging.tensorboard import LOSS_TAG, SMOOTHED_LOSS_TAG


def loss_of(outputs: Any) -> torch.Tensor | None:
    """The loss a ``training_step`` returned (a tensor or ``{"loss": tensor}``), if any."""
    if isinstance(outputs, dict):
        outputs = outputs.get("loss")
    if isinstance(outputs, torch.Tensor) and outputs.numel() == 1:
        return outputs.detach()
    return None


class LossTracker:
    """Collects the per-step training loss; :meth:`compute` averages across ranks.

    Args:
        window: Steps in the running mean of ``loss/train_smoothed``.
    """

    def __init__(self, window: int = 20) -> None:
        self.pending: list[torch.Tensor] = []
        self.recent: deque[torch.Tensor] = deque(maxlen=window)
        self._mean = MeanMetric(nan_strategy="ignore")

    @property
    def updated(self) -> bool:
        return bool(self.pending)

    def to(self, device: torch.device) -> LossTracker:
        self._mean.to(device)
        return self

    def update(self, loss: torch.Tensor) -> None:
        self.pending.append(loss)
        self.recent.append(loss)

    def _synced_mean(self, values: list[torch.Tensor]) -> float:
        local = torch.stack(values).to(self._mean.device, torch.float32)
        self._mean.update(local.mean(), weight=float(local.numel()))
        value = float(self._mean.compute())  # all-gathers under DDP: call on every rank
        self._mean.reset()
        return value

    def compute(self) -> dict[str, float]:
        """Raw (interval mean) and smoothed (window mean) loss, averaged over ranks; starts a new interval."""
        values = {LOSS_TAG: self._synced_mean(self.pending), SMOOTHED_LOSS_TAG: self._synced_mean(list(self.recent))}
        self.pending = []
        return values
