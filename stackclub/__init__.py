"""Stack Club: helpers for finding, configuring, dissecting and running Rubin pipeline tasks.

The public API is small and flat::

    >>> import stackclub
    >>> stackclub.versions()            # doctest: +SKIP

Names are imported on first use, so ``import stackclub`` is quick and works even where
the Rubin packages (``lsst.*``) are not installed; a helper that needs them says so
when it is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = (
    "__version__",
    "capture_logs",
    "diff_configs",
    "run_command",
    "show_config",
    "show_connections",
    "show_pipeline",
    "show_task_log",
    "show_task_tree",
    "versions",
)

# Public name -> the stackclub module that defines it.  Each helper module adds its
# names here (and to __all__ above, kept sorted).
_LAZY: dict[str, str] = {
    "diff_configs": "stackclub.config_docs",
    "show_config": "stackclub.config_docs",
    "show_connections": "stackclub.config_docs",
    "show_pipeline": "stackclub.config_docs",
    "show_task_tree": "stackclub.config_docs",
    "capture_logs": "stackclub.logs",
    "run_command": "stackclub.logs",
    "show_task_log": "stackclub.logs",
    "versions": "stackclub.versions",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .config_docs import diff_configs, show_config, show_connections, show_pipeline, show_task_tree
    from .logs import capture_logs, run_command, show_task_log
    from .versions import versions


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'stackclub' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: the next look-up does not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """Register Stack Club's IPython magics (``%load_ext stackclub``)."""
    from ._magics import load_ipython_extension as _load

    _load(ipython)
