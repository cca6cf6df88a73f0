"""The LR range test ("LR finder"): a callback, a function, and the result they return.

Example:
    >>> from lightning_lr.finder import LRFinder
    >>> LRFinder(min_lr=1e-6, max_lr=1.0, num_training_steps=80).config.suggestion
    'valley'
"""

from lightning_lr.finder.callback import LRFinder
from lightning_lr.finder.function import find_lr
from lightning_lr.finder.result import FinderResult
from lightning_lr.finder.search import FinderConfig
from lightning_lr.finder.smoothing import smooth
from lightning_lr.finder.suggest import METHODS, Suggestion, climb_point, lr_range, suggest

__all__ = [
    "METHODS",
    "FinderConfig",
    "FinderResult",
    "LRFinder",
    "Suggestion",
    "climb_point",
    "find_lr",
    "lr_range",
    "smooth",
    "suggest",
]
