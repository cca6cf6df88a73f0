"""Hypothesis properties of the pure schedules: finite, bounded, continuous, picklable, readable.

Strategies build random *valid* schedule expressions — primitives, nested combinators and the
recipes — with durations written in every accepted form (numbers of steps, ``"N steps"``,
``"N epochs"``, ``"P%"``, :class:`Span`), sized so that they fit the random
:class:`Timeline` they are resolved on. The expected bounds are computed from the *unresolved*
expression and the documented semantics of each node (see :func:`value_bounds`), never from the
library's resolved output.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

import lightning_lr.schedules as schedules_module
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
    Span,
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

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAST = settings(SETTINGS, max_examples=60)

VALUE = st.floats(-2.0, 3.0, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(1e-3, 3.0, allow_nan=False, allow_infinity=False)
UNIT = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
INTERPOLATIONS = (Linear, Cosine, Polynomial, Power)
DECAYS = (Exponential, Step, MultiStep, InverseSqrt)

# ------------------------------------------------------------------------------------------ strategies


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    total = draw(st.integers(4, 5000))
    per_epoch = draw(st.integers(1, total))
    return Timeline(float(total), float(per_epoch))


def duration(draw: st.DrawFn, tl: Timeline, frac: float) -> Any:
    """``frac`` of training (``0 < frac < 1``) written in one of the accepted forms."""
    n_steps = frac * tl.total
    n_epochs = n_steps / tl.steps_per_epoch
    form = draw(st.sampled_from(["number", "steps-str", "steps", "percent", "fraction", "epochs-str", "epochs"]))
    return {
        "number": n_steps,
        "steps-str": f"{n_steps!r} steps",
        "steps": steps(n_steps),
        "percent": f"{frac * 100.0!r}%",
        "fraction": fraction(frac),
        "epochs-str": f"{n_epochs!r} epochs",
        "epochs": epochs(n_epochs),
    }[form]


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


# ------------------------------------------------------------------------------------------ oracles


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


def breakpoints(s: Schedule, horizon: float, offset: float = 0.0, scale: float = 1.0) -> list[float]:
    """Clock values where a resolved expression switches piece (phase, cycle, end of a ramp)."""
    out: list[float] = []
    if offset > horizon:
        return out
    if isinstance(s, Join):
        start = 0.0
        for i, phase in enumerate(s.phases):
            out.append(offset + scale * start)
            out += breakpoints(phase, horizon, offset + scale * start, scale)
            if i < len(s.phases) - 1:
                start += phase.length
    elif isinstance(s, Cycle):
        period, start, n = s.schedule.length, 0.0, 0
        while offset + scale * start <= horizon and n < 60 and (s.max_cycles is None or n <= s.max_cycles):
            out.append(offset + scale * start)
            if s.max_cycles is None or n < s.max_cycles:
                out += breakpoints(s.schedule, horizon, offset + scale * start, scale * s.period_mult**n)
            start += period * s.period_mult**n
            n += 1
    elif isinstance(s, (*INTERPOLATIONS, Constant)):
        out += [offset] if s.duration is None else [offset, offset + scale * s.duration]
    elif isinstance(s, MultiStep):
        out += [offset + scale * m for m in s.milestones]
    elif isinstance(s, (Step, Exponential)):
        period = s.step_size if isinstance(s, Step) else s.decay_steps
        if isinstance(s, Step) or s.staircase:
            out += [offset + scale * period * k for k in range(min(50, int(horizon / (scale * period)) + 1))]
    elif isinstance(s, Truncate):
        out += [offset + scale * s.duration, *breakpoints(s.schedule, horizon, offset, scale)]
    elif isinstance(s, (Affine, Clamp)):
        out += breakpoints(s.schedule, horizon, offset, scale)
    elif isinstance(s, Product):
        for f in s.factors:
            out += breakpoints(f, horizon, offset, scale)
    return [t for t in out if 0.0 <= t <= horizon]


def sample_times(tl: Timeline, fractions: list[float], resolved: Schedule) -> list[float]:
    horizon = 2.0 * tl.total
    return [u * horizon for u in fractions] + [0.0, tl.total, horizon] + breakpoints(resolved, horizon)[:200]


def close(a: float, b: float, scale: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(scale))


def assert_within(s: Callable[[float], float], times: list[float], lo: float, hi: float, what: str) -> None:
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    for t in times:
        v = s(t)
        assert lo - tol <= v <= hi + tol, f"{what}: value {v!r} at t={t!r} outside [{lo!r}, {hi!r}]"


def assert_continuous(s: Schedule, tl: Timeline, times: list[float], magnitude: float) -> None:
    eps = 1e-12 * tl.total
    tol = 1e-3 * max(magnitude, 1e-9)
    for t in times:
        v = s(t)
        after = s(t + eps)
        assert abs(after - v) <= tol, f"jump of {after - v!r} just after t={t!r}: {v!r} -> {after!r}"
        if t - eps >= 0:
            before = s(t - eps)
            assert abs(v - before) <= tol, f"jump of {v - before!r} just before t={t!r}: {before!r} -> {v!r}"


FRACTIONS = st.lists(UNIT, min_size=5, max_size=20)

# ------------------------------------------------------------------------------------------ properties


@SETTINGS
@given(schedules(), FRACTIONS)
def test_values_are_finite(case: tuple[Schedule, Timeline], fractions: list[float]) -> None:
    schedule, tl = case
    resolved = schedule.resolve(tl)
    for t in sample_times(tl, fractions, resolved):
        v = resolved(t)
        assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{v!r} at t={t}"
        assert math.isfinite(v), f"{resolved!r}({t}) = {v!r}"


@SETTINGS
@given(schedules(), FRACTIONS)
def test_values_stay_within_the_bounds_of_their_parts(case: tuple[Schedule, Timeline], fractions: list[float]) -> None:
    schedule, tl = case
    lo, hi = value_bounds(schedule)
    resolved = schedule.resolve(tl)
    assert_within(resolved, sample_times(tl, fractions, resolved), lo, hi, repr(schedule))


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), interpolation(tl, None, True))), FRACTIONS)
def test_interpolation_runs_from_start_to_end_then_holds(
    case: tuple[Timeline, Schedule], fractions: list[float]
) -> None:
    tl, schedule = case
    resolved = schedule.resolve(tl)
    lo, hi = min(schedule.start, schedule.end), max(schedule.start, schedule.end)
    d = resolved.length
    assert math.isfinite(d) and d > 0
    assert close(resolved(0.0), schedule.start, hi)
    assert close(resolved(d), schedule.end, hi) and resolved(d + 1.0) == schedule.end
    assert_within(resolved, sample_times(tl, fractions, resolved), lo, hi, repr(schedule))
    assert_continuous(resolved, tl, [0.0, d, *(u * d for u in fractions)], max(abs(lo), abs(hi)))


def documented_formula(s: Schedule, tl: Timeline) -> Callable[[float], float]:
    """The ``.. math::`` of each primitive's docstring, written out independently (``t >= 0``)."""
    if isinstance(s, Constant):
        return lambda t: s.value
    if isinstance(s, INTERPOLATIONS):
        d = Span.parse(s.duration).in_steps(tl) if s.duration is not None else tl.total
        shape = {
            Linear: lambda p: s.start + (s.end - s.start) * p,
            Cosine: lambda p: s.end + (s.start - s.end) * (1.0 + math.cos(math.pi * p)) / 2.0,
            Polynomial: lambda p: s.end + (s.start - s.end) * (1.0 - p) ** getattr(s, "power", 1.0),
            Power: lambda p: s.start + (s.end - s.start) * p ** getattr(s, "power", 1.0),
        }[type(s)]
        return lambda t: shape(min(t / d, 1.0))
    if isinstance(s, Exponential):
        period = Span.parse(s.decay_steps).in_steps(tl)
        return lambda t: s.start * s.decay_rate ** (math.floor(t / period) if s.staircase else t / period)
    if isinstance(s, Step):
        return lambda t: s.start * s.gamma ** math.floor(t / Span.parse(s.step_size).in_steps(tl))
    if isinstance(s, MultiStep):
        points = [Span.parse(m).in_steps(tl) for m in s.milestones]
        return lambda t: s.start * s.gamma ** sum(p <= t for p in points)
    assert isinstance(s, InverseSqrt)
    tau = Span.parse(s.timescale).in_steps(tl)
    return lambda t: s.start * math.sqrt(tau / (t + tau))


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), primitive(tl, None, True))), FRACTIONS)
def test_primitives_follow_their_documented_formula(case: tuple[Timeline, Schedule], fractions: list[float]) -> None:
    tl, schedule = case
    resolved = schedule.resolve(tl)
    expected = documented_formula(schedule, tl)
    # away from the jumps of the staircase forms, where rounding may pick either side
    jumps = [b for b in breakpoints(resolved, 2 * tl.total) if b > 0]
    for t in (u * 2.0 * tl.total for u in fractions):
        if any(abs(t - b) < 1e-6 * tl.total for b in jumps):
            continue
        assert math.isclose(resolved(t), expected(t), rel_tol=1e-9, abs_tol=1e-12), (t, resolved(t), expected(t))


