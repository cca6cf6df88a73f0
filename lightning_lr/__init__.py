"""lightning_lr: Lightning callbacks that own the learning-rate schedule.

Example:
    >>> from lightning.pytorch import Trainer
    >>> from lightning_lr import OneCycle
    >>> trainer = Trainer(max_epochs=3, callbacks=[OneCycle()], logger=False)
"""

from lightning_lr import finder, schedules
from lightning_lr.callbacks import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    HyperparameterScheduler,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    PlateauState,
    ReduceLROnPlateau,
    ScaleLR,
    ScheduleCallback,
    ScheduleConflictError,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
    WarmupStableDecay,
)
from lightning_lr.finder import FinderResult, LRFinder, find_lr
from lightning_lr.param_groups import layerwise_param_groups
from lightning_lr.schedule_lr import ScheduleLR

__version__ = "0.1.0"

__all__ = [
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
    "PlateauState",
    "ReduceLROnPlateau",
    "ScaleLR",
    "ScheduleCallback",
    "ScheduleConflictError",
    "ScheduleLR",
    "StepDecay",
    "WarmupCosine",
    "WarmupLinear",
    "WarmupStableDecay",
    "__version__",
    "find_lr",
    "finder",
    "layerwise_param_groups",
    "schedules",
]
