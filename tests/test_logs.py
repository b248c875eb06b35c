"""stackclub.logs: capture_logs, the %%capture_logs magic, run_command and show_task_log.

Everything here runs the real parts: real lsst.pipe.base Tasks, a real SQLite Butler in
tmp_path, the real pipetask executable and a real Jupyter kernel.
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import lsst.utils.logging as lsst_logging
import pytest
from lsst.daf.butler import Butler, DataCoordinate, DatasetType
from lsst.pex.config import Config, ConfigurableField, Field
from lsst.pipe.base import (
    PipelineTask,
    PipelineTaskConfig,
    PipelineTaskConnections,
    Struct,
    Task,
    connectionTypes,
)
from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

import stackclub
import stackclub.logs
from stackclub._exceptions import ArgumentTypeError, CommandError, StackClubError, TaskLogNotFoundError
from stackclub.logs import QUIET_LOGGERS, CapturedLogs, LogEntry, LogRecords, capture_logs, run_command

# -- a real Task with a subtask, named like Rubin's ip_isr (module lsst.ip.isr -> logger lsst.isr) --


class FringeConfig(Config):
    scale = Field[float](doc="Fringe amplitude to subtract.", default=0.5)


class FringeTask(Task):
    ConfigClass = FringeConfig
    _DefaultName = "fringe"
    __module__ = "lsst.ip.isr.fringe"

    def run(self, n_amps: int) -> float:
        self.log.debug("Fringe scale %.2f for %d amplifiers", self.config.scale, n_amps)
        self.log.trace("fringe trace detail")
        return self.config.scale * n_amps


class IsrConfig(Config):
    fringe = ConfigurableField(target=FringeTask, doc="Fringe subtraction.")


class IsrTask(Task):
    ConfigClass = IsrConfig
    _DefaultName = "isr"
    __module__ = "lsst.ip.isr.isrTask"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.makeSubtask("fringe")

    def run(self, n_amps: int) -> float:
        self.log.info("Processing %d amplifiers <& [a]>", n_amps)
        self.log.verbose("verbose detail")
        value = self.fringe.run(n_amps)
        if n_amps < 4:
            self.log.warning("Only %d good amplifiers", n_amps)
        return value


def _snapshot() -> dict[str, Any]:
    """Every logger level, handler list and handler filter list, to compare before/after."""
    loggers = [logging.getLogger()] + [
        v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)
    ]
    return {
        lg.name: (lg.level, list(lg.handlers), [list(h.filters) for h in lg.handlers], lg.propagate)
        for lg in loggers
    }


def _assert_restored(before: dict[str, Any]) -> None:
    """Loggers that existed are as they were; loggers made since are untouched defaults."""
    after = _snapshot()
    assert {name: after[name] for name in before} == before
    for name in set(after) - set(before):
        assert after[name] == (logging.NOTSET, [], [], True), name


def _summary(logs: LogRecords) -> list[tuple[str, str, str]]:
    return [(e.levelname, e.name, e.message) for e in logs.records]


# -- capture_logs ---------------------------------------------------------------------------------


def test_task_with_subtask_records_exact() -> None:
    task = IsrTask()
    assert task.log.name == "lsst.isr" and task.fringe.log.name == "lsst.isr.fringe"
    with capture_logs("TRACE", show=False) as logs:
        task.run(3)
    assert _summary(logs) == [
        ("INFO", "lsst.isr", "Processing 3 amplifiers <& [a]>"),
        ("VERBOSE", "lsst.isr", "verbose detail"),
        ("DEBUG", "lsst.isr.fringe", "Fringe scale 0.50 for 3 amplifiers"),
        ("TRACE", "lsst.isr.fringe", "fringe trace detail"),
        ("WARNING", "lsst.isr", "Only 3 good amplifiers"),
    ]
    assert [e.levelno for e in logs] == [20, 15, 10, 5, 30]
    assert logs.text.splitlines()[0] == "lsst.isr INFO: Processing 3 amplifiers <& [a]>"
    assert logs.text.splitlines()[-1] == "lsst.isr WARNING: Only 3 good amplifiers"


def test_default_level_is_info_and_catches_every_task_namespace() -> None:
    class MainTask(Task):
        ConfigClass = Config
        _DefaultName = "myTask"
        __module__ = "__main__"

    class ClubTask(Task):
        ConfigClass = Config
        _DefaultName = "isr"
        __module__ = "stackclub.pipe.isr"

    main, club, rubin = MainTask(), ClubTask(), IsrTask()
    with capture_logs(show=False) as logs:
        main.log.info("from the notebook")
        main.log.debug("not at INFO")
        club.log.info("from stackclub")
        rubin.run(5)
    assert _summary(logs) == [
        ("INFO", "__main__.myTask", "from the notebook"),
        ("INFO", "stackclub.isr", "from stackclub"),
        ("INFO", "lsst.isr", "Processing 5 amplifiers <& [a]>"),
    ]


def test_loggers_narrows() -> None:
    task = IsrTask()
    with capture_logs("DEBUG", loggers=["lsst.isr.fringe"], show=False) as logs:
        task.run(2)
        logging.getLogger("other").warning("not wanted")
    assert _summary(logs) == [("DEBUG", "lsst.isr.fringe", "Fringe scale 0.50 for 2 amplifiers")]
    with capture_logs("WARNING", loggers="lsst.isr", show=False) as logs:
        task.run(2)
    assert _summary(logs) == [("WARNING", "lsst.isr", "Only 2 good amplifiers")]


def test_quiet_middleware_and_third_party_keep_their_floor() -> None:
    assert QUIET_LOGGERS["lsst.daf"] == logging.INFO and QUIET_LOGGERS["matplotlib"] == logging.WARNING
    butler_log = lsst_logging.getLogger("lsst.daf.butler.registry")
    mpl_log = logging.getLogger("matplotlib.font_manager")
    with capture_logs("DEBUG", show=False) as logs:
        butler_log.debug("sql noise")
        butler_log.verbose("verbose noise")
        butler_log.info("butler info")
        mpl_log.info("font noise")
        mpl_log.warning("font warning")
        logging.getLogger("timer.lsst.daf.butler").debug("Took 0.1 seconds")
        logging.getLogger("__main__.t").debug("task debug")
    assert _summary(logs) == [
        ("INFO", "lsst.daf.butler.registry", "butler info"),
        ("WARNING", "matplotlib.font_manager", "font warning"),
        ("DEBUG", "__main__.t", "task debug"),
    ]
    # Named explicitly, a quiet namespace shows everything down to the level asked for.
    with capture_logs("DEBUG", loggers=["lsst.daf.butler"], show=False) as logs:
        butler_log.debug("sql noise")
        logging.getLogger("__main__.t").debug("not named")
    assert _summary(logs) == [("DEBUG", "lsst.daf.butler.registry", "sql noise")]
    # Named above it, the floor stays.
    with capture_logs("DEBUG", loggers=["lsst"], show=False) as logs:
        butler_log.debug("sql noise")
        logging.getLogger("lsst.isr").debug("isr debug")
    assert _summary(logs) == [("DEBUG", "lsst.isr", "isr debug")]


def test_levels_and_handlers_restored_when_the_block_raises() -> None:
    lsst_level = logging.getLogger("lsst").level
    logging.getLogger("lsst").setLevel(logging.INFO)  # as pipetask's CliLog leaves it
    try:
        before = _snapshot()
        root_level = logging.getLogger().level
        with pytest.raises(ValueError, match="boom"):
            with capture_logs("TRACE", show=False) as logs:
                assert logging.getLogger().level == 5 and logging.getLogger("lsst").level == 5
                IsrTask().run(1)
                raise ValueError("boom")
        assert len(logs) == 5
        _assert_restored(before)
        assert logging.getLogger().level == root_level
        assert logging.getLogger("lsst").level == logging.INFO
    finally:
        logging.getLogger("lsst").setLevel(lsst_level)


def test_explicit_levels_are_respected_unless_the_logger_is_named() -> None:
    log = logging.getLogger("__main__.quietTask")
    log.setLevel(logging.WARNING)  # the learner silenced this task on purpose
    try:
        with capture_logs("INFO", show=False) as logs:
            log.info("silenced")
            log.warning("still shown")
        assert [e.message for e in logs] == ["still shown"]
        with capture_logs("INFO", loggers=["__main__.quietTask"], show=False) as logs:
            log.info("asked for by name")
        assert [e.message for e in logs] == ["asked for by name"]
        assert log.level == logging.WARNING
    finally:
        log.setLevel(logging.NOTSET)


def test_other_handlers_do_not_print_more_while_capturing() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("{name} {levelname}: {message}", style="{"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        before = _snapshot()
        with capture_logs("DEBUG", show=False) as logs:
            logging.getLogger("__main__.t").info("only captured")
            logging.getLogger("__main__.t").warning("both")
        _assert_restored(before)
    finally:
        root.removeHandler(handler)
    assert [e.message for e in logs] == ["only captured", "both"]
    assert stream.getvalue() == "__main__.t WARNING: both\n"


def test_1000_enter_exit_cycles_and_1000_deep_nesting_leave_nothing_behind() -> None:
    before = _snapshot()
    log = logging.getLogger("__main__.cycle")
    for i in range(1000):
        with capture_logs("DEBUG", show=False) as outer, capture_logs("INFO", show=False) as inner:
            log.debug("d%d", i)
            log.info("i%d", i)
        assert [e.message for e in outer] == [f"d{i}", f"i{i}"]
        assert [e.message for e in inner] == [f"i{i}"]
    _assert_restored(before)

    with contextlib.ExitStack() as stack:
        captures = [stack.enter_context(capture_logs("INFO", show=False)) for _ in range(1000)]
        assert logging.getLogger().handlers.count(captures[0]._handler) == 1
        log.info("seen by all")
    assert all([e.message for e in c] == ["seen by all"] for c in captures)
    _assert_restored(before)


def test_nested_captures_show_each_record_once(capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("__main__.nest")
    with capture_logs("INFO") as outer:
        log.info("outer only")
        with capture_logs("INFO", loggers=["__main__.nest.sub"]) as inner:
            log.info("still outer")
            logging.getLogger("__main__.nest.sub").info("inner shows it")
        log.warning("after")
    assert capsys.readouterr().err == (
        "__main__.nest INFO: outer only\n"
        "__main__.nest INFO: still outer\n"
        "__main__.nest.sub INFO: inner shows it\n"
        "__main__.nest WARNING: after\n"
    )
    assert [e.message for e in outer] == ["outer only", "still outer", "inner shows it", "after"]
    assert [e.message for e in inner] == ["inner shows it"]


def test_terminal_shows_plain_lines_on_stderr_and_show_false_is_silent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with capture_logs():
        IsrTask().run(2)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "lsst.isr INFO: Processing 2 amplifiers <& [a]>\nlsst.isr WARNING: Only 2 good amplifiers\n"
    )
    with capture_logs(show=False):
        IsrTask().run(2)
    assert capsys.readouterr() == ("", "")


def test_no_double_print_with_an_rsp_ipython_handler(capsys: pytest.CaptureFixture[str]) -> None:
    class IPythonHandler(logging.Handler):  # the name lsst.rsp's notebook handler has
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.seen.append(f"{record.name} {record.levelname}: {record.getMessage()}")

    rsp = IPythonHandler()
    root = logging.getLogger()
    root.addHandler(rsp)
    try:
        with capture_logs("INFO") as logs:
            IsrTask().run(2)
            logging.getLogger("matplotlib").info("hidden by the floor")
    finally:
        root.removeHandler(rsp)
    assert capsys.readouterr().err == ""  # we did not show them a second time...
    assert rsp.seen == [  # ...because the platform's handler did, at the level we asked for
        "lsst.isr INFO: Processing 2 amplifiers <& [a]>",
        "lsst.isr WARNING: Only 2 good amplifiers",
    ]
    assert len(logs) == 2 and rsp.filters == []


def test_records_from_other_threads_are_kept() -> None:
    with capture_logs(show=False) as logs:
        t = threading.Thread(target=lambda: logging.getLogger("__main__.thread").info("from a thread"))
        t.start()
        t.join()
    assert _summary(logs) == [("INFO", "__main__.thread", "from a thread")]


def test_exception_records_keep_their_traceback() -> None:
    with capture_logs(show=False) as logs:
        try:
            raise KeyError("amp <C10>")
        except KeyError:
            logging.getLogger("lsst.isr").exception("amplifier failed")
    (entry,) = logs.records
    assert entry.levelname == "ERROR" and entry.exc_text is not None
    assert entry.exc_text.endswith("KeyError: 'amp <C10>'")
    assert logs.text.startswith("lsst.isr ERROR: amplifier failed\nTraceback (most recent call last):")
    assert "KeyError: &#x27;amp &lt;C10&gt;&#x27;" in logs._repr_html_()


def test_html_escapes_and_colours_by_level() -> None:
    with capture_logs("DEBUG", show=False) as logs:
        log = logging.getLogger("__main__.<x>")
        log.debug("<script>alert('x')</script> & [b]")
        log.warning("careful")
    html = logs._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; [b]" in html
    assert "__main__.&lt;x&gt;" in html
    assert '<span style="color: var(--jp-warn-color0, #b35c00); font-weight: bold">WARNING</span>' in html
    assert '<span style="color: var(--jp-success-color0, #2e7d32)">DEBUG</span>' in html
    assert str(logs) == logs.text
    assert repr(logs) == "<CapturedLogs: 2 records: 1 DEBUG, 1 WARNING (captured DEBUG+ from all loggers)>"
    bundle = logs._repr_mimebundle_()
    assert bundle["text/plain"] == logs.text and bundle["text/html"] == html


def test_to_table_and_select() -> None:
    with capture_logs("DEBUG", show=False) as logs:
        IsrTask().run(2)
    table = logs.to_table()
    assert table.colnames == ["time", "level", "levelno", "name", "message"]
    assert list(table["level"]) == ["INFO", "VERBOSE", "DEBUG", "WARNING"]
    assert list(table["name"]) == ["lsst.isr", "lsst.isr", "lsst.isr.fringe", "lsst.isr"]
    assert list(table["levelno"]) == [20, 15, 10, 30]
    assert table["time"].scale == "utc"
    assert [e.message for e in logs.select("WARNING")] == ["Only 2 good amplifiers"]
    assert [e.name for e in logs.select(logger="lsst.isr.fringe")] == ["lsst.isr.fringe"]
    assert len(LogRecords().to_table()) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"level": "LOUD"}, ValueError, r"unknown log level 'LOUD'; use one of .*TRACE.*VERBOSE"),
        ({"level": -1}, ValueError, "level must be >= 0"),
        (
            {"level": 2.5},
            ArgumentTypeError,
            r"capture_logs\(\): level must be a level name .*; got float 2\.5",
        ),
        ({"level": True}, ArgumentTypeError, "got bool True"),
        ({"loggers": []}, ValueError, r"loggers=\[\] would capture nothing"),
        (
            {"loggers": 5},
            ArgumentTypeError,
            r"capture_logs\(\): loggers must be a logger name such as 'lsst.isr', a list of names, "
            r"or None for every logger; got int 5\.",
        ),
        ({"loggers": ["lsst.isr", 5]}, ArgumentTypeError, r"each name in loggers must be .*; got int 5"),
        ({"max_shown": "10"}, ArgumentTypeError, r"max_shown must be an int .*; got str '10'"),
        ({"loggers": ["lsst..isr"]}, ValueError, "'lsst..isr' is not a logger name"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    before = _snapshot()
    with pytest.raises(error, match=match):
        capture_logs(**kwargs)
    _assert_restored(before)


def test_level_names_and_numbers() -> None:
    for level, number in [("trace", 5), ("VERBOSE", 15), ("Info", 20), (" warning ", 30), (25, 25)]:
        assert capture_logs(level).level == number


def test_a_capture_is_entered_once() -> None:
    capture = capture_logs(show=False)
    with capture:
        pass
    with pytest.raises(RuntimeError, match="entered only once"):
        capture.__enter__()


def test_public_api_is_registered() -> None:
    assert stackclub.capture_logs is capture_logs
    assert stackclub.run_command is run_command
    assert stackclub.show_task_log is stackclub.logs.show_task_log
    assert {"capture_logs", "run_command", "show_task_log"} <= set(stackclub.__all__)
    assert isinstance(capture_logs(), CapturedLogs)
    assert issubclass(CommandError, StackClubError) and issubclass(TaskLogNotFoundError, LookupError)


def test_log_entry_survives_a_bad_format_call() -> None:
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "%d items", ("many",), None)
    assert LogEntry.from_record(record).message.startswith("'%d items' % ('many',) (could not format:")


# -- show_task_log: a real pipeline run into a real SQLite repository ---------------------------


class ClubLogConnections(PipelineTaskConnections, dimensions=()):
    club_input = connectionTypes.Input(
        name="club_input", doc="A dict to read.", storageClass="StructuredDataDict"
    )
    club_output = connectionTypes.Output(
        name="club_output", doc="The dict, with one more key.", storageClass="StructuredDataDict"
    )


class ClubLogConfig(PipelineTaskConfig, pipelineConnections=ClubLogConnections):
    key = Field[str](doc="Key the task adds.", default="seen")


class ClubLogTask(PipelineTask):
    """A PipelineTask without dimensions that logs at three levels."""

    ConfigClass = ClubLogConfig
    _DefaultName = "clubLog"

    def run(self, club_input: dict[str, int]) -> Struct:
        self.log.info("Read %d keys <from the butler>", len(club_input))
        self.log.debug("Adding key %r", self.config.key)
        self.log.warning("Nothing to do & nothing done")
        return Struct(club_output={**club_input, self.config.key: 1})


TASK_LOGGER = f"{ClubLogTask.__module__.split('.')[0]}.clubLog"


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, CapturedLogs]:
    """A SQLite repository in which ClubLogTask ran once (with its log at DEBUG)."""
    root = str(tmp_path_factory.mktemp("repo"))
    Butler.makeRepo(root)
    with Butler.from_config(root, writeable=True) as butler:
        butler.registry.registerDatasetType(
            DatasetType("club_input", (), "StructuredDataDict", universe=butler.dimensions)
        )
        butler.collections.register("inputs")
        butler.put({"a": 1, "b": 2}, "club_input", run="inputs")
    butler = SimplePipelineExecutor.prep_butler(root, inputs=["inputs"], output="u/club/run")
    executor = SimplePipelineExecutor.from_task_class(ClubLogTask, butler=butler)
    with capture_logs("DEBUG", loggers=[TASK_LOGGER], show=False) as logs:
        quanta = executor.run(register_dataset_types=True)
    assert len(quanta) == 1
    return butler, logs


def test_show_task_log_reads_back_what_the_run_logged(pipeline_run: tuple[Any, CapturedLogs]) -> None:
    butler, live = pipeline_run
    expected = [
        ("INFO", TASK_LOGGER, "Read 2 keys <from the butler>"),
        ("DEBUG", TASK_LOGGER, "Adding key 'seen'"),
        ("WARNING", TASK_LOGGER, "Nothing to do & nothing done"),
    ]
    assert _summary(live) == expected
    stored = stackclub.show_task_log(butler, "clubLog")
    assert isinstance(stored, LogRecords) and stored.title == "clubLog_log"
    assert _summary(stored.select(logger=TASK_LOGGER)) == expected
    assert stored.select(logger=TASK_LOGGER).text == live.text  # rendered the same way
    assert str(stored).splitlines()[0] == "clubLog_log"
    html = stored._repr_html_()
    assert "<b>clubLog_log</b>" in html and "Read 2 keys &lt;from the butler&gt;" in html
    assert "Nothing to do &amp; nothing done" in html
    warnings = stackclub.show_task_log(butler, "clubLog", {}, collections="u/club/run", level="WARNING")
    assert _summary(warnings) == [expected[2]]
    assert warnings[0].time.tzinfo is not None


def test_show_task_log_errors_say_what_exists(pipeline_run: tuple[Any, CapturedLogs]) -> None:
    butler, _ = pipeline_run
    with pytest.raises(
        TaskLogNotFoundError, match=r"no dataset type 'isr_log'; task labels with a stored log: clubLog\."
    ):
        stackclub.show_task_log(butler, "isr")
    with pytest.raises(
        TaskLogNotFoundError, match=r"no 'clubLog_log' dataset for data ID \{\} in collections \['inputs'\]"
    ):
        stackclub.show_task_log(butler, "clubLog", collections="inputs")
    empty = DataCoordinate.make_empty(butler.dimensions)  # a data ID object works like a dict
    with pytest.raises(TaskLogNotFoundError, match=r"for data ID \{\} in collections \['inputs'\]"):
        stackclub.show_task_log(butler, "clubLog", empty, collections=["inputs"])
    missing = r"No collections with names '(a b|b a)' found\. \(searched \['a', 'b'\]\)"
    with pytest.raises(TaskLogNotFoundError, match=missing):
        stackclub.show_task_log(butler, "clubLog", collections=["a", "b"])
    assert len(stackclub.show_task_log(butler, "clubLog", empty, collections="u/club/run")) >= 3


# -- in a real Jupyter kernel ---------------------------------------------------------------------

KERNEL_SETUP = """
import logging
from lsst.pex.config import Config, ConfigurableField
from lsst.pipe.base import Task
import stackclub

