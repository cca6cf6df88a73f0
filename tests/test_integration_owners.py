"""Other owners of the LR and of param groups: Lightning's BackboneFinetuning and StochasticWeightAveraging,
LightningCLI's `lr_scheduler:`, and the types users hand in (issue: Lightning integration, points 3, 4, 8)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import BackboneFinetuning, StochasticWeightAveraging
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.utilities.types import LRSchedulerConfig
from torch import nn

from lightning_lr import (
    CosineAnnealing,
    ExponentialDecay,
    HyperparameterScheduler,
    LRFinder,
    MultiStepDecay,
    OneCycle,
    ScheduleConflictError,
    StepDecay,
)
from lightning_lr.schedules import Linear
from tests.helpers import TinyModel, make_trainer, pytorch_lrs
from tests.test_behaviour import CrashAfter, CrashError
from tests.test_integration_length import infos, one_cycle_lrs


# ------------------------------------------------------------------------------------ BackboneFinetuning
class WithBackbone(TinyModel):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(8, 8)
        self.head = nn.Linear(8, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.head(torch.relu(self.backbone(x))), y)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
        self.recorder.attach(opt)
        return opt


def _finetune(root: Path, crash_after: int | None = None, ckpt: str | None = None) -> tuple[WithBackbone, Any]:
    model = WithBackbone()
    schedule = CosineAnnealing(eta_min=0.0)
    callbacks: list[Any] = [BackboneFinetuning(unfreeze_backbone_at_epoch=1, lambda_func=lambda e: 1.5), schedule]
    if crash_after is not None:
        callbacks.append(CrashAfter(crash_after, str(root / "crash.ckpt")))
    with contextlib.suppress(CrashError):
        make_trainer(root, callbacks, max_epochs=3).fit(model, ckpt_path=ckpt)
    return model, schedule


def test_a_group_added_by_backbone_finetuning_joins_the_schedule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with infos(caplog):
        model, schedule = _finetune(tmp_path)
    lrs = model.recorder.lrs
    assert [len(step) for step in lrs] == [1] * 16 + [2] * 32  # the backbone group appears at epoch 1
    head = [step[0] for step in lrs]
    assert head == pytest.approx([0.05 * (1 + np.cos(np.pi * k / 48)) for k in range(48)], rel=1e-12)
    # epoch 1: the group starts at the LR BackboneFinetuning gave it (0.1 x the head's) and keeps that ratio
    assert [lrs[k][1] / head[k] for k in range(16, 32)] == pytest.approx([0.1] * 16, rel=1e-9)
    # epoch 2: BackboneFinetuning raises it (x1.5 of its own previous value, capped at the head's LR);
    # the new value is taken as the group's new ratio to the head, not overwritten
    written = min(1.5 * 0.1 * head[16], head[32])
    assert lrs[32][1] == pytest.approx(written, rel=1e-12)
    assert [lrs[k][1] / head[k] for k in range(32, 48)] == pytest.approx([written / head[32]] * 16, rel=1e-9)
    assert "param group 1 of SGD appeared at step 16 (lr=" in caplog.text
    assert set(schedule.current_values()) == {"lr-SGD/pg1", "lr-SGD/pg2"}  # the new group is logged too


def test_resume_after_the_backbone_is_unfrozen_gives_the_uninterrupted_sequence(tmp_path: Path) -> None:
    full, _ = _finetune(tmp_path / "full")
    before, _ = _finetune(tmp_path / "a", crash_after=40)
    after, _ = _finetune(tmp_path / "b", ckpt=str(tmp_path / "a" / "crash.ckpt"))
    assert len(before.recorder.lrs) == 40
    assert before.recorder.lrs + after.recorder.lrs == full.recorder.lrs


def test_a_joined_group_gets_the_same_weight_decay_and_keeps_its_lr(tmp_path: Path) -> None:
    """A HyperparameterScheduler (absolute values) gives a group added mid-run the same values as the others."""
    model = WithBackbone()
    decay = HyperparameterScheduler("weight_decay", Linear(0.0, 0.3))
    backbone = BackboneFinetuning(unfreeze_backbone_at_epoch=1)
    trainer = make_trainer(tmp_path, [backbone, decay], max_epochs=2)
    trainer.fit(model)
    head, body = trainer.optimizers[0].param_groups
    assert body["weight_decay"] == head["weight_decay"] == pytest.approx(0.3)  # the value after the last step
    assert body["lr"] == pytest.approx(0.1 * 0.1)  # its LR is BackboneFinetuning's, untouched


# ------------------------------------------------------------------------------------ StochasticWeightAveraging
class WithBatchNorm(TinyModel):
    """BatchNorm makes SWA add its BatchNorm-update epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(8)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.layer(self.norm(x)), y)


