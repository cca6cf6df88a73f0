"""From a range-test curve to a learning rate: smoothing and the suggestion rules.

Pure functions of the recorded curve (no model, no trainer), so a suggestion can be recomputed
with another rule after the test, and every rule says *why* when it cannot answer.

Two smoothings, for two jobs:

* :func:`smooth`, the bias-corrected exponential moving average (EMA), is causal: the test uses
  it while running to decide when the loss has diverged. It lags, though, by about
  :math:`\\beta/(1-\\beta)` points (49 with the default 0.98: four decades of LR in a
  100-step test from 1e-8 to 1), which drags every rule computed on it towards too-large LRs.
* :func:`trend`, a centered Gaussian smoothing over log-LR, has no lag; the rules use it.

Only the first ``usable`` points count: the point where the test stopped (loss diverged or not
finite) and anything after it are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["valley", "steepest", "minimum"]
METHODS: tuple[Method, ...] = ("valley", "steepest", "minimum")
MIN_POINTS = 5
"""A curve with fewer usable points than this gets no suggestion."""
TREND_WIDTH = 0.25
"""Standard deviation, in decades of LR, of the Gaussian kernel of :func:`trend`."""
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


class MovingAverage:
    r"""The bias-corrected exponential moving average, one value at a time.

    .. math::

        a_i = \beta a_{i-1} + (1 - \beta) x_i,\quad a_{-1} = 0,\qquad
        \hat{a}_i = \frac{a_i}{1 - \beta^{i + 1}}

    The one implementation of the EMA: the range test's stop rule feeds it each loss as it comes,
    and :func:`smooth` (hence ``FinderResult.smoothed_losses``) runs it over a recorded curve, so
    the two agree to the bit.

    Args:
        beta: The smoothing factor, in ``[0, 1)``; 0 gives the values back unchanged.

    Example:
        >>> average = MovingAverage(0.5)
        >>> average.update(4.0), average.update(2.0)
        (4.0, 2.666...)
    """

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self.average = 0.0
        self.count = 0

    def update(self, x: float) -> float:
        r"""Take the next value; return the smoothed value :math:`\hat{a}_i` up to it."""
        self.average = self.beta * self.average + (1.0 - self.beta) * float(x)
        self.count += 1
        return self.average / (1.0 - self.beta**self.count) if self.beta > 0 else self.average


def smooth(losses: Sequence[float], beta: float) -> list[float]:
    r"""Bias-corrected exponential moving average of ``losses`` (causal; used to stop the test).

    .. math::

        a_i = \beta a_{i-1} + (1 - \beta) x_i,\quad a_{-1} = 0,\qquad
        \hat{a}_i = \frac{a_i}{1 - \beta^{i + 1}}

    so the first smoothed value is the first loss (Lightning's finder divides by
    :math:`1 - \beta^{i+2}` at its first point). A NaN or infinite loss propagates. The values are
    those of :class:`MovingAverage`, which the test's stop rule uses.

    Example:
        >>> smooth([4.0, 2.0, 2.0], beta=0.5)
        [4.0, 2.666..., 2.285...]
    """
    average = MovingAverage(beta)
    return [average.update(x) for x in losses]


def trend(lrs: Sequence[float], losses: Sequence[float], width: float = TREND_WIDTH) -> list[float]:
    r"""Centered (zero-lag) Gaussian smoothing of ``losses`` over :math:`u = \log_{10} \eta`.

    .. math::

        t_i = \frac{\sum_j w_{ij} \ell_j}{\sum_j w_{ij}},\qquad
        w_{ij} = \exp\left(-\frac{(u_i - u_j)^2}{2\sigma^2}\right),\ \sigma = \text{width}

    With the default test (12.5 points per decade) :math:`\sigma = 0.25` decades spans about
    three points each side. ``losses`` must be finite.

    Example:
        >>> [round(v, 3) for v in trend([1e-3, 1e-2, 1e-1], [1.0, 0.0, 1.0], width=0.5)]
        [0.881, 0.213, 0.881]
    """
    u = np.log10(np.asarray(lrs, dtype=np.float64))
    y = np.asarray(losses, dtype=np.float64)
    out = np.empty_like(y)
    for start in range(0, len(y), 512):  # bounded memory for long tests
        w = np.exp(-0.5 * ((u[start : start + 512, None] - u[None, :]) / width) ** 2)
        out[start : start + 512] = (w @ y) / w.sum(axis=1)
    return [float(v) for v in out]


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
    raw = np.asarray(losses[:usable], dtype=np.float64)
    t = np.asarray(trend(lrs[:usable], losses[:usable], width), dtype=np.float64)
    problem, informative = _check_descent(lrs[:usable], raw, t, width)
    if problem is not None:
        if not informative:
            return Suggestion(None, method, reason=problem)
        return _from_climb(lrs, raw, t, usable, method, problem, stop, width)
    bottom = int(np.argmin(t))
    if method == "minimum":
        return Suggestion(float(lrs[bottom]) / MINIMUM_DIVISOR, method, rule=method)
    if method == "steepest":
        x = np.log(np.asarray(lrs[:usable], dtype=np.float64))
        slope = np.gradient(t, x)
        start = max(1, usable // 10)
        start = start if start < bottom else 0
        index = start + int(np.argmin(slope[start : bottom + 1]))
        return Suggestion(float(lrs[index]), method, rule=method)
    top = int(np.argmax(t[: bottom + 1]))
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
    raw = np.asarray(losses[:usable], dtype=np.float64)
    t = np.asarray(trend(lrs[:usable], losses[:usable], width), dtype=np.float64)
    if _check_descent(lrs[:usable], raw, t, width)[0] is not None:
        return None
    bottom = int(np.argmin(t))
    top = int(np.argmax(t[: bottom + 1]))
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
    raw = np.asarray(losses[:usable], dtype=np.float64)
    t = np.asarray(trend(lrs[:usable], losses[:usable], width), dtype=np.float64)
    return _climb(lrs, raw, t, usable, width)


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
