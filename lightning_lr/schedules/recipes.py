r"""Named schedules built from the primitives and the algebra.

These return plain :class:`~lightning_lr.schedules.Schedule` expressions of absolute values
(an LR or a momentum); the callbacks call them once per param group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from lightning_lr.checks import (
    check_bool,
    check_choice,
    check_closed_interval,
    check_non_negative,
    check_open_interval,
    check_positive,
    check_real,
)
from lightning_lr.schedules.base import DurationLike, Schedule, parse_duration
from lightning_lr.schedules.combinators import Affine, Cycle, Join, Product
from lightning_lr.schedules.primitives import Constant, Cosine, Exponential, Linear, Polynomial, Power

AnnealStrategy = Literal["cos", "linear"]
CyclicMode = Literal["triangular", "triangular2", "exp_range"]


def _anneal(strategy: AnnealStrategy, start: float, end: float, duration: float) -> Schedule:
    return Cosine(start, end, duration) if strategy == "cos" else Linear(start, end, duration)


def one_cycle_phases(total_steps: float, pct_start: float, three_phase: bool) -> tuple[float, ...]:
    """Phase lengths of PyTorch's ``OneCycleLR``: phase ends at ``pct*T - 1`` (``2 pct T - 2``) and ``T - 1``."""
    first_end = pct_start * total_steps - 1.0
    ends = [first_end, 2.0 * first_end, total_steps - 1.0] if three_phase else [first_end, total_steps - 1.0]
    lengths = tuple(b - a for a, b in zip([0.0, *ends[:-1]], ends))
    if min(lengths) <= 0:
        raise ValueError(
            f"A 1cycle over {total_steps} steps with pct_start={pct_start} (three_phase={three_phase}) has "
            f"an empty phase (lengths {lengths}); train longer or move `pct_start` towards 0.5."
        )
    return lengths


def one_cycle(
    peak: float,
    total_steps: float,
    pct_start: float = 0.3,
    anneal_strategy: AnnealStrategy = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    r"""The 1cycle LR of Smith & Topin (2019), identical to PyTorch's ``OneCycleLR``.

    From :math:`\eta_0 = \eta_{max}/\mathrm{div}` up to :math:`\eta_{max}` over
    :math:`p T - 1` steps, then down to :math:`\eta_0/\mathrm{final\_div}` at step :math:`T - 1`
    (with ``three_phase``: back to :math:`\eta_0` first, then to the minimum).

    Example:
        >>> s = one_cycle(peak=1.0, total_steps=101, pct_start=0.5, anneal_strategy="linear", div_factor=10.0)
        >>> round(s(0), 6), round(s(49.5), 6)
        (0.1, 1.0)
    """
    check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"))
    check_positive("peak", peak)
    check_positive("total_steps", total_steps)
    check_bool("three_phase", three_phase)
    initial = peak / check_positive("div_factor", div_factor)
    lowest = initial / check_positive("final_div_factor", final_div_factor)
    lengths = one_cycle_phases(total_steps, check_open_interval("pct_start", pct_start, 0.0, 1.0), three_phase)
    points = [initial, peak, initial, lowest] if three_phase else [initial, peak, lowest]
    return _cycle(anneal_strategy, points, lengths)


def one_cycle_momentum(
    base_momentum: float,
    max_momentum: float,
    total_steps: float,
    pct_start: float = 0.3,
    anneal_strategy: AnnealStrategy = "cos",
    three_phase: bool = False,
) -> Schedule:
    """The momentum of 1cycle: ``max -> base`` while the LR rises, back to ``max`` while it falls."""
    check_real("base_momentum", base_momentum)
    check_real("max_momentum", max_momentum)
    check_positive("total_steps", total_steps)
    check_bool("three_phase", three_phase)
    lengths = one_cycle_phases(total_steps, pct_start, three_phase)
    points = [max_momentum, base_momentum, max_momentum, max_momentum]
    points = points if three_phase else points[:3]
    return _cycle(anneal_strategy, points, lengths)


def _cycle(strategy: AnnealStrategy, points: list[float], lengths: tuple[float, ...]) -> Schedule:
    """Anneal through ``points``; the last value then holds for the cycle's final step, so that the
    schedule's length is ``total_steps`` (the last annealing phase ends at step ``total_steps - 1``)."""
    anneals = (_anneal(strategy, a, b, d) for a, b, d in zip(points, points[1:], lengths))
    return Join((*anneals, Constant(points[-1], 1.0)))


def triangle_wave(
    step_size_up: float, step_size_down: float | None = None, mode: CyclicMode = "triangular", gamma: float = 1.0
) -> Schedule:
    r"""The unit wave of cyclical LR (Smith 2017), between 0 and 1.

    One period rises over ``step_size_up`` and falls over ``step_size_down``. ``triangular2`` halves
    the height each cycle; ``exp_range`` multiplies it by :math:`\gamma^t`.

    Example:
        >>> w = triangle_wave(2, mode="triangular2")
        >>> [w(t) for t in range(9)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0]
    """
    check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))
    check_positive("gamma", gamma)
    up = check_positive("step_size_up", step_size_up)
    down = up if step_size_down is None else check_positive("step_size_down", step_size_down)
    wave = Join((Linear(0.0, 1.0, up), Linear(1.0, 0.0, down)))
    if mode == "triangular2":
        return Cycle(wave, peak_decay=0.5)
    if mode == "exp_range":
        return Product((Cycle(wave), Exponential(gamma)))
    return Cycle(wave)


