"""Hypothesis properties of the pure schedules: finite, bounded, continuous, picklable, readable.

The strategies (``tests/strategies.py``) build random *valid* schedule expressions — primitives,
nested combinators and the recipes — with durations written in every accepted form (numbers of
steps, ``"N steps"``, ``"N epochs"``, ``"P%"``, :class:`Span`), sized so that they fit the random
:class:`Timeline` they are resolved on. The expected bounds are computed from the *unresolved*
expression and the documented semantics of each node (``strategies.value_bounds``), never from the
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
    one_cycle,
    triangle_wave,
    warmup_stable_decay,
)
from tests.strategies import (
    INTERPOLATIONS,
    UNIT,
    continuous_schedules,
    interpolation,
    join,
    one_cycle_args,
    primitive,
    restarts_args,
    schedules,
    timelines,
    triangle_args,
    value_bounds,
    wsd_args,
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAST = settings(SETTINGS, max_examples=60)

# ------------------------------------------------------------------------------------------ oracles


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
