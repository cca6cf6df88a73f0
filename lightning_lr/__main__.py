"""``python -m lightning_lr preview NAME [NAME ...]``: see and compare schedules' LR and momentum before training."""

from __future__ import annotations

import argparse
import difflib
import inspect
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import typing_extensions
import yaml

import lightning_lr
from lightning_lr import schedules
from lightning_lr.callbacks.base import ScheduleCallback
from lightning_lr.logging.figures import SchedulePreview, label, plot_previews
from lightning_lr.preview import preview, sparkline

CALLBACKS = sorted(
    name
    for name in lightning_lr.__all__
    if isinstance(getattr(lightning_lr, name), type)
    and issubclass(getattr(lightning_lr, name), ScheduleCallback)
    and name not in ("ScheduleCallback", "LRScheduler", "HyperparameterScheduler")  # these take a Schedule object
)

EPOCH = (
    "An epoch is --steps-per-epoch optimizer steps; without it the preview cannot know your epoch, so a "
    'duration in epochs ("2 epochs") is refused: give it whenever a duration is in epochs. With interval=epoch '
    "the clock is the epoch and --steps counts epochs."
)

NAMES = (
    f"NAME is a schedule callback ({', '.join(CALLBACKS)}), a call of one with its arguments "
    '("OneCycle(pct_start=0.25)"), or a schedule expression of lightning_lr.schedules (previewed as '
    "LRScheduler(expression)). Several NAMEs are compared: one figure, one row of sparklines per schedule, "
    "on one scale. --set applies to every NAME."
)

EXAMPLES = f"""\
examples:
  python -m lightning_lr preview OneCycle --steps 1000 --set pct_start=0.25 --out onecycle.png
  python -m lightning_lr preview OneCycle CosineAnnealing \\
      "WarmupStableDecay(num_warmup_steps=0.1, num_decay_steps=0.2)" --steps 1000 --out compare.png
  python -m lightning_lr preview CosineAnnealing --steps 30 --set interval=epoch warmup=3
  python -m lightning_lr preview CosineRestarts --steps 2000 --steps-per-epoch 100 --set T_0="2 epochs"
  python -m lightning_lr preview WarmupCosine --steps 5000 --set num_warmup_steps=500 --lr 1e-3 1e-4
  python -m lightning_lr preview "Cycle(Cosine(1.0, 0.0, 200), period_mult=2)" --steps 1400 --out sgdr.png
  python -m lightning_lr preview ExponentialDecay --steps 100 --set gamma=0.95 --log

{textwrap.fill(NAMES, 100)}

{textwrap.fill(EPOCH, 100)}

The sparklines need nothing; --out needs matplotlib (a dependency).
"""


class ArgumentNameError(ValueError):
    """A keyword that the callback does not take (``--set`` or the expression)."""


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


def callback_arguments(cls: type[ScheduleCallback]) -> list[str] | None:
    """The keyword arguments ``cls(...)`` takes: its own, then the shared options its ``**options`` forwards.

    ``None`` when the options cannot be read from the annotations (the constructor then decides).
    """
    parameters = inspect.signature(cls.__init__).parameters.values()
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    rest = [p.name for p in parameters if p.kind == p.VAR_KEYWORD]
    if not rest:
        return named
    try:
        hints = typing_extensions.get_type_hints(cls.__init__, include_extras=True)
        (options,) = typing_extensions.get_args(hints[rest[0]])  # Unpack[SomeOptions]
        return [*named, *(key for key in options.__annotations__ if key not in named)]
    except (KeyError, NameError, TypeError, ValueError, AttributeError):
        return None


def check_arguments(cls: type[ScheduleCallback], keys: Sequence[str]) -> None:
    """Refuse a keyword ``cls`` does not take, naming the callback and listing its arguments."""
    known = callback_arguments(cls)
    if known is None:
        return
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ArgumentNameError(f"{cls.__name__} has no argument {key!r}{hint}; it takes {', '.join(known)}.")


def _constructor(cls: type[ScheduleCallback], settings: dict[str, Any]) -> Callable[..., Any]:
    """``cls`` for a schedule expression: checks the keywords, adds ``--set``'s."""

    def construct(*args: Any, **kwargs: Any) -> Any:
        check_arguments(cls, [*kwargs, *settings])
        twice = sorted(settings.keys() & kwargs.keys())
        if twice:
            raise ArgumentNameError(f"{cls.__name__}: {', '.join(twice)} given both in the expression and in --set.")
        return cls(*args, **kwargs, **settings)

    return construct


def build_callback(name: str, settings: dict[str, Any]) -> ScheduleCallback:
    """The callback class ``name``, a call of one, or ``LRScheduler(expression)`` for a schedule expression."""
    if name in CALLBACKS:
        cls = getattr(lightning_lr, name)
        check_arguments(cls, list(settings))
        callback: ScheduleCallback = cls(**settings)
        return callback
    if "(" not in name:
        raise ValueError(
            f"NAME must be one of {', '.join(CALLBACKS)}, a call of one such as 'OneCycle(pct_start=0.25)', or a "
            f"schedule expression such as 'Cosine(1.0, 0.0)', got {name!r}."
        )
    namespace: dict[str, Any] = {key: getattr(schedules, key) for key in schedules.__all__}
    for key in [*CALLBACKS, "LRScheduler"]:
        namespace[key] = _constructor(getattr(lightning_lr, key), settings)
    try:
        value = eval(name, {"__builtins__": {}}, namespace)  # a local CLI: the user's own expression
    except ArgumentNameError:
        raise
    except Exception as error:
        raise ValueError(
            f"could not evaluate the schedule expression {name!r} ({type(error).__name__}: {error}); it may use "
            f"{', '.join(schedules.__all__)} and the callbacks."
        ) from error
    if isinstance(value, ScheduleCallback):
        return value
    if isinstance(value, schedules.Schedule):
        built: ScheduleCallback = namespace["LRScheduler"](value)
        return built
    raise ValueError(f"{name!r} is a {type(value).__name__}, not a schedule or a schedule callback.")


