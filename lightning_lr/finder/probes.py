"""Probes: confirm the range test's pick with short runs from the restored snapshot.

After the range test, a short search over candidate LRs around the curve's suggestion: each probe
trains for the same number of optimizer steps at one constant LR, from the same weights (the snapshot
taken before the probes, restored before each probe) on the same batches (a fresh pass over the train
dataloaders from the same RNG states), and is scored by its loss at the end; the lowest LR whose probe
is within batch noise of the best probe's is the suggestion. Everything is restored afterwards, as
after the range test. docs/finder.md has the rule and the measurements it was chosen on.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info

from lightning_lr.finder.budget import Budget, plan_budget
from lightning_lr.finder.result import FinderResult, Probe
from lightning_lr.finder.search import FinderConfig, mean_across_ranks, progress_bar, ratios_of, run_range_test, set_lr
from lightning_lr.finder.state import Snapshot
from lightning_lr.finder.steps import Recorder, Stepper
from lightning_lr.finder.validation import Validator
from lightning_lr.train_data import load_train_dataloader, run_steps

SPACING = 10**0.5
"""The search moves by this factor (half a decade); its last probe halves it."""
TAIL_FRACTION = 0.25
"""Without ``monitor``, a probe's score is the mean loss of this last fraction of its steps."""
NOISE_Z = 2.0
"""A lower-LR probe is picked when its tail is within this many paired standard errors of the best's."""
MAX_SKIPPED = 1000


def next_lr(tried: Sequence[tuple[float, float]], center: float, low: float, high: float) -> float | None:
    r"""The LR of the next probe, given the ``(lr, score)`` pairs probed so far; ``None``: the search is done.

    First the bracket :math:`c,\ c s,\ c/s` around the curve's suggestion :math:`c` (:math:`s` = :data:`SPACING`),
    each kept only inside :math:`[low, high]`. Then, while the best-scored probe is the lowest one probed, one step
    :math:`s` further down; while it is the highest, one step further up; once it lies between two probes, one probe
    halfway (in log-LR) towards its better neighbour, and the search ends.

    Example:
        >>> next_lr([], 0.01, 1e-8, 1.0)
        0.01
        >>> round(next_lr([(0.01, 0.5)], 0.01, 1e-8, 1.0), 5)  # up
        0.03162
        >>> up, down = 0.01 * SPACING, 0.01 / SPACING
        >>> round(next_lr([(0.01, 0.5), (up, 0.4), (down, 0.6)], 0.01, 1e-8, 1.0), 4)  # the best is the highest: up
        0.1
        >>> round(next_lr([(0.01, 0.5), (up, 0.7), (down, 0.6)], 0.01, 1e-8, 1.0), 4)  # bracketed: halfway down
        0.0056
    """
    done = {lr for lr, _ in tried}

    def fresh(lr: float) -> bool:
        return low <= lr <= high and all(abs(math.log(lr / d)) > 1e-6 for d in done)

    for lr in (center, center * SPACING, center / SPACING):
        if fresh(lr):
            return lr
    probed = sorted(tried)
    if not probed:
        return None
    best = min(range(len(probed)), key=lambda i: (probed[i][1], probed[i][0]))
    lr = probed[best][0]
    if not math.isfinite(probed[best][1]):
        step = probed[0][0] / SPACING  # every probe diverged: go down
        return step if fresh(step) else None
    if best == 0:
        return lr / SPACING if fresh(lr / SPACING) else None
    if best == len(probed) - 1:
        return lr * SPACING if fresh(lr * SPACING) else None
    left, right = probed[best - 1], probed[best + 1]
    other = left[0] if left[1] < right[1] else right[0]
    middle = math.sqrt(lr * other)
    return middle if fresh(middle) and abs(math.log(other / lr)) > 0.75 * math.log(SPACING) else None


