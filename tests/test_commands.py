"""stackclub.commands: run_command streams a real subprocess into the cell, and cleans up after it.

Real programs only: the venv's ``pipetask`` and ``python``, ``sh`` with a sleeping grandchild.
"""

from __future__ import annotations

import io
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stackclub._exceptions import ArgumentTypeError, CommandError
from stackclub.commands import CommandResult, child_path, environment_bin_dirs, run_command

BIN = Path(sys.executable).parent


def test_run_command_on_real_pipetask_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (BIN / "pipetask").is_file()
    # Not on PATH, as in a kernel whose venv is not activated: found beside the running Python.
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_command("pipetask --help")
    assert result.returncode == 0 and result.args == ("pipetask", "--help")
    assert "Usage: pipetask [OPTIONS] COMMAND [ARGS]..." in result.output
    assert any(line.split()[:1] == ["run"] for line in result.lines)  # the `run` subcommand is listed
    assert capsys.readouterr().out == result.output  # streamed as it came
    assert repr(result).startswith("<CommandResult: 'pipetask --help' exited 0, ")
    assert "exited with code <b>0</b>" in result._repr_html_()
    assert str(result) == result.output


def test_run_command_failure_raises_with_the_tail(capsys: pytest.CaptureFixture[str]) -> None:
    code = (
        "import sys\nfor i in range(30): print('line', i)\n"
        "print('fatal <error>', file=sys.stderr)\nsys.exit(3)"
    )
    with pytest.raises(
        CommandError, match=r"failed: it exited with code 3\. Its last 5 of 31 lines:"
    ) as info:
        run_command([sys.executable, "-c", code], tail=5)
    err = info.value
    assert err.returncode == 3
    assert err.tail == ["line 26", "line 27", "line 28", "line 29", "fatal <error>"]
    assert str(err).splitlines()[1:6] == [
        "    line 26",
        "    line 27",
        "    line 28",
        "    line 29",
        "    fatal <error>",
    ]
    assert err.output.splitlines()[0] == "line 0" and len(err.output.splitlines()) == 31
    assert capsys.readouterr().out == err.output  # stderr merged in order, streamed
    # check=False returns instead
    result = run_command([sys.executable, "-c", code], show=False, check=False)
    assert result.returncode == 3 and result.lines[-1] == "fatal <error>"


def test_run_command_streams_line_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child waits for a file that we create only once we have *seen* its first line."""
    flag = tmp_path / "go"
    code = textwrap.dedent(
        f"""
        import pathlib, time
        print("first")
        while not pathlib.Path({str(flag)!r}).exists():
            time.sleep(0.01)
        print("second")
        """
    )

    class Watcher(io.StringIO):
        def write(self, text: str) -> int:
            if text == "first\n":
                flag.touch()
            return super().write(text)

    out = Watcher()
    monkeypatch.setattr(sys, "stdout", out)
    result = run_command([sys.executable, "-c", code], timeout=60)
    assert out.getvalue() == "first\nsecond\n" == result.output


@pytest.mark.parametrize(
    ("command", "kwargs", "match"),
    [
        ("no-such-program-xyz --help", {}, r"'no-such-program-xyz' was not found on PATH nor in "),
        (
            [sys.executable, "-c", "import time; print('started'); time.sleep(60)"],
            {"timeout": 0.5},
            r"timed out after 0.5 s\.",  # (on a loaded machine the child may not have printed yet)
        ),
        ("", {}, "needs a command to run"),
    ],
)
def test_run_command_errors(command: Any, kwargs: dict[str, Any], match: str) -> None:
    error = ValueError if command == "" else CommandError
    with pytest.raises(error, match=match):
        run_command(command, show=False, **kwargs)


def test_run_command_env_and_cwd(tmp_path: Path) -> None:
    code = (
        "import os\nprint(os.getcwd())\nprint(os.environ['STACKCLUB_TEST'], os.environ['PYTHONUNBUFFERED'])"
    )
    result = run_command(
        [sys.executable, "-c", code], cwd=tmp_path, env={"STACKCLUB_TEST": "x y"}, show=False
    )
    assert result.lines == [str(tmp_path), "x y 1"]


# -- the kernel's environment on the child's PATH ----------------------------------------------


def test_environment_bin_dirs_keep_the_venv_not_the_interpreter_it_links_to() -> None:
    dirs = environment_bin_dirs()
    assert dirs[0] == str(BIN)  # the directory the interpreter was started from
    assert (BIN / "pipetask").is_file() and (BIN / "stackclub").is_file()
    if Path(sys.executable).is_symlink():  # a venv: python links to the base interpreter
        assert str(Path(sys.executable).resolve().parent) not in dirs[:1]
    assert child_path("/usr/bin:/bin").split(os.pathsep) == [*dirs, "/usr/bin", "/bin"]
    assert child_path(f"/bin{os.pathsep}{BIN}").split(os.pathsep) == [*dirs, "/bin"]  # no repeat


def test_a_command_that_runs_another_console_script_finds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """As ``bps submit`` runs ``pipetask``: the child itself looks the second tool up on PATH."""
    monkeypatch.setenv("PATH", "/nonexistent")  # a kernel whose venv is not activated
    child = (
        "import os, shutil, subprocess\n"
        "print(os.environ['PATH'].split(os.pathsep)[0])\n"
        "print(shutil.which('pipetask'))\n"
        "subprocess.run(['pipetask', '--help'], check=True)\n"
    )
    result = run_command(["python", "-c", child], show=False)  # `python`: the venv's, by name
    first, found, *rest = result.lines
    assert first == str(BIN)
    assert found == str(BIN / "pipetask")
    assert "Usage: pipetask [OPTIONS] COMMAND [ARGS]..." in rest
    # An explicit PATH= is the caller's choice, and wins.
    with pytest.raises(CommandError, match="exited with code 1"):
        run_command([sys.executable, "-c", child], env={"PATH": "/nonexistent"}, show=False)


def test_a_real_console_script_chain_stackclub_runs_pipetask(monkeypatch: pytest.MonkeyPatch) -> None:
    """``stackclub`` (a console script) runs ``python`` which runs ``pipetask`` -- all by name."""
    monkeypatch.setenv("PATH", "/nonexistent")
    result = run_command(
        ["python", "-c", "import subprocess; subprocess.run(['stackclub', '--help'], check=True)"],
        show=False,
    )
    assert "Usage: stackclub" in result.output


# -- timeouts and interrupts end the whole process group ----------------------------------------


def _gone(pid: int, wait: float = 30.0) -> bool:
    """Whether process ``pid`` has ended (a zombie awaiting its reaper counts as ended)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            state = "?"
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_timeout_kills_the_grandchildren_too() -> None:
    """A shell that starts a sleeping grandchild (as ``pipetask -j`` starts workers) and waits."""
    script = "sleep 300 & echo $!; wait"
    with pytest.raises(CommandError, match=r"timed out after 3 s") as info:
        run_command(["sh", "-c", script], timeout=3, show=False)
    printed = info.value.output.split()
    assert printed, "the shell printed no pid within 3 s: the machine is too loaded for this test"
    grandchild = int(printed[0])
    assert _gone(grandchild), f"the grandchild (sleep, pid {grandchild}) still runs after the timeout"


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_a_grandchild_that_ignores_sigterm_is_killed_too() -> None:
    child = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "p = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    with pytest.raises(CommandError, match="timed out") as info:
        run_command([sys.executable, "-c", child], timeout=5, show=False)
    printed = info.value.output.split()
    assert printed, "the child printed no pid within 5 s: the machine is too loaded for this test"
    assert _gone(int(printed[0]))


