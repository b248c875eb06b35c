"""Where is the code of this object?  Links pinned to the installed version, with line anchors.

`where_is` answers "where is the source of this class / function / config field?" with a
link to the exact code that is installed: the public repository at the installed version's
tag (or commit), the lines of the definition, the API documentation page, or the installed
file itself.  `uses_of` answers the next question, "where is this config field used?".

Everything is computed from installed package metadata; nothing here uses the network.
How each project maps a version to a git tag, where its files live in the repository and
where its documentation is, is a table of rules in `stackclub._where_is_rules`.
"""

from __future__ import annotations

__all__ = (
    "FieldUse",
    "FieldUses",
    "SourceLink",
    "source_url",
    "uses_of",
    "where_is",
)

import ast
import builtins
import difflib
import functools
import importlib
import inspect
import json
import logging
import os
import pkgutil
import platform
import re
import sys
import sysconfig
import tokenize
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlparse

from ._exceptions import NoRepositoryError, SourceNotFoundError, UnknownNameError
from ._render import Link, Table, escape
from ._where_is_rules import ProjectRule, normalize, rule_for

_LOG = logging.getLogger(__name__)

Target = Literal["source", "repo", "docs", "file"]
_TARGETS: tuple[str, ...] = ("source", "repo", "docs", "file")
_FORGES = ("github.com", "gitlab.com", "bitbucket.org")
_REPO_LABELS = ("source", "source code", "sourcecode", "repository", "code", "github", "homepage", "home")
_DOCS_LABELS = ("documentation", "docs", "doc")


