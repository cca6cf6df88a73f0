"""Arms that change the optimizer: schedule-free and learning-rate-free ones against AdamW with a schedule.

The "anytime" comparison: the schedule-free arm is budget-independent (nothing in it depends on the run's
length), so one run at the longest budget is read at every shorter one, against one cosine (or WSD) run per
budget. Its probes score the evaluation weights: :func:`scored` wraps them in ``ScheduleFree.evaluation``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lightning.pytorch.callbacks import Callback

from benchmarks.harness.tasks import Arm
from lightning_lr import CosineAnnealing, ScheduleFree, WarmupStableDecay

WSD = {"num_warmup_steps": 0.1, "num_decay_steps": 0.2, "decay_type": "1-sqrt"}  # the WarmupStableDecay arm's


def optimizer_arms(peak_lr: float) -> dict[str, Arm]:
    """AdamWScheduleFree + ScheduleFree (and + a WSD cooldown), AdamW + WSD, AdamW + cosine, Prodigy + cosine."""
    return {
        "AdamWScheduleFree + ScheduleFree": Arm(
            lambda: [ScheduleFree()],
            f"`schedulefree.AdamWScheduleFree(lr={peak_lr:g}, weight_decay=0.01)` + `ScheduleFree()`: constant LR, "
            "one run read at every budget (anytime)",
            optimizer="AdamWScheduleFree",
            budget_independent=True,
        ),
        "AdamWScheduleFree + WSD": Arm(
            lambda: [ScheduleFree(), WarmupStableDecay(**WSD)],  # type: ignore[arg-type]
            "AdamWScheduleFree + `ScheduleFree()` + `WarmupStableDecay(0.1, 0.2, '1-sqrt')`: a cooldown on top",
            optimizer="AdamWScheduleFree",
        ),
        "AdamW + WSD": Arm(
            lambda: [WarmupStableDecay(**WSD)],  # type: ignore[arg-type]
            "`AdamW(weight_decay=0.01)` + `WarmupStableDecay(0.1, 0.2, '1-sqrt')`",
            optimizer="AdamW",
        ),
        "AdamW + CosineAnnealing": Arm(
            lambda: [CosineAnnealing()], "`AdamW(weight_decay=0.01)` + `CosineAnnealing()`", optimizer="AdamW"
        ),
        "Prodigy + CosineAnnealing": Arm(
            lambda: [CosineAnnealing()],
            "`prodigyopt.Prodigy(lr=1.0, weight_decay=0.01)` + `CosineAnnealing()`: the multiplier decays, d adapts",
            lr=1.0,
            optimizer="Prodigy",
        ),
    }


def scored(callbacks: Sequence[Callback], score: Callable[[Any, str], float]) -> Callable[[Any, str], float]:
    """``score``, at the evaluation weights (BatchNorm recomputed) when ``callbacks`` hold a ``ScheduleFree``."""
    schedule_free = next((c for c in callbacks if isinstance(c, ScheduleFree)), None)
    if schedule_free is None:
        return score

    def at_x(module: Any, split: str) -> float:
        with schedule_free.evaluation(module.trainer):
            return score(module, split)

    return at_x