# -- bad arguments say which and what to pass ---------------------------------------------------


def test_missing_working_directory_is_named() -> None:
    with pytest.raises(CommandError, match=r"its working directory '/nonexistent' does not exist") as info:
        run_command("echo hi", cwd="/nonexistent")
    assert "was not found on PATH" not in str(info.value)


def test_working_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(CommandError, match="is a file, not a directory"):
        run_command("echo hi", cwd=tmp_path / "f")


@pytest.mark.parametrize(
    ("command", "kwargs", "match"),
    [
        (
            None,
            {},
            r"run_command\(\): command must be a command line such as 'pipetask --help', or a list of "
            r"arguments such as \['pipetask', '--help'\]; got None\.",
        ),
        (5, {}, r"command must be a command line .*; got int 5"),
        (["echo", object()], {}, r"command\[1\] must be a string \(or a path or number\)"),
        ("echo hi", {"cwd": 3}, r"cwd must be a directory path"),
        ("echo hi", {"env": ["A=1"]}, r"env must be a dict of extra environment variables"),
        ("echo hi", {"timeout": "10"}, r"timeout must be a number of seconds, or None; got str '10'"),
        ("echo hi", {"max_shown": 2.5}, r"max_shown must be an int"),
    ],
)
def test_wrong_argument_types(command: Any, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ArgumentTypeError, match=match):
        run_command(command, show=False, **kwargs)


def test_numbers_in_an_argument_list_are_passed_as_text() -> None:
    result = run_command([sys.executable, "-c", "import sys; print(sys.argv[1:])", 2, 1.5], show=False)
    assert result.output == "['2', '1.5']\n"


# -- long output: at most max_shown lines in the cell, the rest in a file --------------------------


def test_100k_lines_show_max_shown_and_say_where_the_rest_is(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_command([sys.executable, "-c", "for i in range(100_000): print(i)"], max_shown=1000)
    shown = capsys.readouterr().out.splitlines()
    assert shown[:1000] == [str(i) for i in range(1000)]
    assert result.output_file is not None
    assert shown[1000] == (
        f"… 99000 more lines not shown (max_shown=1000); the whole output is in {result.output_file} "
        "and on the result's .output. Its last 20 lines:"
    )
    assert shown[1001:] == [str(i) for i in range(99_980, 100_000)]
    assert len(result.lines) == 100_000
    assert result.output_file.read_text() == result.output
    result.output_file.unlink()


def test_short_output_writes_no_file(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_command([sys.executable, "-c", "print(1)"], max_shown=1)
    assert result.output_file is None and capsys.readouterr().out == "1\n"
    result = run_command([sys.executable, "-c", "print(1); print(2)"], max_shown=None)
    assert result.output_file is None and capsys.readouterr().out == "1\n2\n"


def test_harmless_eups_line_is_not_shown_but_kept(capsys: pytest.CaptureFixture[str]) -> None:
    eups = "lsst.utils.packages WARNING: Unable to import eups, so cannot determine package versions"
    code = f"print({eups!r}); print('lsst.isr INFO: Unable to import eups (our own words)'); print('done')"
    result = run_command([sys.executable, "-c", code])
    assert capsys.readouterr().out == "lsst.isr INFO: Unable to import eups (our own words)\ndone\n"
    assert result.lines[0] == eups
    run_command([sys.executable, "-c", code], hide_harmless=False)
    assert capsys.readouterr().out.splitlines()[0] == eups


def test_result_renders_a_summary() -> None:
    result = CommandResult(("echo", "<hi>"), 0, "<hi>\n")
    assert result.command == "echo '<hi>'"
    assert "<code>echo &#x27;&lt;hi&gt;&#x27;</code> exited with code <b>0</b>" in result._repr_html_()
