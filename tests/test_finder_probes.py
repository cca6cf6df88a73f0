"""The finder's probes: the search, the budget taken from the run, exact restore, edges, DDP.

Every Lightning test is a real (tiny) fit; nothing is mocked. The ``ddp_spawn`` test is marked ``slow``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader

from lightning_lr import CosineAnnealing
from lightning_lr.finder import FinderResult, LRFinder, find_lr
from lightning_lr.finder.budget import CHOOSING_FRACTION, plan_budget
from lightning_lr.finder.probes import SPACING, next_lr, pick, within_noise
from lightning_lr.finder.result import Probe
from tests.helpers import TinyModel, assert_identical, make_trainer, random_data


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


class Seen:
    """A plain object the models write into: the finder restores module attributes, not this."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.val: list[tuple[int, float]] = []  # (training steps so far, validation value)


class ProbeModel(TinyModel):
    """Batch norm (buffers), dropout (global RNG), Adam, a shuffled loader; records every training step."""

    def __init__(self, noisy: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("optimizer", "adamw")
        super().__init__(**kwargs)
        self.norm = nn.BatchNorm1d(self.features) if noisy else nn.Identity()
        self.drop = nn.Dropout(0.2) if noisy else nn.Identity()
        self.seen = Seen()
        self.nan_held_above: float | None = None
        self.raise_after: int | None = None

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        lr = float(self.trainer.optimizers[0].param_groups[0]["lr"])
        if self.raise_after is not None and len(self.seen.losses) >= self.raise_after:
            raise RuntimeError("boom in a probe")
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(self.drop(self.norm(x))), y)
        self.seen.losses.append(float(loss.detach()))
        self.seen.lrs.append(lr)
        held = len(self.seen.lrs) >= 3 and self.seen.lrs[-3:] == [lr] * 3  # a probe's third step; never in the test
        if self.nan_held_above is not None and held and lr > self.nan_held_above:
            return loss * math.nan
        return loss

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(5)
        return DataLoader(
            random_data(self.n, self.features), batch_size=self.batch_size, shuffle=True, generator=generator
        )


class ManualProbeModel(ProbeModel):
    """Manual optimization: ``training_step`` steps the optimizer itself and returns nothing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        opt = self.optimizers()
        opt.zero_grad()
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(self.drop(self.norm(x))), y)
        self.seen.losses.append(float(loss.detach()))
        self.manual_backward(loss)
        opt.step()


class ValProbeModel(ProbeModel):
    """``validation_step`` logs the MSE of a validation batch as ``val_loss`` and records it in ``seen.val``."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(self.norm(x)), y)
        self.seen.val.append((len(self.seen.losses), float(loss)))
        self.log("val_loss", loss)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(12, self.features, seed=1), batch_size=4)


class State(Callback):
    """Bit-exact copies of the model, the optimizers and the RNG at fit start (placed before/after the finder)."""

    def __init__(self) -> None:
        self.at_fit_start: dict[str, Any] | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.estimated_stepping_batches  # noqa: B018 - loads the train dataloader first, as the finder does
        self.at_fit_start = {
            "model": {k: v.detach().clone() for k, v in pl_module.state_dict().items()},
            "optimizers": [copy.deepcopy(o.state_dict()) for o in trainer.optimizers],
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state()[1].copy(),
            "global_step": trainer.global_step,
            "training": [m.training for m in pl_module.modules()],
        }


PROBING = {"num_training_steps": 20, "probe_steps": 4, "max_lr": 10.0}


