"""The explorer's controls: a switch per boolean ``do*`` config field, a slider for a numeric one.

Fields are discovered from the config when the explorer starts (never from a fixed list), so a
task whose config changes keeps working; fields are addressed by dotted path, as in a config
override file (``"psf_repair.doCosmicRay"``).
"""

from __future__ import annotations

__all__ = (
    "DEFAULT_SLIDER",
    "SWITCH_NAME",
    "Control",
    "config_copy",
    "config_get",
    "config_has",
    "config_set",
    "find_switches",
    "slider_control",
)

import fnmatch
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import ExploreError

if TYPE_CHECKING:
    from lsst.pex.config import Config

#: The threshold `stackclub.explore_task` offers a slider for when the task's config has it (as
#: ``calibrateImage`` has); any other numeric field can be named with ``slider=``.
DEFAULT_SLIDER = "star_detection.thresholdValue"
#: A switch is a boolean field whose name starts with ``do`` then a capital or ``_`` (``doBias``,
#: ``do_calibrate_pixels``), at any depth of the config.
SWITCH_NAME = re.compile(r"^do(?:_|[A-Z])")


# --------------------------------------------------------------------------------------------------
# Config access by dotted path
# --------------------------------------------------------------------------------------------------


def _walk(config: Config, path: str) -> tuple[Any, str]:
    """Return ``(the config holding the field, the field name)`` for a dotted path."""
    *parents, name = path.split(".")
    holder: Any = config
    for part in parents:
        if part not in getattr(type(holder), "_fields", {}):
            raise AttributeError(part)
        holder = getattr(holder, part)
        value = getattr(holder, "value", None)  # a ConfigurableField's instance holds the config
        if not hasattr(type(holder), "_fields") and value is not None:
            holder = value
    if name not in getattr(type(holder), "_fields", {}):
        raise AttributeError(name)
    return holder, name


def _field(config: Config, path: str) -> Any:
    holder, name = _walk(config, path)
    return type(holder)._fields[name]


def config_has(config: Config, path: str) -> bool:
    """Return whether ``path`` names a field of ``config``.

    Parameters
    ----------
    config
        A pex_config ``Config``.
    path
        A dotted path, e.g. ``"star_detection.thresholdValue"``.

    Returns
    -------
    has
        Whether the field exists.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class C(pexConfig.Config):
    ...     doBias = pexConfig.Field[bool](doc="Subtract the bias.", default=True)
    >>> config_has(C(), "doBias"), config_has(C(), "doDark"), config_has(C(), "doBias.x")
    (True, False, False)
    """
    try:
        _walk(config, path)
    except AttributeError:
        return False
    return True


def config_get(config: Config, path: str) -> Any:
    """Return the value of the field at a dotted path.

    Parameters
    ----------
    config
        A pex_config ``Config``.
    path
        A dotted path.

    Returns
    -------
    value
        The field's value.
    """
    holder, name = _walk(config, path)
    return getattr(holder, name)


def config_set(config: Config, path: str, value: Any) -> None:
    """Set the field at a dotted path (pex_config checks the value).

    Parameters
    ----------
    config
        A pex_config ``Config``.
    path
        A dotted path.
    value
        The new value.
    """
    holder, name = _walk(config, path)
    setattr(holder, name, value)


def config_copy(config: Config) -> Config:
    """Return a copy made through pex_config's own persistence (what pipetask's config files use).

    Parameters
    ----------
    config
        A pex_config ``Config``.

    Returns
    -------
    copy
        A new config of the same class with the same values.
    """
    copy = type(config)()
    copy.loadFromString(config.saveToString())
    return copy


def _fields(config: Config) -> list[tuple[str, Any, Any]]:
    """Every plain field of ``config`` and its nested configs as ``(path, field, value)``."""
    from lsst.pex.config import Config as PexConfig

    out: list[tuple[str, Any, Any]] = []

    def visit(holder: Any, prefix: str) -> None:
        for name, fld in type(holder)._fields.items():
            path = f"{prefix}{name}"
            if path == "connections" or path.startswith("connections."):
                continue
            try:
                value = getattr(holder, name)
            except Exception:
                continue
            if isinstance(value, PexConfig):
                visit(value, path + ".")
            elif hasattr(value, "value") and isinstance(getattr(value, "value", None), PexConfig):
                visit(value.value, path + ".")  # a ConfigurableField's instance
            else:
                out.append((path, fld, value))

    visit(config, "")
    return out


# --------------------------------------------------------------------------------------------------
# Controls
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """One control of the explorer: a switch (a boolean field) or a slider (a numeric field).

    Attributes
    ----------
    path
        The field's dotted path in the task's config, e.g. ``"doBias"``.
    kind
        ``"switch"`` or ``"slider"``.
    value
        Its starting value.
    doc
        The first sentence of the field's doc string.
    minimum, maximum, step
        A slider's range and step.
    integer
        Whether a slider's field holds integers.
    """

    path: str
    kind: str
    value: Any
    doc: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    integer: bool = False


