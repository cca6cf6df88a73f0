"""Hypothesis strategies shared by the property tests and the fuzzed callback configurations.

Two families, each sized to what it feeds:

- schedule expressions on a random :class:`Timeline` (``test_properties.py``): primitives, nested
  combinators and the recipes, with durations in every accepted form (numbers of steps, ``"N steps"``,
  ``"N epochs"``, ``"P%"``, :class:`Span`), sized to fit the timeline;
- runs a named callback is previewed on (``test_fuzz_configs.py``): interval, length, per-group
  base LRs, the warmup in every accepted form, per-group values, and non-negative factor schedules
  that never conflict with the run's length.

:func:`value_bounds` is the oracle both use: the bounds of an *unresolved* expression from the
documented meaning of each node, never from the library's resolved output.

Every strategy draws in a fixed order; keep it so (the fuzz is derandomized, and a changed order
changes every example).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import hypothesis.strategies as st

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
    Timeline,
    Truncate,
    Warmup,
    cosine_restarts,
    epochs,
    fraction,
    one_cycle,
    steps,
    triangle_wave,
    warmup_stable_decay,
)

VALUE = st.floats(-2.0, 3.0, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(1e-3, 3.0, allow_nan=False, allow_infinity=False)
UNIT = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
LR = st.floats(1e-4, 1.0, allow_nan=False)
INTERPOLATIONS = (Linear, Cosine, Polynomial, Power)
DECAYS = (Exponential, Step, MultiStep, InverseSqrt)

# ------------------------------------------------------------------------------------------ durations
ALL_FORMS = ("number", "steps-str", "steps", "percent", "fraction", "epochs-str", "epochs")
"""Every way to write a duration a schedule accepts."""
CALLBACK_FORMS = ("number", "percent", "epochs-str", "epochs")
"""The forms the fuzzed callback arguments are written in."""


class Length(Protocol):
    """What a duration is drawn for: a :class:`Timeline` or a :class:`PreviewRun`."""

    @property
    def total(self) -> float: ...

    @property
    def steps_per_epoch(self) -> float: ...


def duration(
    draw: st.DrawFn, tl: Length, frac: float, forms: tuple[str, ...] = ALL_FORMS, min_steps: float = 0.0
) -> Any:
    """``frac`` of training (``0 < frac < 1``) written in one of ``forms``.

    A number of steps below ``min_steps`` is written as a percentage instead (a callback's duration in
    steps is at least one clock unit).
    """
    n_steps = frac * tl.total
    n_epochs = n_steps / tl.steps_per_epoch
    form = draw(st.sampled_from(forms))
    if form in ("number", "steps-str", "steps") and n_steps < min_steps:
        form = "percent"
    written = {
        "number": lambda: n_steps,
        "steps-str": lambda: f"{n_steps!r} steps",
        "steps": lambda: steps(n_steps),
        "percent": lambda: f"{frac * 100.0!r}%",
        "fraction": lambda: fraction(frac),
        "epochs-str": lambda: f"{n_epochs!r} epochs",
        "epochs": lambda: epochs(n_epochs),
    }
    return written[form]()


# ------------------------------------------------------------------------------ schedule expressions


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    total = draw(st.integers(4, 5000))
    per_epoch = draw(st.integers(1, total))
    return Timeline(float(total), float(per_epoch))


def part_of_run(value: Any) -> Any:
    """A duration for a part of the run (``Warmup``): there a float is a fraction, so a number of steps is a Span."""
    return steps(value) if isinstance(value, float) else value


def draw_frac(draw: st.DrawFn, budget: float | None) -> float:
    high = 0.95 if budget is None else budget
    return draw(st.floats(0.05 * high, high, allow_nan=False))


@st.composite
def interpolation(
    draw: st.DrawFn, tl: Timeline, budget: float | None, allow_fill: bool, fill: bool | None = None
) -> Schedule:
    """Linear, Cosine, Polynomial or Power; ``fill``: ``duration=None`` (``None``: maybe, if allowed)."""
    cls = draw(st.sampled_from(INTERPOLATIONS))
    a, b = draw(VALUE), draw(VALUE)
    if fill is None:
        fill = allow_fill and draw(st.booleans())
    dur = None if fill else duration(draw, tl, draw_frac(draw, budget))
    if cls in (Polynomial, Power):
        return cls(a, b, dur, power=draw(st.floats(0.5, 4.0)))
    return cls(a, b, dur)


@st.composite
def primitive(draw: st.DrawFn, tl: Timeline, budget: float | None, allow_fill: bool) -> Schedule:
    kinds = ["interpolation", "interpolation", "constant-for"]
    if budget is None:
        kinds += ["constant", "exponential", "exponential-rate", "step", "multistep", "inverse-sqrt"]
    kind = draw(st.sampled_from(kinds))

    def dur() -> Any:
        return duration(draw, tl, draw_frac(draw, budget))

    if kind == "interpolation":
        return draw(interpolation(tl, budget, allow_fill))
    if kind == "constant-for":
        return Constant(draw(VALUE), dur())
    if kind == "constant":
        return Constant(draw(VALUE))
    if kind == "exponential":
        return Exponential(draw(st.floats(0.01, 1.0)), dur(), draw(st.booleans()), draw(VALUE))
    if kind == "exponential-rate":
        return Exponential.from_rate(draw(st.floats(0.0, 5.0)), dur(), draw(st.booleans()), draw(VALUE))
    if kind == "step":
        return Step(dur(), draw(UNIT), draw(VALUE))
    if kind == "multistep":
        fracs = sorted(draw(st.lists(st.floats(0.01, 0.95), min_size=1, max_size=4)))
        if draw(st.booleans()):
            milestones: tuple[Any, ...] = tuple(f * tl.total for f in fracs)
        else:
            milestones = tuple(f"{f * 100.0!r}%" for f in fracs)
        return MultiStep(milestones, draw(UNIT), draw(VALUE))
    return InverseSqrt(dur(), draw(VALUE))


@st.composite
def recipe(draw: st.DrawFn, tl: Timeline, allow_fill: bool, room: float) -> Schedule:
    kind = draw(st.sampled_from(["one_cycle", "triangle_wave", "cosine_restarts", "warmup_stable_decay"]))
    if kind == "one_cycle":
        return one_cycle(**draw(one_cycle_args()))
    if kind == "triangle_wave":
        return triangle_wave(**draw(triangle_args(tl)))
    if kind == "cosine_restarts":
        return cosine_restarts(**draw(restarts_args(tl)))
    return warmup_stable_decay(**draw(wsd_args(tl, room, allow_fill)))


@st.composite
def expression(
    draw: st.DrawFn, tl: Timeline, depth: int, budget: float | None = None, allow_fill: bool = True, room: float = 1.0
) -> Schedule:
    """A schedule whose length is at most ``budget`` of training (``None``: any, endless too).

    ``allow_fill``: it may hold a phase with ``duration=None`` (fills what remains, at least ``room``
    of training); ``room``: a lower bound on what remains of training where it starts.
    """
    kinds = ["primitive"]
    if depth > 0:
        kinds += ["join", "join", "cycle", "affine", "clamp", "product", "truncate"]
    if budget is None:
        kinds += ["recipe"]
    kind = draw(st.sampled_from(kinds))
    sub = depth - 1
    if kind == "primitive":
        return draw(primitive(tl, budget, allow_fill))
    if kind == "recipe":
        return draw(recipe(tl, allow_fill, room))
    if kind == "join":
        return draw(join(tl, sub, budget, allow_fill, room))
    if kind == "cycle":
        period_mult = draw(st.one_of(st.just(1.0), st.floats(1.0, 2.5)))
        peak_decay = draw(st.one_of(st.just(1.0), UNIT))
        max_cycles = draw(st.integers(1, 4)) if budget is not None else draw(st.none() | st.integers(1, 5))
        if budget is not None:
            assert max_cycles is not None
            inner_budget = 0.9 * budget / sum(period_mult**k for k in range(max_cycles))
        else:
            inner_budget = draw(st.floats(0.02, 0.95))
        inner = draw(expression(tl, sub, inner_budget, False, room))
        return Cycle(inner, period_mult, peak_decay, max_cycles)
    if kind == "affine":
        return Affine(draw(expression(tl, sub, budget, allow_fill, room)), draw(VALUE), draw(VALUE))
    if kind == "clamp":
        inner = draw(expression(tl, sub, budget, allow_fill, room))
        lo, hi = sorted([draw(VALUE), draw(VALUE)])
        return Clamp(inner, draw(st.sampled_from([lo, None])), draw(st.sampled_from([hi, None])))
    if kind == "product":
        return Product(tuple(draw(expression(tl, sub, budget, allow_fill, room)) for _ in range(2)))
    inner = draw(expression(tl, sub, None, allow_fill, room))
    return Truncate(inner, duration(draw, tl, draw_frac(draw, budget)))


@st.composite
def join(draw: st.DrawFn, tl: Timeline, depth: int, budget: float | None, allow_fill: bool, room: float) -> Join:
    n = draw(st.integers(2, 4))
    fill_at = draw(st.integers(0, n - 1)) if budget is None and allow_fill and draw(st.booleans()) else None
    endless_last = budget is None and fill_at is None
    fixed = 0.8 * (room if budget is None else budget)
    weights = [draw(st.floats(0.1, 1.0)) for _ in range(n)]
    phases: list[Schedule] = []
    used = 0.0
    for i, w in enumerate(weights):
        share = fixed * w / sum(weights)
        if i == fill_at:
            phases.append(draw(interpolation(tl, None, True, fill=True)))
        elif i == n - 1 and endless_last:
            phases.append(draw(expression(tl, depth, None, allow_fill, room - used)))
        else:
            phases.append(draw(expression(tl, depth, share, False, room - used)))
            used += share
    return Join(tuple(phases))


@st.composite
def schedules(draw: st.DrawFn, depth: int = 3) -> tuple[Schedule, Timeline]:
    """A random valid (unresolved) expression and the timeline to resolve it on."""
    tl = draw(timelines())
    if draw(st.booleans()):
        width = draw(st.floats(0.01, 0.5))
        inner = draw(expression(tl, depth, None, True, 1.0 - width))
        return Warmup(inner, part_of_run(duration(draw, tl, width)), draw(UNIT)), tl
    return draw(expression(tl, depth, None, True, 1.0)), tl


@st.composite
def one_cycle_args(draw: st.DrawFn) -> dict[str, Any]:
    three_phase = draw(st.booleans())
    pct = draw(st.floats(0.05, 0.45 if three_phase else 0.95))
    shortest = math.floor(1.0 / pct) + 2  # every phase non-empty: pct * T - 1 > 0
    return {
        "peak": draw(POSITIVE),
        "total_steps": draw(st.integers(shortest, shortest + 3000)),
        "pct_start": pct,
        "anneal_strategy": draw(st.sampled_from(["cos", "linear"])),
        "div_factor": draw(st.floats(1.0, 100.0)),
        "final_div_factor": draw(st.floats(1.0, 1e4)),
        "three_phase": three_phase,
    }


@st.composite
def triangle_args(draw: st.DrawFn, tl: Timeline) -> dict[str, Any]:
    up = draw(st.floats(0.005, 0.5)) * tl.total
    return {
        "step_size_up": up,
        "step_size_down": draw(st.none() | st.floats(0.005, 0.5).map(lambda f: f * tl.total)),
        "mode": draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
        "gamma": draw(st.floats(0.9, 1.0)),
    }


@st.composite
def restarts_args(draw: st.DrawFn, tl: Timeline, with_warmup: bool | None = None) -> dict[str, Any]:
    peak = draw(POSITIVE)
    t0 = draw(st.floats(0.01, 0.8)) * tl.total
    warm = draw(st.booleans()) if with_warmup is None else with_warmup
    return {
        "peak": peak,
        "T_0": t0,
        "T_mult": draw(st.one_of(st.just(1.0), st.just(2.0), st.floats(1.0, 3.0))),
        "eta_min": draw(st.floats(0.0, 1.0)) * peak,
        "peak_decay": draw(st.one_of(st.just(1.0), UNIT)),
        "cycle_warmup": draw(st.floats(0.05, 0.9)) * t0 if warm else 0.0,
    }


@st.composite
def wsd_args(draw: st.DrawFn, tl: Timeline, room: float = 1.0, allow_fill: bool = True) -> dict[str, Any]:
    peak = draw(POSITIVE)
    warm, decay = draw(st.floats(0.02, 0.4)) * room, draw(st.floats(0.02, 0.4)) * room
    fill = allow_fill and draw(st.booleans())
    return {
        "peak": peak,
        "warmup": duration(draw, tl, warm),
        "decay": duration(draw, tl, decay),
        "stable": None if fill else duration(draw, tl, draw(st.floats(0.02, 0.15)) * room),
        "end": draw(st.floats(0.0, 0.5)) * peak,
        "decay_shape": draw(st.sampled_from(["linear", "cosine", "sqrt"])),
    }


@st.composite
def continuous(draw: st.DrawFn, tl: Timeline, depth: int, room: float, fill: bool = True) -> Schedule:
    """Expressions whose formula is continuous everywhere (no restarts, no steps)."""
    kinds = ["interpolation", "chain"] + (["affine", "clamp", "product", "tent-cycle"] if depth > 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "interpolation":
        return draw(interpolation(tl, None, fill))
    if kind == "chain":
        return draw(chain(tl, room, fill))
    if kind == "affine":
        return Affine(draw(continuous(tl, depth - 1, room, fill)), draw(VALUE), draw(VALUE))
    if kind == "clamp":
        lo, hi = sorted([draw(VALUE), draw(VALUE)])
        return Clamp(draw(continuous(tl, depth - 1, room, fill)), lo, hi)
    if kind == "product":
        return Product((draw(continuous(tl, depth - 1, room, fill)), draw(continuous(tl, depth - 1, room, fill))))
    # a cycle of a chain that ends where it starts: 0 -> ... -> 0 (any peak decay)
    tent = draw(chain(tl, draw(st.floats(0.02, 0.5)), False, closed=True))
    return Cycle(tent, draw(st.floats(1.0, 2.5)), draw(UNIT), draw(st.none() | st.integers(1, 6)))


@st.composite
def chain(draw: st.DrawFn, tl: Timeline, room: float, fill: bool, closed: bool = False) -> Join:
    """A Join of interpolations, each starting where the previous one ends."""
    n = draw(st.integers(2, 4))
    fill_at = draw(st.integers(0, n - 1)) if fill and draw(st.booleans()) else None
    points = [0.0 if closed else draw(VALUE)] + [draw(VALUE) for _ in range(n - 1)] + [0.0 if closed else draw(VALUE)]
    weights = [draw(st.floats(0.1, 1.0)) for _ in range(n)]
    phases = []
    for i in range(n):
        cls = draw(st.sampled_from(INTERPOLATIONS))
        dur = None if i == fill_at else duration(draw, tl, 0.8 * room * weights[i] / sum(weights))
        extra = {"power": draw(st.floats(0.5, 4.0))} if cls in (Polynomial, Power) else {}
        phases.append(cls(points[i], points[i + 1], dur, **extra))
    return Join(tuple(phases))


@st.composite
def continuous_schedules(draw: st.DrawFn) -> tuple[Schedule, Timeline]:
    tl = draw(timelines())
    if draw(st.booleans()):
        width = draw(st.floats(0.01, 0.5))
        return Warmup(draw(continuous(tl, 2, 1.0 - width)), part_of_run(duration(draw, tl, width)), draw(UNIT)), tl
    return draw(continuous(tl, 2, 1.0)), tl


# ------------------------------------------------------------------------------------------ oracle


def hull(*intervals: tuple[float, float]) -> tuple[float, float]:
    return min(i[0] for i in intervals), max(i[1] for i in intervals)


def value_bounds(s: Schedule) -> tuple[float, float]:
    """Bounds of ``s(t)`` for all ``t >= 0`` from the documented meaning of each node (unresolved ``s``)."""
    if isinstance(s, Constant):
        return s.value, s.value
    if isinstance(s, INTERPOLATIONS):
        return min(s.start, s.end), max(s.start, s.end)
    if isinstance(s, DECAYS):  # start * (factor in [0, 1]) with the rates the strategies draw
        return min(0.0, s.start), max(0.0, s.start)
    if isinstance(s, Join):
        return hull(*(value_bounds(p) for p in s.phases))
    if isinstance(s, Cycle):  # peak_decay ** n in [0, 1]
        inner = value_bounds(s.schedule)
        return inner if s.peak_decay == 1.0 else hull(inner, (0.0, 0.0))
    if isinstance(s, Product):
        lo, hi = 1.0, 1.0
        for f in s.factors:
            a, b = value_bounds(f)
            corners = [lo * a, lo * b, hi * a, hi * b]
            lo, hi = min(corners), max(corners)
        return lo, hi
    if isinstance(s, Affine):
        a, b = value_bounds(s.schedule)
        return tuple(sorted((s.offset + s.scale * a, s.offset + s.scale * b)))  # type: ignore[return-value]
    if isinstance(s, Clamp):
        a, b = value_bounds(s.schedule)
        lo = -math.inf if s.minimum is None else s.minimum
        hi = math.inf if s.maximum is None else s.maximum
        return min(max(a, lo), hi), min(max(b, lo), hi)
    if isinstance(s, Truncate):
        return value_bounds(s.schedule)
    if isinstance(s, Warmup):  # ramp from start_factor * s(0) to s(0): between 0 and s(0)
        return hull(value_bounds(s.schedule), (0.0, 0.0))
    raise AssertionError(f"no bounds for {s!r}")


# ------------------------------------------------------------------------ runs a callback is previewed on
@dataclass
class PreviewRun:
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
        """``frac`` of training (in (0, 1)) written in one of the forms a callback argument takes."""
        return duration(draw, self, frac, CALLBACK_FORMS, min_steps=1.0)


@st.composite
def runs(draw: st.DrawFn, warmup: bool = True) -> PreviewRun:
    interval = draw(st.sampled_from(["step", "epoch"]))
    total = draw(st.integers(20, 300))
    per_epoch = draw(st.integers(1, total)) if interval == "step" else 1
    groups = draw(st.integers(1, 3))
    run = PreviewRun(
        interval, total, per_epoch, [draw(LR) for _ in range(groups)], draw(st.sampled_from(["sgd", "adam"]))
    )
    if warmup:
        run.warmup, run.width = draw(warmups(run))
        run.start_factor = draw(UNIT)
    return run


@st.composite
def warmups(draw: st.DrawFn, run: PreviewRun) -> tuple[Any, float]:
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
def factor_schedules(draw: st.DrawFn, run: PreviewRun, depth: int = 2) -> Schedule:
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
def finite_phases(draw: st.DrawFn, run: PreviewRun, budget: float) -> Schedule:
    """An interpolation or a constant lasting at most ``budget`` of training."""
    cls = draw(st.sampled_from([Linear, Cosine, Polynomial, Power, Constant]))
    duration = run.duration(draw, draw(st.floats(0.05, 1.0)) * budget)
    if cls is Constant:
        return Constant(draw(st.floats(0.0, 2.0)), duration)
    extra = {"power": draw(st.floats(0.5, 3.0))} if cls in (Polynomial, Power) else {}
    return cls(draw(st.floats(0.0, 2.0)), draw(st.floats(0.0, 2.0)), duration, **extra)


def momenta(draw: st.DrawFn, groups: int) -> tuple[list[float], list[float]]:
    pairs = [sorted([draw(UNIT), draw(UNIT)]) for _ in range(groups)]
    if draw(st.booleans()):  # one number for every group
        pairs = [pairs[0]] * groups
    return [p[0] for p in pairs], [p[1] for p in pairs]
