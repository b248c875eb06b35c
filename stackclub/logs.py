"""Bring what a task logs into the notebook cell that ran it: `capture_logs`.

`capture_logs` closes the gap the seed notebook ended on ("Try to get the task outputs into
the notebook (and failing)"): a context manager (and the ``%%capture_logs`` cell magic, loaded
with ``%load_ext stackclub``) that collects the Python log records of the tasks and the
middleware, shows them in the cell as they arrive, and keeps them on the returned
`CapturedLogs` object.  Its two companions live in their own modules and are re-exported
here: `run_command` (`stackclub.commands`: a command such as ``pipetask run ...`` with its
output streamed into the cell) and `show_task_log` (`stackclub.task_log`: the
``<label>_log`` dataset a pipeline run stored).  The record model they share, `LogRecords`,
is in `stackclub.log_records`.

Records are formatted as ``pipetask`` formats them on a terminal
(``{name} {levelname}: {message}``, `lsst.daf.butler.cli.cliLog.CliLog.pylog_normalFmt`), colour
coded by level in HTML and plain in a terminal.

Notes
-----
*Which records are captured by default.* pipe_base names a task's logger after the top-level
package of the task's module plus the task label: ``lsst.isr``, ``stackclub.isr`` (subtask:
``stackclub.isr.overscan``) and ``__main__.myTask`` for a task defined in a notebook.  No fixed
list of prefixes can know them all, so by default `capture_logs` listens on the **root logger** and lowers the
root (and ``lsst``) logger level to the requested one for the duration of the block.  To stop
that from flooding the cell, the namespaces in `QUIET_LOGGERS` (the Butler, resources and
pipeline middleware, lsst.utils timers, and third-party tools such as SQLAlchemy, matplotlib
or parso) keep a floor: middleware records are shown from ``INFO`` up (as ``pipetask`` shows
``lsst.*``), third-party records from ``WARNING`` up, whatever lower level you ask for.  Name
such a logger in ``loggers=`` (``capture_logs("DEBUG", loggers=["lsst.daf.butler"])``) to see
its records below that floor.

The records in `HARMLESS_RECORDS` (``Unable to import eups``, which every pip-installed stack
logs once) are left out unless ``hide_harmless=False``.

Every level and handler changed on entry is restored on exit, also when the block raises.
Other handlers (a ``logging.basicConfig`` stream, pytest's capture) get a filter for the
duration, so lowering a level for the capture never makes *them* print more than before.
Explicit levels that you set on loggers other than the root and ``lsst`` are respected.

*In a notebook*, each record is one HTML output in the cell (escaped, level colour coded, with a plain-text
alternative), in order with what the cell prints, as lsst.rsp's ``IPythonHandler`` does on
the Rubin Science Platform — where that handler is installed, `capture_logs` lets it do the
showing instead of showing records twice.  One output per record, rather than one block
redrawn with ``update_display``, because nbval ignores display updates: a notebook executed
and committed with outputs then checks cleanly.  ``max_shown`` (default 1000) caps how many
records a block shows; all of them are kept on the returned object.
"""

from __future__ import annotations

__all__ = (
    "HARMLESS_RECORDS",
    "LOG_FORMAT",
    "QUIET_LOGGERS",
    "CapturedLogs",
    "CommandResult",
    "LogEntry",
    "LogRecords",
    "capture_logs",
    "run_command",
    "show_task_log",
)

import logging
import sys
import threading
from collections.abc import Iterable
from types import TracebackType

from ._exceptions import ArgumentTypeError
from ._render import escape
from .commands import CommandResult, run_command
from .log_records import (
    _PRE_STYLE,
    HARMLESS_RECORDS,
    LOG_FORMAT,
    LogEntry,
    LogRecords,
    _html_block,
    check_max_shown,
    is_harmless,
    is_under,
    parse_level,
)
from .task_log import show_task_log

_LOG = logging.getLogger(__name__)

