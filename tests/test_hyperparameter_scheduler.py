"""HyperparameterScheduler: any numeric param-group value from a schedule, next to the LR callbacks.

The reference is the closed form the recipes publish: DINO's cosine weight-decay schedule
(Caron et al. 2021) ``final + (base - final) * (1 + cos(pi * i / N)) / 2`` for step ``i`` of ``N``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_lr import (
    CosineAnnealing,
    HyperparameterScheduler,
    OneCycle,
    ScheduleConflictError,
    ScheduleLR,
)
from lightning_lr.schedules import Constant, Cosine, Join, Linear
from tests.ddp_teardown import fit_spawn
from tests.helpers import CrashAtStep, CrashError, TinyModel, make_trainer

N, BATCH, EPOCHS = 40, 4, 3  # 10 steps per epoch, 30 steps
TOTAL = N // BATCH * EPOCHS


class DecayModel(TinyModel):
    """AdamW with two groups (weight: weight decay 0.05, bias: none); records every group's values per step."""

    def __init__(self, out: str | None = None, keys: tuple[str, ...] = ("weight_decay",), **kwargs: Any) -> None:
        kwargs.setdefault("n", N)
        kwargs.setdefault("batch_size", BATCH)
        super().__init__(optimizer="adamw", groups=2, **kwargs)
        self.out, self.keys = out, keys
        self.values: list[dict[str, list[float]]] = []

    def param_groups(self) -> list[dict[str, Any]]:
        groups = super().param_groups()
        groups[0]["weight_decay"], groups[1]["weight_decay"] = 0.05, 0.0
        return groups

    def configure_optimizers(self) -> Any:
        configured = super().configure_optimizers()
        optimizer = configured["optimizer"] if isinstance(configured, dict) else configured

        def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            self.values.append({key: [float(g[key]) for g in opt.param_groups] for key in self.keys})

        optimizer.register_step_pre_hook(hook)
        return configured

    def on_train_end(self) -> None:
        if self.out is not None:
            data = {"values": self.values, "lrs": self.recorder.lrs, "momenta": self.recorder.momenta}
            (Path(self.out) / f"rank{self.global_rank}.json").write_text(json.dumps(data))


def dino_cosine(base: float, final: float, steps: int) -> list[float]:
    return [final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / steps)) for i in range(steps)]


def column(model: DecayModel, key: str, group: int) -> list[float]:
    return [row[key][group] for row in model.values]


# ----------------------------------------------------------------------------- reference and composition
def test_dino_weight_decay_matches_the_published_closed_form(tmp_path: Any) -> None:
    model = DecayModel()
    make_trainer(tmp_path, [HyperparameterScheduler("weight_decay", Cosine(0.04, 0.4))], max_epochs=EPOCHS).fit(model)
    expected = dino_cosine(0.04, 0.4, TOTAL)
    for group in (0, 1):  # absolute values: every group, whatever it was configured with
        assert column(model, "weight_decay", group) == pytest.approx(expected, rel=1e-12)
    assert model.recorder.lrs == [[0.1, 0.1 * 0.1]] * TOTAL, "the LR is left alone"


def test_relative_scales_each_groups_configured_value(tmp_path: Any) -> None:
    model = DecayModel()
    callback = HyperparameterScheduler("weight_decay", Linear(1.0, 0.0, "3 epochs"), relative=True)
    make_trainer(tmp_path, [callback], max_epochs=EPOCHS).fit(model)
    assert column(model, "weight_decay", 0) == pytest.approx([0.05 * (1 - k / TOTAL) for k in range(TOTAL)], rel=1e-12)
    assert column(model, "weight_decay", 1) == [0.0] * TOTAL


