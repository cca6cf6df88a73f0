"""RewindOnSpike in tiny real runs: a NaN batch, a spike, the restored state, the LR cut, resume, the limit."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_lr import CosineAnnealing, OneCycle, RewindOnSpike, TooManyRewindsError

STEPS = 40


def data(n: int = 16 * STEPS, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return TensorDataset(x, x @ torch.tensor([[1.0], [-2.0], [0.5], [1.5]]) + 0.1 * torch.randn(n, 1, generator=g))


class Poisoned(pl.LightningModule):
    """Linear regression whose batch at optimizer step ``s`` is corrupted as ``poison[s]`` says (``"nan"``:
    NaN inputs, ``"big"``: inputs x 30), once; records the LR of every step it takes."""

    def __init__(self, poison: dict[int, str] | None = None, lr: float = 0.1, optimizer: str = "sgd") -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)
        self.poison, self.lr, self.optimizer_name = dict(poison or {}), lr, optimizer
        self.lrs: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        kind = self.poison.pop(self.trainer.global_step, None)
        if kind == "nan":
            x = x * float("nan")
        elif kind == "big":
            x = x * 30.0
        return nn.functional.mse_loss(self.net(x), y)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.lrs.append(float(optimizer.param_groups[0]["lr"]))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_name == "adam":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(data(), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1))


class Weights(Callback):
    """The module's weights after every optimizer step, by ``global_step``."""

    def __init__(self) -> None:
        self.at: dict[int, list[torch.Tensor]] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.at[trainer.global_step] = [p.detach().clone() for p in pl_module.parameters()]

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        self.at.setdefault(trainer.global_step, [p.detach().clone() for p in pl_module.parameters()])


def fit(
    model: pl.LightningModule, tmp_path: Path, *callbacks: Callback, ckpt_path: Path | None = None, **options: Any
) -> pl.Trainer:
    settings: dict[str, Any] = {
        "max_epochs": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        "callbacks": list(callbacks),
    }
    trainer = pl.Trainer(**(settings | options))
    trainer.fit(model, ckpt_path=ckpt_path)
    return trainer


SPIKE_ONLY = {
    "outlier_factor": 1e12,
    "grad_outlier_factor": 1e12,
}  # the corrupt batch's own loss is not rewound at once: a spike follows


def rewind(**options: Any) -> RewindOnSpike:
    return RewindOnSpike(**({"spike_factor": 4.0, "window": 10, "min_history": 5, "every_n_steps": 5} | options))


class AfterRewind(Callback):
    """Listed after ``RewindOnSpike``: the weights and optimizer state right after each of its rewinds."""

    def __init__(self, watched: RewindOnSpike) -> None:
        self.watched, self.seen = watched, 0
        self.weights: list[list[torch.Tensor]] = []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if self.watched.rewinds != self.seen:
            self.seen = self.watched.rewinds
            self.weights.append([p.detach().clone() for p in pl_module.parameters()])


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_a_nan_batch_is_skipped_the_snapshot_restored_and_the_lr_kept(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    watch = rewind()
    weights, after = Weights(), AfterRewind(watch)
    model = Poisoned({20: "nan"})
    logger = TensorBoardLogger(tmp_path, name="tb", default_hp_metric=False)
    trainer = fit(model, tmp_path, weights, watch, after, logger=logger)
    assert [(e["step"], e["reason"], e["restored"], e["lr_cut"]) for e in watch.events] == [
        (20, "non-finite loss", 20, 1.0)
    ]
    assert same(after.weights[0], weights.at[20])  # the state before the NaN step, bit for bit
    assert model.lrs == [0.1] * STEPS and trainer.global_step == STEPS
    assert all(torch.isfinite(p).all() for p in model.parameters())
    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0})
    events.Reload()
    assert [(s.step, s.value) for s in events.Scalars("rewind/count")] == [(21, 1.0)]


def test_without_it_the_nan_batch_ruins_the_run(tmp_path: Path) -> None:
    model = Poisoned({20: "nan"})
    fit(model, tmp_path)
    assert not all(torch.isfinite(p).all() for p in model.parameters())


def test_a_spike_rewinds_cuts_the_lr_for_good_and_the_schedule_clock_runs_on(tmp_path: Path) -> None:
    torch.manual_seed(0)
    clean = Poisoned()
    fit(clean, tmp_path, CosineAnnealing())
    torch.manual_seed(0)
    watch = rewind(**SPIKE_ONLY)
    weights, after = Weights(), AfterRewind(watch)
    model = Poisoned({20: "big"})
    trainer = fit(model, tmp_path, CosineAnnealing(), weights, watch, after)
    [event] = watch.events
    assert event["reason"] == "spike" and event["lr_cut"] == 0.5 and 20 <= event["step"] <= 23
    assert same(after.weights[0], weights.at[event["restored"]])
    assert event["restored"] <= 20
    # the clock is not rewound: step k keeps schedule(k), times the cut from the step after the rewind on
    cut_from = event["step"] + 1
    assert model.lrs[:cut_from] == clean.lrs[:cut_from]
    assert model.lrs[cut_from:] == pytest.approx([0.5 * lr for lr in clean.lrs[cut_from:]], rel=1e-12)
    assert trainer.global_step == STEPS and len(model.lrs) == STEPS
    x, y = data().tensors
    assert float(nn.functional.mse_loss(model.net(x), y).detach()) < 0.1


