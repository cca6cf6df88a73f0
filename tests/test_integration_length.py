"""The schedule ends where training ends: fast_dev_run, manual optimization with uneven steps,
GradientAccumulationScheduler, early stops, streams, resumes with another length, and lengths as
PyTorch defines them (issue: Lightning integration, points 5, 6, 7)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, GradientAccumulationScheduler
from torch import nn

from lightning_lr import CosineAnnealing, LRScheduler, OneCycle, ScheduleConflictError, StepDecay, WarmupLinear
from lightning_lr.planner import Stretch
from lightning_lr.schedules import Constant, Join, Linear, Polynomial
from tests.helpers import Recorder, TinyModel, make_trainer, pytorch_lrs
from tests.test_behaviour import CrashAfter, CrashError
from tests.test_integration_data import StreamModel


def one_cycle_lrs(total_steps: int, steps: int, max_lr: float = 0.1) -> list[float]:
    """PyTorch's OneCycleLR, stepped once per optimizer step."""
    return pytorch_lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=max_lr, total_steps=total_steps), steps)


def first_lrs(model: TinyModel) -> list[float]:
    return [lrs[0] for lrs in model.recorder.lrs]


@contextlib.contextmanager
def infos(caplog: pytest.LogCaptureFixture) -> Any:
    with caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        yield caplog


# ------------------------------------------------------------------------------------------ fast_dev_run
@pytest.mark.parametrize("fast_dev_run", [True, 3], ids=["True", "3"])
@pytest.mark.parametrize(
    "factory",
    [
        lambda: OneCycle(),
        lambda: OneCycle(total_steps=100),
        lambda: CosineAnnealing(T_max=50),
        lambda: CosineAnnealing(warmup=5),
        lambda: WarmupLinear(num_warmup_steps=10),
        lambda: StepDecay(step_size=2, gamma=0.5),
    ],
    ids=["OneCycle", "OneCycle-total_steps", "Cosine-T_max", "Cosine-warmup", "WarmupLinear", "StepDecay"],
)
def test_fast_dev_run_runs_with_every_callback(
    tmp_path: Path, factory: Any, fast_dev_run: bool | int, caplog: pytest.LogCaptureFixture
) -> None:
    model = TinyModel()
    with infos(caplog):
        make_trainer(tmp_path, [factory()], fast_dev_run=fast_dev_run).fit(model)
    steps = 1 if fast_dev_run is True else 3
    assert len(model.recorder.lrs) == steps
    assert "fast_dev_run" in caplog.text  # one info line says what the debug run does with the schedule


def test_fast_dev_run_sees_the_first_steps_of_an_explicit_length(tmp_path: Path) -> None:
    model = TinyModel()
    make_trainer(tmp_path, [OneCycle(total_steps=100)], fast_dev_run=3).fit(model)
    assert first_lrs(model) == pytest.approx(one_cycle_lrs(100, 3), rel=1e-12)


def test_fast_dev_run_that_cannot_hold_the_schedule_keeps_the_configured_lr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = TinyModel()
    with infos(caplog):
        make_trainer(tmp_path, [OneCycle()], fast_dev_run=True).fit(model)  # a 1cycle needs more than 1 step
    assert first_lrs(model) == [0.1]
    assert "does not fit a debug run" in caplog.text


# --------------------------------------------------------------------------- manual optimization, uneven
class UnevenSteps(pl.LightningModule):
    """Manual optimization: optimizer 0 steps every batch, optimizer 1 every ``every``-th batch."""

    def __init__(self, every: int = 2) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.a, self.b, self.every = nn.Linear(8, 1), nn.Linear(8, 1), every
        self.recorders = [Recorder(), Recorder()]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.a(x) + self.b(x), y)
        self.manual_backward(loss)
        opt_a, opt_b = self.optimizers()  # type: ignore[misc]
        opt_a.step()
        opt_a.zero_grad()
        if batch_idx % self.every == self.every - 1:
            opt_b.step()
            opt_b.zero_grad()
        return loss.detach()

    def configure_optimizers(self) -> Any:
        a = torch.optim.SGD(self.a.parameters(), lr=0.1, momentum=0.9)
        b = torch.optim.SGD(self.b.parameters(), lr=0.05, momentum=0.9)
        self.recorders[0].attach(a)
        self.recorders[1].attach(b)
        return [a, b]

    def train_dataloader(self) -> Any:
        return TinyModel().train_dataloader()  # 16 batches


