"""What a user hands `stackclub.config_docs` -> the `~lsst.pex.config.Config` it stands for.

A config class or instance, a task class or instance, a pipeline-graph task node, a
ConfigurableField's value or a dotted class path all lead to one config; `validation_problem`
says why it fails ``validate()`` (the helpers show such a config anyway, with the reason on top).
"""

from __future__ import annotations

__all__ = (
    "import_path",
    "problem_note",
    "resolve_config",
    "resolve_task",
    "validation_problem",
)

import importlib
from typing import TYPE_CHECKING, Any

from ._exceptions import MissingStackError, NotAConfigError, UnloadableClassError
from .source._names import check_installed

if TYPE_CHECKING:
    from lsst.pex.config import Config


def _pex() -> Any:
    try:
        import lsst.pex.config as pex_config
    except ImportError as err:
        raise MissingStackError("lsst.pex.config", "Showing a config") from err
    return pex_config


# --------------------------------------------------------------------------------------------------
# What the user passed -> a Config
# --------------------------------------------------------------------------------------------------


def import_path(path: str) -> Any:
    """Import ``"package.module.Name"`` (or ``"package.module:Name"``) and return the object.

    Parameters
    ----------
    path
        A dotted path, e.g. ``"lsst.pipe.base.PipelineTaskConfig"``.

    Returns
    -------
    obj : `object`
        What the path names.
    """
    text = path.strip()
    check_installed(text.replace(":", "."))  # a Rubin package we mirror but that is not installed
    module_name, sep, attr = text.rpartition(":") if ":" in text else text.rpartition(".")
    if not module_name or not attr:
        raise UnloadableClassError(path, "expected a dotted path such as 'lsst.pipe.base.PipelineTaskConfig'")
    # Allow nested attributes ("pkg.mod.Outer.Inner"): import the longest module prefix.
    parts = text.replace(":", ".").split(".")
    err: Exception | None = None
    for split in range(len(parts) - 1, 0, -1):
        mod_name = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and not mod_name.startswith(exc.name) and exc.name != mod_name:
                # The module exists but one of *its* imports is missing: report that.
                raise UnloadableClassError(path, f"importing {mod_name!r} failed: {exc}") from exc
            err = exc
            continue
        except Exception as exc:  # a module that fails while importing
            raise UnloadableClassError(path, f"importing {mod_name!r} failed: {exc}") from exc
        try:
            for name in parts[split:]:
                obj = getattr(obj, name)
        except AttributeError:
            raise UnloadableClassError(
                path, f"module {mod_name!r} has no attribute {'.'.join(parts[split:])!r}"
            ) from None
        return obj
    raise UnloadableClassError(path, f"no module {parts[0]!r} can be imported ({err})")


def resolve_config(obj: Any, *, what: str) -> Config:
    """Return the `~lsst.pex.config.Config` that ``obj`` stands for.

    Accepts a Config instance or class, a Task class (its ``ConfigClass``) or instance
    (``.config``), anything with a ``.config`` that is a Config (a pipeline-graph task node),
    a ConfigurableField's value, a single-selection registry/choice value, or a dotted path to
    any of these classes.

    Parameters
    ----------
    obj
        What the user passed.
    what
        The helper that was called, for error messages.

    Returns
    -------
    config : `lsst.pex.config.Config`
        The config.
    """
    pex_config = _pex()
    original = obj
    if isinstance(obj, str):
        obj = import_path(obj)
    if isinstance(obj, pex_config.Config):
        return obj
    if isinstance(obj, type):
        if issubclass(obj, pex_config.Config):
            return _construct(obj, original)
        config_class = getattr(obj, "ConfigClass", None)
        if isinstance(config_class, type) and issubclass(config_class, pex_config.Config):
            return _construct(config_class, original)
    from lsst.pex.config.configChoiceField import ConfigInstanceDict
    from lsst.pex.config.configurableField import ConfigurableInstance

    if isinstance(obj, ConfigurableInstance):
        return obj.value
    if isinstance(obj, ConfigInstanceDict) and not obj._field.multi and obj._selection is not None:
        return obj.active
    try:
        config = obj.config
    except Exception:
        config = None
    if isinstance(config, pex_config.Config):
        return config
    raise NotAConfigError(original, what)


def _construct(config_class: type[Config], original: Any) -> Config:
    try:
        return config_class()
    except Exception as err:
        raise NotAConfigError(
            original, "constructing its config", reason=f"{config_class.__name__}() raised {err!r}"
        ) from err


def resolve_task(obj: Any, *, what: str) -> tuple[type, Any, Config]:
    """Return ``(task_class, task_instance_or_None, config)`` for a task class, instance or path.

    Parameters
    ----------
    obj
        A task class or instance, a pipeline-graph task node, or a dotted class path.
    what
        The helper that was called, for error messages.

    Returns
    -------
    resolved : `tuple`
        ``(task_class, task_instance_or_None, config)``.
    """
    pex_config = _pex()
    original = obj
    if isinstance(obj, str):
        obj = import_path(obj)
    if isinstance(obj, type) and not issubclass(obj, pex_config.Config):
        config = resolve_config(obj, what=what)
        return obj, None, config
    task_class = getattr(obj, "task_class", None)  # a pipeline-graph TaskNode
    if isinstance(task_class, type):
        return task_class, None, resolve_config(obj, what=what)
    task_config = getattr(obj, "config", None)
    if isinstance(task_config, pex_config.Config) and hasattr(obj, "getTaskDict"):
        return type(obj), obj, task_config
    raise NotAConfigError(original, what, expected="a Task class or instance (or its dotted path)")


def validation_problem(config: Config) -> str | None:
    """Say why ``config.validate()`` fails, or return `None` when it passes.

    Parameters
    ----------
    config
        The config to validate.

    Returns
    -------
    problem : `str` or `None`
        ``"<ConfigClass> does not validate: <first line of the error>"``: pex_config appends
        where the field and config were defined; the first line says what is wrong.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class C(pexConfig.Config):
    ...     n = pexConfig.Field[int](doc="N.", default=None, optional=False)
    >>> validation_problem(C())
    "C does not validate: Field 'n' failed validation: Required value cannot be None"
    """
    try:
        config.validate()
    except Exception as err:
        message = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return f"{type(config).__name__} does not validate: {message}"
    return None


def problem_note(problem: str) -> str:
    """Turn a `validation_problem` into the note shown above a config that does not validate.

    Parameters
    ----------
    problem
        What `validation_problem` returned.

    Returns
    -------
    note : `str`
        The problem and what it means for a run.

    Examples
    --------
    >>> problem_note("C does not validate: n is None")
    'C does not validate: n is None. Shown as it is; a task refuses this config until it is fixed.'
    """
    return f"{problem}. Shown as it is; a task refuses this config until it is fixed."
