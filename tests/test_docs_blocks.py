"""The rules that keep every code block of README.md and docs/ run by CI (docs/contributing.md).

pytest-markdown-docs runs the ```python blocks (conftest.py) and doctest the ```pycon ones; these
tests make sure that no block falls between the two, and that a ```python block is complete as
pasted even in the parts that running it does not reach (a method body that a Trainer never calls).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def fences(page: Path) -> list[tuple[int, str, str]]:
    """(line, info string, code) of every fenced block, parsed as pytest-markdown-docs parses it."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf8"))
    return [(t.map[0] + 1, t.info.strip(), t.content) for t in tokens if t.type == "fence" and t.map]


def python_blocks() -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(ROOT)}:{line}", code)
        for page in PAGES
        for line, info, code in fences(page)
        if info.split()[:1] == ["python"]
    ]


def lint_undefined_names(folder: Path) -> subprocess.CompletedProcess[str]:
    """ruff on every .py file of ``folder``: undefined names (F821) and syntax errors (E9) only."""
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "F821,E9"]
    return subprocess.run([*command, "--output-format", "concise", str(folder)], capture_output=True, text=True)


def block_problems(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for line, info, code in fences(page):
        where = f"{page.relative_to(root)}:{line}"
        words = info.split()
        lang, options = (words[0], words[1:]) if words else ("", [])
        session = any(row.lstrip().startswith(">>>") for row in code.splitlines())
        if lang.lower().startswith("py") and lang not in ("python", "pycon"):
            problems.append(f"{where}: ```{lang}: write python (a script) or pycon (a >>> session)")
        elif lang == "python" and session:
            problems.append(f"{where}: a >>> session in a ```python block; make it ```pycon (doctest runs it)")
        elif lang == "pycon" and not session:
            problems.append(f"{where}: a ```pycon block without >>>, which doctest never runs")
        if lang == "python" and re.sub(r'title="[^"]*"', "", " ".join(options)).strip():
            problems.append(
                f"{where}: ```{info}: only title=... may follow python (superfences renders no other option, "
                "and every block runs)"
            )
    return problems


def test_every_python_like_block_is_a_script_or_a_session() -> None:
    problems = [problem for page in PAGES for problem in block_problems(page)]
    assert problems == []


def test_the_rules_catch_each_mistake(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n>>> 1 + 1\n2\n```\n\n```pycon\nx = 1\n```\n\n```py\nx = 1\n```\n\n"
        '```python notest\nx = 1\n```\n\n```python title="ok"\nx = 1\n```\n\n```pycon\n>>> 1\n1\n```\n'
    )
    problems = block_problems(page, root=tmp_path)
    assert [p.split(":")[1] for p in problems] == ["1", "6", "10", "14"]


def test_python_blocks_name_nothing_they_do_not_define_or_import(tmp_path: Path) -> None:
    # Running a block does not reach the body of a configure_optimizers that no Trainer calls: a
    # missing `import torch` there shows up only when a user pastes it. Undefined names (F821) and
    # syntax errors (E9), each block checked alone.
    blocks = python_blocks()
    assert len(blocks) > 20  # README.md and docs/ have a couple dozen: the pages were found
    for i, (_, code) in enumerate(blocks):
        (tmp_path / f"block_{i}.py").write_text(code, encoding="utf8")
    result = lint_undefined_names(tmp_path)
    report = result.stdout
    for i, (where, _) in enumerate(blocks):
        report = report.replace(str(tmp_path / f"block_{i}.py"), where)
    assert result.returncode == 0, report


@pytest.mark.parametrize("code", ["x = torch.zeros(1)\n", "def f():\n    return Trainer()\n"])
def test_the_undefined_name_check_fails_on_a_missing_import(tmp_path: Path, code: str) -> None:
    (tmp_path / "block.py").write_text(code)
    result = lint_undefined_names(tmp_path)
    assert result.returncode == 1
    assert "F821" in result.stdout
