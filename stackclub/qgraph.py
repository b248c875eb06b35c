"""Looking at quantum graphs before and after running them: what will run, what ran, what failed.

`summarize_qgraph` and `show_qgraph` read a quantum graph (a ``.qg`` file written by
``pipetask qgraph --save-qgraph`` or by ``bps submit``, or a `lsst.pipe.base.QuantumGraph`);
`qgraph_status` turns pipe_base's own execution report (what ``pipetask report REPO GRAPH.qg``
prints) into a ``bps report``-style status table, with the errors and log lines of failed quanta
(``bps report`` itself is not implemented by the Parsl plugin). `bps_config_path` finds the
submit files in ``stackclub/pipe/bps/``. `cluster_qgraph` groups a graph's quanta into the jobs
``bps submit`` would run (ctrl_bps' own clustering, configured by the submit file's ``cluster:``
section), and `summarize_clusters` / `show_clustered_qgraph` tabulate and draw the result.
"""

from __future__ import annotations

__all__ = (
    "QuantumGraphStatus",
    "bps_config_path",
    "cluster_qgraph",
    "qgraph_status",
    "show_clustered_qgraph",
    "show_qgraph",
    "summarize_clusters",
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
    from lsst.ctrl.bps import ClusteredQuantumGraph
    from lsst.daf.butler import Butler
    from lsst.pipe.base import QuantumGraph
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
    from matplotlib.axes import Axes

_BPS_DIR = Path(__file__).parent / "pipe" / "bps"


def bps_config_path(name: str = "ProcessCcd") -> Path:
    """Return the path of one of Stack Club's ``bps submit`` files.

    Parameters
    ----------
    name
        ``"ProcessCcd"`` (the submit file), ``"sites/local"``, ``"sites/slurm"`` or
        ``"clustering/ProcessCcd"`` (its quantum clustering); ``.yaml`` optional.

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


# --- bps clustering: which quanta run together in one job -----------------------------------------


def cluster_qgraph(
    graph: QuantumGraph | PredictedQuantumGraph | ClusteredQuantumGraph | str | os.PathLike[str],
    submit: str | os.PathLike[str] | None = None,
) -> ClusteredQuantumGraph:
    """Group a quantum graph's quanta into the jobs ``bps submit`` would run.

    Calls ctrl_bps' own clustering step (`lsst.ctrl.bps.pre_transform.cluster_quanta`) with the
    ``clusterAlgorithm`` and ``cluster:`` section of a submit file: Stack Club's
    ``ProcessCcd.yaml`` puts isr and calibrateImage of one (visit, detector) into one job, as
    Rubin's DRP does (``clustering/ProcessCcd.yaml``).

    Parameters
    ----------
    graph
        A quantum graph (`~lsst.pipe.base.QuantumGraph`, a ``PredictedQuantumGraph`` or the path
        of a ``.qg`` file, e.g. the one ``bps submit`` saves in its submit folder); a
        `~lsst.ctrl.bps.ClusteredQuantumGraph` is returned as it is.
    submit
        The bps submit file whose clustering to use (default: `bps_config_path`).

    Returns
    -------
    clustered
        A `~lsst.ctrl.bps.ClusteredQuantumGraph`: ``clustered.clusters()`` gives each job's
        `~lsst.ctrl.bps.QuantaCluster` (name, label, quanta per task), in dependency order.
        bps adds two jobs of its own: ``pipetaskInit`` before and ``finalJob`` after.

    Raises
    ------
    QuantumGraphError
        Not a quantum graph, no such file, or a submit file whose clustering does not fit.

    Examples
    --------
    >>> clustered = cluster_qgraph("u_me_ProcessCcd.qg")  # the graph in bps' submit folder  # doctest: +SKIP
    >>> [dict(c.quanta_counts) for c in clustered.clusters()][:1]  # doctest: +SKIP
    [{'isr': 1, 'calibrateImage': 1}]
    """
    try:
        from lsst.ctrl.bps import BpsConfig, ClusteredQuantumGraph
        from lsst.ctrl.bps.pre_transform import cluster_quanta
        from lsst.pipe.base import QuantumGraph
        from lsst.pipe.base.pipeline_graph import TaskImportMode
        from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
    except ImportError:
        raise MissingStackError("lsst.ctrl.bps", "Clustering a quantum graph") from None
    if isinstance(graph, ClusteredQuantumGraph):
        return graph
    filename = "in-memory.qg"
    if isinstance(graph, PredictedQuantumGraph):
        qg = graph
    elif isinstance(graph, QuantumGraph):
        qg = PredictedQuantumGraph.from_old_quantum_graph(graph)
    elif isinstance(graph, str | os.PathLike):
        path = Path(graph)
        if not path.is_file():
            raise QuantumGraphError(
                f"No quantum graph file at {path}: write one with "
                "`pipetask qgraph ... --save-qgraph FILE.qg` (bps saves one in its submit folder)."
            )
        try:
            with PredictedQuantumGraph.open(str(path), import_mode=TaskImportMode.DO_NOT_IMPORT) as reader:
                reader.read_thin_graph()
                qg = reader.finish()
        except Exception as err:  # any reader failure means "not a graph file"
            raise QuantumGraphError(f"{path} is not a readable quantum graph: {err}") from None
        filename = str(path)
    else:
        raise QuantumGraphError(
            f"Expected a QuantumGraph or the path of a .qg file, got {type(graph).__name__}."
        )
    config = BpsConfig(str(submit if submit is not None else bps_config_path()))
    config[".bps_defined.runQgraphFile"] = filename
    try:
        return cluster_quanta(config, qg, Path(filename).stem)
    except (KeyError, RuntimeError) as err:
        raise QuantumGraphError(
            f"The clustering of {submit or bps_config_path()} does not fit this graph: {err}"
        ) from None


def _cluster_rows(clustered: ClusteredQuantumGraph) -> list[tuple[Any, str, list[Any]]]:
    """(cluster, data ID text, [quantum ids]) per job, in pipeline order then data ID order."""
    order = {label: i for i, label in enumerate(clustered.qgraph.pipeline_graph.tasks)}
    skip = {"instrument", "label", "node_number"}
    rows = []
    for cluster in clustered.clusters():
        ids = list(cluster.qgraph_node_ids)
        tags = {k: v for k, v in cluster.tags.items() if k not in skip}
        first = min(order.get(label, len(order)) for label in cluster.quanta_counts)
        rows.append((first, tuple(str(tags[k]).zfill(20) for k in sorted(tags)), cluster, tags, ids))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(c, ", ".join(f"{k}={v}" for k, v in sorted(tags.items())), ids) for _, _, c, tags, ids in rows]


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def summarize_clusters(
    graph: QuantumGraph | PredictedQuantumGraph | ClusteredQuantumGraph | str | os.PathLike[str],
    submit: str | os.PathLike[str] | None = None,
) -> Table:
    """Tabulate the jobs bps makes of a quantum graph: one row per job with its quanta.

    Parameters
    ----------
    graph
        A clustered graph from `cluster_qgraph`, or anything it takes (clustered here).
    submit
        The bps submit file whose clustering to use (default: `bps_config_path`).

    Returns
    -------
    table
        Columns: job (cluster name; a one-quantum job, which bps names after the quantum's UUID,
        as ``task(data ID)``), cluster label, quanta per task, the data ID the quanta share, and the
        jobs it waits for; the title gives the counts (plus bps' own two jobs).

    Raises
    ------
    QuantumGraphError
        As `cluster_qgraph`.

    Examples
    --------
    >>> summarize_clusters("u_me_ProcessCcd.qg")  # doctest: +SKIP
    <Table: 4 rows × 5 columns>
    """
    clustered = cluster_qgraph(graph, submit)
    cluster_rows = _cluster_rows(clustered)
    # bps names a one-quantum job after the quantum's random UUID: show its task and data ID instead.
    names = {
        c.name: (f"{c.label}({data_id})" if _is_uuid(c.name) else c.name) for c, data_id, _ in cluster_rows
    }
    rows: list[Sequence[Any]] = []
    quanta = 0
    for cluster, data_id, ids in cluster_rows:
        quanta += len(ids)
        counts = ", ".join(f"{label}: {n}" for label, n in cluster.quanta_counts.items())
        waits = ", ".join(sorted(names[c.name] for c in clustered.predecessors(cluster.name)))
        rows.append([names[cluster.name], cluster.label, counts, data_id, waits])
    jobs = f"{len(rows)} job{'s' if len(rows) != 1 else ''}"
    title = f"{jobs} for {quanta} quanta (+ bps' pipetaskInit and finalJob jobs)"
    return Table(["job", "cluster", "quanta", "data ID", "waits for"], rows, title=title)


def show_clustered_qgraph(
    graph: QuantumGraph | PredictedQuantumGraph | ClusteredQuantumGraph | str | os.PathLike[str],
    submit: str | os.PathLike[str] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a quantum graph with a box around the quanta of each bps job.

    Parameters
    ----------
    graph
        A clustered graph from `cluster_qgraph`, or anything it takes (clustered here).
    submit
        The bps submit file whose clustering to use (default: `bps_config_path`).
    ax
        Axes to draw into (a new figure by default).
    title
        Axes title (by default the counts).

    Returns
    -------
    ax
        The axes: one column per task (pipeline order), one dot per quantum (``gid="quanta"``),
        a line per dependency (``gid="dependencies"``) and one rounded box per job
        (``gid="clusters"``, labelled with the job's shared data ID).

    Raises
    ------
    QuantumGraphError
        As `cluster_qgraph`.

    Examples
    --------
    >>> ax = show_clustered_qgraph("u_me_ProcessCcd.qg")  # doctest: +SKIP
    >>> len([p for p in ax.patches if p.get_gid() == "clusters"])  # doctest: +SKIP
    4
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.patches import FancyBboxPatch

    clustered = cluster_qgraph(graph, submit)
    qg = clustered.qgraph
    labels = list(qg.pipeline_graph.tasks)
    columns = {label: sorted(qg.quanta_by_task[label].items(), key=lambda item: _sort_key(item[0]))
               for label in labels}  # fmt: skip
    rows = _cluster_rows(clustered)
    # Quanta as show_qgraph places them: one column per task, sorted by data ID down each column.
    where: dict[Any, tuple[float, float]] = {}
    for x, label in enumerate(labels):
        for y, (_, qid) in enumerate(columns[label]):
            where[qid] = (x, -y)
    height = max((len(c) for c in columns.values()), default=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.8 * max(len(labels), 2) + 1, 0.45 * max(height, 4) + 1))
    for _cluster, data_id, ids in rows:
        xs = [where[q][0] for q in ids if q in where]
        ys = [where[q][1] for q in ids if q in where]
        box = FancyBboxPatch(
            (min(xs) - 0.3, min(ys) - 0.25), max(xs) - min(xs) + 0.6, max(ys) - min(ys) + 0.5,
            boxstyle="round,pad=0.02", facecolor="tab:orange", alpha=0.18, edgecolor="tab:orange",
        )  # fmt: skip
        box.set_gid("clusters")
        ax.add_patch(box)
        ax.annotate(data_id, ((min(xs) + max(xs)) / 2, max(ys) + 0.25), xytext=(0, 1),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7)  # fmt: skip
    segments = [[where[a], where[b]] for a, b in clustered.qxgraph.edges if a in where and b in where]
    lines = LineCollection(segments, colors="0.4", linewidths=0.8, zorder=1)
    lines.set_gid("dependencies")
    ax.add_collection(lines)
    points = list(where.values())
    dots = ax.scatter([p[0] for p in points], [p[1] for p in points], s=40, color="tab:blue", zorder=2)
    dots.set_gid("quanta")
    ax.set_xticks(range(len(labels)), [f"{label}\n({len(columns[label])})" for label in labels])
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(-height + 0.4, 0.9)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or f"{len(where)} quanta in {len(rows)} bps jobs (boxes)")
    return ax
