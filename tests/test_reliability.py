"""Reliability: fuzzed configurations, crash and resume at random points, NaN losses, checkpoint versions.

Sections (docs/reliability.md says what each one guarantees):

1. Fuzzing: hypothesis draws >= 1,000 random valid configurations of the named callbacks (per-group
   lists, several param groups, warmup in every form, both intervals) and evaluates them without a
   trainer through :func:`lightning_lr.preview.preview`. The bounds are computed here from the
   arguments and the documented formulas, never from the library's resolved schedules.
2. Crash and resume: for every callback, with and without gradient accumulation, training stops at
   seeded random points — mid-epoch training batches, after a validation batch, inside a
   validation step (a real exception and Lightning's ``OnExceptionCheckpoint``) — is resumed from the
   checkpoint, possibly stopped again, and the LR/momentum sequence must equal the uninterrupted run's.
3. NaN and inf losses and metrics never produce a NaN LR.
4. Checkpoints: a state without ``version`` (the layout before the field existed,
   ``tests/fixtures/legacy_states.json``) and a real version-1 checkpoint file written by another
   process (``tests/fixtures/v1_onecycle_mid_epoch.ckpt``) resume exactly; a newer version is refused.
5. Misuse that only the trainer reveals, beyond ``tests/test_validation.py``: refused before step 0.

Regenerate the fixtures (only when their recipe below changes): ``python -m tests.test_reliability``.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import HealthCheck, given, note, settings
from lightning.pytorch.callbacks import Callback, OnExceptionCheckpoint
from torch.utils.data import DataLoader, IterableDataset

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
    ScheduleConflictError,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.preview import preview
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
    Power,
    Product,
    Schedule,
    Step,
    cosine_restarts,
    epochs,
    triangle_wave,
)
from tests.helpers import PlateauModel, TinyModel, make_trainer, random_data
from tests.test_properties import value_bounds

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# =============================================================================================== 1. fuzzing
FUZZ = settings(
    max_examples=150,  # x 11 callbacks = 1,650 configurations
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is stable, a failure reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
POINTS = 120  # sample points per preview: enough to meet every phase, cheap enough for 2,200 previews
LR = st.floats(1e-4, 1.0, allow_nan=False)
UNIT = st.floats(0.0, 1.0, allow_nan=False)


@dataclass
class Run:
    """What the callback is previewed on; ``width``: the warmup in clock units, computed here."""

    interval: str
    total: int
    steps_per_epoch: int
    base_lrs: list[float]
    optimizer: str
    warmup: Any = None
    width: float = 0.0
    start_factor: float = 0.0

    @property
    def remaining(self) -> float:
        return self.total - self.width

    def duration(self, draw: st.DrawFn, frac: float) -> Any:
        """``frac`` of training (in (0, 1)) written in one of the accepted forms."""
        amount = frac * self.total
        forms = ["steps", "percent", "epochs-str", "epochs"]
        form = draw(st.sampled_from(forms))
        if form == "steps" and amount >= 1:  # a duration in steps is at least one clock unit
            return amount
        if form in ("steps", "percent"):
            return f"{frac * 100.0!r}%"
        per_epoch = self.steps_per_epoch if self.interval == "step" else 1
        return f"{amount / per_epoch!r} epochs" if form == "epochs-str" else epochs(amount / per_epoch)


@st.composite
def runs(draw: st.DrawFn, warmup: bool = True) -> Run:
    interval = draw(st.sampled_from(["step", "epoch"]))
    total = draw(st.integers(20, 300))
    per_epoch = draw(st.integers(1, total)) if interval == "step" else 1
    groups = draw(st.integers(1, 3))
    run = Run(interval, total, per_epoch, [draw(LR) for _ in range(groups)], draw(st.sampled_from(["sgd", "adam"])))
    if warmup:
        run.warmup, run.width = draw(warmups(run))
        run.start_factor = draw(UNIT)
    return run


@st.composite
def warmups(draw: st.DrawFn, run: Run) -> tuple[Any, float]:
    """A warmup argument shorter than half of training, and its length in clock units."""
    kind = draw(st.sampled_from(["none", "int", "float", "percent", "epochs"]))
    frac = draw(st.floats(0.01, 0.49))
    per_epoch = run.steps_per_epoch if run.interval == "step" else 1
    if kind == "int":
        k = draw(st.integers(1, run.total // 2))
        return k, float(k)
    if kind == "float":
        return frac, frac * run.total
    if kind == "percent":
        return f"{frac * 100.0!r}%", frac * run.total
    if kind == "epochs" and per_epoch <= run.total // 2:
        k = draw(st.integers(1, run.total // 2 // per_epoch))
        return f"{k} epochs", float(k * per_epoch)
    return None, 0.0


def per_group(draw: st.DrawFn, values: list[float]) -> Any:
    """One number for every group, or a list with one per group (drawn when they are all equal)."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return list(values)


