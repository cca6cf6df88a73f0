"""A clock in samples or tokens: what the optimizer steps have trained on, summed over accumulation and DDP ranks.

With ``interval="sample"`` or ``interval="token"`` a schedule's clock is the number of samples (tokens)
in the batches of every optimizer step taken so far. Each batch is counted in ``on_train_batch_end``
(:func:`batch_count`); when the trainer's step counter has moved since the last count (an optimizer
step was taken, or skipped by the AMP gradient scaler, at the end of an accumulation window), the
window's count is summed over the DDP ranks and added to the clock, so every rank holds the same value
and the LR of the next step is ``schedule(clock)``. The clock is part of the schedule's checkpoint
state (a resume continues from it; the batches of an accumulation window cut by a crash are not
counted, as they were not trained on).

How long such a run is (:func:`consumption_run`): ``total=`` when given; for samples, else, the train
data's size times the epochs when the trainer can tell them (a map-style dataset of known length,
``max_epochs`` set, every batch full or the last one counted exactly); otherwise unknown (``inf``), so
a schedule that needs the length (a fraction of training, a phase that fills the run) says so at fit start.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from lightning_lr.callbacks.run_length import Run
from lightning_lr.schedules import Span, Timeline
from lightning_lr.train_data import load_train_dataloader

Counter = str | Callable[[Any], float]
"""What a batch counts: a key of the ``training_step`` output, or a function of the batch."""


def batch_dimension(batch: Any) -> int:
    """The size of dim 0 of the first tensor in ``batch`` (depth first through tuples, lists and dicts).

    Example:
        >>> batch_dimension((torch.zeros(5, 3), torch.zeros(5)))
        5
        >>> batch_dimension({"input_ids": torch.zeros(2, 7, dtype=torch.long)})
        2
    """
    if isinstance(batch, torch.Tensor):
        if batch.dim() == 0:
            raise ValueError("a 0-dim tensor has no batch dimension")
        return int(batch.shape[0])
    items = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, Sequence) else ()
    for item in items:
        if isinstance(item, (torch.Tensor, Mapping)) or (isinstance(item, Sequence) and not isinstance(item, str)):
            try:
                return batch_dimension(item)
            except ValueError:
                continue
    raise ValueError(f"no tensor with a batch dimension in a batch of type {type(batch).__name__}")


def batch_count(unit: str, count: Counter | None, batch: Any, outputs: Any) -> float:
    """What one batch adds to a clock of ``unit`` (``"samples"`` or ``"tokens"``)."""
    if count is None:
        try:
            return float(batch_dimension(batch))
        except ValueError as error:
            raise ValueError(
                f"interval='sample' counts the batch dimension of each batch, but {error}; pass `count=` (a function "
                "of the batch, or a key of the training_step output) to say how many samples a batch holds."
            ) from None
    if isinstance(count, str):
        value = outputs.get(count) if isinstance(outputs, Mapping) else None
        if value is None:
            keys = sorted(outputs) if isinstance(outputs, Mapping) else type(outputs).__name__
            raise ValueError(
                f"count={count!r}: training_step must return a dict with the number of {unit} of the batch under "
                f"{count!r} (it returned {keys})."
            )
    else:
        value = count(batch)
    number = float(value.item() if isinstance(value, torch.Tensor) else value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"a batch counted {number!r} {unit}; the count must be a finite number >= 0.")
    return number


class Consumption:
    """Samples or tokens trained on so far (``value``), and the count of the open accumulation window.

    Args:
        unit: ``"samples"`` or ``"tokens"``.
        count: How a batch is counted (see :func:`batch_count`).
        value: Where the clock starts (restored from a checkpoint on resume).
        step: The trainer's step counter when counting starts.
    """

    def __init__(self, unit: str, count: Counter | None, value: float = 0.0, step: int = 0) -> None:
        self.unit, self.count, self.value = unit, count, value
        self.pending = 0.0
        self._step = step

    def add(self, trainer: pl.Trainer, batch: Any, outputs: Any) -> bool:
        """Count one batch; when a step was taken since the last count, move the clock. Returns whether it moved."""
        self.pending += batch_count(self.unit, self.count, batch, outputs)
        if trainer.global_step == self._step:
            return False  # inside an accumulation window: its step comes later
        self._step = trainer.global_step
        window = self.pending
        if trainer.world_size > 1:  # every rank adds the same sum
            on_device = torch.tensor(window, dtype=torch.float64, device=trainer.strategy.root_device)
            window = float(trainer.strategy.reduce(on_device, reduce_op="sum"))
        self.value += window
        self.pending = 0.0
        return True


def consumption_run(trainer: pl.Trainer, unit: str, count: Counter | None, total: Span | None, base: Run) -> Run:
    """The run on a clock of ``unit``: its length (``total``, else what the trainer tells) and units per epoch.

    ``base`` is the run in optimizer steps (for ``fast_dev_run``, SWA and exactness). A clock of tokens without
    ``count`` is refused here, at fit start (``ScheduleLR`` counts tokens without it)."""
    if unit == "tokens" and count is None:
        raise ValueError(
            "interval='token' needs `count`: the key of the batch's token count in the training_step output (e.g. "
            "'num_tokens'), or a function of the batch (e.g. lambda batch: int(batch['attention_mask'].sum()))."
        )
    per_epoch = samples_per_epoch(trainer) if unit == "samples" else math.inf
    known = total.amount if total is not None else math.inf
    if total is None and unit == "samples" and math.isfinite(per_epoch):
        known = per_epoch * _epochs(trainer, base)
    timeline = Timeline(total=known, steps_per_epoch=per_epoch, unit=unit)  # type: ignore[arg-type]
    exact = base.exact and math.isfinite(known)
    return Run(timeline, exact=exact, debug=base.debug, handover_epoch=base.handover_epoch)


def samples_per_epoch(trainer: pl.Trainer) -> float:
    """Samples one epoch trains on, over all ranks, when the train data tells it exactly (else ``inf``)."""
    loader = load_train_dataloader(trainer)
    batches = float(trainer.num_training_batches)
    if not isinstance(loader, DataLoader) or not math.isfinite(batches) or loader.batch_size is None:
        return math.inf
    try:
        size = len(loader.sampler)  # type: ignore[arg-type]
        full = len(loader)
    except TypeError:  # an iterable dataset without a length
        return math.inf
    per_rank = float(size if batches >= full and not loader.drop_last else batches * loader.batch_size)
    return per_rank * trainer.world_size


def _epochs(trainer: pl.Trainer, base: Run) -> float:
    """Epochs of the run when it ends by ``max_epochs`` (or where SWA takes over); ``inf`` when ``max_steps`` ends
    it first (somewhere inside an epoch) or no epoch count is set."""
    epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else -1
    if epochs < 0 or (trainer.max_steps >= 0 and (not base.exact or base.timeline.total >= trainer.max_steps)):
        return math.inf
    return float(epochs if base.handover_epoch is None else min(epochs, base.handover_epoch))


def check_clock_options(interval: str, count: Any, total: Any) -> tuple[Counter | None, Span | None]:
    """``count`` and ``total`` of a schedule callback: for a clock of samples or tokens only; tokens need ``count``."""
    if interval not in ("sample", "token"):
        if count is not None or total is not None:
            raise ValueError(
                f"`count` and `total` are for a clock of samples or tokens (interval='sample' or 'token'); with "
                f"interval={interval!r} leave them None (got count={count!r}, total={total!r})."
            )
        return None, None
    return check_counter("count", count), check_total("total", total, f"{interval}s")


def check_counter(name: str, value: Any) -> Counter | None:
    """``count=``: ``None``, a key (a non-empty ``str``) or a callable."""
    if value is None or callable(value) or (isinstance(value, str) and value):
        return value  # type: ignore[no-any-return]
    raise TypeError(
        f"`{name}` must be None, the key of the count in the training_step output (a str), or a function of the "
        f"batch; got {value!r}."
    )


def check_total(name: str, value: Any, unit: str) -> Span | None:
    """``total=``: the run's length on a sample or token clock (a number of them, or ``"300B tokens"``)."""
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = Span(float(value), unit)  # type: ignore[arg-type]
    span = Span.parse(value, name)
    if span.unit == "steps" and not span.named:
        span = Span(span.amount, unit)  # type: ignore[arg-type]
    if span.unit != unit or span.amount <= 0:
        raise ValueError(f"`{name}` is the run's length in {unit} (> 0), e.g. '300B {unit}'; got {value!r}.")
    return span
