"""The architecture holds: imports run one way between layers, the pure layers never import Lightning, and the
planner works in a process where Lightning cannot be imported (docs/architecture.md draws the picture)."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import lightning_lr

PACKAGE = Path(lightning_lr.__file__).resolve().parent

# The layers, lowest first; a module may import lightning_lr modules of its own layer or a lower one.
LAYERS: list[tuple[str, ...]] = [
    ("lightning_lr.checks", "lightning_lr.deprecation", "lightning_lr.optimizers", "lightning_lr.spike_rule"),
    ("lightning_lr.schedules",),
    ("lightning_lr.planner",),
    (
        "lightning_lr.schedule_lr",
        "lightning_lr.param_groups",
        "lightning_lr.lifecycle",
        "lightning_lr.owners",
        "lightning_lr.train_data",
        "lightning_lr.logging",
        "lightning_lr.random_state",
    ),
    ("lightning_lr.preview", "lightning_lr.finder"),
    ("lightning_lr.callbacks", "lightning_lr.schedule_free"),
    ("lightning_lr.rewind",),
    ("lightning_lr.__main__", "lightning_lr"),
]
LIGHTNING_FREE = (
    "lightning_lr.checks",
    "lightning_lr.optimizers",
    "lightning_lr.spike_rule",
    "lightning_lr.schedules",
    "lightning_lr.planner",
    "lightning_lr.schedule_lr",
)
# Imports inside a function, each with its reason: the schedule algebra's `*` operator (the combinators import
# the base class), matplotlib and the figure code only when a figure is drawn.
LOCAL_IMPORTS_ALLOWED = {
    ("lightning_lr.schedules.base", "lightning_lr.schedules.combinators"),
    ("lightning_lr.finder.result", "lightning_lr.finder.plot"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best = (-1, -1)  # (length of the matching prefix, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), index)
    if best[1] < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/architecture.md)")
    return best[1]


def imports(path: Path) -> list[tuple[str, bool, bool]]:
    """``(imported module, at module level, under TYPE_CHECKING)`` for every import in the file."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, bool, bool]] = []

    def visit(node: ast.AST, top: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, top, typing_only) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, top, typing_only))
                found.extend((f"{child.module}.{a.name}", top, typing_only) for a in child.names)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, top, True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, False, typing_only)
            else:
                visit(child, top, typing_only)

    visit(tree, True, False)
    return found


def package_modules() -> list[tuple[str, Path]]:
    return [(module_name(p), p) for p in sorted(PACKAGE.rglob("*.py"))]


def is_module(name: str) -> bool:
    """Whether ``name`` is a lightning_lr module (not a name imported from one)."""
    return name in {m for m, _ in package_modules()}


@pytest.mark.parametrize("module, path", package_modules(), ids=[m for m, _ in package_modules()])
def test_imports_run_one_way_between_layers(module: str, path: Path) -> None:
    own = layer_of(module)
    for imported, _, typing_only in imports(path):
        if imported.startswith("lightning_lr") and is_module(imported) and not typing_only:
            assert layer_of(imported) <= own, f"{module} (layer {own}) imports {imported} (layer {layer_of(imported)})"


@pytest.mark.parametrize("module, path", package_modules(), ids=[m for m, _ in package_modules()])
def test_imports_are_at_the_top_of_modules(module: str, path: Path) -> None:
    for imported, top, _ in imports(path):
        if imported.startswith("lightning_lr") and is_module(imported) and not top:
            assert (module, imported) in LOCAL_IMPORTS_ALLOWED, f"{module} imports {imported} inside a function"


@pytest.mark.parametrize("module, path", [(m, p) for m, p in package_modules() if m.startswith(LIGHTNING_FREE)])
def test_the_pure_layers_never_import_lightning(module: str, path: Path) -> None:
    for imported, _, _ in imports(path):
        assert not imported.startswith(("lightning.", "pytorch_lightning")) and imported != "lightning", (
            f"{module} imports {imported}"
        )


def test_the_planner_and_schedule_lr_run_where_lightning_cannot_be_imported() -> None:
    script = """
import sys
class NoLightning:
    def find_spec(self, name, path=None, target=None):
        if name == "lightning" or name.startswith(("lightning.", "pytorch_lightning")):
            raise ImportError("no Lightning here: " + name)
sys.meta_path.insert(0, NoLightning())
import torch
from lightning_lr import OneCycle  # noqa: F401 - only the callbacks need Lightning
"""
    failed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert "no Lightning here" in failed.stderr  # the hook works: a callback cannot load
    script = script.replace("from lightning_lr import OneCycle  # noqa: F401 - only the callbacks need Lightning", "")
    script += """
from lightning_lr import ScheduleLR
from lightning_lr.planner import plan_optimizer
from lightning_lr.schedules import Cosine, Warmup
optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
scheduler = ScheduleLR(optimizer, Warmup(Cosine(1.0, 0.0), duration="10%"), total_steps=100)
for _ in range(10):
    optimizer.step(); scheduler.step()
print(scheduler.get_last_lr()[0], sorted(m for m in sys.modules if m.startswith("lightning")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    lr, modules = done.stdout.split(" ", 1)
    assert float(lr) == 0.1
    assert "lightning.pytorch" not in modules and "'lightning'" not in modules


def test_every_public_name_loads_and_the_moved_names_still_import_with_a_warning() -> None:
    import lightning_lr.callbacks
    import lightning_lr.finder

    for name in lightning_lr.__all__:
        assert getattr(lightning_lr, name) is not None
    for module, name in [
        (lightning_lr, "PlateauState"),
        (lightning_lr.callbacks, "PlateauState"),
        (lightning_lr.finder, "smooth"),
        (lightning_lr.finder, "suggest"),
        (lightning_lr.finder, "climb_point"),
        (lightning_lr.finder, "METHODS"),
        (lightning_lr.finder, "FinderConfig"),
    ]:
        assert name not in module.__all__
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert getattr(module, name) is not None
        assert any(issubclass(w.category, DeprecationWarning) and name in str(w.message) for w in caught)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = lightning_lr.NoSuchName  # type: ignore[attr-defined]
