"""Log records as a notebook shows them: the model `capture_logs` and `show_task_log` return.

A `LogEntry` is one record, made from a Python `logging.LogRecord` or from the
`~lsst.daf.butler.logging.ButlerLogRecord` that ``pipetask run`` stored; a `LogRecords` is a
sequence of them that renders like ``pipetask``'s log: ``{name} {levelname}: {message}``
(`lsst.daf.butler.cli.cliLog.CliLog.pylog_normalFmt`), as colour-coded, escaped HTML in a
notebook and as plain lines in a terminal.  A rendering shows at most ``max_shown`` records
and then says how many more there are; `LogRecords.text`, `LogRecords.records` and
`LogRecords.to_table` always hold them all.
"""

from __future__ import annotations

__all__ = (
    "HARMLESS_RECORDS",
    "LOG_FORMAT",
    "LogEntry",
    "LogRecords",
)

import datetime
import logging
import re
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._exceptions import ArgumentTypeError
from ._render import Styled, escape

if TYPE_CHECKING:  # pragma: no cover
    from astropy.table import Table as AstropyTable

#: ``lsst.utils.logging`` levels, named here so they parse even before lsst.utils is imported.
_TRACE = 5
_VERBOSE = 15

#: The format ``pipetask`` uses on a terminal (``CliLog.pylog_normalFmt``).
LOG_FORMAT = "{name} {levelname}: {message}"

#: Records that the Rubin middleware installed from PyPI logs on every run and that mean nothing
#: is wrong, as ``(logger name, start of the message)``: without EUPS (a pip install)
#: ``lsst.utils.packages`` cannot list package versions from the environment, and without
#: pandas the Butler skips the ``ArrowAstropy`` -> ``DataFrame`` converter.  `capture_logs`
#: leaves them out and `run_command` does not show the output lines that carry them (unless
#: ``hide_harmless=False``).  Add a pair here to hide another record for a session.
HARMLESS_RECORDS: list[tuple[str, str]] = [
    ("lsst.utils.packages", "Unable to import eups"),
    ("lsst.daf.butler", "Unable to import type pandas."),
]


_NAME_STYLE = "color: var(--jp-ui-font-color2, #616161)"
_LEVEL_STYLES = (  # (lowest levelno, css) from the most severe down
    (logging.CRITICAL, "color: var(--jp-error-color0, #b71c1c); font-weight: bold"),
    (logging.ERROR, "color: var(--jp-error-color1, #d32f2f); font-weight: bold"),
    (logging.WARNING, "color: var(--jp-warn-color0, #b35c00); font-weight: bold"),
    (logging.INFO, "color: var(--jp-info-color0, #01579b)"),
    (_VERBOSE, "color: var(--jp-info-color1, #0288d1)"),
    (logging.DEBUG, "color: var(--jp-success-color0, #2e7d32)"),
    (0, "color: var(--jp-ui-font-color3, #9e9e9e)"),
)
_PRE_STYLE = (
    "margin: 0.2em 0; padding-left: 0.5em; border-left: 3px solid var(--jp-border-color1, #bdbdbd); "
    "white-space: pre-wrap; font-family: var(--jp-code-font-family, monospace); "
    "font-size: var(--jp-code-font-size, 13px); line-height: var(--jp-code-line-height, 1.3)"
)


# ----------------------------------------------------------------------------------------------
# The record model and its renderings


