"""Resolving an object to where it is defined: module, public name, file and lines.

`resolve` takes what a learner has at hand — a class, function, method, property, config
field, task or config instance, click command or dotted name — and returns a `Resolved`: the
defining module and file, the lines of the definition (found with `stackclub.source._index`,
never by guessing from ``co_firstlineno``) and the shortest public name.  Objects with no Python
source (built-ins, compiled code, code typed into a notebook) raise `SourceNotFoundError` with
what to read instead.
"""

from __future__ import annotations

__all__ = (
    "Resolved",
    "code_files",
    "pex_field_type",
    "public_name",
    "resolve",
    "unwrap_callable",
)

import builtins
import functools
import inspect
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Any, NoReturn, cast

from .._exceptions import SourceNotFoundError
from ._index import find
from ._names import import_dotted
from ._packages import is_stdlib, package_of
from ._urls import blob_url, pinned_ref, python_docs

if TYPE_CHECKING:
    from lsst.pex.config import Field


@dataclass
class Resolved:
    """Where an object is defined.

    Attributes
    ----------
    name
        Its public dotted name.
    kind
        ``"class"``, ``"method"``, ``"config field (Field)"``, ...
    module
        The defining module.
    path
        The defining file.
    lines
        ``(first, last)`` lines of the definition, or `None` for a module.
    page
        Public name of its documentation page (the owner class, for a member).
    member
        Whether it is a member of a class.
    note
        How the lines were found, when that is worth knowing.
    """

    name: str
    kind: str
    module: str
    path: str
    lines: tuple[int, int] | None
    page: str
    member: bool = False
    note: str = ""


def resolve(target: object) -> Resolved:
    """Return where ``obj`` (an object or a dotted name) is defined.

    Parameters
    ----------
    target
        Anything `stackclub.where_is` accepts.

    Returns
    -------
    resolved : `Resolved`
        Its module, file, lines and public name.

    Raises
    ------
    SourceNotFoundError
        ``obj`` has no Python source (built-in, compiled, defined in this session).
    UnknownNameError
        A dotted name does not import.
    """
    obj: Any = target
    owner: type | None = None
    if isinstance(obj, str):
        attribute = obj.strip().rpartition(".")[2]
        obj, owner = import_dotted(obj)
        if owner is not None and _is_plain_value(obj):  # "PipelineTask.canMultiprocess": a class attribute
            resolved = _resolve_class_attribute(owner, attribute)
            if resolved is not None:
                return resolved
    field_type = pex_field_type()
    if field_type is not None and isinstance(obj, field_type):
        return _resolve_field(cast("Field[Any]", obj), owner)
    if inspect.ismodule(obj):
        return _resolve_module(obj)
    configurable = getattr(sys.modules.get("lsst.pex.config"), "ConfigurableInstance", None)
    if configurable is not None and isinstance(obj, configurable):
        obj = obj.target  # config.overscan -> the subtask class it will make
    if type(obj).__module__.startswith("click.") and inspect.isfunction(getattr(obj, "callback", None)):
        obj = obj.callback  # a click command (``butler``, ``lsst-images-admin``) -> the function it runs
    kind, func = unwrap_callable(obj)
    if inspect.isclass(func):
        return _resolve_class(func, kind="class")
    if inspect.isfunction(func):
        return _resolve_function(func, kind, owner)
    if _is_compiled_callable(func):
        _raise_compiled(func)
    # Any other object: an instance (a task, a config, ...) -> its class.
    return _resolve_class(type(obj), kind="class")


def _is_plain_value(obj: object) -> bool:
    """Return whether ``obj`` is a value (number, string, ...), with no definition of its own."""
    field_type = pex_field_type()
    return not (
        callable(obj)
        or inspect.ismodule(obj)
        or isinstance(obj, property | functools.cached_property | classmethod | staticmethod)
        or (field_type is not None and isinstance(obj, field_type))
        or inspect.isdatadescriptor(obj)
    )


def _resolve_class_attribute(owner: type, attribute: str) -> Resolved | None:
    """Find the assignment of a class attribute (``_DefaultName = "isr"``) in the class that sets it."""
    for klass in owner.__mro__:
        if attribute not in vars(klass):
            continue
        for path in [getattr(sys.modules.get(klass.__module__), "__file__", None) or "", *code_files(klass)]:
            if not path.endswith(".py"):
                continue
            span = find(path, f"{klass.__qualname__}.{attribute}", kind="assign")
            if span is not None:
                page = public_name(klass.__module__, klass.__qualname__)
                return Resolved(
                    name=f"{page}.{attribute}",
                    kind="class attribute",
                    module=klass.__module__,
                    path=path,
                    lines=span,
                    page=page,
                    member=True,
                )
        return None
    return None


