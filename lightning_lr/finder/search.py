"""The range test itself: raise the LR step by step, record the loss, stop on divergence, restore."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.strategies import (
    DDPStrategy,
    DeepSpeedStrategy,
    FSDPStrategy,
    ModelParallelStrategy,
    SingleDeviceStrategy,
    Strategy,
)
from lightning.pytorch.utilities import rank_zero_info
from torch.optim import Optimizer
from tqdm import tqdm

from lightning_lr.finder.result import FinderResult
from lightning_lr.finder.smoothing import MovingAverage
from lightning_lr.finder.state import Snapshot
from lightning_lr.finder.steps import Stepper
from lightning_lr.finder.suggest import MIN_POINTS, Method
from lightning_lr.finder.validation import Validator
from lightning_lr.planner import write_value

Mode = Literal["exponential", "linear"]


@dataclass(frozen=True)
class FinderConfig:
    """The test's settings (checked by :class:`~lightning_lr.finder.LRFinder`)."""

    min_lr: float = 1e-8
    max_lr: float = 1.0
    num_training_steps: int | None = None
    mode: Mode = "exponential"
    early_stop_threshold: float | None = 4.0
    smoothing: float = 0.98
    suggestion: Method = "valley"
    monitor: str | None = None
    val_batches: int = 2
    confirm: bool = True
    probe_steps: int | None = None

    def lrs(self) -> list[float]:
        r"""The LR of each point :math:`i = 0 .. n-1`.

        Exponential: :math:`\eta_i = \eta_{min} (\eta_{max}/\eta_{min})^{i/(n-1)}`;
        linear: :math:`\eta_i = \eta_{min} + (\eta_{max} - \eta_{min})\, i/(n-1)`. The first point is
        ``min_lr`` and the last ``max_lr`` exactly.
        """
        n = self.num_training_steps
        if n is None:
            raise ValueError("FinderConfig.lrs: `num_training_steps` is None (the finder resolves it from the run).")
        if self.mode == "exponential":
            values = np.geomspace(self.min_lr, self.max_lr, n)
        else:
            values = np.linspace(self.min_lr, self.max_lr, n)
        out = [float(v) for v in values]
        out[0], out[-1] = self.min_lr, self.max_lr
        return out


def reference_lr(optimizers: list[Optimizer]) -> float:
    """The first param group's LR: the test reports it; every other group keeps its ratio to it."""
    if not optimizers:
        raise ValueError("LRFinder found no optimizer: `configure_optimizers` must return at least one.")
    lr = float(optimizers[0].param_groups[0]["lr"])
    if not lr > 0:
        raise ValueError(
            f"LRFinder scales every param group by (test LR) / (LR of the first param group), but that LR is "
            f"{lr!r}; configure a positive LR for the first param group."
        )
    return lr


def set_lr(optimizers: list[Optimizer], ratios: list[list[float]], lr: float) -> None:
    """Group ``g`` of optimizer ``k`` gets ``lr * ratios[k][g]`` (the first group exactly ``lr``); a tensor
    ``lr`` is written in place (:func:`~lightning_lr.planner.write_value`)."""
    for optimizer, groups in zip(optimizers, ratios):
        for group, ratio in zip(optimizer.param_groups, groups):
            write_value(group, "lr", lr * ratio if ratio != 1.0 else lr)


def ratios_of(optimizers: list[Optimizer]) -> list[list[float]]:
    """Each group's LR relative to the first group's."""
    ref = reference_lr(optimizers)
    return [[float(g["lr"]) / ref for g in opt.param_groups] for opt in optimizers]


def check_strategy(strategy: Strategy) -> None:
    """Refuse, before the test, a strategy whose model or optimizer state is sharded across ranks.

    The test's snapshot and restore copy every parameter and optimizer state tensor in full, which
    is right for one device and for DDP (every rank holds the whole model) but not for FSDP,
    DeepSpeed or tensor parallelism, where each rank holds a shard.
    """
    sharded = isinstance(strategy, (FSDPStrategy, DeepSpeedStrategy, ModelParallelStrategy))
    if sharded or not isinstance(strategy, (SingleDeviceStrategy, DDPStrategy)):
        raise ValueError(
            f"LRFinder runs on one device or with DDP (`ddp`, `ddp_spawn`, multi-node DDP), not with "
            f"{type(strategy).__name__}: it shards the model or the optimizer state across ranks, which the test's "
            "exact snapshot and restore do not handle. Run `find_lr` with a DDP or single-device Trainer on the "
            "same model and data, then pass the suggestion as the LR (or to the schedule's `max_lr`)."
        )