@dataclass(frozen=True)
class LogEntry:
    """One log record, as captured from `logging` or read back from a Butler.

    Attributes
    ----------
    name
        Logger name, e.g. ``"lsst.isr.fringe"``.
    levelno
        Numeric level (``lsst.utils.logging`` adds ``VERBOSE`` = 15 and ``TRACE`` = 5).
    levelname
        Level name, e.g. ``"INFO"``.
    message
        The formatted message (arguments merged in).
    time
        When it was logged (UTC).
    exc_text
        The formatted traceback when the record carried exception information, else `None`.
    filename, lineno
        Where it was logged.

    Examples
    --------
    >>> import logging
    >>> record = logging.LogRecord("lsst.isr", logging.INFO, "isr.py", 12, "%d amps", (4,), None)
    >>> LogEntry.from_record(record).format()
    'lsst.isr INFO: 4 amps'
    """

    name: str
    levelno: int
    levelname: str
    message: str
    time: datetime.datetime
    exc_text: str | None = None
    filename: str = ""
    lineno: int = 0

    @classmethod
    def from_record(cls, record: logging.LogRecord) -> LogEntry:
        """Make an entry from a `logging.LogRecord` (never raises on a bad message).

        Parameters
        ----------
        record
            The record a logger made.

        Returns
        -------
        entry : `LogEntry`
            Its name, level, formatted message, time, traceback and place.
        """
        try:
            message = record.getMessage()
        except Exception as err:  # a format/argument mismatch in someone's log call
            message = f"{record.msg!r} % {record.args!r} (could not format: {err})"
        exc_text = None
        if record.exc_info and record.exc_info[0] is not None:
            exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        elif record.exc_text:
            exc_text = record.exc_text
        return cls(
            name=record.name,
            levelno=record.levelno,
            levelname=record.levelname,
            message=message,
            time=datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC),
            exc_text=exc_text,
            filename=record.filename,
            lineno=record.lineno or 0,
        )

    @classmethod
    def from_butler(cls, record: Any) -> LogEntry:
        """Make an entry from an `lsst.daf.butler.logging.ButlerLogRecord`.

        Parameters
        ----------
        record
            One record of a ``<label>_log`` dataset.

        Returns
        -------
        entry : `LogEntry`
            The same fields as a captured record.
        """
        when = record.asctime
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return cls(
            name=record.name,
            levelno=record.levelno,
            levelname=record.levelname,
            message=record.message,
            time=when,
            exc_text=(record.exc_info.rstrip("\n") or None) if record.exc_info else None,
            filename=record.filename,
            lineno=record.lineno,
        )

    def format(self) -> str:
        """Return the record as ``pipetask`` prints it: ``{name} {levelname}: {message}`` (+ traceback)."""
        line = LOG_FORMAT.format(name=self.name, levelname=self.levelname, message=self.message)
        return f"{line}\n{self.exc_text}" if self.exc_text else line

    def to_html(self) -> str:
        """Return the record as one escaped HTML line, logger name and level colour coded."""
        name = Styled(self.name, _NAME_STYLE).to_html()
        level = Styled(self.levelname, _level_style(self.levelno)).to_html()
        line = f"{name} {level}: {escape(self.message)}"
        return f"{line}\n{escape(self.exc_text)}" if self.exc_text else line


def _level_style(levelno: int) -> str:
    for lowest, style in _LEVEL_STYLES:
        if levelno >= lowest:
            return style
    return _LEVEL_STYLES[-1][1]


def _not_shown_note(n_hidden: int, n_total: int, max_shown: int | None) -> str:
    return (
        f"… {n_hidden} more records not shown (max_shown={max_shown}); "
        f"all {n_total} are kept: .records, .text, .to_table()"
    )


def _html_block(
    entries: Sequence[LogEntry], *, title: str | None = None, max_shown: int | None = None
) -> str:
    parts = ['<div class="stackclub-logs">']
    if title:
        parts.append(f"<div><b>{escape(title)}</b></div>")
    shown = entries if max_shown is None else entries[:max_shown]
    lines = [e.to_html() for e in shown]
    if len(shown) < len(entries):
        note = _not_shown_note(len(entries) - len(shown), len(entries), max_shown)
        lines.append(f"<i>{escape(note)}</i>")
    if not lines:
        lines = ["<i>(no log records)</i>"]
    parts.append(f'<pre style="{escape(_PRE_STYLE)}">' + "\n".join(lines) + "</pre>")
    parts.append("</div>")
    return "".join(parts)


def _text_block(
    entries: Sequence[LogEntry], *, title: str | None = None, max_shown: int | None = None
) -> str:
    shown = entries if max_shown is None else entries[:max_shown]
    lines = [e.format() for e in shown]
    if len(shown) < len(entries):
        lines.append(_not_shown_note(len(entries) - len(shown), len(entries), max_shown))
    if title:
        lines.insert(0, title)
    return "\n".join(lines)


def check_max_shown(function: str, max_shown: object) -> int | None:
    """Return ``max_shown`` if it is a count of lines or records to show (or `None`), else raise.

    Parameters
    ----------
    function
        The helper that was called, for the message.
    max_shown
        The value passed.

    Returns
    -------
    max_shown : `int` or `None`
        The same value.

    Raises
    ------
    stackclub._exceptions.ArgumentTypeError
        It is neither an `int` nor `None`.
    ValueError
        It is negative.
    """
    if max_shown is None:
        return None
    if isinstance(max_shown, bool) or not isinstance(max_shown, int):
        raise ArgumentTypeError(function, "max_shown", max_shown, "an int (how many to show) or None (all)")
    if max_shown < 0:
        raise ValueError(f"{function}(): max_shown must be >= 0 (or None for no limit), got {max_shown}")
    return max_shown