#: Logger namespaces that stay at a floor level under the default capture (see the module
#: docstring).  Maps a logger name prefix to the lowest level shown from it unless it is named
#: in ``loggers=``.  Edit it to change the default for a session.
QUIET_LOGGERS: dict[str, int] = {
    # Rubin middleware: INFO and above, as pipetask shows lsst.* by default.
    "lsst.daf": logging.INFO,
    "lsst.resources": logging.INFO,
    "lsst.pipe.base": logging.INFO,
    "lsst.ctrl": logging.INFO,
    "lsst.utils": logging.INFO,
    "lsst.pex": logging.INFO,
    "lsst.images": logging.INFO,
    "timer": logging.INFO,  # lsst.utils.timer's "timer.lsst...." DEBUG timings
    # Third-party tools: warnings and errors only.
    "IPython": logging.WARNING,
    "PIL": logging.WARNING,
    "asyncio": logging.WARNING,
    "botocore": logging.WARNING,
    "comm": logging.WARNING,
    "filelock": logging.WARNING,
    "fsspec": logging.WARNING,
    "h5py": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpx": logging.WARNING,
    "ipykernel": logging.WARNING,
    "jupyter_client": logging.WARNING,
    "matplotlib": logging.WARNING,
    "numba": logging.WARNING,
    "numexpr": logging.WARNING,
    "parso": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "tornado": logging.WARNING,
    "traitlets": logging.WARNING,
    "urllib3": logging.WARNING,
}


def _existing_logger(name: str) -> logging.Logger | None:
    if name in ("", "root"):
        return logging.getLogger()
    found = logging.Logger.manager.loggerDict.get(name)
    return found if isinstance(found, logging.Logger) else None


def _all_loggers() -> list[logging.Logger]:
    found = [v for v in list(logging.Logger.manager.loggerDict.values()) if isinstance(v, logging.Logger)]
    return [logging.getLogger(), *found]


def _is_notebook_handler(handler: logging.Handler) -> bool:
    """Tell whether a handler already writes records into the notebook (lsst.rsp's ``IPythonHandler``)."""
    return type(handler).__name__ == "IPythonHandler"


def _in_kernel() -> bool:
    """Whether we run in a Jupyter kernel (where display() reaches a notebook cell)."""
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return False
    try:
        shell = ipython_mod.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


# ----------------------------------------------------------------------------------------------
# capture_logs

_ACTIVE: list[CapturedLogs] = []  # entered captures, outermost first
_ACTIVE_LOCK = threading.RLock()
_DISPLAYING = threading.local()  # re-entrancy guard: display() may itself log


def _is_harmless_record(record: logging.LogRecord) -> bool:
    if not any(is_under(record.name, logger) for logger, _ in HARMLESS_RECORDS):
        return False  # the cheap test first: most records come from other loggers
    try:
        message = record.getMessage()
    except Exception:  # a bad format call is not one of the known harmless records
        return False
    return is_harmless(record.name, message)


class _CaptureHandler(logging.Handler):
    """The handler a `CapturedLogs` puts on the root (or named) loggers while it is active."""

    def __init__(self, owner: CapturedLogs) -> None:
        super().__init__(level=logging.NOTSET)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.owner._receive(record)
        except Exception:  # pragma: no cover - logging must never raise into the caller
            self.handleError(record)


class _HideNewlyEnabled(logging.Filter):
    """Put on other handlers: pass only what they would have received before the capture began.

    For a notebook handler (lsst.rsp's ``IPythonHandler``) it also passes what the capture
    accepts, because that handler *is* how the records reach the cell there.
    """

    def __init__(self, owner: CapturedLogs, *, also_accepted: bool) -> None:
        super().__init__()
        self.owner = owner
        self.also_accepted = also_accepted

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.owner._original_effective_level(record.name):
            return True
        return self.also_accepted and self.owner._accepts(record)


