"""What a schedule callback does to one optimizer: per-group schedules on a clock, and their time map.

A :class:`GroupPlan` writes one param group's LR (and momentum) for a clock value. An
:class:`OptimizerPlan` holds the plans of an optimizer's groups, its :class:`OptimizerClock`, where
the planned schedule ends, and, after a resume with another run length, the :class:`Stretch` that
maps the new run's clock onto the old plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn

from lightning_lr.callbacks.clock import OptimizerClock
from lightning_lr.schedules import Affine, Schedule


def write_value(group: dict[str, Any], key: str, value: float) -> None:
    """Set ``group[key]``; a tensor (``lr=torch.tensor(...)`` for ``torch.compile``/capturable optimizers) in place."""
    current = group.get(key)
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        group[key] = value


@dataclass
class GroupPlan:
    """The resolved LR and momentum schedules of one param group."""

    group: dict[str, Any]
    lr: Schedule
    momentum: Schedule | None
    momentum_key: str | None  # "momentum", "betas" (Adam's beta1) or None when momentum is left alone
    ratio: float | None = None  # a group that joined mid-run: its LR is `ratio` x the first group's
    reference: Schedule | None = None  # ... the first group's schedule, for a joined group
    written: float = math.nan  # the LR a joined group was last given (another writer changes it)

    def apply(self, t: float) -> None:
        """Write the LR (and momentum) of clock ``t`` into the param group."""
        value = self.lr(t)
        write_value(self.group, "lr", value)
        if self.ratio is not None:
            self.written = value
        if self.momentum is not None:
            if self.momentum_key == "betas":
                beta1 = self.momentum(t)
                betas = self.group["betas"]
                if isinstance(betas[0], torch.Tensor):
                    betas[0].fill_(beta1)
                else:
                    self.group["betas"] = (beta1, betas[1])
            else:
                write_value(self.group, "momentum", self.momentum(t))

    def rebase(self, ratio: float) -> None:
        """A joined group follows the first group's schedule at a new ``ratio``."""
        if self.reference is None:
            raise ValueError("only a group that joined mid-run has a ratio to the first group")
        self.ratio, self.lr = ratio, Affine(self.reference, scale=ratio)

    def current_momentum(self) -> float | None:
        """The momentum (or ``beta1``) the group holds, when this plan sets it."""
        if self.momentum_key == "betas":
            return float(self.group["betas"][0])
        if self.momentum_key == "momentum":
            return float(self.group["momentum"])
        return None


@dataclass(frozen=True)
class Stretch:
    r"""Maps the clock of a longer (or shorter) run onto a plan made for the old length, without a jump.

    Up to ``start`` (where training resumed) the clock is unchanged; the rest of the old plan,
    from ``start`` to ``old_end``, is spread evenly over ``start .. new_end``:

    .. math:: t' = s + (t - s)\,\frac{T_{old} - s}{T_{new} - s}\quad (t \ge s)

    When the old plan had already ended (``start >= old_end``) its final value is held.

    Example:
        >>> Stretch(start=50, old_end=100, new_end=150)(100)
        75.0
    """

    start: float
    old_end: float
    new_end: float

    def __call__(self, t: float) -> float:
        if t <= self.start:
            return t
        if self.start >= self.old_end or self.new_end <= self.start:
            return max(self.old_end, self.start)
        return self.start + (t - self.start) * (self.old_end - self.start) / (self.new_end - self.start)


@dataclass
class OptimizerPlan:
    """What a callback does to one optimizer: its clock and one :class:`GroupPlan` per param group.

    ``end`` is the clock value where the planned schedule ends (warmup included; ``inf`` when it
    never ends); ``stretches`` map the clock after resumes with other run lengths.
    """

    clock: OptimizerClock
    groups: list[GroupPlan] = field(default_factory=list)
    applied_at: float = -1.0
    end: float = math.inf
    holds_end: bool = True
    stretches: tuple[Stretch, ...] = ()
    warned_past_end: bool = False
    joined: bool = False  # some groups joined mid-run: check them at every step

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.clock.optimizer

    def apply(self, t: float, name: str, interval: str) -> None:
        """Write every group's values for the run's clock ``t`` (a schedule that does not hold its end
        warns once when ``t`` passes it, then holds its final value)."""
        self.applied_at = t
        at = self.plan_time(t)
        if at > self.end and not self.holds_end and not self.warned_past_end:
            self.warned_past_end = True
            rank_zero_warn(
                f"{name}: {type(self.optimizer).__name__} is at {interval} {t:g}, past the end of its schedule "
                f"({self.end:g}); the LR is held at its final value from here on."
            )
        for g in self.groups:
            g.apply(at)

    def joiner(self, group: dict[str, Any], ratio: float) -> GroupPlan:
        """The plan of a group added mid-run: ``ratio`` x the first group's LR, its momentum schedule too."""
        first = self.groups[0]
        key = first.momentum_key if first.momentum_key is not None and first.momentum_key in group else None
        plan = GroupPlan(group, first.lr, first.momentum if key else None, key, reference=first.lr)
        plan.rebase(ratio)
        self.joined = True
        return plan

    def rejoin(self, ratios: list[float]) -> None:
        """After a resume: the groups that had joined before, at their saved ratios, in order."""
        for ratio in ratios:
            if len(self.groups) < len(self.optimizer.param_groups):
                self.groups.append(self.joiner(self.optimizer.param_groups[len(self.groups)], ratio))

    def sync_groups(self, t: float) -> list[tuple[int, float, float]]:
        """Let groups added since the last step join; adopt LRs another callback wrote into joined groups.

        A joined group whose LR differs from the one it was last given was set by someone else
        (Lightning's ``BackboneFinetuning`` raises its backbone group every epoch): the new value
        becomes its ratio to the first group, so the two cooperate instead of overwriting each other.
        Returns ``(index, lr, ratio)`` of each group that joined now.
        """
        reference = self.groups[0].lr(self.plan_time(self.applied_at if self.applied_at >= 0 else t))
        for g in self.groups:
            if g.ratio is not None and float(g.group["lr"]) != g.written and reference > 0:
                g.rebase(float(g.group["lr"]) / reference)
                self.applied_at = -1.0
        added = []
        for group in self.optimizer.param_groups[len(self.groups) :]:
            lr = float(group["lr"])
            ratio = lr / reference if reference > 0 else 1.0
            self.groups.append(self.joiner(group, ratio))
            added.append((len(self.groups) - 1, lr, ratio))
            self.applied_at = -1.0
        return added

    def plan_time(self, t: float) -> float:
        """The clock value of the plan for the run's clock ``t`` (after each stretch, oldest last)."""
        for stretch in reversed(self.stretches):
            t = stretch(t)
        return t


def momentum_key(
    name: str, optimizer: torch.optim.Optimizer, group: dict[str, Any], momentum: Schedule | None
) -> str | None:
    """Where a group keeps the momentum a schedule sets: ``"momentum"``, Adam's ``"betas"``, or ``None``."""
    if momentum is None:
        return None
    if "betas" in group:
        return "betas"
    if "momentum" in group:
        return "momentum"
    from lightning_lr.callbacks.conflicts import ScheduleConflictError

    raise ScheduleConflictError(
        f"{name} cycles momentum but {type(optimizer).__name__} has neither `momentum` nor "
        "`betas`; pass `cycle_momentum=False`."
    )
