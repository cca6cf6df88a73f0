"""The closing summary and the quieting of Lightning's info lines, for examples/train_cifar.py."""

from __future__ import annotations

import argparse
import logging
import math
import time
import warnings
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger

import lightning_lr as ll

if TYPE_CHECKING:
    from train_cifar import CifarData


class Throughput(Callback):
    """Training time per epoch (validation excluded), partial epochs counted by their steps."""

    def __init__(self) -> None:
        self._start: float | None = None
        self.seconds, self.images, self.batches = 0.0, 0, 0
        self.first_epoch: tuple[float, int] | None = None  # (seconds, batches) of epoch 0: warm-up, reported apart

    def _pause(self) -> None:
        if self._start is not None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.seconds += time.perf_counter() - self._start
            self._start = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.images += batch[1].shape[0] * trainer.world_size
        self.batches += 1

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._pause()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.training:
            self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._pause()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._pause()  # a run stopped by --max-steps mid-epoch

    def summary(self, batches_per_epoch: int) -> str:
        if not self.batches:
            return "no training step timed"
        per_batch = self.seconds / self.batches
        return (
            f"{per_batch * batches_per_epoch:.1f} s per epoch of {batches_per_epoch} steps, validation excluded "
            f"({self.images / max(self.seconds, 1e-9):,.0f} training images/s over {self.batches} steps)"
        )


class OnlyOurs(logging.Filter):
    """Lets warnings through, and lightning_lr's own info lines; drops Lightning's info chatter (tips, devices)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.getMessage().startswith(("LRFinder", "lightning_lr"))


def quiet_lightning() -> None:
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(OnlyOurs())
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*log_every_n_steps.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")  # torch 2.13


def print_summary(
    args: argparse.Namespace,
    data: CifarData,
    finder: ll.LRFinder | None,
    schedule: ll.ScheduleCallback,
    trainer: pl.Trainer,
    metrics: dict[str, float],
    throughput: Throughput,
    steps_per_epoch: int,
    logger: TensorBoardLogger,
    started: float,
) -> None:
    """The closing block: what ran, what came out, where to look."""
    name = type(schedule).__name__
    if finder is None:
        found = f"off (--no-find-lr): peak LR {args.lr:g}"
    elif finder.result is None:
        found = "did not run"
    elif finder.result.suggestion is None:
        found = f"no suggestion ({finder.result.reason}); the configured LR {args.lr:g} was kept"
    else:
        result = finder.result
        found = (
            f"suggested lr={result.suggestion:.3g} ({result.method} rule, {len(result.lrs)} points, "
            f"{result.seconds:.0f} s); {name} used it as its peak"
        )
    epochs = trainer.global_step / steps_per_epoch
    minutes, seconds = divmod(time.perf_counter() - started, 60)
    log_dir = logger.log_dir
    tabs = [
        ("SCALARS", "lr-SGD/pg1, lr-SGD/pg2 and their -momentum, loss/train (+ _smoothed), val_acc, val_loss"),
        ("IMAGES", f"lightning_lr/planned_schedule/{name}" + (", lightning_lr/lr_finder" if finder else "")),
        ("CUSTOM SCALARS", "'Learning rate': LR, momentum and training loss side by side"),
    ]
    if finder is not None:
        tabs[0] = (tabs[0][0], tabs[0][1] + ", lr_finder/loss against lr_finder/lr (steps = test points)")
    lines = [
        "",
        "Summary",
        f"  Data:        {data.summary}",
        f"  LR finder:   {found}",
        f"  Validation:  accuracy {metrics.get('val_acc', math.nan):.4f}, loss {metrics.get('val_loss', math.nan):.4f} "
        f"after {trainer.global_step} steps ({epochs:.3g} epochs)",
        f"  Time:        {throughput.summary(steps_per_epoch)}; {int(minutes)} min {seconds:.0f} s in all",
        f"  Run dir:     {log_dir}",
        f"  TensorBoard: tensorboard --logdir {log_dir}",
        *(f"    {tab + ':':<16}{what}" for tab, what in tabs),
    ]
    print("\n".join(lines))
