"""Train a ResNet-9 on CIFAR-10 with the LR finder and a schedule from lightning_lr.

    python examples/train_cifar.py                       # finder + 1cycle, 20 epochs
    python examples/train_cifar.py --schedule cosine --epochs 30
    python examples/train_cifar.py --max-steps 20        # a smoke run, a few minutes on a CPU

Data: a local ``cifar-10-batches-py`` copy under ``--data-dir`` (the format torchvision downloads);
torchvision downloads it when installed and online; otherwise the script says so and trains on
built-in CIFAR-shaped data, so it runs end to end offline. Logs go to TensorBoard under --logdir.

The model and defaults follow the DAWNBench ResNet-9 (94% test accuracy in 24 epochs): batch 512,
SGD with Nesterov momentum, weight decay 5e-4, label smoothing 0.2, and a one-cycle LR whose peak
the LR finder chooses.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cifar_data import DeviceBatches, load

import lightning_lr as ll
from lightning_lr.schedules import Constant, between, triangle_wave

SCHEDULES = ["onecycle", "cosine", "sgdr", "step", "exponential", "cyclical", "warmup-linear", "plateau", "constant"]


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


def resnet9(num_classes: int = 10) -> nn.Module:
    """The DAWNBench ResNet-9 (prep, 3 layers, 2 residual blocks, max-pool head, scaled logits)."""
    return nn.Sequential(
        conv_bn(3, 64),
        conv_bn(64, 128, pool=True),
        Residual(128),
        conv_bn(128, 256, pool=True),
        conv_bn(256, 512, pool=True),
        Residual(512),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(512, num_classes, bias=False),
        Scale(0.125),
    )


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class CifarModule(pl.LightningModule):
    def __init__(self, lr: float, weight_decay: float, label_smoothing: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = resnet9().to(memory_format=torch.channels_last)
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

    def __init__(self, data_dir: str, batch_size: int, download: bool = True, builtin_size: int = 10_000) -> None:
        super().__init__()
        self.data = load(data_dir, download=download, builtin_size=builtin_size)
        self.batch_size = batch_size
        print(
            f"Data: {self.data.source}: {len(self.data.train_labels):,} train / "
            f"{len(self.data.test_labels):,} test images"
        )

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


class Throughput(Callback):
    """Training images per second and seconds per epoch (the first epoch excluded when there are more)."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size, self._start, self._images = batch_size, 0.0, 0
        self.epochs: list[tuple[float, int]] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._images = time.perf_counter(), 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._images += batch[1].shape[0] * trainer.world_size

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.epochs.append((time.perf_counter() - self._start, self._images))

    def summary(self) -> str:
        timed = self.epochs[1:] or self.epochs
        if not timed:
            return "no full epoch timed"
        seconds, images = sum(t for t, _ in timed), sum(n for _, n in timed)
        return f"{images / max(seconds, 1e-9):,.0f} training images/s, {seconds / len(timed):.2f} s per epoch"


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
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schedule", choices=SCHEDULES, default="onecycle")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=None, help="default: 512 on GPU, 128 on CPU")
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps (smoke runs)")
    p.add_argument("--lr", type=float, default=0.4, help="LR when the finder is off (--no-find-lr)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.2)
    p.add_argument("--no-find-lr", action="store_true", help="skip the LR range test, use --lr")
    p.add_argument("--finder-steps", type=int, default=60)
    p.add_argument("--data-dir", default="data")
    p.add_argument("--no-download", action="store_true")
    p.add_argument("--builtin-size", type=int, default=10_000, help="training images of the built-in fallback data")
    p.add_argument("--devices", default="auto")
    p.add_argument("--precision", default=None, help="default: bf16-mixed on GPU, 32-true on CPU")
    p.add_argument("--logdir", default="runs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if 0 <= args.max_steps < 8:
        p.error("--max-steps must be at least 8: the schedules need room for their phases (e.g. 1cycle's warmup)")
    return args


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    pl.seed_everything(args.seed, workers=True)
    gpu = torch.cuda.is_available()
    precision = args.precision or ("bf16-mixed" if gpu else "32-true")
    batch_size = args.batch_size or (512 if gpu else 128)
    print(
        f"Device: {'GPU ' + torch.cuda.get_device_name() if gpu else 'CPU'}, precision {precision}, "
        f"batch size {batch_size}, schedule {args.schedule}"
    )
    data = CifarData(args.data_dir, batch_size, download=not args.no_download, builtin_size=args.builtin_size)
    steps_per_epoch = max(len(data.data.train_labels) // batch_size, 1)
    callbacks: list[Callback] = []
    if not args.no_find_lr:
        budget = steps_per_epoch * args.epochs if args.max_steps < 0 else args.max_steps
        finder_steps = max(min(args.finder_steps, budget), 8)  # the finder needs >= 5 points to suggest
        callbacks.append(ll.LRFinder(min_lr=1e-4, max_lr=10.0, num_training_steps=finder_steps))
    callbacks.append(schedule_callback(args.schedule, args.epochs, steps_per_epoch))
    throughput = Throughput(batch_size)
    callbacks.append(throughput)
    logger = TensorBoardLogger(args.logdir, name=f"cifar-{args.schedule}", default_hp_metric=False)
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        max_steps=args.max_steps,
        devices=args.devices,
        precision=precision,
        logger=logger,
        callbacks=callbacks,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        benchmark=gpu,
    )
    model = CifarModule(args.lr, args.weight_decay, args.label_smoothing)
    trainer.fit(model, datamodule=data)
    if "val_acc" not in trainer.callback_metrics:  # stopped by --max-steps before an epoch ended
        trainer.validate(model, datamodule=data, verbose=False)
    finder = next((c for c in callbacks if isinstance(c, ll.LRFinder)), None)
    if finder is not None and finder.result is not None:
        result = finder.result
        note = f" ({result.reason})" if result.reason else ""
        print(f"LR finder: suggestion {result.suggestion} by {result.method!r}{note}")
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    print(
        f"Done: val_acc={metrics.get('val_acc', float('nan')):.4f} after {trainer.global_step} steps; "
        f"{throughput.summary()}"
    )
    print(f"TensorBoard: tensorboard --logdir {args.logdir}")
    return metrics


if __name__ == "__main__":
    main()
