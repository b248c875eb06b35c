"""Connections of a ``PipelineTaskConnections`` class: dataset types, templates, dimensions."""

from __future__ import annotations

__all__ = (
    "CONNECTION_FLAGS",
    "CONNECTION_KINDS",
    "class_dimensions",
    "connection_removals",
    "connections",
    "templates",
)

import ast
from typing import Any

from .git import ClassRef
from .source import Sources

CONNECTION_KINDS = ("Input", "PrerequisiteInput", "Output", "InitInput", "InitOutput")
CONNECTION_FLAGS = ("multiple", "isCalibration", "deferLoad", "minimum", "deferGraphConstraint")


# --------------------------------------------------------------------------------------------
# Tasks: connections, run(), subtasks
# --------------------------------------------------------------------------------------------


def connections(sources: Sources, cls: ClassRef) -> dict[str, dict[str, Any]]:
    """Return the connections declared by connections class ``cls`` (and its bases).

    Parameters
    ----------
    sources
        The mirrored source.
    cls
        A ``PipelineTaskConnections`` subclass.

    Returns
    -------
    connections : dict
        Connection name to its dataset type name, kind, storage class, dimensions and flags.
    """
    found: dict[str, dict[str, Any]] = {}
    for base in reversed(sources.mro(cls)):
        for stmt in base.node.body:
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
                continue
            kind = ast.unparse(stmt.value.func).rpartition(".")[2]
            if kind not in CONNECTION_KINDS or not isinstance(stmt.targets[0], ast.Name):
                continue
            args = {k.arg: k.value for k in stmt.value.keywords if k.arg}
            info: dict[str, Any] = {"kind": kind, "line": stmt.lineno}
            info["name"] = sources.value(base.module, args.get("name"))
            info["storageClass"] = sources.value(base.module, args.get("storageClass"))
            if kind not in ("InitInput", "InitOutput"):
                dims = sources.value(base.module, args.get("dimensions"))
                info["dimensions"] = list(dims) if isinstance(dims, list | tuple) else dims
            for flag in CONNECTION_FLAGS:
                if flag in args:
                    info[flag] = sources.value(base.module, args[flag])
            found[stmt.targets[0].id] = info
    removals = connection_removals(sources, cls)
    for name, condition in removals.items():
        if name in found:
            found[name]["removed_if"] = condition
    return found


def templates(sources: Sources, cls: ClassRef) -> dict[str, Any]:
    """Return the ``defaultTemplates`` of a connections class.

    Parameters
    ----------
    sources
        The mirrored source.
    cls
        A ``PipelineTaskConnections`` subclass.

    Returns
    -------
    templates : dict
        Template name to its default.
    """
    result: dict[str, Any] = {}
    for base in reversed(sources.mro(cls)):
        for kw in base.node.keywords:
            if kw.arg == "defaultTemplates":
                value = sources.value(base.module, kw.value)
                if isinstance(value, dict):
                    result.update(value)
    return result


def class_dimensions(sources: Sources, cls: ClassRef) -> list[str] | None:
    """Return the quantum dimensions (``dimensions=`` keyword) of a connections class.

    Parameters
    ----------
    sources
        The mirrored source.
    cls
        A ``PipelineTaskConnections`` subclass.

    Returns
    -------
    dimensions : list of str or None
        The dimensions.
    """
    for base in sources.mro(cls):
        for kw in base.node.keywords:
            if kw.arg == "dimensions":
                value = sources.value(base.module, kw.value)
                return list(value) if isinstance(value, list | tuple) else value
    return None


def connection_removals(sources: Sources, cls: ClassRef) -> dict[str, str]:
    """Return, for connections deleted in ``__init__``, the condition under which they are.

    Parameters
    ----------
    sources
        The mirrored source.
    cls
        A ``PipelineTaskConnections`` subclass.

    Returns
    -------
    removals : dict
        Connection name to the condition (the ``if`` tests that lead to the deletion).
    """
    found = sources.class_attr(cls, "__init__")
    if found is None or not isinstance(found[1], ast.FunctionDef):
        return {}
    result: dict[str, str] = {}

    def add(name: str, condition: str) -> None:
        result[name] = f"{result[name]} or {condition}" if name in result else condition

    def visit(body: list[ast.stmt], conditions: list[str]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.If):
                test = ast.unparse(stmt.test)
                visit(stmt.body, [*conditions, test])
                visit(stmt.orelse, [*conditions, f"not ({test})"])
            elif isinstance(stmt, ast.Delete):
                for t in stmt.targets:
                    if isinstance(t, ast.Attribute) and ast.unparse(t.value) == "self":
                        add(t.attr, " and ".join(conditions) or "always")
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                func = stmt.value.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr in ("remove", "discard")
                    and ast.unparse(func.value).startswith("self.")
                    and stmt.value.args
                    and isinstance(stmt.value.args[0], ast.Constant)
                ):
                    add(str(stmt.value.args[0].value), " and ".join(conditions) or "always")
            elif isinstance(stmt, ast.For | ast.With | ast.Try):
                visit(stmt.body, conditions)

    visit(found[1].body, [])
    return result
