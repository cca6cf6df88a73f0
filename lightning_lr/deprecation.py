"""Names that moved, kept importable from their old place for one release, with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that serves each of ``names`` from its new module, warning once per use.

    Example:
        >>> getattr_ = moved("lightning_lr.finder", {"smooth": "lightning_lr.finder.smoothing"})
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     getattr_("smooth").__name__, "lightning_lr.finder.smoothing" in str(caught[0].message)
        ('smooth', True)
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - a module's __getattr__
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        home = names[name]
        warnings.warn(
            f"`{package}.{name}` is deprecated and will be removed in the next release; "
            f"import it from `{home}` (it is not part of the public API).",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home), name)

    return __getattr__
