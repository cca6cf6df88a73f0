r"""``warmup="auto"``: a warmup length the run derives from the optimizer, decided once at a fresh fit.

The rule (Ma & Yarats 2021): Adam's second-moment estimate averages over about :math:`1/(1-\beta_2)`
steps, and its update is unreliable until that average has filled; a linear warmup over
:math:`2/(1-\beta_2)` steps is enough ("untuned warmup"). Optimizers without a ``beta2`` (SGD and its
momentum) get no warmup. The length is capped at a fraction of the run, so that a short run does not
spend most of its steps warming up (:math:`\beta_2 = 0.999` asks for 2000 steps):

.. math:: w = \min\!\left(\operatorname{round}\frac{2}{1 - \beta_2},\ \lfloor c\, T \rfloor\right)

with :math:`T` the run's optimizer steps and :math:`c` = ``cap`` (0.1 by default; measured in
``docs/benchmarks/auto_warmup.md``). Every param group's ``beta2`` is read; the largest decides.

Reference:
    J. Ma and D. Yarats, "On the adequacy of untuned warmup for adaptive optimization", AAAI 2021.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch.optim import Optimizer

from lightning_lr.checks import check_closed_interval
from lightning_lr.schedules import Timeline

DEFAULT_CAP = 0.1


@dataclass(frozen=True)
class AutoWarmup:
    """The ``warmup="auto"`` rule; ``cap``: the longest warmup as a fraction of the run.

    Example:
        >>> import torch
        >>> adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], betas=(0.9, 0.99))
        >>> AutoWarmup().steps(adam, Timeline(total=10_000))
        200.0
        >>> AutoWarmup().steps(adam, Timeline(total=1_000))  # capped at 10% of the run
        100.0
        >>> AutoWarmup().steps(torch.optim.SGD(adam.param_groups[0]["params"], lr=0.1), Timeline(total=1_000))
        0.0
    """

    cap: float = DEFAULT_CAP

    def __post_init__(self) -> None:
        object.__setattr__(self, "cap", check_closed_interval("cap", self.cap, 0.0, 1.0))

    def steps(self, optimizer: Optimizer, timeline: Timeline) -> float:
        """The warmup's optimizer steps for ``optimizer`` on a run of ``timeline.total`` steps."""
        beta2 = adam_beta2(optimizer)
        if beta2 is None:
            return 0.0
        wanted = math.inf if beta2 >= 1.0 else float(round(2.0 / (1.0 - beta2)))
        limit = math.floor(self.cap * timeline.total) if math.isfinite(timeline.total) else math.inf
        width = min(wanted, float(limit))
        return width if math.isfinite(width) else 0.0

    def explain(self, optimizer: Optimizer, timeline: Timeline) -> str:
        """The decision in words: ``beta2``, the rule's length, the cap, the warmup chosen."""
        beta2, width = adam_beta2(optimizer), self.steps(optimizer, timeline)
        name = type(optimizer).__name__
        if beta2 is None:
            return f"warmup='auto': {name} has no beta2 (not Adam-type): no warmup"
        wanted = "inf" if beta2 >= 1.0 else f"{round(2.0 / (1.0 - beta2))}"
        return (
            f"warmup='auto': {name} beta2={beta2:g} -> 2/(1-beta2) = {wanted} steps, capped at "
            f"{self.cap:g} of {timeline.total:g} steps: {width:g} steps (Ma & Yarats 2021)"
        )


def adam_beta2(optimizer: Optimizer) -> float | None:
    """The largest ``betas[1]`` over the param groups; ``None`` when no group has ``betas`` (SGD-type)."""
    values = [float(g["betas"][1]) for g in optimizer.param_groups if "betas" in g and len(g["betas"]) > 1]
    return max(values) if values else None
