"""The pure spike rule: noise stays quiet, a sustained jump is a spike, a non-finite loss is reported at once."""

from __future__ import annotations

import math
import random

import pytest

from lightning_lr.spike_rule import SpikeRule


def noisy_training_curve(seed: int, steps: int = 5000, sigma: float = 0.3) -> list[float]:
    """A decreasing loss with multiplicative log-normal batch noise (about 1% of batches above 2x the median)."""
    rng = random.Random(seed)
    return [(0.05 + 2.0 * math.exp(-t / 500)) * math.exp(rng.gauss(0.0, sigma)) for t in range(steps)]


@pytest.mark.parametrize("seed", range(5))
def test_batch_noise_never_fires_the_default_rule(seed: int) -> None:
    rule = SpikeRule()
    verdicts = [rule.update(x) for x in noisy_training_curve(seed)]
    assert "spike" not in verdicts and "regress" not in verdicts
    assert "high" in verdicts  # single noisy batches are above the line; patience is what keeps them quiet


def test_a_sustained_jump_is_a_spike_after_patience_steps() -> None:
    rule = SpikeRule(factor=2.0, patience=3)
    for x in noisy_training_curve(0, steps=200, sigma=0.1):
        assert rule.update(x) == "ok"
    assert [rule.update(10.0) for _ in range(3)] == ["high", "high", "spike"]


def test_one_loss_far_above_the_level_is_an_outlier_at_once() -> None:
    rule = SpikeRule(factor=2.0, patience=3, outlier_factor=10.0)
    for x in noisy_training_curve(0, steps=100, sigma=0.1):
        rule.update(x)
    level = rule.level
    assert level is not None
    assert rule.update(5 * level) == "high"
    rule.reset_run()
    assert rule.update(11 * level) == "outlier"


def test_high_losses_do_not_raise_the_level() -> None:
    rule = SpikeRule(factor=2.0, patience=100, window=10, min_history=10)
    for _ in range(10):
        rule.update(1.0)
    for _ in range(50):
        assert rule.update(5.0) == "high"
    assert rule.level == 1.0 and rule.threshold() == 2.0


def test_non_finite_is_reported_at_once_even_without_history() -> None:
    rule = SpikeRule()
    assert rule.update(float("inf")) == "non-finite"
    assert rule.update(1e9) == "ok"  # too little history to call a finite loss high


def test_a_negative_loss_uses_the_distance_from_the_level() -> None:
    rule = SpikeRule(factor=2.0, patience=1, window=5, min_history=5)
    for _ in range(5):
        rule.update(-2.0)
    assert rule.threshold() == 0.0
    assert rule.update(-0.5) == "ok" and rule.update(0.5) == "spike"


def test_state_round_trips() -> None:
    rule = SpikeRule(window=5, min_history=2)
    for x in (1.0, 2.0, 3.0, 100.0):
        rule.update(x)
    again = SpikeRule(window=5, min_history=2)
    again.load_state_dict(rule.state_dict())
    assert again.level == rule.level and again.high_run == rule.high_run == 1
    assert (again.start, again.best) == (rule.start, rule.best) == (1.5, 1.5)


@pytest.mark.parametrize(
    "kwargs, error",
    [({"factor": 1.0}, ValueError), ({"patience": 0}, ValueError), ({"window": 2.0}, TypeError),
     ({"min_history": 60}, ValueError), ({"outlier_factor": 1.5}, ValueError), ({"progress": 1.0}, ValueError)],
)  # fmt: skip
def test_bad_arguments_name_the_parameter(kwargs: dict[str, float], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        SpikeRule(**kwargs)  # type: ignore[arg-type]


def chance_curve(steps: int, seed: int = 0) -> list[float]:
    """A classifier's loss near chance level (2.3) with batch noise."""
    rng = random.Random(seed)
    return [2.3 * math.exp(rng.gauss(0.0, 0.02)) for _ in range(steps)]


def test_a_run_back_at_its_start_after_progress_has_lost_it() -> None:
    """A dying classifier: 2.3 -> 1.9 -> back to chance, never twice the level: no spike, but lost progress."""
    rule = SpikeRule()
    curve = chance_curve(20) + [1.9] * 20 + chance_curve(30, seed=1)
    verdicts = [rule.update(x) for x in curve]
    assert "spike" not in verdicts and "high" not in verdicts
    assert "regress" in verdicts[40:]
    assert rule.start is not None and rule.best == 1.9


def test_without_enough_progress_a_return_to_the_start_is_noise() -> None:
    """A plateau at chance (progress under 10% of the start) and a warmup bump that keeps most of the progress."""
    rule = SpikeRule(progress=0.1)
    curve = chance_curve(20) + [2.2] * 20 + chance_curve(30, seed=1)
    assert "regress" not in [rule.update(x) for x in curve]
    rule = SpikeRule(progress=0.1)
    bump = [2.3] * 10 + [1.5] * 20 + [1.9] * 20 + [1.2] * 20
    assert "regress" not in [rule.update(x) for x in bump]
    assert SpikeRule(progress=None).progress is None


def test_a_state_is_worth_keeping_until_half_the_progress_is_lost() -> None:
    rule = SpikeRule(window=10, min_history=3)
    for x in (2.0, 2.0, 2.0, 1.0, 1.0, 1.0):
        rule.update(x)
    assert rule.keeps_progress  # start 2, best 1
    rule.update(1.6)  # the level (1.0) lags; the last loss does not
    assert not rule.keeps_progress
    rule.forget_recent()
    assert not rule.keeps_progress and rule.level is None  # not until the level is known again
    for x in (1.2, 1.2, 1.2):
        rule.update(x)
    assert rule.keeps_progress


@pytest.mark.parametrize("seed", range(5))
def test_a_loss_heading_to_zero_with_hard_batches_never_fires(seed: int) -> None:
    """Near a loss of 0 a ratio says nothing: a batch with one hard example is 10x a median of 0.015. A clean
    classifier run (0.7 -> 0.015, every 7th batch 0.06-0.26) must not be rewound."""
    rng, rule = random.Random(seed), SpikeRule()
    verdicts = []
    for t in range(400):
        level = 0.015 + 0.685 * math.exp(-t / 40)
        loss = rng.uniform(0.06, 0.26) if t % 7 == 6 and t > 150 else level * rng.uniform(0.7, 1.3)
        verdicts.append(rule.update(loss))
    assert set(verdicts) <= {"ok", "high"}


def test_near_zero_a_batch_that_undoes_half_the_progress_is_still_caught() -> None:
    rule = SpikeRule()
    for t in range(200):
        rule.update(0.015 + 0.685 * math.exp(-t / 20))
    assert rule.update(0.5) == "outlier"  # back more than half way to the start (0.7): not batch noise