def unwrap_callable(obj: Any) -> tuple[str, Any]:
    """Return ``(kind, function)`` behind a property, classmethod, bound method, partial or decorator.

    Parameters
    ----------
    obj
        The object.

    Returns
    -------
    kind, function : `tuple` [`str`, `object`]
        ``"property"``, ``"classmethod"``, ``"staticmethod"``, ``"method"`` or ``""``; and the
        innermost function (``obj`` itself when there is nothing to unwrap).
    """
    kind = ""
    if isinstance(obj, property):
        kind, obj = "property", obj.fget
    elif isinstance(obj, functools.cached_property):
        kind, obj = "property", obj.func
    elif isinstance(obj, classmethod):
        kind, obj = "classmethod", obj.__func__
    elif isinstance(obj, staticmethod):
        kind, obj = "staticmethod", obj.__func__
    elif inspect.ismethod(obj):
        kind = "classmethod" if inspect.isclass(obj.__self__) else "method"
        obj = obj.__func__
    if isinstance(obj, functools.partial):
        obj = obj.func
    if callable(obj) and not inspect.isclass(obj):
        try:
            obj = inspect.unwrap(obj)
        except ValueError:  # a __wrapped__ cycle: keep the outer object
            pass
    return kind, obj


def _is_compiled_callable(obj: object) -> bool:
    if inspect.isbuiltin(obj) or inspect.ismethoddescriptor(obj) or inspect.isdatadescriptor(obj):
        return True
    return callable(obj) and isinstance(getattr(obj, "__name__", None), str) and not hasattr(obj, "__code__")


def pex_field_type() -> type | None:
    """Return ``lsst.pex.config.Field`` if pex_config is already imported (never imports it).

    Returns
    -------
    field_type : `type` or `None`
        The class, or `None`.
    """
    module = sys.modules.get("lsst.pex.config")  # only if already imported: never import it here
    return getattr(module, "Field", None) if module is not None else None


def _check_session(name: str, module: str | None, path: str | None) -> None:
    in_cell = path is not None and (re.match(r"<ipython-input", path) is not None or "ipykernel_" in path)
    if in_cell or (module == "__main__" and not (path and os.path.isfile(path))):
        raise SourceNotFoundError(
            name,
            "it was defined in this notebook or interactive session, not in an installed package, so "
            "there is no repository file to link. Its source is the cell you wrote; `obj??` in IPython "
            "shows it. Move it into a module of a package to get a link.",
        )


def _resolve_module(module: ModuleType) -> Resolved:
    name = module.__name__
    path = getattr(module, "__file__", None)
    if path and path.endswith(".py"):
        return Resolved(name=name, kind="module", module=name, path=path, lines=None, page=name)
    if name in sys.builtin_module_names or (path and is_stdlib(path) is not None):
        docs = python_docs(f"library/{name}.html")
        raise SourceNotFoundError(
            name,
            f"module {name} is part of Python itself and written in C; there is no Python file to link. "
            f"Its documentation is {docs}",
            docs_url=docs,
        )
    if not path:
        raise SourceNotFoundError(
            name, f"module {name} has no file (a namespace package?); link one of its modules"
        )
    raise SourceNotFoundError(
        name,
        f"module {name} is a compiled extension ({Path(path).name}); there is no Python source to link"
        + _module_hint(name.rpartition(".")[0]),
    )


def _module_file(module_name: str, display: str) -> str:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None) if module is not None else None
    if not path:
        raise SourceNotFoundError(display, f"its module {module_name!r} has no file (built into Python)")
    if not path.endswith(".py"):
        raise _compiled_error(
            display,
            module_name,
            display.removeprefix(module_name + "."),
            f"it is compiled code in the extension module {module_name} ({Path(path).name}); there is no "
            "Python source to link",
        )
    return path


