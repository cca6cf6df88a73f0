"""The train dataloaders as lightning_lr reads them, through Lightning's public API only.

:func:`load_train_dataloader` makes Lightning load them (also in a run limited by ``max_steps``
alone), and :func:`private_copies` gives the LR finder loaders of its own, so that its range test
never advances, resets or shuts down the iterator Lightning's fit loop has already created for the
first epoch (with ``persistent_workers=True`` a ``DataLoader`` hands out one iterator object, and
consuming it from outside would take the batches away from epoch 0).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
from lightning_utilities.core.apply_func import apply_to_collection
from torch.utils.data import DataLoader


def load_train_dataloader(trainer: pl.Trainer) -> Any:
    """The train dataloader(s), loading them if Lightning has not yet (``None`` when there are none).

    ``trainer.estimated_stepping_batches`` loads them, except in a run limited by ``max_steps``
    alone (``max_epochs=-1``), where the fit loop's ``setup_data`` does.
    """
    trainer.estimated_stepping_batches  # noqa: B018 - loads the train dataloader when it needs it
    if trainer.train_dataloader is None and trainer.limit_train_batches != 0:
        trainer.fit_loop.setup_data()
    return trainer.train_dataloader


def first_loader(loaders: Any) -> Any:
    """The first dataloader of a list, tuple or mapping of them (nested too); a single one as it is; ``None``
    for an empty collection."""
    if isinstance(loaders, Mapping):
        return first_loader(next(iter(loaders.values()), None))
    if isinstance(loaders, (list, tuple)):
        return first_loader(loaders[0]) if loaders else None
    return loaders


def run_steps(trainer: pl.Trainer) -> float:
    """Optimizer steps of the whole run as Lightning estimates them (``estimated_stepping_batches``, which loads
    the train dataloader); ``inf`` for an endless run or a stream without ``max_steps`` (Lightning's -1)."""
    steps = float(trainer.estimated_stepping_batches)
    return steps if steps >= 0 else math.inf


def is_stream(trainer: pl.Trainer) -> bool:
    """Whether an epoch has no known number of batches (an ``IterableDataset`` without ``__len__``)."""
    return not math.isfinite(float(trainer.num_training_batches))


def private_copies(loaders: Any) -> Any:
    """``loaders`` with every ``DataLoader`` that keeps persistent workers replaced by a shallow copy
    that starts (and shuts down) workers of its own; other loaders are returned as they are.

    The copy shares the dataset, the sampler and the collate function, so it yields the same kind of
    batches; its iteration state is its own.
    """
    return apply_to_collection(loaders, DataLoader, _own_iteration)


def _own_iteration(loader: DataLoader[Any]) -> DataLoader[Any]:
    if not (loader.persistent_workers and loader.num_workers > 0):
        return loader  # each iter() makes a new iterator: Lightning's is not touched
    twin = copy.copy(loader)
    vars(twin)["_iterator"] = None
    object.__setattr__(twin, "persistent_workers", False)  # DataLoader refuses setting it after __init__
    return twin