# --------------------------------------------------------------------------- the search (pure)
def test_the_search_brackets_the_curves_pick_then_walks_towards_the_better_side() -> None:
    center, up, down = 0.01, 0.01 * SPACING, 0.01 / SPACING
    assert next_lr([], center, 1e-8, 1.0) == center
    assert next_lr([(center, 1.0)], center, 1e-8, 1.0) == up
    assert next_lr([(center, 1.0), (up, 0.9)], center, 1e-8, 1.0) == down
    assert next_lr([(center, 1.0), (up, 0.9), (down, 1.1)], center, 1e-8, 1.0) == pytest.approx(up * SPACING)
    assert next_lr([(center, 1.0), (up, 1.2), (down, 0.9)], center, 1e-8, 1.0) == pytest.approx(down / SPACING)
    middle = next_lr([(center, 1.0), (up, 1.05), (down, 1.2)], center, 1e-8, 1.0)
    assert middle == pytest.approx(math.sqrt(center * up))  # bracketed: halfway towards the better neighbour
    halved = [(center, 1.0), (up, 1.05), (down, 1.2), (math.sqrt(center * up), 0.99)]
    assert next_lr(halved, center, 1e-8, 1.0) is None  # the last step is the half one


def _probe(lr: float, losses: list[float]) -> Probe:
    tail = losses[-math.ceil(len(losses) / 4) :]
    return Probe(lr, losses, sum(tail) / len(tail))


NOISY = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.6, 0.3, 0.7, 0.4, 0.5, 0.3]  # the batches' ups and downs, shared by all


def test_the_pick_is_the_lowest_lr_within_the_batch_noise_of_the_best_probe() -> None:
    best = _probe(0.1, NOISY)
    close = _probe(0.03, [x + (0.06 if i % 2 else -0.02) for i, x in enumerate(NOISY)])  # 0.02 worse on average
    worse = _probe(0.01, [x + 0.2 for x in NOISY])  # worse on every step
    above = _probe(0.3, [x + 0.01 for x in NOISY])
    assert close.score > best.score and within_noise(close, best) and not within_noise(worse, best)
    result = pick(FinderResult.not_run("test"), [worse, close, best, above], 12)
    assert result.suggestion == 0.03 and result.rule == "probes"
    assert pick(FinderResult.not_run("test"), [worse, best, above], 12).suggestion == 0.1


def test_probes_scored_on_validation_or_stopped_early_take_the_lowest_score() -> None:
    best, close = _probe(0.1, NOISY), _probe(0.03, [x + (0.06 if i % 2 else -0.02) for i, x in enumerate(NOISY)])
    assert pick(FinderResult.not_run("test"), [close, best], 12, tail_scored=False).suggestion == 0.1
    short = _probe(0.03, close.losses[:8])  # a probe that stopped early is not compared step by step
    short.score = close.score
    assert not within_noise(short, best)
    assert pick(FinderResult.not_run("test"), [short, best], 12).suggestion == 0.1


def test_the_search_stays_inside_the_bounds_and_goes_down_past_diverged_probes() -> None:
    assert next_lr([(0.5, 1.0)], 0.5, 1e-8, 1.0) == pytest.approx(0.5 / SPACING)  # 0.5 * s is above `high`
    assert next_lr([(0.5, 1.0), (0.5 / SPACING, 2.0)], 0.5, 1e-8, 1.0) is None  # best is the highest, nothing above
    assert next_lr([(0.01, math.inf), (0.01 * SPACING, math.inf)], 0.01, 1e-8, 1.0) == pytest.approx(0.01 / SPACING)
    assert next_lr([(1e-8, math.inf)], 1e-8, 1e-8, 1.0) == pytest.approx(1e-8 * SPACING)


