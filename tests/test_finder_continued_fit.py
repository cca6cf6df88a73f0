"""What ``LRFinder`` decided holds for every later fit of the Trainer (issue 20, point 2).

A further ``trainer.fit(model)`` calls ``configure_optimizers`` again: a new optimizer at the module's
configured LR. The finder does not run the test again on the trained weights, so it writes its earlier
decision into the new optimizer, and ``finder.result`` stays the earlier test's result. Next to a schedule
callback (which carries its base LRs over to the further fit), with ``ScaleLR``, after a skip, and after a
resume from a checkpoint (where the optimizer state carries the LR and nothing is written over it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from lightning_lr import CosineAnnealing, LRFinder, OneCycle, ScaleLR
from tests.helpers import TinyModel, make_trainer

POINTS = 16  # range-test points at most (the test stops early when the loss diverges)
EPOCH = 16  # training steps per epoch (64 samples, batch 4)


def finder_of(**kwargs: Any) -> LRFinder:
    """A test that diverges on :class:`TinyModel` and suggests about 0.05 (the module's LR is 0.1)."""
    return LRFinder(num_training_steps=POINTS, min_lr=1e-3, max_lr=1.0, **kwargs)


def decided(finder: LRFinder) -> tuple[float, int]:
    """The suggestion (not the module's LR) and the number of test points (one recorded step each)."""
    assert finder.result is not None and finder.result.suggestion is not None and finder.result.lrs
    assert finder.result.suggestion != TinyModel().lr
    return finder.result.suggestion, len(finder.result.lrs)


def trained(model: TinyModel, points: int, group: int | None = 0) -> list[Any]:
    """The LRs of the training steps: the recorded steps after the range test's ``points``."""
    steps = model.recorder.lrs[points:]
    return steps if group is None else [lrs[group] for lrs in steps]


def continue_fit(trainer: Any, model: TinyModel, epochs: int = 2) -> None:
    trainer.fit_loop.max_epochs = epochs
    trainer.fit(model)


def test_a_further_fit_trains_at_the_suggestion_and_keeps_the_result(tmp_path: Path) -> None:
    finder = finder_of()
    model = TinyModel(groups=2)  # group 2 at 0.1 x group 1: the ratio is kept in every fit
    trainer = make_trainer(tmp_path, [finder])
    trainer.fit(model)
    first, (suggestion, points) = finder.result, decided(finder)
    expected = [suggestion, suggestion * (model.lr * 0.1 / model.lr)]  # set_lr's rule: lr x (group / first)
    assert trained(model, points, None) == [expected] * EPOCH
    continue_fit(trainer, model)
    assert finder.result is first  # the first test's result, not a "not run" one
    assert trained(model, points, None) == [expected] * (2 * EPOCH)  # the new optimizer got the suggestion
    continue_fit(trainer, model, 3)
    assert finder.result is first and trained(model, points, None) == [expected] * (3 * EPOCH)


def test_rerun_on_continue_replaces_the_decision(tmp_path: Path) -> None:
    finder = finder_of(rerun_on_continue=True)
    model = TinyModel()
    trainer = make_trainer(tmp_path, [finder])
    trainer.fit(model)
    first, tested = finder.result, len(model.recorder.lrs)
    continue_fit(trainer, model)
    second = finder.result
    assert second is not None and second is not first and second.lrs and second.suggestion is not None
    assert [lrs[0] for lrs in model.recorder.lrs[tested + len(second.lrs) :]] == [second.suggestion] * EPOCH


@pytest.mark.parametrize("finder_first", [True, False], ids=["finder-first", "schedule-first"])
@pytest.mark.parametrize("schedule", [OneCycle, CosineAnnealing])
def test_a_further_fit_with_a_schedule_is_that_of_a_run_configured_at_the_suggestion(
    tmp_path: Path, schedule: Any, finder_first: bool
) -> None:
    """The schedule carries its base LRs (the suggestion) over; the finder's re-applied LR agrees with them,
    so both fits give, to the bit, the LRs of the same schedule on a module configured at the suggestion."""
    finder = finder_of()
    with_finder = TinyModel()
    callbacks: list[Callback] = [finder, schedule()] if finder_first else [schedule(), finder]
    trainer = make_trainer(tmp_path / "finder", callbacks)
    trainer.fit(with_finder)
    suggestion, points = decided(finder)
    continue_fit(trainer, with_finder)

    plain = TinyModel(lr=suggestion)
    trainer = make_trainer(tmp_path / "plain", [schedule()])
    trainer.fit(plain)
    continue_fit(trainer, plain)
    assert len(plain.recorder.lrs) == 2 * EPOCH
    assert trained(with_finder, points, None) == plain.recorder.lrs


@pytest.mark.parametrize("finder_first", [True, False], ids=["finder-first", "scale-first"])
def test_scale_lr_does_not_scale_a_re_applied_suggestion(tmp_path: Path, finder_first: bool) -> None:
    finder = finder_of()
    scale = ScaleLR("linear", reference_batch_size=2)  # batch 4: x2 without the finder
    model = TinyModel()
    trainer = make_trainer(tmp_path, [finder, scale] if finder_first else [scale, finder])
    trainer.fit(model)
    suggestion, points = decided(finder)
    assert scale.factor == 1.0
    continue_fit(trainer, model)
    assert trained(model, points) == [suggestion] * (2 * EPOCH)


class ConstantLoss(TinyModel):
    """A loss that does not depend on the LR: the finder finds no descent and suggests nothing."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.layer.weight.sum() * 0.0 + 1.0


def test_no_suggestion_keeps_the_configured_lr_in_every_fit_and_the_scale_holds(tmp_path: Path) -> None:
    finder = finder_of()
    scale = ScaleLR("linear", reference_batch_size=2)
    model = ConstantLoss()
    trainer = make_trainer(tmp_path, [finder, scale])
    with pytest.warns(UserWarning, match="could not suggest"):
        trainer.fit(model)
    first = finder.result
    assert first is not None and first.suggestion is None and first.lrs
    continue_fit(trainer, model)
    assert finder.result is first
    assert trained(model, len(first.lrs)) == [0.2] * (2 * EPOCH)  # 0.1 x 2, in both fits


def test_a_skip_for_absolute_lrs_is_kept_and_holds(tmp_path: Path) -> None:
    finder = finder_of()
    model = TinyModel()
    trainer = make_trainer(tmp_path, [finder, OneCycle(max_lr=0.05)])
    with pytest.warns(UserWarning, match="absolute LRs"):
        trainer.fit(model)
    skipped = finder.result
    assert skipped is not None and not skipped.lrs and "absolute LRs" in (skipped.reason or "")
    continue_fit(trainer, model)
    assert finder.result is skipped  # why it did not run stays readable
    assert len(model.recorder.lrs) == 2 * EPOCH  # no test step in either fit
    assert model.recorder.lrs[0][0] == pytest.approx(0.05 / 25)  # OneCycle's own start, from its max_lr


def test_a_resume_reads_the_result_from_the_checkpoint_and_writes_nothing_over_the_restored_lr(
    tmp_path: Path,
) -> None:
    finder = finder_of()
    trainer = make_trainer(tmp_path, [finder])
    trainer.fit(TinyModel())
    suggestion, _ = decided(finder)
    trainer.optimizers[0].param_groups[0]["lr"] = suggestion * 0.5  # changed after the test: the state holds it
    trainer.save_checkpoint(tmp_path / "end.ckpt")

    resumed_finder, resumed = finder_of(), TinyModel()
    trainer = make_trainer(tmp_path, [resumed_finder], max_epochs=2)
    trainer.fit(resumed, ckpt_path=tmp_path / "end.ckpt")
    assert resumed_finder.result is not None and resumed_finder.result.to_dict() == finder.result.to_dict()
    assert [lrs[0] for lrs in resumed.recorder.lrs] == [suggestion * 0.5] * EPOCH  # the restored LR, no test

    continue_fit(trainer, resumed, 3)  # a further fit after the resume: the new optimizer gets the decision
    assert resumed_finder.result is not None and resumed_finder.result.to_dict() == finder.result.to_dict()
    assert [lrs[0] for lrs in resumed.recorder.lrs[EPOCH:]] == [suggestion] * EPOCH