def between(wave: Schedule, low: float, high: float) -> Schedule:
    """``low + (high - low) * wave``: maps a unit wave onto ``[low, high]`` (``high < low`` flips it)."""
    return Affine(wave, scale=check_real("high", high) - check_real("low", low), offset=low)


def cosine_restarts(
    peak: float,
    T_0: float,
    T_mult: float = 1.0,
    eta_min: float = 0.0,
    peak_decay: float = 1.0,
    cycle_warmup: float = 0.0,
) -> Schedule:
    r"""SGDR (Loshchilov & Hutter 2017), as PyTorch's ``CosineAnnealingWarmRestarts`` and more.

    .. math:: \eta(t) = \eta_{min} + (\eta_{peak} - \eta_{min})\,\delta^{n}\,
        \frac{1 + \cos(\pi T_{cur}/T_n)}{2},\qquad T_n = T_0\, m^{n}

    ``peak_decay`` (:math:`\delta`) lowers each restart's peak, ``T_mult`` may be fractional and
    ``cycle_warmup`` steps of linear warmup start every cycle (stretched with it).

    Example:
        >>> s = cosine_restarts(peak=1.0, T_0=10, T_mult=2)
        >>> s(0), s(10), s(20)
        (1.0, 1.0, 0.5)
    """
    check_positive("peak", peak)
    check_positive("T_0", T_0)
    if check_real("T_mult", T_mult) < 1:
        raise ValueError(f"`T_mult` must be >= 1, got {T_mult!r}.")
    if check_non_negative("eta_min", eta_min) > peak:
        raise ValueError(f"`eta_min` ({eta_min!r}) must be <= `peak` ({peak!r}).")
    check_closed_interval("cycle_warmup", cycle_warmup, 0.0, T_0)
    if cycle_warmup >= T_0:
        raise ValueError(f"`cycle_warmup` ({cycle_warmup}) must be shorter than `T_0` ({T_0}).")
    cosine: Schedule = Cosine(1.0, 0.0, T_0 - cycle_warmup)
    if cycle_warmup > 0:
        cosine = Join((Linear(0.0, 1.0, cycle_warmup), cosine))
    return between(Cycle(cosine, period_mult=T_mult, peak_decay=peak_decay), eta_min, peak)


WsdShape = Literal["linear", "cosine", "1-sqrt", "sqrt"]