@pytest.mark.parametrize("swa_first", [True, False], ids=["swa-first", "swa-last"])
@pytest.mark.parametrize("start", [3, 0.75], ids=["epoch-3", "fraction-0.75"])
def test_swa_takes_the_lr_over_at_its_start_and_the_schedule_ends_there(
    tmp_path: Path, swa_first: bool, start: float, caplog: pytest.LogCaptureFixture
) -> None:
    """4 epochs, SWA from the 3rd (index 2): 1cycle over the first 2 epochs (32 steps), then SWALR alone."""
    model = WithBatchNorm()
    swa = StochasticWeightAveraging(swa_lrs=0.02, swa_epoch_start=start, annealing_epochs=1)
    callbacks = [swa, OneCycle()] if swa_first else [OneCycle(), swa]
    with infos(caplog):
        make_trainer(tmp_path, callbacks, max_epochs=4).fit(model)
    lrs = [step[0] for step in model.recorder.lrs]
    assert lrs[:32] == pytest.approx(one_cycle_lrs(32, 32), rel=1e-12)
    epoch2, epoch3 = lrs[32:48], lrs[48:64]
    assert len(set(epoch2)) == 1 and len(set(epoch3)) == 1  # SWALR steps per epoch: nobody else writes
    assert epoch3[0] == pytest.approx(0.02)
    assert caplog.text.count("StochasticWeightAveraging sets the LR from epoch 2") == 1


class AddsSchedulerAtEpoch1(pl.Callback):
    """Another component that starts stepping a scheduler on the same optimizer mid-run (not SWA)."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.current_epoch == 1:
            scheduler = torch.optim.lr_scheduler.StepLR(trainer.optimizers[0], step_size=1)
            trainer.lr_scheduler_configs.append(LRSchedulerConfig(scheduler))


@pytest.mark.parametrize("order", ["before", "after"])
def test_a_scheduler_that_appears_mid_run_is_refused_when_it_appears(tmp_path: Path, order: str) -> None:
    model = TinyModel()
    callbacks = [AddsSchedulerAtEpoch1(), OneCycle()] if order == "before" else [OneCycle(), AddsSchedulerAtEpoch1()]
    with pytest.raises(ScheduleConflictError, match=r"(?s)OneCycle.*StepLR.*same optimizer"):
        make_trainer(tmp_path, callbacks, max_epochs=2).fit(model)
    assert len(model.recorder.lrs) <= 17  # at the latest at the first step of epoch 1: no silent fight


# ------------------------------------------------------------------------------------ LightningCLI
def test_a_scheduler_from_lightning_cli_is_named_as_such(tmp_path: Path) -> None:
    args = [
        "--trainer.max_epochs=1",
        "--trainer.logger=false",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.callbacks=lightning_lr.OneCycle",
        "--optimizer=SGD",
        "--optimizer.lr=0.1",
        "--lr_scheduler=StepLR",
        "--lr_scheduler.step_size=1",
    ]
    cli = LightningCLI(TinyModel, args=args, run=False)
    with pytest.raises(ScheduleConflictError, match=r"(?s)OneCycle.*StepLR.*LightningCLI's `lr_scheduler:`"):
        cli.trainer.fit(cli.model)


# ------------------------------------------------------------------------------------ types and edge values
class TensorLR(TinyModel):
    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=torch.tensor(0.1), momentum=0.9)
        self.recorder.attach(opt)
        return opt


def test_a_tensor_lr_stays_the_same_tensor_updated_in_place(tmp_path: Path) -> None:
    model = TensorLR()
    trainer = make_trainer(tmp_path, [OneCycle()])
    trainer.fit(model)
    group = trainer.optimizers[0].param_groups[0]
    assert isinstance(group["lr"], torch.Tensor)
    reference = one_cycle_lrs(16, 16)
    assert [step[0] for step in model.recorder.lrs] == pytest.approx(reference, rel=1e-6)  # float32 tensor


def test_numpy_numbers_are_accepted_wherever_a_number_is(tmp_path: Path) -> None:
    plain, numpy = TinyModel(), TinyModel()
    make_trainer(tmp_path / "a", [StepDecay(2, gamma=0.5, warmup=0.25)]).fit(plain)
    make_trainer(tmp_path / "b", [StepDecay(np.int64(2), gamma=np.float64(0.5), warmup=np.float32(0.25))]).fit(numpy)
    assert numpy.recorder.lrs == plain.recorder.lrs
    assert OneCycle(total_steps=np.int64(16)).total_steps == 16
    assert LRFinder(num_training_steps=np.int32(20)).config.num_training_steps == 20
    with pytest.raises(TypeError, match="total_steps"):
        OneCycle(total_steps=np.bool_(True))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: StepDecay(2, gamma=0.0), lambda o: torch.optim.lr_scheduler.StepLR(o, 2, gamma=0.0)),
        (lambda: MultiStepDecay([3], gamma=0.0), lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3], gamma=0.0)),
        (lambda: ExponentialDecay(gamma=0.0), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.0)),
    ],
    ids=["StepDecay", "MultiStepDecay", "ExponentialDecay"],
)
def test_gamma_zero_is_treated_alike_and_as_pytorch_does(tmp_path: Path, ours: Any, theirs: Any) -> None:
    model = TinyModel()
    make_trainer(tmp_path, [ours()]).fit(model)
    assert [step[0] for step in model.recorder.lrs] == pytorch_lrs(theirs, 16)


def test_info_lines_are_logged_through_lightnings_logger(caplog: pytest.LogCaptureFixture) -> None:
    """The messages above are read from Lightning's `rank_zero` logger: make sure it is the one we write to."""
    from lightning.pytorch.utilities import rank_zero_info

    with caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        rank_zero_info("probe")
    assert "probe" in caplog.text