@SETTINGS
@given(one_cycle_args(), FRACTIONS)
def test_one_cycle_stays_between_its_minimum_and_peak(args: dict[str, Any], fractions: list[float]) -> None:
    s = one_cycle(**args)
    peak, total = args["peak"], args["total_steps"]
    initial = peak / args["div_factor"]
    lowest = initial / args["final_div_factor"]
    tl = Timeline(float(total))
    times = sample_times(tl, fractions, s)
    assert_within(s, times, lowest, peak, "one_cycle")
    top = args["pct_start"] * total - 1.0  # documented: the peak is reached after pct_start * T - 1 steps
    assert close(s(0.0), initial, peak) and close(s(top), peak, peak) and close(s(total - 1.0), lowest, peak)
    assert close(s(2.0 * total), lowest, peak)
    assert_continuous(s, tl, times, peak)


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), triangle_args(tl))), FRACTIONS)
def test_triangle_wave_is_a_continuous_unit_wave(case: tuple[Timeline, dict[str, Any]], fractions: list[float]) -> None:
    tl, args = case
    s = triangle_wave(**args)
    times = sample_times(tl, fractions, s)
    assert_within(s, times, 0.0, 1.0, f"triangle_wave({args})")
    assert_continuous(s, tl, times, 1.0)
    up = args["step_size_up"]
    period = up + (up if args["step_size_down"] is None else args["step_size_down"])
    for c in range(3):  # documented heights: 1, 2**-c, gamma**t
        height = {"triangular": 1.0, "triangular2": 0.5**c, "exp_range": args["gamma"] ** (c * period + up)}
        assert close(s(c * period), 0.0, 1.0), c
        assert close(s(c * period + up), height[args["mode"]], 1.0, rel=1e-7), c


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), restarts_args(tl))), FRACTIONS)
def test_cosine_restarts_stay_between_eta_min_and_peak(
    case: tuple[Timeline, dict[str, Any]], fractions: list[float]
) -> None:
    tl, args = case
    s = cosine_restarts(**args)
    assert_within(s, sample_times(tl, fractions, s), args["eta_min"], args["peak"], f"cosine_restarts({args})")


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), restarts_args(tl, with_warmup=False))))
def test_cosine_restarts_restart_at_the_decayed_peak(case: tuple[Timeline, dict[str, Any]]) -> None:
    """Cycle ``n`` starts at ``T_0 (1 + m + ... + m**(n-1))`` with height ``peak_decay**n`` (fractional ``m`` too)."""
    tl, args = case
    s = cosine_restarts(**args)
    peak, low, decay, m = args["peak"], args["eta_min"], args["peak_decay"], args["T_mult"]
    start, length = 0.0, args["T_0"]
    for n in range(12):
        if start > 2.0 * tl.total:
            break
        expected = low + (peak - low) * decay**n
        just_after = start + 1e-9 * length
        assert close(s(just_after), expected, peak, rel=1e-6), f"cycle {n} starting at {start}"
        halfway = start + length / 2.0
        assert close(s(halfway), low + (expected - low) / 2.0, peak, rel=1e-6), f"middle of cycle {n}"
        start += length
        length *= m


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), restarts_args(tl, with_warmup=True))), FRACTIONS)
def test_cosine_restarts_with_cycle_warmup_are_continuous(
    case: tuple[Timeline, dict[str, Any]], fractions: list[float]
) -> None:
    tl, args = case
    s = cosine_restarts(**args)
    assert_continuous(s, tl, sample_times(tl, fractions, s), args["peak"])


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), wsd_args(tl))), FRACTIONS)
def test_warmup_stable_decay_is_a_continuous_trapezoid(
    case: tuple[Timeline, dict[str, Any]], fractions: list[float]
) -> None:
    tl, args = case
    s = warmup_stable_decay(**args).resolve(tl)
    peak, end = args["peak"], args["end"]
    times = sample_times(tl, fractions, s)
    assert_within(s, times, 0.0, peak, f"warmup_stable_decay({args})")
    assert_continuous(s, tl, times, peak)
    assert s(0.0) == 0.0
    warm = Span.parse(args["warmup"]).in_steps(tl)
    assert close(s(warm), peak, peak), "reaches the peak after the warmup"
    decay = Span.parse(args["decay"]).in_steps(tl)
    cooldown = [s.length - decay + u * decay for u in sorted(fractions)]
    values = [s(t) for t in cooldown]
    assert all(a >= b - 1e-12 * peak for a, b in pairwise(values)), f"the decay goes up: {values}"
    assert close(s(s.length + 1.0), end, peak), "holds `end` after the decay"


