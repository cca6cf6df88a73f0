"""An epoch-clock schedule has written an epoch's LR by the time any other callback's ``on_train_epoch_start``
runs, whatever the order of the callbacks, as Lightning's own epoch schedulers have (they step at the end of the
previous epoch)."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger

from lightning_lr import CosineAnnealing, StepDecay
from tests.helpers import TinyModel, make_trainer

EPOCHS = 4


class SeesTheLR(pl.Callback):
    """Records group 0's LR in ``on_train_epoch_start``, as any neighbour would read it."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seen.append(float(trainer.optimizers[0].param_groups[0]["lr"]))


def monitored(tmp_path: Path, callbacks: list[Any], model: TinyModel) -> list[float]:
    """The per-epoch LRs ``LearningRateMonitor(logging_interval="epoch")`` wrote to a real CSV log."""
    logger = CSVLogger(tmp_path, name="run")
    trainer = make_trainer(tmp_path, callbacks, max_epochs=EPOCHS, logger=logger)
    trainer.fit(model)
    with open(Path(logger.log_dir) / "metrics.csv") as f:
        return [float(row["lr-SGD"]) for row in csv.DictReader(f) if row.get("lr-SGD")]


@pytest.mark.parametrize("monitor_first", [True, False], ids=["monitor-first", "monitor-last"])
def test_learning_rate_monitor_logs_the_lr_each_epoch_trains_at(tmp_path: Path, monitor_first: bool) -> None:
    monitor, schedule, seer = (
        LearningRateMonitor(logging_interval="epoch"),
        StepDecay(1, gamma=0.5, interval="epoch", log_lr=False),
        SeesTheLR(),
    )
    callbacks = [monitor, seer, schedule] if monitor_first else [schedule, seer, monitor]
    model = TinyModel(n=16)
    logged = monitored(tmp_path / "ours", callbacks, model)
    expected = [0.1 * 0.5**e for e in range(EPOCHS)]
    assert logged == pytest.approx(expected, rel=1e-12)
    assert seer.seen == pytest.approx(expected, rel=1e-12)
    steps_per_epoch = len(model.recorder.lrs) // EPOCHS
    trained = [model.recorder.lrs[e * steps_per_epoch][0] for e in range(EPOCHS)]
    assert trained == pytest.approx(expected, rel=1e-12)

    def step_lr(opt: torch.optim.Optimizer) -> Any:
        return {"scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5), "interval": "epoch"}

    reference = monitored(
        tmp_path / "pytorch", [LearningRateMonitor(logging_interval="epoch")], TinyModel(n=16, scheduler=step_lr)
    )
    assert logged == pytest.approx(reference, rel=1e-12)


def test_the_last_epoch_writes_nothing_past_the_plan(tmp_path: Path) -> None:
    """CosineAnnealing over the run does not hold its end: writing epoch ``max_epochs`` ahead would warn."""
    model = TinyModel(n=16)
    trainer = make_trainer(tmp_path, [CosineAnnealing(interval="epoch")], max_epochs=EPOCHS)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*past the end of its schedule.*")
        trainer.fit(model)
    last = model.recorder.lrs[-1][0]
    assert float(trainer.optimizers[0].param_groups[0]["lr"]) == last  # the last epoch's LR stays in the optimizer
