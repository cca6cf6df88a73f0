"""The schedule preview: python -m lightning_lr preview, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_lr import CosineAnnealing, CosineRestarts, OneCycle
from lightning_lr.__main__ import comparison_figure, main
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
        "lr-SGD/pg1-momentum, pg2-momentum,\npg3-momentum"  # wrapped to the figure's width
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


def test_preview_cli_compares_several_schedules_on_one_figure_and_one_scale(tmp_path: Path) -> None:
    out = tmp_path / "compare.png"
    wsd = "WarmupStableDecay(num_warmup_steps=0.1, num_decay_steps=0.2)"
    done = run_cli("preview", "OneCycle", "CosineAnnealing(eta_min=0.05)", wsd, "--width", "40", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    lines = done.stdout.splitlines()
    assert lines[0] == "3 schedules over 1000 steps (LR bars on one scale, 0 .. 0.1)"
    assert [lines[1], lines[4], lines[6]] == ["OneCycle", "CosineAnnealing(eta_min=0.05)", wsd]
    assert lines[2].split()[0] == "lr-SGD" and lines[3].split()[0] == "lr-SGD-momentum"
    cosine = lines[5].split()[1]
    # one scale for every LR row: the cosine ends at 0.05, half of the common top, not at the bottom
    assert len(cosine) == 40 and cosine[0] == "█" and cosine[-1] == "▅"
    assert lines[7].split()[1][0] == "▁"  # WSD warms up from 0, the common bottom
    assert lines[-1] == f"wrote {out}"


def test_preview_compare_in_process_with_set_for_every_name_and_a_plateau_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "OneCycle", "ReduceLROnPlateau(monitor='val_loss')", "--set", "warmup=100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "OneCycle(warmup=100)" and lines[4] == "ReduceLROnPlateau(monitor='val_loss') with warmup=100"
    note = "no cuts shown: they depend on the metric (each x0.1 after 10 checks of 'val_loss' without improvement)"
    assert lines[6] == f"{'note:':>24} {note}"


def test_figure_of_several_schedules_names_each_in_the_legend_in_its_colour() -> None:
    named = [("OneCycle", preview(OneCycle(), 200)), ("CosineAnnealing", preview(CosineAnnealing(), 200))]
    figure = comparison_figure(named)
    lr_axes, momentum_axes = figure.axes
    lines = lr_axes.get_lines()
    assert [line.get_label() for line in lines] == ["OneCycle", "CosineAnnealing"]
    (momentum,) = momentum_axes.get_lines()
    assert momentum.get_label() == "OneCycle: momentum" and momentum.get_color() == lines[0].get_color()
    assert lines[0].get_color() != lines[1].get_color()
    assert lr_axes.get_title() == "Planned schedules"
    figure.draw_without_rendering()
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["OneCycle", "CosineAnnealing", "OneCycle: momentum"]
    assert legend.get_window_extent().y1 <= lr_axes.get_window_extent().y0
    single = comparison_figure([("OneCycle(pct_start=0.25)", preview(OneCycle(pct_start=0.25), 200))])
    assert single.axes[0].get_title() == "Planned schedule: OneCycle(pct_start=0.25)"
    assert [line.get_label() for line in single.axes[0].get_lines()] == ["lr-SGD"]


def test_bad_set_key_names_the_callback_and_lists_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "OneCycle", "--set", "pct_strat=0.3"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: OneCycle has no argument 'pct_strat' (did you mean 'pct_start'?); it takes max_lr,")
    shared = "interval, optimizers, log_loss, count, total, log_lr, warmup, warmup_start_factor."
    assert error.endswith(f"max_momentum, {shared}")
    assert main(["preview", "OneCycle(pct_strat=0.3)"]) == 2  # the same check inside an expression
    assert "OneCycle has no argument 'pct_strat'" in capsys.readouterr().err
    assert main(["preview", "OneCycle", "CosineAnnealing", "--set", "pct_start=0.3"]) == 2
    error = capsys.readouterr().err
    assert "CosineAnnealing has no argument 'pct_start'; it takes T_max, eta_min, interval," in error
    assert "--set applies to every NAME" in error
    assert main(["preview", "OneCycle(pct_start=0.3)", "--set", "pct_start=0.4"]) == 2
    assert "OneCycle: pct_start given both in the expression and in --set" in capsys.readouterr().err


def test_compared_schedules_must_share_a_clock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "OneCycle", "StepDecay(10, interval='epoch')", "--steps", "50"]) == 2
    assert "compared schedules need one clock, got OneCycle: step, StepDecay(10, interval='epoch'): epoch" in (
        capsys.readouterr().err
    )


def test_help_says_what_an_epoch_is_without_steps_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["preview", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "optimizer steps in one epoch, for durations in epochs (without it they are refused)" in text
    assert "without it the preview cannot know your epoch" in text
    assert "Several NAMEs are compared" in text


def test_steps_per_epoch_resolves_epoch_durations(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["preview", "CosineRestarts", "--steps", "400", "--steps-per-epoch", "100", "--set", "T_0=2 epochs"]
    assert main(argv) == 0
    restarts = preview(CosineRestarts(T_0=200), 400).series["lr-SGD"]
    assert capsys.readouterr().out.splitlines()[1].split()[1] == sparkline(restarts, 60)


def test_figures_fit_tensorboards_image_card_long_names_wrapped_inside_the_figure() -> None:
    from lightning_lr.finder import FinderResult
    from lightning_lr.logging.figures import DPI, FIGSIZE

    wsd = "WarmupStableDecay(num_warmup_steps=0.1, num_decay_steps=0.2)"
    figure = comparison_figure([("OneCycle", preview(OneCycle(), 100)), (wsd, preview(OneCycle(), 100))])
    lrs = [10 ** (-4 + 5 * i / 39) for i in range(40)]
    losses = [2.0 - 1.0 / (1.0 + (1e-2 / lr) ** 2) + (lr > 1.0) * 10 * lr for lr in lrs]  # falls, then climbs
    finder = FinderResult.from_curve(lrs, losses).plot()
    for drawn in (figure, finder):
        assert tuple(drawn.get_size_inches()) == FIGSIZE and drawn.dpi == DPI
        drawn.draw_without_rendering()
        (legend,) = drawn.legends
        box, page, axes = legend.get_window_extent(), drawn.bbox, drawn.axes[0].get_window_extent()
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and box.y1 <= axes.y0  # inside the figure, under the axes
    labels = [text.get_text() for text in figure.legends[0].texts]
    assert "WarmupStableDecay(num_warmup_steps=0.1,\nnum_decay_steps=0.2)" in labels
    # the finder's y-range ends near the curve's start, not at the climb after its lowest point
    assert finder.axes[0].get_ylim()[1] < 2.2 < max(losses)


def test_tensorboard_receives_both_figures_at_their_readable_size(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lightning_lr import LRFinder
    from lightning_lr.logging.figures import DPI, FIGSIZE
    from tests.helpers import TinyModel, make_trainer

    logger = TensorBoardLogger(tmp_path, name="", version="", default_hp_metric=False)
    callbacks = [LRFinder(num_training_steps=10), OneCycle()]
    make_trainer(tmp_path, callbacks, logger=logger, log_every_n_steps=1).fit(TinyModel(n=32))
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    for tag in ("lightning_lr/planned_schedule/OneCycle", "lightning_lr/lr_finder"):
        (image,) = events.Images(tag)
        assert (image.width, image.height) == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))  # 675 x 510


def test_a_duration_in_epochs_without_steps_per_epoch_is_refused_with_the_flag_to_give(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "CosineRestarts", "--steps", "400", "--set", "T_0=2 epochs"]) == 2
    error = capsys.readouterr().err
    assert "needs the number of steps per epoch" in error and "Give --steps-per-epoch." in error
