"""``warmup="auto"``: 2/(1-beta2) steps for Adam-type optimizers, capped at a fraction of the run, none for SGD;
decided at the fresh fit and kept in the checkpoint."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import torch

from lightning_lr import CosineAnnealing, WarmupLinear, WarmupStableDecay
from lightning_lr.planner import AutoWarmup
from lightning_lr.schedules import Timeline
from tests.helpers import CrashAtStep, CrashError, TinyModel, make_trainer


def lrs_of(tmp_path: Path, callback: Any, optimizer: str = "adamw", ckpt: Path | None = None, **kw: Any) -> list[float]:
    model = TinyModel(optimizer=optimizer, lr=0.1, n=40, batch_size=4)  # 10 steps per epoch; AdamW betas (0.9, 0.99)
    trainer = make_trainer(tmp_path, [callback, *kw.pop("extra", [])], **{"max_steps": 40, "max_epochs": -1, **kw})
    with contextlib.suppress(CrashError):
        trainer.fit(model, ckpt_path=ckpt)
    return [lrs[0] for lrs in model.recorder.lrs]


def test_the_rule_reads_beta2_and_caps_at_a_tenth_of_the_run() -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    adam = torch.optim.Adam(params, betas=(0.9, 0.95))
    assert AutoWarmup().steps(adam, Timeline(total=10_000)) == 40.0  # 2 / (1 - 0.95)
    assert AutoWarmup().steps(adam, Timeline(total=200)) == 20.0  # capped at 10%
    assert AutoWarmup(cap=0.5).steps(adam, Timeline(total=200)) == 40.0
    assert AutoWarmup().steps(adam, Timeline(total=float("inf"))) == 40.0
    assert AutoWarmup().steps(torch.optim.SGD(params, lr=0.1, momentum=0.9), Timeline(total=1000)) == 0.0
    assert "beta2=0.95" in AutoWarmup().explain(adam, Timeline(total=200))


def test_adam_gets_a_linear_warmup_of_the_capped_length(tmp_path: Path) -> None:
    lrs = lrs_of(tmp_path, CosineAnnealing(warmup="auto"))  # 2/(1-0.99)=200 steps, capped at 10% of 40: 4
    fixed = lrs_of(tmp_path / "b", CosineAnnealing(warmup=4))
    assert lrs == pytest.approx(fixed, rel=1e-12)
    assert lrs[0] == 0.0 and lrs[4] == pytest.approx(0.1)


def test_sgd_gets_no_warmup(tmp_path: Path) -> None:
    lrs = lrs_of(tmp_path, CosineAnnealing(warmup="auto"), optimizer="sgd")
    assert lrs == pytest.approx(lrs_of(tmp_path / "b", CosineAnnealing(), optimizer="sgd"), rel=1e-12)
    assert lrs[0] == pytest.approx(0.1)


def test_warmup_linear_and_wsd_take_auto(tmp_path: Path) -> None:
    lrs = lrs_of(tmp_path, WarmupLinear(num_warmup_steps="auto"))
    assert lrs == pytest.approx(lrs_of(tmp_path / "b", WarmupLinear(num_warmup_steps=4)), rel=1e-12)
    wsd = lrs_of(tmp_path / "c", WarmupStableDecay(num_warmup_steps="auto", num_decay_steps=10))
    assert wsd == pytest.approx(
        lrs_of(tmp_path / "d", WarmupStableDecay(num_warmup_steps=4, num_decay_steps=10)), rel=1e-12
    )


def test_the_decision_is_kept_on_resume_even_with_a_longer_run(tmp_path: Path) -> None:
    whole = lrs_of(tmp_path / "a", CosineAnnealing(warmup="auto"))
    ckpt = tmp_path / "at3.ckpt"
    first = lrs_of(tmp_path / "b", CosineAnnealing(warmup="auto"), extra=[CrashAtStep(3, ckpt)])
    rest = lrs_of(tmp_path / "c", CosineAnnealing(warmup="auto"), ckpt=ckpt)
    assert first[:3] + rest == pytest.approx(whole, rel=1e-12), "a resume mid-warmup continues the same warmup"
    wsd = WarmupStableDecay(num_warmup_steps="auto", num_decay_steps=10)
    lrs_of(tmp_path / "d", wsd, extra=[CrashAtStep(3, ckpt)])
    wsd = WarmupStableDecay(num_warmup_steps="auto", num_decay_steps=10)
    longer = lrs_of(tmp_path / "e", wsd, ckpt=ckpt, max_steps=80)  # WSD re-plans a longer run: a longer stable phase
    assert longer[1] == pytest.approx(0.1), "the warmup decided for 40 steps (4) is kept, not re-derived (8)"


def test_auto_needs_a_step_clock() -> None:
    with pytest.raises(ValueError, match="interval='step'"):
        CosineAnnealing(warmup="auto", interval="epoch")
    with pytest.raises(ValueError, match="num_warmup_steps='auto'"):
        WarmupStableDecay(num_warmup_steps="auto", num_decay_steps=2, interval="epoch")
    with pytest.raises(ValueError, match="cap"):
        AutoWarmup(cap=1.5)
