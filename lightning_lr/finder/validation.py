"""The validation-loss variant of the range test: a fixed set of validation batches after each step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch

from lightning_lr.finder.steps import Recorder, as_float_tensor, takes_index
from lightning_lr.train_data import first_loader


def validation_source(trainer: pl.Trainer, pl_module: pl.LightningModule, given: Any = None) -> Any:
    """Where the validation batches come from: ``given``, the trainer's loaded loaders, the datamodule, the module."""
    if given is not None:
        return given
    loaded = trainer.val_dataloaders
    if loaded is not None:
        return loaded
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is not None and type(datamodule).val_dataloader is not pl.LightningDataModule.val_dataloader:
        return datamodule.val_dataloader()
    if type(pl_module).val_dataloader is not pl.LightningModule.val_dataloader:
        return pl_module.val_dataloader()
    raise ValueError(
        "LRFinder(monitor=...) needs validation data before training starts: define `val_dataloader()` in the "
        "LightningModule or the LightningDataModule, or call `find_lr(..., val_dataloaders=...)`. Loaders "
        "passed as `trainer.fit(val_dataloaders=...)` are not loaded yet when the test runs."
    )


class Validator:
    """Mean of the metric ``monitor`` logged by ``validation_step`` over the first ``num_batches`` batches.

    The batches are read once and reused at every point, so the curve is not noisy from batch to
    batch. The model runs in eval mode, without gradients, in the precision plugin's
    ``val_step_context``.
    """

    def __init__(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, monitor: str, num_batches: int, recorder: Recorder
    ) -> None:
        self.trainer, self.module, self.monitor, self.recorder = trainer, pl_module, monitor, recorder
        self.num_batches = num_batches
        self.source: Any = None
        self._batches: list[Any] | None = None

    def _load(self) -> list[Any]:
        if self._batches is None:
            loader = first_loader(validation_source(self.trainer, self.module, self.source))
            batches: list[Any] = []
            for batch in loader or ():  # an empty list of loaders: no batch, said below
                batches.append(self.trainer.strategy.batch_to_device(batch))
                if len(batches) == self.num_batches:
                    break
            if not batches:
                raise ValueError("LRFinder(monitor=...): the validation dataloader yields no batch.")
            self._batches = batches
        return self._batches

    def evaluate(self) -> torch.Tensor:
        """The monitored value at the current weights (a float64 scalar on the strategy's root device)."""
        module = self.module
        modes = [(m, m.training) for m in module.modules()]
        with_index = takes_index(module.validation_step)
        values: list[torch.Tensor] = []
        module.eval()
        try:
            with torch.no_grad(), self.trainer.precision_plugin.val_step_context():
                for index, batch in enumerate(self._load()):
                    self.recorder.values.clear()
                    output = module.validation_step(batch, index) if with_index else module.validation_step(batch)
                    values.append(self._read(output))
        finally:
            for m, training in modes:
                m.training = training
        return torch.stack(values).mean()

    def _read(self, output: Any) -> torch.Tensor:
        device = self.trainer.strategy.root_device
        if self.monitor in self.recorder.values:
            return as_float_tensor(self.recorder.values[self.monitor], device)
        if isinstance(output, Mapping) and self.monitor in output:
            return as_float_tensor(output[self.monitor], device)
        logged = sorted(self.recorder.values)
        raise ValueError(
            f"LRFinder(monitor={self.monitor!r}): `validation_step` neither logged {self.monitor!r} with "
            f"`self.log` nor returned it in a dict; it logged {logged}."
        )
