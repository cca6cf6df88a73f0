r"""The schedule algebra as a plain PyTorch scheduler: for PyTorch loops, Fabric and transformers' Trainer.

:class:`ScheduleLR` is a real :class:`torch.optim.lr_scheduler.LRScheduler`. It takes any schedule
expression from :mod:`lightning_lr.schedules`, or one of the named callbacks (``OneCycle()``,
``CosineAnnealing(warmup="5%")``, ...) whose schedule it then follows step for step.
"""

from __future__ import annotations

from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler as TorchLRScheduler
from typing_extensions import override

from lightning_lr.checks import check_non_negative, check_positive_int, check_state_version
from lightning_lr.planner import FactorRecipe, OptimizerPlan, Recipe, outside_lightning, plan_optimizer
from lightning_lr.schedules import Schedule

STATE_VERSION = 1
_STATE_KEYS = ("last_epoch", "base_lrs", "_step_count", "_last_lr", "total_steps", "steps_per_epoch", "consumed")


class ScheduleLR(TorchLRScheduler):
    r"""A PyTorch LR scheduler that follows a lightning_lr schedule (or a named callback's schedule).

    Every param group gets its base LR times the schedule, so the ratios between groups are kept:

    .. math:: \eta_g(k) = \eta_g^{base}\, s(k)

    where :math:`k` is the number of :meth:`step` calls so far (call it once after each
    ``optimizer.step()``, as for any PyTorch scheduler) and :math:`\eta_g^{base}` the group's LR
    when the scheduler is built. With a callback as ``schedule``, the LR (and momentum) of step
    :math:`k` is exactly what that callback sets in a Lightning run at optimizer step :math:`k`,
    warmup included; a callback with ``interval="epoch"`` counts epochs, so step once per epoch
    and give ``total_steps`` in epochs. ``OneCycle(max_lr=...)`` takes its peaks from ``max_lr``.

    A callback with ``interval="sample"`` (``"token"``) counts what the steps trained on: call
    ``step(samples=n)`` (``step(tokens=n)``) with the step's count, and give ``total_steps`` and
    ``steps_per_epoch`` in samples (tokens); the LR of the next step is then ``s(samples so far)``.

    Everything is closed-form: :meth:`state_dict` holds only numbers, and
    :meth:`load_state_dict` writes the LR (and momentum) of the restored step into the optimizer,
    so a resumed loop continues exactly, whichever of optimizer and scheduler is loaded first.

    Args:
        optimizer: The optimizer whose param groups to drive.
        schedule: A :class:`~lightning_lr.schedules.Schedule` (a factor of each group's base LR) or a
            schedule callback such as ``OneCycle()`` (then its LR and momentum schedules are used).
        total_steps: Length of training in steps; needed by durations given as a fraction of training
            (``"10%"``) and by phases without a length (``Cosine(1.0, 0.0)``). ``None``: endless.
        steps_per_epoch: Steps per epoch; needed by durations given in epochs (``"2 epochs"``).
        momentum: With a ``Schedule``: optional schedule of absolute momentum (or Adam ``beta1``) values.

    Raises:
        ValueError: The schedule needs ``total_steps`` or ``steps_per_epoch`` and it is missing, or its
            length differs from ``total_steps``.

    Example:
        >>> import torch
        >>> from lightning_lr.schedules import Cosine, Warmup
        >>> model = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        >>> scheduler = ScheduleLR(optimizer, Warmup(Cosine(1.0, 0.0), duration="10%"), total_steps=100)
        >>> lrs = []
        >>> for step in range(100):
        ...     lrs.append(scheduler.get_last_lr()[0])
        ...     optimizer.step()
        ...     scheduler.step()
        >>> lrs[0], lrs[10], round(lrs[55], 6)
        (0.0, 0.001, 0.0005)

        A named callback's schedule, here 1cycle with its momentum cycling:

        >>> from lightning_lr import OneCycle
        >>> scheduler = ScheduleLR(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), OneCycle(), 1000)
        >>> round(scheduler.get_last_lr()[0], 6), scheduler.optimizer.param_groups[0]["momentum"]
        (0.004, 0.95)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: Schedule | Recipe,
        total_steps: int | None = None,
        steps_per_epoch: int | None = None,
        momentum: Schedule | None = None,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"`optimizer` must be a torch.optim.Optimizer, got {type(optimizer).__name__}.")
        if isinstance(schedule, Recipe) and (schedule.metric_driven or schedule.key != "lr"):
            raise TypeError(
                f"`schedule` cannot be {type(schedule).__name__}: it follows a metric or sets another value than "
                "the LR; use torch.optim.lr_scheduler.ReduceLROnPlateau, or a Schedule of lightning_lr.schedules."
            )
        if isinstance(schedule, Recipe):
            if momentum is not None:
                raise ValueError("`momentum` is for a Schedule; a callback brings its own momentum schedule.")
            recipe = schedule
        elif isinstance(schedule, Schedule):
            recipe = FactorRecipe(schedule, momentum=momentum)
        else:
            raise TypeError(
                f"`schedule` must be a lightning_lr Schedule or a schedule callback such as OneCycle(), "
                f"got {schedule!r} of type {type(schedule).__name__}."
            )
        self.total_steps = None if total_steps is None else check_positive_int("total_steps", total_steps)
        self.steps_per_epoch = (
            None if steps_per_epoch is None else check_positive_int("steps_per_epoch", steps_per_epoch)
        )
        self._recipe = recipe
        self.consumed = 0.0  # samples or tokens so far (a clock of them)
        bases = recipe.base_lrs(optimizer)  # the groups' LRs now (or the callback's max_lr)
        self._plan = self._build(optimizer, bases)
        super().__init__(optimizer)
        self.base_lrs = [float(b) for b in bases]

    def _build(self, optimizer: Optimizer, bases: list[float]) -> OptimizerPlan:
        timeline = outside_lightning(self._recipe.interval, self.total_steps, self.steps_per_epoch)
        try:
            return plan_optimizer(self._recipe, optimizer, bases, timeline)
        except (ValueError, RuntimeError) as error:
            raise ValueError(
                f"ScheduleLR(total_steps={self.total_steps}, steps_per_epoch={self.steps_per_epoch}) cannot resolve "
                f"the schedule: {error} Give `total_steps` for fractions of training and phases without a length, "
                "`steps_per_epoch` for durations in epochs."
            ) from error

    @override
    def step(self, epoch: int | None = None, *, samples: float | None = None, tokens: float | None = None) -> None:
        """Move the clock past one optimizer step and write the next step's LR (and momentum).

        Args:
            epoch: PyTorch's deprecated explicit step; leave it ``None``.
            samples: On a clock of samples (``interval="sample"``), the samples this step trained on.
            tokens: On a clock of tokens (``interval="token"``), the tokens this step trained on.
        """
        unit = self._recipe.clock_unit
        counts = {"samples": samples, "tokens": tokens}
        for name, value in counts.items():
            if value is not None and name != unit:
                raise TypeError(f"step({name}=...) is for a clock of {name}; this schedule counts {unit}.")
        if unit in counts and self._step_count > 0:  # not the step PyTorch takes in __init__
            if counts[unit] is None:
                raise TypeError(f"this schedule counts {unit}: call step({unit}=<the {unit} of this optimizer step>).")
            self.consumed += check_non_negative(unit, counts[unit])
        super().step(epoch)

    @override
    def get_lr(self) -> list[float | Any]:
        """The LR of every group at step ``last_epoch`` (also writes the momentum the schedule sets)."""
        t = self.consumed if self._recipe.clock_unit in ("samples", "tokens") else float(self.last_epoch)
        groups = self.optimizer.param_groups
        if len(groups) != len(self._plan.groups):
            raise ValueError(
                f"ScheduleLR was built for {len(self._plan.groups)} param groups, the optimizer now has {len(groups)}; "
                "build the scheduler after the last `add_param_group`."
            )
        for plan, group in zip(self._plan.groups, groups):
            plan.group = group  # optimizer.load_state_dict replaces the group dicts
        self._plan.write_values(t)
        return [group["lr"] for group in groups]

    @override
    def state_dict(self) -> dict[str, Any]:
        """Plain numbers: the step, the base LRs and the run's length (no optimizer, no schedule objects)."""
        state = {key: getattr(self, key) for key in _STATE_KEYS}
        state["base_lrs"] = list(self.base_lrs)
        state["version"] = STATE_VERSION
        return state

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step, base LRs and lengths (as PyTorch, they replace the constructor's), then write that
        step's LR (and momentum) into the optimizer."""
        check_state_version("ScheduleLR", state_dict, STATE_VERSION, missing=STATE_VERSION)
        for key in _STATE_KEYS:
            if key in state_dict:
                setattr(self, key, state_dict[key])
        bases = [float(b) for b in self.base_lrs]
        self.base_lrs = list(bases)
        self._plan = self._build(self.optimizer, bases)
        self._last_lr = list(self.get_lr())
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr
