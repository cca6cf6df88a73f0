"""The one quiet ``Trainer`` every benchmark trains in, and the callbacks that read a run as it goes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

_SCRATCH: str | None = None


def scratch() -> str:
    """A temporary folder for this process: what Lightning writes (``Tuner.lr_find``'s checkpoint) lands there."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.mkdtemp(prefix="lightning-lr-bench-")
    return _SCRATCH


def quiet_trainer(epochs: int = 1, callbacks: Sequence[Callback] = (), **options: Any) -> pl.Trainer:
    """A one-device CPU ``Trainer``: no logger, checkpoints, progress bar, model summary or sanity check.

    ``default_root_dir`` is :func:`scratch`, so nothing lands in the repository. ``options`` override
    any of these (``accelerator="cuda"``, a ``logger``, ``strategy``, ``deterministic``, ...).
    """
    settings: dict[str, Any] = {
        "max_epochs": epochs,
        "default_root_dir": scratch(),
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "callbacks": list(callbacks),
    }
    return pl.Trainer(**(settings | options))


class StepValues(Callback):
    """The values of ``keys`` in the param groups the optimizer is about to step with, per optimizer step.

    ``steps[k][g]`` is the tuple of group ``g`` at step ``k``: every group with ``all_groups``, else group 0.
    """

    def __init__(self, keys: Sequence[str] = ("lr",), all_groups: bool = False) -> None:
        self.keys, self.all_groups = tuple(keys), all_groups
        self.steps: list[list[tuple[float, ...]]] = []

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        groups = optimizer.param_groups if self.all_groups else optimizer.param_groups[:1]
        self.steps.append([tuple(float(g[k]) for k in self.keys) for g in groups])

    def series(self, key: str = "lr", group: int = 0) -> list[float]:
        """One value per step."""
        i = self.keys.index(key)
        return [step[group][i] for step in self.steps]


class EpochMetrics(Callback):
    """The training loss of every batch, per epoch, and the ``keys`` Lightning's validation logged, per epoch."""

    def __init__(self, keys: Sequence[str] = ("val_loss", "val_acc")) -> None:
        self.keys = tuple(keys)
        self.train_losses: list[list[float]] = []
        self.val: dict[str, list[float]] = {k: [] for k in self.keys}

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.train_losses.append([])

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, *args: Any) -> None:
        self.train_losses[-1].append(float(outputs["loss"]))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            for k in self.keys:
                self.val[k].append(float(trainer.callback_metrics[k]))


class Probe(Callback):
    """``score(module, "val")`` every ``every`` optimizer steps (and at step 0 and each epoch's end), and
    ``score(module, "test")`` at the end of the epochs in ``test_epochs`` (1-based)."""

    def __init__(self, score: Callable[[Any, str], float], test_epochs: Sequence[int], every: int) -> None:
        self.score, self.test_epochs, self.every = score, set(test_epochs), every
        self.steps: list[int] = []
        self.val: list[float] = []
        self.test: dict[str, float] = {}  # epoch (as a string: JSON keys) -> score

    def _probe(self, step: int, pl_module: pl.LightningModule) -> None:
        self.steps.append(step)
        self.val.append(self.score(pl_module, "val"))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._probe(0, pl_module)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step % self.every == 0 and trainer.global_step != self.steps[-1]:
            self._probe(trainer.global_step, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step != self.steps[-1]:  # an epoch that does not end on a probe
            self._probe(trainer.global_step, pl_module)
        if trainer.current_epoch + 1 in self.test_epochs:
            self.test[str(trainer.current_epoch + 1)] = self.score(pl_module, "test")
