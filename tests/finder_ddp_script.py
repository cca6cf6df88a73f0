"""LRFinder and find_lr under DDP with 2 CPU processes; the models here are also used by tests/test_finder.py.

``strategy="ddp"`` re-executes ``sys.argv`` for rank 1, so under pytest it must run as a script::

    python tests/finder_ddp_script.py OUT_DIR [STRATEGY]

Each rank writes ``OUT_DIR/<phase>-rank<r>.json``. The test reads them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_lr import OneCycle
from lightning_lr.finder import LRFinder, find_lr
from tests.helpers import TinyModel, make_trainer

LOCAL_LOSSES: list[float] = []
"""Every loss ``training_step`` computed in this process, in order (rank-local, before averaging)."""


class ShardModel(TinyModel):
    """TinyModel that keeps its rank-local losses in a module global (the finder restores its attributes)."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        LOCAL_LOSSES.append(float(loss.detach()))
        self.log("train_loss", loss)
        return loss


class Dump(Callback):
    """At ``on_train_start`` (right after the test) writes what each rank holds to ``<out>/<phase>-rank<r>.json``."""

    def __init__(self, out: str, phase: str, finder: LRFinder) -> None:
        self.out, self.phase, self.finder = out, phase, finder
        self.initial: list[list[float]] | None = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.initial = pl_module.layer.weight.detach().tolist()  # listed before the finder

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        assert self.finder.result is not None
        data = {
            "result": self.finder.result.to_dict(),
            "local_losses": list(LOCAL_LOSSES),
            "group_lrs": [float(g["lr"]) for g in trainer.optimizers[0].param_groups],
            "weight_before": self.initial,
            "weight_after": pl_module.layer.weight.detach().tolist(),
            "global_step": trainer.global_step,
        }
        (Path(self.out) / f"{self.phase}-rank{trainer.global_rank}.json").write_text(json.dumps(data))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        path = Path(self.out) / f"{self.phase}-end-rank{trainer.global_rank}.json"
        path.write_text(json.dumps({"weight": pl_module.layer.weight.detach().tolist(), "lrs": pl_module.recorder.lrs}))


FINDER = {"min_lr": 1e-4, "max_lr": 3.0, "num_training_steps": 24}


def main(out: str, strategy: str = "ddp") -> None:
    torch.manual_seed(0)
    model = ShardModel(groups=2, n=256, batch_size=32)
    finder = LRFinder(**FINDER)  # type: ignore[arg-type]
    trainer = make_trainer(out, [Dump(out, "callback", finder), finder, OneCycle()], devices=2, strategy=strategy)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = find_lr(trainer, model, **FINDER)
    same = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    data = {"result": result.to_dict(), "bit_identical": same, "global_step": trainer.global_step}
    (Path(out) / f"find_lr-rank{trainer.global_rank}.json").write_text(json.dumps(data))
    trainer.fit(model)  # now with the callbacks: LRFinder applies its suggestion, OneCycle peaks there


if __name__ == "__main__":
    main(sys.argv[1], *sys.argv[2:3])
