"""Shared test helpers: a tiny real Lightning model that records the LR and momentum each optimizer step
used, a trainer factory, the PyTorch reference loop, simulated crashes, and the crash-and-resume harness
(:func:`fit_segment`) with one resumable configuration of every callback (:data:`RESUME_CASES`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import OnExceptionCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    ScheduleCallback,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.schedules import Cosine, Cycle, Join, Linear


def random_data(n: int = 64, features: int = 8, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = x @ torch.randn(features, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def momentum_of(group: dict[str, Any]) -> float | None:
    if "betas" in group:
        return float(group["betas"][0])
    if "momentum" in group:
        return float(group["momentum"])
    return None


class Recorder:
    """Records (lr, momentum) of every param group each time ``optimizer.step`` really runs."""

    def __init__(self) -> None:
        self.lrs: list[list[float]] = []
        self.momenta: list[list[float | None]] = []

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            self.lrs.append([float(g["lr"]) for g in opt.param_groups])
            self.momenta.append([momentum_of(g) for g in opt.param_groups])

        optimizer.register_step_pre_hook(hook)


class TinyModel(pl.LightningModule):
    """Linear regression; ``optimizer`` picks SGD / AdamW / LBFGS, ``groups`` splits weight and bias."""

    def __init__(
        self,
        optimizer: str = "sgd",
        lr: float = 0.1,
        groups: int = 1,
        n: int = 64,
        batch_size: int = 4,
        features: int = 8,
        scheduler: Any = None,
    ) -> None:
        super().__init__()
        self.layer = nn.Linear(features, 1)
        self.optimizer_name, self.lr, self.groups = optimizer, lr, groups
        self.n, self.batch_size, self.features = n, batch_size, features
        self.scheduler = scheduler
        self.recorder = Recorder()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=False)
        return loss

    def param_groups(self) -> list[dict[str, Any]]:
        if self.groups == 1:
            return [{"params": list(self.parameters())}]
        return [{"params": [self.layer.weight]}, {"params": [self.layer.bias], "lr": self.lr * 0.1}]

    def configure_optimizers(self) -> Any:
        if self.optimizer_name == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(self.param_groups(), lr=self.lr, momentum=0.9)
        elif self.optimizer_name == "adamw":
            opt = torch.optim.AdamW(self.param_groups(), lr=self.lr, betas=(0.9, 0.99))
        elif self.optimizer_name == "lbfgs":
            opt = torch.optim.LBFGS(self.parameters(), lr=self.lr, max_iter=3)
        elif self.optimizer_name == "rmsprop_nomomentum":
            opt = torch.optim.Adagrad(self.param_groups(), lr=self.lr)
        else:
            raise ValueError(self.optimizer_name)
        self.recorder.attach(opt)
        if self.scheduler is not None:
            return {"optimizer": opt, "lr_scheduler": self.scheduler(opt)}
        return opt

    def train_dataloader(self) -> DataLoader:
        return DataLoader(random_data(self.n, self.features), batch_size=self.batch_size)


def make_trainer(tmp_path: Any, callbacks: list[Any], **kwargs: Any) -> pl.Trainer:
    options: dict[str, Any] = dict(
        default_root_dir=tmp_path,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_epochs=1,
    )
    options.update(kwargs)
    return pl.Trainer(callbacks=callbacks, **options)


class PlateauModel(TinyModel):
    """Validates every epoch and logs ``val_loss`` from a fixed, plateauing sequence."""

    sequence = (1.0, 0.8, 0.79, 0.79, 0.8, 0.81, 0.6, 0.6, 0.61, 0.62, 0.63, 0.64)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        value = self.sequence[min(self.current_epoch, len(self.sequence) - 1)]
        self.log("val_loss", torch.tensor(value))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(4, self.features, seed=1), batch_size=4)


def pytorch_lrs(make_scheduler: Any, steps: int, lr: float = 0.1) -> list[float]:
    """The LR of each of ``steps`` optimizer steps under a PyTorch scheduler (``make_scheduler(optimizer)``)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    out = []
    for _ in range(steps):
        out.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return out


class CrashError(Exception):
    """A simulated crash (:class:`CrashAtStep`, :class:`CrashAtEvent`); ``OnExceptionCheckpoint`` saves on it."""


class CrashAtStep(pl.Callback):
    """Saves a checkpoint once ``trainer.global_step`` reaches ``step`` (after that step), then crashes the run."""

    def __init__(self, step: int, path: Any) -> None:
        self.step, self.path = step, str(path)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)
            raise CrashError


# ------------------------------------------------------------------------ crash and resume at any event

Event = tuple[Any, ...]
"""Where training is: ``("train", epoch, batch_idx)`` or ``("val", epoch, global_step, val_batch_idx)``."""


