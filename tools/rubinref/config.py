"""A model of config instances, and the interpreter of ``setDefaults`` and override files."""

from __future__ import annotations

__all__ = (
    "Context",
    "FilePath",
    "Interpreter",
    "Layer",
    "Leaf",
    "Node",
    "Registry",
    "Selection",
    "UnhandledError",
    "as_list",
    "make_entry",
    "materialize_registries",
    "owner_name",
)

import ast
import copy
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .connections import connections, templates
from .git import ClassRef, Expr, External, Mirror, Module, ModuleRef, Ref
from .source import FieldDecl, Sources, ref_name

# --------------------------------------------------------------------------------------------
# A model of a config instance, and the interpreter of setDefaults / override files
# --------------------------------------------------------------------------------------------


@dataclass
class Layer:
    """One value given to a field: by its declaration, a setDefaults, or an override file."""

    phase: str  # "field", "setDefaults", "override"
    by: str
    value: Any


@dataclass
class Leaf:
    """A plain field's value history."""

    decl: FieldDecl | None
    layers: list[Layer] = field(default_factory=list)

    @property
    def value(self) -> Any:
        """The current value."""
        return self.layers[-1].value if self.layers else None


@dataclass
class Node:
    """A config instance: a config class and its fields' values."""

    cls: ClassRef | None  # None: a config whose class is not in the mirrors (C++ plugin controls)
    decl: FieldDecl | None
    values: dict[str, Leaf | Node | Registry] = field(default_factory=dict)
    target: str | None = None
    retargeted_by: str | None = None


@dataclass
class Registry:
    """A RegistryField's value: the selection and the configs of its entries."""

    decl: FieldDecl
    choices: dict[str, Ref]
    selection: Leaf
    entries: dict[str, Node] = field(default_factory=dict)


