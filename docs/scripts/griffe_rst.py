"""A Griffe extension for the API reference: the reST bits of our Google-style docstrings, as Markdown.

The docstrings are Google style (what mkdocstrings parses) but write maths and cross-references
as Sphinx does. Before mkdocstrings renders them this extension rewrites, in every docstring:

- a ``.. math::`` directive (on one line, or with an indented body) into a ``$$ ... $$`` block,
  rendered by ``pymdownx.arithmatex``;
- ``:math:`x``` into ``$x$``;
- an argument entry shared by several parameters (``interval, warmup, ...: see ScheduleCallback``)
  into one entry per parameter, so that the API pages show each one with its type and real default
  (Griffe takes a shared entry for one unknown parameter and the listed ones as "required");
- an ``Example:`` section header into ``Examples:`` (what Griffe's Google parser reads as code
  examples; the singular would be an admonition of plain text), and drops ``# doctest:`` directives;
- ``:class:`~pkg.Name```, ``:func:``, ``:meth:``, ``:attr:``, ``:data:``, ``:mod:``, ``:exc:`` and
  ``:obj:`` into code that links to the object's entry when the API reference documents it
  (an *optional* autorefs cross-reference: a target that is not documented stays plain code and
  never fails ``mkdocs build --strict``).

Used from ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``); needs
the docs extra (``griffe`` comes with ``mkdocstrings[python]``).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

try:
    from griffe import Extension, Object
except ImportError:  # pytest imports every module under docs/ (--doctest-modules) without the docs extra
    Extension = object  # type: ignore[assignment,misc]
    Object = Any  # type: ignore[assignment,misc]

__all__ = ["ReSTToMarkdown", "convert"]

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>.*)$")
_MATH_ROLE = re.compile(r":math:`(?P<body>[^`]+)`")
_XREF_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj):`(?P<target>[^`]+)`")
_EXAMPLE_HEADER = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)
_DOCTEST_DIRECTIVE = re.compile(r"[ \t]*#[ \t]*doctest:[^\n]*$", re.MULTILINE)
_SHARED_PARAMS = re.compile(
    r"^(?P<indent>[ \t]+)(?P<names>[A-Za-z_]\w*(?:, [A-Za-z_]\w*)+): (?P<text>.*)$", re.MULTILINE
)


def _math_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["first"]] if match["first"].strip() else []
        i += 1
        continuation: list[str] = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            continuation.append(lines[i])
            i += 1
        while continuation and not continuation[-1].strip():  # trailing blank lines belong to the text after
            continuation.pop()
            i -= 1
        body += [line for line in textwrap.dedent("\n".join(continuation)).split("\n") if line.strip()]
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}$$", *(f"{indent}{line.strip()}" for line in body), f"{indent}$$"]
        if i < len(lines) and lines[i].strip():
            out.append("")
    return "\n".join(out)


def _xref(match: re.Match[str], scope: Object | None) -> str:
    target = match["target"].strip()
    if "<" in target and target.endswith(">"):  # :class:`title <path>`
        title, target = target[:-1].split("<", 1)
        title = title.strip()
    else:
        title = target.lstrip("~").rsplit(".", 1)[-1] if target.startswith("~") else target
    path = target.lstrip("~")
    if scope is not None:
        head, _, rest = path.partition(".")
        try:
            resolved = scope.resolve(head)
        except Exception:  # not a name in scope: keep it as written
            resolved = None
        if resolved:
            path = f"{resolved}.{rest}" if rest else resolved
    return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'


def _split_shared(match: re.Match[str]) -> str:
    """``a, b: text`` -> one entry per name, so each is matched to its signature parameter and default.

    Example:
        >>> print(_SHARED_PARAMS.sub(_split_shared, "Args:\\n    interval, warmup: see the base class."))
        Args:
            interval: see the base class.
            warmup: see the base class.
    """
    return "\n".join(f"{match['indent']}{name}: {match['text']}" for name in match["names"].split(", "))


def convert(text: str, scope: Object | None = None) -> str:
    """Rewrite the reST maths and cross-reference roles of one docstring as Markdown.

    Example:
        >>> print(convert("Decay.\\n\\n.. math:: v(t) = \\\\gamma^t\\n\\nwith :math:`t` the step."))
        Decay.
        <BLANKLINE>
        $$
        v(t) = \\gamma^t
        $$
        <BLANKLINE>
        with $t$ the step.
    """
    text = _math_blocks(text)
    text = _SHARED_PARAMS.sub(_split_shared, text)
    text = _EXAMPLE_HEADER.sub(lambda m: f"{m['indent']}Examples:", text)
    text = _DOCTEST_DIRECTIVE.sub("", text)
    text = _MATH_ROLE.sub(lambda m: f"${m['body']}$", text)
    return _XREF_ROLE.sub(lambda m: _xref(m, scope), text)


class ReSTToMarkdown(Extension):  # type: ignore[misc,valid-type]
    """Convert every docstring of a package once it is completely loaded (aliases share their target's)."""

    def on_package(self, *, pkg: Object, **kwargs: Any) -> None:
        pending = [pkg]
        while pending:
            obj = pending.pop()
            if obj.docstring is not None:
                obj.docstring.value = convert(obj.docstring.value, obj)
            pending.extend(member for member in obj.members.values() if not member.is_alias)  # type: ignore[misc]
