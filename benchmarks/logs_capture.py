"""Per-record cost of stackclub.capture_logs against the handlers the Rubin middleware uses.

Peers, measured in the same run on the same records (a task logger emitting INFO records):
- ``ButlerLogRecordHandler`` -- what pipe_base's ``LogCapture`` puts on the root logger to keep a
  quantum's log in memory before storing it as ``<label>_log``;
- ``logging.StreamHandler`` with pipetask's format (``{name} {levelname}: {message}``) writing
  to a ``StringIO`` -- what ``pipetask`` does on a terminal;
- no handler at all (the record is dropped at the logger's level check) -- the floor.

Also: the cost of entering and leaving ``capture_logs`` once, against
``LsstLogAdapter.temporary_log_level`` (which changes one logger's level), and rendering
the captured records as HTML.
Run: ``.venv/bin/python benchmarks/logs_capture.py``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

from _timing import best  # benchmarks/_timing.py (this script's folder is on sys.path)
from lsst.daf.butler.logging import ButlerLogRecordHandler
from lsst.utils.logging import getLogger as lsst_logger  # noqa: N813

from stackclub.logs import capture_logs

N_RECORDS = 20_000
N_ENTER = 2_000
LOG = logging.getLogger("__main__.benchTask")


def _emit() -> None:
    for i in range(N_RECORDS):
        LOG.info("Processing amplifier %d of %s", i, "<detector 42>")


def _with_handler(handler: logging.Handler) -> Callable[[], None]:
    def run() -> None:
        root = logging.getLogger()
        old = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            _emit()
        finally:
            root.removeHandler(handler)
            root.setLevel(old)

    return run


def _with_capture() -> None:
    with capture_logs("INFO", show=False):
        _emit()


def _enter_exit_capture() -> None:
    for _ in range(N_ENTER):
        with capture_logs("INFO", show=False):
            pass


def _enter_exit_temporary_level() -> None:
    log = lsst_logger("__main__")
    for _ in range(N_ENTER):
        with log.temporary_log_level(logging.INFO):
            pass


def main() -> None:
    stream = logging.StreamHandler(io.StringIO())
    stream.setFormatter(logging.Formatter("{name} {levelname}: {message}", style="{"))
    rows = {
        "dropped (no handler, WARNING level)": best(_emit),
        "StreamHandler, pipetask format": best(_with_handler(stream)),
        "ButlerLogRecordHandler (pipe_base LogCapture)": best(_with_handler(ButlerLogRecordHandler())),
        "stackclub.capture_logs(show=False)": best(_with_capture),
    }
    peer = rows["ButlerLogRecordHandler (pipe_base LogCapture)"]
    print(f"{N_RECORDS} INFO records from a task logger (best of 3)")
    for name, seconds in rows.items():
        per_record = seconds * 1e6 / N_RECORDS
        print(f"  {name:48s} {per_record:7.2f} µs/record  {seconds / peer:5.2f}× ButlerLogRecordHandler")

    with capture_logs("INFO", show=False) as logs:
        _emit()
    render = best(logs._repr_html_)
    text = best(lambda: logs.text)
    print(f"  render {len(logs)} records: HTML {render * 1e3:.1f} ms, text {text * 1e3:.1f} ms")

    cap = best(_enter_exit_capture)
    tmp = best(_enter_exit_temporary_level)
    print(f"{N_ENTER} enter/exit cycles (best of 3)")
    print(f"  temporary_log_level  {tmp * 1e6 / N_ENTER:7.1f} µs/cycle")
    print(
        f"  capture_logs         {cap * 1e6 / N_ENTER:7.1f} µs/cycle  {cap / tmp:5.1f}× temporary_log_level"
    )


if __name__ == "__main__":
    main()
