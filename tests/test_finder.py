"""The LR finder (range test): rules, restore, apply, accumulation, manual optimization, DDP, logging.

Every Lightning test is a real (tiny) fit; nothing is mocked. The multi-process tests are marked
``slow``: two run ``strategy="ddp_spawn"`` in-process, one runs ``strategy="ddp"`` from
``tests/finder_ddp_script.py`` in a subprocess (``ddp`` re-executes ``sys.argv``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader

from lightning_lr import OneCycle
from lightning_lr.finder import FinderResult, LRFinder, find_lr
from lightning_lr.finder.smoothing import smooth
from lightning_lr.finder.suggest import suggest
from tests.finder_ddp_script import FINDER, ShardModel
from tests.helpers import TinyModel, assert_identical, make_trainer, random_data

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# --------------------------------------------------------------------------- models and probes
class Log:
    """A plain object the models write into: the finder restores module attributes, not this."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.calls = 0


class NoisyModel(TinyModel):
    """Batch norm (buffers), dropout (global RNG), a shuffled loader with its own generator."""

    def __init__(self, own_generator: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.norm, self.drop = nn.BatchNorm1d(self.features), nn.Dropout(0.3)
        self.own_generator = own_generator

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(self.drop(self.norm(x))), y)
        self.log("train_loss", loss)
        return loss

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(7) if self.own_generator else None
        return DataLoader(
            random_data(self.n, self.features), batch_size=self.batch_size, shuffle=True, generator=generator
        )


class LoggingModel(TinyModel):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = Log()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.seen.losses.append(float(loss.detach()))
        self.seen.calls += 1
        return loss


class NanAboveModel(TinyModel):
    """The loss turns NaN once the LR exceeds ``limit``."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        return loss * math.nan if self.trainer.optimizers[0].param_groups[0]["lr"] > 1e-2 else loss


class RaisingModel(LoggingModel):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.seen.calls == 5:
            raise RuntimeError("boom in training_step")
        return super().training_step(batch, batch_idx)


class FlatModel(TinyModel):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return (self.layer(batch[0]) * 0.0).sum() + 1.0


class ManualModel(TinyModel):
    """Two optimizers (SGD 0.1 and Adam 0.01); ``training_step`` returns nothing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.other = nn.Linear(self.features, 1)
        self.seen = Log()
        self.recorders = [type(self.recorder)(), type(self.recorder)()]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        for opt, layer in zip(self.optimizers(), (self.layer, self.other)):
            opt.zero_grad()
            loss = nn.functional.mse_loss(layer(x), y)
            self.seen.losses.append(float(loss.detach()))
            self.manual_backward(loss)
            opt.step()

    def configure_optimizers(self) -> Any:
        first = torch.optim.SGD(self.layer.parameters(), lr=0.1)
        second = torch.optim.Adam(self.other.parameters(), lr=0.01)
        for opt, recorder in zip((first, second), self.recorders):
            recorder.attach(opt)
        return [first, second]


class ValLossModel(TinyModel):
    """``validation_step`` logs ``val_loss = 1 + (log10(lr) + 3)^2``: lowest at lr = 1e-3."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        self.log("val_loss", 1.0 + (math.log10(lr) + 3.0) ** 2)
        self.log("other", 0.0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(8, self.features, seed=1), batch_size=4)


class TwoLoaderModel(LoggingModel):
    """``train_dataloader`` returns a dict of two loaders; ``training_step`` gets a dict of batches."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        (xa, ya), (xb, yb) = batch["a"], batch["b"]
        loss = nn.functional.mse_loss(self.layer(torch.cat([xa, xb])), torch.cat([ya, yb]))
        self.seen.losses.append(float(loss.detach()))
        return loss

    def train_dataloader(self) -> Any:
        return {
            "a": DataLoader(random_data(64, seed=0), batch_size=16),
            "b": DataLoader(random_data(32, seed=2), batch_size=8),
        }