class Interpreter:
    """Build config models from declarations and apply setDefaults and override statements.

    Parameters
    ----------
    sources
        The mirrored source.
    """

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.not_interpreted: list[dict[str, Any]] = []
        self.phase = "field"

    # -- building ------------------------------------------------------------------------------

    def build(self, cls: ClassRef, decl: FieldDecl | None = None, target: str | None = None) -> Node:
        """Instantiate config class ``cls``: field defaults, subconfigs, then its setDefaults.

        Parameters
        ----------
        cls
            The config class.
        decl
            The field holding it, if any.
        target
            The task class it configures, if any.

        Returns
        -------
        node : Node
            The config model.
        """
        node = Node(cls, decl, target=target)
        phase, self.phase = self.phase, "field"
        for name, fdecl in self.sources.fields(cls).items():
            node.values[name] = self._instantiate(fdecl)
        if self._is_pipeline_task_config(cls):
            node.values["connections"] = self._connections_node(cls)
        self.phase = "setDefaults"
        found = self.sources.class_attr(cls, "setDefaults")
        if found is not None and isinstance(found[1], ast.FunctionDef):
            self.run_method(found[0], found[1], node)
        self.phase = phase
        return node

    def _instantiate(self, fdecl: FieldDecl) -> Leaf | Node | Registry:
        if fdecl.kind in ("ConfigurableField", "ConfigField"):
            if fdecl.config_class is not None:
                return self.build(fdecl.config_class, fdecl, fdecl.target)
            return Node(None, fdecl, target=fdecl.target)
        if fdecl.kind == "RegistryField":
            choices = self.sources.registry_choices(fdecl.registry)
            reg = Registry(fdecl, choices, Leaf(fdecl, [Layer("field", owner_name(fdecl), fdecl.default)]))
            return reg
        return Leaf(fdecl, [Layer("field", owner_name(fdecl), copy.deepcopy(fdecl.default))])

    def _is_pipeline_task_config(self, cls: ClassRef) -> bool:
        return self.connections_class(cls) is not None

    def connections_class(self, cls: ClassRef) -> ClassRef | None:
        """Return the connections class given by ``pipelineConnections=`` in ``cls``'s MRO.

        Parameters
        ----------
        cls
            A config class.

        Returns
        -------
        connections : ClassRef or None
            The connections class.
        """
        for c in self.sources.mro(cls):
            for kw in c.node.keywords:
                if kw.arg == "pipelineConnections":
                    ref = self.sources.resolve(c.module, kw.value)
                    return ref if isinstance(ref, ClassRef) else None
        return None

    def _connections_node(self, cls: ClassRef) -> Node:
        conn = self.connections_class(cls)
        assert conn is not None
        node = Node(conn, None)
        for name, info in connections(self.sources, conn).items():
            decl = FieldDecl(name, "Field", conn, info["line"], {}, dtype="str", default=info["name"])
            node.values[name] = Leaf(decl, [Layer("field", conn.node.name, info["name"])])
        for name, value in templates(self.sources, conn).items():
            decl = FieldDecl(name, "Field", conn, conn.node.lineno, {}, dtype="str", default=value)
            node.values[name] = Leaf(decl, [Layer("field", conn.node.name, value)])
        return node

    # -- statements ----------------------------------------------------------------------------

    def run_method(self, owner: ClassRef, func: ast.FunctionDef, node: Node) -> None:
        """Interpret a ``setDefaults`` method on ``node``.

        Parameters
        ----------
        owner
            The class defining the method.
        func
            The method.
        node
            The config instance (``self``).
        """
        ctx = Context(self, owner.module, {"self": node}, f"{owner.node.name}.setDefaults", owner, node)
        ctx.run(func.body)

    def run_file(self, mirror: Mirror, path: str, node: Node, by: str | None = None) -> None:
        """Interpret a config override file (``config.x = ...``) on ``node``.

        Parameters
        ----------
        mirror
            Mirror holding the file.
        path
            Its path in the repository.
        node
            The config instance (``config``).
        by
            Label of the layer; default ``repo:path``.
        """
        module = self.sources.file_module(mirror, path, f"<{mirror.repo}:{path}>")
        if module is None:
            self.not_interpreted.append({"where": f"{mirror.repo}:{path}", "what": "file not found at tag"})
            return
        ctx = Context(self, module, {"config": node}, by or f"{mirror.repo}:{path}", None, node)
        ctx.env["__file__"] = FilePath(path)
        ctx.run(module.tree.body)

    def note(self, module: Module, stmt: ast.AST, what: str) -> None:
        """Record a statement that was not interpreted.

        Parameters
        ----------
        module
            Where it is.
        stmt
            The statement.
        what
            Why it was not interpreted.
        """
        entry = {"where": f"{module.mirror.repo}:{module.path}#L{getattr(stmt, 'lineno', 0)}", "what": what}
        if entry not in self.not_interpreted:
            self.not_interpreted.append(entry)


@dataclass
class FilePath:
    """A path value inside a config file (``__file__``, ``os.path.dirname(__file__)``)."""

    path: str


