"""Argument checks shared by schedules and callbacks.

Every check raises ``ValueError`` (bad value) or ``TypeError`` (bad type) with a message that
names the parameter, the value received and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def _is_real(value: Any) -> bool:
    """A real number: Python's, NumPy's (``np.int64``, ``np.float32``, ...) or any ``numbers.Real``; no bool."""
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _is_int(value: Any) -> bool:
    """An integer: ``int``, NumPy integers or any ``numbers.Integral``; no bool."""
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # NumPy's bool is no numbers.Real subclass


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number."""
    if not _is_real(value):
        raise TypeError(f"`{name}` must be a real number, got {value!r} of type {type(value).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value!r}.")
    return float(value)


def check_non_negative(name: str, value: Any) -> float:
    """A finite number ``>= 0``."""
    number = check_real(name, value)
    if number < 0:
        raise ValueError(f"`{name}` must be >= 0, got {value!r}.")
    return number


def check_positive(name: str, value: Any) -> float:
    """A finite number ``> 0``."""
    number = check_real(name, value)
    if number <= 0:
        raise ValueError(f"`{name}` must be > 0, got {value!r}.")
    return number


def check_positive_int(name: str, value: Any) -> int:
    """An ``int`` ``>= 1`` (``bool`` refused)."""
    if not _is_int(value):
        raise TypeError(f"`{name}` must be an int >= 1, got {value!r} of type {type(value).__name__}.")
    if value < 1:
        raise ValueError(f"`{name}` must be an int >= 1, got {value!r}.")
    return int(value)


def check_open_interval(name: str, value: Any, low: float, high: float) -> float:
    """A finite number strictly between ``low`` and ``high``."""
    number = check_real(name, value)
    if not low < number < high:
        raise ValueError(f"`{name}` must be in the open interval ({low}, {high}), got {value!r}.")
    return number


def check_left_open_interval(name: str, value: Any, low: float, high: float) -> float:
    """A finite number in ``(low, high]``."""
    number = check_real(name, value)
    if not low < number <= high:
        raise ValueError(f"`{name}` must be in ({low:g}, {high:g}], got {value!r}.")
    return number


def check_closed_interval(name: str, value: Any, low: float, high: float) -> float:
    """A finite number in ``[low, high]``."""
    number = check_real(name, value)
    if not low <= number <= high:
        raise ValueError(f"`{name}` must be in [{low}, {high}], got {value!r}.")
    return number


def check_momentum(name: str, value: Any) -> float:
    """A momentum (or Adam ``beta1``) in ``[0, 1]``."""
    return check_closed_interval(name, value, 0.0, 1.0)


def check_non_negative_int(name: str, value: Any) -> int:
    """An ``int`` ``>= 0`` (``bool`` refused)."""
    if not _is_int(value):
        raise TypeError(f"`{name}` must be an int >= 0, got {value!r} of type {type(value).__name__}.")
    if value < 0:
        raise ValueError(f"`{name}` must be an int >= 0, got {value!r}.")
    return int(value)


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """One of the ``allowed`` strings."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, allowed))}; got {value!r}.")
    return str(value)


def check_bool(name: str, value: Any) -> bool:
    """A real ``bool`` (no truthy coercion)."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r} of type {type(value).__name__}.")
    return value


def per_group(name: str, value: Any, check: Callable[[str, Any], float]) -> float | tuple[float, ...]:
    """A number, or a list/tuple of numbers (one per param group), each passing ``check``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 0:
            raise ValueError(f"`{name}` must be a number or a non-empty list of numbers, got {value!r}.")
        return tuple(check(f"{name}[{i}]", v) for i, v in enumerate(value))
    return check(name, value)


def pick_group(name: str, value: float | tuple[float, ...], index: int, num_groups: int) -> float:
    """The entry of a per-group setting for param group ``index``."""
    if isinstance(value, tuple):
        if len(value) != num_groups:
            raise ValueError(
                f"`{name}` has {len(value)} entries but the optimizer has {num_groups} param groups; "
                "give one number, or one per param group."
            )
        return value[index]
    return value


def check_ordered(
    low_name: str, low: float | tuple[float, ...], high_name: str, high: float | tuple[float, ...]
) -> None:
    """``low <= high``, entry by entry for per-group lists (a single number applies to every group)."""
    lows = low if isinstance(low, tuple) else (low,)
    highs = high if isinstance(high, tuple) else (high,)
    pairs = zip(lows, highs) if len(lows) == len(highs) else ((lo, hi) for lo in lows for hi in highs)
    if any(lo > hi for lo, hi in pairs):
        raise ValueError(f"`{low_name}` ({low!r}) must be <= `{high_name}` ({high!r}).")


def check_state_version(owner: str, state: dict[str, Any], current: int, missing: int = 1) -> int:
    """The ``version`` of a saved state (``missing`` when it has none); a state newer than ``current`` is refused.

    Example:
        >>> check_state_version("OneCycle", {"version": 2}, current=2)
        2
    """
    version = int(state.get("version", missing))
    if version > current:
        raise ValueError(
            f"{owner} state has version {version}, newer than this lightning_lr ({current}); "
            "upgrade lightning_lr to resume from this checkpoint."
        )
    return version


class ScheduleConflictError(ValueError):
    """The schedule cannot run as configured with this trainer (raised before the first step)."""
