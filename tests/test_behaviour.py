"""Behaviour users rely on, shown with real Lightning runs (DESIGN.md, 'Behaviour users rely on')."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.precision import MixedPrecision

from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.schedules import Cosine, Linear
from tests.helpers import CrashError, PlateauModel, TinyModel, make_trainer


def test_lr_of_every_step_step_zero_included_and_span_is_estimated_stepping_batches(tmp_path: Any) -> None:
    model = TinyModel(n=40, batch_size=4)  # 10 batches, accumulate 3 -> 4 optimizer steps per epoch
    trainer = make_trainer(
        tmp_path, [OneCycle(div_factor=10.0, final_div_factor=100.0)], max_epochs=3, accumulate_grad_batches=3
    )
    trainer.fit(model)
    lrs = [step[0] for step in model.recorder.lrs]
    assert trainer.estimated_stepping_batches == 12
    assert len(lrs) == 12
    assert lrs[0] == pytest.approx(0.01, rel=1e-12)  # step 0 already scheduled: peak / div_factor
    assert max(lrs) <= 0.1 + 1e-15
    assert lrs[-1] == pytest.approx(0.01 / 100.0, rel=1e-12)  # last step reaches the minimum


def test_base_lrs_come_from_the_optimizer_and_group_ratios_are_kept(tmp_path: Any) -> None:
    model = TinyModel(lr=0.2, groups=2)  # groups: 0.2 and 0.02
    trainer = make_trainer(tmp_path, [LRScheduler(Cosine(1.0, 0.1), warmup=4)], max_epochs=2)
    trainer.fit(model)
    assert model.recorder.lrs[4] == pytest.approx([0.2, 0.02], rel=1e-12)  # end of warmup: the configured LRs
    for first, second in model.recorder.lrs[1:]:
        assert first / second == pytest.approx(10.0, rel=1e-9)


def test_a_step_skipped_by_the_gradient_scaler_does_not_advance_the_schedule(tmp_path: Any) -> None:
    class Overflow(TinyModel):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = super().training_step(batch, batch_idx)
            return loss * math.inf if batch_idx in (3, 7) else loss

    model = Overflow(n=64, batch_size=4)
    scaler = torch.amp.GradScaler("cpu")
    trainer = make_trainer(
        tmp_path, [StepDecay(step_size=1, gamma=0.5)], plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)]
    )
    trainer.fit(model)
    real_steps = len(model.recorder.lrs)
    assert trainer.global_step == 16 and real_steps < 16  # the scaler skipped some steps
    assert [lr[0] for lr in model.recorder.lrs] == [0.1 * 0.5**k for k in range(real_steps)]


def test_lbfgs_gets_the_scheduled_lr_before_its_step(tmp_path: Any) -> None:
    model = TinyModel(optimizer="lbfgs", lr=0.5)
    trainer = make_trainer(tmp_path, [ExponentialDecay(gamma=0.9)])
    trainer.fit(model)
    assert [lr[0] for lr in model.recorder.lrs] == pytest.approx([0.5 * 0.9**k for k in range(16)], rel=1e-12)


class TwoOptimizers(TinyModel):
    """Manual optimization: the first optimizer steps every batch, the second every other batch."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.second = torch.nn.Linear(8, 1)
        self.recorders = [type(self.recorder)(), type(self.recorder)()]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        first, second = self.optimizers()  # type: ignore[misc]
        for opt, layer, every in ((first, self.layer, 1), (second, self.second, 2)):
            if batch_idx % every == 0:
                loss = torch.nn.functional.mse_loss(layer(x), y)
                opt.zero_grad()
                self.manual_backward(loss)
                opt.step()

    def configure_optimizers(self) -> Any:
        a = torch.optim.SGD(self.layer.parameters(), lr=0.1, momentum=0.9)
        b = torch.optim.Adam(self.second.parameters(), lr=0.01)
        self.recorders[0].attach(a)
        self.recorders[1].attach(b)
        return [a, b]