class CapturedLogs(LogRecords):
    """Log records captured by `capture_logs`; also the context manager that captures them.

    Use it through `capture_logs` (or the ``%%capture_logs`` cell magic).  While the block
    runs, records appear in the cell as they arrive (``show=True``); afterwards this object
    keeps them: `records`, `text`, `to_table`, `select`.

    Parameters
    ----------
    level
        Lowest level captured: a name (``"TRACE"``, ``"DEBUG"``, ``"VERBOSE"``, ``"INFO"``, …)
        or a number.
    loggers
        Logger names to capture (each with its descendants); `None` captures every logger.
    show
        Show records as they arrive: in a notebook as colour-coded HTML in the cell (one
        output per record), in a terminal as lines on standard error.
    max_shown
        Show at most this many records (`None`: no limit); the rest are kept, and one line
        at the end of the block says how many were not shown.  The object renders (HTML,
        ``str``) as many afterwards.
    hide_harmless
        Leave out the records listed in `HARMLESS_RECORDS` (``Unable to import eups``).
    """

    def __init__(
        self,
        level: int | str = "INFO",
        loggers: Iterable[str] | str | None = None,
        *,
        show: bool = True,
        max_shown: int | None = 1000,
        hide_harmless: bool = True,
    ) -> None:
        super().__init__(max_shown=check_max_shown("capture_logs", max_shown))
        self.level = parse_level(level)
        self.hide_harmless = bool(hide_harmless)
        if isinstance(loggers, str):
            loggers = [loggers]
        if loggers is not None:
            expected = "a logger name such as 'lsst.isr', a list of names, or None for every logger"
            if not isinstance(loggers, Iterable):
                raise ArgumentTypeError("capture_logs", "loggers", loggers, expected)
            loggers = list(loggers)
            for n in loggers:
                if not isinstance(n, str):
                    raise ArgumentTypeError("capture_logs", "each name in loggers", n, expected)
            names = tuple(dict.fromkeys("" if n == "root" else n for n in loggers))
            if not names:
                raise ValueError("loggers=[] would capture nothing; pass None to capture every logger")
            for n in names:
                if n != n.strip() or n.startswith(".") or n.endswith(".") or ".." in n:
                    raise ValueError(f"{n!r} is not a logger name (use dotted names like 'lsst.isr')")
        self.loggers: tuple[str, ...] | None = None if loggers is None else names
        self.show = show
        self._lock = threading.RLock()
        self._active = False
        self._used = False
        # Set on entry:
        self._handler: _CaptureHandler | None = None
        self._saved_levels: dict[str, int] = {}
        self._filtered: list[tuple[logging.Handler, logging.Filter]] = []
        self._live = False
        self._kernel = False
        self._owner_thread: int | None = None
        self._pending: list[LogEntry] = []  # accepted, to be shown, not shown yet
        self._n_shown = 0  # records this capture showed (or queued to show)
        self._n_not_shown = 0  # records it kept without showing, past max_shown
        self._thresholds: dict[str, int | None] = {}

    # -- what is accepted ------------------------------------------------------------------

    def _covering_name(self, name: str) -> str | None:
        """Return the most specific requested logger that covers ``name`` (``""`` = all), or None."""
        if self.loggers is None:
            return ""
        best: str | None = None
        for n in self.loggers:
            if is_under(name, n) and (best is None or len(n) > len(best)):
                best = n
        return best

    def _floor(self, name: str, covering: str) -> int:
        """Return the QUIET_LOGGERS floor that applies to ``name`` (0 when none)."""
        best = ""
        for prefix in QUIET_LOGGERS:
            if is_under(name, prefix) and len(prefix) > len(best):
                best = prefix
        # A quiet namespace is quiet only when it was not asked for by name: its prefix must
        # lie strictly below the requested logger that covers it.
        if best and (covering == "" or (best != covering and best.startswith(covering + "."))):
            return QUIET_LOGGERS[best]
        return 0

    def _threshold(self, name: str) -> int | None:
        """Lowest level accepted from logger ``name``, or None when it is not captured (cached)."""
        try:
            return self._thresholds[name]
        except KeyError:
            pass
        covering = self._covering_name(name)
        threshold = None if covering is None else max(self.level, self._floor(name, covering))
        if len(self._thresholds) < 10_000:
            self._thresholds[name] = threshold
        return threshold

    def _accepts(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return False
        threshold = self._threshold(record.name)
        if threshold is None or record.levelno < threshold:
            return False
        return not (self.hide_harmless and _is_harmless_record(record))

    def _original_effective_level(self, name: str) -> int:
        """Return the effective level ``name`` had before this capture changed any level."""
        current = name
        while True:
            if current in self._saved_levels:
                level = self._saved_levels[current]
            else:
                logger = _existing_logger(current)
                level = logger.level if logger is not None else 0
            if level or current == "":
                return level
            current = current.rpartition(".")[0]

    # -- entering and leaving --------------------------------------------------------------

    def _set_level(self, name: str, level: int) -> None:
        logger = logging.getLogger(name or None)
        if name not in self._saved_levels:
            self._saved_levels[name] = logger.level
        logger.setLevel(level)

    def __enter__(self) -> CapturedLogs:
        if self._used:
            raise RuntimeError("a CapturedLogs can be entered only once; call capture_logs() again")
        self._used = True
        root = logging.getLogger()
        notebook_handler = any(_is_notebook_handler(h) for h in root.handlers)
        self._kernel = _in_kernel()
        self._live = self.show and not notebook_handler
        self._owner_thread = threading.get_ident()
        try:
            # 1. Let the wanted records through the loggers' own level checks.
            if self.loggers is None:
                if root.level > self.level:
                    self._set_level("", self.level)
                lsst_logger = _existing_logger("lsst")
                if lsst_logger is not None and lsst_logger.level > self.level:
                    self._set_level("lsst", self.level)
                requested: tuple[str, ...] = ("",)
            else:
                requested = self.loggers
                for name in requested:
                    if logging.getLogger(name or None).getEffectiveLevel() > self.level:
                        self._set_level(name, self.level)
            # 2. ...but keep the quiet namespaces at their floor (only those left at NOTSET,
            #    i.e. not set on purpose by the user): they then do not even make records.
            for prefix, floor in QUIET_LOGGERS.items():
                if prefix not in logging.Logger.manager.loggerDict:
                    continue  # nothing logs there yet (if something starts to, the filter holds it)
                covering = self._covering_name(prefix)
                if covering is None or self._floor(prefix, covering) == 0:
                    continue
                logger = logging.getLogger(prefix)
                if logger.level != logging.NOTSET:
                    continue
                target = min(self._original_effective_level(prefix), max(self.level, floor))
                if logger.getEffectiveLevel() < target:
                    self._set_level(prefix, target)
            # 3. Other handlers must not print more than before (the notebook one excepted).
            with _ACTIVE_LOCK:
                for logger in _all_loggers():
                    for handler in list(logger.handlers):
                        if isinstance(handler, _CaptureHandler):
                            continue
                        flt = _HideNewlyEnabled(self, also_accepted=_is_notebook_handler(handler))
                        handler.addFilter(flt)
                        self._filtered.append((handler, flt))
                # 4. Listen.
                self._handler = _CaptureHandler(self)
                root.addHandler(self._handler)
                _ACTIVE.append(self)
                self._active = True
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._restore()
        if self._live:
            self._show_pending()
            if self._n_not_shown:
                self._show_note(
                    f"… {self._n_not_shown} more records not shown (max_shown={self.max_shown}); "
                    f"all {len(self._entries)} are kept: .records, .text, .to_table()"
                )

    def _restore(self) -> None:
        with _ACTIVE_LOCK:
            self._active = False
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            if self._handler is not None:
                logging.getLogger().removeHandler(self._handler)
                self._handler = None
            for handler, flt in reversed(self._filtered):
                handler.removeFilter(flt)
            self._filtered.clear()
            for name, level in reversed(list(self._saved_levels.items())):
                logging.getLogger(name or None).setLevel(level)
            self._saved_levels.clear()

    # -- receiving and showing --------------------------------------------------------------

    def _receive(self, record: logging.LogRecord) -> None:
        if not self._active or not self._accepts(record):
            return
        entry = LogEntry.from_record(record)
        with self._lock:
            self._entries.append(entry)
        if not self._live or getattr(_DISPLAYING, "on", False):
            return
        if self._displayer_for(record) is not self:
            return  # an inner capture shows it; this one only keeps it
        with self._lock:
            if self.max_shown is not None and self._n_shown >= self.max_shown:
                self._n_not_shown += 1
                return
            self._n_shown += 1
            self._pending.append(entry)
        if not self._kernel or threading.get_ident() == self._owner_thread:
            self._show_pending()
        # In a kernel, records from other threads are shown with the next record from the
        # thread that entered the block, or when it ends: output sent from another thread can
        # land in the wrong cell.

    def _displayer_for(self, record: logging.LogRecord) -> CapturedLogs | None:
        with _ACTIVE_LOCK:
            for cap in reversed(_ACTIVE):
                if cap._live and cap._accepts(record):
                    return cap
        return None

    def _show_pending(self) -> None:
        """Show the records not shown yet: one HTML output each in a notebook, lines on stderr elsewhere.

        One output per record (as lsst.rsp's ``IPythonHandler`` does) rather than one block
        redrawn with ``update_display``: it keeps the order of records and ``print`` output,
        and nbval, which ignores display updates, sees in a fresh run what a stored notebook shows.
        """
        with self._lock:
            entries, self._pending = self._pending, []
        if not entries:
            return
        _DISPLAYING.on = True
        try:
            if self._kernel:
                from IPython.display import display

                for entry in entries:
                    display({"text/plain": entry.format(), "text/html": _html_block([entry])}, raw=True)
            else:
                sys.stderr.write("".join(entry.format() + "\n" for entry in entries))
                sys.stderr.flush()
        finally:
            _DISPLAYING.on = False

    def _show_note(self, note: str) -> None:
        if self._kernel:
            from IPython.display import display

            pre = f'<pre style="{escape(_PRE_STYLE)}"><i>{escape(note)}</i></pre>'
            html = f'<div class="stackclub-logs">{pre}</div>'
            display({"text/plain": note, "text/html": html}, raw=True)
        else:
            sys.stderr.write(note + "\n")
            sys.stderr.flush()

    def __repr__(self) -> str:
        base = super().__repr__()[:-1]
        state = "capturing" if self._active else "captured"
        where = "all loggers" if self.loggers is None else ", ".join(n or "root" for n in self.loggers)
        return f"{base} ({state} {logging.getLevelName(self.level)}+ from {where})>"


def capture_logs(
    level: int | str = "INFO",
    loggers: Iterable[str] | str | None = None,
    *,
    show: bool = True,
    max_shown: int | None = 1000,
    hide_harmless: bool = True,
) -> CapturedLogs:
    """Capture log records into the notebook cell (a context manager).

    Parameters
    ----------
    level
        Lowest level to capture: ``"TRACE"``, ``"DEBUG"``, ``"VERBOSE"``, ``"INFO"`` (default),
        ``"WARNING"``, ``"ERROR"``, ``"CRITICAL"`` or a number.
    loggers
        Capture only these loggers and their descendants, e.g. ``["lsst.isr", "__main__"]``.
        `None` (default) captures every logger: task loggers are named after the top-level
        package of the task's module (``lsst.isr``, ``stackclub.isr``, ``__main__.myTask``),
        so nothing narrower catches them all.  Under the default, the namespaces in
        `QUIET_LOGGERS` stay at their floor (middleware ``INFO``, third-party ``WARNING``);
        naming one here lifts its floor.
    show
        Show each record as it arrives: in a notebook as a colour-coded HTML line in the
        cell (one output per record, in order with what the cell prints); in a terminal as
        a plain ``{name} {levelname}: {message}`` line on standard error.  Either way the
        returned object keeps them.
    max_shown
        Show at most this many records while the block runs (`None`: no limit), so a
        ``"DEBUG"`` capture cannot swamp a notebook with outputs; the rest are kept on the
        returned object, and one line at the end says how many were not shown.  The
        returned object renders (HTML, ``print``) at most as many, with the same note.
    hide_harmless
        Leave out the records of `HARMLESS_RECORDS`: ``Unable to import eups`` (every
        pip-installed stack logs it once; it means package versions are read from pip's
        metadata instead of EUPS) and the Butler's note that pandas is not installed.
        Pass `False` to see them.

    Returns
    -------
    logs : `CapturedLogs`
        Enter it with ``with``; after the block, ``logs.records``, ``logs.text`` and
        ``logs.to_table()`` hold what was logged.

    Raises
    ------
    ValueError
        If ``level`` is not a level name or number, or ``loggers`` is empty or malformed.
    stackclub._exceptions.ArgumentTypeError
        If ``level``, ``loggers`` or ``max_shown`` is of the wrong type.

    Notes
    -----
    On entry the root logger (and the ``lsst`` logger, which ``pipetask`` sets to ``INFO``) are
    lowered to ``level`` if they are higher, or with ``loggers=`` the named loggers are; every
    change is undone on exit, also when the block raises.  Captures nest: each keeps what it
    accepts, and a record is shown once, by the innermost showing capture that accepts it.
    Where lsst.rsp's ``IPythonHandler`` is on the root logger (the Rubin Science Platform
    installs it), that handler already writes records into the cell, so nothing is shown a
    second time; the records are still kept.  Records from other threads are shown with the
    next record or when the block ends.

    The capture listens on the root logger, so it misses records of a logger whose
    ``propagate`` is False.  Leave nested blocks in the reverse order of entering them (as
    ``with`` does).  A handler *added inside* the block sees the lowered levels too: running a
    pipeline with ``SimplePipelineExecutor`` inside ``capture_logs()`` therefore also stores the
    tasks' INFO records in their ``<label>_log`` datasets (see `show_task_log`).

    Examples
    --------
    >>> import logging
    >>> from stackclub import capture_logs
    >>> with capture_logs("INFO", show=False) as logs:
    ...     logging.getLogger("__main__.myTask").info("Processing %d amplifiers", 4)
    ...     logging.getLogger("__main__.myTask.fringe").debug("not captured at INFO")
    >>> print(logs.text)
    __main__.myTask INFO: Processing 4 amplifiers
    >>> [(e.levelname, e.name) for e in logs.records]
    [('INFO', '__main__.myTask')]
    """
    return CapturedLogs(level, loggers, show=show, max_shown=max_shown, hide_harmless=hide_harmless)
