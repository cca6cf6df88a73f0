"""The random number generators a training run draws from, captured and put back (one place for the rule).

The finder's snapshot and ``ScheduleFree``'s BatchNorm recompute both run extra batches in the middle of a
fit; afterwards the run must draw exactly the numbers it would have drawn without them. What counts:

* the torch CPU generator and every initialized CUDA device's;
* NumPy's and Python's global generators;
* the ``torch.Generator`` objects that draw a dataloader's order (``DataLoader(generator=...)``, a
  sampler's or a batch sampler's sampler's ``generator``).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import CombinedLoader

__all__ = ["RandomState"]


class RandomState:
    """The global RNG states and those of the loaders' generators at construction; :meth:`restore` puts them back.

    Args:
        loaders: A dataloader, or a list or mapping of them (as Lightning accepts), whose generators are
            captured too; ``None``: the global generators only.

    Example:
        >>> state = RandomState()
        >>> first = torch.rand(2)
        >>> state.restore()
        >>> bool(torch.equal(torch.rand(2), first))
        True
    """

    def __init__(self, loaders: Any = None) -> None:
        self.torch = torch.get_rng_state()
        self.numpy = np.random.get_state()
        self.python = random.getstate()
        initialized = torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        self.cuda = torch.cuda.get_rng_state_all() if initialized else None
        self.generators = [(g, g.get_state()) for g in _generators(loaders)]

    def restore(self) -> None:
        """Put every captured state back (idempotent)."""
        torch.set_rng_state(self.torch)
        np.random.set_state(self.numpy)
        random.setstate(self.python)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        for generator, state in self.generators:
            generator.set_state(state)


def _generators(loaders: Any) -> list[torch.Generator]:
    """The generators that draw the order of ``loaders`` (each once)."""
    flat = [] if loaders is None else CombinedLoader(loaders).flattened
    found: dict[int, torch.Generator] = {}
    for loader in flat:
        sampler = getattr(loader, "sampler", None)
        inner = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
        for owner in (loader, sampler, getattr(sampler, "sampler", None), inner):
            generator = getattr(owner, "generator", None)
            if isinstance(generator, torch.Generator):
                found[id(generator)] = generator
    return list(found.values())
