"""Looking at quantum graphs before and after running them: what will run, what ran, what failed.

`summarize_qgraph` and `show_qgraph` read a quantum graph (a ``.qg`` file written by
``pipetask qgraph --save-qgraph`` or by ``bps submit``, or a `lsst.pipe.base.QuantumGraph`);
`qgraph_status` turns pipe_base's own execution report (what ``pipetask report REPO GRAPH.qg``
prints) into a ``bps report``-style status table, with the errors and log lines of failed quanta
(``bps report`` itself is not implemented by the Parsl plugin). `bps_config_path` finds the
submit files in ``stackclub/pipe/bps/``.
"""

from __future__ import annotations

__all__ = (
    "QuantumGraphStatus",
    "bps_config_path",
    "qgraph_status",
    "show_qgraph",
    "summarize_qgraph",
)

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import MissingStackError, QuantumGraphError
from ._render import Styled, Table

if TYPE_CHECKING:  # pragma: no cover
    from lsst.daf.butler import Butler
    from lsst.pipe.base import QuantumGraph
    from matplotlib.axes import Axes

_BPS_DIR = Path(__file__).parent / "pipe" / "bps"


def bps_config_path(name: str = "ProcessCcd") -> Path:
    """Return the path of one of Stack Club's ``bps submit`` files.

    Parameters
    ----------
    name
        ``"ProcessCcd"`` (the submit file), ``"sites/local"`` or ``"sites/slurm"``; ``.yaml`` optional.

    Returns
    -------
    path
        Absolute path, for ``bps submit PATH``.

    Raises
    ------
    QuantumGraphError
        No such file.

    Examples
    --------
    >>> bps_config_path().name
    'ProcessCcd.yaml'
    >>> bps_config_path("sites/slurm").parent.name
    'sites'
    """
    stem = name[:-5] if name.endswith(".yaml") else name
    path = _BPS_DIR / f"{stem}.yaml"
    if not path.is_file():
        known = sorted(str(p.relative_to(_BPS_DIR))[:-5] for p in _BPS_DIR.rglob("*.yaml"))
        raise QuantumGraphError(f"No bps file {name!r}: use one of {known}.")
    return path


def _load(graph: QuantumGraph | str | os.PathLike[str]) -> QuantumGraph:
    try:
        from lsst.pipe.base import QuantumGraph
    except ImportError:
        raise MissingStackError("lsst.pipe.base", "Reading a quantum graph") from None
    if isinstance(graph, QuantumGraph):
        return graph
    if not isinstance(graph, str | os.PathLike):
        raise QuantumGraphError(
            f"Expected a QuantumGraph or the path of a .qg file, got {type(graph).__name__}."
        )
    path = Path(graph)
    if not path.is_file():
        raise QuantumGraphError(
            f"No quantum graph file at {path}: write one with "
            "`pipetask qgraph ... --save-qgraph FILE.qg` (bps saves one in its submit folder)."
        )
    try:
        return QuantumGraph.loadUri(str(path))
    except Exception as err:  # any reader failure means "not a graph file"
        raise QuantumGraphError(f"{path} is not a readable quantum graph: {err}") from None


def _data_id_text(data_id: Any) -> str:
    """``detector=1, exposure=2026031500001`` (required keys without the instrument)."""
    required = dict(data_id.required) if hasattr(data_id, "required") else dict(data_id)
    return ", ".join(f"{k}={v}" for k, v in sorted(required.items()) if k != "instrument")


def _sort_key(data_id: Any) -> tuple[Any, ...]:
    required = dict(data_id.required)
    return tuple(str(required[k]).zfill(20) for k in sorted(required))


def _tasks(qg: QuantumGraph) -> list[tuple[str, str, list[str], list[Any]]]:
    """(label, class name, required dimensions, [(node id, data ID) sorted]) in pipeline order."""
    out = []
    for task in qg.pipeline_graph.tasks.values():
        quanta = sorted(qg.get_task_quanta(task.label).items(), key=lambda item: _sort_key(item[1].dataId))
        dims = sorted(d for d in task.dimensions.required if d != "instrument")
        out.append((task.label, task.task_class_name, dims, [(qid, q.dataId) for qid, q in quanta]))
    return out


