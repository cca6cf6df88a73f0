"""Every schedule callback under ``strategy="ddp"`` (2 CPU processes, gloo), run as a script.

``strategy="ddp"`` re-executes ``sys.argv`` for rank 1, so under pytest it must run in a subprocess::

    python tests/ddp_callbacks_script.py OUT_DIR

Both ranks run the fits of :data:`CASES` one after the other, in the same order (rank 1 re-executes
this script). For each case each rank writes ``OUT_DIR/<case>-rank<r>.json``: the LR and momentum
of every param group at every real optimizer step, and the rank-local training losses. Rank zero's
loggers write under ``OUT_DIR/logs/<case>``. ``tests/test_ddp_callbacks.py`` reads them and runs the
single-process references.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning_lr import (
    CosineAnnealing,
    CosineRestarts,
    Cyclical,
    ExponentialDecay,
    LRScheduler,
    MultiStepDecay,
    OneCycle,
    ReduceLROnPlateau,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)
from lightning_lr.schedules import Cosine, Join, Linear, epochs
from tests.helpers import TinyModel, make_trainer, random_data

SAMPLES_PER_RANK = 32
"""Each rank trains on 32 samples (batch 4): 8 optimizer steps per epoch, as a single process with n=32."""

EPOCHS = 4

VAL_LOSS = (
    (1.0, 1.2, 1.3, 1.4),  # alone, rank 0 would halve the LR after epochs 1, 2 and 3 ...
    (1.0, 0.5, 0.6, 0.3),  # ... rank 1 after epoch 2; the mean (1.0, 0.85, 0.95, 0.85) halves it after epoch 2 only
)
MEAN_VAL_LOSS = tuple((a + b) / 2.0 for a, b in zip(*VAL_LOSS))


class DumpModel(TinyModel):
    """TinyModel with two param groups that records its rank-local losses and logs a rank-dependent ``val_loss``.

    Args:
        val_loss: The ``val_loss`` of each epoch, per rank (a single process uses row 0).
    """

    def __init__(self, val_loss: tuple[tuple[float, ...], ...] = VAL_LOSS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.val_loss = val_loss
        self.local_losses: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.local_losses.append(float(loss.detach()))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        row = self.val_loss[self.global_rank % len(self.val_loss)]
        self.log("val_loss", torch.tensor(row[min(self.current_epoch, len(row) - 1)]))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(random_data(4, self.features, seed=1), batch_size=4)

    def dump(self) -> dict[str, Any]:
        return {"lrs": self.recorder.lrs, "momenta": self.recorder.momenta, "losses": self.local_losses}


Case = tuple[Callable[[], Any], str, dict[str, Any]]
"""(callback factory, optimizer of DumpModel, extra Trainer arguments)."""

CASES: dict[str, Case] = {
    "OneCycle": (lambda: OneCycle(three_phase=True, warmup=2), "adamw", {}),
    "Cyclical": (lambda: Cyclical([0.01, 0.001], [0.1, 0.01], step_size_up=3, mode="triangular2"), "sgd", {}),
    "CosineAnnealing": (lambda: CosineAnnealing(eta_min=1e-3, warmup="1 epoch"), "sgd", {}),
    "CosineRestarts": (lambda: CosineRestarts(T_0=5, T_mult=1.5, peak_decay=0.8), "adamw", {}),
    "StepDecay": (lambda: StepDecay(step_size="1 epoch", gamma=0.5), "sgd", {}),
    "MultiStepDecay": (lambda: MultiStepDecay(milestones=["25%", "60%"], gamma=0.3), "sgd", {}),
    "ExponentialDecay": (lambda: ExponentialDecay(gamma=0.7, interval="epoch"), "adamw", {}),
    "WarmupLinear": (lambda: WarmupLinear(num_warmup_steps=3), "sgd", {"accumulate_grad_batches": 2}),
    "WarmupCosine": (lambda: WarmupCosine(num_warmup_steps=0.1, num_cycles=1.5), "adamw", {}),
    "ReduceLROnPlateau": (lambda: ReduceLROnPlateau("val_loss", patience=0, factor=0.5, warmup=4), "sgd", {}),
    "LRScheduler": (
        lambda: LRScheduler(Join((Linear(0.1, 1.0, epochs(1)), Cosine(1.0, 0.05))), momentum=Linear(0.95, 0.85)),
        "sgd",
        {},
    ),
}

LOGGED_CASES = ("OneCycle", "ReduceLROnPlateau", "LRScheduler")
"""Cases that also run with a CSVLogger (and, for the first, a TensorBoardLogger), ``log_every_n_steps=1``."""


def trainer_arguments(name: str, out: str | None) -> dict[str, Any]:
    """The Trainer arguments of case ``name``; ``out``: where rank zero's loggers write (``None``: no logger)."""
    _, _, extra = CASES[name]
    options: dict[str, Any] = {"max_epochs": EPOCHS, "num_sanity_val_steps": 0, "log_every_n_steps": 1, **extra}
    if out is not None and name in LOGGED_CASES:
        from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

        loggers: list[Any] = [CSVLogger(f"{out}/logs", name=name, version="csv")]
        if name == LOGGED_CASES[0]:
            loggers.append(TensorBoardLogger(f"{out}/logs", name=name, version="tb", default_hp_metric=False))
        options["logger"] = loggers
    return options


def make_model(name: str, samples: int, val_loss: tuple[tuple[float, ...], ...] = VAL_LOSS) -> DumpModel:
    _, optimizer, _ = CASES[name]
    return DumpModel(val_loss=val_loss, optimizer=optimizer, groups=2, n=samples, batch_size=4)


def main(out: str) -> None:
    for name, (factory, _, _) in CASES.items():
        torch.manual_seed(0)
        model = make_model(name, 2 * SAMPLES_PER_RANK)
        trainer = make_trainer(out, [factory()], devices=2, strategy="ddp", **trainer_arguments(name, out))
        trainer.fit(model)
        (Path(out) / f"{name}-rank{trainer.global_rank}.json").write_text(json.dumps(model.dump()))


if __name__ == "__main__":
    main(sys.argv[1])