def _module_hint(module_name: str) -> str:
    """' The module is at <url>' for a compiled object's package, when a link can be made."""
    top = module_name
    while top:
        module = sys.modules.get(top)
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py"):
            pkg = package_of(path, top)
            ref = pinned_ref(pkg)[0] if pkg is not None else None
            if pkg is None or not pkg.repository or not ref:
                return ""
            url = blob_url(pkg.repository, ref, pkg.repo_path, None)
            return (
                f". Its package's Python module is {url} and its C/C++ source is in "
                f"{pkg.repository} at {ref}"
            )
        top = top.rpartition(".")[0]
    return ""


def _builtin_docs(name: str, obj: object) -> str:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return python_docs(f"library/exceptions.html#{name}")
    if inspect.isclass(obj):
        return (
            python_docs(f"library/stdtypes.html#{name}")
            if name not in ("object", "type")
            else python_docs(f"library/functions.html#{name}")
        )
    return python_docs(f"library/functions.html#{name}")



def _resolve_class(cls: type, kind: str) -> Resolved:
    module = getattr(cls, "__module__", None) or ""
    qualname = cls.__qualname__
    display = f"{module}.{qualname}" if module else qualname
    if module == "builtins":
        raise _builtin_error(qualname, _builtin_docs(qualname, cls))
    if module == "__main__":  # a notebook cell, or a script run with `python script.py`
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if not (main_file and os.path.isfile(main_file) and find(main_file, qualname, kind="class")):
            main_file = None
        _check_session(display, module, main_file)
    span: tuple[int, int] | None = None
    failure: SourceNotFoundError | None = None
    try:
        path = _module_file(module, display)
    except SourceNotFoundError as err:
        path, failure = "", err
    else:
        _check_session(display, module, path)
        span = find(path, qualname, kind="class")
    if not path or span is None:
        # __module__ may name the public package rather than the defining file (numpy's @set_module):
        # the class's own Python methods know the file their code came from.
        for candidate in code_files(cls):
            span = find(candidate, qualname, kind="class")
            if span is not None:
                path = candidate
                break
    if not path or span is None:
        raise failure or _compiled_error(
            display,
            module,
            qualname,
            f"{display} is not defined in Python source in {path} (it is compiled, or was created at run "
            "time by a factory)",
        )
    public = public_name(module, qualname)
    return Resolved(name=public, kind=kind, module=module, path=path, lines=span, page=public)


def code_files(cls: type) -> list[str]:
    """Return the Python files that the code of ``cls``'s own methods comes from.

    Parameters
    ----------
    cls
        A class.

    Returns
    -------
    files : `list` [`str`]
        Existing ``.py`` files, in the order the methods are found.
    """
    files: list[str] = []
    prefix = cls.__qualname__ + "."
    for value in list(vars(cls).values()):
        func = unwrap_callable(value)[1]
        code = getattr(func, "__code__", None)
        if code is None or not getattr(func, "__qualname__", "").startswith(prefix):
            continue
        filename = code.co_filename
        if filename.endswith(".py") and filename not in files and os.path.isfile(filename):
            files.append(filename)
    return files


def _builtin_error(name: str, docs: str) -> SourceNotFoundError:
    return SourceNotFoundError(
        name,
        f"{name} is a Python built-in (written in C inside the interpreter); there is no Python source "
        f"to link. Read its documentation instead: {docs} (where_is(..., in_the='docs') gives this link)",
        docs_url=docs,
    )


def _raise_compiled(obj: Any) -> NoReturn:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    objclass = getattr(obj, "__objclass__", None)
    module = getattr(obj, "__module__", None) or getattr(objclass, "__module__", None)
    self_obj = getattr(obj, "__self__", None)
    if module is None and inspect.ismodule(self_obj):
        module = self_obj.__name__
    if module is None and inspect.isclass(self_obj) and self_obj.__module__ == "builtins":
        module = "builtins"  # e.g. object.__new__
    if module in (None, "builtins") and name.split(".")[0] in vars(builtins):
        docs = _builtin_docs(name.split(".")[0], getattr(builtins, name.split(".")[0], None))
        raise _builtin_error(name, docs)
    display = f"{module}.{name}" if module else name
    raise _compiled_error(
        display,
        module or "",
        name,
        f"it is compiled code (a {type(obj).__module__}.{type(obj).__qualname__} object), not a Python "
        "function, so there is no Python line to link",
    )


