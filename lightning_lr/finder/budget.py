r"""How many optimizer steps the finder spends choosing: the range test's points and the probes' length.

The steps spent choosing (range test + every probe) are taken from the run's own length :math:`T`
(optimizer steps of the whole fit, ``trainer.estimated_stepping_batches``), so a short run gets a
short test:

.. math::

    B = \lfloor T/2 \rfloor,\qquad k = \lfloor 0.075\,T \rfloor,\qquad
    n = \begin{cases}
        \min(100,\ B - 4k) & \text{if } k \ge 15 \text{ and } B - 4k \ge 40
            \text{ (range test + up to 4 probes of } k \text{ steps)}\\
        \min(100,\ B) & \text{otherwise (the range test alone)}
    \end{cases}

so choosing never takes more than half of one run (the probe search may stop before its fourth
probe). No test runs when :math:`B` is below the 5 points a suggestion needs. A ``num_training_steps``
or ``probe_steps`` given by the user is kept; docs/finder.md says how the numbers were chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lightning_lr.finder.suggest import MIN_POINTS

CHOOSING_FRACTION = 0.5
"""At most this fraction of one run's optimizer steps goes to choosing (range test + probes)."""
MAX_RANGE_POINTS = 100
"""The longest range test the finder runs on its own (Lightning's and fastai's 100)."""
MIN_RANGE_POINTS = 40
"""Probes run only when a range test of at least this many points still fits beside them."""
CANDIDATES = 4
"""The probe search takes at most this many probes."""
PROBE_FRACTION = 0.075
"""A probe lasts this fraction of the run."""
MIN_PROBE_STEPS = 15
"""A probe shorter than this says too little: the run is then too short for probes."""
UNKNOWN_RUN_PROBE_STEPS = 25
"""Probe length when the run's length is unknown (an endless run, a stream without ``max_steps``)."""


@dataclass(frozen=True)
class Budget:
    """The finder's steps: ``range_points`` for the range test, then up to ``candidates`` probes of ``probe_steps``.

    Attributes:
        range_points: Points (optimizer steps) of the range test; 0: no test (the run is too short).
        probe_steps: Optimizer steps of each probe; 0: no probes.
        candidates: At most this many probes.
        run_steps: The run's length in optimizer steps (``None`` when unknown).
        note: Why there are no probes or no test, or why the budget is not the rule's (``None``: it is).
    """

    range_points: int
    probe_steps: int
    candidates: int
    run_steps: float | None = None
    note: str | None = None

    @property
    def total(self) -> int:
        """Optimizer steps spent choosing, at most (the range test may stop early, the search before its last probe)."""
        return self.range_points + self.candidates * self.probe_steps


def plan_budget(
    run_steps: float, range_points: int | None = None, probe_steps: int | None = None, confirm: bool = True
) -> Budget:
    """The finder's budget for a run of ``run_steps`` optimizer steps (``inf``, ``nan`` or <= 0: unknown).

    ``range_points`` / ``probe_steps`` given by the user are kept as they are; the rest follows the rule
    above. ``confirm=False``: no probes.

    Raises:
        ValueError: ``probe_steps`` was given and the probes alone would take more steps than the whole run.

    Example:
        >>> plan_budget(1000)
        Budget(range_points=100, probe_steps=75, candidates=4, run_steps=1000.0, note=None)
        >>> plan_budget(250)
        Budget(range_points=53, probe_steps=18, candidates=4, run_steps=250.0, note=None)
        >>> plan_budget(90).range_points, plan_budget(90).probe_steps
        (45, 0)
    """
    if not (math.isfinite(run_steps) and run_steps > 0):
        return _unknown_run(range_points, probe_steps, confirm)
    budget = math.floor(CHOOSING_FRACTION * run_steps)
    if probe_steps is not None and confirm and CANDIDATES * probe_steps > run_steps:
        raise ValueError(
            f"LRFinder(probe_steps={probe_steps}): {CANDIDATES} probes of {probe_steps} steps take "
            f"{CANDIDATES * probe_steps} optimizer steps, more than the whole run ({run_steps:g}); leave `probe_steps` "
            "unset (the finder sizes the probes from the run) or lower it."
        )
    steps = probe_steps if probe_steps is not None else math.floor(PROBE_FRACTION * run_steps)
    room = budget - CANDIDATES * steps
    if range_points is None:
        fits = steps >= MIN_PROBE_STEPS and room >= MIN_RANGE_POINTS
    else:
        fits = steps >= MIN_PROBE_STEPS and range_points + CANDIDATES * steps <= budget
    if confirm and (fits or probe_steps is not None):
        n = range_points if range_points is not None else min(MAX_RANGE_POINTS, max(room, MIN_RANGE_POINTS))
        return Budget(n, steps, CANDIDATES, float(run_steps))
    if range_points is None and budget < MIN_POINTS:
        note = (
            f"the run ({run_steps:g} steps) is too short for a range test of {MIN_POINTS} points or more in "
            f"{CHOOSING_FRACTION:g} of it; pass `num_training_steps` to run one anyway"
        )
        return Budget(0, 0, 0, float(run_steps), note)
    n = range_points if range_points is not None else min(MAX_RANGE_POINTS, budget)
    if not confirm:
        return Budget(n, 0, 0, float(run_steps))
    note = (
        f"the run ({run_steps:g} steps) is too short for them: {CANDIDATES} probes of at least {MIN_PROBE_STEPS} "
        f"steps ({PROBE_FRACTION:g} of the run each) and a {n}-point range test do not fit in "
        f"{CHOOSING_FRACTION:g} of it; the curve decides"
    )
    return Budget(n, 0, 0, float(run_steps), note)


def _unknown_run(range_points: int | None, probe_steps: int | None, confirm: bool) -> Budget:
    n = MAX_RANGE_POINTS if range_points is None else range_points
    if not confirm:
        return Budget(n, 0, 0)
    if probe_steps is not None:
        return Budget(n, probe_steps, CANDIDATES)
    note = f"the run's length is unknown: probes of {UNKNOWN_RUN_PROBE_STEPS} steps"
    return Budget(n, UNKNOWN_RUN_PROBE_STEPS, CANDIDATES, None, note)