def run_range_test(
    trainer: pl.Trainer, pl_module: pl.LightningModule, config: FinderConfig, loaders: Any, val_source: Any = None
) -> FinderResult:
    """Run the test on ``loaders`` (what :func:`~lightning_lr.train_data.load_train_dataloader` returned) and
    restore everything; the result is decided on rank 0 and broadcast.

    Each point ``i`` writes ``lrs[i]`` (every group scaled alike), takes one optimizer step and
    records its loss (averaged across ranks). The test stops early when that loss is NaN/inf or,
    from the sixth point on (the moving average needs a few batches), when the smoothed loss exceeds
    ``early_stop_threshold`` times the best smoothed loss so far.
    """
    start = time.perf_counter()
    optimizers = list(trainer.optimizers)
    ratios = ratios_of(optimizers)
    strategy = trainer.strategy
    lrs: list[float] = []
    losses: list[float] = []
    usable: int | None = None
    if config.num_training_steps is None:
        raise ValueError("run_range_test needs `num_training_steps` (the budget resolves it from the run).")
    stop = f"completed all {config.num_training_steps} steps"
    snapshot = Snapshot.of_fit(trainer, pl_module, loaders)
    rank_zero_info(
        f"LRFinder: range test of up to {config.num_training_steps} steps, lr {config.min_lr:.3g} -> "
        f"{config.max_lr:.3g} ({config.mode}); the model and optimizer are restored afterwards."
    )
    bar = progress_bar(trainer, config.num_training_steps, "LRFinder range test")
    try:
        with Stepper(trainer, pl_module, loaders) as stepper:
            validator = None
            if config.monitor is not None:
                validator = Validator(trainer, pl_module, config.monitor, config.val_batches, stepper.recorder)
                validator.source = val_source
            grid = config.lrs()
            rule, skipped = StopRule(config.smoothing, config.early_stop_threshold), 0
            while len(lrs) < len(grid):
                lr = grid[len(lrs)]
                set_lr(optimizers, ratios, lr)
                loss = stepper.point()
                if loss is not None and validator is not None:
                    loss = validator.evaluate()
                value = mean_across_ranks(strategy, loss)
                if value is None:
                    skipped += 1
                    if skipped > 1000:
                        raise RuntimeError(
                            "LRFinder: `training_step` returned no loss for 1000 batches in a row; the range test "
                            "needs the loss (return it, or a dict with 'loss')."
                        )
                    continue
                skipped = 0
                lrs.append(lr)
                losses.append(value)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(lr=f"{lr:.3g}", loss=f"{value:.4g}", refresh=False)
                why = rule.check(lr, value)
                if strategy.reduce_boolean_decision(why is not None, all=False):
                    usable, stop = len(lrs) - 1, why or "stopped on another rank"
                    break
    finally:
        if bar is not None:
            bar.close()
        snapshot.restore()
    result = None
    if trainer.is_global_zero:
        result = FinderResult.from_curve(
            lrs,
            losses,
            smoothing=config.smoothing,
            method=config.suggestion,
            usable=usable,
            stop_reason=stop,
            monitor=config.monitor or "train loss",
        )
        result.seconds = time.perf_counter() - start
    decided: FinderResult | None = strategy.broadcast(result, src=0)
    if decided is None:  # pragma: no cover - rank 0 always has a result
        raise RuntimeError("LRFinder: rank 0 sent no result.")
    return decided


def progress_bar(trainer: pl.Trainer, total: int, desc: str) -> Any:
    """A bar like Lightning's own finder's: rank zero only, and only when the trainer shows progress bars."""
    if not trainer.is_global_zero or trainer.progress_bar_callback is None:
        return None
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)


def mean_across_ranks(strategy: Any, loss: torch.Tensor | None) -> float | None:
    """The loss averaged over the ranks that have one; ``None`` when no rank has one (batch skipped)."""
    device = strategy.root_device
    if loss is None:
        pair = torch.zeros(2, dtype=torch.float64, device=device)
    else:
        value = loss.detach().to(device=device, dtype=torch.float64).reshape(())
        pair = torch.stack([value, torch.ones((), dtype=torch.float64, device=device)])
    pair = strategy.reduce(pair, reduce_op="sum")
    total, count = float(pair[0]), float(pair[1])
    return None if count == 0 else total / count


class StopRule:
    r"""When the test stops: at the first point :math:`i` where the loss :math:`\ell_i` is NaN/inf or, from
    point :data:`~lightning_lr.finder.suggest.MIN_POINTS` on (the average needs a few batches first), where

    .. math:: \hat{\ell}_i - m > (\text{threshold} - 1)\,|m|,\qquad m = \min_{j<i} \hat{\ell}_j

    :math:`\hat{\ell}` is :class:`~lightning_lr.finder.smoothing.MovingAverage`, the EMA that
    :func:`~lightning_lr.finder.smoothing.smooth` computes for ``FinderResult.smoothed_losses``: the
    result shows the values the decision was taken on.

    Args:
        smoothing: The EMA's :math:`\beta`.
        threshold: ``early_stop_threshold`` (> 1), or ``None``: only a NaN/inf loss stops the test.

    Example:
        >>> rule = StopRule(smoothing=0.0, threshold=4.0)
        >>> [rule.check(lr, loss) for lr, loss in zip(range(7), [1.0, 1.0, 0.5, 0.5, 0.5, 1.0, 3.0])]
        [None, None, None, None, None, None, 'diverged at lr=6: smoothed loss 3 > 4 x best 0.5']
    """

    def __init__(self, smoothing: float, threshold: float | None) -> None:
        self.threshold = threshold
        self.average = MovingAverage(smoothing)
        self.smoothed: list[float] = []
        self.best = math.inf

    def check(self, lr: float, loss: float) -> str | None:
        """Take the next point's loss; why the test stops there, or ``None`` to go on."""
        smoothed = self.average.update(loss)
        threshold = self.threshold if len(self.smoothed) >= MIN_POINTS else None
        self.smoothed.append(smoothed)
        why = _stop_reason(loss, smoothed, self.best, lr, threshold)
        if math.isfinite(smoothed):
            self.best = min(self.best, smoothed)
        return why


def _stop_reason(value: float, smoothed: float, best: float, lr: float, threshold: float | None) -> str | None:
    if not math.isfinite(value):
        return f"loss was {value} at lr={lr:.4g}"
    if threshold is not None and math.isfinite(best) and smoothed - best > (threshold - 1.0) * abs(best):
        return f"diverged at lr={lr:.4g}: smoothed loss {smoothed:.4g} > {threshold:g} x best {best:.4g}"
    return None
