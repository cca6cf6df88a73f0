"""Which kind of ``fit`` is starting, read from the trainer once, for every callback that keeps state.

The decision itself (what a fresh, resumed or continued fit starts from) is
:func:`lightning_lr.planner.begin`; this module only reads the trainer's public API.
"""

from __future__ import annotations

import lightning.pytorch as pl

from lightning_lr.planner import FitKind


def fit_kind(trainer: pl.Trainer) -> FitKind:
    """``RESUMED`` when ``fit`` was given a checkpoint, ``CONTINUED`` when the Trainer has trained before (a
    further ``fit``), else ``FRESH``. The same answer from ``setup`` to ``on_train_end``."""
    if trainer.ckpt_path is not None:
        return FitKind.RESUMED
    if trainer.global_step > 0:
        return FitKind.CONTINUED
    return FitKind.FRESH