@st.composite
def factor_schedules(draw: st.DrawFn, run: Run, depth: int = 2) -> Schedule:
    """A non-negative factor schedule that never ends or fills the run (so it never conflicts with its length).

    Phases with a length take at most 40% of training; the warmup at most 49%: a filling phase has room.
    """
    kinds = ["constant", "exponential", "rate", "step", "multistep", "inverse-sqrt", "fill", "restarts", "wave"]
    if depth > 0:
        kinds += ["join", "cycle", "product", "clamp", "affine"]
    kind = draw(st.sampled_from(kinds))
    value = st.floats(0.0, 2.0, allow_nan=False)

    def dur(low: float = 0.02, high: float = 0.4) -> Any:
        return run.duration(draw, draw(st.floats(low, high)))

    if kind == "constant":
        return Constant(draw(value))
    if kind == "exponential":
        return Exponential(draw(st.floats(0.3, 1.0)), dur(), draw(st.booleans()))
    if kind == "rate":
        return Exponential.from_rate(draw(st.floats(0.0, 3.0)), dur(), draw(st.booleans()))
    if kind == "step":
        return Step(dur(0.05), draw(UNIT))
    if kind == "multistep":
        fracs = sorted(set(draw(st.lists(st.floats(0.01, 0.95), min_size=1, max_size=4))))
        return MultiStep(tuple(f"{f * 100.0!r}%" for f in fracs), draw(UNIT))
    if kind == "inverse-sqrt":
        return InverseSqrt(dur())
    if kind == "fill":
        cls = draw(st.sampled_from([Linear, Cosine, Polynomial, Power]))
        extra = {"power": draw(st.floats(0.5, 3.0))} if cls in (Polynomial, Power) else {}
        return cls(draw(value), draw(value), None, **extra)
    if kind == "restarts":
        t0 = draw(st.floats(0.02, 0.5)) * run.total
        warm = draw(st.floats(0.0, 0.9)) * t0 if draw(st.booleans()) else 0.0
        peak = draw(st.floats(0.01, 2.0))
        return cosine_restarts(peak, t0, draw(st.floats(1.0, 3.0)), draw(UNIT) * peak, draw(UNIT), warm)
    if kind == "wave":
        up = draw(st.floats(0.01, 0.3)) * run.total
        down = draw(st.none() | st.floats(0.01, 0.3).map(lambda f: f * run.total))
        return triangle_wave(
            up, down, draw(st.sampled_from(["triangular", "triangular2", "exp_range"])), draw(st.floats(0.9, 1.0))
        )
    sub = depth - 1
    if kind == "join":
        n = draw(st.integers(1, 3))
        fixed = [draw(finite_phases(run, 0.4 / n)) for _ in range(n)]
        return Join((*fixed, draw(factor_schedules(run, sub))))
    if kind == "cycle":
        inner = Join(tuple(draw(finite_phases(run, 0.15)) for _ in range(draw(st.integers(1, 2)))))
        return Cycle(inner, draw(st.floats(1.0, 2.0)), draw(UNIT))
    if kind == "product":
        return Product((draw(factor_schedules(run, sub)), draw(factor_schedules(run, sub))))
    if kind == "clamp":
        low, high = sorted([draw(value), draw(value)])
        return Clamp(draw(factor_schedules(run, sub)), low, draw(st.sampled_from([high, None])))
    return Affine(draw(factor_schedules(run, sub)), draw(value), draw(value))


@st.composite
def finite_phases(draw: st.DrawFn, run: Run, budget: float) -> Schedule:
    """An interpolation or a constant lasting at most ``budget`` of training."""
    cls = draw(st.sampled_from([Linear, Cosine, Polynomial, Power, Constant]))
    duration = run.duration(draw, draw(st.floats(0.05, 1.0)) * budget)
    if cls is Constant:
        return Constant(draw(st.floats(0.0, 2.0)), duration)
    extra = {"power": draw(st.floats(0.5, 3.0))} if cls in (Polynomial, Power) else {}
    return cls(draw(st.floats(0.0, 2.0)), draw(st.floats(0.0, 2.0)), duration, **extra)


