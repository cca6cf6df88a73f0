"""Train a ResNet-9 on CIFAR-10 with the LR finder and a schedule from lightning_lr.

    python examples/train_cifar.py                 # sized to the machine: a quick run on a CPU, full on a GPU
    python examples/train_cifar.py --full          # the full recipe (20 epochs of ResNet-9) on any machine
    python examples/train_cifar.py --schedule cosine --epochs 8

On a machine without a GPU the default is a CPU-sized run: ResNet-9 at a quarter of its width,
4 epochs over 4,000 training images (1,000 test images), batch 128, a 30-step range test (a few
minutes on 2 cores). On a GPU, and with ``--full``, it is the DAWNBench-style recipe (94% test
accuracy in 24 epochs): the whole data, batch 512 (128 on a CPU), 20 epochs, a 60-step range test.
Both: SGD with Nesterov momentum, weight decay 5e-4, label smoothing 0.2, and a one-cycle LR whose
peak the LR finder chooses.

Data: a local ``cifar-10-batches-py`` copy under ``--data-dir`` (the format torchvision downloads);
torchvision downloads it when installed and online; otherwise the script says why and trains on
built-in CIFAR-shaped data, so it runs end to end offline. Logs go to TensorBoard under --logdir;
the script ends with a summary: data, finder suggestion, accuracy, time, the run directory and the
``tensorboard`` command.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cifar_data import BUILTIN_DESCRIPTION, BUILTIN_SOURCE, DeviceBatches, load, subset
from cifar_report import Throughput, print_summary, quiet_lightning

import lightning_lr as ll
from lightning_lr.schedules import Constant, between, triangle_wave

SCHEDULES = ["onecycle", "cosine", "sgdr", "step", "exponential", "cyclical", "warmup-linear", "plateau", "constant"]


@dataclass(frozen=True)
class Recipe:
    """What a run trains: the model's width, the length, and how much of the data."""

    name: str
    width: float  # 1.0: ResNet-9's 64-128-256-512 channels
    epochs: int
    batch_size: int
    train_images: int | None  # None: all
    test_images: int | None
    finder_steps: int
    builtin_size: int  # training images of the built-in data


def recipe(full: bool, gpu: bool) -> Recipe:
    """The full DAWNBench-style recipe on a GPU or with ``--full``; else a run sized to 2 CPU cores."""
    if full or gpu:
        return Recipe("the full recipe", 1.0, 20, 512 if gpu else 128, None, None, 60, 10_000)
    return Recipe("a CPU-sized run (the full recipe: --full)", 0.25, 4, 128, 4_000, 1_000, 30, 4_000)