def summarize_qgraph(graph: QuantumGraph | str | os.PathLike[str]) -> Table:
    """Count a quantum graph's quanta per task.

    Parameters
    ----------
    graph
        A `lsst.pipe.base.QuantumGraph` or the path of a ``.qg`` file.

    Returns
    -------
    table
        One row per task, in pipeline order: label, task class, the dimensions of its quanta,
        the number of quanta and their data IDs' range; the title gives the totals and output run.

    Raises
    ------
    QuantumGraphError
        Not a quantum graph, or no such file.

    Examples
    --------
    >>> summarize_qgraph("ProcessCcd.qg")  # doctest: +SKIP
    <Table: 2 rows × 5 columns>
    """
    qg = _load(graph)
    tasks = _tasks(qg)
    rows: list[Sequence[Any]] = []
    for label, class_name, dims, quanta in tasks:
        values = {d: sorted({dict(did.required)[d] for _, did in quanta}) for d in dims}
        spread = ", ".join(
            f"{d}: {len(v)} ({v[0]}…{v[-1]})" if len(v) > 1 else f"{d}: {v[0]}"
            for d, v in values.items()
            if v
        )
        rows.append([label, class_name, ", ".join(dims), len(quanta), spread])
    run = qg.metadata.get("output_run", "?") if qg.metadata else "?"
    total = sum(len(t[3]) for t in tasks)
    title = f"Quantum graph: {total} quanta of {len(tasks)} tasks, output run {run}"
    return Table(["task", "class", "quantum dimensions", "quanta", "data IDs"], rows, title=title)


def show_qgraph(
    graph: QuantumGraph | str | os.PathLike[str],
    *,
    max_quanta: int = 64,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a quantum graph: every quantum and its dependencies, or (when large) counts per task.

    Parameters
    ----------
    graph
        A `lsst.pipe.base.QuantumGraph` or the path of a ``.qg`` file.
    max_quanta
        Above this many quanta, draw a bar per task instead of every quantum.
    ax
        Axes to draw into (a new figure by default).
    title
        Axes title (by default the counts).

    Returns
    -------
    ax
        The axes. Small graphs: one column per task (pipeline order), one dot per quantum
        (``gid="quanta"``, labelled with its data ID) and an arrow per dependency
        (``gid="dependencies"``). Large graphs: one horizontal bar per task (each ``gid="counts"``).

    Raises
    ------
    QuantumGraphError
        Not a quantum graph, or no such file.

    Examples
    --------
    >>> ax = show_qgraph("ProcessCcd.qg")  # doctest: +SKIP
    >>> len(ax.collections[0].get_offsets())  # doctest: +SKIP
    8
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    qg = _load(graph)
    if isinstance(max_quanta, bool) or not isinstance(max_quanta, int) or max_quanta < 0:
        raise ValueError(f"max_quanta must be a non-negative integer, got {max_quanta!r}.")
    tasks = _tasks(qg)
    total = sum(len(t[3]) for t in tasks)
    if ax is None:
        rows = max((len(t[3]) for t in tasks), default=1) if total <= max_quanta else len(tasks)
        _, ax = plt.subplots(figsize=(2.8 * max(len(tasks), 2) + 1, 0.35 * max(rows, 4) + 1))
    if total > max_quanta:
        labels = [t[0] for t in tasks]
        counts = [len(t[3]) for t in tasks]
        for bar in ax.barh(range(len(labels)), counts, color="tab:blue"):
            bar.set_gid("counts")
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("quanta")
        for y, n in enumerate(counts):
            ax.annotate(str(n), (n, y), xytext=(3, 0), textcoords="offset points", va="center")
        ax.set_title(title or f"{total} quanta of {len(tasks)} tasks (counts per task)")
        return ax
    where: dict[Any, tuple[float, float]] = {}
    xs, ys = [], []
    for x, (_label, _, _, quanta) in enumerate(tasks):
        for y, (qid, data_id) in enumerate(quanta):
            where[qid] = (x, -y)
            xs.append(x)
            ys.append(-y)
            ax.annotate(
                _data_id_text(data_id), (x, -y), xytext=(0, 6), textcoords="offset points",
                ha="center", va="bottom", fontsize=7,
            )  # fmt: skip
    segments = []
    for a, b in qg.graph.edges:
        if a.nodeId in where and b.nodeId in where:
            segments.append([where[a.nodeId], where[b.nodeId]])
    lines = LineCollection(segments, colors="0.6", linewidths=0.8, zorder=1)
    lines.set_gid("dependencies")
    ax.add_collection(lines)
    dots = ax.scatter(xs, ys, s=40, color="tab:blue", zorder=2)
    dots.set_gid("quanta")
    ax.set_xticks(range(len(tasks)), [f"{t[0]}\n({len(t[3])})" for t in tasks])
    ax.set_xlim(-0.5, len(tasks) - 0.5)
    ax.set_ylim(-max(len(t[3]) for t in tasks) + 0.5, 0.6)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or f"{total} quanta, {len(segments)} dependencies")
    return ax


