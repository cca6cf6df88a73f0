"""What every benchmark script shares: the machine it ran on, its tables, its result files.

- :func:`machine` describes the machine (platform, CPU, versions, torch threads, load at start and end)
  and :func:`machine_line` says it in one markdown sentence;
- :func:`text_table` prints a table on the terminal, :func:`markdown_table` writes the same rows for
  the docs page;
- :func:`write_results` writes ``<name>.json`` and ``<name>.md`` under ``docs/benchmarks/`` (or
  another folder);
- :func:`quiet_lightning` silences Lightning's info lines and warnings for a timed run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "benchmarks"


def loadavg() -> float | None:
    """The 1-minute load average (``None`` where the OS has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def machine(load_start: float | None = None, **versions: str) -> dict[str, Any]:
    """Platform, CPU model and count, Python/torch/lightning (and ``versions``) and the load at start and now."""
    import lightning
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        **versions,
        "torch_threads": torch.get_num_threads(),
        "loadavg_1min_start": load_start,
        "loadavg_1min_end": loadavg(),
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


CORE = ("platform", "cpu", "cpu_count", "python", "torch", "lightning", "torch_threads")
NOT_VERSIONS = {*CORE, "loadavg_1min_start", "loadavg_1min_end", "date"}


def machine_line(m: dict[str, Any]) -> str:
    """``m`` (from :func:`machine`) as one sentence: ``Machine: ...; 1-min load average a at the start, b at the end.``

    Extra versions given to :func:`machine` (``sklearn=...``) follow lightning's; keys it does not know
    (a GPU's name, ...) are left to the caller.
    """
    threads = m.get("torch_threads")
    torch = f"torch {m.get('torch', '?')}" + ("" if threads is None else f" ({threads} thread{'s' * (threads != 1)})")
    extra = [f"{k} {v}" for k, v in m.items() if k not in NOT_VERSIONS and isinstance(v, str)]
    parts = [
        str(m.get("platform", "?")),
        *([str(m["cpu"])] if m.get("cpu") else []),
        *([f"{m['cpu_count']} CPUs"] if m.get("cpu_count") else []),
        f"Python {m.get('python', '?')}",
        torch,
        f"lightning {m.get('lightning', '?')}",
        *extra,
    ]
    line = "Machine: " + ", ".join(parts)
    start, end = m.get("loadavg_1min_start"), m.get("loadavg_1min_end")
    load = [f"{v} at the {when}" for v, when in ((start, "start"), (end, "end")) if v is not None]
    if load:
        line += "; 1-min load average " + ", ".join(load)
    return line + "."


def _cells(rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    return [[str(c) for c in row] for row in rows]


def _alignment(columns: int, align: str | None) -> str:
    align = align or "l" + "r" * (columns - 1)
    if len(align) != columns or set(align) - {"l", "r"}:
        raise ValueError(f"align={align!r}: one 'l' or 'r' per column ({columns})")
    return align


def text_table(rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """Plain text; the first row is the header (underlined). ``align``: ``l``/``r`` per column (first left)."""
    cells = _cells(rows)
    how = _alignment(len(cells[0]), align)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, how)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Sequence[Any]], align: str | None = None) -> list[str]:
    """The lines of a markdown table; the first row is the header. ``align`` as in :func:`text_table`."""
    cells = _cells(rows)
    how = _alignment(len(cells[0]), align)
    rule = "|" + "|".join("---" if a == "l" else "---:" for a in how) + "|"
    body = ["|" + "|".join(f" {c} " if c else " " for c in row) + "|" for row in cells]
    return [body[0], rule, *body[1:]]


def write_results(
    name: str,
    result: Any,
    markdown: str | Sequence[str] | Callable[[], str | Sequence[str]],
    out_dir: Path = DOCS,
    indent: int = 1,
    allow_nan: bool = False,
) -> tuple[Path, Path]:
    """Writes ``out_dir/<name>.json`` (``result``), then ``out_dir/<name>.md`` (lines joined by newlines).

    ``markdown`` may be a function, called once the JSON is written: a page that fails to render
    leaves the raw numbers to render it from. Returns both paths. JSON is strict (no NaN) unless
    ``allow_nan``; both files end with a newline.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(result, indent=indent, allow_nan=allow_nan) + "\n")
    page = markdown() if callable(markdown) else markdown
    text = page if isinstance(page, str) else "\n".join(page)
    md_path.write_text(text if text.endswith("\n") else text + "\n")
    return md_path, json_path


def quiet_lightning() -> None:
    """No warnings and no info lines from Lightning or lightning_lr (a benchmark prints its own table)."""
    warnings.filterwarnings("ignore")
    for logger in ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_lr"):
        logging.getLogger(logger).setLevel(logging.ERROR)
