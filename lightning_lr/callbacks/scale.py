r"""``ScaleLR``: the LR follows the batch size (linear or square-root rule), once, at a fresh fit."""

from __future__ import annotations

import math
import weakref
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.optim import Optimizer
from torch.utils.data import DataLoader
from typing_extensions import override

from lightning_lr.checks import check_choice, check_positive_int, check_state_version
from lightning_lr.finder import LRFinder
from lightning_lr.lifecycle import fit_kind
from lightning_lr.owners import absolute_lr_owners, with_absolute_lrs
from lightning_lr.planner import FitKind, begin, write_value
from lightning_lr.train_data import load_train_dataloader

Rule = Literal["linear", "sqrt"]
STATE_VERSION = 1


class ScaleLR(Callback):
    r"""Multiply every configured LR by the ratio of the effective batch to a reference batch.

    The effective batch :math:`B` is the train dataloader's batch size times
    ``accumulate_grad_batches`` times ``trainer.world_size`` (all DDP ranks, all nodes); with
    :math:`B_{ref}` = ``reference_batch_size``:

    .. math::

        \eta = \eta_{configured}\,\frac{B}{B_{ref}}\ \ (\text{linear}), \qquad
        \eta = \eta_{configured}\,\sqrt{\frac{B}{B_{ref}}}\ \ (\text{sqrt})

    The linear rule is Goyal et al.'s for SGD; the square-root rule suits adaptive optimizers
    (Adam, LAMB; Krizhevsky 2014, Malladi et al. 2022). Every param group of every optimizer is
    scaled in ``on_fit_start`` of a fresh fit, before any schedule callback reads its base LRs
    (they do in ``on_train_start``), so the order of the callbacks does not matter; one line says
    what was done, e.g. ``LR scaled x4 for batch 1024 = 128 x 2 x 4 ranks, reference 256, linear
    rule``. It is never applied twice: not on a resume (``ckpt_path``: the checkpoint holds the
    scaled LRs and the factor, and a different batch on resume only warns), not again on a second
    ``fit`` of the same optimizer.

    With ``LRFinder(apply=True)``: the range test runs at the real batch, so its suggestion needs
    no scaling and replaces the scaled LR (whatever the order of the two callbacks); when the
    finder has no suggestion the scaled LR stays. Schedules given absolute LRs
    (``OneCycle(max_lr=...)``, ``Cyclical``) ignore the optimizer's LR: a warning says so.

    Args:
        scale_lr: ``"linear"``, ``"sqrt"``, or ``None`` (do nothing; handy in a config file).
        reference_batch_size: The batch size the configured LRs were tuned for.
        batch_size: The per-process batch size, when it cannot be read from the train dataloader
            (an ``IterableDataset`` that batches itself, several train dataloaders); ``None``: read it.

    Attributes:
        factor: The factor applied at the fresh start (``None`` before it; 1.0 when skipped).
        effective_batch_size: The effective batch it was computed for.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from lightning_lr import CosineAnnealing
        >>> trainer = Trainer(max_epochs=3, callbacks=[ScaleLR("linear", 256), CosineAnnealing()], logger=False)

    References:
        P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017.
        A. Krizhevsky, "One weird trick for parallelizing convolutional neural networks", 2014.
        S. Malladi et al., "On the SDEs and Scaling Rules for Adaptive Gradient Algorithms", NeurIPS 2022.
    """

    def __init__(
        self, scale_lr: Rule | None = "linear", reference_batch_size: int = 256, batch_size: int | None = None
    ) -> None:
        self.scale_lr: Rule | None = (
            None if scale_lr is None else check_choice("scale_lr", scale_lr, ("linear", "sqrt"))  # type: ignore[assignment]
        )
        self.reference_batch_size = check_positive_int("reference_batch_size", reference_batch_size)
        self.batch_size = None if batch_size is None else check_positive_int("batch_size", batch_size)
        self.factor: float | None = None
        self.effective_batch_size: int | None = None
        self._message = ""
        self._scaled: weakref.WeakSet[Optimizer] = weakref.WeakSet()
        self._finder_results: dict[int, Any] = {}
        self._restored: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:  # picklable for ddp_spawn: the weak set of scaled optimizers stays here
        return {**self.__dict__, "_scaled": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._scaled = weakref.WeakSet()

    # ------------------------------------------------------------------ state
    @override
    def state_dict(self) -> dict[str, Any]:
        if self.factor is None:
            return {}
        return {"version": STATE_VERSION, "factor": self.factor, "effective_batch_size": self.effective_batch_size}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        check_state_version("ScaleLR", state_dict, STATE_VERSION)
        self._restored = dict(state_dict)

    # ------------------------------------------------------------------ hooks
    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._finder_results = {id(f): f.result for f in _finders(trainer)}  # to tell a fresh result from an old one

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.scale_lr is None:
            return
        kind, restored, self._restored = fit_kind(trainer), self._restored, None
        saved = None if not restored else (float(restored["factor"]), int(restored["effective_batch_size"]))
        previous = None if self.factor is None else (self.factor, self.effective_batch_size)
        decided = begin(kind, saved, previous, lambda: None, lambda: None)
        self._message = ""
        if kind is FitKind.RESUMED:  # the checkpoint's optimizer state holds the LRs of that run
            if decided is not None:
                self.factor, self.effective_batch_size = decided
            batch, parts = self.effective_batch(trainer)
            if self.effective_batch_size is not None and batch != self.effective_batch_size:
                rank_zero_warn(
                    f"ScaleLR: resumed with an effective batch of {batch} ({parts}); the LRs were scaled for "
                    f"{self.effective_batch_size} at the start of the run and are not rescaled on resume."
                )
            return
        optimizers = [o for o in trainer.optimizers if o.param_groups]
        if decided is not None:  # a further fit: a new optimizer object gets the same factor, never twice
            for optimizer in optimizers:
                if optimizer not in self._scaled:
                    _multiply(optimizer, decided[0])
                    self._scaled.add(optimizer)
            return
        batch, parts = self.effective_batch(trainer)
        ratio = batch / self.reference_batch_size
        factor = ratio if self.scale_lr == "linear" else math.sqrt(ratio)
        self.effective_batch_size = batch
        if self._finder_suggested(trainer):
            self.factor = 1.0
            self._message = (
                f"LR not scaled: LRFinder's suggestion was measured at the real batch {batch} ({parts}); "
                f"the {self.scale_lr} rule would have scaled x{factor:.4g}."
            )
            return
        for optimizer in optimizers:
            _multiply(optimizer, factor)
            self._scaled.add(optimizer)
        self.factor = factor
        self._message = (
            f"LR scaled x{factor:.4g} for batch {batch} = {parts}, reference {self.reference_batch_size}, "
            f"{self.scale_lr} rule"
        )

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Report once, after every ``on_fit_start`` (a finder listed after this callback has run by now)."""
        if not self._message:
            return
        if self.factor not in (None, 1.0) and self._finder_suggested(trainer):
            self.factor = 1.0
            self._message = (
                f"LR not scaled: LRFinder's suggestion, measured at the real batch {self.effective_batch_size}, "
                "replaced the scaled LR"
            )
        rank_zero_info(f"ScaleLR: {self._message}.")
        self._message = ""
        if self.factor not in (None, 1.0):
            for owner in {id(o): o for o in absolute_lr_owners(trainer).values()}.values():
                rank_zero_warn(
                    f"ScaleLR: {type(owner).__name__} was given absolute LRs ({with_absolute_lrs(owner)}), which the "
                    "batch-size rule does not change; leave them unset to scale the optimizer's LR instead."
                )

    # ------------------------------------------------------------------ the batch
    def effective_batch(self, trainer: pl.Trainer) -> tuple[int, str]:
        """The effective batch size and how it is made (``"128 x 2 x 4 ranks"``)."""
        per_process = self.batch_size if self.batch_size is not None else _loader_batch_size(trainer)
        accumulate, ranks = int(trainer.accumulate_grad_batches), int(trainer.world_size)
        return per_process * accumulate * ranks, f"{per_process} x {accumulate} x {ranks} rank{'s' * (ranks != 1)}"

    def _finder_suggested(self, trainer: pl.Trainer) -> bool:
        return any(
            f.apply
            and f.result is not None
            and f.result is not self._finder_results.get(id(f))
            and f.result.suggestion is not None
            for f in _finders(trainer)
        )


def _finders(trainer: pl.Trainer) -> list[LRFinder]:
    return [c for c in trainer.callbacks if isinstance(c, LRFinder)]  # type: ignore[attr-defined]


def _multiply(optimizer: Optimizer, factor: float) -> None:
    for group in optimizer.param_groups:
        write_value(group, "lr", float(group["lr"]) * factor)


def _loader_batch_size(trainer: pl.Trainer) -> int:
    loader = load_train_dataloader(trainer)
    size = None
    if isinstance(loader, DataLoader):
        size = loader.batch_size
        if size is None:
            size = getattr(loader.batch_sampler, "batch_size", None)
    if not isinstance(size, int) or size < 1:
        raise ValueError(
            f"ScaleLR cannot read the batch size of the train dataloader ({type(loader).__name__}, batch size "
            f"{size!r}); pass it as `ScaleLR(batch_size=...)` (the per-process batch)."
        )
    return size