def test_manual_optimization_gives_each_optimizer_its_own_clock(tmp_path: Any) -> None:
    model = TwoOptimizers()
    trainer = make_trainer(tmp_path, [StepDecay(step_size=2, gamma=0.5)], max_epochs=2)
    trainer.fit(model)
    first = [lr[0] for lr in model.recorders[0].lrs]
    second = [lr[0] for lr in model.recorders[1].lrs]
    assert len(first) == 32 and len(second) == 16
    assert first == [0.1 * 0.5 ** (k // 2) for k in range(32)]
    assert second == [0.01 * 0.5 ** (k // 2) for k in range(16)]


def test_separate_callbacks_per_optimizer(tmp_path: Any) -> None:
    model = TwoOptimizers()
    callbacks = [StepDecay(step_size=1, gamma=0.5, optimizers=[0]), ExponentialDecay(gamma=0.9, optimizers=1)]
    trainer = make_trainer(tmp_path, callbacks, max_epochs=1)
    trainer.fit(model)
    assert [lr[0] for lr in model.recorders[0].lrs] == [0.1 * 0.5**k for k in range(16)]
    assert [lr[0] for lr in model.recorders[1].lrs] == pytest.approx([0.01 * 0.9**k for k in range(8)], rel=1e-12)


def test_epoch_interval_changes_the_lr_only_at_epoch_boundaries(tmp_path: Any) -> None:
    model = TinyModel(n=32, batch_size=8)  # 4 steps per epoch
    trainer = make_trainer(tmp_path, [CosineAnnealing(interval="epoch")], max_epochs=4)
    trainer.fit(model)
    lrs = [lr[0] for lr in model.recorder.lrs]
    expected = [0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert lrs == pytest.approx([v for v in expected for _ in range(4)], rel=1e-12)


# ---------------------------------------------------------------------------------------------- resume
class CrashAfter(Callback):
    """Saves a checkpoint after ``batches`` training batches, then crashes the run."""

    def __init__(self, batches: int, path: str) -> None:
        self.batches, self.path, self.seen = batches, path, 0

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.seen += 1
        if self.seen == self.batches:
            trainer.save_checkpoint(self.path)
            raise CrashError


RESUMABLE = [
    pytest.param(lambda: OneCycle(), id="OneCycle"),
    pytest.param(lambda: OneCycle(three_phase=True, anneal_strategy="linear", warmup=3), id="OneCycle-3phase-warmup"),
    pytest.param(lambda: Cyclical(0.01, 0.1, step_size_up=5, mode="triangular2"), id="Cyclical"),
    pytest.param(lambda: CosineAnnealing(eta_min=1e-3, warmup="10%"), id="CosineAnnealing"),
    pytest.param(lambda: CosineRestarts(T_0=7, T_mult=2, peak_decay=0.7), id="CosineRestarts"),
    pytest.param(lambda: StepDecay(step_size="1 epoch", gamma=0.5), id="StepDecay"),
    pytest.param(lambda: MultiStepDecay(milestones=["25%", "60%"]), id="MultiStepDecay"),
    pytest.param(lambda: ExponentialDecay(gamma=0.95, interval="epoch"), id="ExponentialDecay-epoch"),
    pytest.param(lambda: WarmupLinear(num_warmup_steps=5), id="WarmupLinear"),
    pytest.param(lambda: WarmupCosine(num_warmup_steps=0.1), id="WarmupCosine"),
    pytest.param(lambda: LRScheduler(Linear(1.0, 0.0)), id="LRScheduler"),
    pytest.param(lambda: ReduceLROnPlateau("val_loss", patience=1, factor=0.5, warmup=3), id="ReduceLROnPlateau"),
]


def _fit_lrs(
    tmp_path: Any, factory: Any, accumulate: int, crash_after: int | None = None, ckpt: str | None = None
) -> tuple[list[list[float]], list[list[float | None]]]:
    model = PlateauModel(n=40, batch_size=4)  # 10 batches per epoch
    callbacks = [factory()]
    if crash_after is not None:
        callbacks.append(CrashAfter(crash_after, str(tmp_path / "crash.ckpt")))
    trainer = make_trainer(
        tmp_path, callbacks, max_epochs=6, accumulate_grad_batches=accumulate, num_sanity_val_steps=0
    )
    with contextlib.suppress(CrashError):
        trainer.fit(model, ckpt_path=ckpt)
    return model.recorder.lrs, model.recorder.momenta


@pytest.mark.parametrize("factory", RESUMABLE)
@pytest.mark.parametrize(("accumulate", "crash_after"), [(1, 7), (1, 20), (1, 33), (2, 14), (3, 25)])
def test_resume_gives_the_uninterrupted_lr_sequence(
    tmp_path: Any, factory: Any, accumulate: int, crash_after: int
) -> None:
    full_lrs, full_momenta = _fit_lrs(tmp_path / "full", factory, accumulate)
    before_lrs, before_momenta = _fit_lrs(tmp_path / "a", factory, accumulate, crash_after=crash_after)
    after_lrs, after_momenta = _fit_lrs(tmp_path / "b", factory, accumulate, ckpt=str(tmp_path / "a" / "crash.ckpt"))
    assert 0 < len(before_lrs) < len(full_lrs)
    assert before_lrs + after_lrs == full_lrs
    assert before_momenta + after_momenta == full_momenta


def test_plateau_ignores_validation_outside_fit(tmp_path: Any) -> None:
    callback = ReduceLROnPlateau("val_loss", patience=0)
    model = PlateauModel(n=8, batch_size=4)
    trainer = make_trainer(tmp_path, [callback], max_epochs=2, num_sanity_val_steps=2)
    trainer.fit(model)
    checks = callback.plateau.checks
    assert checks == 2  # one per epoch; the sanity check does not count
    trainer.validate(model, verbose=False)
    assert callback.plateau.checks == checks


def test_epoch_durations_work_in_a_run_limited_by_max_steps_only(tmp_path: Any) -> None:
    model = TinyModel(n=64, batch_size=4)  # 16 steps per epoch
    callback = CosineAnnealing(warmup="1 epoch")
    make_trainer(tmp_path, [callback], max_epochs=-1, max_steps=40).fit(model)
    lrs = [lr[0] for lr in model.recorder.lrs]
    assert len(lrs) == 40
    assert lrs[8] == pytest.approx(0.05) and lrs[16] == pytest.approx(0.1)  # the warmup is one epoch long
    assert lrs[28] == pytest.approx(0.05)  # half-way through the 24 cosine steps


def test_epoch_interval_in_a_run_limited_by_max_steps_only(tmp_path: Any) -> None:
    model = TinyModel(n=64, batch_size=4)
    make_trainer(tmp_path, [StepDecay(step_size=1, interval="epoch")], max_epochs=-1, max_steps=40).fit(model)
    assert [model.recorder.lrs[s][0] for s in (0, 16, 32)] == pytest.approx([0.1, 0.01, 0.001])


def test_state_loaded_by_validate_does_not_leak_into_a_later_fresh_fit(tmp_path: Any) -> None:
    first = PlateauModel(n=16, batch_size=4)
    trainer = make_trainer(tmp_path, [OneCycle()], max_epochs=2, enable_checkpointing=True)
    trainer.fit(first)
    ckpt = trainer.checkpoint_callback.best_model_path  # type: ignore[union-attr]
    reference = PlateauModel(n=16, batch_size=4)
    make_trainer(tmp_path / "reference", [OneCycle()], max_epochs=2).fit(reference)
    model = PlateauModel(n=16, batch_size=4)
    trainer = make_trainer(tmp_path / "again", [OneCycle()], max_epochs=2)
    trainer.validate(model, ckpt_path=ckpt, verbose=False)
    model.recorder.lrs.clear()
    trainer.fit(model)
    assert model.recorder.lrs == reference.recorder.lrs


def test_hooks_are_removed_when_fit_raises(tmp_path: Any) -> None:
    class Boom(TinyModel):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if batch_idx == 3:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    model = Boom()
    trainer = make_trainer(tmp_path, [StepDecay(step_size=1, gamma=0.5)])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(model)
    optimizer = trainer.optimizers[0]
    lr = optimizer.param_groups[0]["lr"]
    optimizer.step()  # the user's own step after the crash: no schedule writes into it any more
    assert optimizer.param_groups[0]["lr"] == lr


class TwoOptimizersWithLoss(TwoOptimizers):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:  # type: ignore[override]
        super().training_step(batch, batch_idx)
        return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])


def test_loss_is_logged_in_manual_optimization_with_two_optimizers(tmp_path: Any) -> None:
    import csv

    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(tmp_path, name="", version="")
    make_trainer(tmp_path, [StepDecay(step_size=2)], logger=logger, log_every_n_steps=10, max_epochs=2).fit(
        TwoOptimizersWithLoss()
    )
    with open(f"{logger.log_dir}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    loss_steps = [int(r["step"]) for r in rows if r.get("loss/train")]
    lr_steps = [int(r["step"]) for r in rows if r.get("lr-SGD")]
    # 2 optimizers: global_step advances by 1 or 2 per batch (48 steps in all); one row per interval of 10
    assert loss_steps and lr_steps and len(loss_steps) == len(lr_steps) >= 4