def test_next_to_an_lr_callback_on_the_same_optimizer_both_apply(tmp_path: Any) -> None:
    alone = DecayModel()
    make_trainer(tmp_path / "alone", [OneCycle()], max_epochs=EPOCHS).fit(alone)
    both = DecayModel()
    callbacks = [OneCycle(), HyperparameterScheduler("weight_decay", Cosine(0.04, 0.4))]
    make_trainer(tmp_path, callbacks, max_epochs=EPOCHS).fit(both)
    assert both.recorder.lrs == alone.recorder.lrs
    assert both.recorder.momenta == alone.recorder.momenta
    assert column(both, "weight_decay", 0) == pytest.approx(dino_cosine(0.04, 0.4, TOTAL), rel=1e-12)


def test_next_to_a_scheduler_returned_by_configure_optimizers(tmp_path: Any) -> None:
    def hosted(opt: torch.optim.Optimizer) -> dict[str, Any]:
        return {"scheduler": ScheduleLR(opt, OneCycle(), total_steps=TOTAL), "interval": "step"}

    alone = DecayModel()
    make_trainer(tmp_path / "alone", [OneCycle()], max_epochs=EPOCHS).fit(alone)
    model = DecayModel(scheduler=hosted)
    make_trainer(tmp_path, [HyperparameterScheduler("weight_decay", Constant(0.3))], max_epochs=EPOCHS).fit(model)
    assert model.recorder.lrs == alone.recorder.lrs
    assert column(model, "weight_decay", 0) == [0.3] * TOTAL