@SETTINGS
@given(continuous_schedules(), FRACTIONS)
def test_continuous_expressions_have_no_jumps(case: tuple[Schedule, Timeline], fractions: list[float]) -> None:
    schedule, tl = case
    resolved = schedule.resolve(tl)
    lo, hi = value_bounds(schedule)
    assert_continuous(resolved, tl, sample_times(tl, fractions, resolved), max(abs(lo), abs(hi)))


@SETTINGS
@given(timelines().flatmap(lambda tl: st.tuples(st.just(tl), join(tl, 2, None, True, 1.0))))
def test_join_switches_to_the_next_phase_at_its_start(case: tuple[Timeline, Join]) -> None:
    tl, schedule = case
    resolved = schedule.resolve(tl)
    assert isinstance(resolved, Join) and len(resolved.phases) == len(schedule.phases)
    boundary = 0.0
    for i, phase in enumerate(resolved.phases):
        magnitude = max(map(abs, value_bounds(schedule.phases[i])))
        assert close(resolved(boundary), phase(0.0), magnitude), f"phase {i} at t={boundary}"
        if i > 0:
            previous = resolved.phases[i - 1]
            eps = 1e-6 * previous.length
            left = resolved(boundary - eps)
            assert close(left, previous(previous.length - eps), magnitude, rel=1e-6), f"before phase {i}"
        if i < len(resolved.phases) - 1:
            boundary += phase.length
            assert math.isfinite(boundary)


