"""Stack Club: helpers for finding, configuring, dissecting and running Rubin pipeline tasks.

The public API is small and flat::

    >>> import stackclub
    >>> stackclub.versions()            # doctest: +SKIP

Names are imported on first use (scientific-python's ``lazy_loader``, from the stub
``__init__.pyi``), so ``import stackclub`` is quick and works even where the Rubin packages
(``lsst.*``) are not installed; a helper that needs them says so when it is called.  To add a
public name, add one line to ``__init__.pyi``: ``from .module import name as name`` (kept sorted
by ``ruff check --fix``); type checkers and IDEs read the same file.
"""

from __future__ import annotations

import lazy_loader

from ._version import __version__ as __version__

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)


def load_ipython_extension(ipython: object) -> None:
    """Register Stack Club's IPython magics (``%load_ext stackclub``).

    Parameters
    ----------
    ipython
        The running IPython shell.
    """
    from ._magics import load_ipython_extension as _load

    _load(ipython)