class Context:
    """Interpreter state for one block of statements.

    Parameters
    ----------
    interp
        The interpreter (it collects what is not interpreted).
    module
        The module or file the statements are in (for name resolution).
    roots
        Names bound to parts of the config (``{"self": node}`` or ``{"config": node}``).
    by
        Label of the layer the assignments make (``CalibrateImageConfig.setDefaults``).
    owner
        The class whose method runs (for ``super().setDefaults()``), if any.
    node
        The config instance the statements act on.
    """

    def __init__(
        self,
        interp: Interpreter,
        module: Module,
        roots: dict[str, Any],
        by: str,
        owner: ClassRef | None,
        node: Node,
    ) -> None:
        self.interp = interp
        self.sources = interp.sources
        self.module = module
        self.env: dict[str, Any] = dict(roots)
        self.by = by
        self.owner = owner
        self.node = node

    def run(self, body: Iterable[ast.stmt]) -> None:
        for stmt in body:
            try:
                self.statement(stmt)
            except UnhandledError as err:
                self.interp.note(self.module, stmt, str(err) or type(stmt).__name__)

    # expressions that denote parts of the config
    def target(self, expr: ast.AST) -> Any:
        if isinstance(expr, ast.Name):
            if expr.id in self.env:
                return self.env[expr.id]
            raise UnhandledError(f"unknown name {expr.id!r}")
        if isinstance(expr, ast.Attribute):
            parent = self.target(expr.value)
            return self.member(parent, expr.attr)
        if isinstance(expr, ast.Subscript):
            parent = self.target(expr.value)
            key = self.sources.value(self.module, expr.slice, self._values())
            if isinstance(parent, Registry) and isinstance(key, str):
                return self.entry(parent, key)
            raise UnhandledError("subscript of a non-registry")
        raise UnhandledError(f"expression {type(expr).__name__}")

    def member(self, parent: Any, name: str) -> Any:
        if isinstance(parent, Node):
            if name in parent.values:
                return parent.values[name]
            if parent.cls is None:  # opaque config (C++ control): create on use
                leaf = Leaf(None)
                parent.values[name] = leaf
                return leaf
            if name == "active":
                raise UnhandledError("'active' of a non-registry")
            raise UnhandledError(f"no field {name!r} in {parent.cls.node.name}")
        if isinstance(parent, Registry):
            if name in ("name", "names"):
                return Selection(parent)
            if name == "active":
                selected = parent.selection.value
                if isinstance(selected, str):
                    return self.entry(parent, selected)
            raise UnhandledError(f"registry attribute {name!r}")
        raise UnhandledError(f"attribute {name!r} of a value")

    def entry(self, reg: Registry, key: str) -> Node:
        if key not in reg.entries:
            reg.entries[key] = make_entry(self.interp, reg, key)
        return reg.entries[key]

    def _values(self) -> dict[str, Any]:
        return {k: v for k, v in self.env.items() if not isinstance(v, Node | Registry | Leaf | Selection)}

    def value(self, expr: ast.AST) -> Any:
        # reading a config value inside an override: ``config.a = config.b * 2``
        try:
            found = self.target(expr)
        except UnhandledError:
            found = None
        if isinstance(found, Leaf):
            return found.value
        return self.sources.value(self.module, expr, self._values())

    def set(self, leaf: Any, value: Any) -> None:
        phase = self.interp.phase
        if isinstance(leaf, Leaf):
            if (
                isinstance(value, str)
                and leaf.decl is not None
                and leaf.decl.dtype in ("int", "float", "bool")
            ):
                try:
                    value = ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    pass
            leaf.layers.append(Layer(phase, self.by, value))
        elif isinstance(leaf, Selection):
            leaf.reg.selection.layers.append(Layer(phase, self.by, value))
        elif isinstance(leaf, Registry):  # ``self.plugins = [...]`` sets the names
            leaf.selection.layers.append(Layer(phase, self.by, value))
        else:
            raise UnhandledError("assignment to a config (not a field)")

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # a docstring
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                if isinstance(stmt, ast.ImportFrom):
                    module = stmt.module or ""
                    ref = self.sources.module(module)
                    found = self.sources.lookup(ref, alias.name) if ref else None
                    self.env[name] = found or External(f"{module}.{alias.name}")
                else:
                    self.env[name] = ModuleRef(alias.name if alias.asname else name)
            return
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                self.assign(target, stmt.value)
            return
        if isinstance(stmt, ast.AugAssign):
            current = self.target(stmt.target)
            if isinstance(current, Selection):
                names = as_list(current.reg.selection.value)
                added = self.value(stmt.value)
                self.set(current, sorted(set(names) | set(as_list(added))))
                return
            if isinstance(current, Leaf):
                value = self.value(stmt.value)
                if isinstance(stmt.op, ast.Add) and isinstance(current.value, list):
                    self.set(current, current.value + as_list(value))
                    return
            raise UnhandledError("augmented assignment")
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.call(stmt.value)
            return
        if isinstance(stmt, ast.For):
            iterable = self.any_value(stmt.iter)
            if isinstance(iterable, list) and isinstance(stmt.target, ast.Name | ast.Tuple):
                for item in iterable:
                    if isinstance(stmt.target, ast.Name):
                        self.env[stmt.target.id] = item
                    else:
                        for t, v in zip(stmt.target.elts, item, strict=True):
                            self.env[t.id] = v  # type: ignore[attr-defined]
                    self.run(stmt.body)
                return
            raise UnhandledError("for loop over a non-literal")
        if isinstance(stmt, ast.If):
            self.run(stmt.body if self.condition(stmt.test) else stmt.orelse)
            return
        if isinstance(stmt, ast.Pass):
            return
        raise UnhandledError(type(stmt).__name__)

    def any_value(self, expr: ast.AST) -> Any:
        # a value that may hold parts of the config: ``[self.a, self.b]``, ``zip(...)``
        if isinstance(expr, ast.List | ast.Tuple):
            return [self.any_value(e) for e in expr.elts]
        if isinstance(expr, ast.Call) and ast.unparse(expr.func) == "zip" and not expr.keywords:
            parts = [self.any_value(a) for a in expr.args]
            if all(isinstance(p, list) for p in parts):
                return [list(t) for t in zip(*parts, strict=True)]
            raise UnhandledError("zip over a non-literal")
        if isinstance(expr, ast.Name) and expr.id in self.env:
            return self.env[expr.id]
        try:
            found = self.target(expr)
        except UnhandledError:
            return self.value(expr)
        return found.value if isinstance(found, Leaf) else found

    def condition(self, expr: ast.AST) -> bool:
        if isinstance(expr, ast.BoolOp):
            if isinstance(expr.op, ast.And):
                return all(self.condition(v) for v in expr.values)
            return any(self.condition(v) for v in expr.values)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
            return not self.condition(expr.operand)
        if isinstance(expr, ast.Compare) and len(expr.ops) == 1:
            left = self.plain(self.any_value(expr.left))
            right = self.plain(self.any_value(expr.comparators[0]))
            if isinstance(left, Expr) or isinstance(right, Expr):
                raise UnhandledError(f"condition on a non-literal: {ast.unparse(expr)}")
            op = expr.ops[0]
            try:
                if isinstance(op, ast.In | ast.NotIn):
                    result = left in (right or [])
                    return result if isinstance(op, ast.In) else not result
                if isinstance(op, ast.Eq | ast.Is):
                    return left == right
                if isinstance(op, ast.NotEq | ast.IsNot):
                    return left != right
            except TypeError:
                pass
        value = self.plain(self.any_value(expr))
        if isinstance(value, bool | int | str | list | type(None)):
            return bool(value)
        raise UnhandledError(f"condition {ast.unparse(expr)}")

    @staticmethod
    def plain(value: Any) -> Any:
        if isinstance(value, Selection):
            return value.reg.selection.value
        if isinstance(value, Leaf):
            return value.value
        if isinstance(value, Node | Registry):
            return Expr("<config>")
        return value

    def assign(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            try:
                found = self.target(value)
            except UnhandledError:
                found = None
            if isinstance(found, Node | Registry | Leaf | Selection):
                self.env[target.id] = found
            elif isinstance(value, ast.List | ast.Tuple | ast.Call) and not isinstance(
                self.path_value(value), FilePath
            ):
                self.env[target.id] = self.any_value(value)
            else:
                self.env[target.id] = self.path_value(value)
            return
        if isinstance(target, ast.Subscript):
            container = self.target(target.value)
            key = self.sources.value(self.module, target.slice, self._values())
            if isinstance(container, Leaf) and isinstance(container.value, dict | type(None)):
                new = dict(container.value or {})
                new[key] = self.value(value)
                self.set(container, new)
                return
            if isinstance(container, Registry):
                raise UnhandledError("assignment of a whole registry entry")
            raise UnhandledError("item assignment")
        self.set(self.target(target), self.value(value))

    def path_value(self, expr: ast.AST) -> Any:
        if isinstance(expr, ast.Call) and ast.unparse(expr.func) == "os.path.dirname" and expr.args:
            inner = self.path_value(expr.args[0])
            if isinstance(inner, FilePath):
                return FilePath(os.path.dirname(inner.path))
        if isinstance(expr, ast.Call) and ast.unparse(expr.func) == "os.path.join" and expr.args:
            parts = [self.path_value(a) for a in expr.args]
            if isinstance(parts[0], FilePath) and all(isinstance(p, str) for p in parts[1:]):
                return FilePath(os.path.join(parts[0].path, *parts[1:]))
        if isinstance(expr, ast.Name) and isinstance(self.env.get(expr.id), FilePath):
            return self.env[expr.id]
        return self.value(expr)

    def call(self, call: ast.Call) -> None:
        func = call.func
        if not isinstance(func, ast.Attribute):
            raise UnhandledError(f"call {ast.unparse(func)}")
        if (
            func.attr == "setDefaults"
            and isinstance(func.value, ast.Call)
            and ast.unparse(func.value.func) == "super"
        ):
            self.super_set_defaults()
            return
        if func.attr == "setDefaults":
            if len(call.args) == 1 and ast.unparse(call.args[0]) == "self":  # Base.setDefaults(self)
                base = self.sources.resolve(self.module, func.value)
                if isinstance(base, ClassRef):
                    self.class_set_defaults(base, self.node)
                return  # lsst.pex.config.Config.setDefaults does nothing
            if not call.args:  # self.sub.setDefaults(): run the sub-config's setDefaults again
                obj = self.target(func.value)
                if isinstance(obj, Node) and obj.cls is not None:
                    self.class_set_defaults(obj.cls, obj)
                    return
        obj = self.target(func.value)
        args = [self.path_value(a) for a in call.args]
        if func.attr == "retarget" and isinstance(obj, Node):
            ref = self.sources.resolve(self.module, call.args[0])
            if not isinstance(ref, ClassRef):
                # In a config file the class may be bound by a local import.
                bound = self.env.get(ast.unparse(call.args[0]))
                ref = bound if isinstance(bound, ClassRef) else ref
            given = None
            for kw in call.keywords:
                if kw.arg == "ConfigClass":
                    given = self.sources.resolve(self.module, kw.value)
            config_class = given if isinstance(given, ClassRef) else self.sources.config_class_of(ref)
            self.retarget(obj, ref, config_class)
            return
        if func.attr == "load" and isinstance(obj, Node) and args and isinstance(args[0], FilePath):
            self.interp.run_file(
                self.module.mirror, args[0].path, obj, by=f"{self.module.mirror.repo}:{args[0].path}"
            )
            return
        if isinstance(obj, Selection) and func.attr in ("add", "discard", "remove", "update"):
            names = set(as_list(obj.reg.selection.value))
            if func.attr == "add":
                names.add(args[0])
            elif func.attr == "update":
                names |= set(as_list(args[0]))
            else:
                names.discard(args[0])
            self.set(obj, sorted(names))
            return
        if (
            isinstance(obj, Leaf)
            and isinstance(obj.value, list)
            and func.attr in ("append", "extend", "remove")
        ):
            items = list(obj.value)
            if func.attr == "append":
                items.append(args[0])
            elif func.attr == "extend":
                items.extend(as_list(args[0]))
            elif args[0] in items:
                items.remove(args[0])
            self.set(obj, items)
            return
        if isinstance(obj, Leaf) and isinstance(obj.value, dict | type(None)) and func.attr == "update":
            new = dict(obj.value or {})
            if args and isinstance(args[0], dict):
                new.update(args[0])
            for kw in call.keywords:
                if kw.arg:
                    new[kw.arg] = self.value(kw.value)
            self.set(obj, new)
            return
        raise UnhandledError(f"call .{func.attr}()")

    def super_set_defaults(self) -> None:
        if self.owner is None:
            raise UnhandledError("super() outside a class")
        cls = self._self_class()
        mro = self.sources.mro(cls)
        after = mro[mro.index(self.owner) + 1 :] if self.owner in mro else []
        for c in after:
            for stmt in c.node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == "setDefaults":
                    Context(
                        self.interp, c.module, {"self": self.node}, f"{c.node.name}.setDefaults", c, self.node
                    ).run(stmt.body)
                    return

    def class_set_defaults(self, cls: ClassRef, node: Node) -> None:
        found = self.sources.class_attr(cls, "setDefaults")
        if found is not None and isinstance(found[1], ast.FunctionDef):
            owner, func = found[0], found[1]
            Context(
                self.interp, owner.module, {"self": node}, f"{owner.node.name}.setDefaults", owner, node
            ).run(func.body)

    def _self_class(self) -> ClassRef:
        assert self.node.cls is not None
        return self.node.cls

    def retarget(self, node: Node, target: Ref | None, config_class: ClassRef | None) -> None:
        label = f"{self.by} (retarget to {ref_name(target) if target else '?'})"
        fresh = (
            self.interp.build(config_class, node.decl, ref_name(target) if target else None)
            if config_class is not None
            else Node(None, node.decl)
        )
        node.cls, node.values, node.target = fresh.cls, fresh.values, fresh.target
        node.retargeted_by = label


@dataclass
class Selection:
    """The ``.name`` / ``.names`` of a registry field."""

    reg: Registry


class UnhandledError(Exception):
    """A statement the interpreter does not follow (recorded under ``not_interpreted``)."""

    pass


def owner_name(decl: FieldDecl) -> str:
    """Return the name of the config class that declares a field.

    Parameters
    ----------
    decl
        The field declaration.

    Returns
    -------
    name : str
        The class name.
    """
    return decl.owner.node.name


def as_list(value: Any) -> list[Any]:
    """Return a value as a list: `None` is empty, a string is one item.

    Parameters
    ----------
    value
        A value.

    Returns
    -------
    items : list
        The items.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def make_entry(interp: Interpreter, reg: Registry, key: str) -> Node:
    """Create the config of registry entry ``key`` (as pex_config does on first access).

    Parameters
    ----------
    interp
        The interpreter.
    reg
        The registry field's value.
    key
        The entry name.

    Returns
    -------
    node : Node
        The entry's config (opaque when its class is not in the mirrors).
    """
    target = reg.choices.get(key)
    config_class = interp.sources.config_class_of(target) if isinstance(target, ClassRef) else None
    if config_class is None:
        return Node(None, reg.decl, target=ref_name(target) if target else None)
    phase, interp.phase = interp.phase, "field"
    node = interp.build(config_class, reg.decl, ref_name(target) if target else None)
    interp.phase = phase
    return node


def materialize_registries(interp: Interpreter, node: Node) -> None:
    """Create the configs of every selected registry entry (pex_config creates them on use).

    Parameters
    ----------
    interp
        The interpreter.
    node
        Config tree to complete, in place.
    """
    for value in list(node.values.values()):
        if isinstance(value, Node):
            materialize_registries(interp, value)
        elif isinstance(value, Registry):
            for key in as_list(value.selection.value):
                if isinstance(key, str) and key not in value.entries:
                    if value.decl.extra.get("multi") and not isinstance(value.choices.get(key), ClassRef):
                        continue  # a plugin whose class is not in the mirrors: nothing to list
                    value.entries[key] = make_entry(interp, value, key)
            for entry in value.entries.values():
                materialize_registries(interp, entry)
