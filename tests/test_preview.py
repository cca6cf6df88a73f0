"""The schedule preview: python -m lightning_lr preview, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_lr import OneCycle
from lightning_lr.preview import preview, sparkline


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "lightning_lr", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_preview_cli_writes_a_png_and_prints_sparklines(tmp_path: Path) -> None:
    out = tmp_path / "onecycle.png"
    done = run_cli(
        "preview",
        "OneCycle",
        "--steps",
        "300",
        "--set",
        "pct_start=0.25",
        "three_phase=true",
        "--lr",
        "0.1",
        "0.01",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    lines = done.stdout.splitlines()
    assert lines[0] == "OneCycle over 300 steps"
    names = [line.split()[0] for line in lines[1:5]]
    assert names == ["lr-SGD/pg1", "lr-SGD/pg1-momentum", "lr-SGD/pg2", "lr-SGD/pg2-momentum"]


def test_preview_cli_reports_bad_arguments_clearly() -> None:
    done = run_cli("preview", "Cyclical", "--set", "base_lr=0.2", "max_lr=0.1")
    assert done.returncode == 2
    assert "`base_lr` (0.2) must be <= `max_lr` (0.1)" in done.stderr


def test_preview_values_are_what_the_callback_sets() -> None:
    result = preview(OneCycle(pct_start=0.5, anneal_strategy="linear", div_factor=10.0), total=102, base_lrs=[1.0])
    lrs = result.series["lr-SGD"]
    assert len(lrs) == 102 and result.ticks == list(range(102))
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == 50


def test_sparkline_maps_min_to_lowest_and_max_to_highest_block() -> None:
    line = sparkline([5.0, 1.0, 3.0, 9.0], width=4)
    assert line == "▅▁▃█" and sparkline([2.0, 2.0]) == "▁▁"


def test_preview_cli_reads_exponent_numbers() -> None:
    done = run_cli("preview", "OneCycle", "--steps", "50", "--set", "max_lr=1e-3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].rstrip().endswith(".. 0.001")
