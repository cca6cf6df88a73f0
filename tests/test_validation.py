"""Bad arguments are refused in ``__init__`` with a message that names the parameter.

DESIGN: "Bad arguments raise ``ValueError``/``TypeError`` in ``__init__``, naming the parameter, the
value and what is allowed. No ``assert`` for validation, no silent coercion."

Each row of ``CASES`` builds one object with one bad argument. The test checks the exception type
(``ValueError`` or ``TypeError``, never ``AttributeError``/``RuntimeError``/``OverflowError``...)
and that the message mentions every listed fragment (the parameter name first, then the value
and/or the allowed range). The second half runs tiny real Lightning fits for misuse that can
only be detected once the trainer is known, and checks it is reported before the first
optimizer step.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch

from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    ScheduleConflictError,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.schedules import (
    Affine,
    Clamp,
    Constant,
    Cosine,
    Cycle,
    Exponential,
    InverseSqrt,
    Join,
    Linear,
    MultiStep,
    Polynomial,
    Product,
    Span,
    Step,
    Timeline,
    Truncate,
    Warmup,
    cosine_restarts,
    one_cycle,
    triangle_wave,
    warmup_stable_decay,
)
from tests.helpers import TinyModel, make_trainer, pytorch_lrs

NAN, INF = math.nan, math.inf


def mentions(*fragments: str) -> str:
    """A regex that matches a message containing every fragment (literal text), in any order."""
    return "(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments)


def case(id: str, build: Callable[[], Any], *fragments: str) -> Any:
    return pytest.param(build, mentions(*fragments), id=id)


def _sched() -> Linear:
    return Linear(1.0, 0.0, 10)


CALLBACK_CASES = [
    # ---------------------------------------------------------------- OneCycle
    case("OneCycle-max_lr-negative", lambda: OneCycle(max_lr=-0.1), "max_lr", "-0.1", "> 0"),
    case("OneCycle-max_lr-nan", lambda: OneCycle(max_lr=NAN), "max_lr", "nan"),
    case("OneCycle-max_lr-inf", lambda: OneCycle(max_lr=INF), "max_lr", "inf"),
    case("OneCycle-max_lr-list-entry", lambda: OneCycle(max_lr=[0.1, -1.0]), "max_lr[1]", "-1.0"),
    case("OneCycle-max_lr-empty-list", lambda: OneCycle(max_lr=[]), "max_lr", "[]"),
    case("OneCycle-max_lr-str", lambda: OneCycle(max_lr="0.1"), "max_lr", "'0.1'"),
    case("OneCycle-pct_start-zero", lambda: OneCycle(pct_start=0.0), "pct_start", "0.0", "(0.0, 1.0)"),
    case("OneCycle-pct_start-one", lambda: OneCycle(pct_start=1.0), "pct_start", "1.0", "(0.0, 1.0)"),
    case("OneCycle-pct_start-above", lambda: OneCycle(pct_start=1.5), "pct_start", "1.5"),
    case(
        "OneCycle-anneal_strategy", lambda: OneCycle(anneal_strategy="cosine"), "anneal_strategy", "'cosine'", "'cos'"
    ),
    case("OneCycle-div_factor-zero", lambda: OneCycle(div_factor=0), "div_factor", "0"),
    case("OneCycle-final_div_factor-negative", lambda: OneCycle(final_div_factor=-1.0), "final_div_factor", "-1.0"),
    case("OneCycle-total_steps-zero", lambda: OneCycle(total_steps=0), "total_steps", "0", ">= 1"),
    case("OneCycle-total_steps-bool", lambda: OneCycle(total_steps=True), "total_steps", "True"),
    case("OneCycle-total_steps-float", lambda: OneCycle(total_steps=100.0), "total_steps", "100.0"),
    case("OneCycle-total_steps-empty-phase", lambda: OneCycle(total_steps=3), "pct_start", "empty phase"),
    case(
        "OneCycle-base_momentum-above-max",
        lambda: OneCycle(base_momentum=0.95, max_momentum=0.85),
        "base_momentum",
        "max_momentum",
        "0.95",
    ),
    case("OneCycle-base_momentum-range", lambda: OneCycle(base_momentum=1.5), "base_momentum", "1.5", "[0.0, 1.0]"),
    case("OneCycle-three_phase-str", lambda: OneCycle(three_phase="yes"), "three_phase", "'yes'", "bool"),
    case("OneCycle-cycle_momentum-int", lambda: OneCycle(cycle_momentum=1), "cycle_momentum", "bool"),
    # ---------------------------------------------------------------- shared ScheduleCallback arguments
    case("interval-unknown", lambda: OneCycle(interval="batch"), "interval", "'batch'", "'step'", "'epoch'"),
    case("warmup-float-one", lambda: CosineAnnealing(warmup=1.0), "warmup", "1.0", "[0, 1)"),
    case("warmup-negative", lambda: CosineAnnealing(warmup=-5), "warmup", "-5"),
    case("warmup-bool", lambda: CosineAnnealing(warmup=True), "warmup", "True"),
    case("warmup-nan", lambda: CosineAnnealing(warmup=NAN), "warmup", "nan"),
    case("warmup-percent-100", lambda: CosineAnnealing(warmup="100%"), "warmup", "100%"),
    case("warmup-percent-150", lambda: CosineAnnealing(warmup="150%"), "warmup", "150%"),
    case("warmup-unit-unknown", lambda: CosineAnnealing(warmup="2 weeks"), "warmup", "2 weeks"),
    case("warmup-number-malformed", lambda: CosineAnnealing(warmup="1.2.3 steps"), "warmup", "1.2.3 steps"),
    case("warmup_start_factor-range", lambda: StepDecay(10, warmup_start_factor=1.5), "warmup_start_factor", "1.5"),
    case("optimizers-negative", lambda: StepDecay(10, optimizers=-1), "optimizers", "-1"),
    case("optimizers-duplicate", lambda: StepDecay(10, optimizers=[0, 0]), "optimizers", "[0, 0]", "distinct"),
    case("optimizers-empty", lambda: StepDecay(10, optimizers=[]), "optimizers", "[]"),
    case("optimizers-str", lambda: StepDecay(10, optimizers="0"), "optimizers", "'0'"),
    case("optimizers-bool", lambda: StepDecay(10, optimizers=True), "optimizers", "True"),
    case("optimizers-float", lambda: StepDecay(10, optimizers=1.0), "optimizers", "1.0"),
    # ---------------------------------------------------------------- Cyclical
    case("Cyclical-base_lr-above-max_lr", lambda: Cyclical(0.5, 0.1), "base_lr", "max_lr", "0.5", "0.1"),
    case(
        "Cyclical-per-group-base_lr-above",
        lambda: Cyclical([0.1, 0.5], [0.2, 0.3]),
        "base_lr",
        "max_lr",
    ),
    case("Cyclical-base_lr-negative", lambda: Cyclical(-0.1, 1.0), "base_lr", "-0.1", ">= 0"),
    case("Cyclical-max_lr-zero", lambda: Cyclical(0.0, 0.0), "max_lr", "0.0", "> 0"),
    case("Cyclical-step_size_up-zero", lambda: Cyclical(0.1, 1.0, step_size_up=0), "step_size_up", "0"),
    case(
        "Cyclical-step_size_down-negative",
        lambda: Cyclical(0.1, 1.0, step_size_down=-3),
        "step_size_down",
        "-3",
    ),
    case("Cyclical-mode", lambda: Cyclical(0.1, 1.0, mode="triangle"), "mode", "'triangle'", "'triangular'"),
    case("Cyclical-gamma-above-one", lambda: Cyclical(0.1, 1.0, gamma=1.5), "gamma", "1.5", "(0, 1]"),
    case("Cyclical-gamma-zero", lambda: Cyclical(0.1, 1.0, gamma=0.0), "gamma", "0.0"),
    case(
        "Cyclical-base_momentum-above-max",
        lambda: Cyclical(0.1, 1.0, base_momentum=0.9, max_momentum=0.8),
        "base_momentum",
        "max_momentum",
    ),
    # ---------------------------------------------------------------- CosineAnnealing
    case("CosineAnnealing-T_max-zero", lambda: CosineAnnealing(T_max=0), "T_max", "0"),
    case("CosineAnnealing-T_max-bool", lambda: CosineAnnealing(T_max=True), "T_max", "True"),
    case("CosineAnnealing-T_max-negative-str", lambda: CosineAnnealing(T_max="-10 steps"), "T_max", "-10"),
    case("CosineAnnealing-eta_min-negative", lambda: CosineAnnealing(eta_min=-1e-3), "eta_min", "-0.001"),
    case("CosineAnnealing-eta_min-nan", lambda: CosineAnnealing(eta_min=NAN), "eta_min", "nan"),
    # ---------------------------------------------------------------- CosineRestarts
    case("CosineRestarts-T_0-zero", lambda: CosineRestarts(T_0=0), "T_0", "0"),
    case("CosineRestarts-T_0-garbage", lambda: CosineRestarts(T_0="ten epochs"), "T_0", "'ten epochs'"),
    case("CosineRestarts-T_mult-below-one", lambda: CosineRestarts(10, T_mult=0.5), "T_mult", "0.5", ">= 1"),
    case("CosineRestarts-T_mult-nan", lambda: CosineRestarts(10, T_mult=NAN), "T_mult", "nan"),
    case(
        "CosineRestarts-cycle_warmup-equals-T_0",
        lambda: CosineRestarts(10, cycle_warmup=10),
        "cycle_warmup",
        "T_0",
        "10",
    ),
    case("CosineRestarts-cycle_warmup-negative", lambda: CosineRestarts(10, cycle_warmup=-1), "cycle_warmup", "-1"),
    case("CosineRestarts-peak_decay-above-one", lambda: CosineRestarts(10, peak_decay=1.5), "peak_decay", "1.5"),
    case("CosineRestarts-eta_min-negative", lambda: CosineRestarts(10, eta_min=-1.0), "eta_min", "-1.0"),
    # ---------------------------------------------------------------- StepDecay / MultiStepDecay
    case("StepDecay-step_size-zero", lambda: StepDecay(step_size=0), "step_size", "0"),
    case("StepDecay-step_size-none", lambda: StepDecay(step_size=None), "step_size", "None"),
    case("StepDecay-gamma-negative", lambda: StepDecay(10, gamma=-0.1), "gamma", "-0.1", ">= 0"),
    case("StepDecay-gamma-str", lambda: StepDecay(10, gamma="0.1"), "gamma", "'0.1'"),
    case("MultiStepDecay-decreasing", lambda: MultiStepDecay([30, 10]), "milestones", "[30, 10]", "increasing"),
    case("MultiStepDecay-empty", lambda: MultiStepDecay([]), "milestones", "empty"),
    case("MultiStepDecay-negative", lambda: MultiStepDecay([10, -5]), "milestones[1]", "-5"),
    case("MultiStepDecay-not-a-list", lambda: MultiStepDecay(5), "milestones", "5"),
    # ---------------------------------------------------------------- ExponentialDecay
    case("ExponentialDecay-neither", lambda: ExponentialDecay(), "gamma", "k"),
    case("ExponentialDecay-both", lambda: ExponentialDecay(gamma=0.5, k=0.1), "gamma", "k", "0.5", "0.1"),
    case("ExponentialDecay-gamma-negative", lambda: ExponentialDecay(gamma=-0.5), "gamma", "-0.5", ">= 0"),
    case("ExponentialDecay-k-negative", lambda: ExponentialDecay(k=-1.0), "k", "-1.0", ">= 0"),
    case("ExponentialDecay-decay_steps-zero", lambda: ExponentialDecay(0.5, decay_steps=0), "decay_steps", "0"),
    case("ExponentialDecay-staircase-str", lambda: ExponentialDecay(0.5, staircase="no"), "staircase", "'no'"),
    # ---------------------------------------------------------------- WarmupLinear / WarmupCosine
    case("WarmupLinear-warmup-float-one", lambda: WarmupLinear(1.0), "num_warmup_steps", "1.0", "[0, 1)"),
    case("WarmupLinear-warmup-negative", lambda: WarmupLinear(-1), "num_warmup_steps", "-1"),
    case("WarmupLinear-training-zero", lambda: WarmupLinear(10, 0), "num_training_steps", "0"),
    case("WarmupLinear-training-bool", lambda: WarmupLinear(10, True), "num_training_steps", "True"),
    case("WarmupLinear-training-float", lambda: WarmupLinear(10, 100.5), "num_training_steps", "100.5"),
    case(
        "WarmupLinear-warmup-not-shorter-than-training",
        lambda: WarmupLinear(num_warmup_steps=100, num_training_steps=50),
        "num_warmup_steps",
        "num_training_steps",
    ),
    case("WarmupCosine-num_cycles-zero", lambda: WarmupCosine(10, num_cycles=0), "num_cycles", "0"),
    case("WarmupCosine-warmup-no-unit", lambda: WarmupCosine("1.5"), "num_warmup_steps", "'1.5'"),
    # ---------------------------------------------------------------- ReduceLROnPlateau
    case("Plateau-factor-one", lambda: ReduceLROnPlateau("val_loss", factor=1.0), "factor", "1.0", "(0.0, 1.0)"),
    case("Plateau-factor-above-one", lambda: ReduceLROnPlateau("val_loss", factor=1.5), "factor", "1.5"),
    case("Plateau-factor-zero", lambda: ReduceLROnPlateau("val_loss", factor=0.0), "factor", "0.0"),
    case("Plateau-mode", lambda: ReduceLROnPlateau("val_loss", mode="minimum"), "mode", "'minimum'", "'min'"),
    case(
        "Plateau-threshold_mode",
        lambda: ReduceLROnPlateau("val_loss", threshold_mode="relative"),
        "threshold_mode",
        "'relative'",
        "'rel'",
    ),
    case("Plateau-patience-negative", lambda: ReduceLROnPlateau("val_loss", patience=-1), "patience", "-1"),
    case("Plateau-patience-float", lambda: ReduceLROnPlateau("val_loss", patience=2.5), "patience", "2.5"),
    case("Plateau-patience-bool", lambda: ReduceLROnPlateau("val_loss", patience=True), "patience", "True"),
    case("Plateau-cooldown-negative", lambda: ReduceLROnPlateau("val_loss", cooldown=-1), "cooldown", "-1"),
    case("Plateau-threshold-negative", lambda: ReduceLROnPlateau("val_loss", threshold=-1e-4), "threshold", "-0.0001"),
    case("Plateau-min_lr-negative", lambda: ReduceLROnPlateau("val_loss", min_lr=-1.0), "min_lr", "-1.0"),
    case("Plateau-eps-nan", lambda: ReduceLROnPlateau("val_loss", eps=NAN), "eps", "nan"),
    case("Plateau-monitor-empty", lambda: ReduceLROnPlateau(""), "monitor", "''"),
    case("Plateau-monitor-none", lambda: ReduceLROnPlateau(None), "monitor", "None"),
    case("Plateau-schedule-str", lambda: ReduceLROnPlateau("val_loss", schedule="cosine"), "schedule", "'cosine'"),
    # ---------------------------------------------------------------- LRScheduler
    case("LRScheduler-schedule-none", lambda: LRScheduler(None), "schedule", "None", "Schedule"),
    case("LRScheduler-schedule-closure", lambda: LRScheduler(lambda t: 1.0), "schedule", "function"),
    case("LRScheduler-momentum-number", lambda: LRScheduler(Constant(), momentum=0.9), "momentum", "0.9"),
    case("LRScheduler-interval", lambda: LRScheduler(Constant(), interval="epochs"), "interval", "'epochs'"),
]

SCHEDULE_CASES = [
    # ---------------------------------------------------------------- primitives
    case("Constant-value-nan", lambda: Constant(NAN), "value", "nan"),
    case("Constant-value-inf", lambda: Constant(INF), "value", "inf"),
    case("Constant-value-str", lambda: Constant("1"), "value", "'1'"),
    case("Constant-value-bool", lambda: Constant(True), "value", "True"),
    case("Constant-duration-zero", lambda: Constant(1.0, duration=0), "duration", "0"),
    case("Linear-start-nan", lambda: Linear(NAN, 0.0, 10), "start", "nan"),
    case("Linear-duration-negative", lambda: Linear(1.0, 0.0, -5), "duration", "-5"),
    case("Linear-duration-negative-str", lambda: Linear(1.0, 0.0, "-5 steps"), "duration", "-5"),
    case("Linear-duration-zero-str", lambda: Linear(1.0, 0.0, "0 steps"), "duration", "0"),
    case("Linear-duration-fraction-above-one", lambda: Linear(1.0, 0.0, "150%"), "duration", "150%"),
    case("Cosine-end-str", lambda: Cosine(1.0, "0"), "end", "'0'"),
    case("Cosine-duration-bool", lambda: Cosine(1.0, 0.0, True), "duration", "True"),
    case("Polynomial-power-zero", lambda: Polynomial(1.0, 0.0, 10, power=0.0), "power", "0.0", "> 0"),
    case("Polynomial-power-nan", lambda: Polynomial(1.0, 0.0, 10, power=NAN), "power", "nan"),
    case("Exponential-decay_rate-negative", lambda: Exponential(-0.5), "decay_rate", "-0.5"),
    case("Exponential-decay_steps-zero", lambda: Exponential(0.5, decay_steps=0), "decay_steps", "0"),
    case("Exponential-staircase-int", lambda: Exponential(0.5, staircase=1), "staircase", "1", "bool"),
    case("Exponential.from_rate-k-negative", lambda: Exponential.from_rate(-1.0), "k", "-1.0"),
    case("Exponential.from_rate-decay_steps-none", lambda: Exponential.from_rate(0.1, decay_steps=None), "decay_steps"),
    case("Step-step_size-zero", lambda: Step(0), "step_size", "0"),
    case("Step-gamma-negative", lambda: Step(10, gamma=-0.1), "gamma", "-0.1"),
    case("MultiStep-decreasing", lambda: MultiStep((20, 10)), "milestones", "[20, 10]", "increasing"),
    case("MultiStep-empty", lambda: MultiStep(()), "milestones", "empty"),
    case("MultiStep-str", lambda: MultiStep("10 steps"), "milestones", "'10 steps'"),
    case("MultiStep-zero-milestone", lambda: MultiStep((10, 0)), "milestones[1]", "0"),
    case("InverseSqrt-timescale-zero", lambda: InverseSqrt(0), "timescale", "0"),
    # ---------------------------------------------------------------- combinators
    case("Join-empty", lambda: Join(()), "phases"),
    case("Join-non-schedule", lambda: Join((_sched(), 1.0)), "phases[1]", "1.0", "Schedule"),
    case("Join-closure", lambda: Join((_sched(), lambda t: t)), "phases[1]", "function"),
    case("Join-bare-schedule", lambda: Join(_sched()), "phases", "Linear"),
    case("Cycle-period_mult-below-one", lambda: Cycle(_sched(), period_mult=0.5), "period_mult", "0.5", ">= 1"),
    case("Cycle-peak_decay-negative", lambda: Cycle(_sched(), peak_decay=-0.5), "peak_decay", "-0.5"),
    case("Cycle-max_cycles-zero", lambda: Cycle(_sched(), max_cycles=0), "max_cycles", "0", ">= 1"),
    case("Cycle-max_cycles-bool", lambda: Cycle(_sched(), max_cycles=True), "max_cycles", "True"),
    case("Cycle-max_cycles-float", lambda: Cycle(_sched(), max_cycles=2.5), "max_cycles", "2.5"),
    case("Cycle-not-a-schedule", lambda: Cycle("cosine"), "schedule", "'cosine'"),
    case("Cycle-endless-schedule", lambda: Cycle(Constant(1.0)), "schedule", "Constant"),
    case("Product-empty", lambda: Product(()), "factors"),
    case("Product-number", lambda: Product((Constant(), 2.0)), "factors[1]", "2.0"),
    case("Affine-scale-nan", lambda: Affine(_sched(), scale=NAN), "scale", "nan"),
    case("Affine-offset-str", lambda: Affine(_sched(), offset="0"), "offset", "'0'"),
    case("Clamp-min-above-max", lambda: Clamp(_sched(), minimum=1.0, maximum=0.5), "minimum", "maximum", "1.0", "0.5"),
    case("Clamp-minimum-nan", lambda: Clamp(_sched(), minimum=NAN), "minimum", "nan"),
    case("Warmup-duration-negative", lambda: Warmup(_sched(), -1), "duration", "-1"),
    case("Warmup-duration-unit", lambda: Warmup(_sched(), "2 weeks"), "duration", "'2 weeks'"),
    case("Warmup-duration-whole-training", lambda: Warmup(_sched(), "100%"), "duration", "100%"),
    case("Warmup-start_factor-range", lambda: Warmup(_sched(), 10, start_factor=1.5), "start_factor", "1.5"),
    case("Warmup-not-a-schedule", lambda: Warmup(1.0, 10), "schedule", "1.0"),
    case("Truncate-duration-negative", lambda: Truncate(_sched(), -1), "duration", "-1"),
    case("Truncate-not-a-schedule", lambda: Truncate("x", 10), "schedule", "'x'"),
    case("Span-amount-negative", lambda: Span(-1.0), "amount", "-1.0"),
    case("Span-unit-unknown", lambda: Span(1.0, "days"), "unit", "'days'"),
    case("Span-fraction-above-one", lambda: Span(2.0, "fraction"), "amount", "2.0"),
    case("Timeline-total-negative", lambda: Timeline(total=-5.0), "total", "-5.0"),
    case("Timeline-steps_per_epoch-zero", lambda: Timeline(total=100.0, steps_per_epoch=0.0), "steps_per_epoch"),
    # ---------------------------------------------------------------- recipes
    case("one_cycle-peak-negative", lambda: one_cycle(-1.0, 100), "peak", "-1.0"),
    case("one_cycle-peak-nan", lambda: one_cycle(NAN, 100), "peak", "nan"),
    case("one_cycle-pct_start-one", lambda: one_cycle(1.0, 100, pct_start=1.0), "pct_start", "1.0"),
    case("one_cycle-anneal_strategy", lambda: one_cycle(1.0, 100, anneal_strategy="cosine"), "anneal_strategy"),
    case("one_cycle-div_factor-zero", lambda: one_cycle(1.0, 100, div_factor=0.0), "div_factor", "0.0"),
    case("one_cycle-empty-phase", lambda: one_cycle(1.0, 3), "pct_start", "empty phase"),
    case("one_cycle-total_steps-str", lambda: one_cycle(1.0, "100"), "total_steps", "'100'"),
    case("one_cycle-three_phase-str", lambda: one_cycle(1.0, 100, three_phase="yes"), "three_phase", "'yes'"),
    case("triangle_wave-step_size_up-zero", lambda: triangle_wave(0), "step_size_up", "0"),
    case("triangle_wave-step_size_down-negative", lambda: triangle_wave(2, -1), "step_size_down", "-1"),
    case("triangle_wave-mode", lambda: triangle_wave(2, mode="sine"), "mode", "'sine'"),
    case("triangle_wave-gamma-zero-exp_range", lambda: triangle_wave(2, mode="exp_range", gamma=0.0), "gamma"),
    case("triangle_wave-gamma-negative-triangular", lambda: triangle_wave(2, gamma=-1.0), "gamma", "-1.0"),
    case("cosine_restarts-T_0-zero", lambda: cosine_restarts(1.0, 0), "T_0", "0"),
    case("cosine_restarts-cycle_warmup-equals-T_0", lambda: cosine_restarts(1.0, 10, cycle_warmup=10), "cycle_warmup"),
    case("cosine_restarts-T_mult-below-one", lambda: cosine_restarts(1.0, 10, T_mult=0.5), "T_mult", "0.5"),
    case("cosine_restarts-eta_min-above-peak", lambda: cosine_restarts(0.1, 10, eta_min=1.0), "eta_min", "peak"),
    case("cosine_restarts-peak_decay-negative", lambda: cosine_restarts(1.0, 10, peak_decay=-0.5), "peak_decay"),
    case(
        "warmup_stable_decay-decay_shape",
        lambda: warmup_stable_decay(1.0, 10, 10, decay_shape="exp"),
        "decay_shape",
        "'exp'",
    ),
    case("warmup_stable_decay-warmup-negative", lambda: warmup_stable_decay(1.0, -5, 10), "warmup", "-5"),
    case("warmup_stable_decay-peak-negative", lambda: warmup_stable_decay(-1.0, 10, 10), "peak", "-1.0"),
]


@pytest.mark.parametrize(("build", "pattern"), CALLBACK_CASES + SCHEDULE_CASES)
def test_bad_argument_is_refused_naming_it(build: Callable[[], Any], pattern: str) -> None:
    with pytest.raises((ValueError, TypeError), match=pattern) as info:
        build()
    # a subclass such as OverflowError / ZeroDivisionError would pass `pytest.raises` by accident
    assert type(info.value) in (ValueError, TypeError, ScheduleConflictError), repr(info.value)


def test_case_table_is_large_and_ids_are_unique() -> None:
    ids = [p.id for p in CALLBACK_CASES + SCHEDULE_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40


# ---------------------------------------------------------------------------------------------------------
# Misuse that needs the trainer: reported before the first optimizer step.
# TinyModel: 64 samples, batch 4 -> 16 optimizer steps per epoch; make_trainer runs 1 epoch.


def _fit_must_fail(tmp_path: Any, model: TinyModel, callbacks: list[Any], pattern: str, **trainer_kwargs: Any) -> None:
    trainer = make_trainer(tmp_path, callbacks, **trainer_kwargs)
    with pytest.raises(ScheduleConflictError, match=pattern):
        trainer.fit(model)
    assert model.recorder.lrs == [], "the error came after the optimizer had already stepped"


def test_scheduler_from_configure_optimizers_conflicts(tmp_path: Any) -> None:
    model = TinyModel(scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1))
    _fit_must_fail(tmp_path, model, [OneCycle()], mentions("OneCycle", "StepLR", "configure_optimizers"))


def test_two_callbacks_on_one_optimizer_conflict(tmp_path: Any) -> None:
    model = TinyModel()
    _fit_must_fail(tmp_path, model, [CosineAnnealing(), StepDecay(4)], mentions("CosineAnnealing", "StepDecay"))


def test_optimizer_index_out_of_range(tmp_path: Any) -> None:
    model = TinyModel()
    _fit_must_fail(tmp_path, model, [CosineAnnealing(optimizers=[1])], mentions("optimizers", "[1]", "1 optimizer"))


def test_endless_run_has_no_length_for_one_cycle(tmp_path: Any) -> None:
    model = TinyModel()
    _fit_must_fail(tmp_path, model, [OneCycle()], mentions("OneCycle", "max_epochs"), max_epochs=-1, max_steps=-1)


def test_total_steps_shorter_than_training(tmp_path: Any) -> None:
    model = TinyModel()
    _fit_must_fail(tmp_path, model, [OneCycle(total_steps=10)], mentions("OneCycle", "10", "16"))


def test_total_steps_longer_than_training_is_a_warning_and_runs_the_first_steps_of_the_plan(tmp_path: Any) -> None:
    """OneCycleLR accepts total_steps beyond the run; so do we, with a warning at fit start."""
    model = TinyModel()
    with pytest.warns(UserWarning, match=mentions("OneCycle", "100", "16", "never reaches")):
        make_trainer(tmp_path, [OneCycle(total_steps=100)]).fit(model)
    expected = pytorch_lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=100), 16)
    assert [lrs[0] for lrs in model.recorder.lrs] == pytest.approx(expected, rel=1e-12)


def test_warmup_longer_than_training(tmp_path: Any) -> None:
    model = TinyModel()
    _fit_must_fail(tmp_path, model, [CosineAnnealing(warmup=1000)], mentions("warmup", "1000", "16"))


def test_transformers_warmup_longer_than_training(tmp_path: Any) -> None:
    model = TinyModel()
    _fit_must_fail(tmp_path, model, [WarmupLinear(num_warmup_steps=1000)], mentions("warmup", "1000", "16"))


def test_cycle_momentum_needs_momentum_or_betas(tmp_path: Any) -> None:
    model = TinyModel(optimizer="rmsprop_nomomentum")  # Adagrad: neither `momentum` nor `betas`
    _fit_must_fail(tmp_path, model, [OneCycle()], mentions("Adagrad", "cycle_momentum=False"))


def test_cycle_momentum_false_runs_with_adagrad(tmp_path: Any) -> None:
    """The control for the test above: the same run is fine once momentum cycling is off."""
    model = TinyModel(optimizer="rmsprop_nomomentum")
    make_trainer(tmp_path, [OneCycle(cycle_momentum=False)]).fit(model)
    assert len(model.recorder.lrs) == 16


@pytest.mark.parametrize(
    "build",
    [
        lambda: CosineRestarts(T_0=0.25),
        lambda: CosineAnnealing(T_max=0.5),
        lambda: StepDecay(step_size=0.3),
        lambda: Cyclical(0.01, 0.1, step_size_up=0.5),
        lambda: ExponentialDecay(gamma=0.5, decay_steps=0.1),
    ],
    ids=["T_0", "T_max", "step_size", "step_size_up", "decay_steps"],
)
def test_a_fraction_of_a_clock_unit_is_refused_with_a_pointer_to_percent(build: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match=r"must be at least 1; for a fraction of training write e\.g\. '\d+%'"):
        build()
