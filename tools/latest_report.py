r"""Write ``reports/latest.md`` for ``make test-latest``: what moved against the lock, and what broke.

A maintainer's tool, not part of the library.  Run by the Makefile inside ``.venv-latest`` (the
newest versions, no lock) after pytest has run the unit tests and every notebook (nbval) with ``--junitxml``::

    python tools/latest_report.py --lock requirements/lock.txt --junit reports/latest-junit.xml \
        --pytest-exit 1 --output reports/latest.md

It compares the versions installed here with the lock's, and lists each failing test or notebook
cell with the exception and the first output line that differs from the committed one.  Exit
status 1 iff anything broke (a failure, an error, or pytest itself not finishing cleanly).
"""

from __future__ import annotations

__all__ = (
    "Failure",
    "Move",
    "main",
    "parse_junit",
    "render_report",
    "version_moves",
)

import argparse
import datetime
import html
import json
import platform
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackclub._lock import Pin, installed_versions, read_lock

# pytest writes ESC as the text "#x1B" in its XML (XML 1.0 cannot hold it); IPython colours tracebacks.
_ANSI = re.compile(r"(?:\x1b|#x1B)\[[0-9;]*[A-Za-z]")
_EXCEPTION_LINE = re.compile(
    r"^([A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt|Failure|Failed)\w*)(?::\s*(.*))?$"
)
_NB_CELL = re.compile(r"^Cell (\d+)$")
# In every virtual environment but never in a lock (uv leaves them out): not "new" packages.
_INSTALLERS = frozenset({"pip", "setuptools", "wheel", "stackclub"})
_MAX = 300


def _clean(text: str) -> str:
    return _ANSI.sub("", text)


def _clip(text: str, limit: int = _MAX) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Move:
    """One package whose version here differs from the lock's (``old`` or ``new`` `None`: absent)."""

    name: str
    old: str | None
    new: str | None

    def __str__(self) -> str:
        return f"{self.name} {self.old or '(not in the lock)'} -> {self.new or '(not installed)'}"


@dataclass(frozen=True)
class Failure:
    """One failing test or notebook cell, as the report shows it.

    Attributes
    ----------
    test_id
        ``tests/test_x.py::test_y`` or ``notebooks/03_DataButler.ipynb::Cell 12``.
    notebook, cell
        For a notebook cell: the notebook's path and the cell number nbval reports (else `None`).
    kind
        ``"failure"`` or ``"error"`` (an error outside the test body, e.g. in a fixture).
    exception
        The exception (``ZeroDivisionError: division by zero``), or what nbval found
        (``outputs differ (stdout)``).
    first_difference
        The first differing output line: ``committed: ... | now: ...``, or `None`.
    """

    test_id: str
    notebook: str | None
    cell: int | None
    kind: str
    exception: str
    first_difference: str | None


def version_moves(pins: Mapping[str, Pin], installed: Mapping[str, str]) -> list[Move]:
    """Compare the lock's pins (for this platform) with the installed versions.

    Parameters
    ----------
    pins
        From `stackclub._lock.read_lock`.
    installed
        Normalized name -> installed version.

    Returns
    -------
    moves : `list` [`Move`]
        Packages at another version, new packages (not in the lock) and packages the lock has
        but this environment does not; sorted by name. ``stackclub`` itself is left out.

    Examples
    --------
    >>> from stackclub._lock import Pin
    >>> [str(m) for m in version_moves({"numpy": Pin("numpy", "2.5.4")}, {"numpy": "2.6.0", "uv": "1.0"})]
    ['numpy 2.5.4 -> 2.6.0', 'uv (not in the lock) -> 1.0']
    """
    moves = []
    for key, pin in pins.items():
        if not pin.applies():
            continue
        new = installed.get(key)
        if new != pin.version:
            moves.append(Move(pin.name, pin.version, new))
    for key, version in installed.items():
        if key not in pins and key not in _INSTALLERS:
            moves.append(Move(key, None, version))
    return sorted(moves, key=lambda m: m.name.lower())