class ResumeModel(PlateauModel):
    """10 training batches per epoch, a validation of 3 batches every 5 (``val_check_interval=0.5``).

    ``val_loss`` depends only on the epoch (``PlateauModel.sequence``), so a validation that Lightning
    re-runs after a restart reports the same value. ``crash_at``: raise inside ``validation_step`` there.
    """

    def __init__(self, crash_at: Event | None = None, **kwargs: Any) -> None:
        super().__init__(n=40, batch_size=4, **kwargs)
        self.crash_at = crash_at

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if ("val", self.current_epoch, self.global_step, batch_idx) == self.crash_at:
            raise CrashError
        super().validation_step(batch, batch_idx)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(12, self.features, seed=1), batch_size=4)


class CrashAtEvent(pl.Callback):
    """Records every event; raises :class:`CrashError` at ``crash_at`` (after a training or validation batch)."""

    def __init__(self, crash_at: Event | None = None) -> None:
        self.crash_at = crash_at
        self.events: list[Event] = []

    def _reached(self, event: Event) -> None:
        self.events.append(event)
        if event == self.crash_at:
            raise CrashError

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._reached(("train", trainer.current_epoch, batch_idx))

    def on_validation_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if not trainer.sanity_checking:
            self._reached(("val", trainer.current_epoch, trainer.global_step, batch_idx))


@dataclass
class Segment:
    """What one fit of :func:`fit_segment` recorded: its callback, LRs, momenta, events, and the checkpoint."""

    callback: ScheduleCallback
    lrs: list[list[float]]
    momenta: list[list[float | None]]
    events: list[Event]
    crashed: bool
    checkpoint: str | None


def fit_segment(
    root: Path,
    factory: Callable[[], ScheduleCallback],
    model_kwargs: dict[str, Any],
    accumulate: int,
    stop: tuple[str, Event] | None = None,
    ckpt: str | None = None,
) -> Segment:
    """One fit: from scratch or from ``ckpt``, until the end or the ``stop`` (``(mode, event)``)."""
    mode, event = stop if stop is not None else ("", None)
    model = ResumeModel(crash_at=event if mode == "in-validation-step" else None, **model_kwargs)
    callback = factory()
    stops = CrashAtEvent(crash_at=event if mode in ("after-train-batch", "after-validation-batch") else None)
    saver = OnExceptionCheckpoint(dirpath=str(root), filename="crash")
    trainer = make_trainer(
        root,
        [callback, stops, saver],
        max_epochs=4,
        accumulate_grad_batches=accumulate,
        val_check_interval=0.5,
        num_sanity_val_steps=0,
        enable_checkpointing=True,
    )
    crashed = False
    try:
        trainer.fit(model, ckpt_path=ckpt)
    except CrashError:
        crashed = True
    checkpoint = str(root / "crash.ckpt") if crashed else None
    return Segment(callback, model.recorder.lrs, model.recorder.momenta, stops.events, crashed, checkpoint)


RESUME_CASES: list[tuple[str, Callable[[], ScheduleCallback], dict[str, Any]]] = [
    ("OneCycle", lambda: OneCycle(max_lr=[0.3, 0.03], three_phase=True, pct_start=0.25), {"groups": 2}),
    ("OneCycle-epoch-adamw", lambda: OneCycle(interval="epoch", pct_start=0.5), {"optimizer": "adamw"}),
    (
        "Cyclical",
        lambda: Cyclical([0.01, 0.001], [0.1, 0.01], step_size_up="1 epoch", mode="exp_range", gamma=0.99),
        {"groups": 2},
    ),
    ("CosineAnnealing", lambda: CosineAnnealing(eta_min=1e-4, interval="epoch", warmup=1), {}),
    ("CosineRestarts", lambda: CosineRestarts(T_0="1 epoch", T_mult=1.5, peak_decay=0.7, cycle_warmup=1), {}),
    ("StepDecay", lambda: StepDecay(step_size=7, gamma=0.7, warmup="10%", warmup_start_factor=0.1), {}),
    ("MultiStepDecay", lambda: MultiStepDecay(milestones=["1 epoch", "2.5 epochs"], gamma=0.5), {"groups": 2}),
    ("ExponentialDecay", lambda: ExponentialDecay(k=0.05, decay_steps=2, staircase=True), {"optimizer": "adamw"}),
    ("WarmupLinear", lambda: WarmupLinear(num_warmup_steps="1 epoch"), {}),
    ("WarmupCosine", lambda: WarmupCosine(num_warmup_steps=5, num_cycles=2.0), {"groups": 2}),
    (
        "ReduceLROnPlateau",
        lambda: ReduceLROnPlateau(
            "val_loss", patience=0, factor=0.5, cooldown=1, warmup="5%", schedule=Cosine(1.0, 0.1)
        ),
        {},
    ),
    (
        "LRScheduler",
        lambda: LRScheduler(
            Join((Linear(0.1, 1.0, "10%"), Cycle(Cosine(1.0, 0.2, "1 epoch"), peak_decay=0.8))),
            momentum=Cosine(0.85, 0.95),
        ),
        {"optimizer": "adamw", "groups": 2},
    ),
]


def assert_identical(a: Any, b: Any, where: str = "") -> None:
    """``a`` and ``b`` equal bit for bit, recursively: same types, tensor dtypes and shapes, dict keys, lengths."""
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    else:
        assert a == b, where
