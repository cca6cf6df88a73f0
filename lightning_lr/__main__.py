"""``python -m lightning_lr preview NAME``: see a schedule callback's LR and momentum before training."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import yaml

import lightning_lr
from lightning_lr import schedules
from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.logging.figures import label
from lightning_lr.preview import preview, sparkline

CALLBACKS = sorted(
    name
    for name in lightning_lr.__all__
    if isinstance(getattr(lightning_lr, name), type)
    and issubclass(getattr(lightning_lr, name), ScheduleCallback)
    and name not in ("ScheduleCallback", "LRScheduler", "HyperparameterScheduler")  # these take a Schedule object
)

EXAMPLES = """\
examples:
  python -m lightning_lr preview OneCycle --steps 1000 --set pct_start=0.25 --out onecycle.png
  python -m lightning_lr preview CosineAnnealing --steps 30 --set interval=epoch warmup=3
  python -m lightning_lr preview WarmupCosine --steps 5000 --set num_warmup_steps=500 --lr 1e-3 1e-4
  python -m lightning_lr preview "Cycle(Cosine(1.0, 0.0, 200), period_mult=2)" --steps 1400 --out sgdr.png
  python -m lightning_lr preview ExponentialDecay --steps 100 --set gamma=0.95 --log

NAME is a schedule callback or a schedule expression of lightning_lr.schedules (previewed as
LRScheduler(expression)). The sparklines need nothing; --out needs matplotlib (a dependency).
"""


def _value(text: str) -> Any:
    """A number (``1e-3`` too, which YAML 1.1 reads as a string), else YAML (lists, booleans, strings)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return yaml.safe_load(text)


def _parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes key=value pairs, got {pair!r}")
        settings[key] = _value(text)
    return settings


def build_callback(name: str, settings: dict[str, Any]) -> ScheduleCallback:
    """The callback class ``name``, or ``LRScheduler(expression)`` for a schedule expression."""
    if name in CALLBACKS:
        callback: ScheduleCallback = getattr(lightning_lr, name)(**settings)
        return callback
    if "(" not in name:
        raise ValueError(
            f"NAME must be one of {', '.join(CALLBACKS)} or a schedule expression such as "
            f"'Cosine(1.0, 0.0)', got {name!r}."
        )
    namespace = {key: getattr(schedules, key) for key in schedules.__all__}
    try:
        schedule = eval(name, {"__builtins__": {}}, namespace)  # a local CLI: the user's own expression
    except Exception as error:
        raise ValueError(
            f"could not evaluate the schedule expression {name!r} ({type(error).__name__}: {error}); it may use "
            f"{', '.join(schedules.__all__)}."
        ) from error
    return lightning_lr.LRScheduler(schedule, **settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lightning_lr",
        description=__doc__.splitlines()[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser(
        "preview",
        help="draw a schedule callback's LR and momentum for a run length",
        description="Print (and optionally draw) the LR and momentum a schedule would set, without training.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("name", metavar="NAME", help=f"callback ({', '.join(CALLBACKS)}) or a schedule expression")
    cmd.add_argument("--steps", type=int, default=1000, help="run length in clock units (default 1000)")
    cmd.add_argument("--steps-per-epoch", type=int, default=None, help="for durations in epochs")
    cmd.add_argument("--lr", type=float, nargs="+", default=[0.1], help="base LR of each param group")
    cmd.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    cmd.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="callback arguments")
    cmd.add_argument("--out", default=None, help="write a PNG figure here (matplotlib)")
    cmd.add_argument("--log", action="store_true", help="log-scale LR axis in the figure (default linear)")
    cmd.add_argument("--width", type=int, default=60, help="sparkline width in characters")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        callback = build_callback(args.name, _parse_settings(args.set))
        result = preview(callback, args.steps, args.lr, args.steps_per_epoch, args.optimizer)
    except (TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{type(callback).__name__} over {args.steps} {result.unit}s")
    for names in (result.curves(), result.curves(momentum=True)):
        for group, values in names:
            name = label(group)
            print(f"{name:>24} {sparkline(values, args.width)}  {min(values):.3g} .. {max(values):.3g}")
    if result.note:
        print(f"note: {result.note}")
    if args.out:
        try:
            figure = result.plot(log=args.log, title=f"Planned schedule: {type(callback).__name__}")
        except ImportError:
            print("error: --out needs matplotlib, which could not be imported: pip install matplotlib", file=sys.stderr)
            return 1
        figure.savefig(args.out, dpi=120)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
