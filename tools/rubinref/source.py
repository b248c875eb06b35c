"""Name resolution across the mirrored modules, pex_config field declarations, literal values."""

from __future__ import annotations

__all__ = ("FIELD_KINDS", "PACKAGES", "FieldDecl", "NotLiteralError", "Sources", "ref_name")

import ast
import math
from dataclasses import dataclass, field
from typing import Any

from .git import ClassRef, Expr, External, Mirror, Module, ModuleRef, Ref, ValueRef

#: Python package prefix -> GitHub repository of lsst/ holding it.
PACKAGES = {
    "lsst.ip.isr": "ip_isr",
    "lsst.pipe.tasks": "pipe_tasks",
    "lsst.pipe.base": "pipe_base",
    "lsst.pex.config": "pex_config",
    "lsst.meas.algorithms": "meas_algorithms",
    "lsst.meas.astrom": "meas_astrom",
    "lsst.meas.base": "meas_base",
    "lsst.meas.deblender": "meas_deblender",
    "lsst.meas.extensions.psfex": "meas_extensions_psfex",
    "lsst.obs.subaru": "obs_subaru",
}
#: Repositories read for things other than Python modules.

FIELD_KINDS = {
    "Field": ("doc", "dtype", "default", "check", "optional", "deprecated"),
    "RangeField": ("doc", "dtype", "default", "optional", "min", "max", "inclusiveMin", "inclusiveMax"),
    "ChoiceField": ("doc", "dtype", "allowed", "default", "optional", "deprecated"),
    "ListField": ("doc", "dtype", "default", "optional", "listCheck", "itemCheck", "length"),
    "DictField": ("doc", "keytype", "itemtype", "default", "optional", "dictCheck"),
    "ConfigField": ("doc", "dtype", "default", "check", "deprecated"),
    "ConfigurableField": ("doc", "target", "ConfigClass", "default", "check", "deprecated"),
    "RegistryField": ("doc", "registry", "default", "optional", "multi", "on_none"),
    "ConfigChoiceField": ("doc", "typemap", "default", "optional", "multi", "deprecated"),
    "ConfigDictField": ("doc", "keytype", "itemtype", "default", "optional", "dictCheck"),
}


@dataclass
class FieldDecl:
    """One pex_config field declaration."""

    name: str
    kind: str
    owner: ClassRef
    line: int
    args: dict[str, ast.AST]
    dtype: str | None = None
    default: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    config_class: ClassRef | None = None
    target: str | None = None
    registry: ValueRef | None = None


