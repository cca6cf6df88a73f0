"""DDP (2 CPU processes, gloo, ddp_spawn): every rank sets the same LR, equal to one process's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_lr import OneCycle, ReduceLROnPlateau
from tests.ddp_teardown import fit_spawn
from tests.helpers import TinyModel, make_trainer

pytestmark = pytest.mark.slow


class DumpingModel(TinyModel):
    """Writes the LRs and momenta every optimizer step used to ``<out>/rank<r>.json``."""

    def __init__(self, out: str, rank_metric: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out, self.rank_metric = out, rank_metric

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        # rank 0 sees a plateau, rank 1 keeps improving: only the average decides
        values = [[1.0, 0.9, 0.95, 0.97, 0.99, 1.0], [1.0, 0.5, 0.3, 0.28, 0.27, 0.26]]
        value = values[self.global_rank][min(self.current_epoch, 5)]
        self.log("val_loss", torch.tensor(value))

    def val_dataloader(self) -> Any:
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(2, 8), torch.zeros(2, 1)))

    def on_train_end(self) -> None:
        data = {"lrs": self.recorder.lrs, "momenta": self.recorder.momenta}
        (Path(self.out) / f"rank{self.global_rank}.json").write_text(json.dumps(data))


def _ddp_lrs(tmp_path: Path, callback: Any, **trainer_kwargs: Any) -> list[dict[str, Any]]:
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]

    def run() -> None:
        model = DumpingModel(str(tmp_path), groups=2, optimizer="adamw", n=64, batch_size=4)
        make_trainer(tmp_path, [callback], devices=2, strategy="ddp_spawn", **trainer_kwargs).fit(model)

    fit_spawn(run, outputs)  # one retry, only for the gloo teardown crash after both ranks wrote their results
    return [json.loads(path.read_text()) for path in outputs]


def test_every_rank_sets_the_single_process_lr(tmp_path: Path) -> None:
    ranks = _ddp_lrs(tmp_path, OneCycle(three_phase=True), max_epochs=2, limit_val_batches=0)
    assert ranks[0] == ranks[1]
    assert len(ranks[0]["lrs"]) == 16  # 64 samples, 2 ranks, batch 4, 2 epochs
    single = TinyModel(groups=2, optimizer="adamw", n=32, batch_size=4)  # the same number of steps
    make_trainer(tmp_path / "single", [OneCycle(three_phase=True)], max_epochs=2).fit(single)
    assert ranks[0]["lrs"] == single.recorder.lrs
    assert ranks[0]["momenta"] == single.recorder.momenta


def test_plateau_decides_once_for_all_ranks_on_the_averaged_metric(tmp_path: Path) -> None:
    callback = ReduceLROnPlateau("val_loss", patience=0, factor=0.5)
    ranks = _ddp_lrs(tmp_path, callback, max_epochs=6, num_sanity_val_steps=0)
    assert ranks[0] == ranks[1]
    per_epoch = [ranks[0]["lrs"][8 * e][0] for e in range(6)]
    # averaged val_loss: 1.0, 0.7, 0.625, 0.625, 0.63, 0.63 -> no improvement after epoch 2 -> halve at 3, 4
    assert per_epoch == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.025])
