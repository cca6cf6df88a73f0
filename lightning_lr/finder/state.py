"""An in-memory snapshot of everything a range test can change, and its exact restore.

Taken before the test and restored in a ``finally``, so the model, the optimizers, the LR
schedulers, the gradient scaler and the random number generators are bit-identical afterwards,
also when the loss diverged or a step raised. Nothing is written to disk.

What is saved:

* every parameter and buffer of the LightningModule (values, ``requires_grad``, ``.grad``), as
  copies in host memory;
* the attributes of every submodule, one level deep (a counter, a list that was appended to, a
  tensor attribute updated in place, a hook or method patched on the instance are all undone);
* every optimizer's state (deep copy) and param-group values, restored into the same group dicts (a tensor
  value such as ``lr=torch.tensor(...)`` into the same tensor object, in place);
* every LR scheduler's ``state_dict`` and the AMP gradient scaler's attributes, when there is one;
* the torch (CPU and initialized CUDA devices), NumPy and Python RNG states, and the states of
  the ``torch.Generator`` objects of the train dataloaders (``DataLoader(generator=...)``, a
  sampler's ``generator``), so the training epochs see the same order as without the test.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, NamedTuple

import lightning.pytorch as pl
import torch
from torch import nn
from torch.optim import Optimizer

from lightning_lr.random_state import RandomState


def host_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A detached copy in host memory."""
    return tensor.detach().to("cpu", copy=True)


class _Attributes:
    """The ``__dict__`` of one object, containers and tensors copied one level deep."""

    def __init__(self, obj: Any, skip: Iterable[str] = ()) -> None:
        self.obj = obj
        self.skip = frozenset(skip)
        self.saved: dict[str, Any] = {}
        self.contents: dict[str, Any] = {}
        for name, value in vars(obj).items():
            if name in self.skip:
                continue
            self.saved[name] = value
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter):
                self.contents[name] = host_copy(value)
            elif isinstance(value, (list, dict, set)):
                self.contents[name] = copy.copy(value)

    def restore(self) -> None:
        current = vars(self.obj)
        for name in [n for n in current if n not in self.saved and n not in self.skip]:
            del current[name]
        for name, value in self.saved.items():
            current[name] = value
            if name not in self.contents:
                continue
            content = self.contents[name]
            if isinstance(value, torch.Tensor):
                if value.shape == content.shape and value.dtype == content.dtype:
                    with torch.no_grad():
                        value.copy_(content)
                else:  # pragma: no cover - resized in place: put a copy back
                    current[name] = content.to(value.device)
            elif isinstance(value, list):
                value[:] = content
            else:
                value.clear()
                value.update(content)


class _Tensors:
    """Values, ``requires_grad`` and ``.grad`` of a module's parameters and buffers."""

    def __init__(self, module: nn.Module) -> None:
        self.params = [
            (p, host_copy(p), p.requires_grad, None if p.grad is None else host_copy(p.grad))
            for p in module.parameters()
        ]
        self.buffers = [(b, host_copy(b)) for b in module.buffers()]

    def restore(self) -> None:
        with torch.no_grad():
            for p, value, requires_grad, grad in self.params:
                p.copy_(value)
                p.requires_grad_(requires_grad)
                p.grad = None if grad is None else grad.to(p.device)
            for b, value in self.buffers:
                b.copy_(value)


class SavedTensor(NamedTuple):
    """A host copy of an optimizer-state tensor and the device it goes back to."""

    value: torch.Tensor
    device: torch.device


def save_state(state: dict[str, Any]) -> dict[str, Any]:
    """One parameter's optimizer state in host memory (tensors copied, the rest deep-copied); :func:`load_state`
    gives it back on the original devices. Shared with :mod:`lightning_lr.rewind`."""
    return {
        k: SavedTensor(host_copy(v), v.device) if isinstance(v, torch.Tensor) else copy.deepcopy(v)
        for k, v in state.items()
    }


