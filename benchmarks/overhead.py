"""Per-step overhead of ``lightning_lr.OneCycle`` against PyTorch's ``OneCycleLR`` hosted by Lightning.

The arms train the same tiny MLP on the same in-memory data with the same optimizer and the same
real logger (a ``CSVLogger`` in a temporary directory); the model logs its loss with ``self.log``.

* ``pytorch``: ``configure_optimizers`` returns ``OneCycleLR`` with ``interval="step"``;
  ``LearningRateMonitor(logging_interval="step", log_momentum=True)`` logs the LR (the usual way to
  get it logged; ``log_momentum`` because ``OneCycle`` logs the momentum it cycles too).
* ``ours`` (equivalent work, the headline ratio): ``configure_optimizers`` returns the bare
  optimizer; ``OneCycle`` sets and logs the LR and momentum, with whatever else it logs by default
  switched off (``log_loss=False``). An older ``OneCycle`` that does not log gets the same
  ``LearningRateMonitor`` after it.
* ``ours_default`` (only when it differs from ``ours``): ``OneCycle()`` as shipped, which also
  logs the training loss: more work than the PyTorch arm, reported for information.

The warm-up runs check the equivalence: the LR and momentum the optimizer sees agree at every
step to 1e-12 and every arm's CSV file holds the same LR and momentum series.

Timing: a tiny callback records ``time.perf_counter()`` in ``on_train_batch_start``; the time
between consecutive batches is the full cost of one optimizer step. The first steps of each run
are dropped and a run is summarised by its median step. After a discarded warm-up round the arms
run in interleaved rounds whose order rotates (A B C, C B A, B C A, ...); the reported figure is
the MEDIAN over rounds of ``median step (ours) / median step (PyTorch)``.

A micro-benchmark, run inside a real training run (so every hook sees a real trainer), times the
LR work per optimizer step of each arm in isolation: our hooks called directly
(``on_train_batch_start`` + the optimizer post-step hook that advances our clock +
``on_train_batch_end``), the same through Lightning's callback dispatch, and for PyTorch
``OneCycleLR.step()``, Lightning's scheduler update and the monitor's dispatch.

Run from the repository root::

    python benchmarks/overhead.py            # full run: prints, writes docs/benchmarks/overhead.{md,json}
    python benchmarks/overhead.py --quick    # smoke test (seconds); writes nothing unless --write
    python benchmarks/overhead.py --profile  # also cProfile one run of each of our arms
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import inspect
import itertools
import json
import logging
import math
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as `python benchmarks/overhead.py` without installing
    sys.path.insert(0, str(REPO))

from machine import loadavg, machine  # noqa: E402  (benchmarks/machine.py, beside this script)

from lightning_lr import OneCycle  # noqa: E402

MAX_LR = 0.1
ACCELERATOR = "cpu"  # --accelerator (benchmarks/gpu.sh runs it on "cuda")
IN_FEATURES, HIDDEN = 32, 64
# Per optimizer step in automatic optimization Lightning calls these callback hooks, on every callback.
STEP_HOOKS = (
    "on_train_batch_start",
    "on_before_zero_grad",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_train_batch_end",
)


def _params() -> set[str]:
    return set(inspect.signature(OneCycle).parameters)


def ours_logs_itself() -> bool:
    """Whether this ``OneCycle`` logs the LR it sets (``log_lr``), so it needs no LearningRateMonitor."""
    return "log_lr" in _params()


def equivalent_kwargs() -> dict[str, Any]:
    """Switch off what ``OneCycle`` logs beyond the LR and momentum (the PyTorch arm logs only those)."""
    return {k: False for k in ("log_loss",) if k in _params()}


def arms() -> tuple[str, ...]:
    """``pytorch``, ``ours`` (equivalent work) and, when it differs, ``ours_default`` (``OneCycle()``)."""
    return ("pytorch", "ours", "ours_default") if equivalent_kwargs() else ("pytorch", "ours")


def labels() -> dict[str, str]:
    monitor = "" if ours_logs_itself() else " + LRMonitor"
    args = ", ".join(f"{k}={v}" for k, v in equivalent_kwargs().items())
    return {
        "pytorch": "PyTorch OneCycleLR + LRMonitor",
        "ours": f"lightning_lr OneCycle({args}){monitor}",
        "ours_default": f"lightning_lr OneCycle() defaults{monitor}",
    }


# --------------------------------------------------------------------------- model and data
class TinyModel(pl.LightningModule):
    def __init__(self, arm: str, total_steps: int | None = None) -> None:
        super().__init__()
        self.arm = arm
        self.total_steps = total_steps  # OneCycleLR's length; None: the run's
        self.net = nn.Sequential(nn.Linear(IN_FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=MAX_LR, momentum=0.9)
        if self.arm != "pytorch":
            return optimizer
        total = self.total_steps or int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=MAX_LR, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def make_loader(steps: int, batch_size: int) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps * batch_size, IN_FEATURES, generator=g)
    y = x[:, :1] * 0.5 + 0.1 * torch.randn(steps * batch_size, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def make_trainer(callbacks: list[Callback], logger: Any, log_every: int, **kwargs: Any) -> pl.Trainer:
    return pl.Trainer(
        accelerator=ACCELERATOR,
        devices=1,
        max_epochs=1,
        callbacks=callbacks,
        logger=logger,
        log_every_n_steps=log_every,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kwargs,
    )


def arm_callbacks(arm: str) -> list[Callback]:
    """The LR callbacks of one arm (ours first, so a monitor after it logs this step's LR)."""
    monitor = LearningRateMonitor(logging_interval="step", log_momentum=True)
    if arm == "pytorch":
        return [monitor]
    ours = OneCycle(**(equivalent_kwargs() if arm == "ours" else {}))
    return [ours] if ours_logs_itself() else [ours, monitor]


# --------------------------------------------------------------------------- instrumentation
class StepTimer(Callback):
    """Wall time at the start of each training batch (``time.perf_counter``)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        self.stamps.append(time.perf_counter())

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.stamps.append(time.perf_counter())  # closes the last step


class LRRecorder(Callback):
    """LR and momentum the optimizer is about to use, per step (warm-up runs only)."""

    def __init__(self) -> None:
        self.values: list[tuple[float, float]] = []

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        group = optimizer.param_groups[0]
        self.values.append((float(group["lr"]), float(group["momentum"])))


def fit(arm: str, steps: int, batch_size: int, log_every: int, record: bool = False) -> dict[str, Any]:
    """One training run of ``steps`` optimizer steps: step intervals (s), wall time, what was logged."""
    timer, recorder = StepTimer(), LRRecorder()
    callbacks: list[Callback] = [timer, *arm_callbacks(arm)] + ([recorder] if record else [])
    with tempfile.TemporaryDirectory(prefix="lr_overhead_") as tmp:
        trainer = make_trainer(callbacks, CSVLogger(tmp, name="bench"), log_every, default_root_dir=tmp)
        model, loader = TinyModel(arm), make_loader(steps, batch_size)
        gc.collect()
        start = time.perf_counter()
        trainer.fit(model, loader)
        wall = time.perf_counter() - start
        assert trainer.global_step == steps, (trainer.global_step, steps)
        logged = _logged(Path(trainer.logger.log_dir) / "metrics.csv")  # type: ignore[union-attr]
    return {
        "intervals": [b - a for a, b in itertools.pairwise(timer.stamps)],
        "wall": wall,
        "logged": logged,
        "recorded": recorder.values,
    }


def _logged(path: Path) -> dict[str, int]:
    """Rows of ``metrics.csv`` holding each series (``step``/``epoch`` aside)."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    keys = sorted({k for r in rows for k in r} - {"step", "epoch"})
    return {k: sum(1 for r in rows if r.get(k)) for k in keys}


def check_equivalent(warm: dict[str, dict[str, Any]], steps: int) -> dict[str, Any]:
    """Every arm sets the same LR/momentum at every step and logs the same LR/momentum series."""
    ref = warm["pytorch"]["recorded"]
    worst = 0.0
    for arm, run in warm.items():
        got = run["recorded"]
        assert len(got) == len(ref) == steps, (arm, len(got), len(ref))
        diff = max(max(abs(x - y) / abs(x) for x, y in zip(pa, pb)) for pa, pb in zip(ref, got))
        assert diff < 1e-12, f"{arm} does not set the same LR/momentum as PyTorch (max relative difference {diff:.3g})"
        worst = max(worst, diff)
    logged = {arm: run["logged"] for arm, run in warm.items()}
    lr_series = {"lr-SGD", "lr-SGD-momentum"}
    for arm, series in logged.items():
        assert lr_series <= set(series), (arm, series)
        for key in lr_series:  # LearningRateMonitor logs at steps 49, 99, ...; OneCycle at 0, 50, ...
            assert series[key] > 0 and abs(series[key] - logged["pytorch"][key]) <= 1, logged
    assert set(logged["pytorch"]) == set(logged["ours"]), ("ours logs more than the PyTorch arm", logged)
    return {"max_rel_diff_lr_momentum": worst, "rows_logged": logged}


# --------------------------------------------------------------------------- micro-benchmark
class MicroProbe(Callback):
    """Runs timed loops of one arm's LR work inside a real run, at batch ``at``, then stops the run.

    Each figure is microseconds per loop iteration (one optimizer step's worth), the best of
    ``repeat`` loops of ``calls`` iterations, with the same loop's cost without that work subtracted.
    """

    def __init__(self, arm: str, calls: int, repeat: int = 5, at: int = 3) -> None:
        self.arm, self.calls, self.repeat, self.at = arm, calls, repeat, at
        self.results: dict[str, float] = {}

    def best(self, body: Any) -> float:
        times = []
        for _ in range(self.repeat):
            gc.collect()
            t0 = time.perf_counter()
            body(self.calls)
            times.append((time.perf_counter() - t0) / self.calls * 1e6)
        return min(times)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, i: int) -> None:
        if i != self.at:
            return
        from lightning.pytorch.trainer import call

        optimizer = trainer.optimizers[0]
        outputs = {"loss": torch.tensor(0.5)}
        loss = outputs["loss"]
        dispatch = call._call_callback_hooks
        post: list[Any] = []  # what Optimizer.step calls after a real step

        def loop_empty(n: int) -> None:
            for _ in range(n):
                pass

        def loop_dispatch(n: int) -> None:  # the callback hooks Lightning calls per optimizer step
            for k in range(n):
                dispatch(trainer, "on_train_batch_start", batch, k)
                dispatch(trainer, "on_before_zero_grad", optimizer)
                dispatch(trainer, "on_before_backward", loss)
                dispatch(trainer, "on_after_backward")
                dispatch(trainer, "on_before_optimizer_step", optimizer)
                for hook in post:
                    hook(optimizer, (), {})
                dispatch(trainer, "on_train_batch_end", outputs, batch, k)

        base = self.best(loop_empty)
        callbacks = trainer.callbacks  # type: ignore[attr-defined]
        mine = [c for c in callbacks if not isinstance(c, (StepTimer, MicroProbe))]
        r = self.results
        try:
            trainer.callbacks = []  # type: ignore[attr-defined]
            none = self.best(loop_dispatch)
            trainer.callbacks = [Callback()]  # type: ignore[attr-defined]
            r["noop_callback_dispatch_us"] = self.best(loop_dispatch) - none
            if self.arm == "pytorch":
                trainer.callbacks = mine  # type: ignore[attr-defined]
                r["monitor_dispatch_us"] = self.best(loop_dispatch) - none
                update = trainer.fit_loop.epoch_loop.update_lr_schedulers
                scheduler = trainer.lr_scheduler_configs[0].scheduler

                def loop_update(n: int) -> None:
                    for _ in range(n):
                        update("step", update_plateau_schedulers=False)

                def loop_step(n: int) -> None:
                    for _ in range(n):
                        scheduler.step()

                r["torch_scheduler_update_us"] = self.best(loop_update) - base
                r["torch_scheduler_step_us"] = self.best(loop_step) - base
            else:
                ours = next(c for c in mine if isinstance(c, OneCycle))
                post[:] = list(optimizer._optimizer_step_post_hooks.values())

                def loop_start(n: int) -> None:
                    for k in range(n):
                        ours.on_train_batch_start(trainer, pl_module, batch, k)

                def loop_post(n: int) -> None:
                    for _ in range(n):
                        for hook in post:
                            hook(optimizer, (), {})

                def loop_end(n: int) -> None:
                    for k in range(n):
                        ours.on_train_batch_end(trainer, pl_module, outputs, batch, k)

                r["ours_batch_start_us"] = self.best(loop_start) - base
                r["ours_post_step_us"] = self.best(loop_post) - base
                r["ours_batch_end_us"] = self.best(loop_end) - base
                r["ours_hooks_us"] = r["ours_batch_start_us"] + r["ours_post_step_us"] + r["ours_batch_end_us"]
                state_key = type(ours).state_key.fget

                def loop_key(n: int) -> None:
                    for _ in range(n):
                        state_key(ours)

                r["ours_state_key_us"] = self.best(loop_key) - base
                trainer.callbacks = mine  # type: ignore[attr-defined]
                r["ours_dispatch_us"] = self.best(loop_dispatch) - none
                post.clear()
        finally:
            trainer.callbacks = callbacks  # type: ignore[attr-defined]
        trainer.should_stop = True