def _compiled_error(display: str, module: str, qualname: str, reason: str) -> SourceNotFoundError:
    """Return the error for compiled objects; it remembers enough to still link the documentation."""
    path = getattr(sys.modules.get(module), "__file__", None) if module else None
    if module in sys.builtin_module_names or (path and is_stdlib(path) is not None):
        docs = python_docs(f"library/{module.split('.')[0]}.html#{display}")
        return SourceNotFoundError(
            display,
            f"{reason}: it is part of Python itself (module {module}). Its documentation is {docs}",
            docs_url=docs,
        )
    return SourceNotFoundError(
        display, reason + (_module_hint(module) if module else ""), compiled=(module, qualname)
    )



def _resolve_function(func: FunctionType, kind: str, owner: type | None = None) -> Resolved:
    module = func.__module__ or ""
    qualname = func.__qualname__
    display = f"{module}.{qualname}" if module else qualname
    path = func.__code__.co_filename
    _check_session(display, module, path)
    if path.startswith("<frozen ") and module:  # os, posixpath, ... are frozen in 3.12: use the module file
        path = _module_file(module, display)
    if not os.path.isfile(path):
        return _generated_function(func, display, path, owner)
    member = "." in qualname and "<locals>" not in qualname
    if not kind:
        kind = "method" if member else "function"
        if member and isinstance(
            _owner_namespace(module, qualname).get(qualname.rpartition(".")[2]), staticmethod
        ):
            kind = "staticmethod"
    span = find(path, qualname, kind="def", first_line=func.__code__.co_firstlineno)
    if span is None:  # e.g. a function made by exec() or a code generator: trust the code object
        first = func.__code__.co_firstlineno
        span = (first, first)
    owner_q, _, attr = qualname.rpartition(".")
    if member:
        page = public_name(module, owner_q)
        public = f"{page}.{attr}"
    else:
        public = public_name(module, qualname)
        page = public
    return Resolved(name=public, kind=kind, module=module, path=path, lines=span, page=page, member=member)


def _generated_function(func: FunctionType, display: str, path: str, owner: type | None) -> Resolved:
    """Resolve a function generated from a string (``@dataclass``'s ``__init__``) to its class.

    It has no lines of its own, so the class it belongs to, whose source shows the decorator, is
    linked.
    """
    module = func.__module__ or ""
    qualname = func.__qualname__
    if owner is None and "<locals>" not in qualname and "." in qualname:
        holder: Any = sys.modules.get(module)
        for part in qualname.split(".")[:-1]:
            holder = getattr(holder, part, None)
        owner = holder if inspect.isclass(holder) else None
    if owner is None:  # e.g. a dataclass __repr__, whose qualname names no class: look in its module
        namespace = getattr(sys.modules.get(module), "__dict__", {})
        owner = next(
            (
                c
                for c in list(namespace.values())
                if inspect.isclass(c) and unwrap_callable(vars(c).get(func.__name__))[1] is func
            ),
            None,
        )
    if owner is None:
        raise SourceNotFoundError(
            display,
            f"it was generated at run time from code in a string ({path}), e.g. by a decorator such as "
            "@dataclass, so it has no lines of its own; link the class it belongs to instead",
        )
    resolved = _resolve_class(owner, kind="class")
    resolved.note = (
        f"{func.__name__} is generated at run time (e.g. by @dataclass) and has no lines of its own: "
        f"linked its class {resolved.name}"
    )
    return resolved


def _owner_namespace(module: str, qualname: str) -> Mapping[str, Any]:
    """Return the ``__dict__`` of the class that holds method ``qualname`` (empty if unreachable)."""
    obj: Any = sys.modules.get(module)
    for part in qualname.split(".")[:-1]:
        obj = getattr(obj, part, None)
    return vars(obj) if inspect.isclass(obj) else {}


