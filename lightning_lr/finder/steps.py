"""One point of the range test: an optimizer step on training data, outside Lightning's loop.

The test calls the LightningModule's ``training_step`` through ``trainer.strategy.training_step``
(so DDP synchronizes gradients and the precision plugin's autocast applies), then backward,
gradient clipping the way Lightning's step does it (the module's ``configure_gradient_clipping``
with the trainer's settings) and ``optimizer.step`` itself. Apart from those no hook runs and no
loop counter moves. While it runs, ``self.log``/``self.log_dict`` record into a dict instead of
Lightning's result collection, and in manual optimization ``self.optimizers()`` returns the plain
torch optimizers and ``self.manual_backward`` is a plain (DDP-aware) backward, so other callbacks'
optimizer and backward hooks do not fire either.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import CombinedLoader
from torch.optim import Optimizer

from lightning_lr.train_data import private_copies


class TrainBatches:
    """Endless batches from the train dataloaders, on the device, ``num_training_batches`` per pass.

    Args:
        trainer: The running trainer (its strategy and ``num_training_batches``).
        loaders: The train dataloaders, as :func:`~lightning_lr.train_data.load_train_dataloader` returned them.
    """

    def __init__(self, trainer: pl.Trainer, loaders: Any) -> None:
        if loaders is None:
            raise RuntimeError("LRFinder: the trainer has no train dataloader to run the range test on.")
        self.strategy = trainer.strategy
        self.loader = CombinedLoader(private_copies(loaders), mode="max_size_cycle")
        limit = trainer.num_training_batches
        self.limit = int(limit) if math.isfinite(limit) else None
        self._iterator: Iterator[Any] | None = None
        self._taken = 0

    def next(self) -> tuple[Any, int]:
        """The next batch (moved by ``strategy.batch_to_device``) and its index in the pass."""
        for fresh in (False, True):
            if self._iterator is None or (self.limit is not None and self._taken >= self.limit):
                self._iterator, self._taken = iter(self.loader), 0
            try:
                batch, index, _ = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if fresh:
                    break
                continue
            self._taken += 1
            return self.strategy.batch_to_device(batch), int(index)
        raise RuntimeError("LRFinder: the train dataloader yields no batch.")

    def close(self) -> None:
        """Drop the iterator and shut down worker processes."""
        self._iterator = None
        self.loader.reset()


def takes_index(method: Callable[..., Any]) -> bool:
    """Whether a ``*_step`` method accepts ``batch_idx`` (Lightning passes it only then)."""
    params = list(inspect.signature(method).parameters.values())
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params) or any(p.name == "batch_idx" for p in params):
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in positional for p in params) >= 2


def loss_or_skip(output: Any, hook: str = "training_step") -> torch.Tensor | None:
    """The loss a step returned, strictly: a tensor, ``output["loss"]``, or ``None`` (the batch is skipped).

    Anything else raises ``TypeError``: the range test needs the loss. (The logging side reads losses
    leniently, with its own function: a step output without a loss there only means nothing to log.)
    """
    if output is None or isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and isinstance(output.get("loss"), torch.Tensor):
        loss: torch.Tensor = output["loss"]
        return loss
    raise TypeError(
        f"LRFinder: `{hook}` must return a loss tensor, a dict with a 'loss' tensor, or None; "
        f"got {type(output).__name__}."
    )


class Recorder:
    """Stands in for ``LightningModule.log``/``log_dict`` during the test and keeps the values."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        self.values[name] = value

    def log_dict(self, dictionary: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        self.values.update(dictionary)


def as_float_tensor(value: Any, device: torch.device) -> torch.Tensor:
    """A logged value (tensor, number or torchmetrics ``Metric``) as a float64 scalar tensor."""
    if hasattr(value, "compute") and not isinstance(value, torch.Tensor):
        value = value.compute()
    return torch.as_tensor(value, dtype=torch.float64, device=device).detach().reshape(())


class Stepper:
    """Runs one test point: sets nothing itself; the caller writes the LR before calling :meth:`point`.

    Args:
        trainer: The running trainer (its strategy, precision plugin, optimizers, clipping settings).
        pl_module: The LightningModule.
        loaders: The train dataloaders (see :class:`TrainBatches`).
    """

    def __init__(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loaders: Any) -> None:
        self.trainer, self.module = trainer, pl_module
        self.strategy = trainer.strategy
        self.optimizers: list[Optimizer] = list(trainer.optimizers)
        self.automatic = bool(pl_module.automatic_optimization)
        self.accumulate = int(trainer.accumulate_grad_batches) if self.automatic else 1
        self.batches = TrainBatches(trainer, loaders)
        self.recorder = Recorder()
        self.backward_losses: list[torch.Tensor] = []
        self._index = takes_index(pl_module.training_step)
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        self.scaler = scaler if self.automatic and hasattr(scaler, "scale") else None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Stepper:
        module = self.module
        shadows: dict[str, Any] = {"log": self.recorder.log, "log_dict": self.recorder.log_dict}
        if not self.automatic:
            shadows["manual_backward"] = self._manual_backward
            shadows["optimizers"] = self._plain_optimizers
        for name, value in shadows.items():
            self._stack.callback(_unshadow, module, name, name in vars(module), vars(module).get(name))
            setattr(module, name, value)
        self._stack.enter_context(torch.enable_grad())
        module.train()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self.batches.close()

    # ------------------------------------------------------------------ the step
    def point(self) -> torch.Tensor | None:
        """One optimizer step (automatic) or one ``training_step`` (manual); its loss, or ``None`` if skipped."""
        return self._automatic() if self.automatic else self._manual()

    def _call(self, batch: Any, index: int) -> Any:
        self.recorder.values.clear()
        args = (batch, index) if self._index else (batch,)
        return self.strategy.training_step(*args)

    def _automatic(self) -> torch.Tensor | None:
        optimizer = self.optimizers[0]
        window = [self.batches.next() for _ in range(self.accumulate)]
        first: list[torch.Tensor | None] = []

        def closure() -> torch.Tensor | None:
            optimizer.zero_grad()
            total, count = None, 0
            for batch, index in window:
                loss = loss_or_skip(self._call(batch, index))
                if loss is None:
                    continue
                scaled = loss / self.accumulate
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
                total = loss.detach() if total is None else total + loss.detach()
                count += 1
            mean = None if total is None else total / count
            if mean is not None:
                if self.scaler is not None:
                    self.scaler.unscale_(optimizer)
                self._clip(optimizer)
            if not first:
                first.append(mean)
            return mean

        if self.scaler is not None:
            if closure() is not None:
                self.scaler.step(optimizer)
                self.scaler.update()
        else:
            optimizer.step(closure)  # type: ignore[arg-type]  # LBFGS re-evaluates the same window
        return first[0] if first else None

    def _clip(self, optimizer: Optimizer) -> None:
        """Clip as Lightning's own automatic step does: the module's ``configure_gradient_clipping`` with the
        trainer's ``gradient_clip_val``/``gradient_clip_algorithm``; by default that is ``clip_gradients``, which
        hands them to the precision plugin's ``clip_gradients`` (nothing when no value is set)."""
        trainer = self.trainer
        self.module.configure_gradient_clipping(
            optimizer,
            gradient_clip_val=trainer.gradient_clip_val,
            gradient_clip_algorithm=trainer.gradient_clip_algorithm,
        )

    def _manual(self) -> torch.Tensor | None:
        batch, index = self.batches.next()
        self.backward_losses.clear()
        loss = loss_or_skip(self._call(batch, index))
        if loss is None and self.backward_losses:
            loss = torch.stack(self.backward_losses).mean()
        return None if loss is None else loss.detach()

    def _manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        self.backward_losses.append(loss.detach().float().reshape(()) if loss.numel() == 1 else loss.detach().mean())
        self.strategy.pre_backward(loss)  # DDP: prepares the reducer, as Lightning's manual_backward does
        loss.backward(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.strategy.post_backward(loss)

    def _plain_optimizers(self, use_pl_optimizer: bool = True) -> Optimizer | list[Optimizer]:
        return self.optimizers[0] if len(self.optimizers) == 1 else list(self.optimizers)


def _unshadow(module: torch.nn.Module, name: str, had: bool, value: Any) -> None:
    if had:
        vars(module)[name] = value
    else:
        vars(module).pop(name, None)
