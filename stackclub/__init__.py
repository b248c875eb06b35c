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
    "bps_config_path",
    "capture_logs",
    "compare",
    "demo_repo",
    "diff_configs",
    "doctor",
    "qgraph_status",
    "run_command",
    "show_amplifiers",
    "show_config",
    "show_connections",
    "show_histogram",
    "show_image",
    "show_pipeline",
    "show_psf",
    "show_qgraph",
    "show_sources",
    "show_task_log",
    "show_task_tree",
    "summarize_qgraph",
    "uses_of",
    "versions",
    "where_is",
)

# Public name -> the stackclub module that defines it.  Each helper module adds its
# names here (and to __all__ above, kept sorted).
_LAZY: dict[str, str] = {
    "diff_configs": "stackclub.config_docs",
    "show_config": "stackclub.config_docs",
    "show_connections": "stackclub.config_docs",
    "show_pipeline": "stackclub.config_docs",
    "show_task_tree": "stackclub.task_tree",
    "compare": "stackclub.display",
    "show_amplifiers": "stackclub.display_camera",
    "show_histogram": "stackclub.display",
    "show_image": "stackclub.display",
    "show_psf": "stackclub.display_sources",
    "show_sources": "stackclub.display_sources",
    "capture_logs": "stackclub.logs",
    "run_command": "stackclub.commands",
    "show_task_log": "stackclub.task_log",
    "demo_repo": "stackclub.simcam.repo",
    "doctor": "stackclub.doctor",
    "bps_config_path": "stackclub.qgraph",
    "qgraph_status": "stackclub.qgraph",
    "show_qgraph": "stackclub.qgraph",
    "summarize_qgraph": "stackclub.qgraph",
    "versions": "stackclub.versions",
    "uses_of": "stackclub.where_is",
    "where_is": "stackclub.where_is",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .commands import run_command
    from .config_docs import diff_configs, show_config, show_connections, show_pipeline
    from .display import compare, show_histogram, show_image
    from .display_camera import show_amplifiers
    from .display_sources import show_psf, show_sources
    from .doctor import doctor
    from .logs import capture_logs
    from .qgraph import bps_config_path, qgraph_status, show_qgraph, summarize_qgraph
    from .simcam.repo import demo_repo
    from .task_log import show_task_log
    from .task_tree import show_task_tree
    from .versions import versions
    from .where_is import uses_of, where_is


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'stackclub' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = getattr(module, name)
    globals()[name] = value  # cache: the next look-up does not come here
    # Importing stackclub.where_is binds the *submodule* to the package attribute `where_is`;
    # when a module is named after one of its public functions, put the function back.
    short = module_name.rpartition(".")[2]
    if _LAZY.get(short) == module_name:
        globals()[short] = getattr(module, short)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """Register Stack Club's IPython magics (``%load_ext stackclub``)."""
    from ._magics import load_ipython_extension as _load

    _load(ipython)
