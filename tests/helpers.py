"""A tiny real Lightning model that records the LR and momentum each optimizer step used."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


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
    """The simulated crash of :class:`CrashAtStep`."""


class CrashAtStep(pl.Callback):
    """Saves a checkpoint once ``trainer.global_step`` reaches ``step`` (after that step), then crashes the run."""

    def __init__(self, step: int, path: Any) -> None:
        self.step, self.path = step, str(path)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)
            raise CrashError