# --------------------------------------------------------------------------------------------
# The result object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceLink:
    """Where an object's code (or documentation) is: one link, shown once.

    Attributes
    ----------
    name
        Public dotted name of the object, e.g. ``"lsst.pipe.base.PipelineTask"``.
    kind
        ``"class"``, ``"function"``, ``"method"``, ``"property"``, ``"module"``,
        ``"config field (Field)"``, ...
    target
        What the link points at: ``"source"``, ``"repo"``, ``"docs"`` or ``"file"``.
    url
        The link.  For ``"file"`` it is an absolute ``file://`` URL (no line anchor: file
        URLs have none; the line is in `location`).
    path
        Absolute path of the installed file that defines the object (``""`` if none).
    lines
        ``(first, last)`` line of the definition in `path` (1-based, inclusive; the first is
        the ``def``/``class`` line, not a decorator), or `None` for a module.
    package
        Distribution that installed the file (``"lsst-pipe-base"``), or `None`.
    version
        Installed version of `package`.
    ref
        Git tag or commit the ``"source"`` and ``"repo"`` links are pinned to, or `None`.
    repository
        Repository URL from the package metadata (or the rule table), or `None`.
    note
        How the ref (or lines) were found, when that is worth knowing.

    Examples
    --------
    >>> from stackclub.where_is import where_is
    >>> link = where_is("stackclub.where_is.where_is", in_the="file")
    >>> link.kind, link.path.endswith("where_is.py"), link.url.startswith("file:///")
    ('function', True, True)
    """

    name: str
    kind: str
    target: str
    url: str
    path: str
    lines: tuple[int, int] | None
    package: str | None
    version: str | None
    ref: str | None
    repository: str | None = None
    note: str = ""

    @property
    def location(self) -> str:
        """``path:line`` of the definition in the installed file (what editors and tracebacks use)."""
        return f"{self.path}:{self.lines[0]}" if self.lines else self.path

    @property
    def file_url(self) -> str:
        """Absolute ``file://`` URL of the installed file."""
        return Path(self.path).as_uri() if self.path else ""

    def _summary(self) -> str:
        what = f"{self.kind}"
        if self.package:
            what += f" in {self.package} {self.version or ''}".rstrip()
        if self.target in ("source", "repo") and self.ref:
            what += f" at {self.ref}"
        if self.lines and self.target in ("source", "file"):
            first, last = self.lines
            what += f", line {first}" if first == last else f", lines {first}-{last}"
        return what

    def __str__(self) -> str:
        lines = [f"{self.name}: {self._summary()}"]
        if self.target == "file":
            lines.append(f"  {self.location}")
        lines.append(f"  {self.url}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<SourceLink {self.target} of {self.name}: {self.url}>"

    def _repr_markdown_(self) -> str:
        text = self.location if self.target == "file" else self.name
        summary = _md_escape(self._summary())
        return f"[`{text.replace('`', '')}`]({_md_url(self.url)}) — {summary}"


def _md_escape(text: str) -> str:
    text = escape(text)  # &, <, >, quotes
    return re.sub(r"([\\`*_\[\]{}()#+!|~])", r"\\\1", text)


def _md_url(url: str) -> str:
    return (
        url.replace(" ", "%20")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("<", "%3C")
        .replace(">", "%3E")
    )


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def where_is(obj: Any, in_the: Target = "source") -> SourceLink:
    """Return a link to where ``obj`` is defined, pinned to the installed version.

    Parameters
    ----------
    obj
        A module, class, function, method (bound or not), property, classmethod or
        staticmethod, a pex_config field (``IsrTaskConfig.doFringe``), a task or config
        *instance* (its class is linked), a subtask's config (``config.overscan``: the
        subtask class it targets is linked), or a dotted name such as
        ``"lsst.pipe.base.PipelineTask.runQuantum"`` (a dotted name may also end in a class
        attribute, ``"lsst.pipe.base.PipelineTask.canMultiprocess"``: its assignment is linked),
        or the name of a console command (``"pipetask"``: the function it runs is linked).
    in_the
        ``"source"``: the file in the project's public repository at the installed version's
        tag or commit, with ``#Lstart-Lend`` covering the definition;
        ``"repo"``: the repository at that tag or commit;
        ``"docs"``: the API documentation page;
        ``"file"``: the installed file, as an absolute ``file://`` URL plus ``path:line``
        (works offline; JupyterLab's own file browser paths are relative to where the server
        was started, which a library cannot know, so the absolute form is the one that is
        always right).

    Returns
    -------
    link : `SourceLink`
        Renders as a Markdown link in a notebook and as plain text in a terminal; its
        ``url``, ``path``, ``lines``, ``package``, ``version`` and ``ref`` are attributes.

    Raises
    ------
    UnknownNameError
        A dotted name does not import (close matches are suggested).
    SourceNotFoundError
        Built-ins (the Python docs are suggested), compiled objects (the module is linked
        where possible) and objects defined in this session have no source to link.
    NoRepositoryError
        ``"source"``/``"repo"`` for a package whose metadata has no repository URL, or whose
        version maps to no known tag or commit; ``"file"`` still works.
    ValueError
        ``in_the`` is not one of the four targets.

    Notes
    -----
    The git ref is, in order: the HEAD commit of an editable install's git checkout (read
    from ``.git`` without running git; a commit that was not pushed will not be on the
    server), the commit of a VCS install (``direct_url.json``), the ``+g<sha>`` of a
    setuptools-scm development version, else the tag the project's rule makes of the
    version (``30.2026.4300`` -> ``w.2026.43`` for Rubin packages).

    Examples
    --------
    >>> from stackclub import where_is
    >>> link = where_is("lsst.pipe.base.PipelineTask")  # doctest: +SKIP
    >>> link.url  # doctest: +SKIP
    'https://github.com/lsst/pipe_base/blob/w.2026.43/python/lsst/pipe/base/pipelineTask.py#L50-L193'
    >>> where_is(len, in_the="docs").url  # doctest: +ELLIPSIS
    'https://docs.python.org/3.../library/functions.html#len'
    """
    if in_the not in _TARGETS:
        raise ValueError(f"in_the must be one of {', '.join(map(repr, _TARGETS))}; got {in_the!r}")
    try:
        resolved = _resolve(obj)
    except SourceNotFoundError as err:
        docs = getattr(err, "docs_url", None)
        if in_the == "docs" and docs:  # built-ins: the Python documentation is the answer
            return SourceLink(
                name=err.name,
                kind="built-in",
                target="docs",
                url=docs,
                path="",
                lines=None,
                package="python",
                version=platform.python_version(),
                ref=None,
            )
        if in_the == "docs" and hasattr(err, "compiled"):
            link = _compiled_docs(err)
            if link is not None:
                return link
        raise
    return _link(resolved, in_the)


def source_url(obj: Any) -> str | None:
    """Return the pinned ``"source"`` URL of ``obj``, or `None` when none can be made; never raises.

    For callers that link many names at once (config tables, task trees) and should simply
    show plain text where no link exists.

    Examples
    --------
    >>> from stackclub.where_is import source_url
    >>> source_url(len) is None
    True
    """
    try:
        return where_is(obj, in_the="source").url
    except Exception as err:  # a link is a nicety here: never let it break the caller
        _LOG.debug("no source URL for %r: %s", obj, err)
        return None


# --------------------------------------------------------------------------------------------
# Resolving an object to (module, qualname, file, lines)
# --------------------------------------------------------------------------------------------


@dataclass
class _Resolved:
    name: str  # public dotted name
    kind: str
    module: str  # defining module
    path: str
    lines: tuple[int, int] | None
    page: str  # public name of the docs page (owner class for members)
    member: bool = False
    note: str = ""


def _resolve(obj: Any) -> _Resolved:
    owner: type | None = None
    if isinstance(obj, str):
        attribute = obj.strip().rpartition(".")[2]
        obj, owner = _import_dotted(obj)
        if owner is not None and _is_plain_value(obj):  # "PipelineTask.canMultiprocess": a class attribute
            resolved = _resolve_class_attribute(owner, attribute)
            if resolved is not None:
                return resolved
    field_type = _pex_field_type()
    if field_type is not None and isinstance(obj, field_type):
        return _resolve_field(obj, owner)
    if inspect.ismodule(obj):
        return _resolve_module(obj)
    configurable = getattr(sys.modules.get("lsst.pex.config"), "ConfigurableInstance", None)
    if configurable is not None and isinstance(obj, configurable):
        obj = obj.target  # config.overscan -> the subtask class it will make
    if type(obj).__module__.startswith("click.") and inspect.isfunction(getattr(obj, "callback", None)):
        obj = obj.callback  # a click command (``butler``, ``lsst-images-admin``) -> the function it runs
    kind, func = _unwrap_callable(obj)
    if inspect.isclass(func):
        return _resolve_class(func, kind="class")
    if inspect.isfunction(func):
        return _resolve_function(func, kind, owner)
    if _is_compiled_callable(func):
        _raise_compiled(func)
    # Any other object: an instance (a task, a config, ...) -> its class.
    return _resolve_class(type(obj), kind="class")


def _is_plain_value(obj: Any) -> bool:
    """A value (number, string, tuple, ...) rather than something with a definition of its own."""
    field_type = _pex_field_type()
    return not (
        callable(obj)
        or inspect.ismodule(obj)
        or isinstance(obj, property | functools.cached_property | classmethod | staticmethod)
        or (field_type is not None and isinstance(obj, field_type))
        or inspect.isdatadescriptor(obj)
    )


def _resolve_class_attribute(owner: type, attribute: str) -> _Resolved | None:
    """The assignment of a class attribute (``_DefaultName = "isr"``) in the class that sets it."""
    for klass in owner.__mro__:
        if attribute not in vars(klass):
            continue
        for path in [getattr(sys.modules.get(klass.__module__), "__file__", None) or "", *_code_files(klass)]:
            if not path.endswith(".py"):
                continue
            span = _find(path, f"{klass.__qualname__}.{attribute}", kind="assign")
            if span is not None:
                page = _public_name(klass.__module__, klass.__qualname__)
                return _Resolved(
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


def _unwrap_callable(obj: Any) -> tuple[str, Any]:
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


def _is_compiled_callable(obj: Any) -> bool:
    if inspect.isbuiltin(obj) or inspect.ismethoddescriptor(obj) or inspect.isdatadescriptor(obj):
        return True
    return callable(obj) and isinstance(getattr(obj, "__name__", None), str) and not hasattr(obj, "__code__")


def _pex_field_type() -> type | None:
    module = sys.modules.get("lsst.pex.config")  # only if already imported: never import it here
    return getattr(module, "Field", None) if module is not None else None


def _import_dotted(name: str) -> tuple[Any, type | None]:
    """Resolve ``a.b.C.meth`` as Python would evaluate it after ``import a.b``: attribute look-ups
    first, importing a submodule only when the attribute is missing (so a package attribute that
    shadows a submodule of the same name wins, as it does in code).

    Returns (object, the class it was looked up on or None).
    """
    text = name.strip()
    parts = text.split(".")
    if not text or not all(p.isidentifier() for p in parts):
        command = _console_script(text)
        if command is not None:
            return command, None
        raise UnknownNameError(name, "is not a dotted Python name such as 'lsst.pipe.base.PipelineTask'")
    obj = _import_module(name, parts[0])
    if obj is None:
        command = _console_script(text) if len(parts) == 1 else None
        if command is not None:  # "pipetask": the function the command runs
            return command, None
        return _fail_top_level(name, parts[0])
    owner: type | None = None
    for i in range(1, len(parts)):
        part = parts[i]
        try:
            value = getattr(obj, part)
        except AttributeError:
            value = _import_module(name, ".".join(parts[: i + 1])) if inspect.ismodule(obj) else None
            if value is None:
                where = ".".join(parts[:i])
                suggestions = _close_names(obj, part, where)
                raise UnknownNameError(
                    name, f"does not import: {where} has no attribute {part!r}", suggestions
                ) from None
        owner = obj if inspect.isclass(obj) else None
        obj = value
    return obj, owner


def _console_script(command: str) -> Any:
    """The function a console command (``pipetask``, ``butler``) runs, from its entry point; or None."""
    for entry_point in metadata.entry_points(group="console_scripts", name=command):
        try:
            return entry_point.load()
        except Exception as err:
            raise UnknownNameError(
                command, f"is the command {entry_point.value!r}, which fails to load: {err}"
            ) from None
    return None


def _import_module(name: str, modname: str) -> Any:
    """Import ``modname``; `None` if it does not exist, a clear error if it exists but fails."""
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if missing and not (modname == missing or modname.startswith(missing + ".")):
            raise UnknownNameError(
                name, f"cannot be imported: importing {modname!r} failed ({err})"
            ) from None
        return None
    except Exception as err:
        raise UnknownNameError(
            name, f"cannot be imported: importing {modname!r} raised {type(err).__name__}: {err}"
        ) from None


def _close_names(parent: Any, part: str, where: str) -> tuple[str, ...]:
    names = set(dir(parent))
    if inspect.ismodule(parent) and hasattr(parent, "__path__"):
        names |= {m.name for m in pkgutil.iter_modules(parent.__path__)}
    names = {n for n in names if not n.startswith("__")}
    return tuple(f"{where}.{n}" for n in difflib.get_close_matches(part, sorted(names), n=3, cutoff=0.6))


def _fail_top_level(name: str, top: str) -> tuple[Any, type | None]:
    names = {m.name for m in pkgutil.iter_modules()} | {m.split(".")[0] for m in sys.modules}
    if not top.startswith("_"):
        names = {n for n in names if not n.startswith("_")}
    suggestions = difflib.get_close_matches(top, sorted(names), n=3, cutoff=0.6)
    rest = name.strip()[len(top) :]
    raise UnknownNameError(
        name, f"does not import: there is no module named {top!r}", tuple(s + rest for s in suggestions)
    )


def _check_session(name: str, module: str | None, path: str | None) -> None:
    in_cell = path is not None and (re.match(r"<ipython-input", path) is not None or "ipykernel_" in path)
    if in_cell or (module == "__main__" and not (path and os.path.isfile(path))):
        raise SourceNotFoundError(
            name,
            "it was defined in this notebook or interactive session, not in an installed package, so "
            "there is no repository file to link. Its source is the cell you wrote; `obj??` in IPython "
            "shows it. Move it into a module of a package to get a link.",
        )


def _resolve_module(module: Any) -> _Resolved:
    name = module.__name__
    path = getattr(module, "__file__", None)
    if path and path.endswith(".py"):
        return _Resolved(name=name, kind="module", module=name, path=path, lines=None, page=name)
    if name in sys.builtin_module_names or (path and _is_stdlib(path) is not None):
        docs = _python_docs(f"library/{name}.html")
        err = SourceNotFoundError(
            name,
            f"module {name} is part of Python itself and written in C; there is no Python file to link. "
            f"Its documentation is {docs}",
        )
        err.docs_url = docs  # type: ignore[attr-defined]
        raise err
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
            try:
                link = _link(_resolve_module(module), "source")
            except Exception:
                return ""
            return (
                f". Its package's Python module is {link.url} and its C/C++ source is in "
                f"{link.repository} at {link.ref}"
            )
        top = top.rpartition(".")[0]
    return ""


def _builtin_docs(name: str, obj: Any) -> str:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return _python_docs(f"library/exceptions.html#{name}")
    if inspect.isclass(obj):
        return (
            _python_docs(f"library/stdtypes.html#{name}")
            if name not in ("object", "type")
            else _python_docs(f"library/functions.html#{name}")
        )
    return _python_docs(f"library/functions.html#{name}")


def _python_docs(page: str) -> str:
    return f"https://docs.python.org/{sys.version_info.major}.{sys.version_info.minor}/{page}"


def _resolve_class(cls: type, kind: str) -> _Resolved:
    module = getattr(cls, "__module__", None) or ""
    qualname = cls.__qualname__
    display = f"{module}.{qualname}" if module else qualname
    if module == "builtins":
        raise _builtin_error(qualname, _builtin_docs(qualname, cls))
    if module == "__main__":  # a notebook cell, or a script run with `python script.py`
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if not (main_file and os.path.isfile(main_file) and _find(main_file, qualname, kind="class")):
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
        span = _find(path, qualname, kind="class")
    if not path or span is None:
        # __module__ may name the public package rather than the defining file (numpy's @set_module):
        # the class's own Python methods know the file their code came from.
        for candidate in _code_files(cls):
            span = _find(candidate, qualname, kind="class")
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
    public = _public_name(module, qualname)
    return _Resolved(name=public, kind=kind, module=module, path=path, lines=span, page=public)


def _code_files(cls: type) -> list[str]:
    """Python files that the code of ``cls``'s own methods comes from."""
    files: list[str] = []
    prefix = cls.__qualname__ + "."
    for value in list(vars(cls).values()):
        func = _unwrap_callable(value)[1]
        code = getattr(func, "__code__", None)
        if code is None or not getattr(func, "__qualname__", "").startswith(prefix):
            continue
        filename = code.co_filename
        if filename.endswith(".py") and filename not in files and os.path.isfile(filename):
            files.append(filename)
    return files


def _builtin_error(name: str, docs: str) -> SourceNotFoundError:
    err = SourceNotFoundError(
        name,
        f"{name} is a Python built-in (written in C inside the interpreter); there is no Python source "
        f"to link. Read its documentation instead: {docs} (where_is(..., in_the='docs') gives this link)",
    )
    err.docs_url = docs  # type: ignore[attr-defined]
    return err


def _raise_compiled(obj: Any) -> None:
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
    """The error for compiled objects; it remembers enough to still link the documentation."""
    path = getattr(sys.modules.get(module), "__file__", None) if module else None
    if module in sys.builtin_module_names or (path and _is_stdlib(path) is not None):
        docs = _python_docs(f"library/{module.split('.')[0]}.html#{display}")
        err = SourceNotFoundError(
            display, f"{reason}: it is part of Python itself (module {module}). Its documentation is {docs}"
        )
        err.docs_url = docs  # type: ignore[attr-defined]
        return err
    err = SourceNotFoundError(display, reason + (_module_hint(module) if module else ""))
    err.compiled = (module, qualname)  # type: ignore[attr-defined]
    return err


def _compiled_docs(err: SourceNotFoundError) -> SourceLink | None:
    """The API page of a compiled object (e.g. ``numpy.add``), found through its package."""
    module, qualname = err.compiled  # type: ignore[attr-defined]
    top = module
    while top:
        path = getattr(sys.modules.get(top), "__file__", None)
        if path and path.endswith(".py"):
            break
        top = top.rpartition(".")[0]
    else:
        return None
    member = "." in qualname
    page = _public_name(module, qualname.rpartition(".")[0]) if member else _public_name(module, qualname)
    name = f"{page}.{qualname.rpartition('.')[2]}" if member else page
    resolved = _Resolved(
        name=name, kind="compiled", module=module, path=path, lines=None, page=page, member=member
    )
    link = _link(resolved, "docs")
    return SourceLink(
        name=name,
        kind="compiled",
        target="docs",
        url=link.url,
        path="",
        lines=None,
        package=link.package,
        version=link.version,
        ref=None,
    )


def _resolve_function(func: Any, kind: str, owner: type | None = None) -> _Resolved:
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
    span = _find(path, qualname, kind="def", first_line=func.__code__.co_firstlineno)
    if span is None:  # e.g. a function made by exec() or a code generator: trust the code object
        first = func.__code__.co_firstlineno
        span = (first, first)
    owner_q, _, attr = qualname.rpartition(".")
    if member:
        page = _public_name(module, owner_q)
        public = f"{page}.{attr}"
    else:
        public = _public_name(module, qualname)
        page = public
    return _Resolved(name=public, kind=kind, module=module, path=path, lines=span, page=page, member=member)


def _generated_function(func: Any, display: str, path: str, owner: type | None) -> _Resolved:
    """A function whose code was generated from a string (``@dataclass``'s ``__init__``, ...): it has
    no lines of its own, so link the class it belongs to, whose source shows the decorator."""
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
                if inspect.isclass(c) and _unwrap_callable(vars(c).get(func.__name__))[1] is func
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
    """The ``__dict__`` of the class that holds method ``qualname`` (empty if it cannot be reached)."""
    obj: Any = sys.modules.get(module)
    for part in qualname.split(".")[:-1]:
        obj = getattr(obj, part, None)
    return vars(obj) if inspect.isclass(obj) else {}


def _resolve_field(fld: Any, owner: type | None) -> _Resolved:
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
        span = _find(path, f"{holder.__qualname__}.{name}", kind="assign")
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
        page = _public_name(module, holder.__qualname__)
        return _Resolved(
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
    return _Resolved(
        name=name or "?", kind=kind, module=module, path=path, lines=(src_line, src_line), page=module
    )


def _field_owner(fld: Any, name: str | None, owner: type | None) -> type | None:
    """The Config class whose body declares ``fld``."""
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
            if path and path.endswith(".py") and _find(path, f"{klass.__qualname__}.{name}", kind="assign"):
                return klass
    return holders[0] if holders else None


def _source_path(filename: str, module_path: str | None) -> str | None:
    """Absolute path of a pex_config StackFrame filename (which strips everything up to '/python/')."""
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


def _public_name(module: str, qualname: str) -> str:
    """The shortest import path that gives the same object (``lsst.daf.butler._butler.Butler`` ->
    ``lsst.daf.butler.Butler``; ``astropy.io.fits.hdu.hdulist.fitsopen`` -> ``astropy.io.fits.open``)."""
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


# --------------------------------------------------------------------------------------------
# Source index: qualname -> (def line, end line), one ast.parse per file (cached)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Def:
    kind: str  # "class", "def" or "assign"
    first: int  # first decorator line, or the def/class line
    line: int  # the def/class/assignment line
    end: int


@functools.lru_cache(maxsize=8)
def _tree(path: str, mtime_ns: int) -> ast.Module:
    """The parsed file; few are kept (a tree takes ~1 kB per source line), the small index many."""
    with tokenize.open(path) as handle:
        return ast.parse(handle.read(), filename=path)


@functools.lru_cache(maxsize=1024)
def _parse(path: str, mtime_ns: int) -> dict[str, list[_Def]]:
    index: dict[str, list[_Def]] = {}

    def add(qualname: str, kind: str, node: ast.stmt, first: int) -> None:
        index.setdefault(qualname, []).append(_Def(kind, first, node.lineno, node.end_lineno or node.lineno))

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


def _index(path: str) -> dict[str, list[_Def]]:
    try:
        return _parse(path, os.stat(path).st_mtime_ns)
    except (OSError, SyntaxError, ValueError) as err:
        _LOG.debug("cannot parse %s: %s", path, err)
        return {}


def _find(path: str, qualname: str, *, kind: str, first_line: int | None = None) -> tuple[int, int] | None:
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


def _class_node(cls: type) -> tuple[str, ast.ClassDef] | None:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    candidates = ([path] if path and path.endswith(".py") else []) + _code_files(cls)
    for candidate in candidates:
        span = _find(candidate, cls.__qualname__, kind="class")
        if span is None:
            continue
        tree = _tree(candidate, os.stat(candidate).st_mtime_ns)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.lineno == span[0] and node.name == cls.__name__:
                return candidate, node
    return None


# --------------------------------------------------------------------------------------------
# Packages: which distribution installed a file, its version, repository and git ref
# --------------------------------------------------------------------------------------------


@dataclass
class _Dist:
    name: str
    version: str
    root: Path  # folder the RECORD paths are relative to (site-packages)
    urls: dict[str, str]  # Project-URL label (lower case) -> URL
    direct_url: dict[str, Any]
    dist: metadata.Distribution = field(repr=False)

    @functools.cached_property
    def files(self) -> frozenset[str]:
        # Read RECORD ourselves: Distribution.files stats every listed file (slow for big packages).
        record = self.dist.read_text("RECORD")
        if record:
            return frozenset(line.rsplit(",", 2)[0].strip('"') for line in record.splitlines() if line)
        return frozenset(str(f).replace("\\", "/") for f in (self.dist.files or ()))

    @functools.cached_property
    def editable_dir(self) -> Path | None:
        info = self.direct_url
        if not info.get("dir_info", {}).get("editable"):
            return None
        url = urlparse(info.get("url", ""))
        return Path(unquote(url.path)).resolve() if url.scheme == "file" else None

    def owns(self, path: str) -> bool:
        if self.editable_dir is not None and _in_checkout(path, self.editable_dir):
            return True
        try:
            rel = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return False
        return rel in self.files

    @property
    def repository(self) -> str | None:
        for label in _REPO_LABELS:
            url = self.urls.get(label)
            if url and (label != "homepage" and label != "home" or _on_forge(url)):
                return _clean_repo_url(url)
        for url in self.urls.values():
            if _on_forge(url):
                return _clean_repo_url(url)
        home = self.dist.metadata.get("Home-page")
        return _clean_repo_url(home) if home and _on_forge(home) else None

    @property
    def documentation(self) -> str | None:
        for label in _DOCS_LABELS:
            if label in self.urls:
                return self.urls[label]
        return None


def _in_checkout(path: str, checkout: Path) -> bool:
    """Whether ``path`` is part of the editable checkout: under it, but not in a virtual
    environment or site-packages that happens to live inside it (``.venv/``)."""
    if not _is_under(path, checkout):
        return False
    parts = Path(path).resolve().relative_to(checkout).parts
    return not any(p in ("site-packages", "dist-packages") or p.startswith(".venv") for p in parts) and not (
        _is_under(path, Path(sys.prefix).resolve()) and Path(sys.prefix).resolve() != checkout
    )


def _is_under(path: str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def _on_forge(url: str) -> bool:
    return urlparse(url).netloc.lower().removeprefix("www.") in _FORGES


def _clean_repo_url(url: str) -> str:
    url = url.strip().removeprefix("git+").rstrip("/")
    url = url.removesuffix(".git")
    if url.startswith("git@"):  # git@github.com:owner/repo
        host, _, rest = url[4:].partition(":")
        url = f"https://{host}/{rest}"
    return url.replace("http://", "https://", 1)


def _make_dist(dist: metadata.Distribution) -> _Dist:
    meta = dist.metadata
    urls: dict[str, str] = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls.setdefault(label.strip().lower(), url.strip())
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except (OSError, ValueError):
        direct = {}
    return _Dist(
        name=meta["Name"],
        version=meta["Version"],
        root=Path(str(dist.locate_file(""))),
        urls=urls,
        direct_url=direct,
        dist=dist,
    )


@functools.lru_cache(maxsize=512)
def _dists_named(name: str) -> tuple[_Dist, ...]:
    """Installed distributions called ``name``; those with a ``direct_url.json`` first (an editable
    install's ``.egg-info`` left in the source folder is found too, but says less)."""
    found = [_make_dist(d) for d in metadata.distributions(name=name)]
    return tuple(sorted(found, key=lambda d: not d.direct_url))


@functools.lru_cache(maxsize=1)
def _top_level_map() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


@functools.lru_cache(maxsize=1)
def _editable_dists() -> tuple[_Dist, ...]:
    out = []
    for dist in metadata.distributions():
        try:
            text = dist.read_text("direct_url.json")
        except OSError:
            continue
        if text and '"editable": true' in text.replace(" ", "").replace(
            '"editable":true', '"editable": true'
        ):
            out.append(_make_dist(dist))
    return tuple(out)


@functools.lru_cache(maxsize=2048)
def _distribution_for(path: str, module: str) -> _Dist | None:
    parts = [p for p in module.split(".") if p]
    tried: set[str] = set()
    guesses = ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]
    for guess in guesses:
        tried.add(normalize(guess))
        for dist in _dists_named(guess):
            if dist.owns(path):
                return dist
    for name in _top_level_map().get(parts[0] if parts else "", []):
        if normalize(name) in tried:
            continue
        tried.add(normalize(name))
        for dist in _dists_named(name):
            if dist.owns(path):
                return dist
    for dist in _editable_dists():  # e.g. a test module inside an editable checkout
        if dist.editable_dir is not None and _in_checkout(path, dist.editable_dir):
            return dist
    return None


@dataclass(frozen=True)
class _Package:
    name: str
    version: str
    repository: str | None
    repo_path: str  # path of the file inside the repository
    ref: str | None
    ref_note: str
    rule: ProjectRule
    documentation: str | None
    editable_dir: Path | None = None


def _is_stdlib(path: str) -> str | None:
    stdlib = sysconfig.get_paths()["stdlib"]
    if not path.startswith(stdlib + os.sep):
        return None
    rel = os.path.relpath(path, stdlib)
    return None if rel.split(os.sep)[0] in ("site-packages", "dist-packages") else rel.replace(os.sep, "/")


@functools.lru_cache(maxsize=2048)
def _package_of(path: str, module: str) -> _Package | None:
    rel_std = _is_stdlib(path)
    if rel_std is not None:
        rule = rule_for("python")
        version = platform.python_version()
        return _Package(
            name="python",
            version=version,
            repository=rule.repository,
            repo_path=rule.source_root + rel_std,
            ref=rule.tag_for(version),
            ref_note="CPython tag of the running interpreter",
            rule=rule,
            documentation=None,
        )
    dist = _distribution_for(path, module)
    if dist is None:
        return _eups_package(path)
    rule = rule_for(dist.name)
    repository = rule.repository or dist.repository
    if dist.editable_dir is not None:
        rel = Path(path).resolve().relative_to(dist.editable_dir).as_posix()
        return _Package(
            name=dist.name,
            version=dist.version,
            repository=repository,
            repo_path=rel,
            ref=None,
            ref_note="HEAD commit of the editable install's git checkout",
            rule=rule,
            documentation=dist.documentation,
            editable_dir=dist.editable_dir,
        )
    rel = Path(path).resolve().relative_to(dist.root.resolve()).as_posix()
    vcs = dist.direct_url.get("vcs_info") or {}
    if vcs.get("commit_id"):
        vcs_repo = _clean_repo_url(dist.direct_url.get("url", ""))
        sub = dist.direct_url.get("subdirectory", "")
        prefix = f"{sub.strip('/')}/" if sub else ""
        return _Package(
            name=dist.name,
            version=dist.version,
            repository=vcs_repo if _on_forge(vcs_repo) else repository,
            repo_path=prefix + rule.source_root + rel,
            ref=vcs["commit_id"],
            ref_note="commit recorded in direct_url.json (a VCS install)",
            rule=rule,
            documentation=dist.documentation,
        )
    scm = re.search(r"\+g([0-9a-f]{7,40})\b", dist.version)
    if scm:
        ref, note = scm.group(1), f"commit g{scm.group(1)} from the development version {dist.version}"
    else:
        ref = rule.tag_for(dist.version)
        note = (
            f"tag from version {dist.version} by the rule {rule.label!r}"
            if ref
            else (f"no tag pattern of the rule {rule.label!r} matches version {dist.version}")
        )
    return _Package(
        name=dist.name,
        version=dist.version,
        repository=repository,
        repo_path=rule.source_root + rel,
        ref=ref,
        ref_note=note,
        rule=rule,
        documentation=dist.documentation,
    )


def _eups_package(path: str) -> _Package | None:
    """A package set up with eups (a Rubin Science Platform): no pip metadata, but the file lives in
    ``<product dir>/python/...``, the product's name is its ``ups/<product>.table`` and its version is in
    the package's generated ``version.py`` (``__fingerprint__`` is the git commit when it has one)."""
    marker = path.rfind("/python/")
    if marker < 0:
        return None
    product_dir = Path(path[:marker])
    tables = sorted((product_dir / "ups").glob("*.table"))
    if not tables:
        return None
    product = tables[0].stem
    rule = rule_for(f"lsst-{product.replace('_', '-')}")
    if rule.eups_repository is None:
        return None
    version, fingerprint = _eups_version(Path(path).parent, product_dir / "python")
    checkout = product_dir if (product_dir / ".git").exists() else None
    ref: str | None
    if fingerprint:
        ref, note = fingerprint, f"commit {fingerprint} from the eups product's version.py"
    else:
        ref = rule.tag_for(version) if version else None
        note = (
            f"tag from eups version {version} by the rule {rule.label!r}"
            if ref
            else f"no tag is known for eups version {version or '(none in version.py)'}"
        )
    return _Package(
        name=product,
        version=version or "unknown",
        repository=rule.eups_repository.format(product=product),
        repo_path=path[marker + 1 :],
        ref=ref,
        ref_note="HEAD commit of the eups product's git checkout" if checkout else note,
        rule=rule,
        documentation=None,
        editable_dir=checkout,
    )


def _eups_version(folder: Path, root: Path) -> tuple[str | None, str | None]:
    """``__version__`` and a hex ``__fingerprint__`` from the nearest ``version.py`` above ``folder``."""
    while folder != root and root in folder.parents:
        candidate = folder / "version.py"
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            version = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", text, re.M)
            finger = re.search(r"^__fingerprint__\s*=\s*[\"']([0-9a-f]{7,40})[\"']", text, re.M)
            return (version.group(1) if version else None, finger.group(1) if finger else None)
        folder = folder.parent
    return None, None


def _git_head(checkout: Path) -> str | None:
    """The commit HEAD points at, read from ``.git`` files (no subprocess, no network)."""
    git = checkout / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = git.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            git = (checkout / text.partition(":")[2].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head if re.fullmatch(r"[0-9a-f]{40}", head) else None
        ref = head.partition(":")[2].strip()
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text().strip()).resolve()
        for base in (git, common):
            loose = base / ref
            if loose.is_file():
                sha = loose.read_text().strip()
                return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref:
                    return sha
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------------------------
# Building the link
# --------------------------------------------------------------------------------------------


def _blob_url(repository: str, ref: str, repo_path: str, lines: tuple[int, int] | None) -> str:
    quoted = quote(repo_path)
    gitlab = "gitlab" in urlparse(repository).netloc
    url = f"{repository}/-/blob/{ref}/{quoted}" if gitlab else f"{repository}/blob/{ref}/{quoted}"
    if lines:
        first, last = lines
        if gitlab:
            url += f"#L{first}" if first == last else f"#L{first}-{last}"
        else:
            url += f"#L{first}" if first == last else f"#L{first}-L{last}"
    return url


def _tree_url(repository: str, ref: str) -> str:
    return (
        f"{repository}/-/tree/{ref}"
        if "gitlab" in urlparse(repository).netloc
        else f"{repository}/tree/{ref}"
    )


def _link(r: _Resolved, in_the: str) -> SourceLink:
    pkg = _package_of(r.path, r.module)
    common: dict[str, Any] = dict(
        name=r.name,
        kind=r.kind,
        target=in_the,
        path=r.path,
        lines=r.lines,
        package=pkg.name if pkg else None,
        version=pkg.version if pkg else None,
        repository=pkg.repository if pkg else None,
    )
    if in_the == "file":
        return SourceLink(url=Path(r.path).as_uri(), ref=None, note=r.note, **common)
    if in_the == "docs":
        return SourceLink(url=_docs_url(r, pkg), ref=None, note=r.note, **common)
    if pkg is None:
        raise NoRepositoryError(
            r.name,
            "?",
            f"{r.path} belongs to no installed distribution, so no repository or version is known. "
            "in_the='file' links the file itself.",
        )
    ref, note = pkg.ref, pkg.ref_note
    if pkg.editable_dir is not None:
        ref = _git_head(pkg.editable_dir)
        if ref is None:
            note = f"{pkg.editable_dir} is an editable install but not a readable git checkout"
    label = f"{pkg.name} {pkg.version}"
    if not pkg.repository:
        raise NoRepositoryError(
            r.name,
            label,
            f"{label} records no repository URL in its metadata (no Project-URL 'Source', 'Repository' or "
            "a GitHub/GitLab 'Homepage'), so there is no public source to link. in_the='file' links the "
            "installed file; to teach where_is this project, add a row to stackclub._where_is_rules.RULES.",
        )
    if not ref:
        raise NoRepositoryError(
            r.name,
            label,
            f"no git tag or commit is known for {label}: {note}. in_the='file' links the installed "
            "file; in_the='docs' may help; a rule in stackclub._where_is_rules.RULES can map this version.",
        )
    notes = "; ".join(n for n in (note, r.note) if n)
    if in_the == "repo":
        return SourceLink(url=_tree_url(pkg.repository, ref), ref=ref, note=notes, **common)
    return SourceLink(
        url=_blob_url(pkg.repository, ref, pkg.repo_path, r.lines), ref=ref, note=notes, **common
    )


def _docs_url(r: _Resolved, pkg: _Package | None) -> str:
    if pkg is None or (pkg.rule.docs is None and not pkg.documentation):
        what = (
            f"{pkg.name} {pkg.version}" if pkg else f"{r.path}, which belongs to no installed distribution,"
        )
        raise NoRepositoryError(
            r.name,
            what,
            f"{what} records no documentation URL (Project-URL 'Documentation'); read the docstring with "
            "help(obj), or obj? in IPython",
        )
    rule = pkg.rule
    if rule.docs is None:
        return str(pkg.documentation)
    major, minor = (pkg.version.split(".") + ["0", "0"])[:2]
    package = _package_name(r.module, pkg.name)
    values = dict(
        version=pkg.version, major=major, minor=minor, module=r.module, package=package, name=r.name
    )
    if r.kind == "module":
        template = rule.docs_module or rule.docs_home or rule.docs
        return template.format(page=r.name, **values)
    if r.member and rule.members_on_class_page:
        return rule.docs.format(page=r.page, **values) + f"#{r.name}"
    url = rule.docs.format(page=r.name, **values)
    return url if "{page}" in rule.docs else f"{url}#{r.name}"


def _package_name(module: str, distribution: str) -> str:
    """The import package a distribution is named after (``lsst-pipe-base`` -> ``lsst.pipe.base``)."""
    parts = module.split(".")
    want = normalize(distribution)
    for i in range(len(parts), 0, -1):
        if normalize("-".join(parts[:i])) == want:
            return ".".join(parts[:i])
    return parts[0]


# --------------------------------------------------------------------------------------------
# uses_of: where is a config field used?
# --------------------------------------------------------------------------------------------


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
        """The uses as a `Table`: class, method, line (linked), access and code."""
        rows: list[Sequence[Any]] = [
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


def uses_of(cls_or_task: Any, field_name: str) -> FieldUses:
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
    TypeError
        ``cls_or_task`` is not (and does not lead to) a class.

    Examples
    --------
    >>> from stackclub import uses_of
    >>> uses_of("lsst.pipe.base.PipelineTask", "doFringe").uses
    []
    """
    obj = _import_dotted(cls_or_task)[0] if isinstance(cls_or_task, str) else cls_or_task
    cls = obj if inspect.isclass(obj) else type(obj)
    if cls.__module__ == "builtins":
        raise TypeError(f"uses_of needs a task or config class (or instance); got {obj!r}")
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


def _is_config_class(obj: Any) -> bool:
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
    field_type = _pex_field_type()
    return {
        name
        for name in dir(config_cls)
        if field_type and isinstance(getattr(config_cls, name, None), field_type)
    }


def _uses_in_class(klass: type, path: str, node: ast.ClassDef, name: str, is_config: bool) -> list[FieldUse]:
    lines = _source_lines(path, os.stat(path).st_mtime_ns)
    module = klass.__module__
    public = _public_name(module, klass.__qualname__)
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
                        url=_line_url(path, module, child.lineno),
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


@functools.lru_cache(maxsize=256)
def _source_lines(path: str, mtime_ns: int) -> list[str]:
    with tokenize.open(path) as handle:
        return handle.read().splitlines()


def _line_url(path: str, module: str, line: int) -> str:
    pkg = _package_of(path, module)
    if pkg is not None and pkg.repository:
        ref = _git_head(pkg.editable_dir) if pkg.editable_dir is not None else pkg.ref
        if ref:
            return _blob_url(pkg.repository, ref, pkg.repo_path, (line, line))
    return Path(path).as_uri()


class _CallableModule(types.ModuleType):
    """This module, callable as its main function.

    ``import stackclub.where_is`` makes Python bind the *module* to ``stackclub.where_is``,
    shadowing the function of the same name; making the module callable keeps
    ``stackclub.where_is(obj)`` and ``from stackclub import where_is`` working in any import order.
    """

    def __call__(self, obj: Any, in_the: Target = "source") -> SourceLink:
        return where_is(obj, in_the=in_the)


sys.modules[__name__].__class__ = _CallableModule
