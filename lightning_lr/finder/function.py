"""``find_lr``: the range test as a function that leaves the model as it found it."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import lightning.pytorch as pl

from lightning_lr.finder.callback import LRFinder
from lightning_lr.finder.result import FinderResult


def find_lr(
    trainer: pl.Trainer,
    model: pl.LightningModule,
    train_dataloaders: Any = None,
    val_dataloaders: Any = None,
    datamodule: pl.LightningDataModule | None = None,
    **kwargs: Any,
) -> FinderResult:
    """Run the LR range test of :class:`LRFinder` (and its probes) on ``model`` and return its result.

    The test runs inside ``trainer.fit`` (so every strategy, ``ddp`` and ``ddp_spawn`` included,
    sets up as for training), with the trainer's callbacks set aside and the sanity check off, and
    training stops right after it: no training step runs and no checkpoint is written. The model's
    weights (and everything else the test touches) are bit-identical afterwards, nothing is
    applied, and the trainer can then be used for ``trainer.fit``. The curve is logged to the
    trainer's loggers.

    Args:
        trainer: The trainer to run the test with (its strategy, devices, precision, accumulation,
            gradient clipping and loggers apply).
        model: The LightningModule.
        train_dataloaders: As in ``trainer.fit``.
        val_dataloaders: As in ``trainer.fit``; used by ``monitor="val_loss"``-style tests.
        datamodule: As in ``trainer.fit``.
        **kwargs: :class:`LRFinder` arguments (``min_lr``, ``max_lr``, ``num_training_steps``, ``mode``,
            ``early_stop_threshold``, ``smoothing``, ``suggestion``, ``monitor``, ``val_batches``, ``confirm``,
            ``probe_steps``). The budget is sized from ``trainer``'s run (its ``max_epochs``/``max_steps``), the
            run the suggestion is meant for.

    Returns:
        The :class:`FinderResult`; ``result.suggestion`` is ``None`` only with ``result.reason`` set.

    Raises:
        TypeError: ``apply`` was passed (``find_lr`` never changes the model or optimizer).
        ValueError: the trainer has ``min_epochs``/``min_steps``, which would force training to run.

    The finder is :meth:`LRFinder.standalone` (the test only: nothing applied, training stopped right
    after it), so ``find_lr`` is ``trainer.fit`` with that one callback.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> trainer = Trainer(max_epochs=5, logger=False, enable_progress_bar=False)
        >>> # result = find_lr(trainer, model, num_training_steps=100)
        >>> # model.lr = result.suggestion; trainer.fit(model)
    """
    if trainer.min_epochs or trainer.min_steps:
        raise ValueError(
            f"find_lr() stops training right after the test, which `min_epochs={trainer.min_epochs}` / "
            f"`min_steps={trainer.min_steps}` forbid; run it with a trainer without them, or use the LRFinder callback."
        )
    handle, path = tempfile.mkstemp(prefix="lightning_lr_finder_", suffix=".json")
    os.close(handle)
    try:  # rank 0 writes the result file: the way back from spawned processes
        finder = LRFinder.standalone(val_dataloaders=val_dataloaders, result_file=path, **kwargs)
        _fit_alone(trainer, finder, model, train_dataloaders, val_dataloaders, datamodule)
        result = finder.result
        if result is None and os.path.getsize(path) > 0:
            result = FinderResult.load(path)
    finally:
        os.remove(path)
    if result is None:  # pragma: no cover - the callback always sets it or raises
        raise RuntimeError("find_lr: the range test produced no result.")
    return result


def _fit_alone(trainer: pl.Trainer, finder: LRFinder, model: pl.LightningModule, *data: Any) -> None:
    """``trainer.fit`` with ``finder`` as the only callback and no sanity check; the trainer is put back after."""
    train_dataloaders, val_dataloaders, datamodule = data
    callbacks, sanity_steps = trainer.callbacks, trainer.num_sanity_val_steps  # type: ignore[attr-defined]
    trainer.callbacks = [finder]  # type: ignore[attr-defined]
    trainer.num_sanity_val_steps = 0
    try:
        trainer.fit(model, train_dataloaders=train_dataloaders, val_dataloaders=val_dataloaders, datamodule=datamodule)
    finally:
        trainer.callbacks = callbacks  # type: ignore[attr-defined]
        trainer.num_sanity_val_steps = sanity_steps
        trainer.should_stop = False