def display_name(name: str, settings: dict[str, Any]) -> str:
    """How a NAME is shown in the legend, the title and the terminal: as typed, with ``--set``'s values."""
    if not settings:
        return name
    pairs = ", ".join(f"{key}={value!r}" for key, value in settings.items())
    return f"{name}({pairs})" if name in CALLBACKS else f"{name} with {pairs}"


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
        help="draw (and compare) schedules' LR and momentum for a run length",
        description="Print (and optionally draw) the LR and momentum that schedules would set, without training.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("names", nargs="+", metavar="NAME", help="a callback, a call of one, or a schedule expression")
    cmd.add_argument("--steps", type=int, default=1000, help="run length in steps (in epochs with interval=epoch)")
    cmd.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        help="optimizer steps in one epoch, for durations in epochs (without it they are refused)",
    )
    cmd.add_argument("--lr", type=float, nargs="+", default=[0.1], help="base LR of each param group")
    cmd.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    cmd.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="arguments of every NAME's callback")
    cmd.add_argument("--out", default=None, help="write a PNG figure here (matplotlib)")
    cmd.add_argument("--log", action="store_true", help="log-scale LR axis in the figure (default linear)")
    cmd.add_argument("--width", type=int, default=60, help="sparkline width in characters")
    return parser


def _rows(result: SchedulePreview, width: int, scales: dict[bool, tuple[float, float]] | None) -> list[str]:
    """One sparkline row per distinct curve: LRs, then momenta; on ``scales`` (per kind) when comparing."""
    rows = []
    for momentum in (False, True):
        low, high = scales[momentum] if scales else (None, None)
        for group, values in result.curves(momentum=momentum):
            line = sparkline(values, width, low=low, high=high)
            rows.append(f"{label(group):>24} {line}  {min(values):.3g} .. {max(values):.3g}")
    return rows


def _shared_scales(results: Sequence[SchedulePreview]) -> dict[bool, tuple[float, float]]:
    scales = {}
    for momentum in (False, True):
        values = [v for r in results for _, curve in r.curves(momentum=momentum) for v in curve]
        scales[momentum] = (min(values), max(values)) if values else (0.0, 0.0)
    return scales


def text_preview(named: Sequence[tuple[str, SchedulePreview]], length: str, width: int, kind: str) -> list[str]:
    """The terminal's lines: one schedule's sparklines (``kind`` over ``length``), or several, on one scale."""
    if len(named) == 1:
        result = named[0][1]
        note = [f"note: {result.note}"] if result.note else []
        return [f"{kind} over {length}", *_rows(result, width, None), *note]
    scales = _shared_scales([result for _, result in named])
    low, high = scales[False]
    lines = [f"{len(named)} schedules over {length} (LR bars on one scale, {low:.3g} .. {high:.3g})"]
    for name, result in named:
        lines += [name, *_rows(result, width, scales)]
        lines += [f"{'note:':>24} {result.note}"] if result.note else []
    return lines


def comparison_figure(named: Sequence[tuple[str, SchedulePreview]], log: bool = False) -> Any:
    """The ``--out`` figure: one schedule titled by its NAME, or several named in the legend."""
    if len(named) == 1:
        return plot_previews([("", named[0][1])], log=log, title=f"Planned schedule: {named[0][0]}")
    return plot_previews(named, log=log, title="Planned schedules")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _parse_settings(args.set)
    named: list[tuple[str, SchedulePreview]] = []
    try:
        for name in args.names:
            callback = build_callback(name, settings)
            result = preview(callback, args.steps, args.lr, args.steps_per_epoch, args.optimizer)
            named.append((display_name(name, settings), result))
    except (TypeError, ValueError) as error:
        hint = ""
        if isinstance(error, ArgumentNameError) and settings and len(args.names) > 1:
            hint = " --set applies to every NAME; give one callback's own in a call: 'OneCycle(pct_start=0.25)'."
        if "steps per epoch" in str(error):
            hint = " Give --steps-per-epoch."
        print(f"error: {error}{hint}", file=sys.stderr)
        return 2
    units = {result.unit for _, result in named}
    if len(units) > 1:
        clocks = ", ".join(f"{name}: {result.unit}" for name, result in named)
        print(f"error: compared schedules need one clock, got {clocks}; give them the same interval=", file=sys.stderr)
        return 2
    print("\n".join(text_preview(named, f"{args.steps} {units.pop()}s", args.width, type(callback).__name__)))
    if args.out:
        try:
            figure = comparison_figure(named, log=args.log)
        except ImportError:
            print("error: --out needs matplotlib, which could not be imported: pip install matplotlib", file=sys.stderr)
            return 1
        figure.savefig(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
