"""Parsing of the options every schedule callback shares: the warmup duration and the optimizer indices."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from lightning_lr.checks import check_real
from lightning_lr.schedules import Span

WarmupLike = int | float | str | Span | None


def parse_warmup(value: WarmupLike, name: str = "warmup") -> Span | None:
    """``int``: clock units; ``float`` in ``[0, 1)``: fraction of training; ``"2 epochs"``/``"5%"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be an int (steps), a float in [0, 1) (fraction of training) or a string "
            f"like '2 epochs'; got {value!r}."
        )
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        fraction = check_real(name, value)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(
                f"`{name}` as a float is a fraction of training and must be in [0, 1), got {value!r}; "
                "give an int for a number of steps."
            )
        return Span(fraction, "fraction")
    span = Span.parse(value, name)
    if span.unit == "fraction" and span.amount >= 1.0:
        raise ValueError(f"`{name}` must be shorter than training, got {value!r}.")
    return span if span.amount > 0 else None


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
