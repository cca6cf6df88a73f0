"""Fuzzed callback configurations: random valid arguments of every named callback, previewed without a trainer.

Hypothesis draws >= 1,000 random valid configurations of the named callbacks (per-group lists, several
param groups, warmup in every form, both intervals; the runs and durations come from
``tests/strategies.py``) and evaluates them through :func:`lightning_lr.preview.preview`. The bounds are
computed here from the arguments and the documented formulas, never from the library's resolved
schedules. docs/reliability.md says what this guarantees.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, note, settings

from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    ScheduleCallback,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.preview import preview
from lightning_lr.schedules import Cosine, Linear
from tests.strategies import LR, UNIT, PreviewRun, factor_schedules, momenta, per_group, runs, value_bounds

FUZZ = settings(
    max_examples=150,  # x 11 callbacks = 1,650 configurations
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is stable, a failure reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
POINTS = 120  # sample points per preview: enough to meet every phase, cheap enough for 2,200 previews


@dataclass(repr=False)
class Config:
    """A callback, the run it is previewed on, and the bounds its arguments imply."""

    callback: ScheduleCallback
    run: PreviewRun
    lr_bounds: list[tuple[float, float]]  # per group, before warmup
    momentum_bounds: list[tuple[float, float]] | None = None  # per group; None: momentum is not set

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        arguments = {k: v for k, v in vars(self.callback).items() if not k.startswith("_")}
        return f"{type(self.callback).__name__}({arguments}) on {self.run!r}"


def common(run: PreviewRun) -> dict[str, Any]:
    return {"interval": run.interval, "warmup": run.warmup, "warmup_start_factor": run.start_factor}


@st.composite
def one_cycle_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    n = len(run.base_lrs)
    three_phase = draw(st.booleans())
    cycle = run.remaining  # the whole run after warmup
    low = 1.0 / cycle + 0.01  # every phase non-empty: pct_start * T - 1 > 0 (and < (T - 1) / 2 for 3 phases)
    pct = draw(st.floats(low, 0.45 if three_phase else 0.95))
    peaks = draw(st.none() | st.lists(LR, min_size=n, max_size=n))
    div, final = draw(st.floats(1.0, 100.0)), draw(st.floats(1.0, 1e4))
    base_m, max_m = momenta(draw, n)
    total_steps = int(cycle) if cycle == int(cycle) and draw(st.booleans()) else None
    callback = OneCycle(
        max_lr=None if peaks is None else per_group(draw, peaks),
        total_steps=total_steps,
        pct_start=pct,
        anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
        div_factor=div,
        final_div_factor=final,
        three_phase=three_phase,
        base_momentum=per_group(draw, base_m),
        max_momentum=per_group(draw, max_m),
        **common(run),
    )
    peaks = run.base_lrs if peaks is None else peaks
    return Config(callback, run, [(p / div / final, p) for p in peaks], list(zip(base_m, max_m)))


@st.composite
def cyclical_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    n = len(run.base_lrs)
    pairs = [sorted([draw(st.floats(0.0, 1.0)), draw(LR)]) for _ in range(n)]
    base_m, max_m = momenta(draw, n)
    cycle = draw(st.booleans())
    callback = Cyclical(
        base_lr=per_group(draw, [p[0] for p in pairs]),
        max_lr=per_group(draw, [p[1] for p in pairs]),
        step_size_up=run.duration(draw, draw(st.floats(0.01, 0.5))),
        step_size_down=run.duration(draw, draw(st.floats(0.01, 0.5))) if draw(st.booleans()) else None,
        mode=draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
        gamma=draw(st.floats(0.5, 1.0)),
        cycle_momentum=cycle,
        base_momentum=per_group(draw, base_m),
        max_momentum=per_group(draw, max_m),
        **common(run),
    )
    return Config(callback, run, [tuple(p) for p in pairs], list(zip(base_m, max_m)) if cycle else None)  # type: ignore[misc]


@st.composite
def cosine_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    eta_min = draw(st.floats(0.0, 1.0))
    form = draw(st.sampled_from(["none", "steps", "epochs"]))
    per_epoch = run.steps_per_epoch if run.interval == "step" else 1
    t_max = {"none": None, "steps": run.remaining, "epochs": f"{run.remaining / per_epoch!r} epochs"}[form]
    callback = CosineAnnealing(T_max=t_max, eta_min=eta_min, **common(run))
    return Config(callback, run, [(min(b, eta_min), max(b, eta_min)) for b in run.base_lrs])


@st.composite
def restarts_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    eta_min = draw(UNIT) * min(run.base_lrs)
    t0_frac = draw(st.floats(0.02, 0.6))
    as_steps = draw(st.booleans())
    t0 = max(1.0, t0_frac * run.total) if as_steps else run.duration(draw, t0_frac)  # a step count is >= 1
    cycle_warmup = draw(st.floats(0.0, 0.9)) * t0 if as_steps and draw(st.booleans()) else 0
    callback = CosineRestarts(
        T_0=t0,
        T_mult=draw(st.sampled_from([1, 2]) | st.floats(1.0, 3.0)),
        eta_min=eta_min,
        peak_decay=draw(UNIT),
        cycle_warmup=cycle_warmup,
        **common(run),
    )
    return Config(callback, run, [(eta_min, b) for b in run.base_lrs])


def powers_bounds(base: float, gamma: float, count: int) -> tuple[float, float]:
    """``base * gamma**k`` for ``k`` in ``0..count`` lies between these."""
    extreme = gamma**count
    return base * min(1.0, extreme), base * max(1.0, extreme)


@st.composite
def step_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    frac = draw(st.floats(0.05, 0.9))
    gamma = draw(st.floats(0.0, 1.2))
    callback = StepDecay(step_size=run.duration(draw, frac), gamma=gamma, **common(run))
    decays = math.floor((run.total - 1) / (frac * run.total) + 1e-9)  # steps of decay within the run
    return Config(callback, run, [powers_bounds(b, gamma, decays) for b in run.base_lrs])


@st.composite
def multistep_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    fracs = sorted(set(draw(st.lists(st.floats(0.01, 0.95), min_size=1, max_size=5))))
    if draw(st.booleans()):
        milestones: list[Any] = [f"{f * 100.0!r}%" for f in fracs]
    else:
        milestones = [f * run.total for f in fracs]
    gamma = draw(st.floats(0.0, 1.2))
    callback = MultiStepDecay(milestones=milestones, gamma=gamma, **common(run))
    return Config(callback, run, [powers_bounds(b, gamma, len(fracs)) for b in run.base_lrs])


@st.composite
def exponential_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    rate = {"gamma": draw(st.floats(0.3, 1.0))} if draw(st.booleans()) else {"k": draw(st.floats(0.0, 5.0))}
    callback = ExponentialDecay(
        **rate,
        decay_steps=run.duration(draw, draw(st.floats(0.005, 0.5))),
        staircase=draw(st.booleans()),
        **common(run),
    )
    return Config(callback, run, [(0.0, b) for b in run.base_lrs])


@st.composite
def transformers_configs(draw: st.DrawFn, cls: type) -> Config:
    run = draw(runs())
    run.start_factor = 0.0  # transformers' warmup starts at 0
    training = run.total if draw(st.booleans()) else None  # warmup included
    kwargs: dict[str, Any] = {"num_cycles": draw(st.floats(0.1, 3.0))} if cls is WarmupCosine else {}
    callback = cls(num_warmup_steps=run.warmup or 0, num_training_steps=training, interval=run.interval, **kwargs)
    return Config(callback, run, [(0.0, b) for b in run.base_lrs])


@st.composite
def plateau_configs(draw: st.DrawFn) -> Config:
    """Without a trainer no metric is ever checked: the preview is ``base * schedule`` (and warmup)."""
    run = draw(runs())
    n = len(run.base_lrs)
    schedule = draw(st.none() | factor_schedules(run))
    low, high = (1.0, 1.0) if schedule is None else value_bounds(schedule)
    callback = ReduceLROnPlateau(
        monitor=draw(st.sampled_from(["val_loss", "train_loss", "acc"])),
        mode=draw(st.sampled_from(["min", "max"])),
        factor=draw(st.floats(0.01, 0.99)),
        patience=draw(st.integers(0, 20)),
        threshold=draw(st.floats(0.0, 0.1)),
        threshold_mode=draw(st.sampled_from(["rel", "abs"])),
        cooldown=draw(st.integers(0, 5)),
        min_lr=per_group(draw, [draw(st.floats(0.0, 1e-3))] * n if draw(st.booleans()) else [0.0] * n),
        eps=draw(st.floats(0.0, 1e-6)),
        schedule=schedule,
        **common(run),
    )
    return Config(callback, run, [(b * low, b * high) for b in run.base_lrs])


@st.composite
def generic_configs(draw: st.DrawFn) -> Config:
    run = draw(runs())
    schedule = draw(factor_schedules(run))
    low, high = value_bounds(schedule)
    momentum = None
    if draw(st.booleans()):
        a, b = draw(st.floats(0.5, 0.99)), draw(st.floats(0.5, 0.99))
        momentum = draw(st.sampled_from([Linear, Cosine]))(a, b)
    callback = LRScheduler(schedule, momentum=momentum, **common(run))
    momentum_bounds = None if momentum is None else [(min(a, b), max(a, b))] * len(run.base_lrs)
    return Config(callback, run, [(x * low, x * high) for x in run.base_lrs], momentum_bounds)


CONFIGS = {
    "OneCycle": one_cycle_configs(),
    "Cyclical": cyclical_configs(),
    "CosineAnnealing": cosine_configs(),
    "CosineRestarts": restarts_configs(),
    "StepDecay": step_configs(),
    "MultiStepDecay": multistep_configs(),
    "ExponentialDecay": exponential_configs(),
    "WarmupLinear": transformers_configs(WarmupLinear),
    "WarmupCosine": transformers_configs(WarmupCosine),
    "ReduceLROnPlateau": plateau_configs(),
    "LRScheduler": generic_configs(),
}


def preview_of(callback: ScheduleCallback, run: PreviewRun) -> dict[str, list[float]]:
    result = preview(
        callback,
        total=run.total,
        base_lrs=run.base_lrs,
        steps_per_epoch=run.steps_per_epoch,
        optimizer=run.optimizer,  # type: ignore[arg-type]
        points=POINTS,
    )
    return result.series


@pytest.mark.parametrize("name", list(CONFIGS))
@FUZZ
@given(data=st.data())
def test_random_valid_configurations_are_finite_bounded_and_survive_pickle(name: str, data: st.DataObject) -> None:
    config = data.draw(CONFIGS[name], label="config")
    note(repr(config))
    run = config.run
    series = preview_of(config.callback, run)
    lr_names = [k for k in series if not k.endswith("-momentum")]
    assert len(lr_names) == len(run.base_lrs)
    expected_points = min(run.total, POINTS)
    for name_, values in series.items():
        assert len(values) == expected_points, name_
        assert all(isinstance(v, float) and math.isfinite(v) and v >= 0.0 for v in values), (name_, values)
    for (low, high), lr_name in zip(config.lr_bounds, lr_names):
        floor = low * run.start_factor if run.width > 0 else low  # the warmup ramps up from start_factor * s(0)
        tolerance = 1e-9 * max(high, 1e-12)
        for v in series[lr_name]:
            assert floor - tolerance <= v <= high + tolerance, (lr_name, v, floor, high)
    momentum_names = [f"{n}-momentum" for n in lr_names]
    if config.momentum_bounds is None:
        assert not any(n in series for n in momentum_names), "momentum set although nothing asked for it"
    else:
        for (low, high), m_name in zip(config.momentum_bounds, momentum_names):
            assert all(low - 1e-12 <= v <= high + 1e-12 for v in series[m_name]), (m_name, series[m_name], low, high)
    copy = pickle.loads(pickle.dumps(config.callback))
    assert type(copy) is type(config.callback)
    assert preview_of(copy, run) == series
