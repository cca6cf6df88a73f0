"""LR and momentum scalars reach every Lightning logger, named as LearningRateMonitor names them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_lr import OneCycle, StepDecay
from tests.helpers import TinyModel, make_trainer


def read_tensorboard(log_dir: str) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_tensorboard_lr_series_equals_the_lr_each_step_used(tmp_path: Path) -> None:
    model = TinyModel(optimizer="adamw", groups=2)
    logger = TensorBoardLogger(tmp_path, name="", version="", default_hp_metric=False)
    trainer = make_trainer(tmp_path, [OneCycle()], logger=logger, log_every_n_steps=1, max_epochs=2)
    trainer.fit(model)
    scalars = read_tensorboard(logger.log_dir)
    for group, tag in enumerate(["lr-AdamW/pg1", "lr-AdamW/pg2"]):
        steps, values = zip(*scalars[tag])
        assert list(steps) == list(range(32))
        # float32 in the event file: compare at its precision
        assert values == pytest.approx([lrs[group] for lrs in model.recorder.lrs], rel=1e-6)
        momenta = [v for _, v in scalars[f"{tag}-momentum"]]
        assert momenta == pytest.approx([m[group] for m in model.recorder.momenta], rel=1e-6)


def test_log_every_n_steps_is_respected_and_csv_gets_the_same_scalars(tmp_path: Path) -> None:
    model = TinyModel()
    logger = CSVLogger(tmp_path, name="", version="")
    trainer = make_trainer(tmp_path, [StepDecay(step_size=3, gamma=0.5)], logger=logger, log_every_n_steps=4)
    trainer.fit(model)
    rows = [r for r in read_csv(Path(logger.log_dir) / "metrics.csv") if r.get("lr-SGD")]
    assert [int(r["step"]) for r in rows] == [0, 4, 8, 12]
    assert [float(r["lr-SGD"]) for r in rows] == pytest.approx([model.recorder.lrs[s][0] for s in (0, 4, 8, 12)])
    assert "lr-SGD-momentum" not in rows[0] or rows[0]["lr-SGD-momentum"] == ""  # StepDecay leaves momentum alone


def _logged_lr_columns(tmp_path: Path, callbacks: list[Any], **model_kwargs: Any) -> set[str]:
    logger = CSVLogger(tmp_path, name="", version="")
    trainer = make_trainer(tmp_path, callbacks, logger=logger, log_every_n_steps=1)
    trainer.fit(TinyModel(**model_kwargs))
    return {k for k in read_csv(Path(logger.log_dir) / "metrics.csv")[0] if k.startswith("lr-")}


@pytest.mark.parametrize("model_kwargs", [{"groups": 1}, {"groups": 2, "optimizer": "adamw"}])
def test_series_names_match_learning_rate_monitor(tmp_path: Path, model_kwargs: dict[str, Any]) -> None:
    ours = _logged_lr_columns(tmp_path / "ours", [OneCycle()], **model_kwargs)
    theirs = _logged_lr_columns(tmp_path / "theirs", [LearningRateMonitor(log_momentum=True)], **model_kwargs)
    assert ours == theirs


def test_no_logger_no_crash_and_one_warning_only_when_asked(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="no logger") as record:
        make_trainer(tmp_path, [StepDecay(step_size=2, log_lr=True)], logger=False).fit(TinyModel())
    assert sum("no logger" in str(w.message) for w in record) == 1
    model = TinyModel()
    make_trainer(tmp_path, [StepDecay(step_size=2)], logger=False).fit(model)  # default: silent, still schedules
    assert model.recorder.lrs[2][0] == pytest.approx(0.01)


def test_log_lr_false_logs_nothing(tmp_path: Path) -> None:
    logger = CSVLogger(tmp_path, name="", version="")
    make_trainer(tmp_path, [StepDecay(step_size=2, log_lr=False)], logger=logger, log_every_n_steps=1).fit(TinyModel())
    assert not any(k.startswith("lr-") for k in read_csv(Path(logger.log_dir) / "metrics.csv")[0])


def test_tensorboard_gets_loss_schedule_figure_and_dashboard_layout(tmp_path: Path) -> None:
    from tensorboard.plugins.custom_scalar import layout_pb2

    logger = TensorBoardLogger(tmp_path, name="", version="", default_hp_metric=False)
    trainer = make_trainer(tmp_path, [OneCycle()], logger=logger, log_every_n_steps=1, max_epochs=2)
    trainer.fit(TinyModel())
    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    # the planned schedule, drawn before step 0
    assert [i.step for i in events.Images("lightning_lr/planned_schedule/OneCycle")] == [0]
    assert events.Images("lightning_lr/planned_schedule/OneCycle")[0].encoded_image_string[:4] == b"\x89PNG"
    # the loss next to the LR equals what the model itself logged at each step
    ours = {e.step: e.value for e in events.Scalars("loss/train")}
    theirs = {e.step: e.value for e in events.Scalars("train_loss_step")}
    assert sorted(ours) == list(range(32)) and set(theirs) <= set(ours)
    assert all(ours[s] == pytest.approx(v, rel=1e-6) for s, v in theirs.items())
    smoothed = [e.value for e in events.Scalars("loss/train_smoothed")]
    raw = [ours[s] for s in range(32)]
    assert smoothed == pytest.approx(
        [sum(raw[max(0, k - 19) : k + 1]) / len(raw[max(0, k - 19) : k + 1]) for k in range(32)], rel=1e-5
    )  # running mean over the last 20 steps
    # the dashboard layout
    assert "custom_scalars__config__" in tags["tensors"]
    proto = events.Tensors("custom_scalars__config__")[0].tensor_proto
    layout = layout_pb2.Layout.FromString(proto.string_val[0])
    charts = {chart.title: list(chart.multiline.tag) for category in layout.category for chart in category.chart}
    assert charts == {
        "lr-SGD: learning rate": ["^(lr\\-SGD)$"],
        "lr-SGD: momentum": ["^(lr\\-SGD)-momentum$"],
        "training loss": ["^loss/train(_smoothed)?$"],
    }
    assert [c.title for c in layout.category] == ["Learning rate"]


def test_finder_curve_reaches_tensorboard_as_scalars_and_figure(tmp_path: Path) -> None:
    from lightning_lr import LRFinder

    logger = TensorBoardLogger(tmp_path, name="", version="", default_hp_metric=False)
    finder = LRFinder(min_lr=1e-4, max_lr=1.0, num_training_steps=40)
    trainer = make_trainer(tmp_path, [finder, OneCycle()], logger=logger, log_every_n_steps=1)
    trainer.fit(TinyModel(n=256))
    result = finder.result
    assert result is not None and result.suggestion is not None, result.explain()
    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    assert [e.value for e in events.Scalars("lr_finder/lr")] == pytest.approx(result.lrs, rel=1e-6)
    assert [e.value for e in events.Scalars("lr_finder/loss")] == pytest.approx(result.losses, rel=1e-6)
    assert events.Scalars("lr_finder/suggestion")[0].value == pytest.approx(result.suggestion, rel=1e-6)
    assert events.Images("lightning_lr/lr_finder")[0].encoded_image_string[:4] == b"\x89PNG"


def test_csv_logger_gets_the_same_scalars_as_tensorboard(tmp_path: Path) -> None:
    tensorboard = TensorBoardLogger(tmp_path, name="tb", version="", default_hp_metric=False)
    csv_logger = CSVLogger(tmp_path, name="csv", version="")
    trainer = make_trainer(tmp_path, [OneCycle()], logger=[tensorboard, csv_logger], log_every_n_steps=3)
    trainer.fit(TinyModel(optimizer="adamw", groups=2))
    ours = ("lr-", "loss/")
    board = {tag: dict(points) for tag, points in read_tensorboard(tensorboard.log_dir).items() if tag.startswith(ours)}
    table: dict[str, dict[int, float]] = {}
    for row in read_csv(Path(csv_logger.log_dir) / "metrics.csv"):
        for key, value in row.items():
            if key.startswith(ours) and value != "":
                table.setdefault(key, {})[int(row["step"])] = float(value)
    assert (
        set(board)
        == set(table)
        == {
            "lr-AdamW/pg1",
            "lr-AdamW/pg2",
            "lr-AdamW/pg1-momentum",
            "lr-AdamW/pg2-momentum",
            "loss/train",
            "loss/train_smoothed",
        }
    )
    for tag, points in board.items():
        assert sorted(points) == sorted(table[tag]) == list(range(0, 16, 3))
        assert [points[s] for s in sorted(points)] == pytest.approx([table[tag][s] for s in sorted(points)], rel=1e-6)