def cosine(base: float, t_max: int, steps: int) -> list[float]:
    return [base * (1 + math.cos(math.pi * min(k, t_max) / t_max)) / 2 for k in range(steps)]


def test_manual_optimization_accepts_the_true_length_of_an_optimizer_that_steps_every_other_batch(
    tmp_path: Path,
) -> None:
    model = UnevenSteps(every=2)  # optimizer 1 takes 8 steps in the 16-batch epoch
    callbacks = [CosineAnnealing(T_max=16, optimizers=0), CosineAnnealing(T_max=8, optimizers=1)]
    make_trainer(tmp_path, callbacks).fit(model)
    assert [r[0] for r in model.recorders[0].lrs] == pytest.approx(cosine(0.1, 16, 16), rel=1e-12)
    assert [r[0] for r in model.recorders[1].lrs] == pytest.approx(cosine(0.05, 8, 8), rel=1e-12)


def test_manual_optimization_max_steps_counts_every_optimizer(tmp_path: Path) -> None:
    """max_steps=20 with two optimizers stepping every batch: 10 batches, 10 steps each, 1cycle over 10."""
    model = UnevenSteps(every=1)
    make_trainer(tmp_path, [OneCycle()], max_steps=20, max_epochs=-1).fit(model)
    assert [r[0] for r in model.recorders[0].lrs] == pytest.approx(one_cycle_lrs(10, 10, 0.1), rel=1e-12)
    assert [r[0] for r in model.recorders[1].lrs] == pytest.approx(one_cycle_lrs(10, 10, 0.05), rel=1e-12)


def test_manual_optimization_past_the_end_of_a_schedule_that_does_not_hold_warns_and_holds(tmp_path: Path) -> None:
    model = UnevenSteps(every=1)  # optimizer 1 takes 16 steps; its cosine ends after 8
    callbacks = [StepDecay(4, optimizers=0), CosineAnnealing(T_max=8, eta_min=0.001, optimizers=1)]
    with pytest.warns(UserWarning, match=r"past the end of its schedule \(8\)"):
        make_trainer(tmp_path, callbacks).fit(model)
    lrs = [r[0] for r in model.recorders[1].lrs]
    assert lrs[8:] == [pytest.approx(0.001, rel=1e-12)] * 8


# ---------------------------------------------------------------------------- GradientAccumulationScheduler
def test_gradient_accumulation_scheduler_gives_the_true_number_of_steps(tmp_path: Path) -> None:
    """16 batches per epoch: epoch 0 steps 16 times, epoch 1 (accumulating 2) 8 times: 24 steps, not 32."""
    for callback in (OneCycle(), OneCycle(total_steps=24)):
        model = TinyModel()
        accumulation = GradientAccumulationScheduler({0: 1, 1: 2})
        make_trainer(tmp_path, [accumulation, callback], max_epochs=2).fit(model)
        assert first_lrs(model) == pytest.approx(one_cycle_lrs(24, 24), rel=1e-12)