def micro_benchmark(arm_names: tuple[str, ...], calls: int, log_every: int) -> dict[str, float]:
    """The probes of every arm, each inside a real run with a logger (at a step that does not log)."""
    out: dict[str, float] = {}
    for arm in arm_names:
        probe = MicroProbe(arm, calls)
        with tempfile.TemporaryDirectory(prefix="lr_overhead_micro_") as tmp:
            trainer = make_trainer(
                [*arm_callbacks(arm), probe], CSVLogger(tmp, name="micro"), log_every, default_root_dir=tmp
            )
            # OneCycleLR must last the loops; OneCycle holds its last value past the end
            model = TinyModel(arm, total_steps=probe.repeat * calls * 2 + 100)
            trainer.fit(model, make_loader(probe.at + 5, 8))
        prefix = "" if arm == "pytorch" else f"{arm}:"
        out.update({f"{prefix}{k}": v for k, v in probe.results.items() if not k.startswith("noop") or not prefix})
    return out


MICRO_LABELS = {
    "ours:ours_batch_start_us": "OneCycle(equiv.): on_train_batch_start (direct call)",
    "ours:ours_post_step_us": "OneCycle(equiv.): optimizer post-step hook (sets LR+momentum)",
    "ours:ours_batch_end_us": "OneCycle(equiv.): on_train_batch_end (direct call)",
    "ours:ours_hooks_us": "OneCycle(equiv.): its hooks per step, total",
    "ours:ours_dispatch_us": "OneCycle(equiv.): per step via Lightning's callback dispatch",
    "ours_default:ours_batch_start_us": "OneCycle() defaults: on_train_batch_start",
    "ours_default:ours_post_step_us": "OneCycle() defaults: optimizer post-step hook",
    "ours_default:ours_batch_end_us": "OneCycle() defaults: on_train_batch_end (loss tracking)",
    "ours_default:ours_hooks_us": "OneCycle() defaults: its hooks per step, total",
    "ours_default:ours_dispatch_us": "OneCycle() defaults: per step via Lightning's callback dispatch",
    "ours:ours_state_key_us": "OneCycle.state_key, one read (Lightning reads it for every hook)",
    "noop_callback_dispatch_us": "a no-op Callback via Lightning's callback dispatch (6 hooks)",
    "torch_scheduler_step_us": "PyTorch: OneCycleLR.step() (direct call)",
    "torch_scheduler_update_us": "PyTorch: Lightning's step-scheduler update (calls .step())",
    "monitor_dispatch_us": "PyTorch: LearningRateMonitor via Lightning's callback dispatch",
}


