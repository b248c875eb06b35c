"""From a dotted name (or a console command) to the object it names, with helpful failures.

`import_dotted` is shared by `~stackclub.where_is`, `~stackclub.uses_of` and the config helpers
(through `check_installed`), so a name that does not import gets the same answer everywhere:
close matches, or, for a Rubin package we mirror that is not installed, where its source is and
which Stack Club class re-creates it.
"""

from __future__ import annotations

__all__ = (
    "check_installed",
    "import_dotted",
)

import difflib
import importlib
import importlib.util
import inspect
import pkgutil
import sys
from importlib import metadata
from types import ModuleType
from typing import NoReturn

from .._exceptions import NotInstalledError, UnknownNameError
from .rules import mirrored_package

_SCRIPTS = (
    " (command-line task scripts such as makeDiscreteSkyMap.py are gone: give the dotted name of the "
    "PipelineTask that replaced it, e.g. 'lsst.pipe.tasks.calibrateImage.CalibrateImageTask', or a "
    "command such as 'pipetask')"
)


def import_dotted(name: str) -> tuple[object, type | None]:
    """Resolve ``a.b.C.meth`` as Python would evaluate it after ``import a.b``.

    Attribute look-ups come first; a submodule is imported only when the attribute is missing
    (so a package attribute that shadows a submodule of the same name wins, as it does in code).
    A name that is not dotted Python but the name of a console command (``pipetask``) gives the
    function the command runs.

    Parameters
    ----------
    name
        The dotted name, e.g. ``"lsst.pipe.base.PipelineTask.runQuantum"``.

    Returns
    -------
    found : `tuple`
        The object, and the class it was looked up on (`None` if it was not a class attribute).

    Raises
    ------
    UnknownNameError
        The name does not import (close matches are suggested).
    NotInstalledError
        The name is in a Rubin package that `stackclub.pipe` mirrors and that is not installed.
    """
    text = name.strip()
    parts = text.split(".")
    dotted = bool(text) and all(p.isidentifier() for p in parts)
    obj = _import_module(name, parts[0]) if dotted else None
    if obj is None:
        command = _console_script(text) if len(parts) == 1 or not dotted else None
        if command is not None:  # "pipetask": the function the command runs
            return command, None
        if text.endswith(".py"):
            raise UnknownNameError(name, f"is not a Python object but a file name{_SCRIPTS}")
        if not dotted:
            raise UnknownNameError(name, "is not a dotted Python name such as 'lsst.pipe.base.PipelineTask'")
        check_installed(text)
        _fail_top_level(name, parts[0])
    owner: type | None = None
    for i in range(1, len(parts)):
        part = parts[i]
        try:
            value = getattr(obj, part)
        except AttributeError:
            value = _import_module(name, ".".join(parts[: i + 1])) if inspect.ismodule(obj) else None
            if value is None:
                check_installed(text)
                where = ".".join(parts[:i])
                suggestions = _close_names(obj, part, where)
                raise UnknownNameError(
                    name, f"does not import: {where} has no attribute {part!r}", suggestions
                ) from None
        owner = obj if inspect.isclass(obj) else None
        obj = value
    return obj, owner


def check_installed(name: str) -> None:
    """Raise `NotInstalledError` if ``name`` is in a mirrored Rubin package that is not installed.

    Parameters
    ----------
    name
        A dotted name, e.g. ``"lsst.ip.isr.IsrTask"``.

    Raises
    ------
    NotInstalledError
        ``name`` lies in a package of `stackclub.source.rules.MIRRORED` that cannot be imported.

    Examples
    --------
    >>> check_installed("lsst.pipe.base.PipelineTask")  # not a mirrored package: nothing to say
    >>> check_installed("lsst.ip.isr.IsrTask")  # doctest: +SKIP
    Traceback (most recent call last):
    NotInstalledError: 'lsst.ip.isr.IsrTask' cannot be imported: lsst.ip.isr (Rubin's ip_isr) is not ...
    """
    package = mirrored_package(name.strip())
    if package is None:
        return
    try:
        installed = importlib.util.find_spec(package.module) is not None
    except ImportError:  # a parent package (lsst.ip) is missing too
        installed = False
    if not installed:
        raise NotInstalledError(
            name.strip(),
            package.module,
            product=package.product,
            repository=package.repository,
            counterpart=package.counterpart(name.strip()),
        )


def _console_script(command: str) -> object | None:
    """Return the function a console command (``pipetask``, ``butler``) runs, from its entry point."""
    for entry_point in metadata.entry_points(group="console_scripts", name=command):
        try:
            loaded: object = entry_point.load()
        except Exception as err:
            raise UnknownNameError(
                command, f"is the command {entry_point.value!r}, which fails to load: {err}"
            ) from None
        return loaded
    return None


def _import_module(name: str, modname: str) -> ModuleType | None:
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


def _close_names(parent: object, part: str, where: str) -> tuple[str, ...]:
    names = set(dir(parent))
    path = getattr(parent, "__path__", None)
    if inspect.ismodule(parent) and path is not None:
        names |= {m.name for m in pkgutil.iter_modules(path)}
    names = {n for n in names if not n.startswith("__")}
    return tuple(f"{where}.{n}" for n in difflib.get_close_matches(part, sorted(names), n=3, cutoff=0.6))


def _fail_top_level(name: str, top: str) -> NoReturn:
    names = {m.name for m in pkgutil.iter_modules()} | {m.split(".")[0] for m in sys.modules}
    if not top.startswith("_"):
        names = {n for n in names if not n.startswith("_")}
    suggestions = difflib.get_close_matches(top, sorted(names), n=3, cutoff=0.6)
    rest = name.strip()[len(top) :]
    raise UnknownNameError(
        name, f"does not import: there is no module named {top!r}", tuple(s + rest for s in suggestions)
    )