@dataclass(repr=False)
class Config:
    """A callback, the run it is previewed on, and the bounds its arguments imply."""

    callback: ScheduleCallback
    run: Run
    lr_bounds: list[tuple[float, float]]  # per group, before warmup
    momentum_bounds: list[tuple[float, float]] | None = None  # per group; None: momentum is not set

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        arguments = {k: v for k, v in vars(self.callback).items() if not k.startswith("_")}
        return f"{type(self.callback).__name__}({arguments}) on {self.run!r}"


def common(run: Run) -> dict[str, Any]:
    return {"interval": run.interval, "warmup": run.warmup, "warmup_start_factor": run.start_factor}


def momenta(draw: st.DrawFn, groups: int) -> tuple[list[float], list[float]]:
    pairs = [sorted([draw(UNIT), draw(UNIT)]) for _ in range(groups)]
    if draw(st.booleans()):  # one number for every group
        pairs = [pairs[0]] * groups
    return [p[0] for p in pairs], [p[1] for p in pairs]


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


def preview_of(callback: ScheduleCallback, run: Run) -> dict[str, list[float]]:
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


# ======================================================================================= 2. crash and resume
class CrashError(Exception):
    """The simulated crash; Lightning's ``OnExceptionCheckpoint`` writes the checkpoint when it is raised."""


Event = tuple[Any, ...]
"""Where training is: ``("train", epoch, batch_idx)`` or ``("val", epoch, global_step, val_batch_idx)``."""


class ResumeModel(PlateauModel):
    """10 training batches per epoch, a validation of 3 batches every 5 (``val_check_interval=0.5``).

    ``val_loss`` depends only on the epoch (``PlateauModel.sequence``), so a validation that Lightning
    re-runs after a restart reports the same value. ``crash_at``: raise inside ``validation_step`` there.
    """

    def __init__(self, crash_at: Event | None = None, **kwargs: Any) -> None:
        super().__init__(n=40, batch_size=4, **kwargs)
        self.crash_at = crash_at

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if ("val", self.current_epoch, self.global_step, batch_idx) == self.crash_at:
            raise CrashError
        super().validation_step(batch, batch_idx)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(12, self.features, seed=1), batch_size=4)


class Stops(Callback):
    """Records every event; raises :class:`CrashError` at ``crash_at`` (after a training or validation batch)."""

    def __init__(self, crash_at: Event | None = None) -> None:
        self.crash_at = crash_at
        self.events: list[Event] = []

    def _reached(self, event: Event) -> None:
        self.events.append(event)
        if event == self.crash_at:
            raise CrashError

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._reached(("train", trainer.current_epoch, batch_idx))

    def on_validation_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if not trainer.sanity_checking:
            self._reached(("val", trainer.current_epoch, trainer.global_step, batch_idx))


@dataclass
class Segment:
    callback: ScheduleCallback
    lrs: list[list[float]]
    momenta: list[list[float | None]]
    events: list[Event]
    crashed: bool
    checkpoint: str | None


def fit_segment(
    root: Path,
    factory: Callable[[], ScheduleCallback],
    model_kwargs: dict[str, Any],
    accumulate: int,
    stop: tuple[str, Event] | None = None,
    ckpt: str | None = None,
) -> Segment:
    """One fit: from scratch or from ``ckpt``, until the end or the ``stop`` (``(mode, event)``)."""
    mode, event = stop if stop is not None else ("", None)
    model = ResumeModel(crash_at=event if mode == "in-validation-step" else None, **model_kwargs)
    callback = factory()
    stops = Stops(crash_at=event if mode in ("after-train-batch", "after-validation-batch") else None)
    saver = OnExceptionCheckpoint(dirpath=str(root), filename="crash")
    trainer = make_trainer(
        root,
        [callback, stops, saver],
        max_epochs=4,
        accumulate_grad_batches=accumulate,
        val_check_interval=0.5,
        num_sanity_val_steps=0,
        enable_checkpointing=True,
    )
    crashed = False
    try:
        trainer.fit(model, ckpt_path=ckpt)
    except CrashError:
        crashed = True
    checkpoint = str(root / "crash.ckpt") if crashed else None
    return Segment(callback, model.recorder.lrs, model.recorder.momenta, stops.events, crashed, checkpoint)


