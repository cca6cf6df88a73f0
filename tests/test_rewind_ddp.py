"""RewindOnSpike under DDP (2 CPU processes, ddp_spawn): a NaN on one rank rewinds both, at the same step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from lightning_lr import RewindOnSpike
from tests.ddp_teardown import fit_spawn
from tests.test_rewind import Poisoned

pytestmark = pytest.mark.slow


class OneRankPoisoned(Poisoned):
    """NaN inputs on rank 1 only, at optimizer step 10; each rank writes its events, LRs and weights."""

    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_rank == 1 and self.trainer.global_step == 10:
            self.poison[10] = "nan"
        return super().training_step(batch, batch_idx)

    def on_train_end(self) -> None:
        rewind = next(c for c in self.trainer.callbacks if isinstance(c, RewindOnSpike))  # type: ignore[attr-defined]
        result = {"events": [[e["step"], e["reason"], e["restored"]] for e in rewind.events], "lrs": self.lrs,
                  "weights": [p.detach().flatten().tolist() for p in self.parameters()]}  # fmt: skip
        Path(self.out, f"rank{self.global_rank}.json").write_text(json.dumps(result))


def test_a_nan_on_one_rank_rewinds_every_rank_to_the_same_state(tmp_path: Path) -> None:
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]

    def run() -> None:
        trainer = pl.Trainer(
            max_epochs=1, accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            default_root_dir=tmp_path, callbacks=[RewindOnSpike(every_n_steps=5)],
        )  # fmt: skip
        trainer.fit(OneRankPoisoned(str(tmp_path)))

    fit_spawn(run, outputs)
    ranks = [json.loads(p.read_text()) for p in outputs]
    assert ranks[0]["events"] == ranks[1]["events"] == [[10, "non-finite loss", 10]]
    assert ranks[0]["lrs"] == ranks[1]["lrs"]
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert all(v == v for w in ranks[0]["weights"] for v in w)  # finite: no NaN
