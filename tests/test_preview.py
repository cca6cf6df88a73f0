"""The schedule preview: python -m lightning_lr preview, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_lr import OneCycle
from lightning_lr.preview import preview, sparkline


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "lightning_lr", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_preview_cli_writes_a_png_and_prints_sparklines(tmp_path: Path) -> None:
    out = tmp_path / "onecycle.png"
    done = run_cli(
        "preview",
        "OneCycle",
        "--steps",
        "300",
        "--set",
        "pct_start=0.25",
        "three_phase=true",
        "--lr",
        "0.1",
        "0.01",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    lines = done.stdout.splitlines()
    assert lines[0] == "OneCycle over 300 steps"
    names = [line.split("▁")[0].split("█")[0].strip() for line in lines[1:4]]
    # the two groups' LRs differ, their momenta are identical: one line (and one curve) for both
    assert names == ["lr-SGD/pg1", "lr-SGD/pg2", "lr-SGD/pg1-momentum, pg2-momentum"]


def test_preview_cli_reports_bad_arguments_clearly() -> None:
    done = run_cli("preview", "Cyclical", "--set", "base_lr=0.2", "max_lr=0.1")
    assert done.returncode == 2
    assert "`base_lr` (0.2) must be <= `max_lr` (0.1)" in done.stderr


def test_preview_values_are_what_the_callback_sets() -> None:
    result = preview(OneCycle(pct_start=0.5, anneal_strategy="linear", div_factor=10.0), total=102, base_lrs=[1.0])
    lrs = result.series["lr-SGD"]
    assert len(lrs) == 102 and result.ticks == list(range(102))
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == 50


def test_sparkline_maps_min_to_lowest_and_max_to_highest_block() -> None:
    line = sparkline([5.0, 1.0, 3.0, 9.0], width=4)
    assert line == "▅▁▃█" and sparkline([2.0, 2.0]) == "▁▁"


def test_preview_cli_reads_exponent_numbers() -> None:
    done = run_cli("preview", "OneCycle", "--steps", "50", "--set", "max_lr=1e-3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].rstrip().endswith(".. 0.001")


# Run the CLI with matplotlib made unimportable after Lightning (whose torchmetrics imports it when it is
# installed) has loaded: what a user without matplotlib gets from lightning_lr's own code.
WITHOUT_MATPLOTLIB = """
import sys
import lightning.pytorch
for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
    del sys.modules[name]
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import lightning_lr
assert "matplotlib" not in sys.modules
from lightning_lr.__main__ import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_lightning_lr_imports_and_previews_without_matplotlib_and_out_says_so_in_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-c", WITHOUT_MATPLOTLIB, "preview", "OneCycle", "--steps", "50"]
    done = subprocess.run([*command, "--out", str(tmp_path / "x.png")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == "error: --out needs matplotlib, which could not be imported: pip install matplotlib"
    assert done.stdout.startswith("OneCycle over 50 steps") and not (tmp_path / "x.png").exists()
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0  # sparklines need nothing


def test_no_lightning_lr_module_imports_matplotlib_at_import_time() -> None:
    """Figures import matplotlib when drawn; every module-level import of it is under TYPE_CHECKING."""
    import ast

    package = Path(__file__).resolve().parents[1] / "lightning_lr"
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only; `if TYPE_CHECKING:` blocks are ast.If, skipped
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "matplotlib" for n in names), path


def test_help_shows_examples() -> None:
    done = run_cli("preview", "--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout and "python -m lightning_lr preview OneCycle" in done.stdout
    assert "Cycle(Cosine(" in done.stdout and "--log" in done.stdout


def test_preview_cli_takes_a_schedule_expression(tmp_path: Path) -> None:
    out = tmp_path / "sgdr.png"
    done = run_cli("preview", "Cycle(Cosine(1.0, 0.0, 100), period_mult=2)", "--steps", "300", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "LRScheduler over 300 steps" and out.stat().st_size > 10_000
    bad = run_cli("preview", "Cosine(1.0, ", "--steps", "10")
    assert bad.returncode == 2 and "could not evaluate the schedule expression" in bad.stderr
    unknown = run_cli("preview", "Nope", "--steps", "10")
    assert unknown.returncode == 2 and "NAME must be one of CosineAnnealing" in unknown.stderr


def test_figure_linear_axis_unless_log_identical_groups_once_legend_below_the_axes() -> None:
    result = preview(OneCycle(), total=200, base_lrs=[0.1, 0.1, 0.01])
    figure = result.plot()
    lr_axes, momentum_axes = figure.axes
    assert lr_axes.get_yscale() == "linear"
    assert [line.get_label() for line in lr_axes.get_lines()] == ["lr-SGD/pg1, pg2", "lr-SGD/pg3"]
    assert [line.get_label() for line in momentum_axes.get_lines()] == [
        "lr-SGD/pg1-momentum, pg2-momentum, pg3-momentum"
    ]
    figure.draw_without_rendering()  # lay out, then the legend must sit below the axes, not on the data
    (legend,) = figure.legends
    assert legend.get_window_extent().y1 <= lr_axes.get_window_extent().y0
    assert result.plot(log=True).axes[0].get_yscale() == "log"


def test_plateau_preview_says_its_cuts_depend_on_the_metric() -> None:
    from lightning_lr import ReduceLROnPlateau

    result = preview(ReduceLROnPlateau("val_loss", factor=0.5, patience=3), total=50)
    expected = "no cuts shown: they depend on the metric (each x0.5 after 3 checks of 'val_loss' without improvement)"
    assert result.note == expected
    assert "depend on the metric" in result.plot().axes[0].get_title()
    assert preview(OneCycle(), total=50).note == ""
