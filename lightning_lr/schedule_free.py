"""``ScheduleFree``: schedule-free optimizers (``schedulefree``) driven correctly through Lightning's hooks.

A schedule-free optimizer (Defazio et al., "The Road Less Scheduled", NeurIPS 2024) trains at one point
``y`` and evaluates at another, the average ``x``; ``optimizer.eval()`` puts ``x`` into the parameters,
``optimizer.train()`` puts ``y`` back:

.. math::

    y = (1 - \\beta_1)\\, z + \\beta_1 x,
    \\qquad x = \\Bigl(1 - \\tfrac{1}{\\beta_1}\\Bigr) z + \\tfrac{1}{\\beta_1}\\, y.

Forgetting a switch validates, tests or saves the wrong weights without any error; this callback makes every
switch where Lightning changes what it does with the model.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader, IterableDataset
from typing_extensions import override

from lightning_lr.callbacks.options import parse_indices
from lightning_lr.checks import ScheduleConflictError, check_non_negative_int
from lightning_lr.optimizers import in_train_mode, is_schedule_free
from lightning_lr.owners import hosted_schedulers, managed_optimizers, scheduler_source
from lightning_lr.random_state import RandomState
from lightning_lr.train_data import first_loader

BN_BATCHES = 50  # the schedulefree README's example recomputes BatchNorm statistics on 50 training batches

__all__ = ["BN_BATCHES", "ScheduleFree", "forward_inputs"]


def forward_inputs(module: nn.Module, batch: Any) -> Any:
    """The default forward of the BatchNorm recompute: ``module(batch[0])`` for a tuple or list,
    ``module(**batch)`` for a mapping, ``module(batch)`` otherwise."""
    if isinstance(batch, (list, tuple)):
        return module(batch[0])
    if isinstance(batch, Mapping):
        return module(**batch)
    return module(batch)


class ScheduleFree(Callback):
    """Switches schedule-free optimizers between their training and evaluation points wherever Lightning needs it.

    - ``optimizer.eval()`` before every evaluation: validation (the sanity check too), test, predict; and at the
      end of ``fit`` (BatchNorm recomputed), so the module holds the weights to use.
    - The checkpoint holds the evaluation weights ``x`` (and the optimizer state says so: ``train_mode=False``),
      however it is saved (``ModelCheckpoint``, ``trainer.save_checkpoint``) while training stays at ``y``.
    - ``optimizer.train()`` before every training batch (from ``on_train_epoch_start`` and
      ``on_train_batch_start``), so every step is taken at ``y``, the first one included; a resume converts the
      saved ``x`` back to ``y`` exactly as the uninterrupted run does after its own save.
    - With BatchNorm, before each validation, test and predict run of a fit and at its end: the running statistics are
      recomputed at ``x`` (cumulative mean over ``bn_batches`` training batches, BatchNorm layers in train mode,
      everything else in eval mode, no gradients), on a separate iterator over the train dataloader, with the RNG
      state (torch, CUDA, ``random``, numpy and the samplers' generators) restored afterwards: the training
      batches, their order and the training run are those of a run without the recompute.

    Refuses before step 0 an optimizer that is not schedule-free and a scheduler from ``configure_optimizers`` on
    one (schedule-free optimizers want a constant LR; warmup and cooldowns come from the schedule callbacks).
    Under DDP every rank runs the same hooks, so all ranks switch together (each rank's BatchNorm statistics come
    from its own batches unless the model uses ``SyncBatchNorm``).

    Args:
        bn_batches: Training batches for the BatchNorm recompute (0: none; ``fast_dev_run``: 1).
        optimizers: Indices of the optimizers to drive (``None``: all; each must be schedule-free).
        bn_forward: ``bn_forward(module, batch)`` runs the model on a training batch (already on the device)
            for the recompute; default :func:`forward_inputs`.

    Example:
        >>> import schedulefree
        >>> from lightning.pytorch import Trainer
        >>> trainer = Trainer(max_epochs=2, callbacks=[ScheduleFree()], logger=False)
    """

    def __init__(
        self,
        bn_batches: int = BN_BATCHES,
        optimizers: int | Sequence[int] | None = None,
        bn_forward: Callable[[nn.Module, Any], Any] | None = None,
    ) -> None:
        self.bn_batches = check_non_negative_int("bn_batches", bn_batches)
        self.optimizer_indices = parse_indices(optimizers)
        if bn_forward is not None and not callable(bn_forward):
            raise TypeError(f"`bn_forward` must be a callable (module, batch) or None, got {bn_forward!r}.")
        self.bn_forward = bn_forward or forward_inputs

    # ------------------------------------------------------------------ which optimizers
    def _optimizers(self, trainer: pl.Trainer) -> list[Optimizer]:
        if not trainer.optimizers:
            return []
        return managed_optimizers(type(self).__name__, trainer, self.optimizer_indices)

    def check(self, trainer: pl.Trainer) -> None:
        """Refuse an optimizer without train/eval modes and a scheduler from ``configure_optimizers`` on one."""
        optimizers = self._optimizers(trainer)
        for index, optimizer in enumerate(optimizers):
            if not is_schedule_free(optimizer):
                name = type(optimizer).__name__
                hint = " (a *Closure variant keeps x in the parameters and needs no switching)" * ("Closure" in name)
                raise ScheduleConflictError(
                    f"ScheduleFree drives schedule-free optimizers (train()/eval() modes: schedulefree's "
                    f"AdamWScheduleFree, SGDScheduleFree, RAdamScheduleFree, ScheduleFreeWrapper), but optimizer "
                    f"{index} is {name}{hint}. Use one, or give ScheduleFree(optimizers=[...]) the indices of those."
                )
        for scheduler in hosted_schedulers(trainer, optimizers):
            source = scheduler_source(trainer.lightning_module)
            raise ScheduleConflictError(
                f"ScheduleFree: the {type(scheduler).__name__} returned by {source} "
                "schedules a schedule-free optimizer, which averages its iterates instead of decaying the LR. Remove "
                "the scheduler; for a warmup use the optimizer's `warmup_steps` or a lightning_lr warmup callback."
            )

    def switch(self, trainer: pl.Trainer, train: bool) -> None:
        """Put every driven optimizer at ``y`` (``train=True``) or ``x``; a no-op where it already is."""
        for optimizer in self._optimizers(trainer):
            if in_train_mode(optimizer) != train:
                optimizer.train() if train else optimizer.eval()  # type: ignore[attr-defined]

    @contextmanager
    def evaluation(self, trainer: pl.Trainer) -> Iterator[None]:
        """The module at the evaluation weights (BatchNorm statistics recomputed) inside, back after.

        For an evaluation Lightning does not run (a probe in a callback)::

            with schedule_free.evaluation(trainer):
                accuracy = score(trainer.lightning_module)
        """
        training = any(in_train_mode(o) for o in self._optimizers(trainer))
        self.switch(trainer, train=False)
        self.recompute_batchnorm(trainer)
        try:
            yield
        finally:
            if training:
                self.switch(trainer, train=True)

    # ------------------------------------------------------------------ hooks
    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(trainer)
        if any(getattr(c, "save_weights_only", False) for c in trainer.checkpoint_callbacks):
            rank_zero_warn(
                "ScheduleFree: a ModelCheckpoint(save_weights_only=True) saves without calling the callbacks' "
                "on_save_checkpoint, so its checkpoints taken during training hold the training point y, not the "
                "evaluation weights x (those saved after a validation do hold x). Use save_weights_only=False."
            )

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.switch(trainer, train=True)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.switch(trainer, train=True)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._before_evaluation(trainer)  # the module after fit: x, with its BatchNorm statistics

    @override
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._before_evaluation(trainer)

    @override
    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._before_evaluation(trainer)

    @override
    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._before_evaluation(trainer)

    def _before_evaluation(self, trainer: pl.Trainer) -> None:
        if any(in_train_mode(o) for o in self._optimizers(trainer)):
            self.switch(trainer, train=False)
            self.recompute_batchnorm(trainer)

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Lightning took the state dicts before this hook; they share storage with the parameters, so the weights
        are copied at ``x`` and the optimizer states marked ``train_mode=False`` before training goes back to ``y``."""
        optimizers = self._optimizers(trainer)
        training = [in_train_mode(o) for o in optimizers]
        if not any(training):
            return
        self.switch(trainer, train=False)
        weights = pl_module.state_dict()
        saved = checkpoint.get("state_dict", {})
        for key in saved:
            if key in weights:
                saved[key] = weights[key].detach().clone()
        indices = self.optimizer_indices or range(len(optimizers))
        for index in indices:
            state = (checkpoint.get("optimizer_states") or [None] * (index + 1))[index]
            for group in (state or {}).get("param_groups", []):
                if "train_mode" in group:
                    group["train_mode"] = False
        self.switch(trainer, train=True)

    # ------------------------------------------------------------------ BatchNorm
    def recompute_batchnorm(self, trainer: pl.Trainer) -> None:
        """Recompute every BatchNorm layer's running statistics at the current weights (see the class)."""
        module = trainer.lightning_module
        norms = [
            m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        ]
        loader = first_loader(trainer.train_dataloader)
        count = 1 if getattr(trainer, "fast_dev_run", False) else self.bn_batches
        if not norms or loader is None or count == 0 or trainer.sanity_checking:
            return
        separate = _separate(loader)
        states = [(m, m.training, m.momentum) for m in norms]
        rng = RandomState(separate)
        try:
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the batches
                m.train()
            with torch.no_grad():
                for batch in itertools.islice(separate, count):
                    self.bn_forward(module, trainer.strategy.batch_to_device(batch))
        finally:
            for m, was_training, momentum in states:
                m.momentum = momentum
                m.train(was_training)
            rng.restore()


def _separate(loader: Any) -> Any:
    """A worker-free loader over the same data and sampler, so the training loop's iterator (persistent workers
    included) is not touched; any other iterable as it is."""
    if not isinstance(loader, DataLoader):
        return loader
    if isinstance(loader.dataset, IterableDataset) or loader.batch_sampler is None:
        return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=None, collate_fn=loader.collate_fn)
    return DataLoader(loader.dataset, batch_sampler=loader.batch_sampler, collate_fn=loader.collate_fn)
