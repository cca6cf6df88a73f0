"""Crash and resume at seeded random points: the stopped-and-resumed pieces equal the uninterrupted run.

For every callback, with and without gradient accumulation, training stops at seeded random points —
mid-epoch training batches, after a validation batch, inside a validation step (a real exception and
Lightning's ``OnExceptionCheckpoint``) — is resumed from the checkpoint, possibly stopped again, and the
LR/momentum sequence must equal the uninterrupted run's. The harness (:func:`tests.helpers.fit_segment`)
is shared with ``test_checkpoint_versions.py``; docs/reliability.md says what this guarantees and which
limits come from Lightning.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from lightning_lr import ReduceLROnPlateau, ScheduleCallback
from tests.helpers import RESUME_CASES, Event, Segment, fit_segment

SEED = 1234


def pick_stops(name: str, accumulate: int, events: list[Event]) -> list[tuple[str, Event]]:
    """Three seeded random stops, one in each third of the run: after a training batch, in a validation, either.

    A validation stop is a crash after a validation batch or inside ``validation_step``. What Lightning
    2.6 does on resume limits the choice (docs/reliability.md, "Limits that come from Lightning"):

    - it does not replay a validation interrupted after one of its batches, nor one that was due right
      after the training batch at which the checkpoint was written (it does replay one interrupted
      inside ``validation_step``): such a validation cannot hold the next stop, and
      ``ReduceLROnPlateau``, whose check it would lose, gets neither of these stops (see
      :func:`test_plateau_misses_the_check_of_a_validation_lightning_skips`);
    - after a resume from a checkpoint written after the last training batch of an epoch, a later
      checkpoint written before the end of an epoch resumes from the first batch of that epoch: such
      a stop is always the last one.
    """
    rng = random.Random(f"{SEED}-{name}-{accumulate}")
    last_batch = {e[1]: e[2] for e in events if e[0] == "train"}  # epoch -> index of its last batch
    validation_after: dict[Event, tuple[int, int]] = {}  # training batch -> the validation due after it
    for before, after in pairwise(events):
        if before[0] == "train" and after[0] == "val":
            validation_after[before] = after[1:3]
    epoch_end = {e for e in events if e[0] == "train" and e[2] == last_batch[e[1]]}
    plateau = name == "ReduceLROnPlateau"
    third = len(events) // 3
    kinds = ["train", "val", rng.choice(["train", "val"])]
    rng.shuffle(kinds)
    stops: list[tuple[str, Event]] = []
    blocked: tuple[int, int] | None = None  # the validation a resume will not replay
    for i, kind in enumerate(kinds):
        candidates = [
            e
            for e in events[i * third : (i + 1) * third]
            if e[0] == kind
            and (i == len(kinds) - 1 or e not in epoch_end)
            and e[1:3] != blocked
            and not (plateau and e in validation_after)
        ]
        event = rng.choice(candidates)
        if kind == "train":
            stops.append(("after-train-batch", event))
            blocked = validation_after.get(event)
        else:
            mode = rng.choice(["in-validation-step"] if plateau else ["after-validation-batch", "in-validation-step"])
            stops.append((mode, event))
            blocked = event[1:3]
    return stops


@pytest.mark.parametrize("accumulate", [1, 3])
@pytest.mark.parametrize(("name", "factory", "model_kwargs"), RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_crash_at_random_points_and_resume_gives_the_uninterrupted_sequence(
    tmp_path: Path, name: str, factory: Callable[[], ScheduleCallback], model_kwargs: dict[str, Any], accumulate: int
) -> None:
    full = fit_segment(tmp_path / "full", factory, model_kwargs, accumulate)
    assert not full.crashed and len(full.lrs) == 4 * math.ceil(10 / accumulate)
    stops = pick_stops(name, accumulate, full.events)
    segments: list[Segment] = []
    ckpt = None
    for i, stop in enumerate([*stops, None]):
        segment = fit_segment(tmp_path / f"segment{i}", factory, model_kwargs, accumulate, stop, ckpt)
        assert segment.crashed == (stop is not None), f"stop {stop} was never reached"
        segments.append(segment)
        ckpt = segment.checkpoint
    lrs = [step for s in segments for step in s.lrs]
    momenta = [step for s in segments for step in s.momenta]
    assert lrs == full.lrs, f"stops {stops}: {[len(s.lrs) for s in segments]} steps per segment"
    assert momenta == full.momenta


def plateau() -> ReduceLROnPlateau:
    return ReduceLROnPlateau("val_loss", patience=0, factor=0.5)


@pytest.mark.parametrize(
    ("mode", "event", "checks_lost"),
    [
        pytest.param("after-validation-batch", ("val", 1, 15, 1), 1, id="after-a-validation-batch"),
        pytest.param("after-train-batch", ("train", 1, 4), 1, id="after-the-batch-before-a-validation"),
        pytest.param("after-train-batch", ("train", 1, 9), 1, id="after-the-last-batch-of-an-epoch"),
        pytest.param("in-validation-step", ("val", 1, 15, 1), 0, id="inside-validation_step"),
    ],
)
def test_plateau_misses_the_check_of_a_validation_lightning_skips(
    tmp_path: Path, mode: str, event: Event, checks_lost: int
) -> None:
    """Lightning 2.6 does not replay a validation interrupted after a batch, nor one due after the training
    batch at which the checkpoint was written; it finishes one interrupted inside ``validation_step``.

    The metric of a skipped validation is never computed, so no callback can take the decision the
    uninterrupted run took there: the resumed ``ReduceLROnPlateau`` makes exactly one check fewer. This
    test pins that behaviour (documented in docs/reliability.md); if Lightning starts replaying those
    validations, it fails and the documentation must change.
    """
    full = fit_segment(tmp_path / "full", plateau, {}, 1)
    assert full.callback.plateau.checks == 8  # 4 epochs, 2 validations each
    before = fit_segment(tmp_path / "before", plateau, {}, 1, (mode, event))
    assert before.crashed
    after = fit_segment(tmp_path / "after", plateau, {}, 1, None, before.checkpoint)
    assert len(before.lrs) + len(after.lrs) == len(full.lrs)  # the steps themselves are all there
    assert after.callback.plateau.checks == full.callback.plateau.checks - checks_lost
