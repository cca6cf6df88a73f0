"""The options every schedule callback shares, declared once, and their parsing.

:class:`~lightning_lr.callbacks.base.ScheduleCallback` takes them as keyword-only arguments; each
named callback forwards them with ``**options`` typed by one of the dictionaries below, so adding
an option is one edit here and one in the base class (a test keeps the two in step), and
LightningCLI still sees every option with its type.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from typing_extensions import TypedDict

from lightning_lr.planner import Interval, WarmupLike, parse_warmup

__all__ = ["Interval", "LROptions", "RunOptions", "ScheduleOptions", "WarmupLike", "parse_indices", "parse_warmup"]


class RunOptions(TypedDict, total=False):
    """Options of every schedule callback (see :class:`~lightning_lr.callbacks.base.ScheduleCallback`)."""

    interval: Interval
    optimizers: int | Sequence[int] | None
    log_loss: bool
    count: str | Callable[[Any], float] | None
    total: float | str | None


class LROptions(RunOptions, total=False):
    """Options of a callback that sets the LR: also ``log_lr``."""

    log_lr: bool | None


class ScheduleOptions(LROptions, total=False):
    """Options of a callback whose schedule a linear warmup may precede: also ``warmup`` and its start."""

    warmup: WarmupLike
    warmup_start_factor: float


def parse_indices(value: int | Sequence[int] | None) -> tuple[int, ...] | None:
    """``optimizers=``: ``None`` (all), one index or a list of distinct indices ``>= 0``."""
    if value is None:
        return None
    message = f"`optimizers` must be an int >= 0, a list of them, or None; got {value!r}."
    if isinstance(value, (str, bool)) or not isinstance(value, (numbers.Integral, Sequence)):
        raise TypeError(message)
    items: list[Any] = [value] if isinstance(value, numbers.Integral) else list(value)
    if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) and int(i) >= 0 for i in items):
        raise TypeError(message)
    if not items or len(set(items)) != len(items):
        raise ValueError(f"`optimizers` must list distinct indices, got {value!r}.")
    return tuple(int(i) for i in items)
