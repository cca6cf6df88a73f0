"""ScaleLR: the LR follows the effective batch (batch x accumulation x ranks), once, at a fresh fit."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from lightning_lr import CosineAnnealing, LRFinder, OneCycle, ScaleLR, WarmupStableDecay
from tests.ddp_teardown import fit_spawn
from tests.helpers import CrashAtStep, CrashError, TinyModel, make_trainer, random_data


def lrs_of(model: TinyModel, group: int = 0) -> list[float]:
    return [lrs[group] for lrs in model.recorder.lrs]


def fit(tmp_path: Path, callbacks: list[Any], model: TinyModel | None = None, **trainer: Any) -> TinyModel:
    model = model or TinyModel(n=32, batch_size=4)
    make_trainer(tmp_path, callbacks, **{"max_epochs": 2, **trainer}).fit(model)
    return model


@pytest.fixture
def info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero")
    return caplog


def scale_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("ScaleLR")]


# ----------------------------------------------------------------------------------------------- the rule
def test_linear_rule_scales_the_configured_lr_once_and_says_so(tmp_path: Path, info: Any) -> None:
    model = fit(tmp_path, [ScaleLR("linear", reference_batch_size=2)], TinyModel(n=32, batch_size=4, groups=2))
    assert set(lrs_of(model, 0)) == {0.2}
    assert lrs_of(model, 1) == pytest.approx([0.02] * 16, rel=1e-12)
    assert scale_lines(info) == ["ScaleLR: LR scaled x2 for batch 4 = 4 x 1 x 1 rank, reference 2, linear rule."]


@pytest.mark.parametrize("scale_first", [True, False])
def test_schedule_callbacks_take_the_scaled_lr_as_base_whatever_the_order(tmp_path: Path, scale_first: bool) -> None:
    scale = ScaleLR("linear", reference_batch_size=8)
    callbacks: list[Any] = [scale, CosineAnnealing()] if scale_first else [CosineAnnealing(), scale]
    scaled = fit(tmp_path / "a", callbacks, TinyModel(n=32, batch_size=4, lr=0.2))
    configured = fit(tmp_path / "b", [CosineAnnealing()], TinyModel(n=32, batch_size=4, lr=0.1))
    assert lrs_of(scaled) == pytest.approx(lrs_of(configured), rel=1e-15)
    assert scale.factor == 0.5


def test_accumulation_counts_in_the_effective_batch_sqrt_rule(tmp_path: Path, info: Any) -> None:
    scale = ScaleLR("sqrt", reference_batch_size=4)
    model = fit(tmp_path, [scale, WarmupStableDecay(2, 3)], accumulate_grad_batches=4, max_epochs=5)
    assert scale.effective_batch_size == 16 and scale.factor == 2.0
    assert max(lrs_of(model)) == pytest.approx(0.2, rel=1e-15)
    assert scale_lines(info) == ["ScaleLR: LR scaled x2 for batch 16 = 4 x 4 x 1 rank, reference 4, sqrt rule."]


def test_scale_lr_none_does_nothing(tmp_path: Path) -> None:
    model = fit(tmp_path, [ScaleLR(None)])
    assert set(lrs_of(model)) == {0.1}


def test_a_batch_size_that_cannot_be_read_is_asked_for(tmp_path: Path) -> None:
    class SelfBatching(TinyModel):
        def train_dataloader(self) -> DataLoader:
            data = random_data(32, self.features)
            return DataLoader([(data.tensors[0][i : i + 4], data.tensors[1][i : i + 4]) for i in range(0, 32, 4)], None)

    with pytest.raises(ValueError, match=r"pass it as `ScaleLR\(batch_size=\.\.\.\)`"):
        fit(tmp_path / "a", [ScaleLR(reference_batch_size=2)], SelfBatching())
    model = fit(tmp_path / "b", [ScaleLR(reference_batch_size=2, batch_size=4)], SelfBatching())
    assert set(lrs_of(model)) == {0.2}


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"scale_lr": "cubic"}, ValueError, ["scale_lr", "'linear'", "'sqrt'", "'cubic'"]),
        ({"reference_batch_size": 0}, ValueError, ["reference_batch_size", "0"]),
        ({"reference_batch_size": 2.5}, TypeError, ["reference_batch_size", "2.5"]),
        ({"batch_size": True}, TypeError, ["batch_size", "True"]),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict[str, Any], error: type[Exception], words: list[str]) -> None:
    with pytest.raises(error) as raised:
        ScaleLR(**kwargs)
    assert all(w in str(raised.value) for w in words), str(raised.value)


# ----------------------------------------------------------------------------------------------- only once


@pytest.mark.parametrize("schedule", [True, False], ids=["with-schedule", "alone"])
def test_a_resume_does_not_scale_again(tmp_path: Path, schedule: bool) -> None:
    def callbacks(*extra: Callback) -> list[Any]:
        return [ScaleLR(reference_batch_size=2), *([CosineAnnealing()] if schedule else []), *extra]

    full = fit(tmp_path / "full", callbacks())
    before = TinyModel(n=32, batch_size=4)
    with contextlib.suppress(CrashError):
        fit(tmp_path / "a", callbacks(CrashAtStep(5, tmp_path / "c")), before)
    after = TinyModel(n=32, batch_size=4)
    make_trainer(tmp_path / "b", callbacks(), max_epochs=2).fit(after, ckpt_path=tmp_path / "c")
    assert lrs_of(before) + lrs_of(after) == lrs_of(full)
    assert torch.load(tmp_path / "c", weights_only=False)["callbacks"]["ScaleLR"] == {
        "version": 1,
        "factor": 2.0,
        "effective_batch_size": 4,
    }


def test_a_resume_with_another_batch_warns_and_keeps_the_lr(tmp_path: Path) -> None:
    with contextlib.suppress(CrashError):
        fit(tmp_path / "a", [ScaleLR(reference_batch_size=2), CrashAtStep(3, tmp_path / "c")])
    after = TinyModel(n=32, batch_size=4)
    trainer = make_trainer(tmp_path / "b", [ScaleLR(reference_batch_size=2)], max_epochs=2, accumulate_grad_batches=2)
    with pytest.warns(UserWarning, match="effective batch of 8 .*scaled for 4 .*not rescaled"):
        trainer.fit(after, ckpt_path=tmp_path / "c")
    assert set(lrs_of(after)) == {0.2}


def test_a_second_fit_does_not_scale_twice(tmp_path: Path) -> None:
    model = TinyModel(n=32, batch_size=4)
    trainer = make_trainer(tmp_path, [ScaleLR(reference_batch_size=2)], max_epochs=1)
    trainer.fit(model)
    trainer.fit_loop.max_epochs = 2
    trainer.fit(model)  # configure_optimizers builds a new optimizer: it gets the same factor, once
    assert len(model.recorder.lrs) == 16 and set(lrs_of(model)) == {0.2}


# ----------------------------------------------------------------------------------------------- with the finder
@pytest.mark.parametrize("finder_first", [True, False])
def test_the_finders_suggestion_is_for_the_real_batch_and_is_not_scaled(
    tmp_path: Path, finder_first: bool, info: Any
) -> None:
    torch.manual_seed(0)
    finder = LRFinder(min_lr=1e-3, max_lr=10.0, num_training_steps=30, smoothing=0.0)
    scale = ScaleLR(reference_batch_size=4)
    callbacks: list[Any] = [finder, scale] if finder_first else [scale, finder]
    model = fit(tmp_path, [*callbacks, CosineAnnealing()], TinyModel(n=512, batch_size=16), max_epochs=1)
    assert finder.result is not None and finder.result.suggestion is not None, finder.result
    first_training_step = lrs_of(model)[-32]  # before it: the range test's own steps
    assert first_training_step == pytest.approx(finder.result.suggestion, rel=1e-12)
    assert scale.factor == 1.0
    assert len(scale_lines(info)) == 1 and "LR not scaled: LRFinder's suggestion" in scale_lines(info)[0]


def test_absolute_lrs_of_a_schedule_are_flagged(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="OneCycle was given absolute LRs"):
        fit(tmp_path, [ScaleLR(reference_batch_size=2), OneCycle(max_lr=0.5)])


# ----------------------------------------------------------------------------------------------- DDP
class DumpLRs(TinyModel):
    """Writes the LR of every optimizer step to ``<out>/rank<r>.json`` (module level: ddp_spawn pickles it)."""

    def __init__(self, out: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out

    def on_train_end(self) -> None:
        (Path(self.out) / f"rank{self.global_rank}.json").write_text(json.dumps(lrs_of(self)))


@pytest.mark.slow
def test_ddp_counts_every_rank_in_the_effective_batch(tmp_path: Path) -> None:
    model = DumpLRs(str(tmp_path), n=64, batch_size=4)
    callbacks = [ScaleLR("sqrt", reference_batch_size=4), CosineAnnealing()]
    trainer = make_trainer(
        tmp_path, callbacks, devices=2, strategy="ddp_spawn", max_epochs=2, accumulate_grad_batches=2
    )
    outputs = [tmp_path / f"rank{r}.json" for r in (0, 1)]
    fit_spawn(lambda: trainer.fit(model), outputs)
    ranks = [json.loads(path.read_text()) for path in outputs]
    assert ranks[0] == ranks[1]
    # 4 per rank x 2 accumulated x 2 ranks = 16 = 4 x the reference: the sqrt rule doubles the LR
    single = TinyModel(n=32, batch_size=4, lr=0.2)  # the batches of one rank, the LR doubled by hand
    fit(tmp_path / "single", [CosineAnnealing()], single, accumulate_grad_batches=2)
    assert len(ranks[0]) == 8
    assert ranks[0] == pytest.approx(lrs_of(single), rel=1e-12)
    assert ranks[0][0] == pytest.approx(0.2, rel=1e-15)
