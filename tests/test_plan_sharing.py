"""Groups share one evaluation of a schedule per step, and sharing never changes a value by one bit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch

import lightning_lr as ll
from lightning_lr.planner import GroupSlot, plan_optimizer
from lightning_lr.schedules import Cosine, Exponential, Join, Linear, Schedule, Timeline

CALLS: list[float] = []


@dataclass(frozen=True)
class CountedCosine(Schedule):
    """A cosine factor that records each evaluation (module level: picklable, hashable)."""

    def __call__(self, t: float) -> float:
        CALLS.append(t)
        return 0.5 * (1.0 + math.cos(math.pi * min(t, 100.0) / 100.0))


def layerwise_optimizer(groups: int, kind: str = "sgd") -> torch.optim.Optimizer:
    """``groups`` param groups with layer-wise LRs (0.1 * 0.9**i), as layer-wise fine-tuning makes them."""
    params = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.1 * 0.9**i} for i in range(groups)]
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=0.1, weight_decay=0.01)
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)


SHARING: list[Any] = [
    pytest.param(lambda: ll.LRScheduler(Join((Linear(1.0, 0.3, 40), Cosine(0.3, 0.01)))), id="LRScheduler"),
    pytest.param(lambda: ll.CosineAnnealing(), id="CosineAnnealing"),
    pytest.param(lambda: ll.CosineAnnealing(T_max="10 epochs"), id="CosineAnnealing-T_max-epochs"),
    pytest.param(lambda: ll.CosineRestarts(T_0=11, T_mult=1.5, peak_decay=0.7), id="CosineRestarts"),
    pytest.param(lambda: ll.CosineRestarts(T_0="2 epochs", cycle_warmup=3), id="CosineRestarts-cycle_warmup"),
    pytest.param(lambda: ll.StepDecay(7, gamma=0.37), id="StepDecay"),
    pytest.param(lambda: ll.MultiStepDecay([5, "50%", 90], gamma=0.3), id="MultiStepDecay"),
    pytest.param(lambda: ll.ExponentialDecay(gamma=0.97), id="ExponentialDecay"),
    pytest.param(lambda: ll.ExponentialDecay(k=0.05, decay_steps=3, staircase=True), id="ExponentialDecay-k"),
    pytest.param(lambda: ll.ReduceLROnPlateau("val_loss", schedule=Exponential(0.99)), id="ReduceLROnPlateau"),
    pytest.param(
        lambda: ll.HyperparameterScheduler("weight_decay", Cosine(1.0, 0.1), relative=True),
        id="HyperparameterScheduler-relative",
    ),
]


@pytest.mark.parametrize("build", SHARING)
def test_a_shared_factor_gives_every_group_the_value_of_its_own_schedule_to_the_bit(build: Any) -> None:
    callback = build()
    assert callback.lr_scales_with_base
    optimizer = layerwise_optimizer(24)
    timeline = Timeline(total=120.0, steps_per_epoch=12.0)
    bases = callback.base_lrs(optimizer)
    plan = plan_optimizer(callback, optimizer, bases, timeline)
    assert len({id(g.shape) for g in plan.groups}) == 1, "the groups should share one factor schedule"
    own = [callback.lr_schedule(b, GroupSlot(0, i, len(bases)), timeline) for i, b in enumerate(bases)]
    for t in range(130):
        plan.write_values(float(t))
        key = plan.groups[0].key
        assert [g[key] for g in optimizer.param_groups] == [s(float(t)) for s in own], f"step {t}"


UNSHARED: list[Any] = [
    pytest.param(lambda: ll.OneCycle(), id="OneCycle"),
    pytest.param(lambda: ll.WarmupLinear(num_warmup_steps=10), id="WarmupLinear"),
    pytest.param(lambda: ll.CosineAnnealing(eta_min=1e-4), id="CosineAnnealing-eta_min"),
    pytest.param(lambda: ll.CosineRestarts(T_0=10, eta_min=1e-4), id="CosineRestarts-eta_min"),
    pytest.param(lambda: ll.CosineAnnealing(warmup=10), id="CosineAnnealing-warmup"),
    pytest.param(lambda: ll.StepDecay(7, warmup="10%", warmup_start_factor=0.1), id="StepDecay-warmup"),
]


@pytest.mark.parametrize("build", UNSHARED)
def test_where_a_factor_would_round_otherwise_each_group_keeps_its_own_schedule(build: Any) -> None:
    """1cycle's ``base/25``, a linear ramp ``(end - start) p + start``: ``b * f(t)`` may differ in the last bit."""
    callback = build()
    optimizer = layerwise_optimizer(6)
    plan = plan_optimizer(callback, optimizer, callback.base_lrs(optimizer), Timeline(total=100.0))
    assert len({id(g.shape) for g in plan.groups}) == 6
    assert all(g.scale == 1.0 for g in plan.groups)


def test_a_schedule_shared_by_a_thousand_groups_is_evaluated_once_per_step() -> None:
    callback = ll.LRScheduler(CountedCosine())
    optimizer = layerwise_optimizer(1000)
    plan = plan_optimizer(callback, optimizer, callback.base_lrs(optimizer), Timeline(total=100.0))
    CALLS.clear()
    for t in range(5):
        plan.write_values(float(t))
    assert CALLS == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert optimizer.param_groups[999]["lr"] == pytest.approx(0.1 * 0.9**999 * CountedCosine()(4.0), rel=1e-15)


def test_equal_momentum_schedules_are_one_object_for_every_group() -> None:
    callback = ll.OneCycle()
    optimizer = layerwise_optimizer(50, "adamw")
    plan = plan_optimizer(callback, optimizer, callback.base_lrs(optimizer), Timeline(total=100.0))
    assert len({id(g.momentum) for g in plan.groups}) == 1
    plan.write_values(30.0)
    assert {g["betas"][0] for g in optimizer.param_groups} == {plan.groups[0].momentum(30.0)}  # type: ignore[misc]
