"""Misuse that only the trainer reveals (beyond ``tests/test_validation.py``): refused before the first step."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    ExponentialDecay,
    MultiStepDecay,
    OneCycle,
    ScheduleConflictError,
    StepDecay,
)
from tests.helpers import TinyModel, make_trainer, random_data


class NoOptimizer(TinyModel):
    def configure_optimizers(self) -> Any:
        return None  # Lightning then trains with a stand-in optimizer that has no param groups


class Endless(IterableDataset):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        return iter(random_data(16))


class NoLength(TinyModel):
    def train_dataloader(self) -> DataLoader:
        return DataLoader(Endless(), batch_size=4)


def hosted_plateau(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer), "monitor": "train_loss"}


class HostedPlateau(TinyModel):
    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        self.recorder.attach(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": hosted_plateau(optimizer)}


MISUSE = [
    pytest.param(NoOptimizer, lambda: [StepDecay(4)], {}, ("StepDecay", "optimizer"), id="no-optimizer"),
    pytest.param(NoLength, lambda: [OneCycle()], {}, ("OneCycle",), id="iterable-dataset-without-length"),
    # a shorter expression or transformers-style schedule holds its end, as PyTorch's, and a longer one only
    # warns: tests/test_integration_length.py
    pytest.param(
        TinyModel,
        lambda: [CosineRestarts(T_0=4, eta_min=0.5)],
        {},
        ("CosineRestarts", "eta_min"),
        id="eta_min-above-lr",
    ),
    pytest.param(
        TinyModel, lambda: [MultiStepDecay(["75%", 4])], {}, ("MultiStepDecay", "increasing"), id="milestones-unordered"
    ),
    pytest.param(
        TinyModel,
        lambda: [StepDecay(4, warmup="10%")],
        {"max_epochs": -1, "max_steps": -1},
        ("StepDecay",),
        id="fraction-of-an-endless-run",
    ),
    pytest.param(
        HostedPlateau, lambda: [OneCycle()], {}, ("OneCycle", "ReduceLROnPlateau", "configure_optimizers"), id="hosted"
    ),
    pytest.param(
        TinyModel,
        lambda: [ExponentialDecay(0.9, optimizers=[0]), CosineAnnealing()],
        {},
        ("ExponentialDecay", "CosineAnnealing"),
        id="two-callbacks-index-and-default",
    ),
]


@pytest.mark.parametrize(("model_class", "callbacks", "trainer_kwargs", "fragments"), MISUSE)
def test_misuse_is_refused_before_the_first_step(
    tmp_path: Path,
    model_class: type[TinyModel],
    callbacks: Callable[[], list[Any]],
    trainer_kwargs: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    model = model_class()
    trainer = make_trainer(tmp_path, callbacks(), **trainer_kwargs)
    pattern = "(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    with pytest.raises(ScheduleConflictError, match=pattern):
        trainer.fit(model)
    assert model.recorder.lrs == [] and trainer.global_step == 0