class Sources:
    """All mirrors, with module loading and name resolution across them.

    Parameters
    ----------
    mirrors
        Mirror by repository name.
    """

    def __init__(self, mirrors: dict[str, Mirror]) -> None:
        self.mirrors = mirrors
        self._modules: dict[str, Module | None] = {}
        self._fields: dict[str, dict[str, FieldDecl]] = {}
        self._registries: dict[ValueRef, dict[str, Ref]] | None = None

    # -- modules -------------------------------------------------------------------------------

    def repo_of(self, modname: str) -> str | None:
        """Return the repository that holds module ``modname``, if mirrored.

        Parameters
        ----------
        modname
            Dotted module name.

        Returns
        -------
        repo : str or None
            Repository name.
        """
        best = None
        for prefix, repo in PACKAGES.items():
            if (modname == prefix or modname.startswith(prefix + ".")) and (
                best is None or len(prefix) > len(best[0])
            ):
                best = (prefix, repo)
        return best[1] if best and best[1] in self.mirrors else None

    def module(self, modname: str) -> Module | None:
        """Parse and return module ``modname``, or `None` if it has no Python file in a mirror.

        Parameters
        ----------
        modname
            Dotted module name.

        Returns
        -------
        module : Module or None
            The parsed module.
        """
        if modname in self._modules:
            return self._modules[modname]
        self._modules[modname] = None
        repo = self.repo_of(modname)
        if repo is not None:
            mirror = self.mirrors[repo]
            base = "python/" + modname.replace(".", "/")
            for path, is_package in ((base + ".py", False), (base + "/__init__.py", True)):
                text = mirror.show(path)
                if text is not None:
                    self._modules[modname] = Module(modname, mirror, path, ast.parse(text), is_package)
                    break
        return self._modules[modname]

    def file_module(self, mirror: Mirror, path: str, name: str) -> Module | None:
        """Parse a non-package Python file (a config override file).

        Parameters
        ----------
        mirror
            Mirror holding it.
        path
            Path in the repository.
        name
            A name for it (used for relative imports: none are expected).

        Returns
        -------
        module : Module or None
            The parsed file, or `None` if it does not exist at the tag.
        """
        text = mirror.show(path)
        return None if text is None else Module(name, mirror, path, ast.parse(text))

    # -- names ---------------------------------------------------------------------------------

    def lookup(self, module: Module, name: str, _seen: frozenset[str] = frozenset()) -> Ref | None:
        """Resolve a top-level ``name`` of ``module``.

        Parameters
        ----------
        module
            Module to look in.
        name
            Name bound at its top level (or by a star import, or a submodule).
        _seen
            Modules already searched (star imports may form cycles).

        Returns
        -------
        ref : Ref or None
            What it refers to; `None` if not found.
        """
        if module.name in _seen:
            return None
        seen = _seen | {module.name}
        node = module.symbols.get(name)
        if isinstance(node, ast.ClassDef):
            return ClassRef(module, node)
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.FunctionDef):
            return ValueRef(module, name, node)
        if isinstance(node, ast.alias):
            imported_from = getattr(node, "module", None)
            level = getattr(node, "level", None)
            if level is None:  # import a.b.c [as x]
                return ModuleRef(node.name if node.asname else node.name.split(".")[0])
            base = self._absolute(module, imported_from, level)
            source = self.module(base)
            if source is not None:
                found = self.lookup(source, node.name, seen)
                if found is not None:
                    return found
            sub = f"{base}.{node.name}"
            if self.module(sub) is not None or self.repo_of(sub) is None:
                return ModuleRef(sub) if self.module(sub) is not None else External(sub)
            return External(sub)
        for star in module.stars:
            source = self.module(self._absolute(module, star.module, star.level))
            if source is None:
                continue
            exported = _dunder_all(source)
            if exported is not None and name not in exported:
                continue
            found = self.lookup(source, name, seen)
            if found is not None:
                return found
        if module.is_package and self.module(f"{module.name}.{name}") is not None:
            return ModuleRef(f"{module.name}.{name}")
        return None

    @staticmethod
    def _absolute(module: Module, name: str | None, level: int) -> str:
        if not level:
            return name or ""
        parts = module.package.split(".")
        if level > 1:
            parts = parts[: -(level - 1)]
        return ".".join(parts + ([name] if name else []))

    def resolve(self, module: Module, node: ast.AST) -> Ref | None:
        """Resolve a name or attribute chain written in ``module``.

        Parameters
        ----------
        module
            Module the expression appears in.
        node
            `ast.Name`, `ast.Attribute` (or `ast.Subscript` of them, e.g. ``Field[int]``).

        Returns
        -------
        ref : Ref or None
            What it refers to.
        """
        if isinstance(node, ast.Subscript):
            node = node.value
        chain = _chain(node)
        if chain is None:
            return None
        ref: Ref | None = self.lookup(module, chain[0])
        if ref is None:
            return External(".".join(chain))
        for part in chain[1:]:
            ref = self.attribute(ref, part)
            if ref is None:
                return External(".".join(chain))
        return ref

    def attribute(self, ref: Ref, name: str) -> Ref | None:
        """Resolve attribute ``name`` of ``ref``.

        Parameters
        ----------
        ref
            A module, class, value or external name.
        name
            The attribute.

        Returns
        -------
        ref : Ref or None
            What it refers to.
        """
        if isinstance(ref, ModuleRef):
            module = self.module(ref.name)
            if module is not None:
                found = self.lookup(module, name)
                if found is not None:
                    return found
            sub = f"{ref.name}.{name}"
            if self.module(sub) is not None or any(p.startswith(sub + ".") for p in PACKAGES):
                return ModuleRef(sub)
            return External(sub) if self.repo_of(sub) is None else ModuleRef(sub)
        if isinstance(ref, ClassRef):
            for cls in self.mro(ref):
                for stmt in cls.node.body:
                    if isinstance(stmt, ast.ClassDef) and stmt.name == name:
                        return ClassRef(cls.module, stmt)
                    if isinstance(stmt, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == name for t in stmt.targets
                    ):
                        return ValueRef(cls.module, f"{cls.node.name}.{name}", stmt)
                    if isinstance(stmt, ast.FunctionDef) and stmt.name == name:
                        return ValueRef(cls.module, f"{cls.node.name}.{name}", stmt)
            return None
        if isinstance(ref, External):
            return External(f"{ref.name}.{name}")
        return None

    # -- classes -------------------------------------------------------------------------------

    def bases(self, cls: ClassRef) -> list[Ref]:
        """Return the resolved base classes of ``cls``.

        Parameters
        ----------
        cls
            The class.

        Returns
        -------
        bases : list of Ref
            Its bases, in order.
        """
        return [self.resolve(cls.module, b) or External(ast.unparse(b)) for b in cls.node.bases]

    def mro(self, cls: ClassRef) -> list[ClassRef]:
        """Return the C3 linearization of ``cls`` over the classes found in the mirrors.

        Parameters
        ----------
        cls
            The class.

        Returns
        -------
        mro : list of ClassRef
            ``cls`` first; bases outside the mirrors are left out.
        """
        seqs = [self.mro(b) for b in self.bases(cls) if isinstance(b, ClassRef)]
        seqs.append([b for b in self.bases(cls) if isinstance(b, ClassRef)])
        result = [cls]
        seqs = [list(s) for s in seqs if s]
        while seqs:
            for seq in seqs:
                head = seq[0]
                if not any(head in s[1:] for s in seqs):
                    break
            else:  # inconsistent hierarchy: fall back to depth-first
                head = seqs[0][0]
            result.append(head)
            seqs = [[c for c in s if c != head] for s in seqs]
            seqs = [s for s in seqs if s]
        return result

    def class_attr(self, cls: ClassRef, name: str) -> tuple[ClassRef, ast.AST] | None:
        """Find the class-body statement that binds ``name`` for ``cls`` (searching its MRO).

        Parameters
        ----------
        cls
            The class.
        name
            Attribute name.

        Returns
        -------
        found : tuple or None
            The defining class and the statement.
        """
        for c in self.mro(cls):
            for stmt in c.node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == name:
                    return c, stmt
                if isinstance(stmt, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in stmt.targets
                ):
                    return c, stmt
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    if stmt.target.id == name and stmt.value is not None:
                        return c, stmt
        return None

    def config_class_of(self, target: Ref | None) -> ClassRef | None:
        """Return the ``ConfigClass`` of a task (or configurable) class.

        Parameters
        ----------
        target
            The task class.

        Returns
        -------
        config_class : ClassRef or None
            Its config class, if found in the mirrors.
        """
        if not isinstance(target, ClassRef):
            return None
        found = self.class_attr(target, "ConfigClass")
        if found is None or not isinstance(found[1], ast.Assign):
            return None
        ref = self.resolve(found[0].module, found[1].value)
        return ref if isinstance(ref, ClassRef) else None

    def fields(self, cls: ClassRef) -> dict[str, FieldDecl]:
        """Return the pex_config fields of config class ``cls``, as pex_config collects them.

        Parameters
        ----------
        cls
            A `lsst.pex.config.Config` subclass.

        Returns
        -------
        fields : dict
            Field name to its declaration (bases first, reversed, then the class's own).
        """
        key = cls.fullname
        if key in self._fields:
            return self._fields[key]
        fields: dict[str, FieldDecl] = {}
        for base in reversed(self.bases(cls)):
            if isinstance(base, ClassRef):
                fields.update(self.fields(base))
        for stmt in cls.node.body:
            target, value = None, None
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                target, value = stmt.targets[0].id, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                target, value = stmt.target.id, stmt.value
            if target is None or not isinstance(value, ast.Call):
                continue
            decl = self._field_decl(cls, target, value)
            if decl is not None:
                fields[target] = decl
        self._fields[key] = fields
        return fields

    def _field_decl(self, cls: ClassRef, name: str, call: ast.Call) -> FieldDecl | None:
        module = cls.module
        func = call.func
        callee = func.value if isinstance(func, ast.Subscript) else func
        last = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
        if last == "make_field" and isinstance(callee, ast.Attribute):  # IdGeneratorConfig.make_field()
            owner = self.resolve(module, callee.value)
            if isinstance(owner, ClassRef):
                decl = FieldDecl(name, "ConfigField", cls, call.lineno, {}, dtype=owner.node.name)
                decl.config_class = owner
                return decl
            return None
        if last == "makeField" and isinstance(callee, ast.Attribute):  # registry.makeField(...)
            registry = self.resolve(module, callee.value)
            args = _bind_args(call, ("doc", "default", "optional", "multi", "on_none"))
            decl = FieldDecl(name, "RegistryField", cls, call.lineno, args)
            decl.registry = registry if isinstance(registry, ValueRef) else None
            decl.default = self.value(module, args["default"]) if "default" in args else None
            decl.extra["multi"] = bool(self.value(module, args["multi"])) if "multi" in args else False
            decl.extra["registry"] = ast.unparse(callee.value)
            return decl
        if last not in FIELD_KINDS:
            return None
        args = _bind_args(call, FIELD_KINDS[last])
        decl = FieldDecl(name, last, cls, call.lineno, args)
        if isinstance(func, ast.Subscript):
            decl.dtype = ast.unparse(func.slice)
        elif "dtype" in args:
            decl.dtype = _type_name(args["dtype"])
        elif last in ("DictField", "ConfigDictField"):
            decl.dtype = f"{_type_name(args.get('keytype'))}->{_type_name(args.get('itemtype'))}"
        if last == "ConfigurableField":
            target = self.resolve(module, args["target"]) if "target" in args else None
            decl.target = ref_name(target) if target else None
            given = self.resolve(module, args["ConfigClass"]) if "ConfigClass" in args else None
            decl.config_class = given if isinstance(given, ClassRef) else self.config_class_of(target)
            decl.dtype = decl.target.rpartition(".")[2] if decl.target else None
        elif last == "ConfigField":
            dtype = self.resolve(module, args["dtype"]) if "dtype" in args else None
            decl.config_class = dtype if isinstance(dtype, ClassRef) else None
        elif last == "RegistryField":
            registry = self.resolve(module, args["registry"]) if "registry" in args else None
            decl.registry = registry if isinstance(registry, ValueRef) else None
            decl.extra["multi"] = bool(self.value(module, args["multi"])) if "multi" in args else False
            decl.extra["registry"] = ast.unparse(args["registry"]) if "registry" in args else None
            decl.default = self.value(module, args["default"]) if "default" in args else None
        else:
            decl.default = self.value(module, args["default"]) if "default" in args else None
        if last == "ChoiceField" and "allowed" in args and isinstance(args["allowed"], ast.Dict):
            decl.extra["allowed"] = [self.value(module, k) for k in args["allowed"].keys if k is not None]
        if last == "RangeField":
            for key in ("min", "max"):
                if key in args:
                    decl.extra[key] = self.value(module, args[key])
        for key in ("optional",):
            if key in args and self.value(module, args[key]) is True:
                decl.extra[key] = True
        if "deprecated" in args and not (
            isinstance(args["deprecated"], ast.Constant) and args["deprecated"].value is None
        ):
            decl.extra["deprecated"] = True
        return decl

    # -- values --------------------------------------------------------------------------------

    def value(self, module: Module | None, node: ast.AST | None, env: dict[str, Any] | None = None) -> Any:
        """Evaluate a default or an override value without running any code.

        Parameters
        ----------
        module
            Module the expression appears in (for its constants).
        node
            The expression.
        env
            Local names and their values.

        Returns
        -------
        value : object
            A Python literal, or an `Expr` when the value is not a literal.
        """
        if node is None:
            return None
        try:
            return self._value(module, node, env or {})
        except NotLiteralError:
            return Expr(ast.unparse(node))

    def _value(self, module: Module | None, node: ast.AST, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple | ast.List):
            return [self._value(module, e, env) for e in node.elts]
        if isinstance(node, ast.Set):
            return sorted(self._value(module, e, env) for e in node.elts)
        if isinstance(node, ast.Dict):
            result = {}
            for k, v in zip(node.keys, node.values, strict=True):
                if k is None:
                    raise NotLiteralError
                result[self._value(module, k, env)] = self._value(module, v, env)
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self._value(module, node.operand, env)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return +operand
            if isinstance(node.op, ast.Not):
                return not operand
        if isinstance(node, ast.BinOp):
            left, right = self._value(module, node.left, env), self._value(module, node.right, env)
            ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                   ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b, ast.FloorDiv: lambda a, b: a // b,
                   ast.BitOr: lambda a, b: a | b}  # fmt: skip
            op = ops.get(type(node.op))
            if op is not None and not isinstance(left, Expr) and not isinstance(right, Expr):
                try:
                    return op(left, right)
                except TypeError:
                    raise NotLiteralError from None
        if isinstance(node, ast.Name):
            if node.id in env:
                if isinstance(env[node.id], Expr):
                    raise NotLiteralError
                return env[node.id]
            if module is not None:
                ref = self.lookup(module, node.id)
                if isinstance(ref, ValueRef) and isinstance(ref.node, ast.Assign):
                    return self._value(ref.module, ref.node.value, {})
        if isinstance(node, ast.Attribute):
            text = ast.unparse(node)
            for prefix in ("np.", "numpy.", "math."):
                if text.startswith(prefix) and node.attr in ("nan", "inf", "pi", "e"):
                    return getattr(math, node.attr)
        if isinstance(node, ast.Call) and not node.keywords:
            name = ast.unparse(node.func)
            args = [self._value(module, a, env) for a in node.args]
            if name in ("float", "int", "str", "bool", "list", "tuple", "set"):
                if name == "set":
                    return sorted(args[0]) if args else []
                if name in ("list", "tuple"):
                    return list(args[0]) if args else []
                return {"float": float, "int": int, "str": str, "bool": bool}[name](*args)
            short = name.rpartition(".")[2]
            if name.startswith(("math.", "np.", "numpy.")) and short in ("sqrt", "log", "log10", "exp"):
                return getattr(math, short)(*args)
        raise NotLiteralError

    # -- registries ----------------------------------------------------------------------------

    def registry_choices(self, registry: ValueRef | None) -> dict[str, Ref]:
        """Return the entries registered in ``registry`` anywhere in the mirrors.

        Parameters
        ----------
        registry
            The registry object (a module- or class-level assignment).

        Returns
        -------
        choices : dict
            Registered name to the registered class (or `External`).
        """
        if registry is None:
            return {}
        if self._registries is None:
            self._registries = {}
            for repo in PACKAGES.values():
                mirror = self.mirrors.get(repo)
                if mirror is None:
                    continue
                for path in mirror.grep("register"):
                    if not path.endswith(".py"):
                        continue
                    modname = path.removeprefix("python/").removesuffix(".py").replace("/", ".")
                    modname = modname.removesuffix(".__init__")
                    module = self.module(modname)
                    if module is not None:
                        self._scan_registrations(module)
        return self._registries.get(registry, {})

    def _scan_registrations(self, module: Module) -> None:
        assert self._registries is not None
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr == "register" and len(node.args) >= 2:
                    registry = self.resolve(module, node.func.value)
                    name = self.value(module, node.args[0])
                    if isinstance(registry, ValueRef) and isinstance(name, str):
                        target = self.resolve(module, node.args[1]) or External(ast.unparse(node.args[1]))
                        self._registries.setdefault(registry, {})[name] = target
            if isinstance(node, ast.ClassDef):
                for deco in node.decorator_list:
                    if (
                        isinstance(deco, ast.Call)
                        and ast.unparse(deco.func).rpartition(".")[2] == "registerConfigurable"
                        and len(deco.args) >= 2
                    ):
                        registry = self.resolve(module, deco.args[1])
                        name = self.value(module, deco.args[0])
                        if isinstance(registry, ValueRef) and isinstance(name, str):
                            self._registries.setdefault(registry, {})[name] = ClassRef(module, node)


class NotLiteralError(Exception):
    """A value that is not a literal (it is kept as its source text, an `Expr`)."""

    pass


def _chain(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _dunder_all(module: Module) -> list[str] | None:
    node = module.symbols.get("__all__")
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Tuple):
        return [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return None


def _bind_args(call: ast.Call, names: tuple[str, ...]) -> dict[str, ast.AST]:
    args: dict[str, ast.AST] = dict(zip(names, call.args, strict=False))
    args.update({k.arg: k.value for k in call.keywords if k.arg})
    return args


def _type_name(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Attribute):
        return node.attr
    return ast.unparse(node)


def ref_name(ref: Ref) -> str:
    """Return the dotted name of what a reference points at.

    Parameters
    ----------
    ref
        The reference.

    Returns
    -------
    name : str
        Module, class or value name.
    """
    if isinstance(ref, ClassRef):
        return ref.fullname
    if isinstance(ref, ModuleRef | External):
        return ref.name
    return f"{ref.module.name}.{ref.key}"
