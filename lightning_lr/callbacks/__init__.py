"""Lightning callbacks that own the learning rate: the generic one and the named recipes."""

from lightning_lr.callbacks.auto import AutoLR
from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.cyclical import Cyclical
from lightning_lr.callbacks.decay import CosineAnnealing, CosineRestarts, ExponentialDecay, MultiStepDecay, StepDecay
from lightning_lr.callbacks.generic import LRScheduler
from lightning_lr.callbacks.hyperparameter import HyperparameterScheduler
from lightning_lr.callbacks.one_cycle import OneCycle
from lightning_lr.callbacks.plateau import ReduceLROnPlateau
from lightning_lr.callbacks.scale import ScaleLR
from lightning_lr.callbacks.warmup import WarmupCosine, WarmupLinear
from lightning_lr.callbacks.wsd import WarmupStableDecay
from lightning_lr.checks import ScheduleConflictError
from lightning_lr.deprecation import moved

__all__ = [
    "AutoLR",
    "CosineAnnealing",
    "CosineRestarts",
    "Cyclical",
    "ExponentialDecay",
    "HyperparameterScheduler",
    "LRScheduler",
    "MultiStepDecay",
    "OneCycle",
    "ReduceLROnPlateau",
    "ScaleLR",
    "ScheduleCallback",
    "ScheduleConflictError",
    "StepDecay",
    "WarmupCosine",
    "WarmupLinear",
    "WarmupStableDecay",
]

__getattr__ = moved(__name__, {"PlateauState": "lightning_lr.callbacks.plateau"})
