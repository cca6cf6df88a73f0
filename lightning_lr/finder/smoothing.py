"""The two smoothings of a range-test curve, for two jobs.

* :class:`MovingAverage` / :func:`smooth`, the bias-corrected exponential moving average (EMA), is
  causal: the test feeds it each loss while running to decide when the loss has diverged, and
  ``FinderResult.smoothed_losses`` holds its values. It lags, though, by about
  :math:`\\beta/(1-\\beta)` points (49 with the default 0.98: four decades of LR in a 100-step test
  from 1e-8 to 1), which drags every rule computed on it towards too-large LRs.
* :func:`trend`, a centered Gaussian smoothing over log-LR, has no lag; the suggestion rules use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TREND_WIDTH = 0.25
"""Standard deviation, in decades of LR, of the Gaussian kernel of :func:`trend`."""


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

    With a 100-point test from 1e-8 to 1 (12.5 points per decade) :math:`\sigma = 0.25` decades spans about
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