@pytest.mark.parametrize(
    "check_grads, reason",
    [(True, "outlier gradients"), (False, "outlier loss")],
    ids=["at-the-gradient", "at-the-loss"],
)
def test_an_outlier_batch_is_dropped_at_once_without_an_lr_cut(tmp_path: Path, check_grads: bool, reason: str) -> None:
    """Seen at the gradient: the step is skipped (nothing to restore); seen at the loss: rewound to the snapshot."""
    watch = rewind(check_grads=check_grads)
    weights, after = Weights(), AfterRewind(watch)
    model = Poisoned({20: "big"})
    fit(model, tmp_path, weights, watch, after)
    assert [(e["step"], e["reason"], e["restored"], e["lr_cut"]) for e in watch.events] == [(20, reason, 20, 1.0)]
    assert same(after.weights[0], weights.at[20]) and model.lrs == [0.1] * STEPS


def test_a_clean_run_is_unchanged_bit_for_bit(tmp_path: Path) -> None:
    runs = []
    for callbacks in ([], [RewindOnSpike()], [rewind(every_n_steps=1)]):
        torch.manual_seed(0)
        model = Poisoned()
        fit(model, tmp_path, CosineAnnealing(), *callbacks)
        runs.append((model.lrs, [p.detach().clone() for p in model.parameters()]))
        assert not any(isinstance(c, RewindOnSpike) and c.events for c in callbacks)
    for lrs, weights in runs[1:]:
        assert lrs == runs[0][0] and same(weights, runs[0][1])