def _test_id(classname: str, name: str, root: Path) -> tuple[str, str | None, int | None]:
    """Rebuild pytest's node id from junit's classname (dotted path) and name."""
    cell = _NB_CELL.match(name)
    if not classname:  # a module that failed to import: junit names it tests.test_x
        module = name.replace(".", "/") + ".py"
        return (module if (root / module).is_file() else name), None, None
    if classname.endswith(".ipynb"):
        notebook = classname[: -len(".ipynb")].replace(".", "/") + ".ipynb"
        return f"{notebook}::{name}", notebook, int(cell.group(1)) if cell else None
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        module = "/".join(parts[:i]) + ".py"
        if (root / module).is_file():
            return "::".join([module, *parts[i:], name]), None, None
    return f"{classname}::{name}", None, None


def _pair(committed: str | None, now: str | None) -> str:
    """Format ``committed: ... | now: ...``, HTML shown as its text when that still shows the difference."""
    plain = [
        None if x is None else " ".join(html.unescape(re.sub(r"<[^>]*>", " ", x)).split())
        for x in (committed, now)
    ]
    if plain != [committed, now] and plain[0] != plain[1] and all(p != "" for p in plain):
        committed, now = plain
    return _clip(
        f"committed: {committed if committed is not None else '(no such line)'} | "
        f"now: {now if now is not None else '(no such line)'}"
    )


def _nbval_difference(text: str) -> str | None:
    """Find the first differing line of nbval's "Cell outputs differ" (pytest's reference == test diff)."""
    lines = [ln.strip() for ln in text.splitlines()]
    for line in lines:
        if line.startswith(("Missing output fields", "Unexpected output fields")):
            return _clip(line)
    # nbval compares `reference == test`; pytest's diff marks the right side (the new output) with
    # "-", the left side (the committed output) with "+", and the changed characters on "?" lines.
    diff = [ln for ln in lines if ln.startswith(("- ", "+ ", "? "))]
    first = next((i for i, ln in enumerate(diff) if ln[0] in "-+"), None)
    if first is not None:
        sign, line = diff[first][0], diff[first][2:]
        rest = [ln for ln in diff[first + 1 :] if ln[0] != "?"]
        other = rest[0][2:] if rest and rest[0][0] != sign else None
        if other is not None:  # a changed line: the pair
            committed, now = (line, other) if sign == "+" else (other, line)
            return _pair(committed, now)
        return _pair(None, line) if sign == "-" else _pair(line, None)
    # nbval's other format: the committed outputs, then the new ones, in full.
    m = re.search(
        r"Reference outputs? from ipynb file:(.*?)=+ disagrees with newly computed "
        r"\(test\) output:(.*?)>{12}",
        text,
        re.S,
    )
    if m:
        ref_lines = [ln.strip() for ln in m.group(1).splitlines() if ln.strip()]
        test_lines = [ln.strip() for ln in m.group(2).splitlines() if ln.strip()]
        for i in range(max(len(ref_lines), len(test_lines))):
            a = ref_lines[i] if i < len(ref_lines) else None
            b = test_lines[i] if i < len(test_lines) else None
            if a != b:
                return _pair(a, b)
    return None


def _last_exception(text: str) -> str | None:
    for line in reversed(text.splitlines()):
        m = _EXCEPTION_LINE.match(line.strip())
        if m:
            return _clip(line.strip())
    return None


def _notebook_failure(text: str) -> tuple[str, str | None]:
    reason_match = re.search(r"^Cell \d+: (.+)$", text, re.M)
    reason = reason_match.group(1).strip() if reason_match else "Notebook cell execution failed"
    if "outputs differ" in reason:
        keys = re.findall(r"mismatch '([^']+)'|for key \"([^\"]+)\"", text)
        keys = [a or b for a, b in keys]
        what = f"outputs differ ({', '.join(dict.fromkeys(keys))})" if keys else "outputs differ"
        return what, _nbval_difference(text)
    return _last_exception(text) or _clip(reason), None