def wsd_warmup(start: float, peak: float, duration: float, shape: WsdShape = "linear") -> Schedule:
    r"""The warmup of transformers' ``get_wsd_schedule``: from ``start`` up to ``peak`` over ``duration``.

    With :math:`p = t/w` and :math:`f(p)` = :math:`p` (linear), :math:`\tfrac12(1 - \cos\pi p)` (cosine)
    or :math:`1 - \sqrt{1 - p}` (1-sqrt): :math:`v = \mathrm{start} + (\mathrm{peak} - \mathrm{start}) f(p)`.

    Example:
        >>> wsd_warmup(0.0, 1.0, 4, "1-sqrt")(3)
        0.5
    """
    check_choice("warmup_shape", shape, ("linear", "cosine", "1-sqrt"))
    if shape == "linear":
        return Linear(start, peak, duration)
    if shape == "cosine":
        return Cosine(start, peak, duration)
    return Polynomial(start, peak, duration, power=0.5)  # peak + (start - peak) sqrt(1 - p)


def wsd_decay(peak: float, end: float, duration: float, shape: WsdShape = "cosine") -> Schedule:
    r"""The cooldown of warmup-stable-decay: from ``peak`` down to ``end`` over ``duration``.

    With :math:`p = t/d` and :math:`g(p)` = :math:`1 - p` (linear), :math:`\tfrac12(1 + \cos\pi p)`
    (cosine) or :math:`1 - \sqrt{p}` (1-sqrt, Hägele et al. 2024; ``"sqrt"`` is the same):
    :math:`v = \mathrm{end} + (\mathrm{peak} - \mathrm{end})\, g(p)`.

    Example:
        >>> wsd_decay(1.0, 0.0, 4, "1-sqrt")(1)
        0.5
    """
    check_choice("decay_shape", shape, ("linear", "cosine", "1-sqrt", "sqrt"))
    if shape == "linear":
        return Linear(peak, end, duration)
    if shape == "cosine":
        return Cosine(peak, end, duration)
    return Power(peak, end, duration, power=0.5)


def warmup_stable_decay(
    peak: float,
    warmup: DurationLike,
    decay: DurationLike,
    stable: DurationLike | None = None,
    end: float = 0.0,
    decay_shape: WsdShape = "linear",
    warmup_shape: WsdShape = "linear",
    start: float = 0.0,
) -> Schedule:
    r"""Warmup-stable-decay ("trapezoid", Hägele et al. 2024): ramp up, hold the peak, cool down.

    ``stable=None`` fills whatever warmup and decay leave of training; a zero ``warmup`` or
    ``stable`` leaves that phase out. The warmup rises from ``start`` (see :func:`wsd_warmup`), the
    decay falls to ``end`` (see :func:`wsd_decay`); ``decay_shape="1-sqrt"`` (or ``"sqrt"``) is
    :math:`\eta = \mathrm{end} + (\eta_{peak}-\mathrm{end})(1 - \sqrt{t/d})`.

    Example:
        >>> from lightning_lr.schedules import Timeline
        >>> s = warmup_stable_decay(1.0, warmup=10, decay="20%").resolve(Timeline(total=100))
        >>> s(5), s(50), s(90)
        (0.5, 1.0, 0.5)
    """
    check_choice("decay_shape", decay_shape, ("linear", "cosine", "1-sqrt", "sqrt"))
    check_choice("warmup_shape", warmup_shape, ("linear", "cosine", "1-sqrt"))
    check_positive("peak", peak)
    check_real("end", end)
    check_real("start", start)
    parse_duration(decay, "decay", require="positive")
    phases: list[Schedule] = []
    if parse_duration(warmup, "warmup").amount > 0:
        phases.append(_shaped(wsd_warmup, start, peak, warmup, warmup_shape))
    if stable is None or parse_duration(stable, "stable").amount > 0:
        phases.append(Constant(peak, stable))
    phases.append(_shaped(wsd_decay, peak, end, decay, decay_shape))
    return Join(tuple(phases))


def _shaped(
    build: Callable[[float, float, float, WsdShape], Schedule],
    a: float,
    b: float,
    duration: DurationLike,
    shape: WsdShape,
) -> Schedule:
    """``build`` with a placeholder length, then the real (possibly unresolved) duration put back."""
    return replace(build(a, b, 1.0, shape), duration=duration)  # type: ignore[type-var]
