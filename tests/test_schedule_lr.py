"""ScheduleLR: the schedule algebra as a torch LRScheduler, in plain PyTorch, Fabric and Lightning-hosted loops.

The reference for a named callback's schedule is that callback in a real Lightning fit: a plain
loop stepping ``ScheduleLR(optimizer, callback)`` once per ``optimizer.step()`` must set the same
LR and momentum at every step.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
from lightning.fabric import Fabric
from torch.optim.lr_scheduler import OneCycleLR, StepLR

import lightning_lr as ll
from lightning_lr import ScheduleLR
from lightning_lr.schedules import Constant, Cosine, Join, Linear, Warmup, epochs
from tests.helpers import CrashAtStep, CrashError, Recorder, TinyModel, make_trainer, random_data

N, BATCH, EPOCHS = 40, 4, 3  # 10 steps per epoch, 30 steps
STEPS_PER_EPOCH, TOTAL = N // BATCH, N // BATCH * EPOCHS


def plain_loop(
    model: TinyModel, make_scheduler: Callable[[torch.optim.Optimizer], Any], steps: int, per_epoch: bool = False
) -> Recorder:
    """``optimizer.step(); scheduler.step()`` for ``steps`` steps (the scheduler once per epoch if ``per_epoch``)."""
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Optimizer)
    scheduler = make_scheduler(optimizer)
    x, y = random_data(8, model.features).tensors
    for k in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model.layer(x), y).backward()
        optimizer.step()
        if not per_epoch or (k + 1) % STEPS_PER_EPOCH == 0:
            scheduler.step()
    return model.recorder


def lightning_run(tmp_path: Any, callback: Any, **model: Any) -> Recorder:
    trained = TinyModel(n=N, batch_size=BATCH, **model)
    make_trainer(tmp_path, [callback], max_epochs=EPOCHS).fit(trained)
    assert len(trained.recorder.lrs) == TOTAL
    return trained.recorder


CALLBACKS = [
    pytest.param(lambda: ll.OneCycle(), {"optimizer": "sgd"}, id="onecycle-sgd-momentum"),
    pytest.param(lambda: ll.OneCycle(pct_start=0.2), {"optimizer": "adamw", "groups": 2}, id="onecycle-adamw-betas"),
    pytest.param(lambda: ll.CosineAnnealing(eta_min=1e-4, warmup="10%"), {"groups": 2}, id="cosine-warmup"),
    pytest.param(lambda: ll.WarmupLinear(num_warmup_steps=5), {}, id="warmup-linear"),
    pytest.param(lambda: ll.CosineRestarts(T_0=4, T_mult=2, warmup="1 epochs"), {}, id="restarts-epoch-warmup"),
    pytest.param(lambda: ll.StepDecay(step_size=1, gamma=0.5, interval="epoch"), {}, id="stepdecay-per-epoch"),
]


@pytest.mark.parametrize(("make_callback", "model"), CALLBACKS)
def test_plain_loop_equals_the_callback_step_by_step(tmp_path: Any, make_callback: Any, model: dict[str, Any]) -> None:
    expected = lightning_run(tmp_path, make_callback(), **model)
    callback = make_callback()
    per_epoch = callback.interval == "epoch"
    total = EPOCHS if per_epoch else TOTAL
    got = plain_loop(
        TinyModel(n=N, batch_size=BATCH, **model),
        lambda opt: ScheduleLR(opt, callback, total_steps=total, steps_per_epoch=STEPS_PER_EPOCH),
        TOTAL,
        per_epoch,
    )
    assert len({lrs[0] for lrs in got.lrs}) > 2, "the LR should change: the case would test nothing"
    assert got.lrs == expected.lrs
    assert got.momenta == expected.momenta


def test_onecycle_equals_pytorch_onecyclelr() -> None:
    ours = plain_loop(TinyModel(groups=2), lambda opt: ScheduleLR(opt, ll.OneCycle(), total_steps=TOTAL), TOTAL)
    ref = plain_loop(TinyModel(groups=2), lambda opt: OneCycleLR(opt, max_lr=[0.1, 0.01], total_steps=TOTAL), TOTAL)
    for row, ref_row in zip(ours.lrs + ours.momenta, ref.lrs + ref.momenta):
        assert row == pytest.approx(ref_row, rel=1e-12, abs=1e-15)


def test_epoch_callback_stepped_per_epoch_equals_steplr() -> None:
    ours = plain_loop(TinyModel(), lambda opt: ScheduleLR(opt, ll.StepDecay(2, 0.3, interval="epoch"), 6), 60, True)
    ref = plain_loop(TinyModel(), lambda opt: StepLR(opt, 2, 0.3), 60, True)
    assert [lrs[0] for lrs in ours.lrs] == pytest.approx([lrs[0] for lrs in ref.lrs], rel=1e-12)
    assert ours.lrs[-1][0] == pytest.approx(0.1 * 0.3**2)


def test_a_schedule_expression_scales_every_group_and_keeps_their_ratio() -> None:
    schedule = Join((Linear(0.0, 1.0, 5), Cosine(1.0, 0.1, "2 epochs"), Constant(0.1)))
    got = plain_loop(TinyModel(groups=2), lambda opt: ScheduleLR(opt, schedule, steps_per_epoch=10), 40)
    resolved = schedule.resolve(ll.schedules.Timeline(math.inf, 10.0))
    assert [lrs[0] for lrs in got.lrs] == [0.1 * resolved(k) for k in range(40)]
    assert [lrs[1] for lrs in got.lrs] == [(0.1 * 0.1) * resolved(k) for k in range(40)]  # TinyModel's bias LR
    assert got.lrs[-1] == pytest.approx([0.01, 0.001])


def test_momentum_schedule_with_an_expression() -> None:
    got = plain_loop(
        TinyModel(optimizer="adamw"),
        lambda opt: ScheduleLR(opt, Cosine(1.0, 0.0), total_steps=10, momentum=Linear(0.8, 0.9, 10)),
        10,
    )
    assert [m[0] for m in got.momenta] == pytest.approx([0.8 + 0.01 * k for k in range(10)])


def test_get_last_lr_follows_each_step() -> None:
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    scheduler = ScheduleLR(optimizer, Linear(1.0, 0.0, 4))
    seen = []
    for _ in range(5):
        seen.append(scheduler.get_last_lr())
        optimizer.step()
        scheduler.step()
    assert seen == [[1.0], [0.75], [0.5], [0.25], [0.0]]
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)


# ----------------------------------------------------------------------------- resume and pickling
def make_pair() -> tuple[torch.optim.Optimizer, ScheduleLR]:
    torch.manual_seed(0)
    params = [{"params": [torch.nn.Parameter(torch.randn(3))]}, {"params": [torch.nn.Parameter(torch.randn(3))]}]
    params[1]["lr"] = 0.02
    optimizer = torch.optim.SGD(params, lr=0.2, momentum=0.9)
    return optimizer, ScheduleLR(optimizer, ll.OneCycle(), total_steps=20)


def run_steps(optimizer: torch.optim.Optimizer, scheduler: ScheduleLR, n: int) -> list[tuple[Any, ...]]:
    seen = []
    for _ in range(n):
        groups = optimizer.param_groups
        seen.append((tuple(g["lr"] for g in groups), tuple(g["momentum"] for g in groups)))
        optimizer.step()
        scheduler.step()
    return seen


def test_state_dict_is_plain_numbers_and_resume_is_exact_in_either_load_order() -> None:
    optimizer, scheduler = make_pair()
    uninterrupted = run_steps(optimizer, scheduler, 20)
    for scheduler_first in (True, False):
        optimizer, scheduler = make_pair()
        head = run_steps(optimizer, scheduler, 7)
        states = json.loads(json.dumps(scheduler.state_dict())), copy.deepcopy(optimizer.state_dict())
        fresh_optimizer, fresh = make_pair()  # fresh objects: groups hold the configured LRs again
        if scheduler_first:
            fresh.load_state_dict(states[0])
            fresh_optimizer.load_state_dict(states[1])
        else:
            fresh_optimizer.load_state_dict(states[1])
            fresh.load_state_dict(states[0])
        assert fresh.last_epoch == 7
        assert head + run_steps(fresh_optimizer, fresh, 13) == uninterrupted


def test_resume_with_newer_state_version_is_refused() -> None:
    _, scheduler = make_pair()
    with pytest.raises(ValueError, match="newer than this lightning_lr"):
        scheduler.load_state_dict({**scheduler.state_dict(), "version": 99})


def test_pickled_scheduler_continues_exactly() -> None:
    optimizer, scheduler = make_pair()
    uninterrupted = run_steps(optimizer, scheduler, 20)
    optimizer, scheduler = make_pair()
    head = run_steps(optimizer, scheduler, 9)
    copied_optimizer, copied = pickle.loads(pickle.dumps((optimizer, scheduler)))
    assert copied.optimizer is copied_optimizer
    assert head + run_steps(copied_optimizer, copied, 11) == uninterrupted
    torch.save(scheduler, "/dev/null")  # torch.save pickles it too


# ----------------------------------------------------------------------------- Fabric and Lightning
def test_fabric_loop() -> None:
    fabric = Fabric(accelerator="cpu", devices=1)
    model = torch.nn.Linear(8, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    model, optimizer = fabric.setup(model, optimizer)
    schedule = Warmup(Cosine(1.0, 0.0), duration="1 epochs")
    scheduler = ScheduleLR(optimizer, schedule, total_steps=TOTAL, steps_per_epoch=STEPS_PER_EPOCH)
    loader = fabric.setup_dataloaders(torch.utils.data.DataLoader(random_data(N), batch_size=BATCH))
    seen = []
    for _ in range(EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            fabric.backward(torch.nn.functional.mse_loss(model(x), y))
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    resolved = schedule.resolve(ll.schedules.Timeline(TOTAL, STEPS_PER_EPOCH))
    assert seen == [0.01 * resolved(k) for k in range(TOTAL)]
    assert seen[0] == 0.0 and seen[STEPS_PER_EPOCH] == 0.01


def hosted(make: Callable[[], Any]) -> Callable[[torch.optim.Optimizer], dict[str, Any]]:
    return lambda opt: {"scheduler": make()(opt), "interval": "step"}


def onecycle_scheduler() -> Callable[[torch.optim.Optimizer], ScheduleLR]:
    return lambda opt: ScheduleLR(opt, ll.OneCycle(), total_steps=TOTAL)


def test_returned_from_configure_optimizers_lightning_steps_it(tmp_path: Any) -> None:
    expected = lightning_run(tmp_path / "callback", ll.OneCycle())
    model = TinyModel(n=N, batch_size=BATCH, scheduler=hosted(onecycle_scheduler))
    make_trainer(tmp_path, [], max_epochs=EPOCHS).fit(model)
    assert model.recorder.lrs == expected.lrs
    assert model.recorder.momenta == expected.momenta


def test_hosted_by_lightning_resumes_exactly_mid_epoch(tmp_path: Any) -> None:
    full = TinyModel(n=N, batch_size=BATCH, scheduler=hosted(onecycle_scheduler))
    make_trainer(tmp_path / "full", [], max_epochs=EPOCHS).fit(full)
    first = TinyModel(n=N, batch_size=BATCH, scheduler=hosted(onecycle_scheduler))
    with pytest.raises(CrashError):
        make_trainer(tmp_path, [CrashAtStep(13, str(tmp_path / "crash.ckpt"))], max_epochs=EPOCHS).fit(first)
    second = TinyModel(n=N, batch_size=BATCH, scheduler=hosted(onecycle_scheduler))
    make_trainer(tmp_path, [], max_epochs=EPOCHS).fit(second, ckpt_path=str(tmp_path / "crash.ckpt"))
    assert len(first.recorder.lrs) == 13
    assert first.recorder.lrs + second.recorder.lrs == full.recorder.lrs
    assert first.recorder.momenta + second.recorder.momenta == full.recorder.momenta


def test_a_callback_on_the_same_optimizer_is_a_conflict(tmp_path: Any) -> None:
    model = TinyModel(n=N, batch_size=BATCH, scheduler=hosted(onecycle_scheduler))
    with pytest.raises(ll.ScheduleConflictError, match="ScheduleLR returned by `configure_optimizers`"):
        make_trainer(tmp_path, [ll.CosineAnnealing()], max_epochs=EPOCHS).fit(model)


# ----------------------------------------------------------------------------- bad input
def sgd() -> torch.optim.Optimizer:
    return torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"schedule": lambda t: 1.0}, TypeError, "`schedule` must be a lightning_lr Schedule"),
        ({"schedule": Cosine(1.0, 0.0), "total_steps": 0}, ValueError, "`total_steps` must be an int >= 1"),
        ({"schedule": Cosine(1.0, 0.0), "steps_per_epoch": 2.5}, TypeError, "`steps_per_epoch` must be an int"),
        ({"schedule": Cosine(1.0, 0.0)}, ValueError, "Give `total_steps`"),
        ({"schedule": Cosine(1.0, 0.0, epochs(2)), "total_steps": 100}, ValueError, "`steps_per_epoch` for durations"),
        ({"schedule": ll.OneCycle(total_steps=50), "total_steps": 100}, ValueError, "spans 50"),
        ({"schedule": ll.OneCycle(), "total_steps": 10, "momentum": Constant(0.9)}, ValueError, "`momentum` is for"),
        ({"schedule": ll.ReduceLROnPlateau("loss")}, TypeError, "cannot be ReduceLROnPlateau"),
        ({"schedule": ll.HyperparameterScheduler("weight_decay", Constant(0.1))}, TypeError, "cannot be Hyper"),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ScheduleLR(sgd(), **kwargs)


def test_not_an_optimizer_is_refused() -> None:
    with pytest.raises(TypeError, match=r"`optimizer` must be a torch\.optim\.Optimizer"):
        ScheduleLR("sgd", Cosine(1.0, 0.0, 10))  # type: ignore[arg-type]