RESUME_CASES: list[tuple[str, Callable[[], ScheduleCallback], dict[str, Any]]] = [
    ("OneCycle", lambda: OneCycle(max_lr=[0.3, 0.03], three_phase=True, pct_start=0.25), {"groups": 2}),
    ("OneCycle-epoch-adamw", lambda: OneCycle(interval="epoch", pct_start=0.5), {"optimizer": "adamw"}),
    (
        "Cyclical",
        lambda: Cyclical([0.01, 0.001], [0.1, 0.01], step_size_up="1 epoch", mode="exp_range", gamma=0.99),
        {"groups": 2},
    ),
    ("CosineAnnealing", lambda: CosineAnnealing(eta_min=1e-4, interval="epoch", warmup=1), {}),
    ("CosineRestarts", lambda: CosineRestarts(T_0="1 epoch", T_mult=1.5, peak_decay=0.7, cycle_warmup=1), {}),
    ("StepDecay", lambda: StepDecay(step_size=7, gamma=0.7, warmup="10%", warmup_start_factor=0.1), {}),
    ("MultiStepDecay", lambda: MultiStepDecay(milestones=["1 epoch", "2.5 epochs"], gamma=0.5), {"groups": 2}),
    ("ExponentialDecay", lambda: ExponentialDecay(k=0.05, decay_steps=2, staircase=True), {"optimizer": "adamw"}),
    ("WarmupLinear", lambda: WarmupLinear(num_warmup_steps="1 epoch"), {}),
    ("WarmupCosine", lambda: WarmupCosine(num_warmup_steps=5, num_cycles=2.0), {"groups": 2}),
    (
        "ReduceLROnPlateau",
        lambda: ReduceLROnPlateau(
            "val_loss", patience=0, factor=0.5, cooldown=1, warmup="5%", schedule=Cosine(1.0, 0.1)
        ),
        {},
    ),
    (
        "LRScheduler",
        lambda: LRScheduler(
            Join((Linear(0.1, 1.0, "10%"), Cycle(Cosine(1.0, 0.2, "1 epoch"), peak_decay=0.8))),
            momentum=Cosine(0.85, 0.95),
        ),
        {"optimizer": "adamw", "groups": 2},
    ),
]
SEED = 1234


def pick_stops(name: str, accumulate: int, events: list[Event]) -> list[tuple[str, Event]]:
    """Three seeded random stops, one in each third of the run: after a training batch, in a validation, either.

    A validation stop is a crash after a validation batch or inside ``validation_step``. What Lightning
    2.6 does on resume limits the choice (docs/reliability.md, "Limits that come from Lightning"):

    - it does not replay a validation interrupted after one of its batches, nor one that was due right
      after the training batch at which the checkpoint was written (it does replay one interrupted
      inside ``validation_step``): such a validation cannot hold the next stop, and
      ``ReduceLROnPlateau``, whose check it would lose, gets neither of these stops (see
      :func:`test_plateau_misses_the_check_of_a_validation_lightning_skips`);
    - after a resume from a checkpoint written after the last training batch of an epoch, a later
      checkpoint written before the end of an epoch resumes from the first batch of that epoch: such
      a stop is always the last one.
    """
    rng = random.Random(f"{SEED}-{name}-{accumulate}")
    last_batch = {e[1]: e[2] for e in events if e[0] == "train"}  # epoch -> index of its last batch
    validation_after: dict[Event, tuple[int, int]] = {}  # training batch -> the validation due after it
    for before, after in pairwise(events):
        if before[0] == "train" and after[0] == "val":
            validation_after[before] = after[1:3]
    epoch_end = {e for e in events if e[0] == "train" and e[2] == last_batch[e[1]]}
    plateau = name == "ReduceLROnPlateau"
    third = len(events) // 3
    kinds = ["train", "val", rng.choice(["train", "val"])]
    rng.shuffle(kinds)
    stops: list[tuple[str, Event]] = []
    blocked: tuple[int, int] | None = None  # the validation a resume will not replay
    for i, kind in enumerate(kinds):
        candidates = [
            e
            for e in events[i * third : (i + 1) * third]
            if e[0] == kind
            and (i == len(kinds) - 1 or e not in epoch_end)
            and e[1:3] != blocked
            and not (plateau and e in validation_after)
        ]
        event = rng.choice(candidates)
        if kind == "train":
            stops.append(("after-train-batch", event))
            blocked = validation_after.get(event)
        else:
            mode = rng.choice(["in-validation-step"] if plateau else ["after-validation-batch", "in-validation-step"])
            stops.append((mode, event))
            blocked = event[1:3]
    return stops


