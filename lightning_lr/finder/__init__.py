"""The LR range test ("LR finder"): a callback, a function, and the result they return.

Example:
    >>> from lightning_lr.finder import LRFinder
    >>> LRFinder(min_lr=1e-6, max_lr=1.0, num_training_steps=80).config.suggestion
    'valley'
"""

from lightning_lr.deprecation import moved
from lightning_lr.finder.callback import LRFinder
from lightning_lr.finder.function import find_lr
from lightning_lr.finder.result import FinderResult

__all__ = ["FinderResult", "LRFinder", "find_lr"]

# `lightning_lr.finder.suggest` was the rule function; importing the module of that name made the package
# attribute the module. Drop it, so the old name reaches the function through the deprecation below.
globals().pop("suggest", None)

__getattr__ = moved(
    __name__,
    {
        "METHODS": "lightning_lr.finder.suggest",
        "Suggestion": "lightning_lr.finder.suggest",
        "climb_point": "lightning_lr.finder.suggest",
        "lr_range": "lightning_lr.finder.suggest",
        "suggest": "lightning_lr.finder.suggest",
        "smooth": "lightning_lr.finder.smoothing",
        "FinderConfig": "lightning_lr.finder.search",
    },
)
