"""How far an optimizer has come: a counter of its real steps.

:class:`OptimizerClock` counts the optimizer's *real* steps through
``Optimizer.register_step_post_hook``: a step the AMP gradient scaler skips never calls
``optimizer.step`` and so does not count, LBFGS counts once however often it evaluates its
closure, and in manual optimization each optimizer has its own count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.optim import Optimizer
from torch.utils.hooks import RemovableHandle


class OptimizerClock:
    """Counts the real steps of one optimizer while attached.

    Args:
        optimizer: The optimizer to watch.
        steps: Steps already taken (restored from a checkpoint on resume).
        on_step: Called with the clock after each real step; ``None``: count only.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> clock = OptimizerClock(optimizer, steps=5, on_step=lambda c: None)
        >>> optimizer.step(); clock.steps
        6
        >>> clock.detach(); optimizer.step(); clock.steps
        6
    """

    def __init__(
        self, optimizer: Optimizer, steps: int = 0, on_step: Callable[[OptimizerClock], None] | None = None
    ) -> None:
        self.optimizer = optimizer
        self.steps = steps
        self._on_step = on_step
        self._handle: RemovableHandle | None = None
        if on_step is not None:
            self._handle = optimizer.register_step_post_hook(self._tick)

    def _tick(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        self.steps += 1
        if self._on_step is not None:
            self._on_step(self)

    def detach(self) -> None:
        """Stop counting (idempotent)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
