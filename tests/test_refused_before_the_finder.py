"""A run that a schedule will refuse is refused before the finder's range test spends steps on it."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_lr import AutoLR, CosineAnnealing, LRFinder, ScheduleConflictError

CALLS = [0]  # outside the module: the finder restores the module's own attributes after its test


class WithStepLR(pl.LightningModule):
    """Returns a ``StepLR`` next to its optimizer (a second LR owner); counts its training steps in ``CALLS``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)
        CALLS[0] = 0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        CALLS[0] += 1
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)]

    def train_dataloader(self) -> DataLoader[Any]:
        x = torch.randn(256, 4, generator=torch.Generator().manual_seed(0))
        return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)


def fit(*callbacks: pl.Callback) -> WithStepLR:
    model = WithStepLR()
    trainer = pl.Trainer(
        max_epochs=2, callbacks=list(callbacks), logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    with pytest.raises(ScheduleConflictError, match="StepLR") as refused:
        trainer.fit(model)
    model.refusal = str(refused.value)  # type: ignore[attr-defined]
    return model


def test_a_finder_listed_first_does_not_run_its_test_before_the_schedule_refuses() -> None:
    model = fit(LRFinder(), CosineAnnealing())
    assert CALLS[0] == 0 and "CosineAnnealing" in model.refusal  # type: ignore[attr-defined]


def test_autolr_refuses_a_hosted_scheduler_in_its_own_name_before_any_step() -> None:
    model = fit(AutoLR())
    assert CALLS[0] == 0 and model.refusal.startswith("AutoLR")  # type: ignore[attr-defined]
