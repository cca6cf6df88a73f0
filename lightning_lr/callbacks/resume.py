"""Where a schedule callback starts: a fresh fit, a resume from a checkpoint, or a further ``fit``.

Base LRs are captured at the start of a fresh fit and kept (in the checkpoint, or in the callback
for a further ``fit`` on the same Trainer); the clock continues from the steps taken. When the new
run is longer or shorter than the one the schedule was planned for, :func:`length_change` says so
and decides how the plan continues, never with a silent jump in the LR.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lightning.pytorch.utilities import rank_zero_warn
from torch.optim import Optimizer

from lightning_lr.callbacks.conflicts import ScheduleConflictError
from lightning_lr.schedules import Timeline


@dataclass
class StartPoint:
    """Base LRs and steps taken per optimizer; the run the schedules were resolved on (``planned``), the
    length of the run they then served (``run_total``, longer or shorter after a stretch), each optimizer's
    chain of stretches as ``(start, old_end, new_end)``, and the ratios of groups that joined mid-run."""

    base_lrs: list[list[float]]
    steps: list[int]
    planned: Timeline | None = None
    run_total: float | None = None
    stretches: list[list[tuple[float, float, float]]] = field(default_factory=list)
    joined: list[list[float]] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        """The checkpoint fields (besides ``version``)."""
        planned = self.planned
        return {
            "base_lrs": [list(b) for b in self.base_lrs],
            "steps": list(self.steps),
            "planned": None if planned is None else [planned.total, planned.steps_per_epoch],
            "total": self.run_total,
            "stretches": [[list(s) for s in chain] for chain in self.stretches],
            "joined": [list(r) for r in self.joined],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StartPoint:
        """Read :meth:`to_state`'s fields (a version-1 state has no ``planned``: the plan follows the run)."""
        planned = state.get("planned")
        return cls(
            [list(map(float, b)) for b in state["base_lrs"]],
            list(map(int, state["steps"])),
            None if planned is None else Timeline(float(planned[0]), float(planned[1])),
            None if state.get("total") is None else float(state["total"]),
            [[(float(a), float(b), float(c)) for a, b, c in chain] for chain in state.get("stretches") or []],
            [list(map(float, r)) for r in state.get("joined") or []],
        )

    def continue_on(
        self, run: Timeline, nows: list[float], name: str, interval: str, policy: str
    ) -> tuple[Timeline, float, list[list[tuple[float, float, float]]]]:
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
        new_end = length_change(name, f"{interval}s", policy, run_total, run.total, nows[0])
        if new_end is None:
            return run, run.total, [[] for _ in chains]
        return self.planned, new_end, [[*c, (now, run_total, new_end)] for c, now in zip(chains, nows)]


def start_point(
    name: str,
    restored: dict[str, Any] | None,
    previous: StartPoint | None,
    optimizers: list[Optimizer],
    base_lrs: Callable[[Optimizer], list[float]],
    global_step: int,
    single_optimizer: bool,
) -> StartPoint:
    """From the checkpoint's state, else from the previous fit (``previous``), else fresh."""
    if restored and restored.get("base_lrs") is not None:
        start = StartPoint.from_state(restored)
        if len(start.base_lrs) != len(optimizers):
            raise ScheduleConflictError(
                f"{name}: the checkpoint holds {len(start.base_lrs)} optimizers' state, "
                f"the model has {len(optimizers)}."
            )
        return start
    if global_step > 0 and previous is not None and len(previous.steps) == len(optimizers):
        return previous  # a further fit() on the same Trainer and callback: carry on where the last one ended
    start = StartPoint([base_lrs(opt) for opt in optimizers], [0] * len(optimizers))
    if global_step > 0:
        start.steps = [global_step if single_optimizer else 0] * len(optimizers)
        rank_zero_warn(
            f"{name}: training starts at global step {global_step} without this callback's state (a checkpoint "
            "written without it?); base LRs are read from the optimizer as it is now and the clock starts at "
            f"{start.steps}."
        )
    return start


def length_change(name: str, unit: str, policy: str, planned: float, total: float, now: float) -> float | None:
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
        rank_zero_warn(f"{lead} and has ended: its final LR is held for the rest of training.")
    else:
        rank_zero_warn(
            f"{lead}: the remaining {planned - now:g} {unit} of the plan are spread over the remaining "
            f"{total - now:g} (no jump in the LR). Start a fresh fit to plan the new length from the start."
        )
    return total
