"""The options every schedule callback shares are declared once and are keyword-only everywhere."""

from __future__ import annotations

import inspect
import typing

import pytest

import lightning_lr
from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.callbacks.options import LROptions, RunOptions, ScheduleOptions

SHARED = ("interval", "warmup", "warmup_start_factor", "optimizers", "log_lr", "log_loss", "count", "total")
PUBLIC = [getattr(lightning_lr, name) for name in lightning_lr.__all__]  # the names load on first use
CALLBACKS = sorted(
    (c for c in PUBLIC if isinstance(c, type) and issubclass(c, ScheduleCallback)), key=lambda c: c.__name__
)


def test_the_options_dictionary_declares_exactly_the_base_class_keyword_arguments() -> None:
    parameters = inspect.signature(ScheduleCallback.__init__).parameters
    keyword_only = {n for n, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert (
        keyword_only
        == set(SHARED)
        == set(ScheduleOptions.__annotations__) | set(LROptions.__annotations__) | set(RunOptions.__annotations__)
    )
    hints = typing.get_type_hints(ScheduleCallback.__init__)
    declared = typing.get_type_hints(ScheduleOptions)
    assert {n: hints[n] for n in SHARED} == {n: declared[n] for n in SHARED}


@pytest.mark.parametrize("cls", CALLBACKS, ids=[c.__name__ for c in CALLBACKS])
def test_no_callback_takes_a_shared_option_positionally(cls: type[ScheduleCallback]) -> None:
    assert len(CALLBACKS) >= 11
    parameters = inspect.signature(cls.__init__).parameters
    positional = [n for n, p in parameters.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert not set(positional) & set(SHARED), positional
    forwarded = [p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert cls is ScheduleCallback or forwarded, f"{cls.__name__} must forward the shared options with **options"


def test_a_shared_option_given_positionally_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        lightning_lr.StepDecay(10, 0.1, "epoch")  # type: ignore[call-arg,misc]
    assert lightning_lr.StepDecay(10, 0.1, interval="epoch").interval == "epoch"