class HookCounter(Callback):
    """Counts the hooks other callbacks would see; records state at fit start and train start."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.at_fit_start: dict[str, Any] | None = None
        self.at_train_start: dict[str, Any] | None = None
        self.calls_at_train_start: dict[str, int] | None = None

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # loading the train dataloader draws from the torch RNG (Lightning's doing, not the test's): load
        # it first, as the schedule callbacks do, so that the capture isolates what the test changes
        trainer.estimated_stepping_batches  # noqa: B018
        self.at_fit_start = capture(trainer, pl_module)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.at_train_start = capture(trainer, pl_module)
        self.calls_at_train_start = dict(self.calls)

    def on_train_batch_start(self, *args: Any) -> None:
        self._count("train_batch_start")

    def on_before_backward(self, *args: Any) -> None:
        self._count("before_backward")

    def on_before_optimizer_step(self, *args: Any) -> None:
        self._count("before_optimizer_step")


def capture(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
    """Bit-exact copies of what the finder must leave untouched."""
    return {
        "model": {k: v.detach().clone() for k, v in pl_module.state_dict().items()},
        "grads": [None if p.grad is None else p.grad.clone() for p in pl_module.parameters()],
        "optimizers": [copy.deepcopy(o.state_dict()) for o in trainer.optimizers],
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state()[1].copy(),
        "python_rng": random.getstate(),
        "global_step": trainer.global_step,
        "epoch": trainer.current_epoch,
        "training": [m.training for m in pl_module.modules()],
        "instance_attrs": sorted(k for k in vars(pl_module) if k in ("log", "log_dict", "forward", "optimizers")),
    }


def fit(tmp_path: Path, model: pl.LightningModule, callbacks: list[Any], **kwargs: Any) -> pl.Trainer:
    trainer = make_trainer(tmp_path, callbacks, **kwargs)
    trainer.fit(model)
    return trainer


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "fragments"),
    [
        ({"min_lr": 0.0}, ValueError, ["min_lr", "0.0", "> 0"]),
        ({"min_lr": "1e-3"}, TypeError, ["min_lr", "'1e-3'"]),
        ({"min_lr": 1e-2, "max_lr": 1e-3}, ValueError, ["max_lr", "min_lr", "0.001"]),
        ({"num_training_steps": 1}, ValueError, ["num_training_steps", ">= 2", "1"]),
        ({"num_training_steps": 10.0}, TypeError, ["num_training_steps", "10.0"]),
        ({"mode": "cosine"}, ValueError, ["mode", "'cosine'", "'exponential'", "'linear'"]),
        ({"early_stop_threshold": 1.0}, ValueError, ["early_stop_threshold", "> 1", "1.0"]),
        ({"early_stop_threshold": math.inf}, ValueError, ["early_stop_threshold", "inf"]),
        ({"smoothing": 1.0}, ValueError, ["smoothing", "[0, 1)", "1.0"]),
        ({"suggestion": "fastai"}, ValueError, ["suggestion", "'fastai'", "'valley'", "'steepest'", "'minimum'"]),
        ({"apply": 1}, TypeError, ["apply", "bool", "1"]),
        ({"monitor": ""}, TypeError, ["monitor", "''"]),
        ({"val_batches": 0}, ValueError, ["val_batches", "0"]),
    ],
)
def test_bad_arguments_name_the_parameter_the_value_and_what_is_allowed(
    kwargs: dict[str, Any], error: type[Exception], fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        LRFinder(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_find_lr_refuses_apply_and_min_epochs(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="apply"):
        find_lr(make_trainer(tmp_path, []), TinyModel(), apply=True)
    with pytest.raises(ValueError, match="min_epochs"):
        find_lr(make_trainer(tmp_path, [], min_epochs=1), TinyModel())


# --------------------------------------------------------------------------- curve and rules
def test_smoothing_is_bias_corrected_from_the_first_point() -> None:
    losses = [3.0, 1.0, 2.0, 5.0]
    beta = 0.9
    expected, average = [], 0.0
    for i, x in enumerate(losses):
        average = beta * average + (1 - beta) * x
        expected.append(average / (1 - beta ** (i + 1)))
    assert smooth(losses, beta) == pytest.approx(expected, rel=1e-15)
    assert smooth(losses, beta)[0] == 3.0  # Lightning's off-by-one correction gives 3 / 1.9 here
    assert smooth(losses, 0.0) == losses


def _curve(n: int = 81) -> tuple[list[float], list[float]]:
    """1e-6 .. 1e2: plateau at 2, logistic descent centered at 1e-2 down to 0.5, then a blow-up above 1."""
    lrs = [10.0 ** (-6 + 8 * k / (n - 1)) for k in range(n)]
    losses = [0.5 + 1.5 / (1 + math.exp(3 * (math.log10(lr) + 2))) + (max(0.0, math.log10(lr)) * 5) ** 2 for lr in lrs]
    return lrs, losses


def test_each_rule_on_a_known_curve() -> None:
    lrs, losses = _curve()
    result = FinderResult.from_curve(lrs, losses)
    answers = result.suggestions()
    assert result.method == "valley" and result.suggestion == answers["valley"].lr
    assert math.log10(answers["valley"].lr) == pytest.approx(-2.0, abs=0.1)  # halfway down the logistic
    assert math.log10(answers["steepest"].lr) == pytest.approx(-2.0, abs=0.15)  # the logistic's inflection
    low = min(range(len(lrs)), key=lambda i: result.trend()[i])
    assert answers["minimum"].lr == pytest.approx(lrs[low] / 10)
    assert -1.0 <= math.log10(lrs[low]) <= 0.0  # the plateau at 0.5 ends where the blow-up starts
    assert result.note is None


@pytest.mark.parametrize(
    ("losses", "usable", "fragment"),
    [
        ([1.0] * 30, None, "did not change"),
        ([1.0 + 0.1 * i for i in range(30)], None, "never fell below its first value"),
        ([2.0, 1.5, 1.2, 1.0, math.nan, 1.0], 4, "only 4 usable point(s)"),
        ([math.nan] * 3, 0, "no usable point"),
        ([1.0, 0.9, 0.8], None, "only 3 point(s) recorded"),
        (list(2.3 + 0.02 * np.random.default_rng(0).standard_normal(60)), None, "no clear descent"),
    ],
)
def test_no_suggestion_comes_with_the_reason(losses: list[float], usable: int | None, fragment: str) -> None:
    lrs = [10.0 ** (-6 + k / 8) for k in range(len(losses))]
    result = FinderResult.from_curve(lrs, losses, usable=usable)
    assert result.suggestion is None
    assert result.reason is not None and fragment in result.reason
    assert fragment in result.explain()
    for method in ("valley", "steepest", "minimum"):
        assert suggest(lrs, losses, len(losses) if usable is None else usable, method).lr is None


def test_a_curve_still_falling_at_max_lr_gets_a_note() -> None:
    lrs, losses = _curve()
    result = FinderResult.from_curve(lrs[:60], losses[:60])  # ends at 1e0, before the blow-up, still falling
    assert result.suggestion is not None
    assert result.note is not None and "max_lr" in result.note


def test_result_round_trips_through_json_and_plots_on_a_log_axis(tmp_path: Path) -> None:
    lrs, losses = _curve()
    result = FinderResult.from_curve(lrs, [*losses[:-1], math.nan], usable=len(lrs) - 1, stop_reason="loss was nan")
    result.save(tmp_path / "r.json")
    again = FinderResult.load(tmp_path / "r.json")
    assert again.lrs == result.lrs and again.suggestion == result.suggestion and math.isnan(again.losses[-1])
    figure = result.plot(show_all=True)
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert f"valley: {result.suggestion:.3g}" in labels and any(label.startswith("minimum") for label in labels)
    figure.savefig(tmp_path / "finder.png")
    assert (tmp_path / "finder.png").stat().st_size > 0
    from matplotlib.figure import Figure

    mine = Figure()
    axes = mine.subplots(1, 2)
    assert result.plot(ax=axes[1]) is mine and axes[1].get_xscale() == "log"


# --------------------------------------------------------------------------- a real fit
def test_the_suggestion_becomes_the_lr_with_param_group_ratios_kept(tmp_path: Path) -> None:
    model = TinyModel(groups=2, lr=0.1, n=1024, batch_size=128)  # groups: 0.1 and 0.01
    finder = LRFinder(min_lr=1e-5, max_lr=10.0, num_training_steps=30)
    fit(tmp_path, model, [finder])
    result = finder.result
    assert result is not None and result.suggestion is not None, result and result.explain()
    tested = model.recorder.lrs[: len(result.lrs)]
    assert [g[0] for g in tested] == result.lrs  # the test's LR, group 0 exactly
    assert all(g[1] == pytest.approx(g[0] * 0.1, rel=1e-12) for g in tested)
    assert result.lrs[0] == 1e-5
    assert all(b / a == pytest.approx(result.lrs[1] / result.lrs[0]) for a, b in zip(result.lrs, result.lrs[1:]))
    trained = model.recorder.lrs[len(result.lrs) :]
    assert len(trained) == 8
    assert trained[0] == pytest.approx([result.suggestion, result.suggestion * 0.1], rel=1e-12)


def test_linear_mode_spaces_the_lrs_evenly() -> None:
    lrs = LRFinder(min_lr=0.01, max_lr=1.0, num_training_steps=5, mode="linear").config.lrs()
    assert lrs == pytest.approx([0.01, 0.2575, 0.505, 0.7525, 1.0]) and lrs[-1] == 1.0


def test_one_cycle_peaks_at_the_suggestion_whatever_the_callback_order(tmp_path: Path) -> None:
    runs = []
    for finder_first in (True, False):
        torch.manual_seed(0)
        model = TinyModel(n=1024, batch_size=128)
        finder = LRFinder(min_lr=1e-5, max_lr=10.0, num_training_steps=30)
        callbacks = [finder, OneCycle(div_factor=10.0)] if finder_first else [OneCycle(div_factor=10.0), finder]
        fit(tmp_path, model, callbacks, max_epochs=2)
        assert finder.result is not None and finder.result.suggestion is not None, finder.result
        trained = [g[0] for g in model.recorder.lrs[len(finder.result.lrs) :]]
        assert len(trained) == 16
        assert trained[0] == pytest.approx(finder.result.suggestion / 10.0, rel=1e-12)  # OneCycle: peak / div
        assert 0.95 * finder.result.suggestion < max(trained) <= finder.result.suggestion
        runs.append(trained)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("own_generator", [True, False])
def test_training_after_the_test_is_bit_identical_to_training_without_it(tmp_path: Path, own_generator: bool) -> None:
    runs = []
    for with_finder in (True, False):
        pl.seed_everything(3)
        model = NoisyModel(own_generator=own_generator, optimizer="adamw", n=64, batch_size=8)
        before, after = HookCounter(), HookCounter()
        finder = LRFinder(num_training_steps=12, max_lr=10.0, apply=False)
        callbacks = [before, finder, after] if with_finder else [before, after]
        trainer = fit(tmp_path, model, callbacks, max_epochs=2)
        runs.append((model, before, after, trainer))
    (model, before, after, _), (plain, *_rest) = runs
    assert before.at_fit_start is not None and after.at_fit_start is not None
    assert_identical(before.at_fit_start, after.at_fit_start, "state right after the test")
    assert after.calls_at_train_start == {}  # no hook of another callback ran during the test
    assert_identical(runs[0][2].at_train_start, runs[1][2].at_train_start, "state at train start")
    assert_identical(model.state_dict(), plain.state_dict(), "weights after training")
    assert model.recorder.lrs[12:] == plain.recorder.lrs  # the 12 test steps, then the same training


def test_divergence_stops_the_test_and_everything_is_restored(tmp_path: Path) -> None:
    before, after = HookCounter(), HookCounter()
    finder = LRFinder(min_lr=1e-4, max_lr=1e4, num_training_steps=60, apply=False)
    fit(tmp_path, TinyModel(n=1024, batch_size=128), [before, finder, after])
    result = finder.result
    assert result is not None and result.diverged and "diverged" in result.stop_reason
    i = result.usable
    assert len(result.lrs) == i + 1 < 60
    assert result.smoothed_losses[i] > 4.0 * min(result.smoothed_losses[:i])
    assert all(result.smoothed_losses[j] <= 4.0 * min(result.smoothed_losses[:j]) for j in range(5, i))
    assert_identical(before.at_fit_start, after.at_fit_start)


def test_a_nan_loss_stops_the_test_and_the_weights_are_restored(tmp_path: Path) -> None:
    before, after = HookCounter(), HookCounter()
    finder = LRFinder(min_lr=1e-4, max_lr=1.0, num_training_steps=25, early_stop_threshold=None, apply=False)
    fit(tmp_path, NanAboveModel(n=1024, batch_size=128), [before, finder, after])
    result = finder.result
    assert result is not None
    first_above = next(i for i, lr in enumerate(result.lrs) if lr > 1e-2)
    assert result.usable == first_above == len(result.lrs) - 1
    assert math.isnan(result.losses[-1]) and "nan" in result.stop_reason
    assert_identical(before.at_fit_start, after.at_fit_start)
    assert all(torch.isfinite(p).all() for p in finder_model_params(after))


def finder_model_params(probe: HookCounter) -> list[torch.Tensor]:
    assert probe.at_fit_start is not None
    return list(probe.at_fit_start["model"].values())


def test_an_exception_in_the_test_propagates_after_everything_is_restored(tmp_path: Path) -> None:
    model = RaisingModel(optimizer="adamw", n=64, batch_size=8)
    probe = HookCounter()
    root = tmp_path / "root"
    trainer = make_trainer(root, [probe, LRFinder(num_training_steps=20)], enable_checkpointing=True)
    optimizers: list[torch.optim.Optimizer] = []

    class Keep(Callback):
        def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            optimizers.extend(trainer.optimizers)

    trainer.callbacks.insert(0, Keep())
    with pytest.raises(RuntimeError, match="boom in training_step"):
        trainer.fit(model)
    assert probe.at_fit_start is not None and model.seen.calls == 5
    assert_identical(probe.at_fit_start["model"], {k: v.detach() for k, v in model.state_dict().items()})
    assert_identical(probe.at_fit_start["optimizers"], [o.state_dict() for o in optimizers])
    assert torch.equal(probe.at_fit_start["torch_rng"], torch.get_rng_state())
    assert not {"log", "log_dict"} & set(vars(model))
    assert not root.exists() or not any(root.rglob("*"))


def test_the_amp_gradient_scaler_is_used_and_left_as_it_was(tmp_path: Path) -> None:
    from lightning.pytorch.plugins.precision import MixedPrecision

    runs = []
    for with_finder in (True, False):
        torch.manual_seed(0)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
        model = TinyModel(n=1024, batch_size=128)
        finder = LRFinder(num_training_steps=30, min_lr=1e-5, max_lr=10.0, apply=False)
        plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
        fit(tmp_path, model, [finder] if with_finder else [], plugins=[plugin], max_epochs=2)
        runs.append((model, scaler, finder.result))
    (model, scaler, result), (plain, plain_scaler, _) = runs
    assert result is not None and result.suggestion is not None, result and result.explain()
    assert_identical(model.state_dict(), plain.state_dict(), "weights after training")
    assert scaler.state_dict() == plain_scaler.state_dict()
    assert model.recorder.lrs[len(result.lrs) :] == plain.recorder.lrs


def test_gradient_accumulation_takes_one_point_per_optimizer_step_with_the_window_loss(tmp_path: Path) -> None:
    model = LoggingModel(n=96, batch_size=8)  # 12 batches: 4 windows of 3 per pass
    finder = LRFinder(num_training_steps=10, min_lr=1e-4, max_lr=1e-1, apply=False)
    fit(tmp_path, model, [finder], accumulate_grad_batches=3)
    result = finder.result
    assert result is not None and len(result.lrs) == 10
    assert len(model.recorder.lrs) == 10 + 4  # one optimizer step per point, then 4 training steps
    windows = [model.seen.losses[3 * i : 3 * i + 3] for i in range(10)]
    assert result.losses == pytest.approx([sum(w) / 3 for w in windows], rel=1e-6)  # not divided by 3 again


def test_manual_optimization_steps_every_optimizer_at_the_test_lr(tmp_path: Path) -> None:
    model = ManualModel(n=64, batch_size=8)
    counter = HookCounter()
    finder = LRFinder(num_training_steps=16, min_lr=1e-4, max_lr=1.0)
    fit(tmp_path, model, [finder, counter])
    result = finder.result
    assert result is not None and result.suggestion is not None, result and result.explain()
    first, second = (r.lrs for r in model.recorders)
    assert [g[0] for g in first[:16]] == result.lrs
    assert [g[0] for g in second[:16]] == pytest.approx([lr * 0.1 for lr in result.lrs], rel=1e-12)
    pairs = [model.seen.losses[2 * i : 2 * i + 2] for i in range(16)]
    assert result.losses == pytest.approx([sum(p) / 2 for p in pairs], rel=1e-6)  # the manual_backward losses
    assert first[16][0] == result.suggestion and second[16][0] == pytest.approx(result.suggestion * 0.1)
    assert counter.calls_at_train_start == {}  # manual_backward / opt.step fired no callback hook in the test
    assert counter.calls["before_backward"] == counter.calls["before_optimizer_step"] == 16  # training proper


def test_the_curve_can_be_the_validation_loss(tmp_path: Path) -> None:
    finder = LRFinder(min_lr=1e-5, max_lr=1e-1, num_training_steps=33, monitor="val_loss", suggestion="minimum")
    fit(tmp_path, ValLossModel(n=64, batch_size=8), [finder], limit_val_batches=0)
    result = finder.result
    assert result is not None and result.monitor == "val_loss"
    assert result.losses == pytest.approx([1.0 + (math.log10(lr) + 3.0) ** 2 for lr in result.lrs], rel=1e-12)
    assert result.suggestion == pytest.approx(1e-4, rel=0.2)  # lowest at 1e-3, divided by 10
    missing = LRFinder(num_training_steps=5, monitor="val_acc")
    with pytest.raises(ValueError, match=r"'val_acc'.*logged \['other', 'val_loss'\]"):
        fit(tmp_path, ValLossModel(), [missing])


def test_several_train_dataloaders_and_find_lr_on_the_validation_loss(tmp_path: Path) -> None:
    model = TwoLoaderModel()
    finder = LRFinder(num_training_steps=10, min_lr=1e-4, max_lr=1e-1, apply=False)
    fit(tmp_path, model, [finder])
    assert finder.result is not None and len(finder.result.lrs) == 10
    assert finder.result.losses == pytest.approx(model.seen.losses[:10], rel=1e-6)  # cycles: 4 batches per pass
    values = ValLossModel()
    loader = DataLoader(random_data(8, seed=1), batch_size=4)
    result = find_lr(make_trainer(tmp_path, []), values, val_dataloaders=loader, monitor="val_loss", max_lr=1e-1)
    assert result.monitor == "val_loss"
    assert result.losses == pytest.approx([1.0 + (math.log10(lr) + 3.0) ** 2 for lr in result.lrs], rel=1e-12)


def test_the_curve_is_logged_to_the_loggers(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path, name="tb", default_hp_metric=False)
    finder = LRFinder(num_training_steps=15, min_lr=1e-4, max_lr=1.0, apply=False)
    fit(tmp_path, TinyModel(), [finder], logger=logger)
    result = finder.result
    assert result is not None
    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0})
    events.Reload()
    for tag, values in [
        ("lr_finder/lr", result.lrs),
        ("lr_finder/loss", result.losses),
        ("lr_finder/smoothed_loss", result.smoothed_losses),
    ]:
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == list(range(len(values)))
        assert [s.value for s in scalars] == pytest.approx(values, rel=1e-6)


def test_no_suggestion_keeps_the_lr_and_warns_why(tmp_path: Path) -> None:
    model = FlatModel(lr=0.05)
    finder = LRFinder(num_training_steps=10)
    with pytest.warns(UserWarning, match="could not suggest.*did not change.*configured LR is kept"):
        fit(tmp_path, model, [finder])
    assert finder.result is not None and finder.result.suggestion is None
    assert model.recorder.lrs[10] == [0.05]


def test_a_scheduler_from_configure_optimizers_is_reported(tmp_path: Path) -> None:
    model = TinyModel(n=1024, batch_size=128, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 100))
    with pytest.warns(UserWarning, match="StepLR returned by `configure_optimizers`"):
        fit(tmp_path, model, [LRFinder(num_training_steps=30, min_lr=1e-5, max_lr=10.0)])


def test_resume_does_not_rerun_the_test_and_keeps_its_result(tmp_path: Path) -> None:
    first = LRFinder(num_training_steps=30, min_lr=1e-5, max_lr=10.0)
    checkpoint = ModelCheckpoint(tmp_path / "ckpt", save_last=True)
    fit(tmp_path, TinyModel(n=1024, batch_size=128), [first, OneCycle(), checkpoint], enable_checkpointing=True)
    assert first.result is not None and first.result.suggestion is not None
    second = LRFinder(num_training_steps=30, min_lr=1e-5, max_lr=10.0)
    model = TinyModel(n=1024, batch_size=128)
    trainer = make_trainer(tmp_path, [second, OneCycle()], max_epochs=2)
    trainer.fit(model, ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    assert len(model.recorder.lrs) == 8  # training steps only: no test on resume
    assert second.result is not None and second.result.suggestion == first.result.suggestion


# --------------------------------------------------------------------------- find_lr
def test_find_lr_returns_the_result_and_leaves_model_and_trainer_untouched(tmp_path: Path) -> None:
    root = tmp_path / "root"
    model = TinyModel(groups=2, n=1024, batch_size=128)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    probe = HookCounter()
    trainer = make_trainer(root, [probe], enable_checkpointing=True)
    callbacks = trainer.callbacks
    leftovers = set(Path(tempfile.gettempdir()).glob("lightning_lr_finder_*"))
    result = find_lr(trainer, model, num_training_steps=30, min_lr=1e-5, max_lr=10.0)
    assert isinstance(result, FinderResult) and result.suggestion is not None and len(result.lrs) > 5
    assert_identical(weights, dict(model.state_dict()))
    assert len(model.recorder.lrs) == len(result.lrs)  # test steps only: no training step
    assert trainer.global_step == 0 and probe.at_fit_start is None  # callbacks were set aside
    assert trainer.callbacks is callbacks
    assert not root.exists() or not any(root.rglob("*"))  # no checkpoint, no file left behind
    assert set(Path(tempfile.gettempdir()).glob("lightning_lr_finder_*")) == leftovers
    trainer.fit(model)  # the trainer still trains normally
    assert trainer.global_step == 8 and probe.at_fit_start is not None


# --------------------------------------------------------------------------- DDP
class SpawnDump(Callback):
    """Writes what each rank holds at train start (state does not come back from spawned processes)."""

    def __init__(self, out: str, finder: LRFinder) -> None:
        self.out, self.finder = out, finder

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from tests.finder_ddp_script import LOCAL_LOSSES

        assert self.finder.result is not None
        data = {
            "result": self.finder.result.to_dict(),
            "local": list(LOCAL_LOSSES),
            "lrs": [g["lr"] for g in trainer.optimizers[0].param_groups],
        }
        (Path(self.out) / f"rank{trainer.global_rank}.json").write_text(json.dumps(data))


@pytest.mark.slow
def test_ddp_spawn_averages_the_loss_across_ranks_and_applies_one_lr_everywhere(tmp_path: Path) -> None:
    finder = LRFinder(**FINDER)  # type: ignore[arg-type]
    model = ShardModel(groups=2, n=256, batch_size=32)
    fit(tmp_path, model, [finder, SpawnDump(str(tmp_path), finder)], devices=2, strategy="ddp_spawn")
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["result"] == ranks[1]["result"]
    result = FinderResult.from_dict(ranks[0]["result"])
    assert result.suggestion is not None, result.explain()
    assert ranks[0]["lrs"] == ranks[1]["lrs"] == pytest.approx([result.suggestion, result.suggestion * 0.1])
    local = [r["local"] for r in ranks]
    assert local[0] != local[1]  # each rank sees its own shard
    assert result.losses == pytest.approx([(a + b) / 2 for a, b in zip(*local)], rel=1e-6)


@pytest.mark.slow
def test_find_lr_under_ddp_spawn_brings_the_result_back(tmp_path: Path) -> None:
    model = ShardModel(groups=2, n=256, batch_size=32)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = make_trainer(tmp_path / "root", [], devices=2, strategy="ddp_spawn")
    result = find_lr(trainer, model, **FINDER)
    assert result.suggestion is not None and len(result.lrs) > 5, result.explain()
    assert_identical(weights, dict(model.state_dict()))
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").rglob("*"))


@pytest.mark.slow
def test_ddp_script_every_rank_gets_the_same_result_and_lr(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(REPO / "tests" / "finder_ddp_script.py"), str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    read = lambda name: json.loads((tmp_path / f"{name}.json").read_text())  # noqa: E731
    found = [read(f"find_lr-rank{r}") for r in (0, 1)]
    assert found[0]["result"] == found[1]["result"] and found[0]["result"]["suggestion"] is not None
    assert found[0]["bit_identical"] and found[1]["bit_identical"] and found[0]["global_step"] == 0
    ranks = [read(f"callback-rank{r}") for r in (0, 1)]
    assert ranks[0]["result"] == ranks[1]["result"]
    suggestion = ranks[0]["result"]["suggestion"]
    assert ranks[0]["group_lrs"] == ranks[1]["group_lrs"] == pytest.approx([suggestion, suggestion * 0.1])
    for rank in ranks:
        assert rank["weight_before"] == rank["weight_after"]  # restored on every rank
    offset = len(found[0]["result"]["losses"])
    locals_ = [r["local_losses"][offset:] for r in ranks]
    assert ranks[0]["result"]["losses"] == pytest.approx([(a + b) / 2 for a, b in zip(*locals_)], rel=1e-6)
    ends = [read(f"callback-end-rank{r}") for r in (0, 1)]
    assert ends[0]["weight"] == ends[1]["weight"]
    trained = ends[0]["lrs"][-4:]  # 256 samples, 2 ranks, batch 32: 4 steps, after the two tests' steps
    assert trained == ends[1]["lrs"][-4:]
    assert trained[0] == pytest.approx([suggestion / 25.0, suggestion / 250.0])  # OneCycle: peak / div_factor
