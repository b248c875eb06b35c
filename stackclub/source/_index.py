"""The source index: qualname -> (def line, end line), one `ast.parse` per file (cached).

`find` answers "which lines define ``Outer.method`` in this file?" for classes, functions and
class-body assignments (config fields, class attributes), looking into ``if``/``try``/``with``
blocks as Python does when it runs the file.  Parsed files are cached by path and modification
time, so an edited file is parsed again.
"""

from __future__ import annotations

__all__ = (
    "Definition",
    "find",
    "source_lines",
    "tree",
)

import ast
import functools
import logging
import os
import tokenize
from dataclasses import dataclass
from typing import Literal

_LOG = logging.getLogger(__name__)

Kind = Literal["class", "def", "assign"]


@dataclass(frozen=True)
class Definition:
    """Where one name is defined in a file.

    Attributes
    ----------
    kind
        ``"class"``, ``"def"`` or ``"assign"``.
    first
        The first decorator line, or the ``def``/``class`` line.
    line
        The ``def``/``class``/assignment line.
    end
        The last line of the definition.
    """

    kind: Kind
    first: int
    line: int
    end: int


def tree(path: str) -> ast.Module:
    """Return the parsed file (cached while the file is unchanged).

    Parameters
    ----------
    path
        A Python source file.

    Returns
    -------
    module : `ast.Module`
        Its syntax tree.
    """
    return _tree(path, os.stat(path).st_mtime_ns)


def source_lines(path: str) -> list[str]:
    """Return the lines of a Python source file, decoded as Python decodes it (cached).

    Parameters
    ----------
    path
        A Python source file.

    Returns
    -------
    lines : `list` [`str`]
        Its lines, without line endings.
    """
    return _source_lines(path, os.stat(path).st_mtime_ns)


def find(path: str, qualname: str, *, kind: Kind, first_line: int | None = None) -> tuple[int, int] | None:
    """Return the ``(first, last)`` lines defining ``qualname`` in ``path``, or `None`.

    Parameters
    ----------
    path
        A Python source file.
    qualname
        ``Outer.Inner.method``, ``function.<locals>.inner`` or ``Config.field``.
    kind
        The kind of definition wanted; another kind is used when there is none of this one.
    first_line
        The line the code object starts at, to choose among several definitions of one name;
        otherwise the last one (the one Python keeps) is chosen.

    Returns
    -------
    lines : `tuple` [`int`, `int`] or `None`
        The ``def``/``class``/assignment line (not a decorator) and the last line.

    Examples
    --------
    >>> import stackclub.source._index as index
    >>> first, last = find(index.__file__, "find", kind="def")
    >>> source_lines(index.__file__)[first - 1].startswith("def find(path: str, qualname: str")
    True
    """
    defs = _index(path).get(qualname)
    if not defs:
        return None
    defs = [d for d in defs if d.kind == kind] or defs
    chosen = defs[-1]  # the last definition is the one Python keeps
    if first_line is not None:
        for d in defs:
            if d.first <= first_line <= d.end:
                chosen = d
                break
    return (chosen.line, chosen.end)


@functools.lru_cache(maxsize=8)
def _tree(path: str, mtime_ns: int) -> ast.Module:
    """Parse the file; few trees are kept (one takes ~1 kB per source line), the small index many."""
    with tokenize.open(path) as handle:
        return ast.parse(handle.read(), filename=path)


@functools.lru_cache(maxsize=256)
def _source_lines(path: str, mtime_ns: int) -> list[str]:
    with tokenize.open(path) as handle:
        return handle.read().splitlines()


@functools.lru_cache(maxsize=1024)
def _parse(path: str, mtime_ns: int) -> dict[str, list[Definition]]:
    index: dict[str, list[Definition]] = {}

    def add(qualname: str, kind: Kind, node: ast.stmt, first: int) -> None:
        index.setdefault(qualname, []).append(
            Definition(kind, first, node.lineno, node.end_lineno or node.lineno)
        )

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                qualname = prefix + node.name
                if isinstance(node, ast.ClassDef):
                    add(qualname, "class", node, first)
                    visit(node.body, qualname + ".", True)
                else:
                    add(qualname, "def", node, first)
                    visit(node.body, qualname + ".<locals>.", False)
            elif in_class and isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        add(prefix + target.id, "assign", node, node.lineno)
            elif isinstance(
                node, ast.If | ast.Try | ast.TryStar | ast.With | ast.AsyncWith | ast.For | ast.While
            ):
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []) or [], prefix, in_class)
                for handler in getattr(node, "handlers", []) or []:
                    visit(handler.body, prefix, in_class)

    visit(_tree(path, mtime_ns).body, "", False)
    return index


def _index(path: str) -> dict[str, list[Definition]]:
    try:
        return _parse(path, os.stat(path).st_mtime_ns)
    except (OSError, SyntaxError, ValueError) as err:
        _LOG.debug("cannot parse %s: %s", path, err)
        return {}
