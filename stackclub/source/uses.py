"""Where is this config field used?  `uses_of` lists each ``config.<field>`` in a task's source.

The task class, its config class and connections class, and all their bases are parsed with
`ast` (through `stackclub.source._index`); each attribute access ``<...>.config.<field>`` is one
use, linked to its line at the installed version.
"""

from __future__ import annotations

__all__ = (
    "FieldUse",
    "FieldUses",
    "uses_of",
)

import ast
import difflib
import inspect
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .._exceptions import ArgumentTypeError, UnknownNameError
from .._render import Link, Table
from ._index import find, source_lines, tree
from ._names import import_dotted
from ._resolve import code_files, pex_field_type, public_name
from ._urls import line_url


@dataclass(frozen=True)
class FieldUse:
    """One use of a config field in source code.

    Attributes
    ----------
    cls
        Public dotted name of the class whose source holds the use.
    function
        The method (or nested function) it is in, ``""`` for a class body.
    line
        Line number in `path`.
    code
        The source line, stripped.
    access
        ``"read"``, ``"set"`` or ``"delete"``.
    path
        Installed file.
    url
        Pinned source URL of the line, or the ``file://`` URL when no repository is known.
    """

    cls: str
    function: str
    line: int
    code: str
    access: str
    path: str
    url: str


@dataclass
class FieldUses:
    """The uses of one config field across a task, its config, connections and their bases.

    Renders as a table (escaped HTML in a notebook, aligned text in a terminal); iterate it for
    `FieldUse` items.
    """

    field: str
    searched: tuple[str, ...]
    uses: list[FieldUse]

    def __len__(self) -> int:
        return len(self.uses)

    def __iter__(self) -> Iterator[FieldUse]:
        return iter(self.uses)

    def __getitem__(self, index: int) -> FieldUse:
        return self.uses[index]

    def table(self) -> Table:
        """Return the uses as a `Table`: class, method, line (linked), access and code."""
        rows: list[Sequence[object]] = [
            [u.cls, u.function, Link(str(u.line), u.url), u.access, u.code] for u in self.uses
        ]
        title = (
            f"{len(self.uses)} uses of config.{self.field} in {', '.join(self.searched)}"
            if self.uses
            else f"No uses of config.{self.field} in {', '.join(self.searched)}"
        )
        return Table(["class", "method", "line", "access", "code"], rows, title=title)

    def __str__(self) -> str:
        return self.table().to_text()

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __repr__(self) -> str:
        return f"<FieldUses: {len(self.uses)} uses of config.{self.field}>"


def uses_of(cls_or_task: object, field_name: str) -> FieldUses:
    """Find where a config field is used: each ``config.<field>`` in the source of a task (and its bases).

    The source of the task class, its config class and its connections class, and of all their
    base classes, is parsed with `ast`; each attribute access ``<...>.config.<field>`` (and
    ``config.<field>``, and ``self.<field>`` inside a Config class) is one use.  Comments,
    docstrings and other strings do not count; f-string expressions do (they run).

    Parameters
    ----------
    cls_or_task
        A task or config class, an instance of one, or a dotted name of one.
    field_name
        The config field, e.g. ``"doFringe"``; ``"overscan.fitType"`` looks in the subtask
        that the ``overscan`` field configures (its task, config and their bases).

    Returns
    -------
    uses : `FieldUses`
        One row per use, with its line, code and a pinned source link.

    Raises
    ------
    UnknownNameError
        The class has a config class and ``field_name`` is not one of its fields (close
        matches are suggested), or a dotted name does not import.
    ArgumentTypeError
        ``cls_or_task`` is not (and does not lead to) a task or config class, or ``field_name`` is
        not a string.

    Examples
    --------
    >>> from stackclub import uses_of
    >>> uses_of("lsst.pipe.base.PipelineTask", "doFringe").uses
    []
    """
    if not isinstance(field_name, str):
        raise ArgumentTypeError(
            "uses_of", "field_name", field_name, "the name of a config field as a string, e.g. 'doFringe'"
        )
    obj = import_dotted(cls_or_task)[0] if isinstance(cls_or_task, str) else cls_or_task
    cls = obj if inspect.isclass(obj) else type(obj)
    if cls.__module__ == "builtins":
        raise ArgumentTypeError(
            "uses_of",
            "cls_or_task",
            obj,
            "a task or config class (or an instance of one, or its dotted name, "
            "e.g. 'stackclub.pipe.IsrTask')",
        )
    config_cls = _config_class_of(cls)
    if "." in field_name and config_cls is not None:  # "overscan.fitType": a field of a subtask's config
        head, _, rest = field_name.partition(".")
        sub = getattr(config_cls, head, None) if head in _field_names(config_cls) else None
        target = getattr(sub, "target", None) or getattr(sub, "dtype", None)
        if not (inspect.isclass(target) and (_is_config(target) or _config_class_of(target) is not None)):
            raise UnknownNameError(
                field_name,
                f"does not name a subtask's field: {head!r} is not a ConfigurableField or ConfigField of "
                f"{config_cls.__module__}.{config_cls.__qualname__}",
                tuple(_subtask_fields(config_cls)),
            )
        return uses_of(target, rest)
    if config_cls is not None:
        fields = _field_names(config_cls)
        if field_name not in fields:
            close = tuple(difflib.get_close_matches(field_name, sorted(fields), n=3, cutoff=0.6))
            raise UnknownNameError(
                field_name, f"is not a field of {config_cls.__module__}.{config_cls.__qualname__}", close
            )
    classes: list[tuple[type, bool]] = []  # (class, is a Config class)
    roots = [(cls, _is_config(cls))]
    if config_cls is not None and config_cls is not cls:
        roots.append((config_cls, True))
    connections = getattr(config_cls, "ConnectionsClass", None) if config_cls is not None else None
    if inspect.isclass(connections):
        roots.append((connections, False))
    for root, is_config in roots:
        for klass in root.__mro__:
            if klass is object or klass.__module__ == "builtins" or any(klass is c for c, _ in classes):
                continue
            classes.append((klass, is_config))
    uses: list[FieldUse] = []
    searched: list[str] = []
    for klass, is_config in classes:
        found = _class_node(klass)
        if found is None:
            continue
        path, node = found
        if klass in (cls, config_cls, connections):
            searched.append(klass.__qualname__)
        uses.extend(_uses_in_class(klass, path, node, field_name, is_config))
    return FieldUses(field=field_name, searched=tuple(searched) + ("their bases",), uses=uses)


