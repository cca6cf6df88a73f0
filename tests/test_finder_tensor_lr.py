"""A tensor ``lr`` (for ``torch.compile``/capturable optimizers) stays the same tensor object through the
finder: the range test, the restore, the applied suggestion and the schedule all write into it in place
(issue 20, point 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_lr import LRFinder, OneCycle
from tests.helpers import TinyModel, make_trainer


class Checks:
    """Kept outside the module's own attributes: the finder's restore puts a list attribute of the module back."""

    def __init__(self) -> None:
        self.same: list[bool] = []


class TensorLR(TinyModel):
    """SGD with ``lr=torch.tensor(0.1)``; records, at every real step, whether ``group["lr"]`` is that tensor."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lr_tensor: torch.Tensor | None = None
        self.checks = Checks()

    def configure_optimizers(self) -> Any:
        self.lr_tensor = torch.tensor(0.1, dtype=torch.float64)
        opt = torch.optim.SGD(self.parameters(), lr=self.lr_tensor, momentum=0.9)
        self.recorder.attach(opt)
        opt.register_step_pre_hook(lambda o, a, k: self.checks.same.append(o.param_groups[0]["lr"] is self.lr_tensor))
        return opt


@pytest.mark.parametrize("schedule", [True, False], ids=["OneCycle", "finder-alone"])
@pytest.mark.parametrize("apply", [True, False], ids=["apply", "apply-False"])
def test_the_tensor_lr_is_the_same_object_through_test_restore_apply_and_schedule(
    tmp_path: Path, apply: bool, schedule: bool
) -> None:
    finder = LRFinder(num_training_steps=16, min_lr=1e-3, max_lr=1.0, apply=apply)
    model = TensorLR()
    trainer = make_trainer(tmp_path, [finder, OneCycle()] if schedule else [finder])
    trainer.fit(model)
    assert finder.result is not None and finder.result.suggestion is not None
    points = len(finder.result.lrs)
    assert len(model.checks.same) == points + 16 and all(model.checks.same)  # every test and training step
    group = trainer.optimizers[0].param_groups[0]
    assert group["lr"] is model.lr_tensor
    lrs = [step[0] for step in model.recorder.lrs]
    assert lrs[:points] == finder.result.lrs  # float64: the test's LRs to the bit
    peak = finder.result.suggestion if apply else 0.1
    if schedule:
        plain = TinyModel(lr=peak)  # the same schedule on a float LR at the same peak
        make_trainer(tmp_path / "plain", [OneCycle()]).fit(plain)
        assert lrs[points:] == [step[0] for step in plain.recorder.lrs]
    else:
        assert lrs[points:] == [peak] * 16


class TensorAdam(TinyModel):
    """Adam with tensor ``lr`` and ``betas``; records at every step whether the group holds those objects."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checks = Checks()

    def configure_optimizers(self) -> Any:
        lr = torch.tensor(0.01, dtype=torch.float64)
        betas = (torch.tensor(0.9, dtype=torch.float64), torch.tensor(0.999, dtype=torch.float64))
        opt = torch.optim.Adam(self.parameters(), lr=lr, betas=betas, foreach=False)
        self.recorder.attach(opt)
        betas = opt.param_groups[0]["betas"]  # Adam makes its own tuple of the same tensors

        def same(o: Any, args: Any, kwargs: Any) -> None:
            group = o.param_groups[0]
            self.checks.same.append(group["lr"] is lr and group["betas"] is betas)

        opt.register_step_pre_hook(same)
        return opt


def test_tensor_betas_cycled_by_one_cycle_stay_the_same_objects_through_the_finder(tmp_path: Path) -> None:
    finder = LRFinder(num_training_steps=16, min_lr=1e-4, max_lr=10.0)
    model = TensorAdam()
    trainer = make_trainer(tmp_path, [finder, OneCycle()])
    trainer.fit(model)
    assert finder.result is not None
    assert len(model.checks.same) == len(finder.result.lrs) + 16 and all(model.checks.same)
    momenta = [step[0] for step in model.recorder.momenta]
    assert momenta[: len(finder.result.lrs)] == [0.9] * len(finder.result.lrs)  # the test leaves beta1 alone
    assert momenta[len(finder.result.lrs)] == 0.95  # OneCycle's max_momentum at step 0
