"""A task (data, network, loss, optimizer, batch, budget) and an arm (what one run of it changes), trained the one way.

A :class:`Task` builds its :class:`Module` after seeding (the seed fixes the initialization and, through
the loader's own generator, the batch order), trains it in :func:`~benchmarks.harness.trainer.quiet_trainer`
and scores it: accuracy for classification, R^2 for regression (higher is better). An :class:`Arm` is one
row of a comparison: its LR callbacks, and where it differs from the task, its LR and optimizer.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import DataLoader

from benchmarks.harness.data import Split, Splits, loader
from benchmarks.harness.trainer import quiet_trainer

Params = Iterable[nn.Parameter]

# name (as the tables print it) -> the optimizer at a given LR. An arm or a task names one of these.
OPTIMIZERS: dict[str, Callable[[Params, float], torch.optim.Optimizer]] = {
    "SGD": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "SGD momentum 0.9": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "Adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
    "AdamW": lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.01),
    "AdamWScheduleFree": lambda p, lr: _optional("schedulefree", "AdamWScheduleFree")(p, lr=lr, weight_decay=0.01),
    "Prodigy": lambda p, lr: _optional("prodigyopt", "Prodigy")(p, lr=lr, weight_decay=0.01),
}


def _optional(package: str, name: str) -> Any:
    """An optimizer class from an optional package (the extras ``schedulefree`` and ``lrfree``)."""
    return getattr(importlib.import_module(package), name)


@dataclass(frozen=True)
class Task:
    """One benchmark task; ``name`` also names its rows in the tables."""

    name: str
    model: str  # the network in words
    data: Callable[[], Splits]
    net: Callable[[], nn.Module]
    optimizer: str = "Adam"  # a key of OPTIMIZERS
    loss: str = "cross-entropy"  # or "MSE (score R^2)"
    batch: int = 32
    epochs: int = 1
    sampler_only: bool = False  # the seed shuffles through the sampler alone (see data.loader)

    @property
    def description(self) -> str:
        return f"{self.model}, {self.optimizer}, {self.loss}, batch {self.batch}, {self.epochs} epochs"

    @property
    def regression(self) -> bool:
        return self.loss.startswith("MSE")

    @property
    def steps_per_epoch(self) -> int:
        return len(loader(self.data()["train"], self.batch, 0))

    def criterion(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """MSE, or cross-entropy against class targets flattened (a language model: one target per position)."""
        return nn.functional.mse_loss(out, y) if self.regression else nn.functional.cross_entropy(out, y.reshape(-1))

    def build(self, lr: float, seed: int, optimizer: str | None = None) -> Module:
        """The module, initialized by ``seed``, at ``lr`` with ``optimizer`` (default: the task's)."""
        name = optimizer or self.optimizer
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer={name!r}: not in OPTIMIZERS ({', '.join(map(repr, OPTIMIZERS))})")
        self.data()  # loaded before the seed: nothing drawn between the seed and the network
        pl.seed_everything(seed, verbose=False)
        return Module(self, self.net(), lr, seed, name)

    @torch.no_grad()
    def evaluate(self, module: nn.Module, split: str = "test") -> tuple[float, float]:
        """Loss and score (accuracy; R^2 for regression) over the whole ``split``, in eval mode."""
        x, y = self.data()[split]
        was_training = module.training
        module.eval()
        out = module(x)
        module.train(was_training)
        if self.regression:
            score = 1.0 - ((out - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
        else:
            score = (out.argmax(dim=1) == y.reshape(-1)).float().mean()
        return float(self.criterion(out, y)), float(score)

    def score(self, module: nn.Module, split: str = "test") -> float:
        return self.evaluate(module, split)[1]

    def fit(
        self,
        lr: float,
        seed: int,
        callbacks: Sequence[Callback] = (),
        epochs: int | None = None,
        optimizer: str | None = None,
        validate: bool = False,
        **options: Any,
    ) -> Fitted:
        """One training run; ``validate``: Lightning validates on the ``"val"`` split after each epoch."""
        module = self.build(lr, seed, optimizer)
        trainer = quiet_trainer(epochs or self.epochs, callbacks, **options)
        val = loader(self.data()["val"], self.batch, None) if validate else None
        start = time.perf_counter()
        trainer.fit(module, val_dataloaders=val)
        return Fitted(module, trainer, time.perf_counter() - start)


class Module(pl.LightningModule):
    """A task's network, loss and optimizer; validation logs ``val_loss`` (and ``val_acc``)."""

    def __init__(self, task: Task, net: nn.Module, lr: float, seed: int, optimizer: str) -> None:
        super().__init__()
        self.task, self.net, self.lr, self.seed, self.optimizer_name = task, net, lr, seed, optimizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Split, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return self.task.criterion(self(x), y)

    def validation_step(self, batch: Split, batch_idx: int) -> None:
        x, y = batch
        out = self(x)
        self.log("val_loss", self.task.criterion(out, y))
        if not self.task.regression:
            self.log("val_acc", (out.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return OPTIMIZERS[self.optimizer_name](self.parameters(), self.lr)

    def train_dataloader(self) -> DataLoader[Split]:
        return loader(self.task.data()["train"], self.task.batch, self.seed, self.task.sampler_only)


@dataclass
class Fitted:
    """A finished run: the trained module, its trainer and the wall time of ``trainer.fit``."""

    module: Module
    trainer: pl.Trainer
    seconds: float

    def score(self, split: str = "test") -> float:
        return self.module.task.score(self.module, split)


@dataclass(frozen=True)
class Arm:
    """One row of a comparison: its LR callbacks (built fresh for every run), and what else it changes."""

    callbacks: Callable[[], list[Callback]]
    description: str
    lr: float | None = None  # None: the script's configured LR
    optimizer: str | None = None  # None: the task's (a key of OPTIMIZERS)
    budget_independent: bool = False  # nothing depends on the run's length: one run, read at every budget


def over_seeds(
    seeds: Iterable[int],
    run: Callable[[int], dict[str, Any]],
    say: Callable[[dict[str, Any]], str],
    steps: int | None = None,
    label: str = "",
) -> list[dict[str, Any]]:
    """``run(seed)`` for each seed in order, a line each (``say``); every run must take ``steps`` steps if given.

    A run of another length stops the benchmark (``label`` names it): a silently shorter run is no result.
    """
    out = []
    for seed in seeds:
        r = run(seed)
        if steps is not None and r["steps"] != steps:
            raise AssertionError(f"{label}: {r['steps']} steps, expected {steps} (seed {seed})")
        out.append(r)
        print(say(r), flush=True)
    return out