def _subtask_fields(config_cls: type) -> list[str]:
    return sorted(
        name
        for name in _field_names(config_cls)
        if inspect.isclass(getattr(getattr(config_cls, name), "target", None))
        or _is_config_class(getattr(getattr(config_cls, name), "dtype", None))
    )


def _is_config_class(obj: object) -> bool:
    return inspect.isclass(obj) and _is_config(obj)


def _is_config(cls: type) -> bool:
    base = getattr(sys.modules.get("lsst.pex.config"), "Config", None)
    return base is not None and issubclass(cls, base)


def _config_class_of(cls: type) -> type | None:
    if _is_config(cls):
        return cls
    config = getattr(cls, "ConfigClass", None)
    return config if inspect.isclass(config) and _is_config(config) else None


def _field_names(config_cls: type) -> set[str]:
    field_type = pex_field_type()
    return {
        name
        for name in dir(config_cls)
        if field_type and isinstance(getattr(config_cls, name, None), field_type)
    }


def _uses_in_class(klass: type, path: str, node: ast.ClassDef, name: str, is_config: bool) -> list[FieldUse]:
    lines = source_lines(path)
    module = klass.__module__
    public = public_name(module, klass.__qualname__)
    out: list[FieldUse] = []

    def walk(item: ast.AST, function: str, aliases: frozenset[str]) -> None:
        for child in ast.iter_child_nodes(item):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = getattr(child, "name", "<lambda>")
                walk(
                    child,
                    f"{function}.{inner}" if function else inner,
                    aliases | _config_aliases(child, is_config),
                )
                continue
            if isinstance(child, ast.ClassDef):
                continue  # a nested class is searched on its own if it is a base
            if (
                isinstance(child, ast.Attribute)
                and child.attr == name
                and (
                    _is_config_ref(child.value, is_config)
                    or (isinstance(child.value, ast.Name) and child.value.id in aliases)
                )
            ):
                access = {ast.Store: "set", ast.Del: "delete"}.get(type(child.ctx), "read")
                code = lines[child.lineno - 1].strip() if child.lineno <= len(lines) else ""
                out.append(
                    FieldUse(
                        cls=public,
                        function=function,
                        line=child.lineno,
                        code=code,
                        access=access,
                        path=path,
                        url=line_url(path, module, child.lineno),
                    )
                )
            walk(child, function, aliases)

    walk(node, "", frozenset())
    out.sort(key=lambda u: u.line)
    return out


def _config_aliases(function: ast.AST, is_config: bool) -> frozenset[str]:
    """Local names bound to the config in a function (``cfg = self.config``)."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and _is_config_obj(node.value, is_config):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return frozenset(names)


def _is_config_obj(value: ast.expr, is_config: bool) -> bool:
    """``self.config`` / ``task.config`` / ``config`` itself."""
    if isinstance(value, ast.Name):
        return value.id == "config"
    return isinstance(value, ast.Attribute) and value.attr == "config"


def _is_config_ref(value: ast.expr, is_config: bool) -> bool:
    if isinstance(value, ast.Name):
        return value.id == "config" or (is_config and value.id == "self")
    return isinstance(value, ast.Attribute) and value.attr == "config"


def _class_node(cls: type) -> tuple[str, ast.ClassDef] | None:
    """Return the file and the syntax tree of ``cls``'s class statement, or `None`."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    candidates = ([path] if path and path.endswith(".py") else []) + code_files(cls)
    for candidate in candidates:
        span = find(candidate, cls.__qualname__, kind="class")
        if span is None:
            continue
        for node in ast.walk(tree(candidate)):
            if isinstance(node, ast.ClassDef) and node.lineno == span[0] and node.name == cls.__name__:
                return candidate, node
    return None