def load_state(saved: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of what :func:`save_state` saved, on the original devices."""
    return {
        k: v.value.to(v.device, copy=True) if isinstance(v, SavedTensor) else copy.deepcopy(v) for k, v in saved.items()
    }


def _put_back(original: Any, saved: Any) -> Any:
    """A group value as it was: a tensor (``lr=torch.tensor(...)``), alone or in a tuple (``betas``), is the
    original object with its saved value copied back in place; anything else a copy of the saved value."""
    if isinstance(original, torch.Tensor) and isinstance(saved, torch.Tensor):
        if original.shape == saved.shape and original.dtype == saved.dtype:
            with torch.no_grad():
                original.copy_(saved)
            return original
    elif type(original) is tuple and type(saved) is tuple and any(isinstance(v, torch.Tensor) for v in original):
        parts = tuple(_put_back(o, v) for o, v in zip(original, saved))
        return original if all(p is o for p, o in zip(parts, original)) else parts
    return copy.deepcopy(saved)


class _OptimizerState:
    """An optimizer's per-parameter state and group values, restored into the same group dicts (and the same
    tensor objects, for tensor group values)."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.state = {p: save_state(s) for p, s in optimizer.state.items()}
        self.group_list = list(optimizer.param_groups)
        self.groups = [(g, {k: (v, copy.deepcopy(v)) for k, v in g.items() if k != "params"}) for g in self.group_list]
        self.attributes = _Attributes(optimizer, skip=("state", "param_groups"))

    def restore(self) -> None:
        opt = self.optimizer
        opt.param_groups[:] = self.group_list
        for group, values in self.groups:
            params = group["params"]
            group.clear()
            group["params"] = params
            group.update({k: _put_back(original, saved) for k, (original, saved) in values.items()})
        opt.state.clear()
        for p, saved in self.state.items():
            opt.state[p] = load_state(saved)
        self.attributes.restore()


class Snapshot:
    """Everything a range test may change; :meth:`restore` puts it back bit for bit.

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> before = model.weight.detach().clone()
        >>> snapshot = Snapshot.of_module(model)
        >>> with torch.no_grad():
        ...     _ = model.weight.add_(1.0)
        >>> snapshot.restore()
        >>> bool(torch.equal(model.weight, before))
        True
    """

    def __init__(self) -> None:
        self._parts: list[Any] = []
        self._rng: RandomState | None = None

    @classmethod
    def of_module(cls, module: nn.Module) -> Snapshot:
        """A module's tensors and attributes, and the RNG states."""
        snapshot = cls()
        snapshot._parts.append(_Tensors(module))
        snapshot._parts.extend(_Attributes(m) for m in module.modules())
        snapshot._rng = RandomState()
        return snapshot

    @classmethod
    def of_fit(cls, trainer: pl.Trainer, pl_module: pl.LightningModule, train_loaders: Any) -> Snapshot:
        """The LightningModule, the optimizers, the LR schedulers, the gradient scaler and the RNG states,
        and the generators of ``train_loaders`` (what :func:`~lightning_lr.train_data.load_train_dataloader` gave)."""
        snapshot = cls.of_module(pl_module)
        snapshot._parts.extend(_OptimizerState(opt) for opt in trainer.optimizers)
        for config in trainer.lr_scheduler_configs:
            snapshot._parts.append(_StateDict(config.scheduler))
        snapshot._rng = RandomState(train_loaders)  # the global generators and the loaders'
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        if scaler is not None:  # its scale, growth tracker and per-optimizer states (lazily created ones too)
            snapshot._parts.append(_Attributes(scaler))
        return snapshot

    def restore(self) -> None:
        """Put everything back (idempotent)."""
        for part in self._parts:
            part.restore()
        if self._rng is not None:
            self._rng.restore()


class _StateDict:
    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.state = copy.deepcopy(obj.state_dict())

    def restore(self) -> None:
        self.obj.load_state_dict(copy.deepcopy(self.state))