@dataclasses.dataclass
class QuantumGraphStatus:
    """What happened to an executed quantum graph, per task (a ``bps report``-style table).

    Attributes
    ----------
    run
        The graph's output RUN collection.
    tasks
        One dict per task in pipeline order: ``label``, ``expected``, ``succeeded``, ``failed``,
        ``blocked`` (not attempted because an upstream quantum failed).
    failures
        One dict per failed quantum: ``label``, ``data_id`` (text), ``errors`` (its log's ERROR
        messages) and ``log`` (the last lines of its log).
    """

    run: str
    tasks: list[dict[str, Any]]
    failures: list[dict[str, Any]]

    @property
    def complete(self) -> bool:
        """Whether every expected quantum succeeded."""
        return all(t["succeeded"] == t["expected"] for t in self.tasks)

    def table(self) -> Table:
        """Return the status table: one row per task, plus a total row."""
        rows: list[Sequence[Any]] = []
        for t in [*self.tasks, self._total()]:
            pct = 100.0 * t["succeeded"] / t["expected"] if t["expected"] else 100.0
            done = t["succeeded"] == t["expected"]
            state = "SUCCEEDED" if done else "FAILED" if t["failed"] else "INCOMPLETE"
            colour = "color:green" if state == "SUCCEEDED" else "color:red"
            rows.append(
                [Styled(state, colour), f"{pct:.0f}", t["label"], t["expected"], t["succeeded"],
                 t["failed"], t["blocked"]]
            )  # fmt: skip
        columns = ["STATE", "%S", "TASK", "EXPECTED", "SUCCEEDED", "FAILED", "BLOCKED"]
        return Table(columns, rows, title=f"Run {self.run}")

    def failures_table(self) -> Table:
        """One row per failed quantum: task, data ID, error messages, last log lines."""
        rows: list[Sequence[Any]] = [
            [f["label"], f["data_id"], "\n".join(f["errors"]), "\n".join(f["log"])] for f in self.failures
        ]
        return Table(["task", "data ID", "errors", "log (last lines)"], rows, title="Failed quanta")

    def _total(self) -> dict[str, Any]:
        keys = ("expected", "succeeded", "failed", "blocked")
        return {"label": "TOTAL", **{k: sum(t[k] for t in self.tasks) for k in keys}}

    def __str__(self) -> str:
        text = self.table().to_text()
        if self.failures:
            text += "\n\n" + self.failures_table().to_text(max_width=100)
        return text

    def _repr_html_(self) -> str:
        html = self.table().to_html()
        if self.failures:
            html += self.failures_table().to_html()
        return html

    def __repr__(self) -> str:
        total = self._total()
        return (
            f"<QuantumGraphStatus {self.run}: {total['succeeded']}/{total['expected']} succeeded, "
            f"{total['failed']} failed, {total['blocked']} blocked>"
        )


def qgraph_status(
    repo: str | os.PathLike[str] | Butler,
    graph: QuantumGraph | str | os.PathLike[str],
    *,
    log_lines: int = 5,
) -> QuantumGraphStatus:
    """Report what happened to each quantum of an executed graph (``pipetask report``, as a table).

    Built on pipe_base's `~lsst.pipe.base.execution_reports.QuantumGraphExecutionReport`, the code
    behind ``pipetask report REPO GRAPH.qg``; works for graphs run by ``pipetask run`` or by
    ``bps submit`` (whose graph is in its submit folder).

    Parameters
    ----------
    repo
        The repository (path or `~lsst.daf.butler.Butler`) the graph ran against.
    graph
        The executed graph (`~lsst.pipe.base.QuantumGraph` or ``.qg`` path).
    log_lines
        How many of a failed quantum's last log lines to keep.

    Returns
    -------
    status
        A `QuantumGraphStatus` (renders as the status table plus the failed quanta).

    Raises
    ------
    QuantumGraphError
        Not a quantum graph, or no such file.

    Examples
    --------
    >>> status = qgraph_status("demo_repo", "ProcessCcd.qg")  # doctest: +SKIP
    >>> status.complete  # doctest: +SKIP
    True
    """
    try:
        from lsst.daf.butler import Butler
        from lsst.pipe.base.execution_reports import QuantumGraphExecutionReport
    except ImportError:
        raise MissingStackError("lsst.pipe.base", "qgraph_status") from None
    qg = _load(graph)
    butler = repo if isinstance(repo, Butler) else Butler.from_config(str(repo))
    report = QuantumGraphExecutionReport.make_reports(butler, qg)
    tasks, failures = [], []
    for label, _, _, _ in _tasks(qg):
        task = report.tasks[label]
        tasks.append(
            {
                "label": label,
                "expected": task.n_expected,
                "succeeded": task.n_succeeded,
                "failed": len(task.failed),
                "blocked": len(task.blocked),
            }
        )
        for log_ref in sorted(task.failed.values(), key=lambda ref: _sort_key(ref.dataId)):
            try:
                records = list(butler.get(log_ref))
            except (LookupError, FileNotFoundError):
                records = []
            failures.append(
                {
                    "label": label,
                    "data_id": _data_id_text(log_ref.dataId),
                    "errors": [r.message for r in records if r.levelno >= 40],
                    "log": [f"{r.levelname} {r.name}: {r.message}" for r in records[-log_lines:]],
                }
            )
    run = qg.metadata.get("output_run", "?") if qg.metadata else "?"
    return QuantumGraphStatus(run=str(run), tasks=tasks, failures=failures)
