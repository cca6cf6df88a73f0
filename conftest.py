"""The ```python blocks of README.md and docs/, run by pytest-markdown-docs as a user would paste them.

Each block is one test (``README.md::[CodeFence#1][line:56]``) and runs alone, in a fresh namespace
(complete imports in the block itself), in its own temporary directory (``lightning_logs/``,
``lr_finder.png``, ... stay out of the checkout), from the same random state, with its output
captured as any test's. A block that imports a heavy extra (``HEAVY_EXTRAS``) is skipped, with the
reason in the summary, where that package is missing, and runs where it is installed.
``>>>`` sessions are ```pycon blocks, run by doctest (``--doctest-glob='*.md'``), never here.
How to write a block: docs/contributing.md.
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import re

import numpy as np
import pytest
import torch

# Top-level package a block may import -> how to install it. Not in the `dev` extra: too heavy for CI.
HEAVY_EXTRAS = {
    "transformers": "pip install transformers accelerate",
    "torchvision": 'pip install -e ".[cifar]"',
}

_IMPORTED = re.compile(r"^\s*(?:from|import)\s+(\w+)", re.MULTILINE)


def _is_docs_block(item: pytest.Item) -> bool:
    return item.get_closest_marker("markdown-docs") is not None


def _block_source(item: pytest.Item) -> str:
    return str(dict(item.user_properties).get("code", ""))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not _is_docs_block(item):
            continue
        for name in dict.fromkeys(_IMPORTED.findall(_block_source(item))):
            if name in HEAVY_EXTRAS and importlib.util.find_spec(name) is None:
                reason = f"needs {name}, not installed ({HEAVY_EXTRAS[name]} to run it)"
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _docs_block_sandbox(request: pytest.FixtureRequest) -> None:
    if not _is_docs_block(request.node):
        return
    request.getfixturevalue("monkeypatch").chdir(request.getfixturevalue("tmp_path"))
    # pytest-markdown-docs 0.9 runs each block with pytest's capture switched off, so every Trainer's
    # progress bars would fill the CI log (its issue #54); keep capture on, as for any test. Harmless
    # once the plugin captures by itself (its pull request #55 removes that context manager).
    capture = request.config.pluginmanager.getplugin("capturemanager")
    request.getfixturevalue("monkeypatch").setattr(capture, "global_and_fixture_disabled", contextlib.nullcontext)
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