# ------------------------------------------------------------------------- training that ends early
def test_early_stopping_is_reported_once_at_the_end(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Lightning's EarlyStopping ends the 2-epoch run after epoch 0 (the loss is below its threshold)."""
    model = TinyModel()
    stop = EarlyStopping(monitor="train_loss", stopping_threshold=1e9, check_on_train_epoch_end=True)
    with infos(caplog):
        make_trainer(tmp_path, [OneCycle(), stop], max_epochs=2).fit(model)
    assert len(model.recorder.lrs) == 16
    notes = [r.getMessage() for r in caplog.records if "stopped after" in r.getMessage()]
    assert len(notes) == 1 and "16 of the 32 steps" in notes[0] and "last LR" in notes[0]


def test_a_complete_run_has_no_end_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with infos(caplog):
        make_trainer(tmp_path, [OneCycle()], max_epochs=1).fit(TinyModel())
    assert "stopped after" not in caplog.text


def test_an_epoch_schedule_on_a_stream_is_refused_with_the_reason(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, [CosineAnnealing(interval="epoch")], max_epochs=-1, max_steps=20)
    with pytest.raises(ScheduleConflictError, match=r"(?s)interval='epoch'.*stream.*cannot be counted.*max_epochs"):
        trainer.fit(StreamModel())


def test_no_training_batches_is_said_accurately(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with infos(caplog):
        make_trainer(tmp_path, [OneCycle()], limit_train_batches=0).fit(TinyModel())
    assert "limit_train_batches=0" in caplog.text and "no training batch runs" in caplog.text


# ------------------------------------------------------------------------- resume with another length
def _fit(root: Path, callback: Any, max_epochs: int, crash_after: int | None = None, ckpt: str | None = None) -> Any:
    model = TinyModel()
    callbacks = [callback] + ([CrashAfter(crash_after, str(root / "crash.ckpt"))] if crash_after else [])
    with contextlib.suppress(CrashError):
        make_trainer(root, callbacks, max_epochs=max_epochs).fit(model, ckpt_path=ckpt)
    return first_lrs(model)


def test_resume_with_more_epochs_stretches_the_rest_of_the_plan_without_a_jump(tmp_path: Path) -> None:
    """Planned: 1cycle over 2 epochs (32 steps). Stopped at step 20, resumed with max_epochs=4 (64 steps)."""
    before = _fit(tmp_path / "a", OneCycle(), 2, crash_after=20)
    with pytest.warns(
        UserWarning, match=r"planned for 32.*remaining 12 steps of the plan are spread over the remaining 44"
    ):
        after = _fit(tmp_path / "b", OneCycle(), 4, ckpt=str(tmp_path / "a" / "crash.ckpt"))
    planned = one_cycle_lrs(32, 32)
    assert before == pytest.approx(planned[:20], rel=1e-12)
    assert len(after) == 44
    stretch = Stretch(20, 32, 64)
    for k in (0, 11, 22, 33):  # whole steps of the old plan: t = 20, 23, 26, 29
        assert after[k] == pytest.approx(planned[int(stretch(20 + k))], rel=1e-9)
    for k, lr in enumerate(after):  # in between: between the old plan's neighbouring steps
        t = stretch(20 + k)
        low, high = sorted((planned[math.floor(t)], planned[min(math.ceil(t), 31)]))
        assert low - 1e-15 <= lr <= high + 1e-15
    assert all(b <= a for a, b in itertools.pairwise(after))  # still annealing: no restart of the cycle


def test_resume_with_more_epochs_accepts_the_explicit_length_the_plan_was_made_with(tmp_path: Path) -> None:
    """T_max matched the 2-epoch run it was planned for; the longer resumed run stretches it, no refusal."""
    _fit(tmp_path / "a", CosineAnnealing(T_max=32), 2, crash_after=20)
    with pytest.warns(UserWarning, match=r"spread over the remaining 44"):
        after = _fit(tmp_path / "b", CosineAnnealing(T_max=32), 4, ckpt=str(tmp_path / "a" / "crash.ckpt"))
    assert len(after) == 44
    assert after[0] == pytest.approx(0.05 * (1 + math.cos(math.pi * 20 / 32)), rel=1e-12)
    assert after[-1] == pytest.approx(0.05 * (1 + math.cos(math.pi * Stretch(20, 32, 64)(63) / 32)), rel=1e-12)


def test_a_further_fit_with_a_raised_limit_holds_a_finished_plan(tmp_path: Path) -> None:
    model = TinyModel()
    trainer = make_trainer(tmp_path, [OneCycle()], max_epochs=1)
    trainer.fit(model)
    trainer.fit_loop.max_epochs = 2
    with pytest.warns(UserWarning, match=r"planned for 16 and has ended: its final LR is held"):
        trainer.fit(model)
    lrs = first_lrs(model)
    assert len(lrs) == 32
    final = float(trainer.optimizers[0].param_groups[0]["lr"])
    assert lrs[16:] == [pytest.approx(final, rel=1e-12)] * 16  # no jump back to mid-cycle
    assert lrs[16] == lrs[15]  # the 1cycle ended at step 15: its final value, then held


def test_two_resumes_with_longer_runs_chain_their_stretches(tmp_path: Path) -> None:
    """2 epochs planned, stopped at 20 -> 4 epochs, stopped at 40 -> still 4 epochs: the same as one resume."""
    _fit(tmp_path / "a", OneCycle(), 2, crash_after=20)
    with pytest.warns(UserWarning):
        once = _fit(tmp_path / "b", OneCycle(), 4, ckpt=str(tmp_path / "a" / "crash.ckpt"))
    with pytest.warns(UserWarning):
        first = _fit(tmp_path / "c", OneCycle(), 4, crash_after=20, ckpt=str(tmp_path / "a" / "crash.ckpt"))
    second = _fit(tmp_path / "d", OneCycle(), 4, ckpt=str(tmp_path / "c" / "crash.ckpt"))
    assert first + second == once


# ------------------------------------------------------------------------- lengths as PyTorch defines them
def test_a_shorter_linear_schedule_holds_its_end_as_pytorch_linear_lr_does(tmp_path: Path) -> None:
    model = TinyModel()
    make_trainer(tmp_path, [LRScheduler(Linear(1.0, 0.1, 10))]).fit(model)  # 16 steps
    linear = lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=10)  # noqa: E731
    assert first_lrs(model) == pytest.approx(pytorch_lrs(linear, 16), rel=1e-12)


def test_a_shorter_transformers_linear_schedule_holds_zero(tmp_path: Path) -> None:
    model = TinyModel()
    make_trainer(tmp_path, [WarmupLinear(num_warmup_steps=2, num_training_steps=10)]).fit(model)

    def transformers_linear(step: int) -> float:  # get_linear_schedule_with_warmup's lambda
        if step < 2:
            return step / 2
        return max(0.0, (10 - step) / (10 - 2))

    assert first_lrs(model) == pytest.approx([0.1 * transformers_linear(k) for k in range(16)], rel=1e-12)


def test_a_shorter_cosine_is_refused_because_pytorch_turns_back_up(tmp_path: Path) -> None:
    model = TinyModel()
    trainer = make_trainer(tmp_path, [CosineAnnealing(T_max=10)])
    with pytest.raises(ScheduleConflictError, match=r"(?s)spans 10 steps.*has 16.*turns back up"):
        trainer.fit(model)
    assert model.recorder.lrs == []


# the "Counterparts" table of docs/families/generic.md, run as written in a 16-step run (their lengths are shorter)
DOCS_COUNTERPARTS = [
    pytest.param(
        lambda: Join((Linear(0.5, 0.1, 10), Constant(0.1))),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.5, end_factor=0.1, total_iters=10),
        id="LinearLR",
    ),
    pytest.param(
        lambda: Join((Constant(0.3, 4), Constant(1.0))),
        lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=0.3, total_iters=4),
        id="ConstantLR",
    ),
    pytest.param(
        lambda: Polynomial(1.0, 0.0, 10, 2.0),
        lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=10, power=2.0),
        id="PolynomialLR",
    ),
    pytest.param(
        lambda: Linear(0.5, 0.1, 10),  # no Constant needed: a finished Linear holds its end, as LinearLR does
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.5, end_factor=0.1, total_iters=10),
        id="LinearLR-alone",
    ),
]


@pytest.mark.parametrize(("expression", "pytorch"), DOCS_COUNTERPARTS)
def test_the_documented_pytorch_counterparts_run_as_written(tmp_path: Path, expression: Any, pytorch: Any) -> None:
    model = TinyModel()
    make_trainer(tmp_path, [LRScheduler(expression())]).fit(model)
    assert first_lrs(model) == pytest.approx(pytorch_lrs(pytorch, 16), rel=1e-12, abs=1e-15)
