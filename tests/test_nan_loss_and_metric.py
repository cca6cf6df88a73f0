"""NaN and inf never reach the LR: a NaN/inf loss in a real fit, a NaN/inf metric watched by ``ReduceLROnPlateau``.

The plateau's decisions on such metrics (and on a training metric next to a validation loop) are those of
PyTorch's ``ReduceLROnPlateau`` fed the same values. docs/reliability.md says what this guarantees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from lightning_lr import ReduceLROnPlateau
from tests.helpers import RESUME_CASES, TinyModel, make_trainer, random_data


class BadLossModel(TinyModel):
    """Returns a NaN loss at batch 3 and an inf loss at batch 7 (the weights are NaN from then on)."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        if batch_idx == 3:
            return loss * math.nan
        return loss * math.inf if batch_idx == 7 else loss


NAN_CASES = [(name, factory) for name, factory, _ in RESUME_CASES if name != "ReduceLROnPlateau"]


@pytest.mark.parametrize(("name", "factory"), NAN_CASES, ids=[c[0] for c in NAN_CASES])
def test_a_nan_or_inf_loss_never_reaches_the_lr(tmp_path: Path, name: str, factory: Callable[[], Any]) -> None:
    from lightning.pytorch.loggers import CSVLogger

    clean = TinyModel(groups=2, n=40, batch_size=4)
    make_trainer(tmp_path / "clean", [factory()], max_epochs=4).fit(clean)
    model = BadLossModel(groups=2, n=40, batch_size=4)
    logger = CSVLogger(tmp_path, name="", version="")
    make_trainer(tmp_path, [factory()], max_epochs=4, logger=logger, log_every_n_steps=1).fit(model)
    assert not all(math.isfinite(p) for p in model.layer.weight.detach().flatten().tolist()), "the weights stay NaN"
    assert model.recorder.lrs == clean.recorder.lrs  # the schedule does not depend on the loss
    assert all(math.isfinite(v) for step in model.recorder.lrs for v in step)
    assert all(m is None or math.isfinite(m) for step in model.recorder.momenta for m in step)
    rows = (Path(logger.log_dir) / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    lr_columns = [i for i, h in enumerate(header) if h.startswith("lr-")]
    logged = [float(cells[i]) for row in rows[1:] for i in lr_columns if (cells := row.split(","))[i]]
    assert len(logged) == len(lr_columns) * len(model.recorder.lrs)
    assert all(math.isfinite(v) for v in logged)


class LogsMetricInTraining(TinyModel):
    """Logs ``metric`` = ``values[epoch]`` in training (on_epoch; no validation loop)."""

    def __init__(self, values: list[float], **kwargs: Any) -> None:
        super().__init__(n=16, batch_size=4, **kwargs)  # 4 steps per epoch
        self.values = values

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.log("metric", torch.tensor(self.values[self.current_epoch]), on_step=False, on_epoch=True)
        return super().training_step(batch, batch_idx)


class LogsMetricInValidation(LogsMetricInTraining):
    """Logs ``metric`` in validation instead, once per epoch."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return TinyModel.training_step(self, batch, batch_idx)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("metric", torch.tensor(self.values[self.current_epoch]))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(4, self.features, seed=1), batch_size=4)


def torch_plateau_lrs(values: list[float], **kwargs: Any) -> list[float]:
    """The reference: PyTorch's ReduceLROnPlateau stepped at each epoch end with that epoch's value."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    lrs = []
    for value in values:
        lrs.append(optimizer.param_groups[0]["lr"])
        scheduler.step(value)
    return lrs


NAN, INF = math.nan, math.inf
METRIC_CASES = [
    pytest.param([1.0, NAN, 0.5, INF, NAN, NAN, 0.4, 0.3], {"mode": "min"}, id="min-nan-inf"),
    pytest.param([NAN, 1.0, -INF, 2.0, NAN, 2.0, 3.0, NAN], {"mode": "max"}, id="max-nan-minus-inf"),
    pytest.param([NAN] * 8, {"mode": "min", "min_lr": 1e-3}, id="always-nan-down-to-min_lr"),
    pytest.param([-INF, 1.0, NAN, 0.5, 0.5, 0.4, NAN, 0.1], {"threshold_mode": "abs"}, id="abs-minus-inf-first"),
]


@pytest.mark.parametrize(("values", "kwargs"), METRIC_CASES)
@pytest.mark.parametrize("where", ["training", "validation"])
def test_plateau_on_a_nan_or_inf_metric_keeps_a_finite_lr_and_decides_as_pytorch(
    tmp_path: Path, values: list[float], kwargs: dict[str, Any], where: str
) -> None:
    model_class = LogsMetricInTraining if where == "training" else LogsMetricInValidation
    model = model_class(values)
    make_trainer(tmp_path, [ReduceLROnPlateau("metric", patience=1, factor=0.5, **kwargs)], max_epochs=8).fit(model)
    lrs = [step[0] for step in model.recorder.lrs]
    assert all(math.isfinite(v) and v > 0 for v in lrs)
    assert lrs[::4] == pytest.approx(torch_plateau_lrs(values, patience=1, factor=0.5, **kwargs), rel=1e-12)


def test_plateau_on_a_training_metric_checks_the_epoch_just_finished_also_with_a_validation_loop(
    tmp_path: Path,
) -> None:
    """A metric logged in ``training_step`` is the one of the epoch that just ended, validation loop or not.

    Lightning hosts a plateau scheduler that way, and it is what PyTorch's ``scheduler.step(train_loss)``
    at each epoch end does. The no-validation case is in the test above; here the model also validates.
    """
    values = [1.0, 0.5, 0.6, 0.7, 0.4, 0.45, 0.5, 0.55]

    class TrainMetricAndValidation(LogsMetricInTraining):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", torch.tensor(1.0))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(random_data(4, self.features, seed=1), batch_size=4)

    model = TrainMetricAndValidation(values)
    callback = ReduceLROnPlateau("metric", patience=0, factor=0.5)
    make_trainer(tmp_path, [callback], max_epochs=8, num_sanity_val_steps=0).fit(model)
    assert [step[0] for step in model.recorder.lrs][::4] == pytest.approx(
        torch_plateau_lrs(values, patience=0, factor=0.5), rel=1e-12
    )
    assert callback.plateau.checks == 8
