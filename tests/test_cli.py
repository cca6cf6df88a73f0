"""Every callback is configurable from a LightningCLI YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lightning.pytorch.cli import LightningCLI

import lightning_lr
from tests.helpers import TinyModel

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("OneCycle", {"pct_start": 0.25, "anneal_strategy": "linear", "three_phase": True, "warmup": "2 steps"}),
    ("Cyclical", {"base_lr": 0.01, "max_lr": [0.1], "step_size_up": "1 epoch", "mode": "exp_range", "gamma": 0.99}),
    ("CosineAnnealing", {"eta_min": 0.001, "warmup": 0.1}),
    ("CosineRestarts", {"T_0": 5, "T_mult": 1.5, "peak_decay": 0.5, "cycle_warmup": 1}),
    ("StepDecay", {"step_size": "1 epoch", "gamma": 0.5}),
    ("MultiStepDecay", {"milestones": [4, "50%"], "gamma": 0.5}),
    ("ExponentialDecay", {"k": 0.1, "staircase": True, "interval": "epoch"}),
    ("WarmupLinear", {"num_warmup_steps": 3}),
    ("WarmupCosine", {"num_warmup_steps": "10%", "num_cycles": 0.5}),
    ("ReduceLROnPlateau", {"monitor": "train_loss", "patience": 0, "warmup": 2}),
    (
        "LRScheduler",
        {"schedule": {"class_path": "lightning_lr.schedules.Cosine", "init_args": {"start": 1.0, "end": 0.1}}},
    ),
]


@pytest.mark.parametrize(("name", "init_args"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_callback_from_yaml(tmp_path: Path, name: str, init_args: dict[str, Any]) -> None:
    config = {
        "trainer": {
            "max_epochs": 2,
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "default_root_dir": str(tmp_path),
            "accelerator": "cpu",
            "callbacks": [{"class_path": f"lightning_lr.{name}", "init_args": init_args}],
        },
        "model": {"n": 32, "batch_size": 4},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cli = LightningCLI(TinyModel, args=["fit", "--config", str(path)], save_config_kwargs={"overwrite": True})
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, lightning_lr.ScheduleCallback))
    assert type(callback).__name__ == name
    kwargs = dict(init_args)
    if name == "LRScheduler":
        kwargs["schedule"] = lightning_lr.schedules.Cosine(start=1.0, end=0.1)
    expected = getattr(lightning_lr, name)(**kwargs)
    assert public_fields(callback) == public_fields(expected)  # every YAML value reached the callback
    assert len(cli.model.recorder.lrs) == 16  # it trained, with the callback in charge
    assert cli.model.recorder.lrs[1] != cli.model.recorder.lrs[-1] or name == "ReduceLROnPlateau"


def public_fields(callback: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(callback).items() if not k.startswith("_") and not callable(v)}
