"""The last good training state of :class:`~lightning_lr.rewind.RewindOnSpike`: weights and optimizer state.

What is kept: every parameter and buffer of the LightningModule, every optimizer's per-parameter state
(Adam's moments and step, momentum buffers, ...) and the AMP gradient scaler's state, as host copies
(the tensor helpers are the finder's, :mod:`lightning_lr.finder.state`), in memory or in one file,

and every param-group value but the LR (what an optimizer counts there: a schedule-free optimizer's step ``k``,
``weight_sum``, ``lr_max`` and ``train_mode``; momentum values, which a schedule callback writes again before
the next step anyway).

What is not: the LR (the schedule's clock runs on from the current step, and the cut is made on top of the
current LR); the RNG states and the data order (the batches run on, the offending ones skipped); gradients
(set to ``None`` on restore).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.optim import Optimizer

from lightning_lr.finder.state import SavedTensor, host_copy, load_state, save_state

SKIPPED = ("params", "lr")
"""Param-group keys a snapshot leaves alone: the parameters themselves, and the LR (the schedule's, cut on top)."""


def _params_of(optimizer: Optimizer) -> list[nn.Parameter]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _group_values(optimizer: Optimizer) -> list[dict[str, Any]]:
    """Every param group's values but its params and its LR (tensors as host copies)."""
    return [
        {k: host_copy(v) if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in g.items() if k not in SKIPPED}
        for g in optimizer.param_groups
    ]


def _put_group_values(optimizer: Optimizer, saved: list[dict[str, Any]]) -> None:
    for group, values in zip(optimizer.param_groups, saved):  # groups added since then keep theirs
        for key, value in values.items():
            if isinstance(group.get(key), torch.Tensor) and isinstance(value, torch.Tensor):
                group[key].copy_(value)  # a tensor value stays the same tensor object
            else:
                group[key] = copy.deepcopy(value)


def _nbytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, SavedTensor):
        return _nbytes(value.value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 0


def _scaler(trainer: pl.Trainer) -> Any:
    return getattr(trainer.precision_plugin, "scaler", None)


class SnapshotTooLargeError(RuntimeError):
    """The snapshot needs more host memory than ``max_snapshot_bytes`` allows."""


class TrainingSnapshot:
    """The weights and optimizer state at optimizer step ``step``, in host memory or in ``path``.

    Example:
        >>> snapshot_bytes = TrainingSnapshot.size_of([torch.zeros(4)], [])
        >>> snapshot_bytes
        16
    """

    def __init__(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int, path: Path | None, max_bytes: int | None
    ) -> None:
        optimizers = [
            [save_state(o.state[p]) if p in o.state else None for p in _params_of(o)] for o in trainer.optimizers
        ]
        params, buffers = list(pl_module.parameters()), list(pl_module.buffers())
        self.nbytes = self.size_of(params + buffers, optimizers)
        if path is None and max_bytes is not None and self.nbytes > max_bytes:
            raise SnapshotTooLargeError(
                f"RewindOnSpike: the snapshot of step {step} needs {self.nbytes:,} bytes of host memory, above "
                f"max_snapshot_bytes={max_bytes:,}. Pass `snapshot_dir=` to keep it on disk, or raise the budget."
            )
        scaler = _scaler(trainer)
        data = {
            "step": step,
            "params": [host_copy(p) for p in params],
            "buffers": [host_copy(b) for b in buffers],
            "optimizers": optimizers,
            "groups": [_group_values(o) for o in trainer.optimizers],
            "scaler": None if scaler is None else scaler.state_dict(),
        }
        self.step, self.path = step, path
        self._data: dict[str, Any] | None = None
        if path is None:
            self._data = data
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            torch.save(data, partial)
            partial.replace(path)  # the file always holds a whole snapshot, even if saving is interrupted

    @staticmethod
    def size_of(tensors: list[torch.Tensor], optimizers: list[Any]) -> int:
        """Bytes of host memory the tensors and the saved optimizer states take."""
        return _nbytes(tensors) + _nbytes(optimizers)

    def restore(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Put the weights, buffers, optimizer states and scaler state back; gradients become ``None``."""
        data = self._data
        if data is None:
            # Our own file, written by __init__: SavedTensor (a NamedTuple) needs the full unpickler.
            data = torch.load(self.path, map_location="cpu", weights_only=False)  # type: ignore[arg-type]
        with torch.no_grad():
            for p, value in zip(pl_module.parameters(), data["params"]):
                p.copy_(value)
                p.grad = None
            for b, value in zip(pl_module.buffers(), data["buffers"]):
                b.copy_(value)
        for optimizer, saved in zip(trainer.optimizers, data["optimizers"]):
            optimizer.state.clear()
            for p, state in zip(_params_of(optimizer), saved):  # groups added since then start with no state
                if state is not None:
                    optimizer.state[p] = load_state(state)
        for optimizer, groups in zip(trainer.optimizers, data.get("groups", [])):
            _put_group_values(optimizer, groups)
        scaler = _scaler(trainer)
        if scaler is not None and data["scaler"] is not None:
            scaler.load_state_dict(data["scaler"])