def _first_sentence(doc: str | None) -> str:
    text = " ".join((doc or "").split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def find_switches(config: Config, patterns: str | Sequence[str] | None = None) -> list[Control]:
    """Return one switch `Control` per boolean ``do*`` field of ``config`` (or per ``patterns`` match).

    Parameters
    ----------
    config
        A task's config.
    patterns
        `None`: every boolean field named ``do<Capital>...`` or ``do_...``, at any depth, in the
        config's order.  Otherwise glob patterns over dotted paths (``"do*"``,
        ``"psf_repair.*"``): the boolean fields they match.

    Returns
    -------
    switches
        The controls, in the config's field order.

    Raises
    ------
    stackclub._exceptions.ExploreError
        A pattern matches no boolean field (the message lists those there are).

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class C(pexConfig.Config):
    ...     doBias = pexConfig.Field[bool](doc="Subtract the bias. More words.", default=True)
    ...     saveLog = pexConfig.Field[bool](doc="Keep the log.", default=True)
    ...     level = pexConfig.Field[float](doc="A level.", default=2.0)
    >>> [(c.path, c.value, c.doc) for c in find_switches(C())]
    [('doBias', True, 'Subtract the bias.')]
    >>> [c.path for c in find_switches(C(), "save*")]
    ['saveLog']
    """
    booleans = [(p, f, v) for p, f, v in _fields(config) if isinstance(v, bool) and "[" not in p]
    if patterns is None:
        chosen = [(p, f, v) for p, f, v in booleans if SWITCH_NAME.match(p.rsplit(".", 1)[-1])]
    else:
        globs = [patterns] if isinstance(patterns, str) else list(patterns)
        chosen = []
        for glob in globs:
            matched = [b for b in booleans if fnmatch.fnmatchcase(b[0], glob)]
            if not matched:
                raise ExploreError(
                    f"switches={glob!r} matches no boolean field of {type(config).__name__}",
                    f"Its boolean fields are: {', '.join(p for p, _, _ in booleans) or 'none'}",
                )
            chosen += [m for m in matched if m not in chosen]
        order = {p: i for i, (p, _, _) in enumerate(booleans)}
        chosen.sort(key=lambda b: order[b[0]])
    return [Control(p, "switch", v, _first_sentence(getattr(f, "doc", ""))) for p, f, v in chosen]


def _nice_step(span: float) -> float:
    return float(10 ** math.floor(math.log10(span / 50))) if span > 0 else 1.0


def slider_control(config: Config, spec: str | tuple[str, float, float]) -> Control:
    """Return a slider `Control` for a numeric field, with a range from the field or from its value.

    Parameters
    ----------
    config
        A task's config.
    spec
        The field's dotted path, or ``(path, minimum, maximum)``.  Without a range: the field's
        own (a ``RangeField``), else from a quarter to four times its value.

    Returns
    -------
    slider
        The control.

    Raises
    ------
    stackclub._exceptions.ExploreError
        No such field, or it is not a number.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class C(pexConfig.Config):
    ...     thresholdValue = pexConfig.Field[float](doc="Detection threshold (sigma).", default=5.0)
    >>> c = slider_control(C(), "thresholdValue")
    >>> (c.value, c.minimum, c.maximum, c.step, c.integer)
    (5.0, 1.25, 20.0, 0.1, False)
    """
    path, lo, hi = (spec, None, None) if isinstance(spec, str) else spec
    try:
        fld, value = _field(config, path), config_get(config, path)
    except AttributeError:
        numeric = [p for p, _, v in _fields(config) if isinstance(v, int | float) and not isinstance(v, bool)]
        raise ExploreError(
            f"slider={path!r} is not a field of {type(config).__name__}",
            f"Name a numeric field, e.g. one of: {', '.join(numeric[:12]) or 'none'}",
        ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExploreError(
            f"slider={path!r} holds {value!r}, not a finite number", "Name a numeric field with a value"
        )
    integer = isinstance(value, int)
    if lo is None or hi is None:
        lo = getattr(fld, "min", None) if lo is None else lo
        hi = getattr(fld, "max", None) if hi is None else hi
        base = abs(value) or 1.0
        lo = value - 0.75 * base if lo is None else lo
        hi = value + 3.0 * base if hi is None else hi
        if value > 0 and lo < 0 and getattr(fld, "min", None) is None:
            lo = value / 4
    if not lo <= value <= hi:
        raise ExploreError(
            f"slider range [{lo}, {hi}] does not hold {path}'s value {value}", "Pass a range around it"
        )
    step = 1.0 if integer else _nice_step(hi - lo)
    if integer:
        lo, hi = math.floor(lo), math.ceil(hi)
    return Control(
        path,
        "slider",
        value,
        _first_sentence(getattr(fld, "doc", "")),
        minimum=lo,
        maximum=hi,
        step=step,
        integer=integer,
    )
