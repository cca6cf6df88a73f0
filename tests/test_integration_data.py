"""The LR finder next to Lightning's data pipeline: real worker processes, max_steps-only runs, streams,
a further fit, strategies it cannot run under (issue: Lightning integration, point 1, 2 and 9)."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, SingleDeviceStrategy
from torch.utils.data import DataLoader, IterableDataset

from lightning_lr import CosineAnnealing, LRFinder, OneCycle
from lightning_lr.finder.search import check_strategy
from tests.helpers import TinyModel, make_trainer, random_data


class BatchLog(pl.Callback):
    """The first feature of every batch the fit loop trains on, per epoch."""

    def __init__(self) -> None:
        self.epochs: dict[int, list[float]] = {}

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self.epochs.setdefault(trainer.current_epoch, []).append(float(batch[0][0, 0]))


class PersistentWorkers(TinyModel):
    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(random_data(64, 8), batch_size=4, num_workers=2, persistent_workers=True, shuffle=True)


class Stream(IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """An endless stream without ``__len__``."""

    def __iter__(self) -> Any:
        g = torch.Generator().manual_seed(0)
        w = torch.randn(8, 1, generator=g)
        while True:
            x = torch.randn(8, generator=g)
            yield x, x @ w


class StreamModel(TinyModel):
    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(Stream(), batch_size=4)


def test_persistent_workers_every_epoch_sees_every_batch_as_without_the_finder(tmp_path: Path) -> None:
    """Real worker processes: the test used to consume the fit loop's persistent iterator (epoch 0 vanished)."""
    runs = {}
    for with_finder in (False, True):
        torch.manual_seed(0)
        log = BatchLog()
        callbacks: list[Any] = [log, LRFinder(num_training_steps=8, apply=False)] if with_finder else [log]
        make_trainer(tmp_path / str(with_finder), callbacks, max_epochs=2).fit(PersistentWorkers())
        runs[with_finder] = log.epochs
    assert {e: len(b) for e, b in runs[True].items()} == {0: 16, 1: 16}
    assert runs[True] == runs[False]  # the same batches in the same order


@pytest.mark.parametrize("max_epochs", [None, -1], ids=["max_epochs-None", "max_epochs--1"])
def test_finder_in_a_run_limited_by_max_steps_alone(tmp_path: Path, max_epochs: int | None) -> None:
    finder = LRFinder(num_training_steps=10)
    trainer = make_trainer(tmp_path, [finder, CosineAnnealing()], max_epochs=max_epochs, max_steps=24)
    model = TinyModel()
    trainer.fit(model)
    assert finder.result is not None and len(finder.result.lrs) == 10
    assert trainer.global_step == 24 and len(model.recorder.lrs) == 10 + 24  # the test's steps, then training's


def test_finder_on_a_stream_without_length(tmp_path: Path) -> None:
    finder = LRFinder(num_training_steps=10)
    trainer = make_trainer(tmp_path, [finder, CosineAnnealing()], max_epochs=-1, max_steps=20)
    model = StreamModel()
    trainer.fit(model)
    assert finder.result is not None and len(finder.result.lrs) == 10
    trained = [lrs[0] for lrs in model.recorder.lrs[10:]]  # after the test's 10 steps
    assert len(trained) == 20
    assert trained[-1] == pytest.approx(trained[0] * (1 + math.cos(math.pi * 19 / 20)) / 2)


def test_a_further_fit_does_not_rerun_the_test_on_trained_weights(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    finder = LRFinder(num_training_steps=8)
    trainer = make_trainer(tmp_path, [finder, CosineAnnealing()], max_epochs=1)
    model = TinyModel()
    trainer.fit(model)
    first = finder.result
    assert first is not None and first.lrs
    lr_before = float(trainer.optimizers[0].param_groups[0]["lr"])
    trainer.fit_loop.max_epochs = 2
    with caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        trainer.fit(model)
    assert finder.result is first  # the test's result stays readable (tests/test_finder_continued_fit.py)
    assert "no range test: this fit continues training" in caplog.text
    assert model.recorder.lrs[8 + 16][0] == pytest.approx(lr_before)  # continued where it stood: no re-test, no jump


def test_rerun_on_continue_runs_the_test_again(tmp_path: Path) -> None:
    finder = LRFinder(num_training_steps=8, apply=False, rerun_on_continue=True)
    trainer = make_trainer(tmp_path, [finder], max_epochs=1)
    model = TinyModel()
    trainer.fit(model)
    trainer.fit_loop.max_epochs = 2
    trainer.fit(model)
    assert finder.result is not None and len(finder.result.lrs) == 8


def test_finder_refuses_sharded_strategies_before_the_test() -> None:
    with pytest.raises(ValueError, match=r"(?s)FSDPStrategy.*shards.*find_lr"):
        check_strategy(FSDPStrategy())
    check_strategy(SingleDeviceStrategy(torch.device("cpu")))  # supported ones pass
    check_strategy(DDPStrategy())


def test_fast_dev_run_skips_the_finder_and_runs_every_schedule(tmp_path: Path) -> None:
    finder = LRFinder(num_training_steps=8)
    model = TinyModel()
    make_trainer(tmp_path, [finder, OneCycle(total_steps=100)], fast_dev_run=2).fit(model)
    assert finder.result is not None and "fast_dev_run" in (finder.result.reason or "")
    assert len(model.recorder.lrs) == 2
