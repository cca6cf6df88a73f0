"""What a range test found: the curve, why it stopped, the suggestion (or why there is none)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_lr.finder.smoothing import smooth, trend
from lightning_lr.finder.suggest import METHODS, Method, Suggestion, lr_range, still_falling, suggest

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass
class Probe:
    """One probe: a constant LR trained for a few optimizer steps from the snapshot taken before the probes.

    Attributes:
        lr: The probe's LR (of the first param group; the others keep their ratio to it).
        losses: The loss of each of its optimizer steps (averaged across ranks).
        score: What decides, lower is better: the mean of the last quarter of ``losses`` (each computed on a
            batch before the step that trains on it, so on data the weights have not seen), or the monitored
            validation metric after the last step; ``inf`` when the probe stopped on a NaN/inf loss.
        stop: Why the probe stopped before its budget (``None``: it completed).
    """

    lr: float
    losses: list[float] = field(default_factory=list)
    score: float = math.inf
    stop: str | None = None


@dataclass
class FinderResult:
    """The outcome of an LR range test.

    Attributes:
        lrs: LR of each test point (the first param group's; the other groups keep their ratio to it).
        losses: Raw loss of each point (the mean over an accumulation window, averaged across ranks).
        smoothed_losses: The bias-corrected moving average of ``losses`` (see
            :func:`~lightning_lr.finder.smoothing.smooth`) that decides when the test stops.
        usable: How many leading points the suggestion uses: all of them, or those before the point
            where the test stopped early. The rules use :meth:`trend` of these points.
        stop_reason: Why the test ended (completed, diverged, loss not finite, not run).
        method: The suggestion rule.
        suggestion: The suggested LR, or ``None``.
        reason: Why ``suggestion`` is ``None``; or, when the ``"divergence"`` fallback answered
            (:attr:`rule`), why ``method`` could not. ``None`` when ``method`` answered.
        note: A caveat about a suggestion, e.g. that the loss was still falling at ``max_lr``.
        monitor: The curve's loss: ``"train loss"`` or the name of the validation metric.
        seconds: Wall time of the test, snapshot and restore included.
        rule: The rule that gave :attr:`suggestion`: ``"probes"`` (the probes' pick), :attr:`method`, or
            ``"divergence"`` (no clear descent, but the loss climbed: a third of the LR where it started to);
            ``None`` without one.
        probes: The probes that confirmed the curve's pick (see :class:`Probe`), in increasing LR; empty when
            none ran (``LRFinder(confirm=False)``, a run too short for them: :attr:`probe_note` says why).
        probe_steps: Optimizer steps of each probe (0: none ran).
        curve_lr: The curve rule's suggestion, around which the probes were placed (``None`` without probes).
        run_steps: The run's length in optimizer steps that the budget was taken from (``None``: unknown).
        probe_note: Why no probes ran when the finder was asked for them, or a caveat about those that ran (a
            loader shorter than a probe, an unknown run length).

    Example:
        >>> import math
        >>> lrs = [10.0 ** (k / 10 - 4) for k in range(41)]  # 1e-4 .. 1
        >>> losses = [1.0 + abs(math.log10(lr) + 2.0) for lr in lrs]  # lowest at 1e-2
        >>> result = FinderResult.from_curve(lrs, losses, method="minimum")
        >>> result.suggestion  # the lowest point, divided by 10
        0.001
        >>> round(result.suggest("valley").lr, 5)  # halfway down the descent from 1e-4 to 1e-2
        0.00097
        >>> result.explain()
        'suggested lr=0.001 (minimum rule; 41 points, completed).'
    """

    lrs: list[float]
    losses: list[float]
    smoothed_losses: list[float]
    usable: int
    stop_reason: str
    method: str = "valley"
    suggestion: float | None = None
    reason: str | None = None
    note: str | None = None
    monitor: str = "train loss"
    seconds: float = 0.0
    rule: str | None = None
    probes: list[Probe] = field(default_factory=list)
    probe_steps: int = 0
    curve_lr: float | None = None
    run_steps: float | None = None
    probe_note: str | None = None

    @classmethod
    def from_curve(
        cls,
        lrs: list[float],
        losses: list[float],
        smoothing: float = 0.98,
        method: Method = "valley",
        usable: int | None = None,
        stop_reason: str = "completed",
        monitor: str = "train loss",
    ) -> FinderResult:
        """Smooth ``losses`` and apply ``method``; ``usable=None``: every point counts."""
        result = cls(
            lrs=[float(v) for v in lrs],
            losses=[float(v) for v in losses],
            smoothed_losses=smooth(losses, smoothing),
            usable=len(lrs) if usable is None else usable,
            stop_reason=stop_reason,
            method=method,
            monitor=monitor,
        )
        return result.with_method(method)

    @classmethod
    def not_run(cls, why: str, method: str = "valley") -> FinderResult:
        """A result for a test that did not run (resumed fit, ``fast_dev_run``)."""
        return cls([], [], [], 0, f"not run: {why}", method, reason=f"the range test did not run: {why}.")

    def suggest(self, method: str) -> Suggestion:
        """The answer of rule ``method`` (one of ``"valley"``, ``"steepest"``, ``"minimum"``) on this curve."""
        if not self.lrs:
            return Suggestion(None, method, reason=self.reason or "no point was recorded.")
        return suggest(self.lrs, self.losses, self.usable, method, self.stop_reason)

    def trend(self) -> list[float]:
        """The centered smoothing of the usable raw losses that the rules read (see ``finder.smoothing.trend``)."""
        return trend(self.lrs[: self.usable], self.losses[: self.usable]) if self.usable else []

    def suggestions(self) -> dict[str, Suggestion]:
        """Every rule's answer, by name."""
        return {m: self.suggest(m) for m in METHODS}

    def with_method(self, method: str) -> FinderResult:
        """Set :attr:`method`, :attr:`suggestion` and :attr:`reason` from rule ``method``; returns ``self``."""
        answer = self.suggest(method)
        self.method, self.suggestion, self.reason, self.rule = method, answer.lr, answer.reason, answer.rule
        self.note = None
        if answer.lr is not None and still_falling(self.lrs, self.losses, self.usable):
            self.note = (
                f"the loss was still falling at the end of the range (lr={self.lrs[-1]:.3g}); the suggestion may be "
                "too low: raise `max_lr` until the test diverges."
            )
        return self

    @property
    def lr_range(self) -> tuple[float, float] | None:
        r"""``(low, high)``: the LRs between which the loss falls (Smith's range for cyclical LRs).

        The LRs where the centered smoothing :math:`t` (:meth:`trend`) has come 10% and 90% of the
        way down its main descent (from its highest point before its minimum to the minimum):

        .. math:: t(\eta_{low}) = t_{top} - 0.1\,\Delta,\quad t(\eta_{high}) = t_{top} - 0.9\,\Delta,
            \qquad \Delta = t_{top} - t_{bottom}

        ``None`` when the curve has no clear descent (see
        :func:`~lightning_lr.finder.suggest.lr_range`). ``Cyclical(base_lr=None, max_lr=None)`` and
        ``OneCycle(div_factor=None)`` take it from an ``LRFinder(apply=True)``.

        Example:
            >>> import math
            >>> lrs = [10.0 ** (k / 10 - 5) for k in range(51)]
            >>> losses = [1.0 / (1.0 + math.exp(4 * (math.log10(lr) + 3))) for lr in lrs]  # falls around 1e-3
            >>> low, high = FinderResult.from_curve(lrs, losses).lr_range
            >>> round(math.log10(low), 2), round(math.log10(high), 2)
            (-3.64, -2.36)
        """
        if not self.lrs:
            return None
        return lr_range(self.lrs, self.losses, self.usable)

    @property
    def diverged(self) -> bool:
        """Whether the test stopped early because the loss diverged or was not finite."""
        return self.usable < len(self.lrs)

    def explain(self) -> str:
        """One line: the suggestion, or why there is none, why the test stopped and what each probe scored."""
        points = f"{len(self.lrs)} points, {self.stop_reason}"
        skipped = f" No probes: {self.probe_note}." if self.probe_note else ""
        if self.suggestion is not None and self.rule == "probes":
            curve = "divergence" if self.reason else self.method
            caveat = f" Note: {self.probe_note}." if self.probe_note else ""
            count = f"{len(self.probes)} probe{'s' * (len(self.probes) != 1)}"
            return (
                f"suggested lr={self.suggestion:.4g} (chosen by {count} of {self.probe_steps} "
                f"steps around the {curve} rule's {self.curve_lr:.4g}: {self.probe_summary()}; range test: {points})."
                + caveat
            )
        if self.suggestion is not None:
            note = f" Note: {self.note}" if self.note else ""
            if self.rule is not None and self.rule != self.method:
                return f"suggested lr={self.suggestion:.4g} ({self.rule} rule; {points}): {self.reason}{note}{skipped}"
            return f"suggested lr={self.suggestion:.4g} ({self.method} rule; {points}).{note}{skipped}"
        probes = f" Probes: {self.probe_summary()}." if self.probes else skipped
        return f"no suggestion: {self.reason} [{points}]{probes}"

    def probe_summary(self) -> str:
        """Each probe's LR and score (or why it stopped), ``*`` on the suggestion: ``"0.01 -> 0.35, 0.02 -> 0.31*"``."""
        return ", ".join(
            f"{p.lr:.3g} -> "
            + (f"{p.score:.4g}" if p.stop is None else f"stopped ({p.stop})")
            + ("*" if p.lr == self.suggestion else "")
            for p in self.probes
        )

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON- and checkpoint-friendly; NaN stays NaN)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinderResult:
        """Inverse of :meth:`to_dict` (a dict written before a field existed gets its default)."""
        data = dict(data)
        data["probes"] = [Probe(**dict(p)) for p in data.get("probes", [])]
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the result as JSON."""
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> FinderResult:
        """Read a result written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    # ------------------------------------------------------------------ figure
    def plot(self, ax: Axes | None = None, show_raw: bool = True, show_all: bool = False) -> Figure:
        """Loss against LR on a log x-axis, the suggestion marked and :attr:`lr_range` shaded.

        Args:
            ax: Draw into these axes; ``None``: a new :class:`~matplotlib.figure.Figure` (not
                registered with ``pyplot``, so nothing to close).
            show_raw: Also draw the raw losses, faintly.
            show_all: Mark every rule's suggestion, not only :attr:`method`'s.

        Returns:
            The figure drawn into (``ax.figure`` when ``ax`` is given).
        """
        from lightning_lr.finder.plot import plot_result

        return plot_result(self, ax=ax, show_raw=show_raw, show_all=show_all)

    def __repr__(self) -> str:
        best = "None" if self.suggestion is None else f"{self.suggestion:.4g}"
        return f"FinderResult(points={len(self.lrs)}, suggestion={best}, method={self.method!r}, usable={self.usable})"