class LogRecords:
    """A sequence of `LogEntry` that renders like ``pipetask``'s log (HTML in notebooks, text elsewhere).

    `capture_logs` returns the subclass `CapturedLogs`; `show_task_log` returns one of these.

    Parameters
    ----------
    entries
        The records, oldest first.
    title
        Optional heading shown above the records.
    max_shown
        Render at most this many records (in HTML and with ``str``), then one line saying how
        many more there are; `None` renders them all.  `text`, `records` and `to_table` always
        hold every record.

    Examples
    --------
    >>> import datetime
    >>> when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    >>> logs = LogRecords([LogEntry("lsst.isr", 30, "WARNING", "<5 good amps>", when)])
    >>> print(logs)
    lsst.isr WARNING: <5 good amps>
    >>> "&lt;5 good amps&gt;" in logs._repr_html_()
    True
    >>> many = LogRecords([LogEntry("a", 20, "INFO", f"step {i}", when) for i in range(5)], max_shown=2)
    >>> print(many)
    a INFO: step 0
    a INFO: step 1
    … 3 more records not shown (max_shown=2); all 5 are kept: .records, .text, .to_table()
    """

    def __init__(
        self, entries: Iterable[LogEntry] = (), *, title: str | None = None, max_shown: int | None = 1000
    ) -> None:
        self._entries: list[LogEntry] = list(entries)
        self.title = title
        self.max_shown = check_max_shown(type(self).__name__, max_shown)

    @property
    def records(self) -> list[LogEntry]:
        """The records, oldest first (a copy)."""
        return list(self._entries)

    @property
    def text(self) -> str:
        """All records, one ``{name} {levelname}: {message}`` line each."""
        return "\n".join(e.format() for e in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(list(self._entries))

    def __getitem__(self, index: int) -> LogEntry:
        return self._entries[index]

    def select(self, level: int | str = 0, logger: str | None = None) -> LogRecords:
        """Return the records at ``level`` or above, optionally only from ``logger`` and its children.

        Parameters
        ----------
        level
            Lowest level kept: a name (``"WARNING"``) or a number.
        logger
            Keep only this logger and its descendants (`None`: all).

        Returns
        -------
        selected : `LogRecords`
            The kept records, with the same title.

        Examples
        --------
        >>> import datetime
        >>> t = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        >>> logs = LogRecords([LogEntry("a", 20, "INFO", "x", t), LogEntry("a.b", 30, "WARNING", "y", t)])
        >>> [e.message for e in logs.select("WARNING")]
        ['y']
        >>> [e.message for e in logs.select(logger="a.b")]
        ['y']
        """
        levelno = parse_level(level, function="select")
        if logger is not None and not isinstance(logger, str):
            raise ArgumentTypeError("select", "logger", logger, "a logger name such as 'lsst.isr', or None")
        return LogRecords(
            (
                e
                for e in self._entries
                if e.levelno >= levelno and (logger is None or is_under(e.name, logger))
            ),
            title=self.title,
            max_shown=self.max_shown,
        )

    def to_table(self) -> AstropyTable:
        """Return the records as an `astropy.table.Table` (columns time, level, levelno, name, message).

        Examples
        --------
        >>> import datetime
        >>> t = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        >>> LogRecords([LogEntry("lsst.isr", 20, "INFO", "hi", t)]).to_table()["name", "message"].pformat()
        ['  name   message', '-------- -------', 'lsst.isr      hi']
        """
        from astropy.table import Column, Table
        from astropy.time import Time

        entries = list(self._entries)
        times = Time(
            [e.time.astimezone(datetime.UTC).replace(tzinfo=None) for e in entries],
            format="datetime",
            scale="utc",
        )
        return Table(
            [
                times,
                Column([e.levelname for e in entries], dtype=str),
                Column([e.levelno for e in entries], dtype=int),
                Column([e.name for e in entries], dtype=str),
                Column([e.message for e in entries], dtype=str),
            ],
            names=["time", "level", "levelno", "name", "message"],
        )

    def __str__(self) -> str:
        return _text_block(self._entries, title=self.title, max_shown=self.max_shown)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for e in self._entries:
            counts[e.levelname] = counts.get(e.levelname, 0) + 1
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        n = len(self._entries)
        noun = "record" if n == 1 else "records"
        return f"<{type(self).__name__}: {n} {noun}{': ' + summary if summary else ''}>"

    def _repr_html_(self) -> str:
        return _html_block(self._entries, title=self.title, max_shown=self.max_shown)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": str(self), "text/html": self._repr_html_()}


# ----------------------------------------------------------------------------------------------
# Levels and logger names


def parse_level(level: int | str, *, function: str = "capture_logs") -> int:
    """Turn ``"INFO"``, ``"verbose"``, ``"TRACE"``, ``20`` into a level number.

    Parameters
    ----------
    level
        A level name (any case; ``lsst.utils.logging``'s ``TRACE`` and ``VERBOSE`` included) or
        a number >= 0.
    function
        The helper that was called, for error messages.

    Returns
    -------
    levelno : `int`
        The level number.

    Raises
    ------
    stackclub._exceptions.ArgumentTypeError
        ``level`` is neither a string nor an int.
    ValueError
        An unknown name or a negative number.

    Examples
    --------
    >>> parse_level("verbose"), parse_level("WARNING"), parse_level(5)
    (15, 30, 5)
    """
    expected = "a level name such as 'INFO' or 'DEBUG', or a number"
    if isinstance(level, bool):
        raise ArgumentTypeError(function, "level", level, expected)
    if isinstance(level, int):
        if level < 0:
            raise ValueError(f"{function}(): level must be >= 0, got {level}")
        return level
    if isinstance(level, str):
        names = dict(logging.getLevelNamesMapping())
        names.setdefault("TRACE", _TRACE)
        names.setdefault("VERBOSE", _VERBOSE)
        key = level.strip().upper()
        if key in names:
            return names[key]
        if key.isdigit():
            return int(key)
        valid = ", ".join(sorted(names, key=lambda n: names[n]))
        raise ValueError(f"unknown log level {level!r}; use one of {valid} or a number")
    raise ArgumentTypeError(function, "level", level, expected)


def is_under(name: str, parent: str) -> bool:
    """Tell whether logger ``name`` is ``parent`` or one of its descendants (``""`` is the root).

    Parameters
    ----------
    name
        A logger name.
    parent
        A logger name; ``""`` or ``"root"`` for the root logger.

    Returns
    -------
    under : `bool`
        Whether records of ``name`` reach a handler on ``parent``.

    Examples
    --------
    >>> is_under("lsst.isr.fringe", "lsst.isr"), is_under("lsst.isrx", "lsst.isr")
    (True, False)
    """
    return parent in ("", "root") or name == parent or name.startswith(parent + ".")


def is_harmless(name: str, message: str) -> bool:
    """Tell whether a record is one of `HARMLESS_RECORDS`.

    Parameters
    ----------
    name
        The record's logger name.
    message
        Its formatted message.

    Returns
    -------
    harmless : `bool`
        Whether ``name`` is (under) a listed logger and ``message`` starts with its text.

    Examples
    --------
    >>> is_harmless("lsst.utils.packages", "Unable to import eups, so cannot determine package versions")
    True
    >>> is_harmless("lsst.isr", "Unable to import eups")
    False
    """
    return any(is_under(name, logger) and message.startswith(text) for logger, text in HARMLESS_RECORDS)


def harmless_line(line: str) -> bool:
    """Tell whether a line a command printed carries one of `HARMLESS_RECORDS`.

    A logger's name and its message on one line, in any of ``pipetask``'s log formats
    (``{name} {levelname}: {message}``, ``--long-log``, ``--log-tty``).

    Parameters
    ----------
    line
        One line of output.

    Returns
    -------
    harmless : `bool`
        Whether the line is a harmless record.

    Examples
    --------
    >>> harmless_line("lsst.utils.packages WARNING: Unable to import eups, so cannot determine ...")
    True
    >>> harmless_line("lsst.isr INFO: Unable to import eups (a message of our own)")
    False
    """
    for logger, text in HARMLESS_RECORDS:
        at = line.find(text)
        if at < 0:
            continue
        before = line[:at]
        if re.search(rf"(?<![\w.]){re.escape(logger)}(?:\.[\w.]+)?(?![\w.])", before):
            return True
    return False