def conv_bn(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def resnet9(num_classes: int = 10, width: float = 1.0) -> nn.Module:
    """The DAWNBench ResNet-9 (prep, 3 layers, 2 residual blocks, max-pool head, scaled logits), x ``width``."""
    c = [max(int(n * width), 8) for n in (64, 128, 256, 512)]
    return nn.Sequential(
        conv_bn(3, c[0]),
        conv_bn(c[0], c[1], pool=True),
        Residual(c[1]),
        conv_bn(c[1], c[2], pool=True),
        conv_bn(c[2], c[3], pool=True),
        Residual(c[3]),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(c[3], num_classes, bias=False),
        Scale(0.125),
    )


class CifarModule(pl.LightningModule):
    def __init__(self, lr: float, weight_decay: float, label_smoothing: float, width: float = 1.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = resnet9(width=width).to(memory_format=torch.channels_last)
        self.loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = self.loss(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y), sync_dist=True)
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        decay = [p for p in self.parameters() if p.ndim > 1]
        no_decay = [p for p in self.parameters() if p.ndim <= 1]
        groups = [
            {"params": decay, "weight_decay": self.hparams["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.SGD(groups, lr=self.hparams["lr"], momentum=0.9, nesterov=True)


class CifarData(pl.LightningDataModule):
    """Keeps the images on the training device; each rank takes its shard of every epoch."""

    def __init__(self, data_dir: str, batch_size: int, plan: Recipe, download: bool = True) -> None:
        super().__init__()
        loaded = load(data_dir, download=download, builtin_size=plan.builtin_size)
        self.data = subset(loaded, plan.train_images, plan.test_images)
        self.batch_size = batch_size
        of = "" if len(self.data.train_labels) == len(loaded.train_labels) else " (a fixed random subset)"
        counts = f"{len(self.data.train_labels):,} train / {len(self.data.test_labels):,} test images"
        self.summary = f"{self.data.source}: {counts}{of}"
        print(f"Data: {self.summary}")
        if self.data.source == BUILTIN_SOURCE:
            print(f"      {BUILTIN_DESCRIPTION}")

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device  # type: ignore[union-attr]
        rank, world = self.trainer.global_rank, self.trainer.world_size  # type: ignore[union-attr]
        self.train = DeviceBatches(
            self.data.train_images.to(device),
            self.data.train_labels.to(device),
            self.batch_size,
            train=True,
            rank=rank,
            world_size=world,
        )
        self.test = DeviceBatches(
            self.data.test_images.to(device),
            self.data.test_labels.to(device),
            1024,
            train=False,
            rank=rank,
            world_size=world,
        )

    def train_dataloader(self) -> DeviceBatches:
        return self.train

    def val_dataloader(self) -> DeviceBatches:
        return self.test


def schedule_callback(name: str, epochs: int, steps_per_epoch: int) -> ll.ScheduleCallback:
    """The schedule for ``--schedule``; every one takes its peak/base LR from the optimizer (the finder's)."""
    third = max(epochs // 3, 1)
    if name == "onecycle":
        return ll.OneCycle(pct_start=0.25, anneal_strategy="linear", div_factor=20.0, final_div_factor=200.0)
    if name == "cosine":
        return ll.CosineAnnealing(warmup=0.05)
    if name == "sgdr":
        return ll.CosineRestarts(T_0=f"{max(epochs // 7, 1)} epochs", T_mult=2)
    if name == "step":
        return ll.StepDecay(step_size=f"{third} epochs", gamma=0.1)
    if name == "exponential":
        return ll.ExponentialDecay(gamma=0.01 ** (1 / epochs), decay_steps="1 epoch")
    if name == "cyclical":  # Smith's triangular2 between 1/10 of the base LR and the base LR
        wave = triangle_wave(2 * steps_per_epoch, mode="triangular2")
        return ll.LRScheduler(between(wave, 0.1, 1.0))
    if name == "warmup-linear":
        return ll.WarmupLinear(num_warmup_steps=0.1)
    if name == "plateau":
        return ll.ReduceLROnPlateau("val_loss", patience=2, factor=0.2, warmup=0.05)
    if name == "constant":
        return ll.LRScheduler(Constant(1.0))
    raise ValueError(f"--schedule must be one of {SCHEDULES}, got {name!r}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the full recipe even without a GPU (about 40 min on 2 cores)")
    p.add_argument("--schedule", choices=SCHEDULES, default="onecycle")
    p.add_argument("--epochs", type=int, default=None, help="default: 4 on a CPU, 20 with the full recipe")
    p.add_argument("--batch-size", type=int, default=None, help="default: 512 on a GPU, 128 on a CPU")
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps (smoke runs)")
    p.add_argument("--lr", type=float, default=0.4, help="LR when the finder is off (--no-find-lr)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.2)
    p.add_argument("--no-find-lr", action="store_true", help="skip the LR range test, use --lr")
    p.add_argument("--finder-steps", type=int, default=None, help="default: 30 on a CPU, 60 with the full recipe")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--no-download", action="store_true")
    p.add_argument("--builtin-size", type=int, default=None, help="training images of the built-in fallback data")
    p.add_argument("--devices", default="auto")
    p.add_argument("--precision", default=None, help="default: bf16-mixed on GPU, 32-true on CPU")
    p.add_argument("--logdir", default="runs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if 0 <= args.max_steps < 8:
        p.error("--max-steps must be at least 8: the schedules need room for their phases (e.g. 1cycle's warmup)")
    return args


def main(argv: list[str] | None = None) -> dict[str, float]:
    started = time.perf_counter()
    args = parse_args(argv)
    quiet_lightning()
    pl.seed_everything(args.seed, workers=True, verbose=False)
    gpu = torch.cuda.is_available()
    plan = recipe(args.full, gpu)
    if args.epochs is not None:
        plan = replace(plan, epochs=args.epochs)
    if args.batch_size is not None:
        plan = replace(plan, batch_size=args.batch_size)
    if args.finder_steps is not None:
        plan = replace(plan, finder_steps=args.finder_steps)
    if args.builtin_size is not None:  # the built-in data at this size, not a subset of it
        plan = replace(plan, builtin_size=args.builtin_size, train_images=None, test_images=None)
    precision = args.precision or ("bf16-mixed" if gpu else "32-true")
    width = "" if plan.width == 1.0 else f" at {plan.width:g} of its width"
    print(
        f"Configuration: {plan.name} on {'GPU ' + torch.cuda.get_device_name() if gpu else 'a CPU'}: ResNet-9{width}, "
        f"{plan.epochs} epochs, batch {plan.batch_size}, precision {precision}, schedule {args.schedule}, "
        f"LR finder {'off' if args.no_find_lr else f'{plan.finder_steps} steps'}"
    )
    data = CifarData(args.data_dir, plan.batch_size, plan, download=not args.no_download)
    steps_per_epoch = max(len(data.data.train_labels) // plan.batch_size, 1)
    callbacks: list[Callback] = []
    finder = None
    if not args.no_find_lr:
        budget = steps_per_epoch * plan.epochs if args.max_steps < 0 else args.max_steps
        finder_steps = max(min(plan.finder_steps, budget), 8)  # the finder needs >= 5 points to suggest
        finder = ll.LRFinder(min_lr=1e-4, max_lr=10.0, num_training_steps=finder_steps)
        callbacks.append(finder)
    schedule = schedule_callback(args.schedule, plan.epochs, steps_per_epoch)
    callbacks.append(schedule)
    throughput = Throughput()
    callbacks.append(throughput)
    logger = TensorBoardLogger(args.logdir, name=f"cifar-{args.schedule}", default_hp_metric=False)
    trainer = pl.Trainer(
        max_epochs=plan.epochs,
        max_steps=args.max_steps,
        devices=args.devices,
        precision=precision,
        logger=logger,
        callbacks=callbacks,
        log_every_n_steps=1,  # the LR at every optimizer step: the curve in TensorBoard is the schedule itself
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        enable_model_summary=False,
        benchmark=gpu,
    )
    model = CifarModule(args.lr, args.weight_decay, args.label_smoothing, plan.width)
    trainer.fit(model, datamodule=data)
    if "val_acc" not in trainer.callback_metrics:  # stopped by --max-steps before an epoch ended
        trainer.validate(model, datamodule=data, verbose=False)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if trainer.is_global_zero:
        print_summary(args, data, finder, schedule, trainer, metrics, throughput, steps_per_epoch, logger, started)
    return metrics


if __name__ == "__main__":
    main()
