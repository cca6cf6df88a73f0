"""Where a schedule starts: a fresh fit, a resume from a checkpoint, or a further ``fit`` — decided once.

:func:`begin` is the one place that chooses between the three (every stateful callback asks it);
:class:`StartPoint` is what a schedule keeps between fits and in checkpoints: base values captured
at the start of a fresh fit, steps taken, the run the plan was made for, the stretches after runs of
another length, the ratios of groups that joined mid-run and the LR cuts so far. A callback with
more to keep (``WarmupStableDecay``'s cooldown, ``ReduceLROnPlateau``'s checks, the finder's range)
extends it with its own fields (:meth:`StartPoint.extra_state` / :meth:`StartPoint.extra_fields`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from lightning_lr.planner.plan import OptimizerPlan, Stretch, Warn
from lightning_lr.schedules import Timeline

Chain = list[tuple[float, float, float]]
S = TypeVar("S")
R = TypeVar("R")
P = TypeVar("P", bound="StartPoint")


class FitKind(enum.Enum):
    """How a ``fit`` relates to what came before it."""

    FRESH = "fresh"
    """Nothing before: capture base values, start every clock at 0."""
    RESUMED = "resumed"
    """From a checkpoint (``fit(ckpt_path=...)``): continue from the state saved in it."""
    CONTINUED = "continued"
    """A further ``fit`` on the same Trainer after an earlier one: continue from where that one ended."""


def begin(
    kind: FitKind, restored: S | None, previous: S | None, fresh: Callable[[], R], missing: Callable[[], R]
) -> S | R:
    """The one decision of where a fit starts.

    ``RESUMED``: the checkpoint's state (``restored``); ``CONTINUED``: the earlier fit's (``previous``);
    ``FRESH``: ``fresh()``. A resumed or continued fit without such a state (a checkpoint written
    without this callback, a callback added after the first fit) starts from ``missing()``.

    Example:
        >>> begin(FitKind.CONTINUED, None, "last fit", lambda: "new", lambda: "none kept")
        'last fit'
    """
    if kind is FitKind.FRESH:
        return fresh()
    kept = restored if kind is FitKind.RESUMED else previous
    return kept if kept is not None else missing()


@dataclass
class StartPoint:
    """What a schedule keeps between fits, per optimizer.

    Args:
        base_lrs: Each group's base value, captured at the start of the fresh fit.
        steps: Optimizer steps taken.
        planned: The run the schedules were resolved on (``None`` in a version-1 state: the plan follows the run).
        run_total: The length of the run they served last (another than ``planned.total`` after a stretch).
        stretches: Each optimizer's chain of stretches, as ``(start, old_end, new_end)``.
        joined: The ratios of the groups that joined mid-run, in order.
        cuts: Each group's LR cut so far (``ReduceLROnPlateau``'s reductions, ``cut_lr``); 1: none.
        consumed: Samples or tokens trained on so far (a clock of samples or tokens; 0 otherwise).
        auto_warmup: Each optimizer's ``warmup="auto"`` steps, decided at the fresh fit (``None``: not decided).
    """

    base_lrs: list[list[float]]
    steps: list[int]
    planned: Timeline | None = None
    run_total: float | None = None
    stretches: list[Chain] = field(default_factory=list)
    joined: list[list[float]] = field(default_factory=list)
    cuts: list[list[float]] = field(default_factory=list)
    consumed: float = 0.0
    auto_warmup: list[float] | None = None

    def to_state(self) -> dict[str, Any]:
        """The checkpoint fields (besides ``version``)."""
        planned = self.planned
        return {
            "base_lrs": [list(b) for b in self.base_lrs],
            "steps": list(self.steps),
            "planned": None if planned is None else [planned.total, planned.steps_per_epoch, planned.unit],
            "total": self.run_total,
            "stretches": [[list(s) for s in chain] for chain in self.stretches],
            "joined": [list(r) for r in self.joined],
            "cuts": [list(c) for c in self.cuts],
            "consumed": self.consumed,
            **({} if self.auto_warmup is None else {"auto_warmup": list(self.auto_warmup)}),
            **self.extra_state(),
        }

    @classmethod
    def from_state(cls: type[P], state: dict[str, Any]) -> P:
        """Read :meth:`to_state`'s fields (older layouts too: a version-1 state has no ``planned``; before
        version 3 ``ReduceLROnPlateau`` kept its cuts as ``plateau.scales``)."""
        planned = state.get("planned")
        cuts, auto = state.get("cuts"), state.get("auto_warmup")
        if cuts is None:
            cuts = (state.get("plateau") or {}).get("scales") or []
        return cls(
            [list(map(float, b)) for b in state["base_lrs"]],
            list(map(int, state["steps"])),
            None if planned is None else Timeline(float(planned[0]), float(planned[1]), unit=_unit(planned)),
            None if state.get("total") is None else float(state["total"]),
            [[(float(a), float(b), float(c)) for a, b, c in chain] for chain in state.get("stretches") or []],
            [list(map(float, r)) for r in state.get("joined") or []],
            [list(map(float, c)) for c in cuts],
            float(state.get("consumed") or 0.0),
            None if auto is None else [float(w) for w in auto],
            **cls.extra_fields(state),
        )

    def extra_state(self) -> dict[str, Any]:
        """A subclass's own checkpoint entries (added to :meth:`to_state`)."""
        return {}

    @classmethod
    def extra_fields(cls, state: dict[str, Any]) -> dict[str, Any]:
        """A subclass's own fields, read back from a checkpoint state (the inverse of :meth:`extra_state`)."""
        return {}

    def progressed(self: P, plans: Sequence[OptimizerPlan], consumed: float = 0.0) -> P:
        """This start point with what the running ``plans`` have added: steps, stretches, joined groups, cuts (and
        the samples or tokens ``consumed`` on such a clock)."""
        return replace(
            self,
            consumed=consumed,
            steps=[p.steps for p in plans],
            stretches=[[(s.start, s.old_end, s.new_end) for s in p.stretches] for p in plans],
            joined=[[g.ratio for g in p.groups if g.ratio is not None] for p in plans],
            cuts=[[g.factor for g in p.groups] for p in plans],
        )

    def continue_on(
        self, run: Timeline, nows: list[float], name: str, interval: str, policy: str, warn: Warn
    ) -> tuple[Timeline, float, list[Chain]]:
        """The timeline to resolve the schedules on, the run's length, each optimizer's stretches.

        A plan made for another run is resolved on that run; when the run's length changed since,
        :func:`length_change` decides: a new stretch from each optimizer's clock ``nows[k]`` on, or
        a fresh plan on ``run``.
        """
        chains = [list(self.stretches[k]) if k < len(self.stretches) else [] for k in range(len(self.steps))]
        if self.planned is None:
            return run, run.total, chains
        run_total = self.run_total if self.run_total is not None else self.planned.total
        if math.isclose(run_total, run.total, rel_tol=1e-12):
            return self.planned, run_total, chains
        new_end = length_change(name, f"{interval}s", policy, run_total, run.total, nows[0], warn)
        if new_end is None:
            return run, run.total, [[] for _ in chains]
        return self.planned, new_end, [[*c, (now, run_total, new_end)] for c, now in zip(chains, nows)]

    def rebuild(self, plan: OptimizerPlan, k: int) -> None:
        """Give a freshly built plan of optimizer ``k`` its stretches, joined groups and cuts from this start point."""
        plan.stretches = tuple(Stretch(*s) for s in (self.stretches[k] if k < len(self.stretches) else []))
        plan.rejoin(self.joined[k] if k < len(self.joined) else [])
        for g, cut in zip(plan.groups, self.cuts[k] if k < len(self.cuts) else []):
            g.factor = cut