def test_two_keys_two_callbacks_and_epoch_interval(tmp_path: Any) -> None:
    model = DecayModel(keys=("weight_decay", "eps"))
    callbacks = [
        HyperparameterScheduler("weight_decay", Linear(0.1, 0.0, 3), interval="epoch"),
        HyperparameterScheduler("eps", Constant(1e-6)),
    ]
    make_trainer(tmp_path, callbacks, max_epochs=EPOCHS).fit(model)
    expected = [0.1 * (1 - e / 3) for e in range(EPOCHS) for _ in range(N // BATCH)]
    assert column(model, "weight_decay", 0) == pytest.approx(expected, rel=1e-12)
    assert column(model, "eps", 1) == [1e-6] * TOTAL


# ----------------------------------------------------------------------------- conflicts
def wd(value: float, **kwargs: Any) -> HyperparameterScheduler:
    return HyperparameterScheduler("weight_decay", Constant(value), **kwargs)


@pytest.mark.parametrize(
    ("callbacks", "conflict"),
    [
        ([wd(0.1, optimizers=0), wd(0.2)], True),  # identical configurations: Lightning refuses one state key
        ([wd(0.1), HyperparameterScheduler("dampening", Constant(0.1))], False),
        ([CosineAnnealing(), HyperparameterScheduler("lr", Constant(0.01))], True),
        ([OneCycle(), HyperparameterScheduler("momentum", Constant(0.9))], True),
        ([CosineAnnealing(), HyperparameterScheduler("momentum", Constant(0.9))], False),
        ([OneCycle(), HyperparameterScheduler("weight_decay", Constant(0.1), optimizers=0)], False),
    ],
    ids=["same-key", "other-key", "lr-key", "cycled-momentum", "momentum-left-alone", "lr-and-weight-decay"],
)
def test_callbacks_conflict_only_on_the_same_key(tmp_path: Any, callbacks: list[Any], conflict: bool) -> None:
    model = TinyModel(n=40, batch_size=4)  # SGD: lr, momentum, weight_decay, dampening
    trainer = make_trainer(tmp_path, callbacks, max_epochs=1)
    if conflict:
        with pytest.raises(ScheduleConflictError, match="both set"):
            trainer.fit(model)
    else:
        trainer.fit(model)


def test_the_lr_key_conflicts_with_a_hosted_scheduler(tmp_path: Any) -> None:
    model = TinyModel(n=8, batch_size=4, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1))
    with pytest.raises(ScheduleConflictError, match="returned by `configure_optimizers`"):
        make_trainer(tmp_path, [HyperparameterScheduler("lr", Constant(0.01))]).fit(model)


# ----------------------------------------------------------------------------- logging
def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def logged(tmp_path: Path, callbacks: list[Any], groups: int) -> list[dict[str, str]]:
    model = DecayModel() if groups == 2 else TinyModel(n=N, batch_size=BATCH, optimizer="adamw")
    logger = CSVLogger(tmp_path, name="", version="")
    make_trainer(tmp_path, callbacks, max_epochs=1, logger=logger, log_every_n_steps=2).fit(model)
    return read_csv(tmp_path / "metrics.csv")


@pytest.mark.parametrize("groups", [1, 2])
def test_logged_under_learning_rate_monitor_names(tmp_path: Path, groups: int) -> None:
    monitor = logged(tmp_path / "monitor", [LearningRateMonitor("step", log_weight_decay=True)], groups)
    ours = logged(tmp_path / "ours", [HyperparameterScheduler("weight_decay", Linear(0.2, 0.0))], groups)
    monitor_names = {k for row in monitor for k, v in row.items() if k.endswith("weight_decay") and v}
    our_names = {k for row in ours for k, v in row.items() if k.endswith("weight_decay") and v}
    assert monitor_names == (
        {"lr-AdamW/pg1-weight_decay", "lr-AdamW/pg2-weight_decay"} if groups == 2 else {"lr-AdamW-weight_decay"}
    )
    assert our_names == monitor_names
    name = sorted(our_names)[0]
    values = {int(row["step"]): float(row[name]) for row in ours if row.get(name)}
    assert values == pytest.approx({k: 0.2 * (1 - k / 10) for k in range(0, 10, 2)}, rel=1e-12)


def test_tensorboard_scalars_and_planned_schedule_figure(tmp_path: Path) -> None:
    logger = TensorBoardLogger(tmp_path, name="", version="", default_hp_metric=False)
    callbacks = [OneCycle(), HyperparameterScheduler("weight_decay", Cosine(0.04, 0.4))]
    make_trainer(tmp_path, callbacks, max_epochs=1, logger=logger, log_every_n_steps=1).fit(DecayModel())
    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    assert {"lr-AdamW/pg1", "lr-AdamW/pg1-weight_decay", "lr-AdamW/pg2-weight_decay"} <= set(events.Tags()["scalars"])
    assert [e.value for e in events.Scalars("lr-AdamW/pg2-weight_decay")] == pytest.approx(dino_cosine(0.04, 0.4, 10))
    assert {
        "lightning_lr/planned_schedule/OneCycle",
        "lightning_lr/planned_schedule/HyperparameterScheduler-weight_decay",
    } <= set(events.Tags()["images"])


def test_the_planned_figure_names_each_series_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The series of the planned-schedule figure carry the key once (`lr-AdamW/pg1-weight_decay`)."""
    import lightning_lr.logging.reporter as reporter

    drawn: list[list[list[str]]] = []
    real = reporter.schedule_figure

    def recording(callback: Any, plans: Any, names: Any, total: float) -> Any:
        drawn.append([list(n) for n in names])
        return real(callback, plans, names, total)

    monkeypatch.setattr(reporter, "schedule_figure", recording)
    logger = TensorBoardLogger(tmp_path, name="", version="", default_hp_metric=False)
    callbacks = [HyperparameterScheduler("weight_decay", Cosine(0.04, 0.4))]
    make_trainer(tmp_path, callbacks, max_epochs=1, logger=logger).fit(DecayModel())
    assert drawn == [[["lr-AdamW/pg1-weight_decay", "lr-AdamW/pg2-weight_decay"]]]


# ----------------------------------------------------------------------------- resume and state


def fit_values(tmp_path: Path, crash: int | None = None, ckpt: str | None = None) -> list[dict[str, list[float]]]:
    model = DecayModel()
    callbacks: list[Any] = [
        OneCycle(),
        HyperparameterScheduler("weight_decay", Join((Cosine(1.0, 10.0, "2 epochs"), Constant(10.0))), relative=True),
    ]
    if crash is not None:
        callbacks.append(CrashAtStep(crash, str(tmp_path / "crash.ckpt")))
    with contextlib.suppress(CrashError):
        make_trainer(tmp_path, callbacks, max_epochs=EPOCHS).fit(model, ckpt_path=ckpt)
    return [{**row, "lr": lrs} for row, lrs in zip(model.values, model.recorder.lrs)]


@pytest.mark.parametrize("crash", [7, 20])
def test_resume_gives_the_uninterrupted_sequence(tmp_path: Path, crash: int) -> None:
    full = fit_values(tmp_path / "full")
    before = fit_values(tmp_path / "a", crash=crash)
    after = fit_values(tmp_path / "b", ckpt=str(tmp_path / "a" / "crash.ckpt"))
    assert len(before) == crash
    assert before + after == full
    assert full[-1]["weight_decay"] == [0.5, 0.0]  # relative to the configured 0.05, not to the restored value


def test_each_key_has_its_own_state_key() -> None:
    keys = {HyperparameterScheduler(k, Constant(0.1)).state_key for k in ("weight_decay", "eps")}
    assert len(keys | {CosineAnnealing().state_key}) == 3


def test_configurable_from_a_lightning_cli_yaml_file(tmp_path: Path) -> None:
    schedule = {"class_path": "lightning_lr.schedules.Cosine", "init_args": {"start": 0.04, "end": 0.4}}
    config = {
        "trainer": {
            "max_epochs": 1,
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "default_root_dir": str(tmp_path),
            "accelerator": "cpu",
            "callbacks": [
                {
                    "class_path": "lightning_lr.HyperparameterScheduler",
                    "init_args": {"key": "weight_decay", "schedule": schedule, "relative": False},
                }
            ],
        },
        "model": {"n": N, "batch_size": BATCH},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cli = LightningCLI(DecayModel, args=["fit", "--config", str(path)], save_config_kwargs={"overwrite": True})
    assert isinstance(cli.model, DecayModel)
    assert column(cli.model, "weight_decay", 0) == pytest.approx(dino_cosine(0.04, 0.4, N // BATCH), rel=1e-12)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("params", Constant(0.1)), {}, ValueError, "`key` must name a numeric param-group value"),
        (("betas", Constant(0.1)), {}, ValueError, "`key` must name"),
        ((3, Constant(0.1)), {}, ValueError, "`key` must name"),
        (("weight_decay", 0.1), {}, TypeError, "`schedule` must be a Schedule"),
        (("weight_decay", Constant(0.1)), {"relative": 1}, TypeError, "`relative`"),
        (("weight_decay", Constant(0.1)), {"interval": "batch"}, ValueError, "`interval`"),
    ],
)
def test_bad_arguments_are_refused(args: tuple[Any, ...], kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        HyperparameterScheduler(*args, **kwargs)


def test_a_key_the_optimizer_lacks_is_refused_before_the_first_step(tmp_path: Any) -> None:
    model = TinyModel(n=8, batch_size=4)  # SGD has no `eps`
    with pytest.raises(ScheduleConflictError, match="param group 0 of SGD has 'eps' = None"):
        make_trainer(tmp_path, [HyperparameterScheduler("eps", Constant(1e-6))]).fit(model)
    assert model.recorder.lrs == []


# ----------------------------------------------------------------------------- DDP
def ddp_callbacks() -> list[Any]:
    return [CosineAnnealing(warmup=3), HyperparameterScheduler("weight_decay", Cosine(0.04, 0.4))]


@pytest.mark.slow
def test_ddp_spawn_every_rank_sets_the_same_values_as_one_process(tmp_path: Path) -> None:
    model = DecayModel(str(tmp_path), n=32, batch_size=4)
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]
    fit_spawn(
        lambda: make_trainer(tmp_path, ddp_callbacks(), devices=2, strategy="ddp_spawn", max_epochs=2).fit(model),
        outputs,
    )
    ranks = [json.loads(path.read_text()) for path in outputs]
    assert ranks[0] == ranks[1]
    single = DecayModel(n=16, batch_size=4)  # the same number of batches per process
    make_trainer(tmp_path / "single", ddp_callbacks(), max_epochs=2).fit(single)
    assert len(ranks[0]["values"]) == 8
    assert ranks[0]["values"] == single.values
    assert ranks[0]["lrs"] == single.recorder.lrs
