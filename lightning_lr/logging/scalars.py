"""LR and momentum scalars, written through ``trainer.loggers`` at the step they apply to, and kept in
``trainer.callback_metrics`` for the callbacks that read metrics there (``ModelCheckpoint``, ``EarlyStopping``).

Names follow Lightning's ``LearningRateMonitor`` so existing dashboards and monitors keep working:
``lr-<Optimizer>`` (``lr-<Optimizer>-<n>`` for the n-th further optimizer of the same class),
``/pg<i>`` (1-based) or ``/<name>`` when the optimizer has several param groups or names them,
and ``-momentum`` for the momentum (or Adam ``beta1``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.optim import Optimizer


def series_names(optimizers: Sequence[Optimizer]) -> list[list[str]]:
    """The ``LearningRateMonitor`` name of every param group of every optimizer.

    Example:
        >>> import torch
        >>> w = [torch.nn.Parameter(torch.zeros(1))]
        >>> sgd = torch.optim.SGD([{"params": w}, {"params": [torch.nn.Parameter(torch.zeros(1))], "name": "head"}])
        >>> series_names([sgd, torch.optim.Adam(w), torch.optim.Adam(w)])
        [['lr-SGD/pg1', 'lr-SGD/head'], ['lr-Adam'], ['lr-Adam-1']]
    """
    seen: Counter[type] = Counter()
    names = []
    for optimizer in optimizers:
        cls = type(optimizer)
        base = f"lr-{cls.__name__}" + (f"-{seen[cls]}" if seen[cls] else "")
        seen[cls] += 1
        groups = optimizer.param_groups
        group_names = []
        for i, group in enumerate(groups):
            label = group.get("name", f"pg{i + 1}" if len(groups) > 1 else None)
            group_names.append(f"{base}/{label}" if label else base)
        names.append(group_names)
    return names


def due(step: int, last: int, every: int) -> bool:
    """Whether ``step`` starts a new logging interval since ``last`` (``-1``: nothing logged yet).

    Counting intervals rather than testing ``step % every == 0`` also works when the global step
    advances by more than one per batch (manual optimization with several optimizers).

    Example:
        >>> [s for s, last in [(0, -1), (3, 0), (4, 0), (6, 4), (9, 4)] if due(s, last, every=4)]
        [0, 4, 9]
    """
    return last < 0 or step // every > last // every


def log_every(trainer: pl.Trainer) -> int:
    """``Trainer(log_every_n_steps=...)``, at least 1."""
    return max(int(trainer.log_every_n_steps), 1)  # type: ignore[attr-defined]


class ScalarLogger:
    """Writes LR/momentum scalars to every logger of the trainer every ``log_every_n_steps``, and puts them
    into ``trainer.callback_metrics`` then and before the last step of every epoch (:meth:`should_publish`).

    Args:
        enabled: ``True``: log, and warn once if the trainer has no logger; ``False``: never log;
            ``None``: log when there is a logger, silently skip otherwise. ``trainer.callback_metrics``
            gets the values in every case.
    """

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = enabled
        self._last_step = -1
        self._published_step = -1
        self._warned = False

    def should_log(self, trainer: pl.Trainer) -> bool:
        if self.enabled is False:
            return False
        if not trainer.loggers:
            if self.enabled and not self._warned:
                self._warned = True
                rank_zero_warn(
                    "lightning_lr: `log_lr=True` but the Trainer has no logger; the LR is not logged. "
                    "Pass a logger (e.g. TensorBoardLogger) or `log_lr=False`."
                )
            return False
        return due(trainer.global_step, self._last_step, log_every(trainer))

    def log(self, trainer: pl.Trainer, metrics: dict[str, Any]) -> None:
        """Write ``metrics`` at ``trainer.global_step`` (the step the values apply to)."""
        self._last_step = trainer.global_step
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)

    def should_publish(self, trainer: pl.Trainer) -> bool:
        """Whether the values of this step go into ``trainer.callback_metrics``: every ``log_every_n_steps``
        (with or without a logger, as ``LearningRateMonitor`` does), and at the last step of every epoch and
        of the run (where ``ModelCheckpoint``, ``EarlyStopping`` and other monitors read them)."""
        step = trainer.global_step
        if step == self._published_step:
            return False  # the next micro-batch of an accumulation window: the same step's values
        if due(step, self._published_step, log_every(trainer)):
            return True
        return trainer.is_last_batch or 0 < trainer.max_steps <= step + 1

    def publish(self, trainer: pl.Trainer, metrics: dict[str, float]) -> None:
        """Put ``metrics`` into ``trainer.callback_metrics``, as ``LearningRateMonitor`` does with its values.

        On every rank, with or without a logger. Each value is a 0-dim float64 tensor on the CPU: the exact
        float the param group holds, and no copy to (and wait for) an accelerator.

        Example:
            >>> trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
            >>> ScalarLogger(None).publish(trainer, {"lr-SGD": 0.1})
            >>> trainer.callback_metrics["lr-SGD"]
            tensor(0.1000, dtype=torch.float64)
        """
        self._published_step = trainer.global_step
        values = {name: torch.scalar_tensor(value, dtype=torch.float64) for name, value in metrics.items()}
        trainer.callback_metrics.update(values)

    def reset(self) -> None:
        """A new fit (Lightning has emptied ``trainer.callback_metrics``): log and publish from scratch."""
        self._last_step = -1
        self._published_step = -1
