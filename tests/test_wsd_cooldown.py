"""WarmupStableDecay's cooldown triggers: at the end of ``max_time`` (a real short budget, a slow-ish tiny model)
and when a monitored metric stops improving; both kept on resume."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_lr import ReduceLROnPlateau, WarmupStableDecay
from lightning_lr.callbacks.metric_watch import Improvement
from tests.ddp_teardown import fit_spawn
from tests.helpers import CrashAtStep, CrashError, PlateauModel, TinyModel, make_trainer


class SlowModel(TinyModel):
    """About 10 ms per step: a real pace for the time trigger to measure."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        time.sleep(0.01)
        return super().training_step(batch, batch_idx)


class SlowDump(SlowModel):
    """Writes its LRs, final step and decay start to ``<out>/rank<r>.json`` (module level: ddp_spawn pickles it)."""

    def __init__(self, out: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out

    def on_train_end(self) -> None:
        wsd = next(c for c in self.trainer.callbacks if isinstance(c, WarmupStableDecay))
        data = {"lrs": [lrs[0] for lrs in self.recorder.lrs], "steps": self.trainer.global_step}
        data["decay_at"] = wsd.state_dict()["wsd"]["decay_at"]
        (Path(self.out) / f"rank{self.global_rank}.json").write_text(json.dumps(data))


def watch_fit(tmp_path: Path, ckpt: Path | None = None, *extra: Any) -> tuple[list[float], int]:
    wsd = WarmupStableDecay(num_warmup_steps=0, num_decay_steps=5, monitor="val_loss", patience=1)
    model = PlateauModel(n=40, batch_size=4)  # 10 steps per epoch; val_loss 1.0, 0.8, 0.79, 0.79, 0.8, ...
    trainer = make_trainer(tmp_path, [wsd, *extra], max_epochs=100, num_sanity_val_steps=0)
    with contextlib.suppress(CrashError):
        trainer.fit(model, ckpt_path=ckpt)
    return [lrs[0] for lrs in model.recorder.lrs], trainer.global_step


def test_the_decay_starts_when_the_metric_stops_improving(tmp_path: Path) -> None:
    lrs, steps = watch_fit(tmp_path)
    # best at epochs 0-2, no improvement at epochs 3 and 4: more than patience=1 -> decay from step 50, 5 steps
    assert steps == 55
    assert lrs[:51] == pytest.approx([0.1] * 51)
    assert all(a > b for a, b in itertools.pairwise(lrs[50:]))


def test_the_metric_watch_survives_a_checkpoint(tmp_path: Path) -> None:
    whole, steps = watch_fit(tmp_path / "a")
    ckpt = tmp_path / "at35.ckpt"
    first, _ = watch_fit(tmp_path / "b", None, CrashAtStep(35, ckpt))
    rest, resumed_steps = watch_fit(tmp_path / "c", ckpt)
    assert resumed_steps == steps
    assert first[:35] + rest == pytest.approx(whole, rel=1e-12)


def test_a_monitor_that_never_appears_is_refused_at_the_first_check(tmp_path: Path) -> None:
    wsd = WarmupStableDecay(num_warmup_steps=0, num_decay_steps=5, monitor="val_los")
    trainer = make_trainer(tmp_path, [wsd], max_epochs=3, num_sanity_val_steps=0)
    with pytest.raises(ValueError, match=r"monitor='val_los'.*no such metric.*val_loss"):
        trainer.fit(PlateauModel(n=40, batch_size=4))


def test_plateau_and_wsd_share_one_improvement_rule() -> None:
    plateau = ReduceLROnPlateau(monitor="x", mode="max", threshold=0.1, threshold_mode="abs")
    rule = Improvement("max", 0.1, "abs")
    for current, best in [(1.05, 1.0), (1.2, 1.0), (0.5, 1.0)]:
        assert plateau.is_better(current, best) == rule.is_better(current, best)


def test_the_decay_ends_with_max_time(tmp_path: Path) -> None:
    wsd = WarmupStableDecay(num_warmup_steps=0, num_decay_steps=20, cooldown_on="max_time")
    model = SlowModel(n=40, batch_size=4)
    trainer = make_trainer(tmp_path, [wsd], max_epochs=-1, max_time={"seconds": 3})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model)
    assert not [w for w in caught if "fewer than" in str(w.message)], "room enough: no warning"
    lrs = [lrs[0] for lrs in model.recorder.lrs]
    decay_at = wsd.state_dict()["wsd"]["decay_at"][0]
    assert decay_at is not None and 10 < decay_at < len(lrs), "the decay was started by the time budget"
    assert lrs[: int(decay_at) + 1] == pytest.approx([0.1] * (int(decay_at) + 1))
    assert all(a >= b for a, b in itertools.pairwise(lrs[int(decay_at) :])), "then the LR only falls"
    assert lrs[-1] < 0.05, "training ended well into the decay"


def test_max_time_trigger_without_max_time_is_refused(tmp_path: Path) -> None:
    wsd = WarmupStableDecay(num_warmup_steps=0, num_decay_steps=20, cooldown_on="max_time")
    with pytest.raises(ValueError, match="max_time"):
        make_trainer(tmp_path, [wsd], max_steps=100, max_epochs=-1).fit(TinyModel())


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"cooldown_on": "time"}, ValueError, "cooldown_on"),
        ({"cooldown_on": "max_time", "interval": "epoch"}, ValueError, "interval='step'"),
        ({"monitor": ""}, TypeError, "monitor"),
        ({"monitor": "val_loss", "mode": "up"}, ValueError, "mode"),
        ({"monitor": "val_loss", "patience": -1}, ValueError, "patience"),
    ],
)
def test_bad_trigger_arguments_name_the_parameter(kwargs: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        WarmupStableDecay(num_warmup_steps=0, num_decay_steps=5, **kwargs)


@pytest.mark.slow
def test_ddp_ranks_start_the_time_triggered_decay_at_the_same_step(tmp_path: Path) -> None:
    wsd = WarmupStableDecay(num_warmup_steps=0, num_decay_steps=10, cooldown_on="max_time")
    model = SlowDump(str(tmp_path), n=400, batch_size=4)
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]
    options = {"devices": 2, "strategy": "ddp_spawn", "max_epochs": -1, "max_time": {"seconds": 4}}
    fit_spawn(lambda: make_trainer(tmp_path, [wsd], **options).fit(model), outputs)
    ranks = [json.loads(path.read_text()) for path in outputs]
    assert ranks[0]["decay_at"][0] is not None, "the time budget started the decay"
    assert ranks[0] == ranks[1], "rank 0 decided for both: the same decay step, LRs and end"


def test_a_budget_too_short_for_warmup_and_decay_warns_and_decays_over_what_is_left(tmp_path: Path) -> None:
    wsd = WarmupStableDecay(num_warmup_steps=0, num_decay_steps=10_000, cooldown_on="max_time")
    trainer = make_trainer(tmp_path, [wsd], max_epochs=-1, max_time={"seconds": 2})
    with pytest.warns(UserWarning, match="fewer than the warmup still to do"):
        trainer.fit(SlowModel(n=40, batch_size=4))
    decided = wsd.state_dict()["wsd"]
    assert decided["decay_at"][0] is not None and 1 <= decided["decay_len"] < 10_000, "the decay spans what was left"