def micro_rows(micro: dict[str, float]) -> list[tuple[str, float]]:
    rows = [(label, micro[key]) for key, label in MICRO_LABELS.items() if key in micro]
    if "torch_scheduler_update_us" in micro and "monitor_dispatch_us" in micro:
        total = micro["torch_scheduler_update_us"] + micro["monitor_dispatch_us"]
        rows.append(("PyTorch: scheduler update + monitor dispatch, total", total))
    return rows


# --------------------------------------------------------------------------- profiling
def profile_arm(arm: str, steps: int, batch_size: int, log_every: int) -> list[dict[str, Any]]:
    """cProfile one run of ``arm``: the lightning_lr functions, calls per step and microseconds."""
    profiler = cProfile.Profile()
    profiler.enable()
    fit(arm, steps, batch_size, log_every)
    profiler.disable()
    stats = pstats.Stats(profiler)
    package = str(REPO / "lightning_lr")
    rows = []
    for (filename, line, name), (_, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if filename.startswith(package):
            rows.append(
                {
                    "function": f"{os.path.relpath(filename, REPO)}:{line}({name})",
                    "calls_per_step": nc / steps,
                    "own_us_per_call": tt / nc * 1e6,
                    "cum_us_per_call": ct / nc * 1e6,
                    "cum_us_per_step": ct / steps * 1e6,
                }
            )
    rows.sort(key=lambda r: -r["cum_us_per_step"])
    return rows


# --------------------------------------------------------------------------- reporting
def table(rows: list[tuple[str, ...]]) -> str:
    """Plain text, first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    s, names = result["summary"], result["labels"]
    return [(names[a], f"{s[a]['median_ms_per_step']:.4f}", f"{s[a]['ratio']:.4f}") for a in result["arms"]]


def write_markdown(path: Path, result: dict[str, Any]) -> None:
    m, s, micro, cfg = result["machine"], result["summary"], result["micro_us"], result["config"]
    lines = [
        "# Per-step overhead: `OneCycle` vs PyTorch `OneCycleLR`",
        "",
        f"Generated by `{cfg['command']}` on {m['date']}. Tiny MLP (32-64-1, SGD momentum 0.9, "
        f"batch {cfg['batch_size']}), real `CSVLogger`, `log_every_n_steps={cfg['log_every']}`. The PyTorch arm "
        "hosts `OneCycleLR` (`interval='step'`) with `LearningRateMonitor(logging_interval='step', "
        "log_momentum=True)`; the equivalent-work arm sets and logs the same LR and momentum and nothing else. "
        f"{cfg['rounds']} interleaved rounds of {cfg['steps']} steps per arm after a warm-up round, first "
        f"{cfg['skip']} steps of each run dropped; step time = time between consecutive "
        "`on_train_batch_start`, median per run; ratio = median over rounds of the per-round ratio to PyTorch.",
        "",
        "| arm | median ms/step | ratio |",
        "|---|---:|---:|",
        *(f"| {a} | {b} | {c} |" for a, b, c in main_rows(result)),
        "",
    ]
    for arm in result["arms"][1:]:
        a = s[arm]
        lines.append(
            f"- {result['labels'][arm]}: ratio **{a['ratio']:.4f}** (bootstrap 95% interval "
            f"{a['ratio_ci95'][0]:.4f} to {a['ratio_ci95'][1]:.4f}; faster than PyTorch in {a['rounds_faster']} "
            f"of {cfg['rounds']} rounds, ratios {a['min_ratio']:.4f} to {a['max_ratio']:.4f}; from mean steps "
            f"{a['ratio_mean_step']:.4f}; from `fit` wall time {a['ratio_wall']:.4f}; fastest run / fastest run "
            f"{a['ratio_best_runs']:.4f}; median difference {a['diff_us_per_step']:+.1f} us/step)."
        )
    lines += [
        "",
        "LR work per optimizer step in isolation, inside a real run (best of 5 loops, loop cost subtracted):",
        "",
        "| what | us/step |",
        "|---|---:|",
        *(f"| {what} | {us:.2f} |" for what, us in micro_rows(micro)),
        "",
        f"Machine: {m['platform']}, {m['cpu']}, {m['cpu_count']} CPUs, Python {m['python']}, torch "
        f"{m['torch']} ({m['torch_threads']} thread), lightning {m['lightning']}; 1-min load average "
        f"{m['loadavg_1min_start']} at the start, {m['loadavg_1min_end']} at the end (other processes "
        "shared the CPUs when this is above ~0.3).",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=11, help="interleaved rounds, one run per arm each (default 11)")
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps per run (default 400)")
    parser.add_argument("--quick", action="store_true", help="very short run for smoke testing (writes nothing)")
    parser.add_argument("--skip", type=int, default=None, help="first steps of each run to drop (default 10%%)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--log-every", type=int, default=50, help="Trainer log_every_n_steps (default 50)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--micro-calls", type=int, default=20_000, help="iterations per micro-benchmark loop")
    parser.add_argument("--profile", action="store_true", help="cProfile our arms even when not slower")
    parser.add_argument("--write", action="store_true", help="write the docs files even with --quick")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks/overhead.*")
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs" / "benchmarks")
    parser.add_argument("--accelerator", default="cpu", help="Trainer accelerator (default cpu; gpu.sh: cuda)")
    args = parser.parse_args(argv)
    global ACCELERATOR
    ACCELERATOR = args.accelerator
    if args.quick:
        args.pairs, args.steps, args.micro_calls = 2, 60, 2_000
    if args.pairs < 1 or args.steps < 20:
        parser.error("need --pairs >= 1 and --steps >= 20")
    skip = args.skip if args.skip is not None else max(5, args.steps // 10)
    if not 0 <= skip < args.steps - 5:
        parser.error("--skip must leave at least 5 steps per run")
    write = (args.write or not args.quick) and not args.no_write

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    load_start = loadavg()
    if load_start is not None and load_start > 0.5:
        print(f"note: 1-min load average {load_start} at the start: other processes share the CPUs, expect noise")
    arm_names, names = arms(), labels()

    # Warm-up round (discarded) that also checks that the arms set and log the same LR and momentum.
    warm = {arm: fit(arm, args.steps, args.batch_size, args.log_every, record=True) for arm in arm_names}
    check = check_equivalent(warm, args.steps)
    print(
        f"check: same LR and momentum in every arm at all {args.steps} steps (max rel. diff "
        f"{check['max_rel_diff_lr_momentum']:.1e}); series logged per run (rows): {check['rows_logged']}"
    )

    orders = list(itertools.permutations(arm_names))
    orders = orders[::2] + orders[1::2]  # alternate which arm leads: A B C, B C A, C A B, A C B, ...
    runs: dict[str, list[dict[str, float]]] = {arm: [] for arm in arm_names}
    for p in range(args.pairs):
        order = orders[p % len(orders)]
        for arm in order:
            r = fit(arm, args.steps, args.batch_size, args.log_every)
            steps_ms = [x * 1e3 for x in r["intervals"][skip:]]
            runs[arm].append(
                {
                    "median_ms": statistics.median(steps_ms),
                    "mean_ms": statistics.fmean(steps_ms),
                    "wall_ms_per_step": r["wall"] / args.steps * 1e3,
                }
            )
        ref = runs["pytorch"][-1]["median_ms"]
        cells = [f"pytorch {ref:.4f} ms"]
        for a in arm_names[1:]:
            mine = runs[a][-1]["median_ms"]
            cells.append(f"{a} {mine:.4f} ms (x{mine / ref:.3f})")
        line = ", ".join(cells)
        print(f"round {p + 1:2d}/{args.pairs} [{' '.join(order)}]: {line}")

    def bootstrap_ci(values: list[float], n: int = 2000) -> list[float]:
        """95% bootstrap interval of the median (rounds resampled with replacement)."""
        rng = random.Random(0)
        medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(n))
        return [medians[int(0.025 * n)], medians[int(0.975 * n) - 1]]

    def ratios(arm: str, key: str) -> list[float]:
        return [o[key] / t[key] for o, t in zip(runs[arm], runs["pytorch"])]

    summary: dict[str, Any] = {}
    for arm in arm_names:
        rs = ratios(arm, "median_ms")
        summary[arm] = {
            "median_ms_per_step": statistics.median(r["median_ms"] for r in runs[arm]),
            "ratio": statistics.median(rs),
            "round_ratios": rs,
            "ratio_ci95": bootstrap_ci(rs),
            "rounds_faster": sum(r < 1.0 for r in rs),
            "min_ratio": min(rs),
            "max_ratio": max(rs),
            "ratio_mean_step": statistics.median(ratios(arm, "mean_ms")),
            "ratio_wall": statistics.median(ratios(arm, "wall_ms_per_step")),
            # other processes only ever add time: the fastest run of each arm is the least disturbed
            "ratio_best_runs": min(r["median_ms"] for r in runs[arm]) / min(r["median_ms"] for r in runs["pytorch"]),
            "diff_us_per_step": statistics.median(
                (o["median_ms"] - t["median_ms"]) * 1e3 for o, t in zip(runs[arm], runs["pytorch"])
            ),
        }
    micro = micro_benchmark(arm_names, args.micro_calls, args.log_every)

    result: dict[str, Any] = {
        "config": {
            "command": " ".join(["python benchmarks/overhead.py", *(sys.argv[1:] if argv is None else argv)]),
            "rounds": args.pairs,
            "steps": args.steps,
            "skip": skip,
            "batch_size": args.batch_size,
            "log_every": args.log_every,
            "threads": args.threads,
            "accelerator": args.accelerator,
            "micro_calls": args.micro_calls,
            "quick": args.quick,
            "ours_logs_itself": ours_logs_itself(),
            "equivalent_kwargs": equivalent_kwargs(),
        },
        "arms": list(arm_names),
        "labels": {a: names[a] for a in arm_names},
        "machine": machine(load_start),
        "summary": summary,
        "micro_us": micro,
        "check": check,
        "runs": runs,
    }

    print()
    print(table([("arm", "median ms/step", "ratio"), *main_rows(result)]))
    print()
    for arm in arm_names[1:]:
        a = summary[arm]
        print(
            f"{names[arm]}: ratio {a['ratio']:.4f} (95% CI {a['ratio_ci95'][0]:.4f}..{a['ratio_ci95'][1]:.4f}; "
            f"median of {args.pairs} per-round ratios, faster than PyTorch "
            f"in {a['rounds_faster']} of them, range {a['min_ratio']:.4f}..{a['max_ratio']:.4f}; "
            f"from mean steps {a['ratio_mean_step']:.4f}; "
            f"from fit wall time {a['ratio_wall']:.4f}; fastest run / fastest run {a['ratio_best_runs']:.4f}; "
            f"median difference {a['diff_us_per_step']:+.1f} us/step)"
        )
    print()
    micro_table = [("LR work per optimizer step in isolation", "us/step")]
    print(table(micro_table + [(what, f"{us:.2f}") for what, us in micro_rows(micro)]))
    print()
    headline = summary["ours"]["ratio"]
    print(f"target ratio <= 1.0 (equivalent work): {'met' if headline <= 1.0 else 'MISSED'} ({headline:.4f})")

    slow = [arm for arm in arm_names[1:] if args.profile or (summary[arm]["ratio"] > 1.0 and not args.quick)]
    for arm in slow:
        prof = profile_arm(arm, args.steps, args.batch_size, args.log_every)
        result.setdefault("profile", {})[arm] = prof
        print(f"\ncProfile of one run of {names[arm]} ({args.steps} steps): lightning_lr functions, >= 0.5 us/step")
        prow = [("function", "calls/step", "own us/call", "cum us/call", "cum us/step")]
        prow += [
            (
                r["function"],
                f"{r['calls_per_step']:.2f}",
                f"{r['own_us_per_call']:.2f}",
                f"{r['cum_us_per_call']:.2f}",
                f"{r['cum_us_per_step']:.2f}",
            )
            for r in prof
            if r["cum_us_per_step"] >= 0.5
        ]
        print(table(prow))
    if slow:
        print("(cProfile inflates per-call times several-fold; compare the rows with each other.)")
    if write:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "overhead.json").write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
        write_markdown(args.out_dir / "overhead.md", result)
        print(f"\nwrote {args.out_dir / 'overhead.md'} and {args.out_dir / 'overhead.json'}")
    return 0 if math.isfinite(headline) else 1


if __name__ == "__main__":
    raise SystemExit(main())