class Bounded(Poisoned):
    """A bounded loss, ``mse / (1 + mse)``: a run that blows up goes back to about its start (as a classifier to
    chance level) instead of spiking."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        mse = nn.functional.mse_loss(self.net(x), y)
        return mse / (1 + mse)


def final_loss(model: pl.LightningModule) -> float:
    x, y = data().tensors
    mse = float(nn.functional.mse_loss(model.net(x), y).detach())
    return mse / (1 + mse)


def test_a_run_that_loses_its_progress_is_rewound_and_its_lr_cut(tmp_path: Path) -> None:
    """OneCycle to a peak LR of 3: the loss falls from 0.9 to 0.3, then the weights blow up and it sits at 1.0;
    never twice its level, so no spike. Lost progress: rewound to a state from before, the LR halved, saved."""
    torch.manual_seed(0)
    plain = Bounded(lr=3.0)
    fit(plain, tmp_path, OneCycle(), max_epochs=2)
    assert final_loss(plain) > 0.9
    torch.manual_seed(0)
    watch = RewindOnSpike(window=10, min_history=5, every_n_steps=5)
    saved = Bounded(lr=3.0)
    fit(saved, tmp_path, OneCycle(), watch, max_epochs=2)
    assert [e["reason"] for e in watch.events] == ["lost progress"] and watch.lr_scale == 0.5
    assert watch.events[0]["restored"] < watch.events[0]["step"] - 5  # a state from before the loss went back up
    assert final_loss(saved) < 0.1
    torch.manual_seed(0)
    fine = Bounded(lr=1.0)  # the same task at a peak LR that trains: the loss rises back to 0.9 at times, no event
    quiet = RewindOnSpike(window=10, min_history=5, every_n_steps=5)
    fit(fine, tmp_path, OneCycle(), quiet, max_epochs=2)
    assert quiet.events == [] and final_loss(fine) < 0.1


def test_the_lr_cut_survives_a_checkpoint_resume(tmp_path: Path) -> None:
    from lightning_lr import StepDecay

    def run(max_steps: int, ckpt: Path | None = None, save: bool = False) -> tuple[Poisoned, RewindOnSpike]:
        torch.manual_seed(0)
        watch = rewind(**SPIKE_ONLY)
        model = Poisoned({20: "big"} if ckpt is None else {})
        fit(model, tmp_path, StepDecay(step_size=10, gamma=0.9), watch, max_epochs=2, max_steps=max_steps,
            ckpt_path=ckpt)  # fmt: skip
        if save:
            model.trainer.save_checkpoint(tmp_path / "first.ckpt")
        return model, watch

    whole, _ = run(60)
    run(30, save=True)
    second, watch = run(60, tmp_path / "first.ckpt")
    assert watch.rewinds == 1 and watch.lr_scale == 0.5  # its own state came back
    assert len(second.lrs) >= 10  # (a checkpoint saved after `fit` resumes at the end of its epoch)
    assert second.lrs == pytest.approx(whole.lrs[30 : 30 + len(second.lrs)], rel=1e-12)
    assert second.lrs[0] == pytest.approx(0.5 * 0.1 * 0.9**3)


def test_without_a_schedule_callback_the_cut_is_made_in_the_groups_and_survives_resume(tmp_path: Path) -> None:
    watch = rewind(**SPIKE_ONLY)
    model = Poisoned({20: "big"})
    fit(model, tmp_path, watch)
    assert watch.events and model.lrs[-1] == pytest.approx(0.05)
    model.trainer.save_checkpoint(tmp_path / "cut.ckpt")
    again = Poisoned()
    fit(again, tmp_path, rewind(), max_epochs=2, ckpt_path=tmp_path / "cut.ckpt")
    assert again.lrs == pytest.approx([0.05] * STEPS)


def test_too_many_rewinds_stop_with_the_last_good_state_named_and_restored(tmp_path: Path) -> None:
    watch = rewind(max_rewinds=1, snapshot_dir=tmp_path / "snap")
    weights = Weights()
    model = Poisoned({20: "nan", 26: "nan"})
    with pytest.raises(TooManyRewindsError, match=r"optimizer step 26 .* after 1 rewinds") as error:
        fit(model, tmp_path, weights, watch)
    snapshot = watch.snapshot
    assert snapshot is not None and snapshot.path is not None and snapshot.path.is_file()
    assert f"optimizer step {snapshot.step} (saved in {snapshot.path})" in str(error.value)
    assert same([p.detach() for p in model.parameters()], weights.at[snapshot.step])


def test_with_accumulation_a_nan_micro_batch_is_rewound(tmp_path: Path) -> None:
    watch = rewind()
    model = Poisoned({10: "nan"})
    trainer = fit(model, tmp_path, CosineAnnealing(), watch, accumulate_grad_batches=2)
    assert [e["reason"] for e in watch.events] == ["non-finite loss"]
    assert trainer.global_step == STEPS // 2
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_snapshot_over_the_memory_budget_asks_for_a_folder(tmp_path: Path) -> None:
    from lightning_lr.rewind import SnapshotTooLargeError

    with pytest.raises(SnapshotTooLargeError, match="snapshot_dir"):
        fit(Poisoned(), tmp_path, rewind(max_snapshot_bytes=8))
    watch = rewind(max_snapshot_bytes=8, snapshot_dir=tmp_path)
    fit(Poisoned({20: "nan"}), tmp_path, watch)
    assert watch.events and (tmp_path / "rewind-rank0.pt").is_file()


@pytest.mark.parametrize(
    "name, value, error",
    [("lr_factor", 1.0, ValueError), ("spike_factor", 1.0, ValueError), ("max_rewinds", 0, ValueError),
     ("every_n_steps", 2.5, TypeError), ("snapshot_dir", 3, TypeError), ("check_grads", "yes", TypeError),
     ("grad_outlier_factor", 0.5, ValueError), ("progress", 0.0, ValueError), ("progress", "x", TypeError)],
)  # fmt: skip
def test_bad_arguments_are_refused_by_name(name: str, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=name):
        RewindOnSpike(**{name: value})


def test_the_rewind_is_logged_on_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lightning_lr.rewind.callback"):
        fit(Poisoned({20: "nan"}), tmp_path, rewind())
    assert "non-finite loss at optimizer step 20 (loss nan): restored step 20, LR x1" in caplog.text


def test_bf16_mixed_precision_a_nan_batch_is_rewound(tmp_path: Path) -> None:
    watch = rewind()
    model = Poisoned({20: "nan"})
    fit(model, tmp_path, watch, precision="bf16-mixed")
    assert [e["reason"] for e in watch.events] == ["non-finite loss"]
    assert all(torch.isfinite(p).all() for p in model.parameters())


class ManualPoisoned(Poisoned):
    """The same run in manual optimization: ``training_step`` steps the optimizer and returns the loss."""

    def __init__(self, poison: dict[int, str]) -> None:
        super().__init__(poison)
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        loss = super().training_step(batch, batch_idx)
        optimizer.zero_grad()  # type: ignore[union-attr]
        self.manual_backward(loss)
        optimizer.step()  # type: ignore[union-attr]
        return loss.detach()


def test_manual_optimization_a_nan_batch_is_rewound(tmp_path: Path) -> None:
    watch = rewind()
    weights = Weights()
    model = ManualPoisoned({20: "nan"})
    fit(model, tmp_path, weights, watch)
    assert [(e["step"], e["reason"], e["restored"]) for e in watch.events] == [(20, "non-finite loss", 20)]
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_next_to_autolr_the_cut_goes_through_its_schedule_and_holds(tmp_path: Path) -> None:
    """AutoLR runs its WarmupStableDecay on its own behalf: a cut made in the param groups alone would be undone by
    that schedule at the next step, a silent wrong LR."""
    from lightning_lr import AutoLR

    torch.manual_seed(0)
    clean = Poisoned()
    fit(clean, tmp_path, AutoLR())
    torch.manual_seed(0)
    watch = rewind(**SPIKE_ONLY)
    model = Poisoned({20: "big"})
    fit(model, tmp_path, AutoLR(), watch)
    [event] = watch.events
    assert event["lr_cut"] == 0.5
    cut_from = event["step"] + 1
    assert model.lrs[:cut_from] == clean.lrs[:cut_from]
    assert model.lrs[cut_from:] == pytest.approx([0.5 * lr for lr in clean.lrs[cut_from:]], rel=1e-12)
