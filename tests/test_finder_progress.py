"""The range test says that it starts and shows a progress bar, as Lightning's own finder does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lightning_lr import LRFinder
from tests.helpers import TinyModel, make_trainer


def test_range_test_prints_a_start_line_and_a_progress_bar(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    finder = LRFinder(num_training_steps=12)
    with caplog.at_level(logging.INFO):
        make_trainer(tmp_path, [finder], enable_progress_bar=True, max_steps=2).fit(TinyModel())
    assert finder.result is not None
    assert "LRFinder: range test of up to 12 steps, lr 1e-08 -> 1 (exponential)" in caplog.text
    err = capfd.readouterr().err
    assert "LRFinder range test:" in err and "/12 [" in err  # tqdm redraws at most every 0.1 s


def test_no_progress_bar_when_the_trainer_has_none(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    finder = LRFinder(num_training_steps=12)
    make_trainer(tmp_path, [finder], enable_progress_bar=False, max_steps=2).fit(TinyModel())
    assert finder.result is not None
    assert "LRFinder range test" not in capfd.readouterr().err
