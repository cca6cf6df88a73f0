"""benchmarks/spikes.py: the corrupt batch really reaches training, and the targets are judged as stated."""

from __future__ import annotations

import math
from typing import Any

from benchmarks import spikes as bench


def summary(diverged: int, accuracy: float, rewinds: int) -> dict[str, Any]:
    return {"diverged": diverged, "seeds": 5, "accuracy": accuracy, "rewinds": rewinds, "extra_steps": 0, "runs": []}


def test_corrupt_steps_fall_inside_the_run_and_nan_is_among_them() -> None:
    for task in (bench.CNN, bench.GRU):
        steps = bench.corruption(task)
        assert sorted(steps.values()) == ["nan", "x1e4", "x1e4"]
        assert all(0 < s < task.steps_per_epoch * task.epochs for s in steps)


def test_the_verdicts_say_met_and_missed_plainly() -> None:
    results = {}
    for task in (bench.CNN.name, bench.GRU.name):
        for arm in bench.ARMS:
            plain = arm == "plain"
            results[f"{task} | too high | {arm}"] = summary(4 if plain else 0, 0.1, 0)
            results[f"{task} | clean | {arm}"] = summary(0, 0.60, 0 if plain else 1)
            results[f"{task} | corrupted | {arm}"] = summary(0, 0.0 if plain else 0.59, 0)
    lines = bench.verdicts(results)
    assert len(lines) == 2 * (len(bench.ARMS) - 1)
    assert all("(met: 0 where plain >= 3/5)" in line for line in lines)
    assert all("+1.0 points below clean (met: within 2)" in line for line in lines)
    assert all("1 rewinds (MISSED: never fires)" in line for line in lines)
    assert not math.isnan(sum(s["accuracy"] for s in results.values()))
