"""The finder's fallback rule, its LR range, and the schedules that take the range (real Lightning runs).

Synthetic curves check the rules (descent, no descent then divergence, flat, NaN); tiny real fits
check that ``Cyclical()`` and ``OneCycle(div_factor=None)`` train between the finder's bounds and
that the finder says so, before spending its test, when absolute LRs would drop its answer.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_lr import Cyclical, OneCycle, ScheduleConflictError
from lightning_lr.finder import FinderResult, LRFinder
from lightning_lr.finder.suggest import CLIMB_DIVISOR, climb_point, lr_range, suggest
from tests.helpers import TinyModel, make_trainer

METHODS = ("valley", "steepest", "minimum")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def grid(n: int = 100, low: float = -8.0, high: float = 0.0) -> list[float]:
    return [10.0 ** (low + (high - low) * k / (n - 1)) for k in range(n)]


def noise(n: int, scale: float = 0.02, seed: int = 0) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(n)


# --------------------------------------------------------------------------- the rules on synthetic curves
def test_a_clear_descent_is_answered_by_the_rule_itself() -> None:
    lrs = grid()
    losses = [2.3 - 2.0 / (1.0 + math.exp(-3.0 * (math.log10(lr) + 3.0))) for lr in lrs] + noise(100)
    result = FinderResult.from_curve(lrs, list(losses))
    for method in METHODS:
        answer = result.suggest(method)
        assert answer.rule == method and answer.reason is None and answer.lr is not None
    assert result.rule == "valley" and result.reason is None
    assert math.log10(result.suggestion) == pytest.approx(-3.0, abs=0.15)
    assert "divergence" not in result.explain()


def test_no_descent_then_divergence_suggests_a_third_of_where_the_loss_climbs() -> None:
    lrs = grid()
    u = np.log10(lrs)
    losses = 2.3 + noise(100) + np.where(u > -2.0, 30.0 * (u + 2.0) ** 2, 0.0)  # flat, then blows up from 1e-2
    usable = int(np.argmax(losses > 4 * 2.3))  # where a 4x early stop would have ended the test
    result = FinderResult.from_curve(lrs, list(losses), usable=usable, stop_reason=f"diverged at lr={lrs[usable]:.3g}")
    climb = climb_point(lrs, list(losses), usable)
    assert climb is not None and -2.2 <= math.log10(lrs[climb]) <= -1.6
    for method in METHODS:
        answer = result.suggest(method)
        assert answer.rule == "divergence" and answer.lr == pytest.approx(lrs[climb] / CLIMB_DIVISOR)
    assert result.rule == "divergence" and result.suggestion == pytest.approx(lrs[climb] / 3)
    assert result.reason is not None and result.reason.startswith("no clear descent")
    assert "divergence rule" in result.reason and "divergence rule" in result.explain()
    assert result.lr_range is None  # no region where the loss falls


def test_no_descent_then_nan_suggests_a_third_of_where_the_test_stopped() -> None:
    lrs = grid()
    losses = list(2.3 + noise(100))
    losses[70] = math.nan
    result = FinderResult.from_curve(lrs, losses, usable=70, stop_reason=f"loss was nan at lr={lrs[70]:.3g}")
    assert result.rule == "divergence"
    assert result.suggestion == pytest.approx(lrs[70] / 3)
    assert result.reason is not None and "where the test stopped" in result.reason


def test_a_flat_curve_gives_no_answer() -> None:
    lrs = grid()
    noisy = FinderResult.from_curve(lrs, list(2.3 + noise(100)))
    assert noisy.suggestion is None and noisy.rule is None and noisy.lr_range is None
    assert noisy.reason is not None and noisy.reason.startswith("no clear descent")
    constant = FinderResult.from_curve(lrs, [2.3] * 100)
    assert constant.suggestion is None and constant.reason is not None and "did not change" in constant.reason


def test_nan_from_the_first_step_gives_no_answer() -> None:
    lrs = grid()
    result = FinderResult.from_curve(lrs, [math.nan] * 100, usable=0, stop_reason="loss was nan at lr=1e-08")
    assert result.suggestion is None and result.reason is not None and "no usable point" in result.reason
    assert result.lr_range is None and climb_point(lrs, [math.nan] * 100, 0) == 0


def test_a_climb_from_the_start_gives_no_answer_below_the_range() -> None:
    lrs = grid(60, -4.0, 0.0)
    losses = [1.0 + 0.5 * k for k in range(60)]  # only rises: min_lr already too high
    result = FinderResult.from_curve(lrs, losses)
    assert result.suggestion is None
    assert result.reason is not None and "below the range tested" in result.reason and "min_lr" in result.reason


def test_a_bump_of_noise_is_not_a_climb() -> None:
    lrs = grid()
    losses = 2.3 + noise(100, 0.005) + np.where(np.abs(np.arange(100) - 50) < 5, 0.3, 0.0)  # up, then back down
    assert climb_point(lrs, list(losses), 100) is None
    assert suggest(lrs, list(losses), 100, "valley").rule != "divergence"


def test_a_result_saved_before_the_rule_field_loads() -> None:
    lrs = grid(40, -4.0, 0.0)
    data = FinderResult.from_curve(lrs, [1.0 + abs(math.log10(lr) + 2.0) for lr in lrs]).to_dict()
    del data["rule"]  # written by an older lightning_lr
    assert FinderResult.from_dict(data).rule is None


# --------------------------------------------------------------------------- the range on known curves
@pytest.mark.parametrize("steepness", [1.5, 3.0])
def test_the_range_brackets_the_descent_of_a_logistic(steepness: float) -> None:
    lrs = grid(200, -8.0, 2.0)
    losses = [0.5 + 1.5 / (1.0 + math.exp(steepness * (math.log10(lr) + 3.0))) for lr in lrs]
    result = FinderResult.from_curve(lrs, losses)
    assert result.lr_range is not None
    low, high = result.lr_range
    half = math.log(9.0) / steepness  # the raw logistic is 10% / 90% down at -3 -+ ln(9)/k decades
    widened = 0.25 * 0.25 * steepness  # the smoothing (sigma 0.25 decade) widens a steep descent a little
    assert -3.0 - half - widened <= math.log10(low) <= -3.0 - half + 0.02
    assert -3.0 + half - 0.02 <= math.log10(high) <= -3.0 + half + widened
    assert low < result.suggestion < high
    assert math.log10(result.suggestion) == pytest.approx(-3.0, abs=0.02)  # valley: halfway, between them


def test_the_range_of_a_descent_then_blow_up_ends_before_the_blow_up() -> None:
    lrs = grid(100, -6.0, 1.0)
    u = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp(3.0 * (u + 3.0))) + np.where(u > -0.5, 20.0 * (u + 0.5) ** 2, 0.0)
    span = lr_range(lrs, list(losses), 100)
    assert span is not None
    assert -4.0 < math.log10(span[0]) < -3.0 < math.log10(span[1]) < -1.5


def test_the_plot_shades_the_range(tmp_path: Path) -> None:
    lrs = grid(60, -5.0, 1.0)
    result = FinderResult.from_curve(lrs, [0.5 + 1.5 / (1.0 + math.exp(3 * (math.log10(lr) + 2))) for lr in lrs])
    assert result.lr_range is not None
    labels = result.plot().axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("lr_range") for label in labels)


# --------------------------------------------------------------------------- real fits: schedules take the range
def fit(tmp_path: Path, model: TinyModel, callbacks: list[Any], **kwargs: Any) -> Any:
    trainer = make_trainer(tmp_path, callbacks, **kwargs)
    trainer.fit(model)
    return trainer


def trained_lrs(model: TinyModel, finder: LRFinder) -> list[list[float]]:
    assert finder.result is not None
    return model.recorder.lrs[len(finder.result.lrs) :]


def test_cyclical_without_bounds_cycles_over_the_finders_range(tmp_path: Path) -> None:
    model = TinyModel(groups=2, lr=0.1, n=1024, batch_size=128)  # groups: 0.1 and 0.01
    finder = LRFinder(min_lr=1e-5, max_lr=10.0, num_training_steps=40)
    cyclical = Cyclical(step_size_up=4, cycle_momentum=False)
    fit(tmp_path, model, [cyclical, finder], max_epochs=2)  # the schedule first: order does not matter
    result = finder.result
    assert result is not None and result.lr_range is not None, result and result.explain()
    low, high = result.lr_range
    lrs = trained_lrs(model, finder)
    assert len(lrs) == 16
    assert lrs[0] == pytest.approx([low, low * 0.1], rel=1e-9)  # each group keeps its ratio
    assert lrs[4] == pytest.approx([high, high * 0.1], rel=1e-9)  # the top of the first triangle
    assert min(g[0] for g in lrs) == pytest.approx(low) and max(g[0] for g in lrs) == pytest.approx(high)


def test_one_cycle_without_div_factor_runs_from_the_range_low_to_its_high(tmp_path: Path) -> None:
    model = TinyModel(n=1024, batch_size=128)
    finder = LRFinder(min_lr=1e-5, max_lr=10.0, num_training_steps=40)
    fit(tmp_path, model, [finder, OneCycle(div_factor=None, pct_start=0.25)], max_epochs=2)
    assert finder.result is not None and finder.result.lr_range is not None, finder.result
    low, high = finder.result.lr_range
    lrs = [g[0] for g in trained_lrs(model, finder)]
    assert lrs[0] == pytest.approx(low, rel=1e-9) and lrs[3] == pytest.approx(high, rel=1e-9)  # peak at 0.25 * 16 - 1
    assert max(lrs) == pytest.approx(high, rel=1e-9)


def test_the_range_survives_a_resume(tmp_path: Path) -> None:
    def run(ckpt: str | None) -> tuple[TinyModel, LRFinder]:
        torch.manual_seed(0)
        model = TinyModel(n=1024, batch_size=128)
        finder = LRFinder(min_lr=1e-5, max_lr=10.0, num_training_steps=40)
        checkpoint = ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", save_top_k=-1)
        callbacks = [finder, Cyclical(step_size_up=3, cycle_momentum=False), checkpoint]
        trainer = make_trainer(tmp_path, callbacks, max_epochs=3, enable_checkpointing=True)
        trainer.fit(model, ckpt_path=ckpt)
        return model, finder

    whole, finder = run(None)
    resumed, again = run(str(tmp_path / "epoch=1.ckpt"))  # after 2 of 3 epochs; the test does not run again
    assert finder.result is not None and finder.result.lr_range is not None
    assert again.result is not None and again.result.lrs == finder.result.lrs  # from the checkpoint
    low, high = finder.result.lr_range
    suggestion = finder.result.suggestion
    states = torch.load(tmp_path / "epoch=1.ckpt", weights_only=False)["callbacks"]
    saved = next(v for k, v in states.items() if k.startswith("Cyclical"))
    assert saved["finder_range_factors"] == pytest.approx([low / suggestion, high / suggestion])
    expected = [g[0] for g in whole.recorder.lrs[len(finder.result.lrs) :]][16:]
    assert len(expected) == 8
    assert [g[0] for g in resumed.recorder.lrs] == pytest.approx(expected, rel=1e-12)


def test_schedules_that_need_the_range_refuse_to_start_without_a_finder(tmp_path: Path) -> None:
    for callback in (Cyclical(), Cyclical(base_lr=0.01), OneCycle(div_factor=None)):
        model = TinyModel()
        with pytest.raises(ScheduleConflictError, match=r"LRFinder\(apply=True\)"):
            fit(tmp_path, model, [callback, LRFinder(apply=False)])
        assert model.recorder.lrs == []  # refused before any step, the test included
    with pytest.raises(ValueError, match="max_lr"):
        OneCycle(max_lr=0.1, div_factor=None)


def test_without_a_range_cyclical_warns_and_falls_back_to_a_quarter_of_the_lr(tmp_path: Path) -> None:
    model = TinyModel(lr=0.1, n=1024, batch_size=128)
    finder = LRFinder(min_lr=1e-9, max_lr=1e-8, num_training_steps=20)  # far too small: nothing moves
    with pytest.warns(UserWarning, match="gave no range") as caught:
        fit(tmp_path, model, [finder, Cyclical(step_size_up=4, cycle_momentum=False)], max_epochs=2)
    assert finder.result is not None and finder.result.suggestion is None
    assert any("base_lr a 4th" in str(w.message) for w in caught)
    lrs = [g[0] for g in trained_lrs(model, finder)]
    assert lrs[0] == pytest.approx(0.025) and lrs[4] == pytest.approx(0.1)


# --------------------------------------------------------------------------- absolute LRs: say so before the test
@pytest.mark.parametrize(
    ("schedule", "name"),
    [
        (lambda: OneCycle(max_lr=0.05), "OneCycle(max_lr=...)"),
        (lambda: Cyclical(base_lr=0.01, max_lr=0.05, step_size_up=4), "Cyclical(base_lr=..., max_lr=...)"),
    ],
)
def test_absolute_lrs_skip_the_test_with_a_warning(tmp_path: Path, schedule: Any, name: str) -> None:
    model = TinyModel(n=64, batch_size=8)
    finder = LRFinder(num_training_steps=30)
    with pytest.warns(UserWarning, match="could not take effect") as caught:
        fit(tmp_path, model, [finder, schedule()])
    message = next(str(w.message) for w in caught if "could not take effect" in str(w.message))
    assert name in message and "apply=False" in message
    assert finder.result is not None and finder.result.stop_reason.startswith("not run")
    assert finder.result.suggestion is None and name in finder.result.explain()
    assert len(model.recorder.lrs) == 8  # the 8 training steps only: no test step was spent
    assert max(g[0] for g in model.recorder.lrs) <= 0.05 + 1e-12


def test_apply_false_still_runs_the_test_next_to_absolute_lrs(tmp_path: Path) -> None:
    model = TinyModel(n=64, batch_size=8)
    finder = LRFinder(num_training_steps=12, apply=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*could not take effect.*")
        fit(tmp_path, model, [finder, OneCycle(max_lr=0.05)])
    assert finder.result is not None and len(finder.result.lrs) == 12
    assert len(model.recorder.lrs) == 12 + 8


def test_a_schedule_that_reads_the_optimizer_lr_keeps_the_test(tmp_path: Path) -> None:
    model = TinyModel(n=64, batch_size=8)
    finder = LRFinder(num_training_steps=12)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*could not take effect.*")
        fit(tmp_path, model, [finder, OneCycle()])  # peak = the optimizer's LR: the suggestion takes effect
    assert finder.result is not None and len(finder.result.lrs) == 12
