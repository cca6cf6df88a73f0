r"""The finder's decision in a further ``fit`` of the same Trainer.

A further ``trainer.fit(model)`` calls ``configure_optimizers`` again: new optimizer objects at the module's
configured LRs. The finder does not run its test again on the trained weights (unless
``rerun_on_continue=True``), so what it decided in the fit where it ran holds: with a suggestion applied,
every new optimizer gets it as the first fit's did,

.. math:: \eta_{k,g} = \eta_s\, \frac{\eta^{conf}_{k,g}}{\eta^{conf}_{0,0}}

(:math:`\eta_s` the suggestion, :math:`\eta^{conf}` the configured LRs, group ratios kept); without one
(no answer, test skipped, ``apply=False``) nothing is written. An optimizer that already holds the decision
(the module returned the same object again, or it was restored from a checkpoint) is left as it is.
"""

from __future__ import annotations

import weakref
from typing import Any

from torch.optim import Optimizer

from lightning_lr.finder.search import ratios_of, set_lr


class AppliedLR:
    """The optimizers that hold the finder's decision, and the group ratios it was applied with.

    Example:
        >>> import torch
        >>> w = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
        >>> first = torch.optim.SGD([{"params": w[:1]}, {"params": w[1:], "lr": 0.01}], lr=0.1)
        >>> applied = AppliedLR()
        >>> applied.apply([first], 0.05)
        >>> further = torch.optim.SGD([{"params": w[:1]}, {"params": w[1:], "lr": 0.01}], lr=0.1)
        >>> applied.carry_over([first, further], 0.05)  # `first` holds it already: only `further` is written
        [1]
        >>> [g["lr"] for g in further.param_groups]
        [0.05, 0.005]
    """

    def __init__(self) -> None:
        self._holders: weakref.WeakSet[Optimizer] = weakref.WeakSet()
        self._ratios: list[list[float]] | None = None

    def __getstate__(self) -> dict[str, Any]:  # picklable for ddp_spawn: the weak set stays in this process
        return {"_ratios": self._ratios}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._ratios = state["_ratios"]
        self._holders = weakref.WeakSet()

    def reset(self) -> None:
        """A new decision (the test ran again): no optimizer holds it yet."""
        self._holders = weakref.WeakSet()
        self._ratios = None

    def apply(self, optimizers: list[Optimizer], suggestion: float) -> None:
        """Write ``suggestion`` into every group (ratios to the first group kept) and remember the optimizers."""
        ratios = ratios_of(optimizers)
        set_lr(optimizers, ratios, suggestion)
        self._ratios = ratios
        self.hold(optimizers)

    def hold(self, optimizers: list[Optimizer]) -> None:
        """These optimizers hold the decision already (restored from a checkpoint that has it)."""
        for optimizer in optimizers:
            self._holders.add(optimizer)

    def carry_over(self, optimizers: list[Optimizer], suggestion: float) -> list[int]:
        """Write ``suggestion`` into the optimizers that do not hold it yet; the indices written.

        All new (the usual further fit): the ratios are the new optimizers' configured ones, as in the first
        fit. Some new: the new ones take the ratios the decision was applied with, where their groups match.
        """
        new = [k for k, optimizer in enumerate(optimizers) if optimizer not in self._holders]
        if len(new) == len(optimizers):
            self.apply(optimizers, suggestion)
            return new
        for k in new:
            kept = self._ratios[k] if self._ratios is not None and k < len(self._ratios) else None
            groups = optimizers[k].param_groups
            ratios = kept if kept is not None and len(kept) == len(groups) else ratios_of([optimizers[k]])[0]
            set_lr([optimizers[k]], [ratios], suggestion)
            self._holders.add(optimizers[k])
        return new
