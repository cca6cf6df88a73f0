"""WarmupStableDecay beyond the reference table: cooldown on demand, resume, longer and shorter runs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch.callbacks import Callback

from lightning_lr import WarmupStableDecay
from lightning_lr.preview import preview
from tests.ddp_teardown import fit_spawn
from tests.helpers import CrashAtStep, CrashError, TinyModel, make_trainer

BATCHES = 10  # TinyModel(n=40, batch_size=4): 10 optimizer steps per epoch


class DecideAt(Callback):
    """Calls ``wsd.decay_now(length)`` from ``on_train_batch_end`` once ``global_step`` reaches ``step``."""

    def __init__(self, wsd: WarmupStableDecay, step: int, length: Any = None) -> None:
        self.wsd, self.step, self.length = wsd, step, length

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            self.wsd.decay_now(self.length)


def fit(
    tmp_path: Path,
    wsd: WarmupStableDecay,
    *extra: Callback,
    ckpt: Path | None = None,
    **trainer: Any,
) -> tuple[list[float], int]:
    """The LR of every optimizer step (group 0) and the final ``global_step``."""
    model = TinyModel(n=40, batch_size=4)
    options = {"max_epochs": 100, **trainer}
    t = make_trainer(tmp_path, [wsd, *extra], num_sanity_val_steps=0, **options)
    with contextlib.suppress(CrashError):
        t.fit(model, ckpt_path=ckpt)
    return [lrs[0] for lrs in model.recorder.lrs], t.global_step


def wsd(**kwargs: Any) -> WarmupStableDecay:
    return WarmupStableDecay(**{"num_warmup_steps": 5, "num_decay_steps": 10, "decay_type": "1-sqrt", **kwargs})


# ----------------------------------------------------------------------------------------------- decay_now
def test_decay_now_gives_the_run_that_had_planned_to_end_there(tmp_path: Path) -> None:
    callback = wsd()
    lrs, steps = fit(tmp_path / "a", callback, DecideAt(callback, 23))  # max_epochs=100: 1000 steps planned
    assert steps == 33, "training stops when the 10 decay steps are done"
    planned, planned_steps = fit(tmp_path / "b", wsd(), max_steps=33)
    assert (lrs, steps) == (planned, planned_steps)
    assert lrs[22] == lrs[23] == 0.1 and lrs[24] < 0.1 and lrs[-1] < 0.1 * 0.1


def test_decay_now_takes_its_own_length_in_any_unit(tmp_path: Path) -> None:
    callback = wsd()
    lrs, steps = fit(tmp_path / "a", callback, DecideAt(callback, 20, "2 epochs"))
    assert steps == 20 + 2 * BATCHES
    planned, _ = fit(tmp_path / "b", wsd(num_decay_steps=2 * BATCHES), max_steps=40)
    assert lrs == planned


def test_decay_now_in_warmup_cools_down_from_the_current_lr(tmp_path: Path) -> None:
    callback = wsd(num_warmup_steps=20)
    lrs, steps = fit(tmp_path, callback, DecideAt(callback, 8, 4))
    assert steps == 12
    assert lrs[:9] == pytest.approx([0.1 * k / 20 for k in range(9)], rel=1e-12)  # the linear warmup
    assert lrs[8:] == pytest.approx([lrs[8] * (1 - (k / 4) ** 0.5) for k in range(4)], rel=1e-12)


@pytest.mark.parametrize(("crash", "max_epochs"), [(25, 100), (31, 100), (31, 200), (20, 3)])
def test_decay_now_survives_a_checkpoint_and_resume(tmp_path: Path, crash: int, max_epochs: int) -> None:
    """Crash after the decision (mid-decay), resume with the same or another length: the same steps."""
    callback = wsd()
    full, steps = fit(tmp_path / "full", callback, DecideAt(callback, 23))
    decide = 23 if crash > 23 else 19
    if decide != 23:  # the decision at step 19 in this variant: the reference decides there too
        callback = wsd()
        full, steps = fit(tmp_path / "full19", callback, DecideAt(callback, decide))
    callback = wsd()
    before, _ = fit(tmp_path / "a", callback, DecideAt(callback, decide), CrashAtStep(crash, tmp_path / "c"))
    after, resumed_steps = fit(tmp_path / "b", wsd(), ckpt=tmp_path / "c", max_epochs=max_epochs)
    assert before + after == full
    assert resumed_steps == steps


@pytest.mark.parametrize(("accumulate", "crash"), [(1, 7), (1, 33), (3, 5), (3, 11)])
def test_resume_anywhere_gives_the_uninterrupted_lrs(tmp_path: Path, accumulate: int, crash: int) -> None:
    def make() -> WarmupStableDecay:
        return WarmupStableDecay(0.1, "30%", warmup_type="1-sqrt", min_lr_ratio=0.05)

    run = {"max_epochs": 4, "accumulate_grad_batches": accumulate}
    full, _ = fit(tmp_path / "full", make(), **run)
    before, _ = fit(tmp_path / "a", make(), CrashAtStep(crash, tmp_path / "c"), **run)
    after, _ = fit(tmp_path / "b", make(), ckpt=tmp_path / "c", **run)
    assert len(before) == crash and before + after == full


def test_a_second_decay_now_or_one_during_the_decay_only_warns(tmp_path: Path) -> None:
    callback = wsd()
    with pytest.warns(UserWarning, match="already began"):
        _, steps = fit(tmp_path, callback, DecideAt(callback, 10), DecideAt(callback, 15, 100))
    assert steps == 20


def test_decay_now_outside_fit_says_when_it_works() -> None:
    with pytest.raises(RuntimeError, match=r"during `trainer\.fit`"):
        wsd().decay_now()


def test_an_endless_run_holds_the_peak_until_decay_now(tmp_path: Path) -> None:
    callback = wsd(num_decay_steps=4, decay_type="linear")
    lrs, steps = fit(tmp_path, callback, DecideAt(callback, 57), max_epochs=-1)
    assert steps == 61
    assert set(lrs[5:58]) == {0.1}
    assert lrs[57:] == pytest.approx([0.1, 0.075, 0.05, 0.025], rel=1e-12)


class DecideAfterEpoch(Callback):
    """Starts the cooldown when epoch ``epoch`` ends (every DDP rank sees the same ``current_epoch``)."""

    def __init__(self, wsd: WarmupStableDecay, epoch: int, length: Any = None) -> None:
        self.wsd, self.epoch, self.length = wsd, epoch, length

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch == self.epoch:
            self.wsd.decay_now(self.length)


def test_epoch_interval_decays_from_the_next_epoch(tmp_path: Path) -> None:
    def make() -> WarmupStableDecay:
        return WarmupStableDecay(1, 2, interval="epoch", decay_type="linear")

    callback = make()
    lrs, steps = fit(tmp_path / "a", callback, DecideAfterEpoch(callback, 3))
    assert steps == 6 * BATCHES, "epochs 4 and 5 decay, then training stops"
    planned, _ = fit(tmp_path / "b", make(), max_epochs=6)
    assert lrs == planned
    assert lrs[::BATCHES] == pytest.approx([0.0, 0.1, 0.1, 0.1, 0.1, 0.05], rel=1e-12)


# ----------------------------------------------------------------------------------------------- run length
@pytest.mark.parametrize("longer", [{"max_steps": 80}, {"max_epochs": 9}])
def test_a_longer_resumed_run_extends_the_stable_phase(tmp_path: Path, longer: dict[str, int]) -> None:
    before, _ = fit(tmp_path / "a", wsd(), CrashAtStep(20, tmp_path / "c"), max_epochs=4)  # decay planned at 30
    after, steps = fit(tmp_path / "b", wsd(), ckpt=tmp_path / "c", **longer)
    uninterrupted, planned_steps = fit(tmp_path / "full", wsd(), **longer)
    assert before + after == uninterrupted
    assert steps == planned_steps and max(before[19], after[0]) == 0.1, "no jump: still the peak"


class StopOnceAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            trainer.should_stop = True


def test_a_second_fit_with_a_larger_limit_extends_the_stable_phase(tmp_path: Path) -> None:
    model = TinyModel(n=40, batch_size=4)
    trainer = make_trainer(tmp_path, [wsd(), StopOnceAt(15)], max_epochs=100, max_steps=30)
    trainer.fit(model)  # stopped in the stable phase (the decay was planned at 20)
    trainer.fit_loop.epoch_loop.max_steps = 60  # `Trainer.max_steps` has no setter
    trainer.should_stop = False
    trainer.fit(model)
    uninterrupted, _ = fit(tmp_path / "full", wsd(), max_steps=60)
    assert trainer.global_step == 60
    assert [lrs[0] for lrs in model.recorder.lrs] == uninterrupted


def test_a_resume_after_the_decay_began_keeps_it(tmp_path: Path) -> None:
    planned, _ = fit(tmp_path / "full", wsd(), max_steps=40)
    before, _ = fit(tmp_path / "a", wsd(), CrashAtStep(34, tmp_path / "c"), max_steps=40)  # decay began at 30
    with pytest.warns(UserWarning, match="the decay began at 30"):
        after, steps = fit(tmp_path / "b", wsd(), ckpt=tmp_path / "c", max_steps=60)
    assert steps == 60
    assert (before + after)[:40] == planned, "the decay goes on as planned: no jump"
    assert set(after[6:]) == {0.0}, "then min_lr_ratio holds"


def test_a_shorter_resumed_run_decays_earlier_or_now(tmp_path: Path) -> None:
    before, _ = fit(tmp_path / "a", wsd(), CrashAtStep(20, tmp_path / "c"), max_steps=80)
    after, _ = fit(tmp_path / "b", wsd(), ckpt=tmp_path / "c", max_steps=30)
    uninterrupted, _ = fit(tmp_path / "full", wsd(), max_steps=30)
    assert before + after == uninterrupted  # the decay moved from 70 to 20: still ahead, nothing jumps
    with pytest.warns(UserWarning, match="the decay starts now over the 4 steps left"):
        after, steps = fit(tmp_path / "d", wsd(), ckpt=tmp_path / "c", max_steps=24)
    assert steps == 24
    assert after == pytest.approx([0.1 * (1 - (k / 4) ** 0.5) for k in range(4)], rel=1e-12)


def test_an_explicit_stable_phase_that_does_not_fill_the_run_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="warmup \\+ stable \\+ decay = 25 steps but training has 40"):
        lrs, _ = fit(tmp_path, wsd(num_stable_steps=10, min_lr_ratio=0.1), max_steps=40)
    assert lrs[25:] == pytest.approx([0.01] * 15, rel=1e-12)


# ----------------------------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"num_decay_steps": 0}, ValueError, ["num_decay_steps", "0"]),
        ({"num_decay_steps": "1.5"}, ValueError, ["num_decay_steps", "1.5"]),
        ({"num_warmup_steps": -1}, ValueError, ["num_warmup_steps", "-1"]),
        ({"num_stable_steps": True}, TypeError, ["num_stable_steps", "True"]),
        ({"decay_type": "sqrt"}, ValueError, ["decay_type", "'1-sqrt'", "'sqrt'"]),
        ({"warmup_type": "exp"}, ValueError, ["warmup_type", "'cosine'", "'exp'"]),
        ({"min_lr_ratio": 1.5}, ValueError, ["min_lr_ratio", "1.5", "[0.0, 1.0]"]),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict[str, Any], error: type[Exception], words: list[str]) -> None:
    with pytest.raises(error) as raised:
        wsd(**kwargs)
    assert all(w in str(raised.value) for w in words), str(raised.value)


def test_warmup_and_decay_longer_than_the_run_is_refused_before_the_first_step(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="the warmup \\(5\\) and the decay \\(20\\) are longer than training"):
        fit(tmp_path, wsd(num_decay_steps=20), max_steps=24)


# ----------------------------------------------------------------------------------------------- preview
def test_preview_draws_the_three_phases() -> None:
    values = preview(wsd(decay_type="linear"), total=20, base_lrs=[1.0]).series["lr-SGD"]
    assert values == pytest.approx([k / 5 for k in range(5)] + [1.0] * 5 + [1 - k / 10 for k in range(10)])


def test_preview_cli_knows_warmup_stable_decay(tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = tmp_path / "wsd.png"
    args = ["preview", "WarmupStableDecay", "--steps", "200", "--set", "num_warmup_steps=10", "num_decay_steps=20%"]
    done = subprocess.run(
        [sys.executable, "-m", "lightning_lr", *args, "decay_type=1-sqrt", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "WarmupStableDecay over 200 steps" in done.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------------------------- LightningCLI
def test_configurable_from_a_lightning_cli_yaml_file_with_scale_lr(tmp_path: Path) -> None:
    import yaml
    from lightning.pytorch.cli import LightningCLI

    from lightning_lr import ScaleLR

    wsd_args = {"num_warmup_steps": "1 epoch", "num_decay_steps": "25%", "decay_type": "1-sqrt", "min_lr_ratio": 0.1}
    scale_args = {"scale_lr": "sqrt", "reference_batch_size": 1}
    config = {
        "trainer": {
            "max_epochs": 4,
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "default_root_dir": str(tmp_path),
            "accelerator": "cpu",
            "callbacks": [
                {"class_path": "lightning_lr.WarmupStableDecay", "init_args": wsd_args},
                {"class_path": "lightning_lr.ScaleLR", "init_args": scale_args},
            ],
        },
        "model": {"n": 32, "batch_size": 4},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cli = LightningCLI(TinyModel, args=["fit", "--config", str(path)], save_config_kwargs={"overwrite": True})
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, WarmupStableDecay))
    assert (callback.num_decay_steps, callback.decay_type) == (WarmupStableDecay(**wsd_args).num_decay_steps, "1-sqrt")
    assert next(c for c in cli.trainer.callbacks if isinstance(c, ScaleLR)).factor == 2.0
    lrs = [lrs[0] for lrs in cli.model.recorder.lrs]
    # 8 steps per epoch, 32 steps: warmup 8 from 0.1 x peak, stable 16, 1-sqrt decay over the last 8;
    # the peak is 0.1 x sqrt(4 / 1) = 0.2 (ScaleLR, sqrt rule)
    assert lrs[8:24] == [pytest.approx(0.2, rel=1e-15)] * 16
    assert lrs[0] == pytest.approx(0.02, rel=1e-12) and lrs[-1] == pytest.approx(0.02 + 0.18 * (1 - (7 / 8) ** 0.5))


# ----------------------------------------------------------------------------------------------- DDP
class DumpSteps(TinyModel):
    """Writes its LRs and final global step to ``<out>/rank<r>.json`` (module level: ddp_spawn pickles it)."""

    def __init__(self, out: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out

    def on_train_end(self) -> None:
        data = {"lrs": [lrs[0] for lrs in self.recorder.lrs], "steps": self.trainer.global_step}
        (Path(self.out) / f"rank{self.global_rank}.json").write_text(json.dumps(data))


@pytest.mark.slow
def test_ddp_every_rank_decays_and_stops_at_the_same_step(tmp_path: Path) -> None:
    callback = wsd()
    model = DumpSteps(str(tmp_path), n=80, batch_size=4)  # 10 steps per epoch on each of 2 ranks
    callbacks = [callback, DecideAfterEpoch(callback, 1, 6)]
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]
    fit_spawn(
        lambda: make_trainer(tmp_path, callbacks, devices=2, strategy="ddp_spawn", max_epochs=50).fit(model), outputs
    )
    ranks = [json.loads(path.read_text()) for path in outputs]
    assert ranks[0] == ranks[1]
    assert ranks[0]["steps"] == 26, "decided after epoch 1 (step 20): 6 steps of cooldown"
    single, _ = fit(tmp_path / "single", wsd(num_decay_steps=6), max_steps=26)
    assert ranks[0]["lrs"] == single