@SETTINGS
@given(schedules(), FRACTIONS)
def test_pickle_round_trip_gives_an_equal_schedule(case: tuple[Schedule, Timeline], fractions: list[float]) -> None:
    schedule, tl = case
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule and repr(copy) == repr(schedule)
    resolved = schedule.resolve(tl)
    resolved_copy = pickle.loads(pickle.dumps(resolved))
    assert resolved_copy == resolved
    assert copy.resolve(tl) == resolved
    for t in sample_times(tl, fractions, resolved):
        assert resolved_copy(t) == resolved(t), t


@SETTINGS
@given(schedules())
def test_resolution_happens_once(case: tuple[Schedule, Timeline]) -> None:
    """A resolved schedule holds plain numbers; resolving it again changes nothing."""
    schedule, tl = case
    resolved = schedule.resolve(tl)
    assert resolved.resolve(tl) == resolved
    assert resolved.resolve(Timeline(3.0 * tl.total, 7.0)) == resolved
    pending = [resolved]
    while pending:
        node = pending.pop()
        assert not isinstance(node, Warmup), "Warmup resolves to a Join"
        for name in ("duration", "decay_steps", "step_size", "timescale"):
            value = getattr(node, name, None)
            assert value is None or isinstance(value, (int, float)), f"{name}={value!r} in {node!r}"
        for m in getattr(node, "milestones", ()):
            assert isinstance(m, (int, float)), node
        pending += [getattr(node, "schedule", None)] if isinstance(getattr(node, "schedule", None), Schedule) else []
        pending += list(getattr(node, "phases", ())) + list(getattr(node, "factors", ()))


NAMESPACE = {name: getattr(schedules_module, name) for name in schedules_module.__all__}


@SETTINGS
@given(timelines().flatmap(lambda tl: primitive(tl, None, True)))
def test_primitive_repr_evaluates_to_an_equal_schedule(schedule: Schedule) -> None:
    text = repr(schedule)
    assert text.startswith(type(schedule).__name__ + "(") and " at 0x" not in text
    assert eval(text, dict(NAMESPACE)) == schedule


@FAST
@given(schedules())
def test_expression_repr_is_readable(case: tuple[Schedule, Timeline]) -> None:
    schedule, tl = case
    for s in (schedule, schedule.resolve(tl)):
        text = repr(s)
        assert " at 0x" not in text and "<" not in text, text
        assert eval(text, dict(NAMESPACE)) == s


@FAST
@given(st.sampled_from([0.1, 0.25, 0.5]), st.sampled_from(["steps", "epochs", "fraction"]), timelines())
def test_duration_forms_agree(frac: float, unit: str, tl: Timeline) -> None:
    """The same length written as steps, epochs or a fraction resolves to the same schedule values."""
    n_steps = frac * tl.total
    forms = {"steps": n_steps, "epochs": epochs(n_steps / tl.steps_per_epoch), "fraction": f"{frac * 100:g}%"}
    reference = Cosine(1.0, 0.0, n_steps)
    other = Cosine(1.0, 0.0, forms[unit]).resolve(tl)
    for u in (0.0, 0.1, 0.5, 0.9, 1.0, 1.5):
        assert close(other(u * n_steps), reference(u * n_steps), 1.0, rel=1e-9)
    assert isinstance(Span.parse(forms[unit]), Span)
