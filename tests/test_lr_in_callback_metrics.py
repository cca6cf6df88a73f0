"""The LR a schedule callback sets is in ``trainer.callback_metrics``, under ``LearningRateMonitor``'s names, so
``ModelCheckpoint(monitor="lr-SGD")``, ``EarlyStopping`` and any other reader of callback metrics work: with or
without a logger, on every rank (issue 20, point 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lightning_lr import CosineAnnealing, OneCycle
from tests.ddp_teardown import fit_spawn
from tests.helpers import PlateauModel, TinyModel, make_trainer

EPOCH = 16  # optimizer steps per epoch (64 samples, batch 4)


def logger_of(kind: str, tmp_path: Path) -> Any:
    return CSVLogger(tmp_path / "csv") if kind == "csv" else False


@pytest.mark.parametrize("logger", ["none", "csv"])
def test_model_checkpoint_monitors_the_lr(tmp_path: Path, logger: str) -> None:
    """Saved after each validation: the LR of the epoch's last step, not of the last logged step."""
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="lr-SGD", mode="max", filename="{epoch}")
    model = PlateauModel()
    trainer = make_trainer(
        tmp_path,
        [CosineAnnealing(), checkpoint],
        max_epochs=3,
        enable_checkpointing=True,
        logger=logger_of(logger, tmp_path),
        log_every_n_steps=5,
    )
    trainer.fit(model)
    lrs = [step[0] for step in model.recorder.lrs]
    assert checkpoint.best_model_score is not None
    assert float(checkpoint.best_model_score) == lrs[EPOCH - 1]  # the epoch-0 checkpoint: its last step's LR
    assert Path(checkpoint.best_model_path).name == "epoch=0.ckpt"
    value = trainer.callback_metrics["lr-SGD"]
    assert isinstance(value, torch.Tensor) and value.dtype == torch.float64 and float(value) == lrs[-1]


@pytest.mark.parametrize("logger", ["none", "csv"])
def test_early_stopping_monitors_the_lr_and_the_momentum(tmp_path: Path, logger: str) -> None:
    """OneCycle's LR rises for 30% of training, then falls: stopping on the LR (mode="max", patience 1) ends
    training at the first epoch after the peak's; its momentum series is a callback metric too."""
    early = EarlyStopping(monitor="lr-SGD", mode="max", patience=1, check_on_train_epoch_end=True)
    momentum = EarlyStopping(monitor="lr-SGD-momentum", mode="max", patience=100, check_on_train_epoch_end=True)
    model = TinyModel()
    trainer = make_trainer(
        tmp_path, [OneCycle(total_steps=10 * EPOCH), early, momentum], max_epochs=10, logger=logger_of(logger, tmp_path)
    )
    trainer.fit(model)
    # the peak (step 0.3 x 160 - 1 = 47) is the last step of epoch 2: best at epoch 2, stopped at epoch 3
    lrs = [step[0] for step in model.recorder.lrs]
    ends = [lrs[EPOCH * e + EPOCH - 1] for e in range(4)]
    assert ends[2] == max(lrs) and ends[3] < ends[2]
    assert early.stopped_epoch == 3 and len(lrs) == 4 * EPOCH
    assert float(early.best_score) == ends[2]
    assert float(trainer.callback_metrics["lr-SGD-momentum"]) == model.recorder.momenta[-1][0]
    assert float(momentum.best_score) == max(step[0] for step in model.recorder.momenta[EPOCH - 1 :: EPOCH])


class Reader(Callback):
    """What a callback finds in ``trainer.callback_metrics`` after each step."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.seen.append(float(trainer.callback_metrics["lr-SGD"]))


@pytest.mark.parametrize("first", [True, False], ids=["reader-first", "schedule-first"])
def test_the_values_are_those_of_every_logged_step_and_of_each_epochs_last_step(tmp_path: Path, first: bool) -> None:
    """As ``LearningRateMonitor``: every ``log_every_n_steps`` (a logger or not); and the last step of each epoch,
    where epoch-end and validation monitors read. Not at every step: with hundreds of param groups that costs."""
    reader, schedule = Reader(), OneCycle()
    model = TinyModel()
    make_trainer(tmp_path, [reader, schedule] if first else [schedule, reader], max_epochs=2, log_every_n_steps=4).fit(
        model
    )
    lrs = [step[0] for step in model.recorder.lrs]
    published = [k for k in range(len(lrs)) if k % 4 == 0 or k % EPOCH == EPOCH - 1]
    assert reader.seen == [lrs[max(p for p in published if p <= k)] for k in range(len(lrs))]
    assert reader.seen[EPOCH - 1] == lrs[EPOCH - 1] and reader.seen[EPOCH - 2] == lrs[EPOCH - 4]


# ----------------------------------------------------------------------------------------------- ddp_spawn
class RanksWrite(TinyModel):
    """Each rank writes the LR it finds in ``trainer.callback_metrics`` at train end (module level: picklable)."""

    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out

    def on_train_end(self) -> None:
        trainer = self.trainer
        stopper = next(c for c in trainer.callbacks if isinstance(c, EarlyStopping))
        data = {
            "lr": float(trainer.callback_metrics["lr-SGD"]),
            "last_lr": self.recorder.lrs[-1][0],
            "stopped_epoch": stopper.stopped_epoch,
            "steps": trainer.global_step,
        }
        (Path(self.out) / f"rank{self.global_rank}.json").write_text(json.dumps(data))


def spawn_callbacks(tmp_path: Path) -> list[Any]:
    return [
        OneCycle(total_steps=40),
        EarlyStopping(monitor="lr-SGD", mode="max", patience=1, check_on_train_epoch_end=True),
        ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="lr-SGD", mode="max"),
    ]


@pytest.mark.slow
def test_every_rank_has_the_lr_in_its_callback_metrics_without_a_logger(tmp_path: Path) -> None:
    """2 ranks x 8 steps per epoch; OneCycle over 40 steps peaks at step 11, in epoch 1: stopped at epoch 2."""
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]

    def run() -> None:
        trainer = make_trainer(
            tmp_path,
            spawn_callbacks(tmp_path),
            devices=2,
            strategy="ddp_spawn",
            max_epochs=5,
            enable_checkpointing=True,
        )
        trainer.fit(RanksWrite(str(tmp_path)))

    fit_spawn(run, outputs)
    ranks = [json.loads(path.read_text()) for path in outputs]
    assert ranks[0] == ranks[1]
    assert ranks[0]["lr"] == ranks[0]["last_lr"]
    assert ranks[0]["stopped_epoch"] == 2 and ranks[0]["steps"] == 24