class FringeTask(Task):
    ConfigClass = Config
    _DefaultName = "fringe"
    def run(self):
        self.log.info("fringe <amp> & done")

class MyConfig(Config):
    fringe = ConfigurableField(target=FringeTask, doc="Fringe subtask.")

class MyTask(Task):
    ConfigClass = MyConfig
    _DefaultName = "myTask"
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.makeSubtask("fringe")
    def run(self):
        self.log.info("start")
        print("printed by the task")
        self.fringe.run()
        self.log.debug("debug detail")
        self.log.warning("careful")

def state():
    root = logging.getLogger()
    return root.level, [type(h).__name__ for h in root.handlers]

before = state()
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real IPython kernel running this interpreter (so it imports this checkout's stackclub)."""
    import json

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path_factory.mktemp("kernels") / "stackclub-test"
    spec_dir.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "t", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    km = KernelManager(kernel_name="stackclub-test", kernel_spec_manager=specs)
    km.start_kernel(cwd=str(spec_dir))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        assert _run_in(kc, KERNEL_SETUP) == []
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run_in(kc: Any, code: str) -> list[tuple[str, Any]]:
    """Execute ``code``; return the cell's outputs as (kind, content) in order, streams coalesced."""
    outputs: list[tuple[str, Any]] = []

    def hook(msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            if outputs and outputs[-1][0] == content["name"]:
                outputs[-1] = (content["name"], outputs[-1][1] + content["text"])
            else:
                outputs.append((content["name"], content["text"]))
        elif kind in ("display_data", "execute_result", "update_display_data"):
            outputs.append((kind, content["data"]))
        elif kind == "error":
            outputs.append(("error", f"{content['ename']}: {content['evalue']}"))

    kc.execute_interactive(code, output_hook=hook, timeout=120)
    return outputs


def test_kernel_cell_shows_task_records_as_they_arrive(kernel: Any) -> None:
    outputs = _run_in(
        kernel,
        "with stackclub.capture_logs() as logs:\n    MyTask().run()\nprint(state() == before, len(logs))",
    )
    kinds = [kind for kind, _ in outputs]
    assert kinds == ["display_data", "stdout", "display_data", "display_data", "stdout"]
    texts = [data["text/plain"] for kind, data in outputs if kind == "display_data"]
    assert texts == [
        "__main__.myTask INFO: start",
        "__main__.myTask.fringe INFO: fringe <amp> & done",
        "__main__.myTask WARNING: careful",
    ]
    assert outputs[1][1] == "printed by the task\n"  # in order with the records
    html = outputs[2][1]["text/html"]
    assert "fringe &lt;amp&gt; &amp; done" in html and "<amp>" not in html
    assert 'var(--jp-info-color0, #01579b)">INFO</span>' in html
    assert outputs[-1][1] == "True 3\n"  # levels and handlers restored; the object kept the records


def test_kernel_cell_magic(kernel: Any) -> None:
    assert _run_in(kernel, "%load_ext stackclub") == []
    cell = "%%capture_logs DEBUG --loggers __main__.myTask.fringe -o fringe_logs\nMyTask().run()"
    fringe_line = "__main__.myTask.fringe INFO: fringe <amp> & done"
    assert _run_in(kernel, cell) == [
        ("stdout", "printed by the task\n"),
        ("display_data", {"text/plain": fringe_line, "text/html": ANY_HTML}),
    ]
    assert _run_in(kernel, "print(repr(fringe_logs.text), state() == before)") == [
        ("stdout", "'__main__.myTask.fringe INFO: fringe <amp> & done' True\n")
    ]
    # An error in the cell is shown as usual; the records before it are shown and the loggers restored.
    outputs = _run_in(kernel, "%%capture_logs --max-shown 1\nMyTask().run()")
    assert [kind for kind, _ in outputs] == ["display_data", "stdout", "display_data"]
    assert outputs[2][1]["text/plain"].startswith("… 2 more records not shown (max_shown=1); all 3 are kept")
    outputs = _run_in(kernel, "%%capture_logs WARNING -o failed\nMyTask().run()\n1 / 0")
    assert [kind for kind, _ in outputs] == ["stdout", "display_data", "error"]
    assert outputs[1][1]["text/plain"] == "__main__.myTask WARNING: careful"
    assert outputs[2][1] == "ZeroDivisionError: division by zero"
    assert _run_in(kernel, "print(len(failed), state() == before)") == [("stdout", "1 True\n")]


class _AnyHtml:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith('<div class="stackclub-logs"><pre')


ANY_HTML = _AnyHtml()


def test_notebook_with_captured_task_log_passes_nbval(tmp_path: Path) -> None:
    """Executed and stored like `make notebooks` does, then checked by strict nbval in a fresh kernel."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(KERNEL_SETUP),
        nbformat.v4.new_code_cell("with stackclub.capture_logs() as logs:\n    MyTask().run()"),
        nbformat.v4.new_code_cell("%load_ext stackclub"),
        nbformat.v4.new_code_cell("%%capture_logs DEBUG\nMyTask().run()"),
        # print(): a Table's own HTML carries a per-run id="table<number>" that nbval would flag
        nbformat.v4.new_code_cell("print(logs.to_table()['level', 'name', 'message'])"),
    ]
    # python3 is the native kernel: this interpreter (the project's venv).
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    stored = nb.cells[1].outputs
    assert [o.output_type for o in stored] == ["display_data", "stream", "display_data", "display_data"]
    assert stored[0].data["text/plain"] == "__main__.myTask INFO: start"
    assert [o.data["text/plain"] for o in nb.cells[3].outputs if o.output_type == "display_data"] == [
        "__main__.myTask INFO: start",
        "__main__.myTask.fringe INFO: fringe <amp> & done",
        "__main__.myTask DEBUG: debug detail",
        "__main__.myTask WARNING: careful",
    ]
    path = tmp_path / "logs.ipynb"
    nbformat.write(nb, path)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    ini = str(tmp_path / "pytest.ini")
    args = ["--nbval", "--nbval-current-env", "-q", "-p", "no:cacheprovider", "-c", ini]
    check = subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout[-3000:]
    assert "5 passed" in check.stdout


@pytest.mark.parametrize("module", ["logs", "log_records", "commands", "task_log"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"stackclub.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 1


def test_kernel_run_command_streams_into_the_cell(kernel: Any) -> None:
    code = (
        "import sys\n"
        "child = 'import sys; print(1); print(2, file=sys.stderr)'\n"
        "r = stackclub.run_command([sys.executable, '-c', child])\n"
        "r"
    )
    outputs = _run_in(kernel, code)
    assert outputs[0] == ("stdout", "1\n2\n")  # stderr merged, in the cell as a stream
    assert outputs[1][0] == "execute_result"  # the result shows a summary, not the output again
    assert "exited with code <b>0</b> (2 lines of output" in outputs[1][1]["text/html"]
    assert len(outputs) == 2


def test_max_shown_limits_what_is_shown_not_what_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("__main__.chatty")
    with capture_logs("INFO", max_shown=2) as logs:
        for i in range(5):
            log.info("record %d", i)
    assert capsys.readouterr().err == (
        "__main__.chatty INFO: record 0\n"
        "__main__.chatty INFO: record 1\n"
        "… 3 more records not shown (max_shown=2); all 5 are kept: .records, .text, .to_table()\n"
    )
    assert len(logs) == 5
    with capture_logs("INFO", max_shown=None) as logs:
        for i in range(3):
            log.info("record %d", i)
    assert capsys.readouterr().err.count("\n") == 3
    with pytest.raises(ValueError, match="max_shown must be >= 0"):
        capture_logs(max_shown=-1)
    with pytest.raises(
        TypeError, match=r"max_shown must be an int \(how many to show\) or None \(all\); got float"
    ):
        capture_logs(max_shown=1.5)  # type: ignore[arg-type]


def test_capture_and_run_command_do_not_need_the_stack() -> None:
    """capture_logs and run_command are plain logging/subprocess: importing them loads no lsst.*"""
    code = (
        "import sys, logging, stackclub\n"
        "with stackclub.capture_logs(show=False) as logs:\n"
        "    logging.getLogger('x').info('hi')\n"
        "stackclub.run_command([sys.executable, '-c', 'pass'])\n"
        "print(logs.text, sorted(m for m in sys.modules if m.startswith('lsst')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "x INFO: hi []\n"


def test_50k_records_render_at_most_max_shown(capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("__main__.flood")
    with capture_logs("INFO", max_shown=1000, show=False) as logs:
        for i in range(50_000):
            log.info("record %d <of many>", i)
    html, text = logs._repr_html_(), str(logs)
    note = "… 49000 more records not shown (max_shown=1000); all 50000 are kept: .records, .text, .to_table()"
    assert html.count("record ") == 1000 and "record 999 &lt;of many&gt;" in html
    assert note in html and len(html) < 400_000  # 50k records rendered whole: 7.4 MB
    assert text.splitlines() == [f"__main__.flood INFO: record {i} <of many>" for i in range(1000)] + [note]
    assert len(logs.text.splitlines()) == 50_000 and len(logs.records) == 50_000  # all kept
    everything = LogRecords(logs.records, max_shown=None)
    assert str(everything).count("\n") == 49_999
    assert logs.select("INFO").max_shown == 1000
    assert capsys.readouterr().err == ""


def test_the_harmless_eups_record_is_left_out_unless_asked_for() -> None:
    packages = logging.getLogger("lsst.utils.packages")
    eups = "Unable to import eups, so cannot determine package versions from environment"
    with capture_logs("INFO", show=False) as logs:
        packages.warning(eups)
        packages.warning("Unable to import something else")
        logging.getLogger("lsst.isr").warning("Unable to import eups (but said by a task)")
    assert [(e.name, e.message) for e in logs] == [
        ("lsst.utils.packages", "Unable to import something else"),
        ("lsst.isr", "Unable to import eups (but said by a task)"),
    ]
    with capture_logs("INFO", show=False, hide_harmless=False) as logs:
        packages.warning(eups)
    assert logs.text == f"lsst.utils.packages WARNING: {eups}"
    assert ("lsst.utils.packages", "Unable to import eups") in stackclub.logs.HARMLESS_RECORDS