# --------------------------------------------------------------------------- the budget
@pytest.mark.parametrize("run", [2, 9, 10, 31, 90, 199, 200, 201, 250, 999, 5000, 10**6])
def test_choosing_never_takes_more_than_half_of_the_run(run: int) -> None:
    budget = plan_budget(run)
    assert budget.total <= CHOOSING_FRACTION * run
    assert budget.range_points in (0, min(100, run // 2)) or budget.probe_steps > 0
    if budget.probe_steps:
        assert budget.probe_steps >= 15 and budget.range_points >= 40 and budget.candidates == 4
    else:
        assert budget.note is not None  # why there are no probes (or no test) is said


def test_the_budget_keeps_what_the_user_sets_and_refuses_probes_longer_than_the_run() -> None:
    assert plan_budget(1000, range_points=30, probe_steps=7).total == 30 + 4 * 7
    assert plan_budget(1000, confirm=False) == plan_budget(1000, confirm=False, probe_steps=None)
    assert plan_budget(1000, confirm=False).probe_steps == 0
    assert plan_budget(math.inf).note == "the run's length is unknown: probes of 25 steps"
    with pytest.raises(ValueError, match=r"probe_steps=30.*120 optimizer steps.*whole run \(100\)"):
        plan_budget(100, probe_steps=30)


def test_a_too_long_probe_budget_is_refused_at_fit_start_before_any_step(tmp_path: Path) -> None:
    model = ProbeModel(n=32, batch_size=4)
    with pytest.raises(ValueError, match=r"probe_steps=5.*whole run \(16\)"):
        make_trainer(tmp_path, [LRFinder(probe_steps=5)], max_epochs=2).fit(model)
    assert model.seen.losses == []


def test_the_default_finder_sizes_test_and_probes_from_the_run(tmp_path: Path) -> None:
    """A 256-step run: a 52-point range test and probes of 19 steps, 128 steps at most (half of the run)."""
    finder = LRFinder(apply=False)
    model = ProbeModel(noisy=False, n=128, batch_size=8)
    make_trainer(tmp_path, [finder], max_epochs=16, max_steps=-1).fit(model)
    result = finder.result
    assert result is not None and result.run_steps == 256 and result.probe_steps == 19
    spent = len(result.lrs) + sum(len(p.losses) for p in result.probes)
    assert len(model.seen.losses) == 256 + spent and spent <= 128
    assert len(result.lrs) <= 52 and 3 <= len(result.probes) <= 4


def test_a_run_too_short_for_probes_says_so_and_the_curve_decides(tmp_path: Path) -> None:
    finder = LRFinder(apply=False)
    make_trainer(tmp_path, [finder], max_epochs=2).fit(ProbeModel(noisy=False, n=64, batch_size=4))
    result = finder.result
    assert result is not None and result.probes == [] and len(result.lrs) <= 16
    assert result.probe_note is not None and "too short for them" in result.probe_note
    assert "No probes: the run (32 steps) is too short" in result.explain()


def test_a_run_too_short_for_any_test_keeps_the_lr_and_warns(tmp_path: Path) -> None:
    finder = LRFinder()
    model = ProbeModel(n=32, batch_size=4)
    with pytest.warns(UserWarning, match="too short for a range test"):
        make_trainer(tmp_path, [finder], max_steps=8).fit(model)
    assert finder.result is not None and finder.result.suggestion is None and finder.result.lrs == []
    assert len(model.seen.losses) == 8  # no test step
    assert model.trainer.optimizers[0].param_groups[0]["lr"] == model.lr


# --------------------------------------------------------------------------- what the probes do
def test_probes_start_from_the_same_weights_on_the_same_batches_and_the_best_one_decides(tmp_path: Path) -> None:
    finder = LRFinder(apply=False, **PROBING)  # type: ignore[arg-type]
    model = ProbeModel(n=64, batch_size=16)
    make_trainer(tmp_path, [finder], max_epochs=4).fit(model)
    result = finder.result
    assert result is not None and result.rule == "probes" and len(result.probes) >= 3, result.explain()
    firsts = [p.losses[0] for p in result.probes]
    assert firsts == [firsts[0]] * len(firsts)  # same weights, same first batch, before any step
    assert result.curve_lr in [p.lr for p in result.probes]
    best = min(result.probes, key=lambda p: p.score)
    assert result.suggestion == best.lr
    for p in result.probes:  # the score: the mean loss of the last quarter of the probe's steps
        assert p.score == pytest.approx(p.losses[-1]) and len(p.losses) == 4
    assert [p.lr for p in result.probes] == sorted(p.lr for p in result.probes)
    recorded = model.seen.losses[20:]  # after the range test: each probe's steps, in the search's order
    assert sorted(recorded[:16]) == sorted(x for p in result.probes for x in p.losses)


def test_after_the_probes_training_is_bit_identical_to_training_without_the_finder(tmp_path: Path) -> None:
    runs = []
    for with_finder in (True, False):
        pl.seed_everything(3)
        model = ProbeModel(n=64, batch_size=8)
        before, after = State(), State()
        finder = LRFinder(apply=False, **PROBING)  # type: ignore[arg-type]
        callbacks = [before, finder, after] if with_finder else [before, after]
        make_trainer(tmp_path, callbacks, max_epochs=2).fit(model)
        runs.append((model, before, after, finder))
    (model, before, after, finder), (plain, *_rest) = runs
    assert finder.result is not None and finder.result.probes
    assert_identical(before.at_fit_start, after.at_fit_start, "right after the finder")
    assert_identical(model.state_dict(), plain.state_dict(), "weights after training")
    spent = len(finder.result.lrs) + sum(len(p.losses) for p in finder.result.probes)
    assert model.seen.losses[spent:] == plain.seen.losses  # the same batches in the same order


def test_gradient_accumulation_one_probe_step_per_window_its_loss_the_window_mean(tmp_path: Path) -> None:
    finder = LRFinder(apply=False, **PROBING)  # type: ignore[arg-type]
    model = ProbeModel(n=64, batch_size=16)
    make_trainer(tmp_path, [finder], max_epochs=8, accumulate_grad_batches=2).fit(model)
    result = finder.result
    assert result is not None and result.probes
    per_probe = [p for p in result.probes if p.stop is None]
    assert all(len(p.losses) == 4 for p in per_probe)
    first_probe = model.seen.losses[2 * 20 : 2 * 20 + 8]  # after the range test's 20 windows of 2 batches
    windows = [(a + b) / 2 for a, b in zip(first_probe[::2], first_probe[1::2])]
    searched_first = next(p for p in result.probes if p.lr == result.curve_lr)
    assert searched_first.losses == pytest.approx(windows, rel=1e-6)


def test_manual_optimization_probes_and_restores_exactly(tmp_path: Path) -> None:
    before, after = State(), State()
    finder = LRFinder(apply=False, **PROBING)  # type: ignore[arg-type]
    model = ManualProbeModel(n=64, batch_size=16)
    make_trainer(tmp_path, [before, finder, after], max_epochs=4).fit(model)
    result = finder.result
    assert result is not None and len(result.probes) >= 3 and result.rule == "probes", result.explain()
    assert_identical(before.at_fit_start, after.at_fit_start)


def test_probes_are_scored_on_the_monitored_validation_metric(tmp_path: Path) -> None:
    finder = LRFinder(apply=False, monitor="val_loss", val_batches=2, **PROBING)  # type: ignore[arg-type]
    model = ValProbeModel(n=64, batch_size=16)
    make_trainer(tmp_path, [finder], max_epochs=4, limit_val_batches=0).fit(model)
    result = finder.result
    assert result is not None and len(result.probes) >= 3, result.explain()
    assert result.monitor == "val_loss"
    start = len(result.lrs)  # the range test's points; then each probe's 4 steps and 2 validation batches
    for end in range(start + 4, start + 4 * len(result.probes) + 1, 4):
        values = [v for step, v in model.seen.val if step == end]
        assert len(values) == 2
        lr = model.seen.lrs[end - 1]
        assert next(p.score for p in result.probes if p.lr == lr) == pytest.approx(sum(values) / 2, rel=1e-12)
    assert result.suggestion == min(result.probes, key=lambda p: p.score).lr


# --------------------------------------------------------------------------- edges
def _curve_pick(tmp_path: Path) -> float:
    single = LRFinder(apply=False, confirm=False, **PROBING)  # type: ignore[arg-type]
    torch.manual_seed(0)
    make_trainer(tmp_path, [single], max_epochs=4).fit(ProbeModel(n=64, batch_size=16))
    assert single.result is not None and single.result.suggestion is not None
    return single.result.suggestion


def test_a_nan_in_a_probe_stops_it_it_is_never_picked_and_everything_is_restored(tmp_path: Path) -> None:
    center = _curve_pick(tmp_path)
    before, after = State(), State()
    finder = LRFinder(apply=False, **PROBING)  # type: ignore[arg-type]
    torch.manual_seed(0)
    model = ProbeModel(n=64, batch_size=16)
    model.nan_held_above = 1.5 * center  # the probes above the curve's pick turn NaN at their third step
    make_trainer(tmp_path, [before, finder, after], max_epochs=4).fit(model)
    result = finder.result
    assert result is not None and result.curve_lr == center
    stopped = [p for p in result.probes if p.stop is not None]
    assert stopped and all(p.lr > 1.5 * center and p.score == math.inf and len(p.losses) == 3 for p in stopped)
    assert "loss was nan at step 3" in stopped[0].stop  # type: ignore[operator]
    assert result.suggestion is not None and result.suggestion <= center
    assert_identical(before.at_fit_start, after.at_fit_start)


def test_every_probe_diverging_gives_no_suggestion_keeps_the_lr_and_says_why(tmp_path: Path) -> None:
    finder = LRFinder(**PROBING)  # type: ignore[arg-type]
    model = ProbeModel(n=64, batch_size=16, lr=0.1)
    model.nan_held_above = 0.0
    with pytest.warns(UserWarning, match="every probe stopped on a NaN/inf loss"):
        make_trainer(tmp_path, [finder], max_epochs=4).fit(model)
    result = finder.result
    assert result is not None and result.suggestion is None and result.reason is not None
    assert len(result.probes) == 4 and all(p.stop is not None and p.score == math.inf for p in result.probes)
    assert result.curve_lr is not None and min(p.lr for p in result.probes) < result.curve_lr / 5  # went down
    assert "Probes:" in result.explain() and "stopped (loss was nan at step 3)" in result.explain()
    assert model.seen.lrs[-1] == 0.1  # training ran at the configured LR


def test_a_probe_that_raises_propagates_after_everything_is_restored(tmp_path: Path) -> None:
    state = State()
    model = ProbeModel(n=64, batch_size=16)
    model.raise_after = 20 + 6  # the range test's 20 steps, then the second probe's second step
    optimizers: list[torch.optim.Optimizer] = []

    class Keep(Callback):
        def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            optimizers.extend(trainer.optimizers)

    trainer = make_trainer(tmp_path, [Keep(), state, LRFinder(**PROBING)], max_epochs=4)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="boom in a probe"):
        trainer.fit(model)
    assert state.at_fit_start is not None and len(model.seen.losses) == 26
    assert_identical(state.at_fit_start["model"], {k: v.detach() for k, v in model.state_dict().items()})
    assert_identical(state.at_fit_start["optimizers"], [o.state_dict() for o in optimizers])
    assert torch.equal(state.at_fit_start["torch_rng"], torch.get_rng_state())
    assert not {"log", "log_dict"} & set(vars(model))  # the finder's stand-ins are gone


def test_a_loader_shorter_than_a_probe_is_passed_over_again_and_the_result_says_so(tmp_path: Path) -> None:
    finder = LRFinder(apply=False, num_training_steps=20, probe_steps=10, max_lr=10.0)
    make_trainer(tmp_path, [finder], max_epochs=7).fit(ProbeModel(n=24, batch_size=4))  # 6 batches per epoch
    result = finder.result
    assert result is not None and result.probes
    assert all(len(p.losses) == 10 for p in result.probes if p.stop is None)
    assert result.probe_note is not None and "a probe takes 10 batches but an epoch has 6" in result.probe_note
    assert "Note: a probe takes 10 batches" in result.explain()


# --------------------------------------------------------------------------- record, log, figure
def test_the_probes_round_trip_through_json_and_a_checkpoint_state(tmp_path: Path) -> None:
    finder = LRFinder(apply=False, **PROBING)  # type: ignore[arg-type]
    make_trainer(tmp_path, [finder], max_epochs=4).fit(ProbeModel(n=64, batch_size=16))
    result = finder.result
    assert result is not None and result.probes
    path = tmp_path / "result.json"
    result.save(path)
    again = FinderResult.load(path)
    assert again == result and again.explain() == result.explain()
    assert again.probes[0].losses == result.probes[0].losses
    other = LRFinder()
    other.load_state_dict(json.loads(json.dumps(finder.state_dict())))
    assert other.result == result
    fields = ("probes", "probe_steps", "curve_lr", "run_steps", "probe_note")
    old = {k: v for k, v in result.to_dict().items() if k not in fields}
    assert FinderResult.from_dict(old).probes == []  # a result saved before the probes existed still loads
    legacy = LRFinder()
    legacy.load_state_dict({"version": 1, "result": old})  # a version-1 checkpoint state
    assert legacy.result is not None and legacy.result.probes == [] and legacy.result.lrs == result.lrs
    assert len(result.plot().axes) == 2  # the curve, and the probes on a second y-axis


def test_the_probes_are_in_the_log_line_the_progress_bar_and_tensorboard(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    finder = LRFinder(apply=False, **PROBING)  # type: ignore[arg-type]
    logger = TensorBoardLogger(str(tmp_path), name="tb", default_hp_metric=False)
    with caplog.at_level(logging.INFO):
        make_trainer(tmp_path, [finder], max_epochs=4, logger=logger, enable_progress_bar=True).fit(
            ProbeModel(n=64, batch_size=16)
        )
    result = finder.result
    assert result is not None and result.probes
    assert "probes of 4 steps around lr=" in caplog.text and result.probe_summary() in caplog.text
    assert "LRFinder probes:" in capfd.readouterr().err
    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    assert [e.value for e in events.Scalars("lr_finder/probe_lr")] == pytest.approx([p.lr for p in result.probes])
    assert [e.value for e in events.Scalars("lr_finder/probe_score")] == pytest.approx([p.score for p in result.probes])
    assert events.Tags()["images"]  # the finder figure, probes included


def test_find_lr_probes_and_leaves_the_model_untouched(tmp_path: Path) -> None:
    model = ProbeModel(n=64, batch_size=16)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = make_trainer(tmp_path, [], max_epochs=4)
    result = find_lr(trainer, model, **PROBING)
    assert result.probes and result.rule == "probes"
    assert_identical(weights, dict(model.state_dict()))


def test_confirm_false_is_the_single_curve_finder(tmp_path: Path) -> None:
    probing, single = LRFinder(apply=False, **PROBING), LRFinder(apply=False, confirm=False, **PROBING)  # type: ignore[arg-type]
    for finder in (probing, single):
        torch.manual_seed(0)
        make_trainer(tmp_path, [finder, CosineAnnealing()], max_epochs=4).fit(ProbeModel(n=64, batch_size=16))
    assert probing.result is not None and single.result is not None
    assert single.result.probes == [] and single.result.probe_note is None and single.result.rule != "probes"
    assert single.result.lrs == probing.result.lrs  # the same curve
    assert probing.result.curve_lr == single.result.suggestion


# --------------------------------------------------------------------------- DDP
class SpawnProbeModel(ProbeModel):
    """Each rank reads its own half of the data (Lightning's DistributedSampler)."""

    def train_dataloader(self) -> DataLoader:
        return DataLoader(random_data(self.n, self.features), batch_size=self.batch_size)


class SpawnResult(Callback):
    def __init__(self, out: str, finder: LRFinder) -> None:
        self.out, self.finder = out, finder

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.finder.result is not None
        data = {
            "result": self.finder.result.to_dict(),
            "lr": trainer.optimizers[0].param_groups[0]["lr"],
            "weight": pl_module.layer.weight.detach().tolist(),
        }
        (Path(self.out) / f"rank{trainer.global_rank}.json").write_text(json.dumps(data))


@pytest.mark.slow
def test_ddp_spawn_every_rank_runs_the_same_probes_and_applies_one_lr(tmp_path: Path) -> None:
    finder = LRFinder(**PROBING)  # type: ignore[arg-type]
    model = SpawnProbeModel(n=128, batch_size=4)
    make_trainer(
        tmp_path, [finder, SpawnResult(str(tmp_path), finder)], max_epochs=2, devices=2, strategy="ddp_spawn"
    ).fit(model)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["result"] == ranks[1]["result"]
    result = FinderResult.from_dict(ranks[0]["result"])
    assert result.rule == "probes" and len(result.probes) >= 3, result.explain()
    assert ranks[0]["lr"] == ranks[1]["lr"] == result.suggestion
    assert ranks[0]["weight"] == ranks[1]["weight"]
