"""lightning_lr: Lightning callbacks that own the learning-rate schedule.

The names below load on first use, so ``lightning_lr.schedules``, ``lightning_lr.planner`` and
:class:`ScheduleLR` work without importing Lightning.

Example:
    >>> from lightning.pytorch import Trainer
    >>> from lightning_lr import OneCycle
    >>> trainer = Trainer(max_epochs=3, callbacks=[OneCycle()], logger=False)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lightning_lr.deprecation import moved

__version__ = "0.1.0"

_ELSEWHERE = {  # every other public name lives in lightning_lr.callbacks
    "ScheduleConflictError": "lightning_lr.checks",
    "FinderResult": "lightning_lr.finder",
    "LRFinder": "lightning_lr.finder",
    "find_lr": "lightning_lr.finder",
    "ScheduleLR": "lightning_lr.schedule_lr",
    "ScheduleFree": "lightning_lr.schedule_free",
    "layerwise_param_groups": "lightning_lr.param_groups",
    "RewindOnSpike": "lightning_lr.rewind",
    "TooManyRewindsError": "lightning_lr.rewind",
}
_SUBPACKAGES = ("finder", "planner", "schedules")
_deprecated = moved(__name__, {"PlateauState": "lightning_lr.callbacks.plateau"})

__all__ = [
    "AutoLR",
    "CosineAnnealing",
    "CosineRestarts",
    "Cyclical",
    "ExponentialDecay",
    "FinderResult",
    "HyperparameterScheduler",
    "LRFinder",
    "LRScheduler",
    "MultiStepDecay",
    "OneCycle",
    "ReduceLROnPlateau",
    "RewindOnSpike",
    "ScaleLR",
    "ScheduleCallback",
    "ScheduleConflictError",
    "ScheduleFree",
    "ScheduleLR",
    "StepDecay",
    "TooManyRewindsError",
    "WarmupCosine",
    "WarmupLinear",
    "WarmupStableDecay",
    "__version__",
    "find_lr",
    "finder",
    "layerwise_param_groups",
    "planner",
    "schedules",
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        value: Any = importlib.import_module(f"{__name__}.{name}")
    elif name in __all__:
        value = getattr(importlib.import_module(_ELSEWHERE.get(name, "lightning_lr.callbacks")), name)
    else:
        return _deprecated(name)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from lightning_lr import finder, planner, schedules
    from lightning_lr.callbacks import (
        AutoLR,
        CosineAnnealing,
        CosineRestarts,
        Cyclical,
        ExponentialDecay,
        HyperparameterScheduler,
        LRScheduler,
        MultiStepDecay,
        OneCycle,
        ReduceLROnPlateau,
        ScaleLR,
        ScheduleCallback,
        StepDecay,
        WarmupCosine,
        WarmupLinear,
        WarmupStableDecay,
    )
    from lightning_lr.checks import ScheduleConflictError
    from lightning_lr.finder import FinderResult, LRFinder, find_lr
    from lightning_lr.param_groups import layerwise_param_groups
    from lightning_lr.rewind import RewindOnSpike, TooManyRewindsError
    from lightning_lr.schedule_free import ScheduleFree
    from lightning_lr.schedule_lr import ScheduleLR
