"""benchmarks/mnist1d.py: its statistics, and a ``--quick`` run end to end (table, JSON, figure)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import mnist1d as bench
from benchmarks.harness.stats import holm, interval95, welch
from benchmarks.pages.mnist1d_summary import first_reach

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "mnist1d.py"


def test_holm_adjusts_in_order_and_stays_monotone() -> None:
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1, then running max
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})
    assert holm({"a": 0.5, "b": 0.9}) == pytest.approx({"a": 1.0, "b": 1.0})


def test_interval_is_the_t_interval() -> None:
    mean, half = interval95([0.90, 0.92, 0.94])
    assert mean == pytest.approx(0.92)
    assert half == pytest.approx(4.302652729 * 0.02 / math.sqrt(3))  # t_{0.975, 2} * s / sqrt(n)
    assert interval95([0.5]) == (0.5, 0.0)


def test_welch_needs_two_values_a_side() -> None:
    assert welch([0.9], [0.8, 0.81]) is None
    assert welch([0.9, 0.91, 0.92], [0.80, 0.81, 0.82]) < 0.01
    assert welch([0.9, 0.91, 0.92], [0.92, 0.91, 0.90]) == pytest.approx(1.0)


def test_first_reach_stops_at_the_budget() -> None:
    run = {"probe_steps": [0, 5, 10, 15], "val_acc": [0.1, 0.85, 0.91, 0.95]}
    assert first_reach(run, 0.90, last_step=15) == 10
    assert first_reach(run, 0.94, last_step=15) == 15
    assert first_reach(run, 0.94, last_step=10) is None
    assert first_reach(run, 0.99, last_step=15) is None


def test_every_schedule_callback_is_an_arm() -> None:
    import lightning_lr

    arms = {type(c).__name__ for arm in bench.ARMS.values() for c in arm.callbacks()}
    schedule_callbacks = {
        name
        for name in lightning_lr.__all__
        if isinstance(getattr(lightning_lr, name), type)
        and issubclass(getattr(lightning_lr, name), lightning_lr.ScheduleCallback)
        and name not in ("ScheduleCallback", "HyperparameterScheduler")  # the base; not an LR schedule
    }
    assert schedule_callbacks <= arms
    assert "LRFinder" in arms


@pytest.mark.slow
def test_quick_run_writes_table_json_and_figure(tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--write", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads((tmp_path / "mnist1d.json").read_text())
    assert result["config"]["quick"] and result["config"]["budgets"] == [1, 2]
    steps_per_epoch = result["config"]["steps_per_epoch"]
    for arm in result["arms"]:
        for budget in ("1", "2"):
            row = result["summary"][budget][arm]
            assert 0.0 < row["test_acc_mean"] <= 1.0
        for budget, runs in result["runs"][arm].items():
            assert all(r["probe_steps"][-1] == int(budget) * steps_per_epoch for r in runs)
    finder_runs = result["runs"]["LRFinder + OneCycle"]["1"]
    assert all(0 < r["finder_steps"] <= 20 for r in finder_runs)  # --quick: a 20-step range test
    assert all(r["suggestion"] is not None or r["finder_reason"] for r in finder_runs)
    page = (tmp_path / "mnist1d.md").read_text()
    for arm in result["arms"]:
        assert f"| {arm} |" in page
    assert "## Target" in page and "94" in page
    assert (tmp_path / "mnist1d_curves.png").stat().st_size > 10_000
