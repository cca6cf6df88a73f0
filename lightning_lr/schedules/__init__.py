"""Pure, closed-form schedules and the algebra that combines them.

A schedule is a frozen dataclass and a function of the clock ``t`` (optimizer steps, or epochs):
no state, no optimizer, no recursion on the previous value.

Example:
    >>> from lightning_lr.schedules import Cosine, Timeline, Warmup
    >>> schedule = Warmup(Cosine(1.0, 0.0), duration="10%").resolve(Timeline(total=1000))
    >>> schedule(0), schedule(100), round(schedule(550), 6), schedule(1000)
    (0.0, 1.0, 0.5, 0.0)
"""

from lightning_lr.schedules.base import DurationLike, Schedule, Span, Timeline, epochs, fraction, steps
from lightning_lr.schedules.combinators import Affine, Clamp, Cycle, Join, Product, Truncate, Warmup
from lightning_lr.schedules.durations import parse_duration
from lightning_lr.schedules.primitives import (
    Constant,
    Cosine,
    Exponential,
    InverseSqrt,
    Linear,
    MultiStep,
    Polynomial,
    Power,
    Step,
)
from lightning_lr.schedules.recipes import (
    between,
    cosine_restarts,
    one_cycle,
    one_cycle_momentum,
    triangle_wave,
    warmup_stable_decay,
)

__all__ = [
    "Affine",
    "Clamp",
    "Constant",
    "Cosine",
    "Cycle",
    "DurationLike",
    "Exponential",
    "InverseSqrt",
    "Join",
    "Linear",
    "MultiStep",
    "Polynomial",
    "Power",
    "Product",
    "Schedule",
    "Span",
    "Step",
    "Timeline",
    "Truncate",
    "Warmup",
    "between",
    "cosine_restarts",
    "epochs",
    "fraction",
    "one_cycle",
    "one_cycle_momentum",
    "parse_duration",
    "steps",
    "triangle_wave",
    "warmup_stable_decay",
]
