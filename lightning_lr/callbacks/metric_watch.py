r"""A monitored metric: the one improvement rule of ``ReduceLROnPlateau`` and ``WarmupStableDecay(monitor=...)``.

A value :math:`a` improves on the best :math:`b` when :math:`a < b(1 - \theta)` (``mode="min"``,
``threshold_mode="rel"``), :math:`a < b - \theta` (``"abs"``), or the mirror images for ``mode="max"``:
PyTorch's ``ReduceLROnPlateau`` rule. The metric is read where it is logged and averaged over DDP
ranks first (:func:`read_metric`), so every rank takes the same decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import lightning.pytorch as pl
import torch

from lightning_lr.checks import check_choice, check_non_negative, check_non_negative_int

Mode = Literal["min", "max"]
ThresholdMode = Literal["rel", "abs"]


@dataclass(frozen=True)
class Improvement:
    """When a monitored value counts as better than the best so far.

    Example:
        >>> rule = Improvement("min", 0.01, "rel")
        >>> rule.is_better(0.98, best=1.0), rule.is_better(0.995, best=1.0)
        (True, False)
    """

    mode: Mode = "min"
    threshold: float = 1e-4
    threshold_mode: ThresholdMode = "rel"

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, ("min", "max"))
        check_non_negative("threshold", self.threshold)
        check_choice("threshold_mode", self.threshold_mode, ("rel", "abs"))

    def worst(self) -> float:
        """The best value before any check: ``inf`` for ``"min"``, ``-inf`` for ``"max"``."""
        return math.inf if self.mode == "min" else -math.inf

    def is_better(self, current: float, best: float) -> bool:
        """Whether ``current`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            bound = best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            return current < bound
        bound = best * (1.0 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold
        return current > bound


@dataclass
class Patience:
    """Checks without improvement, counted against ``patience`` (kept in checkpoints as a plain dict).

    Example:
        >>> watch = Patience(best=math.inf)
        >>> [watch.update(v, Improvement(), patience=1) for v in (1.0, 1.0, 1.0)]
        [False, False, True]
    """

    best: float
    num_bad_checks: int = 0
    checks: int = 0

    def update(self, current: float, rule: Improvement, patience: int) -> bool:
        """Count ``current``; whether more than ``patience`` checks in a row have not improved."""
        self.checks += 1
        if rule.is_better(current, self.best):
            self.best, self.num_bad_checks = current, 0
        else:
            self.num_bad_checks += 1
        return self.num_bad_checks > check_non_negative_int("patience", patience)


def read_metric(trainer: pl.Trainer, name: str) -> float:
    """``trainer.callback_metrics[name]`` averaged over DDP ranks (on the device: NCCL needs it there)."""
    value = torch.as_tensor(trainer.callback_metrics[name]).detach()
    value = value.to(trainer.strategy.root_device, value.dtype if value.is_floating_point() else torch.float32)
    return float(trainer.strategy.reduce(value, reduce_op="mean"))
