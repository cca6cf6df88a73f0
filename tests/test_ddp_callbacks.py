"""Every schedule callback under DDP (2 CPU processes, gloo): same LR on every rank, logged once, loss averaged.

``strategy="ddp"``: ``tests/ddp_callbacks_script.py`` runs the 11 callbacks' fits one after the other
in one subprocess (rank 1 re-executes it); every test here reads what the ranks wrote and compares
it with a single-process run of the same callback over the same number of optimizer steps,
computed here. ``strategy="ddp_spawn"``: one fit with three optimizers in manual optimization, each
driven by its own callback. All are ``slow`` (about 25 s together on 2 cores).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_lr import CosineRestarts, Cyclical, StepDecay
from tests.ddp_callbacks_script import (
    CASES,
    EPOCHS,
    LOGGED_CASES,
    MEAN_VAL_LOSS,
    SAMPLES_PER_RANK,
    make_model,
    trainer_arguments,
)
from tests.ddp_teardown import fit_spawn, run_script
from tests.helpers import Recorder, TinyModel, make_trainer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
STEPS_PER_EPOCH = SAMPLES_PER_RANK // 4


@pytest.fixture(scope="module")
def ddp_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs ``tests/ddp_callbacks_script.py`` once for the whole module; returns its output directory."""
    out = tmp_path_factory.mktemp("ddp_callbacks")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    command = [sys.executable, str(REPO / "tests" / "ddp_callbacks_script.py"), str(out)]
    results = [out / f"{name}-rank{r}.json" for name in CASES for r in (0, 1)]
    done = run_script(command, results, cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def read_ranks(out: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads((out / f"{name}-rank{r}.json").read_text()) for r in (0, 1)]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", list(CASES))
def test_every_rank_sets_the_lr_of_a_single_process_run(ddp_out: Path, tmp_path: Path, name: str) -> None:
    ranks = read_ranks(ddp_out, name)
    assert ranks[0]["losses"] != ranks[1]["losses"], "the ranks should train on different shards"
    assert ranks[0]["lrs"] == ranks[1]["lrs"]
    assert ranks[0]["momenta"] == ranks[1]["momenta"]
    # the reference: one process, the same callback, the same number of optimizer steps (and, for the
    # plateau, the val_loss the ranks average to)
    factory, _, extra = CASES[name]
    single = make_model(name, SAMPLES_PER_RANK, val_loss=(MEAN_VAL_LOSS,))
    make_trainer(tmp_path, [factory()], **trainer_arguments(name, None)).fit(single)
    accumulate = extra.get("accumulate_grad_batches", 1)
    assert len(single.recorder.lrs) == EPOCHS * STEPS_PER_EPOCH // accumulate
    assert ranks[0]["lrs"] == single.recorder.lrs
    assert ranks[0]["momenta"] == single.recorder.momenta


def test_plateau_decides_on_the_mean_over_ranks_not_on_either_rank(ddp_out: Path) -> None:
    """The control for the plateau case: the ranks' own metrics alone would have given other LRs."""
    lrs = [step[0] for step in read_ranks(ddp_out, "ReduceLROnPlateau")[0]["lrs"]]
    per_epoch = [lrs[STEPS_PER_EPOCH * e + STEPS_PER_EPOCH - 1] for e in range(EPOCHS)]
    # mean val_loss 1.0, 0.85, 0.95, 0.85: no improvement after epoch 2 only (rank 0 alone: after 1, 2, 3)
    assert per_epoch == pytest.approx([0.1, 0.1, 0.1, 0.05], rel=1e-12)


@pytest.mark.parametrize("name", LOGGED_CASES)
def test_rank_zero_alone_writes_the_logs_one_row_per_logged_step(ddp_out: Path, name: str) -> None:
    logs = ddp_out / "logs" / name
    assert sorted(p.name for p in logs.iterdir()) == (["csv", "tb"] if name == LOGGED_CASES[0] else ["csv"])
    assert list(logs.rglob("metrics.csv")) == [logs / "csv" / "metrics.csv"]
    rows = read_csv(logs / "csv" / "metrics.csv")
    ranks = read_ranks(ddp_out, name)
    steps = EPOCHS * STEPS_PER_EPOCH
    lr_tag = next(k for k in rows[0] if k.startswith("lr-") and k.endswith("/pg1"))
    lr_rows = [r for r in rows if r[lr_tag]]
    assert [int(r["step"]) for r in lr_rows] == list(range(steps))  # once per step: no row from rank 1
    assert [float(r[lr_tag]) for r in lr_rows] == pytest.approx([lrs[0] for lrs in ranks[0]["lrs"]], rel=1e-12)
    loss_rows = [r for r in rows if r["loss/train"]]
    assert [int(r["step"]) for r in loss_rows] == list(range(steps))


def test_tensorboard_under_ddp_gets_one_event_file_with_one_value_per_step(ddp_out: Path) -> None:
    log_dir = ddp_out / "logs" / LOGGED_CASES[0] / "tb"
    event_files = list(log_dir.glob("events.out.tfevents.*"))
    assert len(event_files) == 1
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    ranks = read_ranks(ddp_out, LOGGED_CASES[0])
    for group, tag in enumerate(["lr-AdamW/pg1", "lr-AdamW/pg2"]):
        scalars = events.Scalars(tag)
        assert [e.step for e in scalars] == list(range(EPOCHS * STEPS_PER_EPOCH))
        assert [e.value for e in scalars] == pytest.approx([lrs[group] for lrs in ranks[0]["lrs"]], rel=1e-6)


@pytest.mark.parametrize("name", LOGGED_CASES)
def test_logged_loss_is_the_mean_over_ranks(ddp_out: Path, name: str) -> None:
    """``loss/train`` (each step, ``log_every_n_steps=1``) and ``loss/train_smoothed`` (20 steps) average both ranks."""
    local = [r["losses"] for r in read_ranks(ddp_out, name)]
    assert local[0] != local[1]
    rows = {int(r["step"]): r for r in read_csv(ddp_out / "logs" / name / "csv" / "metrics.csv") if r["loss/train"]}
    assert sorted(rows) == list(range(len(local[0])))
    for step, row in rows.items():
        assert float(row["loss/train"]) == pytest.approx((local[0][step] + local[1][step]) / 2.0, rel=1e-5), step
        window = local[0][max(0, step - 19) : step + 1] + local[1][max(0, step - 19) : step + 1]
        assert float(row["loss/train_smoothed"]) == pytest.approx(sum(window) / len(window), rel=1e-5), step
        assert float(row["loss/train"]) != pytest.approx(local[0][step], rel=1e-5), "rank 0's own loss was logged"


# ----------------------------------------------------------------------------------------------- ddp_spawn
class ThreeOptimizers(TinyModel):
    """Manual optimization: optimizers 0 and 1 step every batch, optimizer 2 every other batch.

    Module level so that ``ddp_spawn`` can pickle it; each rank writes ``<out>/rank<r>.json``.
    """

    def __init__(self, out: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.out = out
        self.layers = torch.nn.ModuleList(torch.nn.Linear(8, 1) for _ in range(3))
        self.layer = self.layers[0]  # TinyModel's layer: no parameter left without a gradient under DDP
        self.recorders = [Recorder() for _ in range(3)]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        optimizers = self.optimizers()
        loss = sum(torch.nn.functional.mse_loss(layer(x), y) for layer in self.layers)
        for opt in optimizers:  # type: ignore[union-attr]
            opt.zero_grad()
        self.manual_backward(loss)  # one backward per step: what DDP's reducer expects
        for i, opt in enumerate(optimizers):  # type: ignore[arg-type]
            if i < 2 or batch_idx % 2 == 0:
                opt.step()

    def configure_optimizers(self) -> Any:
        opts = [
            torch.optim.SGD(self.layers[0].parameters(), lr=0.1, momentum=0.9),
            torch.optim.AdamW(self.layers[1].parameters(), lr=0.01),
            torch.optim.SGD(self.layers[2].parameters(), lr=0.05),
        ]
        for opt, recorder in zip(opts, self.recorders):
            recorder.attach(opt)
        return opts

    def on_train_end(self) -> None:
        if self.out is not None:
            data = [{"lrs": r.lrs, "momenta": r.momenta} for r in self.recorders]
            (Path(self.out) / f"rank{self.global_rank}.json").write_text(json.dumps(data))


def three_callbacks() -> list[Any]:
    return [
        CosineRestarts(T_0=3, T_mult=2, optimizers=0),
        Cyclical(0.001, 0.01, step_size_up=2, mode="exp_range", gamma=0.9, optimizers=1),
        StepDecay(step_size=2, gamma=0.5, optimizers=2),
    ]


def test_ddp_spawn_manual_optimization_each_optimizer_keeps_its_own_clock_on_every_rank(tmp_path: Path) -> None:
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]

    def run() -> None:
        model = ThreeOptimizers(str(tmp_path), n=64, batch_size=4)
        make_trainer(tmp_path, three_callbacks(), devices=2, strategy="ddp_spawn", max_epochs=2).fit(model)

    fit_spawn(run, outputs)  # one retry, only for the gloo teardown crash after both ranks wrote their results
    ranks = [json.loads(path.read_text()) for path in outputs]
    assert ranks[0] == ranks[1]
    single = ThreeOptimizers(n=32, batch_size=4)  # the same number of batches per process
    make_trainer(tmp_path / "single", three_callbacks(), max_epochs=2).fit(single)
    assert [len(r["lrs"]) for r in ranks[0]] == [16, 16, 8]
    for got, reference in zip(ranks[0], single.recorders):
        assert got["lrs"] == reference.lrs
        assert got["momenta"] == reference.momenta
