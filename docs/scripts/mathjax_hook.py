"""MkDocs hook: MathJax served from the site itself, so formulas render without network at view time.

Before each build, if ``docs/javascripts/mathjax/es5/tex-mml-chtml.js`` is missing, this fetches the
``mathjax`` package (version ``MATHJAX_VERSION``) from the npm registry with ``npm pack`` and unpacks
its ``es5/`` folder (the combined TeX/MathML-to-HTML script and its fonts) there. Later builds reuse it
(the folder is git-ignored). Used from ``mkdocs.yml`` (``hooks:``); needs ``npm`` for the first build.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

MATHJAX_VERSION = "3.2.2"
SCRIPT = "es5/tex-mml-chtml.js"


def fetch_mathjax(target: Path, version: str = MATHJAX_VERSION) -> None:
    """Unpack ``mathjax@version``'s ``es5/`` folder into ``target`` (``target/es5/...``)."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"The docs serve MathJax themselves: install npm (e.g. `apt-get install npm`) for the first build, or "
            f"unpack the npm package mathjax@{version} so that {target / SCRIPT} exists."
        )
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", f"mathjax@{version}", "--silent"], cwd=tmp, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"`npm pack mathjax@{version}` failed: {done.stderr.strip()[-2000:]}")
        with tarfile.open(Path(tmp) / f"mathjax-{version}.tgz") as archive:
            members = [m for m in archive.getmembers() if m.name.startswith("package/es5/") and m.isfile()]
            archive.extractall(tmp, members=members, filter="data")
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(Path(tmp) / "package" / "es5", target / "es5")


def on_pre_build(config: Any, **kwargs: Any) -> None:
    target = Path(config["docs_dir"]) / "javascripts" / "mathjax"
    if not (target / SCRIPT).is_file():
        fetch_mathjax(target)