@pytest.mark.parametrize("accumulate", [1, 3])
@pytest.mark.parametrize(("name", "factory", "model_kwargs"), RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_crash_at_random_points_and_resume_gives_the_uninterrupted_sequence(
    tmp_path: Path, name: str, factory: Callable[[], ScheduleCallback], model_kwargs: dict[str, Any], accumulate: int
) -> None:
    full = fit_segment(tmp_path / "full", factory, model_kwargs, accumulate)
    assert not full.crashed and len(full.lrs) == 4 * math.ceil(10 / accumulate)
    stops = pick_stops(name, accumulate, full.events)
    segments: list[Segment] = []
    ckpt = None
    for i, stop in enumerate([*stops, None]):
        segment = fit_segment(tmp_path / f"segment{i}", factory, model_kwargs, accumulate, stop, ckpt)
        assert segment.crashed == (stop is not None), f"stop {stop} was never reached"
        segments.append(segment)
        ckpt = segment.checkpoint
    lrs = [step for s in segments for step in s.lrs]
    momenta = [step for s in segments for step in s.momenta]
    assert lrs == full.lrs, f"stops {stops}: {[len(s.lrs) for s in segments]} steps per segment"
    assert momenta == full.momenta


def plateau() -> ReduceLROnPlateau:
    return ReduceLROnPlateau("val_loss", patience=0, factor=0.5)


@pytest.mark.parametrize(
    ("mode", "event", "checks_lost"),
    [
        pytest.param("after-validation-batch", ("val", 1, 15, 1), 1, id="after-a-validation-batch"),
        pytest.param("after-train-batch", ("train", 1, 4), 1, id="after-the-batch-before-a-validation"),
        pytest.param("after-train-batch", ("train", 1, 9), 1, id="after-the-last-batch-of-an-epoch"),
        pytest.param("in-validation-step", ("val", 1, 15, 1), 0, id="inside-validation_step"),
    ],
)
def test_plateau_misses_the_check_of_a_validation_lightning_skips(
    tmp_path: Path, mode: str, event: Event, checks_lost: int
) -> None:
    """Lightning 2.6 does not replay a validation interrupted after a batch, nor one due after the training
    batch at which the checkpoint was written; it finishes one interrupted inside ``validation_step``.

    The metric of a skipped validation is never computed, so no callback can take the decision the
    uninterrupted run took there: the resumed ``ReduceLROnPlateau`` makes exactly one check fewer. This
    test pins that behaviour (documented in docs/reliability.md); if Lightning starts replaying those
    validations, it fails and the documentation must change.
    """
    full = fit_segment(tmp_path / "full", plateau, {}, 1)
    assert full.callback.plateau.checks == 8  # 4 epochs, 2 validations each
    before = fit_segment(tmp_path / "before", plateau, {}, 1, (mode, event))
    assert before.crashed
    after = fit_segment(tmp_path / "after", plateau, {}, 1, None, before.checkpoint)
    assert len(before.lrs) + len(after.lrs) == len(full.lrs)  # the steps themselves are all there
    assert after.callback.plateau.checks == full.callback.plateau.checks - checks_lost


# ====================================================================================== 3. NaN and inf losses
class BadLossModel(TinyModel):
    """Returns a NaN loss at batch 3 and an inf loss at batch 7 (the weights are NaN from then on)."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        if batch_idx == 3:
            return loss * math.nan
        return loss * math.inf if batch_idx == 7 else loss


NAN_CASES = [(name, factory) for name, factory, _ in RESUME_CASES if name != "ReduceLROnPlateau"]


@pytest.mark.parametrize(("name", "factory"), NAN_CASES, ids=[c[0] for c in NAN_CASES])
def test_a_nan_or_inf_loss_never_reaches_the_lr(tmp_path: Path, name: str, factory: Callable[[], Any]) -> None:
    from lightning.pytorch.loggers import CSVLogger

    clean = TinyModel(groups=2, n=40, batch_size=4)
    make_trainer(tmp_path / "clean", [factory()], max_epochs=4).fit(clean)
    model = BadLossModel(groups=2, n=40, batch_size=4)
    logger = CSVLogger(tmp_path, name="", version="")
    make_trainer(tmp_path, [factory()], max_epochs=4, logger=logger, log_every_n_steps=1).fit(model)
    assert not all(math.isfinite(p) for p in model.layer.weight.detach().flatten().tolist()), "the weights stay NaN"
    assert model.recorder.lrs == clean.recorder.lrs  # the schedule does not depend on the loss
    assert all(math.isfinite(v) for step in model.recorder.lrs for v in step)
    assert all(m is None or math.isfinite(m) for step in model.recorder.momenta for m in step)
    rows = (Path(logger.log_dir) / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    lr_columns = [i for i, h in enumerate(header) if h.startswith("lr-")]
    logged = [float(cells[i]) for row in rows[1:] for i in lr_columns if (cells := row.split(","))[i]]
    assert len(logged) == len(lr_columns) * len(model.recorder.lrs)
    assert all(math.isfinite(v) for v in logged)


class MetricModel(TinyModel):
    """Logs ``metric`` = ``values[epoch]`` in training (on_epoch; no validation loop)."""

    def __init__(self, values: list[float], **kwargs: Any) -> None:
        super().__init__(n=16, batch_size=4, **kwargs)  # 4 steps per epoch
        self.values = values

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.log("metric", torch.tensor(self.values[self.current_epoch]), on_step=False, on_epoch=True)
        return super().training_step(batch, batch_idx)


class ValMetricModel(MetricModel):
    """Logs ``metric`` in validation instead, once per epoch."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return TinyModel.training_step(self, batch, batch_idx)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("metric", torch.tensor(self.values[self.current_epoch]))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(4, self.features, seed=1), batch_size=4)


def torch_plateau_lrs(values: list[float], **kwargs: Any) -> list[float]:
    """The reference: PyTorch's ReduceLROnPlateau stepped at each epoch end with that epoch's value."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    lrs = []
    for value in values:
        lrs.append(optimizer.param_groups[0]["lr"])
        scheduler.step(value)
    return lrs


NAN, INF = math.nan, math.inf
METRIC_CASES = [
    pytest.param([1.0, NAN, 0.5, INF, NAN, NAN, 0.4, 0.3], {"mode": "min"}, id="min-nan-inf"),
    pytest.param([NAN, 1.0, -INF, 2.0, NAN, 2.0, 3.0, NAN], {"mode": "max"}, id="max-nan-minus-inf"),
    pytest.param([NAN] * 8, {"mode": "min", "min_lr": 1e-3}, id="always-nan-down-to-min_lr"),
    pytest.param([-INF, 1.0, NAN, 0.5, 0.5, 0.4, NAN, 0.1], {"threshold_mode": "abs"}, id="abs-minus-inf-first"),
]


@pytest.mark.parametrize(("values", "kwargs"), METRIC_CASES)
@pytest.mark.parametrize("where", ["training", "validation"])
def test_plateau_on_a_nan_or_inf_metric_keeps_a_finite_lr_and_decides_as_pytorch(
    tmp_path: Path, values: list[float], kwargs: dict[str, Any], where: str
) -> None:
    model_class = MetricModel if where == "training" else ValMetricModel
    model = model_class(values)
    make_trainer(tmp_path, [ReduceLROnPlateau("metric", patience=1, factor=0.5, **kwargs)], max_epochs=8).fit(model)
    lrs = [step[0] for step in model.recorder.lrs]
    assert all(math.isfinite(v) and v > 0 for v in lrs)
    assert lrs[::4] == pytest.approx(torch_plateau_lrs(values, patience=1, factor=0.5, **kwargs), rel=1e-12)


def test_plateau_on_a_training_metric_checks_the_epoch_just_finished_also_with_a_validation_loop(
    tmp_path: Path,
) -> None:
    """A metric logged in ``training_step`` is the one of the epoch that just ended, validation loop or not.

    Lightning hosts a plateau scheduler that way, and it is what PyTorch's ``scheduler.step(train_loss)``
    at each epoch end does. The no-validation case is in the test above; here the model also validates.
    """
    values = [1.0, 0.5, 0.6, 0.7, 0.4, 0.45, 0.5, 0.55]

    class TrainMetricAndValidation(MetricModel):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", torch.tensor(1.0))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(random_data(4, self.features, seed=1), batch_size=4)

    model = TrainMetricAndValidation(values)
    callback = ReduceLROnPlateau("metric", patience=0, factor=0.5)
    make_trainer(tmp_path, [callback], max_epochs=8, num_sanity_val_steps=0).fit(model)
    assert [step[0] for step in model.recorder.lrs][::4] == pytest.approx(
        torch_plateau_lrs(values, patience=0, factor=0.5), rel=1e-12
    )
    assert callback.plateau.checks == 8


# ===================================================================================== 4. checkpoint versions
FIXTURE_STOP = ("after-train-batch", ("train", 1, 3))  # mid-epoch: after 14 of 40 steps
FIXTURE_CASES: dict[str, tuple[Callable[[], ScheduleCallback], dict[str, Any]]] = {
    "OneCycle": (lambda: OneCycle(three_phase=True, warmup=2), {"groups": 2}),
    "ReduceLROnPlateau": (
        lambda: ReduceLROnPlateau("val_loss", patience=0, factor=0.5, warmup=3, schedule=Cosine(1.0, 0.1)),
        {"groups": 2},
    ),
}
V1_CHECKPOINT = FIXTURES / "v1_onecycle_mid_epoch.ckpt"
LEGACY_STATES = FIXTURES / "legacy_states.json"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)  # type: ignore[no-any-return]


def rewrite_callback_state(path: str, key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> str:
    """A copy of the checkpoint at ``path`` with the state of the callback ``key`` replaced by ``change(state)``."""
    checkpoint = load_checkpoint(path)
    checkpoint["callbacks"][key] = change(dict(checkpoint["callbacks"][key]))
    out = f"{path}.edited.ckpt"
    torch.save(checkpoint, out)
    return out


def test_a_real_checkpoint_holds_the_version_and_a_state_without_version_is_version_1(tmp_path: Path) -> None:
    factory, model_kwargs = FIXTURE_CASES["OneCycle"]
    stopped = fit_segment(tmp_path, factory, model_kwargs, 1, FIXTURE_STOP)
    key = stopped.callback.state_key
    state = load_checkpoint(stopped.checkpoint or "")["callbacks"][key]
    assert state["version"] == stopped.callback.state_dict()["version"] == 2
    assert set(state) == {"version", "base_lrs", "steps", "planned", "total", "stretches", "joined"}
    assert state["steps"] == [len(stopped.lrs)]
    assert state["planned"][0] == state["total"] and state["stretches"] == [[]] and state["joined"] == [[]]


@pytest.mark.parametrize("name", list(FIXTURE_CASES))
def test_a_state_written_before_the_version_field_resumes_exactly(tmp_path: Path, name: str) -> None:
    """``tests/fixtures/legacy_states.json``: states in the layout without ``version``, taken at ``FIXTURE_STOP``."""
    factory, model_kwargs = FIXTURE_CASES[name]
    legacy = json.loads(LEGACY_STATES.read_text())[name]
    assert "version" not in legacy["state"]
    full = fit_segment(tmp_path / "full", factory, model_kwargs, 1)
    before = fit_segment(tmp_path / "before", factory, model_kwargs, 1, FIXTURE_STOP)
    assert before.callback.state_key == legacy["state_key"]
    ckpt = rewrite_callback_state(before.checkpoint or "", legacy["state_key"], lambda _: legacy["state"])
    after = fit_segment(tmp_path / "after", factory, model_kwargs, 1, None, ckpt)
    assert before.lrs + after.lrs == full.lrs
    assert before.momenta + after.momenta == full.momenta


def test_a_checkpoint_file_written_by_another_process_resumes_exactly(tmp_path: Path) -> None:
    """``tests/fixtures/v1_onecycle_mid_epoch.ckpt``, written at ``FIXTURE_STOP`` by ``write_fixtures``."""
    factory, model_kwargs = FIXTURE_CASES["OneCycle"]
    checkpoint = load_checkpoint(V1_CHECKPOINT)
    state = next(v for k, v in checkpoint["callbacks"].items() if k.startswith("OneCycle"))
    assert state["version"] == 1
    taken = checkpoint["global_step"]
    assert state["steps"] == [taken] and 0 < taken < 40
    full = fit_segment(tmp_path / "full", factory, model_kwargs, 1)
    after = fit_segment(tmp_path / "after", factory, model_kwargs, 1, None, str(V1_CHECKPOINT))
    assert after.lrs == full.lrs[taken:]
    assert after.momenta == full.momenta[taken:]


@pytest.mark.parametrize("name", list(FIXTURE_CASES))
def test_a_state_from_a_newer_version_is_refused_before_any_step(tmp_path: Path, name: str) -> None:
    factory, model_kwargs = FIXTURE_CASES[name]
    before = fit_segment(tmp_path / "before", factory, model_kwargs, 1, FIXTURE_STOP)
    newer = before.callback.state_dict()["version"] + 1
    ckpt = rewrite_callback_state(before.checkpoint or "", before.callback.state_key, lambda s: {**s, "version": newer})
    model = ResumeModel(**model_kwargs)
    trainer = make_trainer(tmp_path / "after", [factory()], max_epochs=4, val_check_interval=0.5)
    with pytest.raises(ValueError, match=f"(?s)(?=.*version {newer})(?=.*upgrade lightning_lr)"):
        trainer.fit(model, ckpt_path=ckpt)
    assert model.recorder.lrs == []


def write_fixtures() -> None:
    """Writes ``tests/fixtures/``: a version-1 checkpoint file and the legacy (no ``version``) states."""
    import shutil
    import tempfile

    FIXTURES.mkdir(exist_ok=True)
    legacy = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (factory, model_kwargs) in FIXTURE_CASES.items():
            stopped = fit_segment(Path(tmp) / name, factory, model_kwargs, 1, FIXTURE_STOP)
            assert stopped.checkpoint is not None
            key = stopped.callback.state_key
            state = load_checkpoint(stopped.checkpoint)["callbacks"][key]
            legacy[name] = {"state_key": key, "state": {k: v for k, v in state.items() if k != "version"}}
            if name == "OneCycle":
                shutil.copyfile(stopped.checkpoint, V1_CHECKPOINT)
    LEGACY_STATES.write_text(json.dumps(legacy, indent=2) + "\n")


# ================================================================================ 5. misuse found by the trainer
class NoOptimizer(TinyModel):
    def configure_optimizers(self) -> Any:
        return None  # Lightning then trains with a stand-in optimizer that has no param groups


class Endless(IterableDataset):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        return iter(random_data(16))


class NoLength(TinyModel):
    def train_dataloader(self) -> DataLoader:
        return DataLoader(Endless(), batch_size=4)


def hosted_plateau(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer), "monitor": "train_loss"}


class HostedPlateau(TinyModel):
    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        self.recorder.attach(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": hosted_plateau(optimizer)}


MISUSE = [
    pytest.param(NoOptimizer, lambda: [StepDecay(4)], {}, ("StepDecay", "optimizer"), id="no-optimizer"),
    pytest.param(NoLength, lambda: [OneCycle()], {}, ("OneCycle",), id="iterable-dataset-without-length"),
    # a shorter expression or transformers-style schedule holds its end, as PyTorch's, and a longer one only
    # warns: tests/test_integration_length.py
    pytest.param(
        TinyModel,
        lambda: [CosineRestarts(T_0=4, eta_min=0.5)],
        {},
        ("CosineRestarts", "eta_min"),
        id="eta_min-above-lr",
    ),
    pytest.param(
        TinyModel, lambda: [MultiStepDecay(["75%", 4])], {}, ("MultiStepDecay", "increasing"), id="milestones-unordered"
    ),
    pytest.param(
        TinyModel,
        lambda: [StepDecay(4, warmup="10%")],
        {"max_epochs": -1, "max_steps": -1},
        ("StepDecay",),
        id="fraction-of-an-endless-run",
    ),
    pytest.param(
        HostedPlateau, lambda: [OneCycle()], {}, ("OneCycle", "ReduceLROnPlateau", "configure_optimizers"), id="hosted"
    ),
    pytest.param(
        TinyModel,
        lambda: [ExponentialDecay(0.9, optimizers=[0]), CosineAnnealing()],
        {},
        ("ExponentialDecay", "CosineAnnealing"),
        id="two-callbacks-index-and-default",
    ),
]


@pytest.mark.parametrize(("model_class", "callbacks", "trainer_kwargs", "fragments"), MISUSE)
def test_misuse_is_refused_before_the_first_step(
    tmp_path: Path,
    model_class: type[TinyModel],
    callbacks: Callable[[], list[Any]],
    trainer_kwargs: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    model = model_class()
    trainer = make_trainer(tmp_path, callbacks(), **trainer_kwargs)
    pattern = "(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    with pytest.raises(ScheduleConflictError, match=pattern):
        trainer.fit(model)
    assert model.recorder.lrs == [] and trainer.global_step == 0


if __name__ == "__main__":
    write_fixtures()