def _unit_failure(message: str, text: str) -> tuple[str, str | None]:
    e_lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    first = message.splitlines()[0].strip() if message.strip() else (e_lines[0] if e_lines else "")
    type_match = re.search(r"^\S+:\d+: (\w+)$", text.strip().splitlines()[-1]) if text.strip() else None
    exc_type = type_match.group(1) if type_match else None
    phase = re.match(r'^failed on (setup|teardown) with "(.*)"$', first)
    if phase:  # an error outside the test body (a fixture): pytest's message quotes the exception
        exception = f"{phase.group(2)} (in {phase.group(1)})"
    elif first == "collection failure":  # the test module did not import
        last = next((ln for ln in reversed(e_lines) if _EXCEPTION_LINE.match(ln)), None)
        exception = f"{last or text.strip().splitlines()[0]} (collecting the module)"
    elif exc_type is None or first.startswith(exc_type):
        exception = first
    else:
        exception = f"{exc_type}: {first}"
    difference = None
    for line in e_lines[1:]:
        if line.startswith(("At index", "Differing items", "Left contains", "Right contains", "- ", "+ ")):
            difference = line
            break
    return _clip(exception), (_clip(difference) if difference else None)


def parse_junit(path: str | Path, *, root: str | Path = ".") -> tuple[dict[str, int], list[Failure]]:
    """Read pytest's ``--junitxml`` file: the counts, and one `Failure` per failing test or cell.

    Parameters
    ----------
    path
        The junit XML file.
    root
        The directory pytest ran in (to rebuild test ids from junit's dotted class names).

    Returns
    -------
    counts : `dict` [`str`, `int`]
        ``tests``, ``failures``, ``errors``, ``skipped``, ``passed``.
    failures : `list` [`Failure`]
        In the order pytest ran them.
    """
    tree = ET.parse(path)
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    failures = []
    for case in tree.iter("testcase"):
        counts["tests"] += 1
        test_id, notebook, cell = _test_id(case.get("classname", ""), case.get("name", ""), Path(root))
        if case.find("skipped") is not None:
            counts["skipped"] += 1
        for kind in ("failure", "error"):
            for problem in case.findall(kind):
                counts["failures" if kind == "failure" else "errors"] += 1
                message = _clean(problem.get("message", ""))
                text = _clean(problem.text or "")
                if notebook is not None:
                    exception, difference = _notebook_failure(text or message)
                else:
                    exception, difference = _unit_failure(message, text)
                failures.append(Failure(test_id, notebook, cell, kind, exception, difference))
    broken = {f.test_id for f in failures}
    counts["passed"] = counts["tests"] - counts["skipped"] - len(broken)
    return counts, failures


