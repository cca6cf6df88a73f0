"""Learning-rate-free optimizers (Prodigy, D-Adaptation): detected, refused by the finder, warned about under
restarts, their effective LR ``d * lr`` logged next to the configured one; and the optimizers' kinds."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    LRFinder,
    ScheduleConflictError,
    ScheduleFree,
    WarmupLinear,
)
from lightning_lr.optimizers import effective_lr, kind

prodigyopt = pytest.importorskip("prodigyopt")
dadaptation = pytest.importorskip("dadaptation")
schedulefree = pytest.importorskip("schedulefree")

OPTIMIZERS = {
    "Prodigy": lambda p: prodigyopt.Prodigy(p, lr=1.0),
    "DAdaptAdam": lambda p: dadaptation.DAdaptAdam(p, lr=1.0),
    "DAdaptSGD": lambda p: dadaptation.DAdaptSGD(p, lr=1.0),
    "AdamWScheduleFree": lambda p: schedulefree.AdamWScheduleFree(p, lr=1e-2, warmup_steps=4),
}


class Model(pl.LightningModule):
    def __init__(self, optimizer: str = "Prodigy", groups: int = 1) -> None:
        super().__init__()
        self.body, self.head = nn.Linear(4, 8), nn.Linear(8, 1)
        self.optimizer, self.groups = optimizer, groups
        self.effective: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.effective.append(effective_lr(self.trainer.optimizers[0].param_groups[0]))
        x, y = batch
        return nn.functional.mse_loss(self.head(torch.relu(self.body(x))), y)

    def configure_optimizers(self) -> Any:
        params: Any = self.parameters()
        if self.groups == 2:
            params = [{"params": self.body.parameters()}, {"params": self.head.parameters()}]
        return OPTIMIZERS[self.optimizer](params)

    def train_dataloader(self) -> DataLoader:
        x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
        return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def fit(tmp_path: Path, model: Model, callbacks: list[Any], **kwargs: Any) -> pl.Trainer:
    settings: dict[str, Any] = dict(
        max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, callbacks=callbacks, logger=False,
    )  # fmt: skip
    trainer = pl.Trainer(**(settings | kwargs))
    trainer.fit(model)
    return trainer


def test_kinds() -> None:
    w = [nn.Parameter(torch.zeros(2))]
    found = {name: kind(make(w)) for name, make in OPTIMIZERS.items()}
    assert found == {
        "Prodigy": "lr-free", "DAdaptAdam": "lr-free", "DAdaptSGD": "lr-free", "AdamWScheduleFree": "schedule-free"
    }  # fmt: skip
    assert kind(torch.optim.Adam(w)) == kind(schedulefree.AdamWScheduleFreeClosure(w)) == "plain"


@pytest.mark.parametrize("optimizer", ["Prodigy", "DAdaptAdam"])
def test_finder_refuses_an_lr_free_optimizer(tmp_path: Path, optimizer: str) -> None:
    with pytest.raises(ScheduleConflictError, match=f"optimizer 0 is {optimizer}, a learning-rate-free optimizer"):
        fit(tmp_path, Model(optimizer), [LRFinder(num_training_steps=5)])


@pytest.mark.parametrize(
    "callback",
    [lambda: Cyclical(base_lr=0.1, max_lr=1.0, step_size_up=2), lambda: CosineRestarts(T_0=3)],
    ids=["Cyclical", "CosineRestarts"],
)
def test_restarts_warn(tmp_path: Path, callback: Any) -> None:
    with pytest.warns(UserWarning, match="a restart|d, the step size the optimizer estimated, is not reset"):
        fit(tmp_path, Model("Prodigy"), [callback()])


def test_no_restart_warning_on_a_plain_decay(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    fit(tmp_path, Model("Prodigy"), [CosineAnnealing()])
    assert not [w for w in recwarn if "learning-rate-free" in str(w.message)]


@pytest.mark.parametrize(("groups", "names"), [(1, ["lr-Prodigy"]), (2, ["lr-Prodigy/pg1", "lr-Prodigy/pg2"])])
def test_effective_lr_logged_next_to_the_configured_one(tmp_path: Path, groups: int, names: list[str]) -> None:
    model = Model("Prodigy", groups)
    logger = CSVLogger(tmp_path)
    fit(tmp_path, model, [CosineAnnealing()], logger=logger, log_every_n_steps=1, max_epochs=2)
    rows = list(csv.DictReader((Path(logger.log_dir) / "metrics.csv").read_text().splitlines()))
    for name in names:
        lrs = [float(r[name]) for r in rows if r.get(name)]
        effective = [float(r[f"{name}-effective"]) for r in rows if r.get(f"{name}-effective")]
        assert len(lrs) == len(effective) == 16
        assert effective[-1] > 10 * lrs[-1] * 1e-6  # d grew from d0 = 1e-6
        assert effective == pytest.approx(model.effective) if groups == 1 else True
    assert effective[0] == pytest.approx(1e-6)  # step 0: d0 * lr, lr = 1


def test_internal_warmup_of_a_schedule_free_optimizer(tmp_path: Path) -> None:
    """The optimizer's own warmup multiplies the schedule's LR: warned, and in the effective series."""
    model = Model("AdamWScheduleFree")
    with pytest.warns(UserWarning, match="two warmups multiplied"):
        fit(tmp_path, model, [ScheduleFree(), WarmupLinear(num_warmup_steps=2)], max_steps=6)
    # ours (transformers' linear schedule): k / 2 up to k = 2, then (6 - k) / 4; the optimizer's: (k + 1) / 4
    expected = [1e-2 * (k / 2 if k < 2 else (6 - k) / 4) * min(1.0, (k + 1) / 4) for k in range(6)]
    assert model.effective == pytest.approx(expected)