def _resolve_field(fld: Field[Any], owner: type | None) -> Resolved:
    name = getattr(fld, "name", None)
    holder = _field_owner(fld, name, owner)
    kind = f"config field ({type(fld).__name__})"
    source = getattr(fld, "source", None)
    src_file = str(getattr(source, "filename", "") or "")
    src_line = int(getattr(source, "lineno", 0) or 0)
    pex_dir = str(Path(sys.modules["lsst.pex.config"].__file__ or "").parent)
    if holder is not None:
        module = holder.__module__
        display = f"{module}.{holder.__qualname__}.{name}"
        path = _module_file(module, display)
        _check_session(display, module, path)
        span = find(path, f"{holder.__qualname__}.{name}", kind="assign")
        from_source = _source_path(src_file, path)
        note = ""
        if from_source == path and span and span[0] <= src_line <= span[1]:
            span = (src_line, span[1])
            note = "declaration line from Field.source"
        elif span is not None:
            note = (
                f"Field.source says {src_file}:{src_line}"
                + (
                    " (inside lsst.pex.config: the Field[type](...) spelling records pex_config's own frame)"
                    if from_source and from_source.startswith(pex_dir)
                    else ""
                )
                + "; the declaration was found by parsing the class instead"
            )
        elif from_source == path and src_line:
            span = (src_line, src_line)
            note = "declaration line from Field.source"
        else:
            raise SourceNotFoundError(
                display, f"no assignment of {name!r} was found in the body of {display}"
            )
        page = public_name(module, holder.__qualname__)
        return Resolved(
            name=f"{page}.{name}",
            kind=kind,
            module=module,
            path=path,
            lines=span,
            page=page,
            member=True,
            note=note,
        )
    # A field not attached to a Config class: only Field.source can tell.
    path = _source_path(src_file, None) or ""
    if not path or path.startswith(pex_dir) or not src_line:
        raise SourceNotFoundError(
            f"config field {name or '?'}",
            "it is not attached to any Config class and its Field.source does not point at a file "
            f"({src_file}:{src_line}); look it up on its Config class, "
            f"e.g. where_is(MyConfig.{name or 'field'})",
        )
    module = _module_name_for(path) or ""
    return Resolved(
        name=name or "?", kind=kind, module=module, path=path, lines=(src_line, src_line), page=module
    )


def _field_owner(fld: Field[Any], name: str | None, owner: type | None) -> type | None:
    """Return the Config class whose body declares ``fld``."""
    if not name:
        return None
    holders: list[type] = []
    if owner is not None:
        holders = [klass for klass in owner.__mro__ if vars(klass).get(name) is fld]
    if not holders:
        config_base = getattr(sys.modules["lsst.pex.config"], "Config", None)
        seen: set[type] = set()
        stack: list[type] = [config_base] if config_base is not None else []
        while stack:
            klass = stack.pop()
            if vars(klass).get(name) is fld:
                holders.append(klass)
            sub: type
            for sub in type.__subclasses__(klass):
                if sub not in seen:
                    seen.add(sub)
                    stack.append(sub)
    # pex_config gives each subclass its own copy of an inherited field: walk up from the class
    # holding this object to the first class whose source has the assignment.
    for holder in holders:
        for klass in holder.__mro__:
            if name not in vars(klass):
                continue
            path = getattr(sys.modules.get(klass.__module__), "__file__", None)
            if path and path.endswith(".py") and find(path, f"{klass.__qualname__}.{name}", kind="assign"):
                return klass
    return holders[0] if holders else None


def _source_path(filename: str, module_path: str | None) -> str | None:
    """Return the absolute path of a pex_config StackFrame filename (stripped up to '/python/')."""
    if not filename:
        return None
    if os.path.isabs(filename) and os.path.isfile(filename):
        return filename
    if module_path and module_path.endswith("/" + filename):
        return module_path
    return None


def _module_name_for(path: str) -> str | None:
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == path:
            return name
    return None


def public_name(module: str, qualname: str) -> str:
    """Return the shortest import path that gives the same object.

    ``lsst.daf.butler._butler.Butler`` -> ``lsst.daf.butler.Butler``;
    ``astropy.io.fits.hdu.hdulist.fitsopen`` -> ``astropy.io.fits.open``.

    Parameters
    ----------
    module
        The defining module.
    qualname
        The object's qualified name in it.

    Returns
    -------
    name : `str`
        The public dotted name.
    """
    top, _, rest = qualname.partition(".")
    home = sys.modules.get(module)
    try:
        target = getattr(home, top)
    except Exception:
        return f"{module}.{qualname}"
    parts = module.split(".")
    for i in range(1, len(parts)):
        parent_name = ".".join(parts[:i])
        namespace = getattr(sys.modules.get(parent_name), "__dict__", None)
        if not namespace:
            continue
        if namespace.get(top) is target:
            return f"{parent_name}.{qualname}"
        if not rest:  # a top-level object exported under another name (an alias)
            for alias, value in list(namespace.items()):
                if value is target and not alias.startswith("_"):
                    return f"{parent_name}.{alias}"
    return f"{module}.{qualname}"