def _cell_hint(notebook: Path, cell: int) -> str | None:
    """``In [6], § 3. Querying``: where nbval's code cell number ``cell`` is in the committed notebook."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    section = None
    code = -1
    for c in cells:
        source = "".join(c.get("source", []))
        if c.get("cell_type") == "markdown":
            for line in source.splitlines():
                if line.startswith("## "):
                    section = line[3:].strip()
        elif c.get("cell_type") == "code":
            code += 1
            if code == cell:
                hint = [f"In [{c['execution_count']}]"] if c.get("execution_count") else []
                hint += [f"§ {section}"] if section else []
                return ", ".join(hint) or None
    return None


def _md(text: str) -> str:
    """Inline code that survives backticks and pipes in a Markdown table cell."""
    return "`` " + text.replace("|", "\\|").replace("\n", " ") + " ``"


def render_report(
    *,
    moves: Sequence[Move],
    counts: Mapping[str, int] | None,
    failures: Sequence[Failure],
    pytest_exit: int | None,
    lock: str,
    broken: bool,
    root: str | Path = ".",
) -> str:
    """Return the Markdown of ``reports/latest.md``."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "SOMETHING BROKE" if broken else "nothing broke"
    lines = [
        "# make test-latest: the newest versions, without the lock",
        "",
        f"{now} · Python {platform.python_version()} · compared with `{lock}` · **{verdict}**",
        "",
        "## Summary",
        "",
    ]
    moved = [m for m in moves if m.old and m.new]
    added = [m for m in moves if not m.old]
    gone = [m for m in moves if not m.new]
    rubin = [m for m in moves if m.name.lower().startswith("lsst-")]
    lines.append(
        f"- versions: {len(moved)} moved, {len(added)} new (not in the lock), {len(gone)} no longer installed"
    )
    if rubin:
        lines.append("- Rubin packages (lsst-*): " + ", ".join(str(m) for m in rubin))
    else:
        lines.append("- Rubin packages (lsst-*): nothing moved (the lock's versions are the newest)")
    if counts is None:
        lines.append(
            "- tests: no junit XML was written (pytest did not finish): see reports/latest-pytest.log"
        )
    else:
        nb = [f for f in failures if f.notebook]
        lines.append(
            f"- tests: {counts['tests']} run, {counts['passed']} passed, {counts['failures']} failed, "
            f"{counts['errors']} errors, {counts['skipped']} skipped "
            f"({len(failures) - len(nb)} failing tests, {len(nb)} failing notebook cells in "
            f"{len({f.notebook for f in nb})} notebooks)"
        )
    lines.append(f"- pytest exit status: {pytest_exit if pytest_exit is not None else 'unknown'}")
    lines += ["", "## Versions that moved (lock -> newest)", ""]
    if moves:
        lines += ["| package | lock | newest |", "| --- | --- | --- |"]
        lines += [
            f"| {m.name} | {m.old or '(not in the lock)'} | {m.new or '(not installed)'} |" for m in moves
        ]
    else:
        lines.append("Nothing moved: the newest versions are the lock's.")
    lines += ["", "## What broke", ""]
    if not failures:
        lines.append(
            "Nothing: every test and every notebook cell passed."
            if counts
            else "See reports/latest-pytest.log."
        )
    else:
        lines += ["| test / notebook cell | exception | first differing output line |", "| --- | --- | --- |"]
        for f in failures:
            where = f.test_id
            if f.notebook and f.cell is not None:
                hint = _cell_hint(Path(root) / f.notebook, f.cell)
                where = f"{f.notebook} cell {f.cell}" + (f" ({hint})" if hint else "")
            if f.kind == "error":
                where += " (error)"
            difference = _md(f.first_difference) if f.first_difference else "—"
            lines.append(f"| {_md(where)} | {_md(f.exception)} | {difference} |")
    lines += [
        "",
        "Notebook cells are numbered as nbval counts them (code cells from 0; `pytest notebooks/NN.ipynb`",
        "shows the same ids). Full output: reports/latest-pytest.log. Environment: .venv-latest.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the report; return 1 if anything broke, else 0."""
    parser = argparse.ArgumentParser(
        prog="tools/latest_report.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--lock", required=True, help="the lock file to compare with")
    parser.add_argument("--junit", required=True, help="pytest's --junitxml output")
    parser.add_argument("--pytest-exit", type=int, default=None, help="pytest's exit status")
    parser.add_argument(
        "--log", default="reports/latest-pytest.log", help="pytest's full output (named in the report)"
    )
    parser.add_argument("--output", required=True, help="where to write the Markdown report")
    parser.add_argument("--root", default=".", help="the directory pytest ran in")
    args = parser.parse_args(argv)

    moves = version_moves(read_lock(args.lock), installed_versions())
    counts: dict[str, int] | None
    failures: list[Failure]
    try:
        counts, failures = parse_junit(args.junit, root=args.root)
    except (FileNotFoundError, ET.ParseError):
        counts, failures = None, []
    broken = bool(failures) or counts is None or (args.pytest_exit not in (None, 0))
    text = render_report(
        moves=moves,
        counts=counts,
        failures=failures,
        pytest_exit=args.pytest_exit,
        lock=args.lock,
        broken=broken,
        root=args.root,
    ).replace("reports/latest-pytest.log", args.log)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    summary = text.split("## Summary", 1)[1].split("##", 1)[0].strip()
    print(f"{out}: {'SOMETHING BROKE' if broken else 'nothing broke'}\n{summary}")
    return 1 if broken else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
