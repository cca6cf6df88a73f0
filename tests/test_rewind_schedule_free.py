"""RewindOnSpike with a schedule-free optimizer (ScheduleFree()): a rewind restores the training point y and the
optimizer's group-level counters (k, weight_sum), also right after a resume, when the checkpoint held x."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import schedulefree
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_lr import RewindOnSpike, ScheduleFree

SETTINGS: dict[str, Any] = {
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "limit_val_batches": 0,
}


class Spiky(pl.LightningModule):
    """A small classifier whose loss is x1e6 at the optimizer steps in ``bad``; records, before each step, the
    step counter ``k`` of the optimizer's first group."""

    def __init__(self, bad: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        self.bad, self.ks = bad, {}
        self.after: list[torch.Tensor] | None = None

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        return loss * 1e6 if self.global_step in self.bad else loss

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.bad and self.global_step == self.bad[-1] + 1:
            self.after = [p.detach().clone() for p in self.parameters()]

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.ks[self.global_step] = optimizer.param_groups[0]["k"]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return schedulefree.AdamWScheduleFree(self.parameters(), lr=1e-2, warmup_steps=0)

    def train_dataloader(self) -> DataLoader[Any]:
        x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
        return DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8)


class Keep(Callback):
    """At step 16: the training weights y, then a checkpoint, then stop."""

    def __init__(self, path: Path) -> None:
        self.path, self.y = path, []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step == 16:
            self.y = [p.detach().clone() for p in pl_module.parameters()]
            trainer.save_checkpoint(self.path)
            trainer.should_stop = True


def test_after_a_resume_a_rewind_restores_the_training_weights_not_the_saved_evaluation_ones(tmp_path: Path) -> None:
    torch.manual_seed(0)
    keep = Keep(tmp_path / "step16.ckpt")
    pl.Trainer(max_steps=40, callbacks=[ScheduleFree(bn_batches=0), RewindOnSpike(), keep], **SETTINGS).fit(Spiky())
    model, watch = Spiky(bad=(18, 19, 20, 21)), RewindOnSpike()
    pl.Trainer(max_steps=40, callbacks=[ScheduleFree(bn_batches=0), watch], **SETTINGS).fit(model, ckpt_path=keep.path)
    assert watch.events and watch.events[-1]["restored"] == 16
    assert model.after is not None
    gap = max(float((p - q).abs().max()) for p, q in zip(model.after, keep.y))
    assert gap < 1e-6  # y back (to the rounding of one eval/train round trip), not x (about 1e-2 away here)


def test_a_rewind_restores_the_optimizers_step_counter() -> None:
    torch.manual_seed(0)
    model, watch = Spiky(bad=(36, 37, 38, 39)), RewindOnSpike(every_n_steps=10)
    pl.Trainer(max_steps=48, callbacks=[ScheduleFree(bn_batches=0), watch], **SETTINGS).fit(model)
    restored = watch.events[-1]["restored"]
    assert restored < 36
    assert model.ks[40] == model.ks[restored]  # the step after the rewind counts from the snapshot again