class _Prober:
    """Runs one probe at a time from a snapshot; restores the snapshot before each probe."""

    def __init__(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loaders: Any, steps: int, validator: Validator | None
    ) -> None:
        self.trainer, self.module, self.loaders, self.steps, self.validator = (
            trainer,
            pl_module,
            loaders,
            steps,
            validator,
        )
        self.optimizers = list(trainer.optimizers)
        self.ratios = ratios_of(self.optimizers)
        self.snapshot = Snapshot.of_fit(trainer, pl_module, loaders)
        self.bar: Any = None

    def run(self, lr: float) -> Probe:
        """Restore the snapshot, then train ``steps`` optimizer steps at ``lr`` and score them."""
        self.snapshot.restore()
        probe, strategy, skipped = Probe(lr), self.trainer.strategy, 0
        with Stepper(self.trainer, self.module, self.loaders) as stepper:
            while len(probe.losses) < self.steps:
                set_lr(self.optimizers, self.ratios, lr)
                value = mean_across_ranks(strategy, stepper.point())
                if value is None:
                    skipped += 1
                    if skipped > MAX_SKIPPED:
                        raise RuntimeError(
                            f"LRFinder: `training_step` returned no loss for {MAX_SKIPPED} batches in a row in a probe."
                        )
                    continue
                skipped = 0
                probe.losses.append(value)
                if self.bar is not None:
                    self.bar.update(1)
                    self.bar.set_postfix(lr=f"{lr:.3g}", loss=f"{value:.4g}", refresh=False)
                if strategy.reduce_boolean_decision(not math.isfinite(value), all=False):
                    probe.stop = f"loss was {value} at step {len(probe.losses)}"
                    return probe
            score = self._score(probe.losses, stepper)
        probe.score = float(strategy.broadcast(score, src=0))  # every rank takes the same next step of the search
        return probe

    def _score(self, losses: list[float], stepper: Stepper) -> float:
        if self.validator is None:
            tail = losses[-max(1, math.ceil(TAIL_FRACTION * len(losses))) :]
            return math.fsum(tail) / len(tail)
        self.validator.recorder = stepper.recorder
        value = mean_across_ranks(self.trainer.strategy, self.validator.evaluate())
        return math.inf if value is None or not math.isfinite(value) else value


def search(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    loaders: Any,
    center: float,
    bounds: tuple[float, float],
    budget: Budget,
    validator: Validator | None = None,
) -> list[Probe]:
    """Up to ``budget.candidates`` probes of ``budget.probe_steps`` chosen by :func:`next_lr` around ``center``,
    inside ``bounds``; the state is restored before each probe and after the last (also when a step raises: the
    exception then propagates). Returns the probes in increasing LR."""
    rank_zero_info(
        f"LRFinder: up to {budget.candidates} probes of {budget.probe_steps} steps around lr={center:.3g}, each from "
        "the same weights on the same batches; everything is restored afterwards."
    )
    prober = _Prober(trainer, pl_module, loaders, budget.probe_steps, validator)
    prober.bar = progress_bar(trainer, budget.candidates * budget.probe_steps, "LRFinder probes")
    probes: list[Probe] = []
    try:
        while len(probes) < budget.candidates:
            lr = next_lr([(p.lr, p.score) for p in probes], center, *bounds)
            if lr is None:
                break
            probes.append(prober.run(lr))
    finally:
        if prober.bar is not None:
            prober.bar.close()
        prober.snapshot.restore()
    return sorted(probes, key=lambda p: p.lr)


def within_noise(probe: Probe, best: Probe) -> bool:
    r"""Whether ``probe`` scores no worse than ``best`` beyond the batch noise of their scored tails.

    Both probes saw the same batches, so their last :math:`n` losses (the tail each score averages) pair up step by
    step; with :math:`d_i` = ``probe``'s loss minus ``best``'s on the :math:`i`-th of those steps, :math:`\bar d`
    their mean and :math:`s_d` their standard deviation, ``probe`` is within noise when

    .. math:: \bar d \le z\, s_d / \sqrt{n}, \qquad z = 2 \ (\text{NOISE_Z}),

    a paired one-sided test at about 2.5%. Probes of different lengths (one stopped early) or tails under 2 steps
    are never within noise.

    Example:
        >>> best = Probe(0.1, [1.0, 0.9, 0.5, 0.6, 0.4, 0.5, 0.6, 0.4], 0.475)
        >>> within_noise(Probe(0.03, [1.0, 0.9, 0.6, 0.5, 0.5, 0.4, 0.7, 0.4], 0.5), best)  # same ups and downs
        True
        >>> within_noise(Probe(0.03, [1.0, 0.9, 0.8, 0.8, 0.7, 0.8, 0.8, 0.7], 0.75), best)  # worse on every step
        False
    """
    n = math.ceil(TAIL_FRACTION * len(best.losses))
    if len(probe.losses) != len(best.losses) or n < 2:
        return False
    diffs = [a - b for a, b in zip(probe.losses[-n:], best.losses[-n:])]
    mean = math.fsum(diffs) / n
    spread = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    return mean <= NOISE_Z * spread / math.sqrt(n)


