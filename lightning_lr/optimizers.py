"""What kind of optimizer this is, for the LR: schedule-free, learning-rate-free, or plain; and its effective LR.

The one place for these rules (the ``ScheduleFree`` callback, the finder, the schedule callbacks and the logged
series all ask here). Duck-typed, so the optional packages are never imported:

- **schedule-free** (``schedulefree.AdamWScheduleFree``, ``SGDScheduleFree``, ``RAdamScheduleFree``,
  ``ScheduleFreeWrapper``; Defazio et al. 2024): ``train()`` and ``eval()`` methods and a ``train_mode`` flag
  (in every param group, or on the wrapper). The ``*Closure`` variants keep the evaluation point in the
  parameters and have no modes: they need no switching and are not counted here.
- **learning-rate-free** (``prodigyopt.Prodigy``, ``dadaptation.DAdaptAdam``, ``DAdaptSGD``, ``DAdaptAdaGrad``,
  ``DAdaptAdan``, ``DAdaptLion``): every param group holds the adapted distance estimate ``d``; the step
  size is ``d * lr``, ``lr`` a multiplier that stays near 1.

The effective LR of a param group:

.. math::

    \\mathrm{lr}_\\mathrm{eff} = \\begin{cases}
        d \\cdot \\mathrm{lr} & \\text{learning-rate-free} \\\\
        \\mathrm{lr} \\cdot \\min\\bigl(1, (k + 1) / \\mathrm{warmup\\_steps}\\bigr) &
            \\text{schedule-free with its own warmup (}k\\text{: the group's step count)} \\\\
        \\mathrm{lr} & \\text{otherwise}
    \\end{cases}

Example:
    >>> import torch
    >>> w = [torch.nn.Parameter(torch.zeros(1))]
    >>> sgd = torch.optim.SGD(w, lr=0.1)
    >>> kind(sgd), effective_lr(sgd.param_groups[0]), has_effective_lr(sgd)
    ('plain', 0.1, False)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from torch.optim import Optimizer

from lightning_lr.checks import ScheduleConflictError

__all__ = [
    "Kind",
    "effective_lr",
    "has_effective_lr",
    "in_train_mode",
    "internal_warmup",
    "is_lr_free",
    "is_schedule_free",
    "kind",
    "refuse_lr_free",
    "train_mode",
    "warn_internal_warmup",
    "warn_restarts_on_lr_free",
]

Kind = Literal["schedule-free", "lr-free", "plain"]


def is_schedule_free(optimizer: Optimizer) -> bool:
    """Whether ``optimizer`` has the train/eval modes of a schedule-free optimizer."""
    if not (callable(getattr(optimizer, "train", None)) and callable(getattr(optimizer, "eval", None))):
        return False
    return hasattr(optimizer, "train_mode") or all("train_mode" in g for g in optimizer.param_groups)


def is_lr_free(optimizer: Optimizer) -> bool:
    """Whether ``optimizer`` adapts its own step size: every param group holds the estimate ``d``."""
    groups = optimizer.param_groups
    return bool(groups) and all("d" in g and "lr" in g for g in groups)


def kind(optimizer: Optimizer) -> Kind:
    """``"schedule-free"``, ``"lr-free"`` or ``"plain"`` (see the module's rules)."""
    if is_schedule_free(optimizer):
        return "schedule-free"
    return "lr-free" if is_lr_free(optimizer) else "plain"


def in_train_mode(optimizer: Optimizer) -> bool:
    """Whether a schedule-free optimizer holds the training point (``y``) in its parameters (any group)."""
    if hasattr(optimizer, "train_mode"):
        return bool(optimizer.train_mode)
    return any(g.get("train_mode", False) for g in optimizer.param_groups)


def internal_warmup(group: Mapping[str, Any]) -> int:
    """A schedule-free group's own ``warmup_steps`` (0: none, or not schedule-free)."""
    return int(group.get("warmup_steps", 0) or 0) if "train_mode" in group else 0


def effective_lr(group: Mapping[str, Any]) -> float:
    """The step size the optimizer takes with this param group (the module's formula)."""
    lr = float(group["lr"])
    if "d" in group:
        return float(group["d"]) * lr
    warmup = internal_warmup(group)
    if warmup > 0:
        return lr * min(1.0, (int(group.get("k", 0)) + 1) / warmup)
    return lr


def has_effective_lr(optimizer: Optimizer) -> bool:
    """Whether the effective LR of ``optimizer`` can differ from its ``lr`` (so it is logged next to it)."""
    return is_lr_free(optimizer) or any(internal_warmup(g) > 0 for g in optimizer.param_groups)


def refuse_lr_free(owner: str, optimizers: Sequence[Optimizer]) -> None:
    """Raise :class:`~lightning_lr.checks.ScheduleConflictError` for ``owner`` (the LR finder) when one of
    ``optimizers`` is learning-rate-free: a range test on ``lr`` is meaningless where ``d`` adapts the step."""
    for index, optimizer in enumerate(optimizers):
        if is_lr_free(optimizer):
            name = type(optimizer).__name__
            raise ScheduleConflictError(
                f"{owner}: optimizer {index} is {name}, a learning-rate-free optimizer: its step is d * lr, with d "
                "estimated from the gradients as it trains. A range test sweeps lr while d is still adapting (and "
                "adapts to the sweep), so the loss curve measures neither, and its suggestion means nothing. Remove "
                f"{owner} and keep {name}'s lr at its default (1.0, a multiplier of d); a schedule callback can "
                "decay that multiplier (CosineAnnealing, WarmupStableDecay)."
            )


def warn_restarts_on_lr_free(owner: str, optimizers: Sequence[Optimizer]) -> str | None:
    """The warning for a schedule with restarts or cycles (``Cyclical``, ``CosineRestarts``) on a learning-rate-free
    optimizer: the schedule moves the multiplier ``lr``, but a restart resets nothing in ``d``; ``None`` if none."""
    names = sorted({type(o).__name__ for o in optimizers if is_lr_free(o)})
    if not names:
        return None
    return (
        f"{owner} on {', '.join(names)} (learning-rate-free): each restart or cycle raises the multiplier lr, but "
        "d, the step size the optimizer estimated, is not reset and only grows, so the effective LR d * lr is not the "
        "cycle you planned. The logged `-effective` series shows it; a decaying schedule (CosineAnnealing, "
        "WarmupStableDecay) is the usual choice."
    )


def warn_internal_warmup(owner: str, optimizers: Sequence[Optimizer]) -> str | None:
    """The warning for a schedule callback on a schedule-free optimizer with its own ``warmup_steps``: the two
    multiply, ``lr_eff(k) = schedule(k) * min(1, (k + 1) / warmup_steps)``; ``None`` if no optimizer has one."""
    names = sorted({type(o).__name__ for o in optimizers if any(internal_warmup(g) > 0 for g in o.param_groups)})
    if not names:
        return None
    return (
        f"{owner} sets the LR of {', '.join(names)}, which also warms up by itself (`warmup_steps` > 0): the step "
        "size is the schedule's LR times min(1, (k + 1) / warmup_steps), two warmups multiplied. Keep one: "
        "`warmup_steps=0` in the optimizer, or no warmup in the schedule."
    )


def warn_schedule_free_unswitched(owner: str, optimizers: Sequence[Optimizer]) -> str | None:
    """The warning for a schedule-free optimizer in a run without ``ScheduleFree()`` (the caller knows): nothing
    calls its ``train()`` / ``eval()``, so it refuses to step, or evaluates and saves its training point; ``None``
    if none of ``optimizers`` is schedule-free."""
    names = sorted({type(o).__name__ for o in optimizers if is_schedule_free(o)})
    if not names:
        return None
    return (
        f"{owner} drives {', '.join(names)}, a schedule-free optimizer, but the trainer has no ScheduleFree() "
        "callback: unless your module calls `optimizer.train()` before training and `optimizer.eval()` before every "
        "evaluation and checkpoint, it refuses to step ('not in train mode') or validates and saves the wrong "
        "weights. Add `lightning_lr.ScheduleFree()` to the callbacks."
    )


@contextmanager
def train_mode(optimizers: Sequence[Optimizer]) -> Iterator[None]:
    """Every schedule-free optimizer of ``optimizers`` in train mode inside (its step raises otherwise), each
    back in the mode it had after: for code that takes steps outside the training loop (the LR range test)."""
    switched = [o for o in optimizers if is_schedule_free(o) and not in_train_mode(o)]
    for optimizer in switched:
        optimizer.train()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for optimizer in switched:
            if in_train_mode(optimizer):  # a restored optimizer state may have set the flag back already
                optimizer.eval()  # type: ignore[attr-defined]
