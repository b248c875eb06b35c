"""The model behind `stackclub.config_docs`: turn any pex_config ``Config`` into plain rows.

Nothing here renders HTML; `stackclub.config_docs` does that through `stackclub._render`.
One formatter per field kind (as documenteer's ``FIELD_FORMATTERS`` does) builds the type text;
the walker follows nested configs (ConfigField, ConfigurableField, RegistryField,
ConfigChoiceField, ConfigDictField) and reads where each value was set from the history
pex_config keeps in ``config._history[field_name]`` as ``(value, stack, label)`` entries.
"""

from __future__ import annotations

__all__ = (
    "MISSING",
    "ConfigRow",
    "default_values",
    "flatten_config",
    "format_value",
    "link_for",
    "problem_note",
    "resolve_config",
    "resolve_task",
    "same_value",
    "source_url_for",
    "validation_problem",
)

import builtins
import functools
import logging
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._config_origin import PipelineOrigins, where_set
from ._config_resolve import _pex, problem_note, resolve_config, resolve_task, validation_problem
from ._render import Link

if TYPE_CHECKING:
    from lsst.pex.config import Config

_LOG = logging.getLogger(__name__)


class _Missing:
    """The value of a field that one side does not have (shown as an empty cell)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# --------------------------------------------------------------------------------------------------
# Links to source (through stackclub.where_is when it is installed)
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def source_url_for(cls: type) -> str | None:
    """Return a link to ``cls``'s source via `stackclub.where_is.source_url`, or `None`.

    Never raises: without `stackclub.where_is`, or for a class it cannot place (one defined in
    a notebook), there is simply no link.


    Parameters
    ----------
    cls
        A class.

    Returns
    -------
    url : `str` or `None`
        The link, or `None`.

    Examples
    --------
    >>> source_url_for(int) is None or source_url_for(int).startswith("http")
    True
    """
    try:
        from .source import source_url
    except ImportError:
        return None
    try:
        url = source_url(cls)
    except Exception as err:  # where_is promises not to raise; stay safe if it does
        _LOG.debug("no source link for %r: %s", cls, err)
        return None
    return url or None


def link_for(cls: type, text: str | None = None) -> Link:
    """Return a `Link` cell naming ``cls`` (``module.Class`` unless ``text``) to its source.


    Parameters
    ----------
    cls
        A class.
    text
        The text shown (``module.Class`` when `None`).

    Returns
    -------
    link : `~stackclub._render.Link`
        The table cell.

    Examples
    --------
    >>> link_for(int).text
    'builtins.int'
    """
    label = text if text is not None else f"{cls.__module__}.{cls.__qualname__}"
    return Link(label, source_url_for(cls))


# --------------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigRow:
    """One field of a config, flattened: everything a table shows, as plain strings.

    Attributes
    ----------
    path
        Full dotted path from the top config, e.g. ``"sub.deep.threshold"`` or
        ``"algo['b'].y"`` (what you would write after ``config.`` in an override file).
    name
        The field's own name (last path component).
    parent
        Path of the enclosing nested field (``""`` at the top level).
    level
        Nesting depth (0 at the top level).
    kind
        The pex_config field class name, e.g. ``"RangeField"``.
    type
        Type text, e.g. ``"RangeField[float] [0, 1)"`` or ``"ConfigurableField → SubTask"``.
    type_class
        The class the type text names (a ConfigurableField's target), linked when possible.
    default, value
        `repr`-style text of the default (fresh config of the same class) and the current value.
    changed
        Whether the value differs from the default.
    where
        Where the current value was set, for changed fields: ``override.py:3``, ``cell In[5],
        line 2``, a pipeline YAML line or the ``-c`` that set it (see `stackclub._config_origin`).
    doc
        The field's doc string (with deprecation notes and allowed values).
    is_group
        Whether the field holds nested configs (shown folded in HTML).
    raw
        The value itself (for comparisons; not shown).
    """

    path: str
    name: str
    parent: str
    level: int
    kind: str
    type: str
    default: str
    value: str
    changed: bool
    doc: str
    where: str = ""
    is_group: bool = False
    type_class: builtins.type | None = field(default=None, compare=False, repr=False)
    raw: Any = field(default=None, compare=False, repr=False)

    def type_cell(self) -> Link:
        """Return the type as a table cell, linked to the class's source where there is one."""
        return Link(self.type, source_url_for(self.type_class) if self.type_class is not None else None)


def format_value(value: Any) -> str:
    """Python-literal text for a config value (pex_config List/Dict shown as list/dict).


    Parameters
    ----------
    value
        A config value.

    Returns
    -------
    text : `str`
        Its Python-literal text.

    Examples
    --------
    >>> format_value("MEDIAN"), format_value(0.5), format_value(None)
    ("'MEDIAN'", '0.5', 'None')
    """
    if value is MISSING:
        return ""
    if isinstance(value, type):
        return value.__qualname__
    return repr(_plain(value))


def _plain(value: Any) -> Any:
    """Turn pex_config's List/Dict proxies (and tuples of them) into list/dict."""
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether two config values are equal (``nan`` equals ``nan``; errors count as unequal).


    Parameters
    ----------
    a
        A config value.
    b
        Another.

    Returns
    -------
    same : `bool`
        Whether they are equal.

    Examples
    --------
    >>> same_value(float("nan"), float("nan")), same_value([1, 2], [1, 2]), same_value(1, 2)
    (True, True, False)
    """
    if a is MISSING or b is MISSING:
        return a is b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


def _tname(dtype: Any) -> str:
    if dtype is None:
        return "?"
    if isinstance(dtype, type):
        return dtype.__name__
    if isinstance(dtype, tuple):
        return " | ".join(_tname(t) for t in dtype)
    return str(dtype)


def _type_text(fld: Any, pex_config: Any) -> str:
    """Type text for a leaf field, dispatching on its kind (most specific first)."""
    kind = type(fld).__name__
    optional = ", optional" if getattr(fld, "optional", False) else ""
    if isinstance(fld, pex_config.RangeField):
        low = "-inf" if fld.min is None else fld.min
        high = "inf" if fld.max is None else fld.max
        opening, closing = fld.rangeString[0], fld.rangeString[-1]
        return f"{kind}[{_tname(fld.dtype)}] {opening}{low}, {high}{closing}{optional}"
    if isinstance(fld, pex_config.ChoiceField):
        allowed = ", ".join(repr(k) for k in fld.allowed if k is not None)
        return f"{kind}[{_tname(fld.dtype)}] {{{allowed}}}{optional}"
    if isinstance(fld, pex_config.ListField):
        sizes = []
        if fld.length is not None:
            sizes.append(f"length {fld.length}")
        if fld.minLength is not None:
            sizes.append(f"≥ {fld.minLength} items")
        if fld.maxLength is not None:
            sizes.append(f"≤ {fld.maxLength} items")
        extra = f" ({', '.join(sizes)})" if sizes else ""
        return f"{kind}[{_tname(fld.itemtype)}]{extra}{optional}"
    if isinstance(fld, pex_config.DictField):
        return f"{kind}[{_tname(fld.keytype)}, {_tname(fld.itemtype)}]{optional}"
    if isinstance(fld, pex_config.Field) and type(fld) is not pex_config.Field:
        # Other Field subclasses (e.g. ConfigurableActionField): show the class, and dtype if simple.
        dtype = getattr(fld, "dtype", None)
        return f"{kind}[{_tname(dtype)}]{optional}" if isinstance(dtype, type) else kind + optional
    return f"{kind}[{_tname(getattr(fld, 'dtype', None))}]{optional}"


def _doc_text(fld: Any, pex_config: Any) -> str:
    doc = " ".join(str(getattr(fld, "doc", "") or "").split())
    deprecated = getattr(fld, "deprecated", None)
    if deprecated:
        doc = f"Deprecated: {deprecated} {doc}".strip()
    if isinstance(fld, pex_config.ChoiceField):
        allowed = "; ".join(
            f"{k!r}: {' '.join(str(v).split())}" for k, v in fld.allowed.items() if k is not None
        )
        doc = f"{doc} Allowed: {allowed}.".strip()
    return doc


# ---- walking ------------------------------------------------------------------------------------

# A default seen at a path: (value, its text, the class of the config holding the field).
_Default = tuple[Any, str, type]


@dataclass
class _Walk:
    """Depth-first walk of a config, adding one `ConfigRow` per field.

    ``defaults`` maps paths to `_Default`; `None` means "do not compare" (walking the
    defaults themselves, or diffing).  ``all_choices`` expands every choice of a registry or
    choice field, not just the selected ones (used to record defaults).
    """

    pex_config: Any
    depth: int | None
    defaults: dict[str, _Default] | None
    all_choices: bool = False
    rows: list[ConfigRow] = field(default_factory=list)
    origins: PipelineOrigins | None = None
    label: str | None = None
    where_all: bool = False

    def add(
        self,
        cfg: Config,
        fld: Any,
        path: str,
        parent: str,
        level: int,
        raw: Any,
        *,
        type_text: str,
        value_text: str | None = None,
        type_class: type | None = None,
        is_group: bool = False,
    ) -> None:
        value = value_text if value_text is not None else format_value(raw)
        default_text, changed = "", False
        if self.defaults is not None:
            known = self.defaults.get(path)
            if known is None or known[2] is not type(cfg):
                changed = True  # a field the default config does not have there
            else:
                default_text = known[1]
                changed = default_text != value and not same_value(raw, known[0])
        self.rows.append(
            ConfigRow(
                path=path,
                name=fld.name,
                parent=parent,
                level=level,
                kind=type(fld).__name__,
                type=type_text,
                default=default_text,
                value=value,
                changed=changed,
                doc=_doc_text(fld, self.pex_config),
                where=where_set(cfg, fld.name, path=path, origins=self.origins, label=self.label)
                if changed or self.where_all
                else "",
                is_group=is_group,
                type_class=type_class,
                raw=raw,
            )
        )

    def deeper(self, level: int) -> bool:
        return self.depth is None or level < self.depth

    def walk(self, cfg: Config, prefix: str, parent: str, level: int) -> None:
        """Add rows for every field of ``cfg`` (paths start with ``prefix``, under row ``parent``).

        Parameters
        ----------
        cfg
            The config to walk.
        prefix
            Dotted path of ``cfg`` from the top config (``""`` at the top).
        parent
            Path of the row the fields go under.
        level
            Nesting depth of the fields.
        """
        for name, fld in cfg._fields.items():
            path = f"{prefix}.{name}" if prefix else name
            handler = _HANDLERS.get(type(fld)) or self._handler(fld)
            handler(self, cfg, fld, getattr(cfg, name), path, parent, level)

    def _handler(self, fld: Any) -> Callable[..., None]:
        p = self.pex_config
        if isinstance(fld, p.ConfigurableField):
            handler = _Walk._configurable
        elif isinstance(fld, p.ConfigChoiceField):  # includes RegistryField
            handler = _Walk._choice
        elif isinstance(fld, p.ConfigDictField):
            handler = _Walk._config_dict
        elif isinstance(fld, p.ConfigField):
            handler = _Walk._config_field
        elif _is_action_struct_field(fld):
            handler = _Walk._action_struct
        else:
            handler = _Walk._leaf
        _HANDLERS[type(fld)] = handler
        return handler

    def _leaf(self, cfg: Config, fld: Any, value: Any, path: str, parent: str, level: int) -> None:
        self.add(cfg, fld, path, parent, level, _plain(value), type_text=_type_text(fld, self.pex_config))

    def _config_field(self, cfg: Config, fld: Any, value: Any, path: str, parent: str, level: int) -> None:
        self.add(
            cfg, fld, path, parent, level, type(value),
            type_text=f"{type(fld).__name__} → {fld.dtype.__name__}", type_class=fld.dtype, is_group=True,
        )  # fmt: skip
        if self.deeper(level):
            self.walk(value, path, path, level + 1)

    def _configurable(self, cfg: Config, fld: Any, value: Any, path: str, parent: str, level: int) -> None:
        target = value.target
        self.add(
            cfg, fld, path, parent, level, target,
            type_text=f"ConfigurableField → {_target_name(target)}", type_class=_unwrap(target),
            value_text=_target_name(target), is_group=True,
        )  # fmt: skip
        if self.deeper(level):
            self.walk(value.value, path, path, level + 1)

    def _choice(self, cfg: Config, fld: Any, value: Any, path: str, parent: str, level: int) -> None:
        multi = fld.multi
        selection = _selection(value, multi)
        choices = ", ".join(repr(k) for k in _choice_names(fld))
        self.add(
            cfg, fld, path, parent, level, selection,
            type_text=f"{type(fld).__name__} {{{choices}}}" + (" (multi)" if multi else ""), is_group=True,
        )  # fmt: skip
        if not self.deeper(level):
            return
        if self.all_choices:
            names = _choice_names(fld)
        else:
            names = list(selection) if multi else ([selection] if selection is not None else [])
        for key in names:
            try:
                sub = value[key]
            except Exception as err:  # a registry entry whose config cannot be made
                _LOG.debug("cannot expand %s[%r]: %s", path, key, err)
                continue
            self.walk(sub, f"{path}[{key!r}]", path, level + 1)

    def _config_dict(self, cfg: Config, fld: Any, value: Any, path: str, parent: str, level: int) -> None:
        keys = list(value.keys())
        self.add(
            cfg, fld, path, parent, level, keys,
            type_text=f"ConfigDictField[{_tname(fld.keytype)}, {_tname(fld.itemtype)}]",
            type_class=fld.itemtype, is_group=True,
        )  # fmt: skip
        if self.deeper(level):
            for key in keys:
                self.walk(value[key], f"{path}[{key!r}]", path, level + 1)

    def _action_struct(self, cfg: Config, fld: Any, value: Any, path: str, parent: str, level: int) -> None:
        """Add a ConfigurableActionStructField: a named collection of ConfigurableActions (configs)."""
        actions = list(value.items())
        self.add(
            cfg, fld, path, parent, level, [name for name, _ in actions],
            type_text=type(fld).__name__, is_group=True,
        )  # fmt: skip
        if self.deeper(level):
            for name, action in actions:
                self.walk(action, f"{path}.{name}", path, level + 1)


def _is_action_struct_field(fld: Any) -> bool:
    try:
        from lsst.pex.config.configurableActions import ConfigurableActionStructField
    except ImportError:  # an older pex_config
        return False
    return isinstance(fld, ConfigurableActionStructField)


# Field class -> its walker method, filled on first sight of each field class.
_HANDLERS: dict[type, Callable[..., None]] = {}

# Config class -> the defaults of a freshly constructed instance, by path.  Building a config
# is most of the cost of showing one (pex_config records a call stack per field), and a class's
# defaults do not change, so each class is built once per session.
_DEFAULTS: weakref.WeakKeyDictionary[type, dict[str, _Default] | None] = weakref.WeakKeyDictionary()


def default_values(config_class: type[Config]) -> dict[str, _Default] | None:
    """Defaults of ``config_class`` (after its ``setDefaults``) by dotted path.

    Returns `None` when the class cannot be constructed without arguments.

    Parameters
    ----------
    config_class
        A Config class.

    Returns
    -------
    defaults : `dict` or `None`
        Path -> ``(value, text, owning config class)``; `None` when the class cannot be constructed.
    """
    try:
        return _DEFAULTS[config_class]
    except KeyError:
        pass
    try:
        fresh = config_class()
    except Exception as err:  # a config class whose constructor needs arguments
        _LOG.debug("cannot build a default %s: %s", config_class.__name__, err)
        result = None
    else:
        walker = _Walk(_pex(), depth=None, defaults=None, all_choices=True)
        owners: list[type] = []
        _walk_recording_owners(walker, fresh, owners)
        result = {
            row.path: (row.raw, row.value, owner) for row, owner in zip(walker.rows, owners, strict=True)
        }
    _DEFAULTS[config_class] = result
    return result


def _walk_recording_owners(walker: _Walk, config: Config, owners: list[type]) -> None:
    """Walk ``config`` and note, per row, the class of the config that holds the field."""
    original_add = walker.add

    def add(cfg: Config, *args: Any, **kwargs: Any) -> None:
        owners.append(type(cfg))
        original_add(cfg, *args, **kwargs)

    walker.add = add  # type: ignore[method-assign]
    walker.walk(config, "", "", 0)


def _selection(value: Any, multi: bool) -> Any:
    selection = value._selection
    if multi:
        return sorted(selection) if selection is not None else []
    return selection


def _choice_names(fld: Any) -> list[Any]:
    registry = getattr(fld, "registry", None)
    if registry is not None:
        return list(registry)
    return list(fld.typemap)


def _unwrap(target: Any) -> type | None:
    target = getattr(target, "_target", target)  # registry.ConfigurableWrapper
    return target if isinstance(target, type) else None


def _target_name(target: Any) -> str:
    if target is MISSING:
        return ""
    inner = getattr(target, "_target", target)
    return getattr(inner, "__qualname__", None) or getattr(inner, "__name__", None) or repr(inner)


def flatten_config(
    config: Config,
    *,
    with_defaults: bool,
    depth: int | None = None,
    origins: PipelineOrigins | None = None,
    label: str | None = None,
    where_all: bool = False,
) -> list[ConfigRow]:
    """All fields of ``config`` as `ConfigRow` objects, parents before their children.

    Parameters
    ----------
    config
        The config to walk.
    with_defaults
        Also compute defaults (from a fresh config of the same class) and ``changed``.
    depth
        Levels of nested configs to expand (`None`: all).
    origins
        What the pipeline that made ``config`` says about its task (for "set at").
    label
        The task's label in its pipeline, when known (for "set at").
    where_all
        Say where every value was set, not only the changed ones (``with_defaults=False``
        knows no changes).

    Returns
    -------
    rows : `list` [`ConfigRow`]
        One row per field.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class C(pexConfig.Config):
    ...     x = pexConfig.Field[int](doc="X.", default=1)
    >>> [(r.path, r.type, r.value) for r in flatten_config(C(), with_defaults=False)]
    [('x', 'Field[int]', '1')]
    """
    pex_config = _pex()
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be None or >= 0, got {depth!r}")
    defaults = default_values(type(config)) if with_defaults else None
    walker = _Walk(
        pex_config, depth=depth, defaults=defaults, origins=origins, label=label, where_all=where_all
    )
    walker.walk(config, "", "", 0)
    return walker.rows