def pick(result: FinderResult, probes: list[Probe], steps: int, tail_scored: bool = True) -> FinderResult:
    """Record ``probes`` in ``result`` and make the lowest LR whose probe is within noise of the lowest-scored one
    the suggestion (``rule="probes"``; :func:`within_noise`, for probes scored on their own losses,
    ``tail_scored``; probes scored on a validation metric, one number each, take the lowest score, a tie to the
    lower LR). The run is many times longer than a probe, so among LRs a probe cannot tell apart the lower one is
    the safer. When every probe stopped on a NaN/inf loss the result has no suggestion, and ``reason`` says why."""
    result.probes, result.probe_steps, result.curve_lr = probes, steps, result.suggestion
    finite = [p for p in probes if math.isfinite(p.score)]
    if not finite:
        result.suggestion, result.rule = None, None
        result.reason = (
            f"every probe stopped on a NaN/inf loss (the lowest, lr={probes[0].lr:.3g}: {probes[0].stop}); lower "
            "`max_lr` or look for the cause of the NaN."
        )
        return result
    best = min(finite, key=lambda p: (p.score, p.lr))
    if tail_scored:
        best = next(p for p in sorted(finite, key=lambda p: p.lr) if p is best or within_noise(p, best))
    result.suggestion, result.rule = best.lr, "probes"
    return result


def choose_lr(
    trainer: pl.Trainer, pl_module: pl.LightningModule, config: FinderConfig, val_source: Any = None
) -> FinderResult:
    """The range test, then the probe search around its suggestion, within the budget :func:`plan_budget` takes
    from the run's length; decided on rank 0 and broadcast, so every rank returns the same result. Everything the
    test and the probes change is restored."""
    start = time.perf_counter()
    loaders = load_train_dataloader(trainer)  # the one place the finder loads them: before any snapshot
    budget = plan_budget(run_steps(trainer), config.num_training_steps, config.probe_steps, config.confirm)
    if budget.range_points == 0:
        result = FinderResult.not_run(budget.note or "no budget", config.suggestion)
        result.run_steps = budget.run_steps
        return result
    _warn_over_half(budget)
    config = replace(config, num_training_steps=budget.range_points)
    result = run_range_test(trainer, pl_module, config, loaders, val_source)
    result.run_steps = budget.run_steps
    if budget.probe_steps == 0 or result.suggestion is None:
        if config.confirm:
            result.probe_note = (
                budget.note if budget.probe_steps == 0 else "the curve gave no suggestion to probe around"
            )
        return result
    high = min(config.max_lr, result.lrs[result.usable]) if result.diverged else config.max_lr
    validator = None
    if config.monitor is not None:
        validator = Validator(trainer, pl_module, config.monitor, config.val_batches, Recorder())
        validator.source = val_source
    note = _cycle_note(trainer, pl_module, budget.probe_steps) or budget.note
    if note is not None:
        rank_zero_info(f"LRFinder: {note}.")
    probes = search(trainer, pl_module, loaders, result.suggestion, (config.min_lr, high), budget, validator)
    decided = None
    if trainer.is_global_zero:
        decided = pick(copy.copy(result), probes, budget.probe_steps, validator is None)
        decided.probe_note = note
        decided.seconds = time.perf_counter() - start
    final: FinderResult | None = trainer.strategy.broadcast(decided, src=0)
    if final is None:  # pragma: no cover - rank 0 always has a result
        raise RuntimeError("LRFinder: rank 0 sent no result.")
    return final


def _cycle_note(trainer: pl.Trainer, pl_module: pl.LightningModule, steps: int) -> str | None:
    """Say so when a probe needs more batches than an epoch has: it then passes over the loader again."""
    per_step = int(trainer.accumulate_grad_batches) if pl_module.automatic_optimization else 1
    batches = float(trainer.num_training_batches)
    if not math.isfinite(batches) or steps * per_step <= batches:
        return None
    return (
        f"a probe takes {steps * per_step} batches but an epoch has {int(batches)}: each probe passes over the train "
        "data more than once (a new pass from the same RNG states, so every probe sees the same batches)"
    )


def _warn_over_half(budget: Budget) -> None:
    """Only ``probe_steps`` given by the user can take the probes over half of the run: say so."""
    if budget.probe_steps and budget.run_steps is not None and budget.total > budget.run_steps / 2:
        warnings.warn(
            f"LRFinder spends up to {budget.total} optimizer steps choosing ({budget.range_points}-point range test + "
            f"{budget.candidates} probes of {budget.probe_steps}), more than half of the run ({budget.run_steps:g}), "
            "as `probe_steps` asks. Leave it unset to size the probes from the run.",
            stacklevel=3,
        )
