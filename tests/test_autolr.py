"""AutoLR(): the finder's pick as the peak, warmup="auto", a WSD cooldown at the end of the run or of max_time."""

from __future__ import annotations

import contextlib
import itertools
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_lr import AutoLR, CosineAnnealing, LRFinder, ScheduleConflictError
from tests.helpers import CrashAtStep, CrashError, TinyModel, make_trainer


class SlowModel(TinyModel):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        time.sleep(0.01)
        return super().training_step(batch, batch_idx)


def fit(tmp_path: Path, auto: AutoLR, ckpt: Path | None = None, *extra: Any, **kw: Any) -> tuple[TinyModel, Any]:
    pl.seed_everything(0)
    model = TinyModel(optimizer="adamw", lr=1e-3)  # 16 steps per epoch, AdamW betas (0.9, 0.99)
    trainer = make_trainer(tmp_path, [auto, *extra], **{"max_epochs": 5, **kw})  # 80 steps
    with contextlib.suppress(CrashError):
        trainer.fit(model, ckpt_path=ckpt)
    return model, trainer


def test_peak_from_the_finder_auto_warmup_and_a_cooldown_at_the_end(tmp_path: Path) -> None:
    auto = AutoLR(min_lr=1e-4, max_lr=10.0)  # a range where the tiny regression's curve has a clear descent
    model, trainer = fit(tmp_path, auto, logger=TensorBoardLogger(tmp_path, name="tb", default_hp_metric=False))
    lrs = [lr[0] for lr in model.recorder.lrs][-80:]  # the range test's steps are not training steps
    peak = auto.finder.result.suggestion
    assert peak is not None and peak != 1e-3
    assert lrs[0] == 0.0 and lrs[7] < peak, "warmup: 2/(1-0.99) = 200 steps, capped at 10% of 80: 8"
    assert lrs[8:41] == pytest.approx([peak] * 33), "the finder's LR is the peak of the stable phase"
    assert all(a > b for a, b in itertools.pairwise(lrs[40:])) and lrs[-1] < 0.1 * peak, "linear decay over the last 40"
    text = auto.explain()
    assert f"{peak:.4g}" in text and "8 steps" in text and "linear" in text and "end of the run" in text
    events = EventAccumulator(str(Path(trainer.logger.log_dir)), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    assert events.Scalars("autolr/peak_lr")[0].value == pytest.approx(peak)
    assert events.Scalars("autolr/warmup_steps")[0].value == 8.0


def test_a_resume_keeps_every_decision(tmp_path: Path) -> None:
    kw = {"min_lr": 1e-4, "max_lr": 10.0}
    whole, _ = fit(tmp_path / "a", AutoLR(**kw))
    ckpt = tmp_path / "at30.ckpt"
    first, _ = fit(tmp_path / "b", AutoLR(**kw), None, CrashAtStep(30, ckpt))
    rest, _ = fit(tmp_path / "c", AutoLR(**kw), ckpt)
    lrs = [lr[0] for lr in whole.recorder.lrs][-80:]
    resumed = [lr[0] for lr in first.recorder.lrs][-30:] + [lr[0] for lr in rest.recorder.lrs]
    assert resumed == pytest.approx(lrs, rel=1e-12), "no finder again on resume; same peak, warmup and cooldown"


def test_the_cooldown_ends_with_max_time_when_the_length_is_unknown(tmp_path: Path) -> None:
    auto = AutoLR(num_training_steps=20)
    model = SlowModel(optimizer="adamw", lr=1e-3)
    make_trainer(tmp_path, [auto], max_epochs=-1, max_time={"seconds": 3}).fit(model)
    decided = auto.schedule.state_dict()["wsd"]
    assert decided["decay_at"][0] is not None and decided["decay_len"] > 1
    assert "max_time" in auto.explain() and "started at step" in auto.explain()


@pytest.mark.parametrize("other", [CosineAnnealing(), LRFinder()], ids=["schedule", "finder"])
def test_a_second_lr_owner_is_refused(tmp_path: Path, other: Any) -> None:
    with pytest.raises(ScheduleConflictError, match="AutoLR owns the LR"):
        make_trainer(tmp_path, [AutoLR(), other], max_epochs=1).fit(TinyModel())


def test_two_autolrs_are_refused_when_the_trainer_is_built(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="AutoLR"):  # Lightning's check of one state key per stateful callback
        make_trainer(tmp_path, [AutoLR(), AutoLR()])


def test_an_unknown_length_without_max_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_time"):
        make_trainer(tmp_path, [AutoLR()], max_epochs=-1).fit(TinyModel())


def test_bad_arguments_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="decay_fraction"):
        AutoLR(decay_fraction=1.0)
    with pytest.raises(ValueError, match="decay_type"):
        AutoLR(decay_type="step")  # type: ignore[arg-type]
