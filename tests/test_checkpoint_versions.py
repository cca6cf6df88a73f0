"""Checkpoint state versions: old layouts and old files resume exactly, a newer version is refused.

A state without ``version`` (the layout before the field existed, ``tests/fixtures/legacy_states.json``)
and a real version-1 checkpoint file written by another process
(``tests/fixtures/v1_onecycle_mid_epoch.ckpt``) resume exactly; a newer version is refused before any step.

Regenerate the fixtures (only when their recipe below changes): ``python -m tests.test_checkpoint_versions``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_lr import OneCycle, ReduceLROnPlateau, ScheduleCallback
from lightning_lr.schedules import Cosine
from tests.helpers import ResumeModel, fit_segment, make_trainer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_STOP = ("after-train-batch", ("train", 1, 3))  # mid-epoch: after 14 of 40 steps
FIXTURE_CASES: dict[str, tuple[Callable[[], ScheduleCallback], dict[str, Any]]] = {
    "OneCycle": (lambda: OneCycle(three_phase=True, warmup=2), {"groups": 2}),
    "ReduceLROnPlateau": (
        lambda: ReduceLROnPlateau("val_loss", patience=0, factor=0.5, warmup=3, schedule=Cosine(1.0, 0.1)),
        {"groups": 2},
    ),
}
V1_CHECKPOINT = FIXTURES / "v1_onecycle_mid_epoch.ckpt"
LEGACY_STATES = FIXTURES / "legacy_states.json"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)  # type: ignore[no-any-return]


def rewrite_callback_state(path: str, key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> str:
    """A copy of the checkpoint at ``path`` with the state of the callback ``key`` replaced by ``change(state)``."""
    checkpoint = load_checkpoint(path)
    checkpoint["callbacks"][key] = change(dict(checkpoint["callbacks"][key]))
    out = f"{path}.edited.ckpt"
    torch.save(checkpoint, out)
    return out


def test_a_real_checkpoint_holds_the_version_and_a_state_without_version_is_version_1(tmp_path: Path) -> None:
    factory, model_kwargs = FIXTURE_CASES["OneCycle"]
    stopped = fit_segment(tmp_path, factory, model_kwargs, 1, FIXTURE_STOP)
    key = stopped.callback.state_key
    state = load_checkpoint(stopped.checkpoint or "")["callbacks"][key]
    assert state["version"] == stopped.callback.state_dict()["version"] == 3
    assert set(state) == {"version", "base_lrs", "steps", "planned", "total", "stretches", "joined", "cuts", "consumed"}
    assert state["steps"] == [len(stopped.lrs)]
    assert state["planned"][0] == state["total"] and state["stretches"] == [[]] and state["joined"] == [[]]
    assert state["cuts"] == [[1.0, 1.0]] and state["consumed"] == 0.0 and state["planned"][2] == "steps"


@pytest.mark.parametrize("name", list(FIXTURE_CASES))
def test_a_state_written_before_the_version_field_resumes_exactly(tmp_path: Path, name: str) -> None:
    """``tests/fixtures/legacy_states.json``: states in the layout without ``version``, taken at ``FIXTURE_STOP``."""
    factory, model_kwargs = FIXTURE_CASES[name]
    legacy = json.loads(LEGACY_STATES.read_text())[name]
    assert "version" not in legacy["state"]
    full = fit_segment(tmp_path / "full", factory, model_kwargs, 1)
    before = fit_segment(tmp_path / "before", factory, model_kwargs, 1, FIXTURE_STOP)
    assert before.callback.state_key == legacy["state_key"]
    ckpt = rewrite_callback_state(before.checkpoint or "", legacy["state_key"], lambda _: legacy["state"])
    after = fit_segment(tmp_path / "after", factory, model_kwargs, 1, None, ckpt)
    assert before.lrs + after.lrs == full.lrs
    assert before.momenta + after.momenta == full.momenta


def test_a_checkpoint_file_written_by_another_process_resumes_exactly(tmp_path: Path) -> None:
    """``tests/fixtures/v1_onecycle_mid_epoch.ckpt``, written at ``FIXTURE_STOP`` by ``write_fixtures``."""
    factory, model_kwargs = FIXTURE_CASES["OneCycle"]
    checkpoint = load_checkpoint(V1_CHECKPOINT)
    state = next(v for k, v in checkpoint["callbacks"].items() if k.startswith("OneCycle"))
    assert state["version"] == 1
    taken = checkpoint["global_step"]
    assert state["steps"] == [taken] and 0 < taken < 40
    full = fit_segment(tmp_path / "full", factory, model_kwargs, 1)
    after = fit_segment(tmp_path / "after", factory, model_kwargs, 1, None, str(V1_CHECKPOINT))
    assert after.lrs == full.lrs[taken:]
    assert after.momenta == full.momenta[taken:]


@pytest.mark.parametrize("name", list(FIXTURE_CASES))
def test_a_state_from_a_newer_version_is_refused_before_any_step(tmp_path: Path, name: str) -> None:
    factory, model_kwargs = FIXTURE_CASES[name]
    before = fit_segment(tmp_path / "before", factory, model_kwargs, 1, FIXTURE_STOP)
    newer = before.callback.state_dict()["version"] + 1
    ckpt = rewrite_callback_state(before.checkpoint or "", before.callback.state_key, lambda s: {**s, "version": newer})
    model = ResumeModel(**model_kwargs)
    trainer = make_trainer(tmp_path / "after", [factory()], max_epochs=4, val_check_interval=0.5)
    with pytest.raises(ValueError, match=f"(?s)(?=.*version {newer})(?=.*upgrade lightning_lr)"):
        trainer.fit(model, ckpt_path=ckpt)
    assert model.recorder.lrs == []


def write_fixtures() -> None:
    """Writes ``tests/fixtures/``: a version-1 checkpoint file and the legacy (no ``version``) states."""
    import shutil
    import tempfile

    FIXTURES.mkdir(exist_ok=True)
    legacy = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (factory, model_kwargs) in FIXTURE_CASES.items():
            stopped = fit_segment(Path(tmp) / name, factory, model_kwargs, 1, FIXTURE_STOP)
            assert stopped.checkpoint is not None
            key = stopped.callback.state_key
            state = load_checkpoint(stopped.checkpoint)["callbacks"][key]
            legacy[name] = {"state_key": key, "state": {k: v for k, v in state.items() if k != "version"}}
            if name == "OneCycle":
                shutil.copyfile(stopped.checkpoint, V1_CHECKPOINT)
    LEGACY_STATES.write_text(json.dumps(legacy, indent=2) + "\n")


if __name__ == "__main__":
    write_fixtures()
