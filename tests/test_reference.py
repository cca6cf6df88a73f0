"""One reference table: every named callback against its PyTorch (or transformers) scheduler.

Each row runs our callback in a real, tiny Lightning fit, records the LR and momentum of every
param group at each real ``optimizer.step`` (``helpers.TinyModel``), then builds the same optimizer
outside Lightning, constructs the PyTorch scheduler with the same arguments and steps it once per
optimizer step (once per epoch for ``interval="epoch"``, with the metric for ``ReduceLROnPlateau``).
Both sequences must agree at every step to 1e-9 relative (1e-15 absolute near 0).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)
from torch.utils.data import DataLoader

import lightning_lr as ll
from tests.helpers import Recorder, TinyModel, make_trainer, random_data

RTOL = 1e-9
ATOL = 1e-15


@dataclass(frozen=True)
class FitLength:
    """The length of a fit in optimizer steps, as the trainer reports it."""

    total_steps: int
    steps_per_epoch: int

    @property
    def epochs(self) -> int:
        return math.ceil(self.total_steps / self.steps_per_epoch)


Ours = Callable[[FitLength], Callback]
Reference = Callable[[Optimizer, FitLength], Any]


# --------------------------------------------------------------------------- models with a metric
class TrainMetricModel(TinyModel):
    """Logs ``metrics[current_epoch]`` from ``training_step`` (epoch mean of a constant: the value)."""

    def __init__(self, metrics: Sequence[float] = (), metric_name: str = "train_metric", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics, self.metric_name = tuple(metrics), metric_name

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.log(self.metric_name, self.metrics[self.current_epoch], on_step=False, on_epoch=True)
        return loss


class ValMetricModel(TinyModel):
    """Logs ``metrics[current_epoch]`` from ``validation_step`` (after every training epoch)."""

    def __init__(self, metrics: Sequence[float] = (), metric_name: str = "val_metric", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics, self.metric_name = tuple(metrics), metric_name

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log(self.metric_name, self.metrics[self.current_epoch])

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(4, self.features, seed=1), batch_size=2)


def metric_walk(epochs: int, seed: int, steps: Sequence[int] = (-3, -1, 0, 0, 1, 2)) -> tuple[float, ...]:
    """A deterministic random walk of multiples of 1/64: exact in float32, so logging keeps it exact."""
    rng = random.Random(seed)
    value, out = 192, []
    for _ in range(epochs):
        value += rng.choice(steps)
        out.append(value / 64)
    return tuple(out)


# --------------------------------------------------------------------------- transformers' formulas
def transformers_linear(optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int) -> LambdaLR:
    """``transformers.get_linear_schedule_with_warmup`` (published formula)."""

    def lr_lambda(step: int) -> float:
        if step < num_warmup_steps:
            return float(step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - step) / float(max(1, num_training_steps - num_warmup_steps)))

    return LambdaLR(optimizer, lr_lambda)


def transformers_cosine(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, num_cycles: float = 0.5
) -> LambdaLR:
    """``transformers.get_cosine_schedule_with_warmup`` (published formula)."""

    def lr_lambda(step: int) -> float:
        if step < num_warmup_steps:
            return float(step) / float(max(1, num_warmup_steps))
        progress = float(step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))

    return LambdaLR(optimizer, lr_lambda)


def transformers_wsd(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_stable_steps: int,
    num_decay_steps: int,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
) -> LambdaLR:
    """``transformers.get_wsd_schedule`` (its documented three phases, ``num_cycles=0.5``)."""

    def lr_lambda(step: int) -> float:
        if step < num_warmup_steps:
            p = float(step) / float(max(1, num_warmup_steps))
            rise = {"linear": p, "cosine": 0.5 * (1.0 - math.cos(math.pi * p)), "1-sqrt": 1.0 - math.sqrt(1.0 - p)}
            return max(0.0, rise[warmup_type] * (1.0 - min_lr_ratio) + min_lr_ratio)
        if step < num_warmup_steps + num_stable_steps:
            return 1.0
        if step < num_warmup_steps + num_stable_steps + num_decay_steps:
            p = float(step - num_warmup_steps - num_stable_steps) / float(max(1, num_decay_steps))
            fall = {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * p)), "1-sqrt": 1.0 - math.sqrt(p)}
            return max(0.0, fall[decay_type] * (1.0 - min_lr_ratio) + min_lr_ratio)
        return min_lr_ratio

    return LambdaLR(optimizer, lr_lambda)


def group_lrs(optimizer: Optimizer) -> list[float]:
    return [float(g["lr"]) for g in optimizer.param_groups]


# --------------------------------------------------------------------------- the shared tester
def planned_run(options: dict[str, Any]) -> FitLength:
    """The run length a user would compute by hand (checked against the trainer's own)."""
    model, trainer = options.get("model", {}), options.get("trainer", {})
    batches = math.ceil(model.get("n", 64) / model.get("batch_size", 4))
    per_epoch = math.ceil(batches / trainer.get("accumulate_grad_batches", 1))
    total = per_epoch * trainer.get("max_epochs", 1)
    if trainer.get("max_steps", -1) > 0:
        total = min(total, trainer["max_steps"])
    return FitLength(total, per_epoch)


def run_reference(reference: Reference, options: dict[str, Any], run: FitLength) -> Recorder:
    """The same optimizer on fresh parameters, stepped with the PyTorch scheduler outside Lightning."""
    model = options.get("model_cls", TinyModel)(**options.get("model", {}))
    optimizer = model.configure_optimizers()  # same groups/lrs/momentum; attaches ``model.recorder``
    assert isinstance(optimizer, Optimizer)
    x, y = random_data(8, model.features).tensors
    scheduler = reference(optimizer, run)
    metrics = options.get("model", {}).get("metrics")
    per_epoch = options.get("per", "step") == "epoch" or isinstance(scheduler, ReduceLROnPlateau)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model.layer(x), y)
        loss.backward()
        return loss

    for k in range(run.total_steps):
        optimizer.step(closure)  # the recorder's pre-hook reads lr/momentum of this step
        if k + 1 == run.total_steps:
            break  # OneCycleLR refuses a step past its end; nothing after the last step is recorded
        if not per_epoch:
            scheduler.step()
        elif (k + 1) % run.steps_per_epoch == 0:
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(metrics[k // run.steps_per_epoch])
            else:
                scheduler.step()
    return model.recorder


def close(a: float | None, b: float | None) -> bool:
    """Equal to 1e-9 relative, or 1e-15 absolute near 0; ``None`` (no momentum) only matches ``None``."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= max(RTOL * abs(b), ATOL)


def assert_same(what: str, ours: list[list[Any]], ref: list[list[Any]]) -> None:
    assert len(ours) == len(ref), f"{what}: {len(ours)} steps recorded, reference has {len(ref)}"
    bad = []
    for step, (row, ref_row) in enumerate(zip(ours, ref)):
        assert len(row) == len(ref_row), f"{what}: step {step} has {len(row)} groups, reference {len(ref_row)}"
        for group, (a, b) in enumerate(zip(row, ref_row)):
            if not close(a, b):
                bad.append(f"step {step} group {group}: ours {a!r} vs reference {b!r}")
    assert not bad, f"{what}: {len(bad)} values differ over {len(ours)} steps; first: " + "; ".join(bad[:5])


def check_against_reference(tmp_path: Any, ours: Ours, reference: Reference, options: dict[str, Any]) -> None:
    planned = planned_run(options)
    model = options.get("model_cls", TinyModel)(**options.get("model", {}))
    trainer = make_trainer(tmp_path, [ours(planned)], **options.get("trainer", {}))
    trainer.fit(model)

    estimated = trainer.estimated_stepping_batches
    run = FitLength(int(estimated), math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches))
    assert run == planned, f"the trainer's run {run} differs from the planned {planned}"
    assert len(model.recorder.lrs) == estimated, "one record per real optimizer step"

    expected = run_reference(reference, options, run)
    assert len(expected.lrs) == estimated
    assert len({lrs[0] for lrs in expected.lrs}) > 1, "the reference never changes the LR: the case tests nothing"
    assert_same("lr", model.recorder.lrs, expected.lrs)
    assert_same("momentum", model.recorder.momenta, expected.momenta)


# --------------------------------------------------------------------------- the table
# 100 batches of 2 per epoch; with ``accumulate_grad_batches=3``, 101 batches -> 34 optimizer
# steps per epoch (the last window of each epoch is partial and still steps).
DATA = {"n": 200, "batch_size": 2}
ACCUMULATE = {"n": 202, "batch_size": 2}
PLATEAU_EPOCHS = 30
TRAIN_METRIC = metric_walk(PLATEAU_EPOCHS, seed=1)
VAL_METRIC = tuple(-m for m in metric_walk(PLATEAU_EPOCHS, seed=2))  # mode="max": an upward walk
ACC_METRIC = metric_walk(PLATEAU_EPOCHS, seed=3)


def opts(model: dict[str, Any] | None = None, per: str = "step", **trainer: Any) -> dict[str, Any]:
    return {"model": {**DATA, **(model or {})}, "trainer": {"max_epochs": 6, **trainer}, "per": per}


def accumulate3(**trainer: Any) -> dict[str, Any]:
    """``accumulate_grad_batches=3`` on the 202-sample data (34 optimizer steps per epoch)."""
    return {**opts(accumulate_grad_batches=3, **trainer), "model": ACCUMULATE}


EPOCH = {"interval": "epoch"}
"""Ours, stepped per epoch (the reference is stepped once per epoch: ``opts(per="epoch")``)."""


@dataclass(frozen=True)
class FromRun:
    """An argument read, when the row runs, from the run (and, on the reference's side, its optimizer)."""

    read: Callable[[FitLength, Optimizer | None], Any]


TOTAL = FromRun(lambda run, opt: run.total_steps)
EPOCHS = FromRun(lambda run, opt: run.epochs)
PER_EPOCH = FromRun(lambda run, opt: run.steps_per_epoch)
GROUP_LRS = FromRun(lambda run, opt: group_lrs(opt))  # the reference's side only
ONE_CYCLE_RUN = {"max_lr": GROUP_LRS, "total_steps": TOTAL}
"""What ``OneCycle()`` takes from the optimizer and the trainer and ``OneCycleLR`` must be given."""


def resolve(args: dict[str, Any], run: FitLength, opt: Optimizer | None = None) -> dict[str, Any]:
    return {k: v.read(run, opt) if isinstance(v, FromRun) else v for k, v in args.items()}


def row(
    ours_cls: Callable[..., Callback],
    reference_cls: Callable[..., Any],
    args: dict[str, Any],
    options: dict[str, Any],
    id: str,
    *,
    ours_only: dict[str, Any] | None = None,
    reference_only: dict[str, Any] | None = None,
) -> Any:
    """``ours_cls(**args, **ours_only)`` against ``reference_cls(optimizer, **args, **reference_only)``.

    ``args``: the arguments both take, written once; ``ours_only``: what only ours takes (``monitor``,
    ``interval``, a duration written as a string); ``reference_only``: what ours reads from the trainer or
    the optimizer and the reference must be given (a :class:`FromRun`), or the number a string stands for.
    """

    def ours(run: FitLength) -> Callback:
        return ours_cls(**resolve(args, run), **resolve(ours_only or {}, run))

    def reference(opt: Optimizer, run: FitLength) -> Any:
        return reference_cls(opt, **resolve(args, run, opt), **resolve(reference_only or {}, run, opt))

    return pytest.param(ours, reference, options, id=id)


CASES = [
    # ---------------------------------------------------------------- OneCycle vs OneCycleLR
    row(ll.OneCycle, OneCycleLR, {}, opts(), "onecycle-cos-max_lr-none", reference_only=ONE_CYCLE_RUN),
    row(
        ll.OneCycle,
        OneCycleLR,
        {
            "max_lr": [0.5, 0.05],
            "total_steps": TOTAL,
            "pct_start": 0.25,
            "anneal_strategy": "linear",
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        opts({"groups": 2}),
        "onecycle-linear-max_lr-list-2groups",
    ),
    row(
        ll.OneCycle,
        OneCycleLR,
        {"three_phase": True, "base_momentum": [0.8, 0.85], "max_momentum": 0.95, "pct_start": 0.35},
        opts({"groups": 2}),
        "onecycle-three_phase-2groups",
        reference_only=ONE_CYCLE_RUN,
    ),
    row(
        ll.OneCycle,
        OneCycleLR,
        {"max_lr": 0.01, "base_momentum": 0.8, "max_momentum": 0.9},
        opts({"optimizer": "adamw", "lr": 1e-3}),
        "onecycle-adamw-betas",
        reference_only={"total_steps": TOTAL},
    ),
    row(
        ll.OneCycle,
        OneCycleLR,
        {"anneal_strategy": "linear", "three_phase": True},
        opts({"optimizer": "adamw", "groups": 2}),
        "onecycle-adamw-linear-three_phase-2groups",
        reference_only=ONE_CYCLE_RUN,
    ),
    row(ll.OneCycle, OneCycleLR, {}, accumulate3(max_epochs=10), "onecycle-accumulate3", reference_only=ONE_CYCLE_RUN),
    row(
        ll.OneCycle,
        OneCycleLR,
        {"pct_start": 0.4},
        opts(max_epochs=10, max_steps=450),
        "onecycle-max_steps-mid-epoch",
        reference_only=ONE_CYCLE_RUN,
    ),
    row(
        ll.OneCycle,
        OneCycleLR,
        {},
        opts({"n": 100}, per="epoch", max_epochs=10),
        "onecycle-epoch",
        ours_only=EPOCH,
        reference_only={"max_lr": GROUP_LRS, "total_steps": EPOCHS},
    ),
    # ---------------------------------------------------------------- Cyclical vs CyclicLR
    row(
        ll.Cyclical,
        CyclicLR,
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 40},
        opts(),
        "cyclic-triangular-momentum",
    ),
    row(
        ll.Cyclical,
        CyclicLR,
        {
            "base_lr": [0.01, 0.001],
            "max_lr": [0.1, 0.02],
            "step_size_up": 30,
            "step_size_down": 50,
            "mode": "triangular2",
        },
        opts({"groups": 2}),
        "cyclic-triangular2-up30-down50-2groups",
    ),
    row(
        ll.Cyclical,
        CyclicLR,
        {
            "base_lr": 0.01,
            "max_lr": 0.2,
            "step_size_up": 25,
            "step_size_down": 15,
            "mode": "exp_range",
            "gamma": 0.995,
            "base_momentum": [0.7, 0.75],
            "max_momentum": [0.9, 0.95],
        },
        opts({"groups": 2}),
        "cyclic-exp_range-gamma-2groups",
    ),
    row(
        ll.Cyclical,
        CyclicLR,
        {"base_lr": 1e-4, "max_lr": 1e-2, "step_size_up": 35, "base_momentum": 0.85, "max_momentum": 0.95},
        opts({"optimizer": "adamw"}),
        "cyclic-adamw-betas",
    ),
    row(
        ll.Cyclical,
        CyclicLR,
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 60, "step_size_down": 20, "cycle_momentum": False},
        opts({"optimizer": "rmsprop_nomomentum"}),
        "cyclic-no-momentum-adagrad",
    ),
    row(
        ll.Cyclical,
        CyclicLR,
        {"base_lr": 0.01, "max_lr": 0.1, "mode": "triangular2"},
        accumulate3(max_epochs=10),
        "cyclic-epoch-string-accumulate3",
        ours_only={"step_size_up": "1 epoch"},
        reference_only={"step_size_up": PER_EPOCH},
    ),
    # ---------------------------------------------------------------- CosineAnnealing vs CosineAnnealingLR
    # PyTorch's own (recursive, chainable) CosineAnnealingLR: over these lengths it stays within ~1e-13
    # of the closed form, so no closed-form stand-in is needed.
    row(ll.CosineAnnealing, CosineAnnealingLR, {}, opts(), "cosine-T_max-none", reference_only={"T_max": TOTAL}),
    row(
        ll.CosineAnnealing,
        CosineAnnealingLR,
        {"T_max": TOTAL, "eta_min": 1e-3},
        opts({"groups": 2, "optimizer": "adamw"}),
        "cosine-T_max-eta_min-2groups",
    ),
    row(
        ll.CosineAnnealing,
        CosineAnnealingLR,
        {"eta_min": 1e-4},
        opts({"n": 100}, per="epoch", max_epochs=10),
        "cosine-epoch",
        ours_only=EPOCH,
        reference_only={"T_max": EPOCHS},
    ),
    row(
        ll.CosineAnnealing,
        CosineAnnealingLR,
        {},
        accumulate3(max_epochs=10),
        "cosine-accumulate3",
        reference_only={"T_max": TOTAL},
    ),
    row(
        ll.CosineAnnealing,
        CosineAnnealingLR,
        {"eta_min": 1e-3},
        opts({"optimizer": "lbfgs", "lr": 0.5}, max_epochs=2),
        "cosine-lbfgs",
        reference_only={"T_max": TOTAL},
    ),
    # ---------------------------------------------------------------- CosineRestarts vs CosineAnnealingWarmRestarts
    row(ll.CosineRestarts, CosineAnnealingWarmRestarts, {"T_0": 90}, opts(), "restarts-T_mult1"),
    row(
        ll.CosineRestarts,
        CosineAnnealingWarmRestarts,
        {"T_0": 20, "T_mult": 2, "eta_min": 1e-3},
        opts({"groups": 2}, max_epochs=7),
        "restarts-T_mult2-eta_min-2groups",
    ),
    row(
        ll.CosineRestarts,
        CosineAnnealingWarmRestarts,
        {"T_mult": 2},
        accumulate3(max_epochs=8),
        "restarts-T_0-epoch-string-accumulate3",
        ours_only={"T_0": "1 epoch"},
        reference_only={"T_0": PER_EPOCH},
    ),
    row(
        ll.CosineRestarts,
        CosineAnnealingWarmRestarts,
        {"T_0": 3, "T_mult": 2, "eta_min": 1e-4},
        opts({"n": 80}, per="epoch", max_epochs=16),
        "restarts-epoch",
        ours_only=EPOCH,
    ),
    # ---------------------------------------------------------------- StepDecay vs StepLR
    row(ll.StepDecay, StepLR, {"step_size": 70, "gamma": 0.5}, opts({"groups": 2}), "step"),
    row(
        ll.StepDecay,
        StepLR,
        {"step_size": 2, "gamma": 0.3},
        opts({"n": 100}, per="epoch", max_epochs=10),
        "step-epoch",
        ours_only=EPOCH,
    ),
    row(ll.StepDecay, StepLR, {"step_size": 50, "gamma": 0.7}, accumulate3(max_epochs=10), "step-accumulate3"),
    row(
        ll.StepDecay,
        StepLR,
        {"step_size": 3, "gamma": 0.5},
        accumulate3(per="epoch", max_epochs=10),
        "step-epoch-accumulate3",
        ours_only=EPOCH,
    ),
    # ---------------------------------------------------------------- MultiStepDecay vs MultiStepLR
    row(
        ll.MultiStepDecay,
        MultiStepLR,
        {"milestones": [100, 250, 251, 400], "gamma": 0.2},
        opts({"optimizer": "adamw", "groups": 2}),
        "multistep",
    ),
    row(
        ll.MultiStepDecay,
        MultiStepLR,
        {"gamma": 0.5},
        opts(),
        "multistep-epoch-and-fraction-strings",
        ours_only={"milestones": ["2 epochs", "50%", "5 epochs"]},
        reference_only={
            "milestones": FromRun(
                lambda run, opt: [2 * run.steps_per_epoch, run.total_steps // 2, 5 * run.steps_per_epoch]
            )
        },
    ),
    row(
        ll.MultiStepDecay,
        MultiStepLR,
        {"milestones": [2, 5, 7], "gamma": 0.1},
        opts({"n": 100}, per="epoch", max_epochs=10),
        "multistep-epoch",
        ours_only=EPOCH,
    ),
    # ---------------------------------------------------------------- ExponentialDecay vs ExponentialLR
    row(ll.ExponentialDecay, ExponentialLR, {"gamma": 0.995}, opts({"groups": 2}), "exponential"),
    row(
        ll.ExponentialDecay,
        ExponentialLR,
        {"gamma": 0.7},
        opts({"n": 100}, per="epoch", max_epochs=10),
        "exponential-epoch",
        ours_only=EPOCH,
    ),
    row(ll.ExponentialDecay, ExponentialLR, {"gamma": 0.99}, accumulate3(max_epochs=10), "exponential-accumulate3"),
    # ---------------------------------------------------------------- WarmupLinear / WarmupCosine vs transformers
    row(
        ll.WarmupLinear,
        transformers_linear,
        {"num_warmup_steps": 50},
        opts(),
        "warmup-linear",
        reference_only={"num_training_steps": TOTAL},
    ),
    row(
        ll.WarmupLinear,
        transformers_linear,
        {"num_training_steps": TOTAL},
        opts({"groups": 2, "optimizer": "adamw"}),
        "warmup-linear-epoch-string-explicit-total-2groups",
        ours_only={"num_warmup_steps": "1 epoch"},
        reference_only={"num_warmup_steps": PER_EPOCH},
    ),
    row(
        ll.WarmupLinear,
        transformers_linear,
        {"num_warmup_steps": 40},
        accumulate3(max_epochs=10),
        "warmup-linear-accumulate3",
        reference_only={"num_training_steps": TOTAL},
    ),
    row(
        ll.WarmupCosine,
        transformers_cosine,
        {"num_warmup_steps": 60},
        opts(),
        "warmup-cosine",
        reference_only={"num_training_steps": TOTAL},
    ),
    row(
        ll.WarmupCosine,
        transformers_cosine,
        {"num_warmup_steps": 37, "num_training_steps": TOTAL, "num_cycles": 2.0},
        opts({"groups": 2, "optimizer": "adamw"}),
        "warmup-cosine-2cycles-2groups",
    ),
    row(
        ll.WarmupCosine,
        transformers_cosine,
        {"num_warmup_steps": 0, "num_cycles": 0.75},
        opts(),
        "warmup-cosine-no-warmup-0.75cycles",
        reference_only={"num_training_steps": TOTAL},
    ),
    row(
        ll.WarmupCosine,
        transformers_cosine,
        {"num_warmup_steps": 25},
        accumulate3(max_epochs=10),
        "warmup-cosine-accumulate3",
        reference_only={"num_training_steps": TOTAL},
    ),
    # ---------------------------------------------------------------- WarmupStableDecay vs get_wsd_schedule
    *[
        row(
            ll.WarmupStableDecay,
            transformers_wsd,
            {"num_warmup_steps": 50, "num_decay_steps": 120, "warmup_type": w, "decay_type": d},
            opts(),
            f"wsd-{w}-warmup-{d}-decay",
            reference_only={"num_stable_steps": FromRun(lambda run, opt: run.total_steps - 170)},
        )
        for w, d in [("linear", "cosine"), ("cosine", "linear"), ("1-sqrt", "1-sqrt")]
    ],
    row(
        ll.WarmupStableDecay,
        transformers_wsd,
        {"num_warmup_steps": 30, "num_stable_steps": 410, "decay_type": "1-sqrt", "min_lr_ratio": 0.1},
        opts({"groups": 2, "optimizer": "adamw"}, max_steps=550),
        "wsd-explicit-stable-min_lr_ratio-2groups",
        ours_only={"num_decay_steps": "20%"},
        reference_only={"num_decay_steps": FromRun(lambda run, opt: run.total_steps // 5)},
    ),
    row(
        ll.WarmupStableDecay,
        transformers_wsd,
        {"num_decay_steps": 60, "num_stable_steps": 200, "warmup_type": "cosine", "min_lr_ratio": 0.05},
        opts(),  # 600 steps: warmup + stable + decay = 360, then min_lr_ratio held as transformers does
        "wsd-shorter-than-run-holds-min",
        ours_only={"num_warmup_steps": "1 epoch"},
        reference_only={"num_warmup_steps": PER_EPOCH},
    ),
    row(
        ll.WarmupStableDecay,
        transformers_wsd,
        {"num_warmup_steps": 0, "num_decay_steps": 40, "decay_type": "linear"},
        accumulate3(max_epochs=10),
        "wsd-no-warmup-accumulate3",
        reference_only={"num_stable_steps": FromRun(lambda run, opt: run.total_steps - 40)},
    ),
    row(
        ll.WarmupStableDecay,
        transformers_wsd,
        {"num_warmup_steps": 1, "num_decay_steps": 3, "decay_type": "1-sqrt", "min_lr_ratio": 0.2},
        opts({"n": 100}, per="epoch", max_epochs=10),
        "wsd-epoch",
        ours_only=EPOCH,
        reference_only={"num_stable_steps": FromRun(lambda run, opt: run.epochs - 4)},
    ),
    # ---------------------------------------------------------------- ReduceLROnPlateau vs ReduceLROnPlateau
    row(
        ll.ReduceLROnPlateau,
        ReduceLROnPlateau,
        {"factor": 0.5, "patience": 2},
        {
            "model_cls": TrainMetricModel,
            "model": {"n": 40, "batch_size": 2, "metrics": TRAIN_METRIC},
            "trainer": {"max_epochs": PLATEAU_EPOCHS},
        },
        "plateau-train-metric",
        ours_only={"monitor": "train_metric"},
    ),
    row(
        ll.ReduceLROnPlateau,
        ReduceLROnPlateau,
        {
            "mode": "max",
            "factor": 0.3,
            "patience": 1,
            "threshold": 1 / 32,
            "threshold_mode": "abs",
            "cooldown": 2,
            "min_lr": [2e-3, 1e-4],
        },
        {
            "model_cls": ValMetricModel,
            "model": {"n": 40, "batch_size": 2, "groups": 2, "metrics": VAL_METRIC},
            "trainer": {"max_epochs": PLATEAU_EPOCHS},
        },
        "plateau-val-metric-max-abs-cooldown-min_lr-2groups",
        ours_only={"monitor": "val_metric"},
    ),
    row(
        ll.ReduceLROnPlateau,
        ReduceLROnPlateau,
        {"factor": 0.2, "patience": 1, "min_lr": 1e-4},
        {
            "model_cls": TrainMetricModel,
            "model": {"n": 62, "batch_size": 2, "optimizer": "adamw", "metrics": ACC_METRIC},
            "trainer": {"max_epochs": PLATEAU_EPOCHS, "accumulate_grad_batches": 3},
        },
        "plateau-accumulate3-adamw-min_lr",
        ours_only={"monitor": "train_metric"},
    ),
]


@pytest.mark.parametrize(("ours", "reference", "options"), CASES)
def test_matches_reference(tmp_path: Any, ours: Ours, reference: Reference, options: dict[str, Any]) -> None:
    check_against_reference(tmp_path, ours, reference, options)