def _unit(planned: list[Any]) -> Any:
    """The clock unit of a saved planned run (before version 3: steps, or epochs for an epoch clock — only samples
    and tokens check it)."""
    return planned[2] if len(planned) > 2 else "steps"


def length_change(
    name: str, unit: str, policy: str, planned: float, total: float, now: float, warn: Warn
) -> float | None:
    """The run is longer or shorter than planned: say so; the new end to stretch the plan to, or ``None`` to re-plan.

    ``policy="stretch"``: the rest of the old plan is spread over what remains of the new run (a
    plan that has ended holds its final value); ``"replan"``: the schedule is resolved on the new
    run (for schedules whose value so far does not depend on the run's length; such a callback says
    itself what the new length changes, as ``WarmupStableDecay`` does). Lengths that are not finite
    on either side are re-planned silently (such a schedule does not depend on them).
    """
    if policy == "replan" or not (math.isfinite(planned) and math.isfinite(total)):
        return None
    lead = f"{name}: this run has {total:g} {unit}, the schedule was planned for {planned:g}"
    if now >= planned:
        warn(f"{lead} and has ended: its final LR is held for the rest of training.")
    else:
        warn(
            f"{lead}: the remaining {planned - now:g} {unit} of the plan are spread over the remaining "
            f"{total - now:g} (no jump in the LR). Start a fresh fit to plan the new length from the start."
        )
    return total
