"""From a range-test curve to a learning rate: the suggestion rules.

Pure functions of the recorded curve (no model, no trainer), so a suggestion can be recomputed
with another rule after the test, and every rule says *why* when it cannot answer. The rules read
:func:`~lightning_lr.finder.smoothing.trend`, the centered smoothing without lag, not the EMA that
stops the test (:mod:`lightning_lr.finder.smoothing` explains why).

Only the first ``usable`` points count: the point where the test stopped (loss diverged or not
finite) and anything after it are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lightning_lr.finder.smoothing import TREND_WIDTH, trend
from lightning_lr.finder.smoothing import smooth as smooth  # its documented place before smoothing.py

Method = Literal["valley", "steepest", "minimum"]
METHODS: tuple[Method, ...] = ("valley", "steepest", "minimum")
MIN_POINTS = 5
"""A curve with fewer usable points than this gets no suggestion."""
MINIMUM_DIVISOR = 10.0
"""The ``"minimum"`` rule suggests the LR of the lowest smoothed loss divided by this."""
NOISE_FACTOR = 6.0
"""A descent smaller than this many standard deviations of the smoothed noise is not a descent
(about 95% of pure-noise curves of 30 to 100 points stay below; real curves reach 16 to 200)."""
VALLEY_FRACTION = 0.5
"""The ``"valley"`` rule picks the point where the loss has come this far down its main descent."""
RANGE_FRACTIONS = (0.1, 0.9)
""":func:`lr_range`: the LRs where the loss has come this far down its main descent."""
CLIMB_FRACTION = 0.05
"""A climb counts once ``t`` is this fraction of its whole span (and the noise level) above its lowest value so far."""
CLIMB_DIVISOR = 3.0
"""The ``"divergence"`` fallback suggests the LR where the loss starts to climb divided by this (the classic
rule divides by 10; 3 did better on the benchmark's curves, see docs/finder.md)."""


@dataclass(frozen=True)
class Suggestion:
    """A rule's answer: the LR, or the reason there is none.

    Attributes:
        lr: The suggested LR (of the first param group), or ``None``.
        method: The rule that produced it.
        reason: Why ``lr`` is ``None``; or, when the ``"divergence"`` fallback answered, why the
            rule ``method`` could not (``None`` when ``method`` answered).
        rule: The rule that answered: ``method``, or ``"divergence"``; ``None`` without an answer.
    """

    lr: float | None
    method: str
    reason: str | None = None
    rule: str | None = None


def suggest(
    lrs: Sequence[float], losses: Sequence[float], usable: int, method: str, stop: str = "", width: float = TREND_WIDTH
) -> Suggestion:
    """Apply rule ``method`` to the first ``usable`` points of the curve.

    Rules, on ``t`` = :func:`trend` of the raw losses (``x = ln(lr)``):

    * ``"valley"`` (default): the main descent runs from the highest point before the minimum of
      ``t`` down to that minimum; the suggestion is the LR where ``t`` has come half of the way
      down (interpolated in log-LR). Far enough from the plateau that training moves fast, far
      enough from the bottom, where the test was already near instability.
    * ``"steepest"``: the point of most negative slope ``dt/dx``, between the first tenth of the
      curve and the minimum.
    * ``"minimum"``: the LR of the minimum of ``t``, divided by 10.

    When the curve has no clear descent but the loss climbs (or the test stopped on divergence or
    a NaN loss), every method falls back to the ``"divergence"`` rule (:func:`climb_point`): the
    LR where the loss starts to climb, divided by :data:`CLIMB_DIVISOR` (3); ``rule`` says so and
    ``reason`` says why ``method`` could not answer. No answer (``lr=None``, ``reason`` set) only
    for a curve without that information: a loss that never changed or never climbed, fewer than
    :data:`MIN_POINTS` usable points, or a climb so early that a third of its LR lies below the
    range tested.

    Args:
        lrs: The LR of each point, increasing.
        losses: The raw loss of each point.
        usable: How many leading points count (those before the test stopped).
        method: One of :data:`METHODS`.
        stop: Why the test stopped, quoted in the explanation when there is no answer.
        width: :func:`trend`'s kernel width in decades.

    Returns:
        The :class:`Suggestion`, with ``reason`` set when the curve gives no answer.

    Example:
        >>> lrs = [10.0 ** (k / 10 - 5) for k in range(51)]  # 1e-5 .. 1
        >>> loss = [1.0 / (1.0 + math.exp(4 * (math.log10(lr) + 3))) for lr in lrs]  # falls around 1e-3
        >>> [round(math.log10(suggest(lrs, loss, 51, m).lr), 2) for m in ("valley", "steepest")]
        [-3.0, -3.0]
        >>> suggest(lrs, [1.0] * 51, 51, "valley").reason
        'the loss did not change over the whole range ...'
        >>> flat_then_up = [1.0 + max(0.0, math.log10(lr) + 2.0) for lr in lrs]  # climbs from 1e-2 on
        >>> answer = suggest(lrs, flat_then_up, 51, "valley")
        >>> answer.rule, round(math.log10(answer.lr), 2)  # a third of 1e-2
        ('divergence', -2.48)
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")
    problem = _check_points(lrs, usable, stop)
    if problem is not None:
        return Suggestion(None, method, reason=problem)
    raw, t = _curve(lrs, losses, usable, width)
    problem, informative = _check_descent(lrs[:usable], raw, t, width)
    if problem is not None:
        if not informative:
            return Suggestion(None, method, reason=problem)
        return _from_climb(lrs, raw, t, usable, method, problem, stop, width)
    top, bottom = _main_descent(t)
    if method == "minimum":
        return Suggestion(float(lrs[bottom]) / MINIMUM_DIVISOR, method, rule=method)
    if method == "steepest":
        x = np.log(np.asarray(lrs[:usable], dtype=np.float64))
        slope = np.gradient(t, x)
        start = max(1, usable // 10)
        start = start if start < bottom else 0
        index = start + int(np.argmin(slope[start : bottom + 1]))
        return Suggestion(float(lrs[index]), method, rule=method)
    return Suggestion(_crossing(lrs, t, top, bottom, VALLEY_FRACTION), method, rule=method)


def lr_range(
    lrs: Sequence[float], losses: Sequence[float], usable: int, width: float = TREND_WIDTH
) -> tuple[float, float] | None:
    r"""The LR range where the loss falls (Smith's range test for cyclical LRs): ``(low, high)``.

    On the main descent of ``t`` = :func:`trend` (from its highest point :math:`t_{top}` before the
    minimum down to the minimum :math:`t_{bot}`, the descent the ``"valley"`` rule reads), the
    bounds are the LRs where ``t`` crosses

    .. math:: t_{top} - f\,(t_{top} - t_{bot}),\qquad f = 0.1 \text{ (low)},\ 0.9 \text{ (high)}

    (interpolated in log-LR, :data:`RANGE_FRACTIONS`): the loss has clearly started to fall at
    ``low`` and has almost stopped falling at ``high``. The ``"valley"`` suggestion (:math:`f = 0.5`)
    lies between them. ``None`` when the curve has no clear descent (the cases where
    :func:`suggest` gives no answer or falls back to the ``"divergence"`` rule).

    Example:
        >>> lrs = [10.0 ** (k / 10 - 5) for k in range(51)]  # 1e-5 .. 1
        >>> loss = [1.0 / (1.0 + math.exp(4 * (math.log10(lr) + 3))) for lr in lrs]  # falls around 1e-3
        >>> [round(math.log10(v), 2) for v in lr_range(lrs, loss, 51)]  # logistic: +-ln(9)/4 decades, widened by t
        [-3.64, -2.36]
    """
    if _check_points(lrs, usable, "") is not None:
        return None
    raw, t = _curve(lrs, losses, usable, width)
    if _check_descent(lrs[:usable], raw, t, width)[0] is not None:
        return None
    top, bottom = _main_descent(t)
    low, high = RANGE_FRACTIONS
    return _crossing(lrs, t, top, bottom, low), _crossing(lrs, t, top, bottom, high)


def climb_point(lrs: Sequence[float], losses: Sequence[float], usable: int, width: float = TREND_WIDTH) -> int | None:
    r"""Index of the point where the loss starts to climb clearly, or ``None``.

    The first point :math:`i` where :math:`t_i - \min_{j \le i} t_j` exceeds both the noise level
    of the descent test (:data:`NOISE_FACTOR` standard deviations of :func:`trend` on noise) and
    :data:`CLIMB_FRACTION` of the span of ``t`` (the smoothing spreads a sharp climb over about a
    decade: its first tremor is not the climb), and stays above it up to the last usable point (a
    climb, not a bump of noise); when
    ``t`` never climbs that much but the test stopped early (``usable < len(lrs)``: the loss
    diverged or was not finite), the point where it stopped.

    Example:
        >>> lrs = [10.0 ** (k / 10 - 5) for k in range(51)]
        >>> flat_then_up = [1.0 + max(0.0, math.log10(lr) + 2.0) for lr in lrs]  # climbs from 1e-2 on
        >>> round(math.log10(lrs[climb_point(lrs, flat_then_up, 51)]), 1)
        -2.0
    """
    if usable < MIN_POINTS:
        return usable if usable < len(lrs) else None
    return _climb(lrs, *_curve(lrs, losses, usable, width), usable, width)


def _curve(lrs: Sequence[float], losses: Sequence[float], usable: int, width: float) -> tuple[np.ndarray, np.ndarray]:
    """The first ``usable`` raw losses and their :func:`trend`, as arrays."""
    raw = np.asarray(losses[:usable], dtype=np.float64)
    return raw, np.asarray(trend(lrs[:usable], losses[:usable], width), dtype=np.float64)


def _main_descent(t: np.ndarray) -> tuple[int, int]:
    """``(top, bottom)``: the main descent of ``t``, from its highest point before its minimum to the minimum."""
    bottom = int(np.argmin(t))
    return int(np.argmax(t[: bottom + 1])), bottom


def _climb(lrs: Sequence[float], raw: np.ndarray, t: np.ndarray, usable: int, width: float) -> int | None:
    level = max(NOISE_FACTOR * _trend_noise(lrs[:usable], raw, width), CLIMB_FRACTION * float(np.ptp(t)), _floor(raw))
    rise = t - np.minimum.accumulate(t)
    below = np.flatnonzero(rise <= level)
    if below.size and below[-1] + 1 < usable:  # above the level from there to the end: a climb, not a bump
        return int(below[-1]) + 1
    return usable if usable < len(lrs) else None


def _from_climb(
    lrs: Sequence[float],
    raw: np.ndarray,
    t: np.ndarray,
    usable: int,
    method: str,
    problem: str,
    stop: str,
    width: float,
) -> Suggestion:
    """The ``"divergence"`` fallback: the LR where the loss starts to climb over :data:`CLIMB_DIVISOR`."""
    index = _climb(lrs, raw, t, usable, width)
    if index is None:
        return Suggestion(None, method, reason=problem)
    climb = float(lrs[index])
    lr = climb / CLIMB_DIVISOR
    where = "where the test stopped" if index >= usable else "where the loss started to climb"
    if lr < lrs[0]:
        return Suggestion(
            None,
            method,
            reason=(
                f"{problem.rstrip('.')}; the loss climbed from lr={climb:.3g} on ({where}), and that over "
                f"{CLIMB_DIVISOR:g} is below the range tested ({lrs[0]:.3g}): lower `min_lr`."
            ),
        )
    reason = (
        f"{problem.rstrip('.')}. Answered by the divergence rule instead: lr={climb:.3g} ({where}) / {CLIMB_DIVISOR:g}."
    )
    return Suggestion(lr, method, reason=reason, rule="divergence")


def _crossing(lrs: Sequence[float], t: np.ndarray, top: int, bottom: int, fraction: float) -> float:
    """The LR (interpolated in log-LR) where ``t`` has come ``fraction`` of the way from ``t[top]`` to ``t[bottom]``."""
    level = t[top] - fraction * (t[top] - t[bottom])
    i = top + int(np.argmax(t[top : bottom + 1] <= level))
    if i == top:  # pragma: no cover - t[top] > level by construction
        return float(lrs[i])
    x0, x1 = math.log(lrs[i - 1]), math.log(lrs[i])
    return math.exp(x0 + (level - t[i - 1]) / (t[i] - t[i - 1]) * (x1 - x0))


def still_falling(lrs: Sequence[float], losses: Sequence[float], usable: int, width: float = TREND_WIDTH) -> bool:
    """Whether the smoothed loss was still at its lowest at the end of a test that did not diverge."""
    if usable < MIN_POINTS or usable < len(lrs):
        return False
    t = trend(lrs[:usable], losses[:usable], width)
    return int(np.argmin(t)) >= usable - max(1, usable // 20)


def _check_points(lrs: Sequence[float], usable: int, stop: str) -> str | None:
    why = f" ({stop})" if stop else ""
    if usable == 0:
        return f"no usable point: the test stopped at its first step{why}; lower `min_lr`."
    if usable < MIN_POINTS:
        if usable < len(lrs):
            return (
                f"only {usable} usable point(s) before the test stopped at lr={lrs[usable]:.3g}{why}; at least "
                f"{MIN_POINTS} are needed: lower `min_lr` or raise `num_training_steps`."
            )
        return f"only {usable} point(s) recorded; at least {MIN_POINTS} are needed: raise `num_training_steps`."
    return None


def _check_descent(lrs: Sequence[float], raw: np.ndarray, t: np.ndarray, width: float) -> tuple[str | None, bool]:
    """``(why the curve has no clear descent, whether a climb may still answer)``; ``(None, True)``: a descent."""
    if float(np.max(raw) - np.min(raw)) <= 1e-12 * max(1.0, abs(float(raw[0]))):
        return (
            f"the loss did not change over the whole range ({float(raw[0]):.6g} at every point): the parameters "
            "get no gradient (requires_grad=False, a detached loss) or the LRs are far too small.",
            False,
        )
    bottom = int(np.argmin(t))
    if bottom == 0:
        return (
            f"the smoothed loss never fell below its first value ({float(t[0]):.4g} at lr={lrs[0]:.3g}); it only "
            "rose, so even `min_lr` is too high (or the model does not learn): lower `min_lr`.",
            True,
        )
    drop = float(np.max(t[: bottom + 1]) - t[bottom])
    head = max(bottom + 1, 8)  # the noise up to the lowest point (past it the loss may blow up), >= 8 points
    level = max(NOISE_FACTOR * _trend_noise(lrs[:head], raw[:head], width), _floor(raw))
    if drop < level:
        return (
            f"no clear descent: the smoothed loss falls by {drop:.3g} at most, within its noise ({NOISE_FACTOR:g} "
            f"sigma = {level:.3g}); raise `max_lr` (or `num_training_steps`, or the batch size), or check that "
            "the model learns.",
            True,
        )
    return None, True


def _floor(raw: np.ndarray) -> float:
    """The smallest change that counts on a noise-free curve: a millionth of the loss's typical size."""
    return 1e-6 * max(1.0, float(np.median(np.abs(raw))))


def _trend_noise(lrs: Sequence[float], raw: np.ndarray, width: float) -> float:
    """Standard deviation of :func:`trend` on pure noise: the loss's point-to-point noise over sqrt(kernel size).

    The point-to-point noise is the median absolute deviation of consecutive differences, which a
    smooth descent hardly affects.
    """
    steps = np.diff(raw)
    noise = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / math.sqrt(2.0)
    u = np.log10(np.asarray(lrs, dtype=np.float64))
    w = np.exp(-0.5 * ((u - u[len(u) // 2]) / width) ** 2)
    return noise / math.sqrt(float(w.sum() ** 2 / (w**2).sum()))
