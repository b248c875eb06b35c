"""Connections of a PipelineTask and the shape of a pipeline, built on pipe_base's ``pipeline_graph``.

`show_connections` lists a task's inputs and outputs, `show_pipeline` a pipeline's tasks and
datasets, and `task_config` returns the config a task runs with in a pipeline (with override
files applied, as ``pipetask -C`` does).  Nothing is re-implemented: the effective configs come
from ``Pipeline.to_graph()``, the connections from the task's own ``PipelineTaskConnections``
class, and the pictures from ``lsst.pipe.base.pipeline_graph.visualization`` (``show`` for text,
``show_mermaid``).
"""

from __future__ import annotations

__all__ = (
    "ConnectionRow",
    "ConnectionsView",
    "MermaidDiagram",
    "PipelineView",
    "load_pipeline_graph",
    "pipeline_task_config",
    "show_connections",
    "show_pipeline",
    "task_config",
)

import io
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._config_model import link_for, resolve_config
from ._exceptions import ConfigOverrideError, MissingStackError, NotAConfigError, PipelineLoadError
from ._render import Styled, Table, escape

if TYPE_CHECKING:
    from lsst.pex.config import Config
    from lsst.pipe.base.pipeline_graph import Edge, PipelineGraph

_LOG = logging.getLogger(__name__)

# Connection sets of a PipelineTaskConnections instance, in the order a reader follows them.
_KINDS = (
    ("initInputs", "init-input"),
    ("inputs", "input"),
    ("prerequisiteInputs", "prerequisite"),
    ("outputs", "output"),
    ("initOutputs", "init-output"),
)

_RENAMED_STYLE = "font-weight: bold"


# --------------------------------------------------------------------------------------------------
# show_connections
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionRow:
    """One connection of a PipelineTask.

    Attributes
    ----------
    kind
        ``"init-input"``, ``"input"``, ``"prerequisite"``, ``"output"`` or ``"init-output"``.
    connection
        The attribute name on the connections class (also the ``run()`` argument name).
    dataset_type
        The dataset type name in effect (after the pipeline's ``connections.*`` overrides).
    default_name
        The task's own default dataset type name (differs from ``dataset_type`` when renamed).
    storage_class
        Storage class name, e.g. ``"VisitImage"``.
    dimensions
        Dimensions, comma-separated (empty for init-inputs/outputs).
    notes
        ``multiple``, ``deferLoad``, ``calibration``, ``minimum=N``, ``deprecated`` as they apply.
    doc
        The connection's doc string.
    """

    kind: str
    connection: str
    dataset_type: str
    default_name: str
    storage_class: str
    dimensions: str
    notes: str
    doc: str

    @property
    def renamed(self) -> bool:
        """Whether the pipeline renamed this dataset type."""
        return bool(self.default_name) and self.default_name != self.dataset_type


@dataclass
class ConnectionsView:
    """A PipelineTask's connections (see `show_connections`).

    Examples
    --------
    >>> view = show_connections("lsst.pipe.base.tests.no_dimensions.NoDimensionsTestTask")
    >>> view.dataset_types
    {'input': 'input', 'output': 'output'}
    """

    title: str
    rows: list[ConnectionRow] = field(default_factory=list)
    task_dimensions: tuple[str, ...] = ()
    in_pipeline: bool = False

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ConnectionRow]:
        return iter(self.rows)

    def __getitem__(self, connection: str) -> ConnectionRow:
        for row in self.rows:
            if row.connection == connection:
                return row
        names = ", ".join(r.connection for r in self.rows) or "(none)"
        raise KeyError(f"no connection {connection!r}; connections: {names}")

    @property
    def dataset_types(self) -> dict[str, str]:
        """Connection name → dataset type name in effect."""
        return {row.connection: row.dataset_type for row in self.rows}

    def __repr__(self) -> str:
        return f"<ConnectionsView: {self.title}, {len(self.rows)} connections>"

    def to_table(self, *, html: bool = False) -> Table:
        """Return the connections as a `Table` (renamed dataset types in bold in HTML).

        Parameters
        ----------
        html
            Style renamed dataset types in bold (for the HTML rendering).
        """
        cols = ["kind", "connection", "dataset type"]
        if self.in_pipeline:
            cols.append("task default")
        cols += ["storage class", "dimensions", "notes", "doc"]
        rows: list[Sequence[Any]] = []
        for r in self.rows:
            name: Any = Styled(r.dataset_type, _RENAMED_STYLE) if html and r.renamed else r.dataset_type
            cells: list[Any] = [r.kind, r.connection, name]
            if self.in_pipeline:
                cells.append(r.default_name if r.renamed else "(same)")
            cells += [r.storage_class, r.dimensions, r.notes, r.doc]
            rows.append(cells)
        dims = ", ".join(self.task_dimensions) or "(none)"
        return Table(cols, rows, title=f"{self.title}; quantum dimensions: {dims}")

    def __str__(self) -> str:
        return self.to_table().to_text(max_width=50)

    def _repr_html_(self) -> str:
        return self.to_table(html=True).to_html()


def show_connections(
    pipeline_task_class_or_config: Any = None,
    *,
    pipeline: Any = None,
    label: str | None = None,
) -> ConnectionsView:
    """Show a PipelineTask's inputs, prerequisites and outputs.

    Parameters
    ----------
    pipeline_task_class_or_config
        A `~lsst.pipe.base.PipelineTask` subclass, its config (class or instance) or a dotted
        path.  May be `None` when ``pipeline`` and ``label`` say which task.
    pipeline
        A pipeline YAML path, a `~lsst.pipe.base.Pipeline` or a
        `~lsst.pipe.base.pipeline_graph.PipelineGraph`.  The task's config is then the one the
        pipeline gives it, so dataset type names are the *effective* ones after the pipeline's
        ``connections.*`` overrides, and the task default is shown beside any renamed one.
    label
        The task's label in ``pipeline``; may be left out when only one task of the given
        class is in the pipeline.

    Returns
    -------
    view : `ConnectionsView`
        One row per connection: kind, connection name, dataset type, storage class,
        dimensions, notes, doc.

    Raises
    ------
    stackclub._exceptions.NotAConfigError
        The argument is not a PipelineTask or a PipelineTask config.
    stackclub._exceptions.PipelineLoadError
        The pipeline cannot be read, has no such label, or its task at ``label`` is of
        another class than the one given.

    Examples
    --------
    >>> import lsst.pipe.base as pipeBase
    >>> import lsst.pipe.base.connectionTypes as cT
    >>> class DemoConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument", "visit")):
    ...     exposure = cT.Input(name="calexp", storageClass="VisitImage",
    ...                         dimensions=("instrument", "visit"), doc="Input image.")
    >>> class DemoConfig(pipeBase.PipelineTaskConfig, pipelineConnections=DemoConnections):
    ...     pass
    >>> view = show_connections(DemoConfig)
    >>> view["exposure"].dataset_type, view["exposure"].storage_class, view["exposure"].dimensions
    ('calexp', 'VisitImage', 'instrument, visit')
    """
    if pipeline is not None:
        config, title = pipeline_task_config(pipeline_task_class_or_config, pipeline, label)
    elif label is not None:
        raise PipelineLoadError("(none given)", f"label={label!r} needs pipeline= as well")
    elif pipeline_task_class_or_config is None:
        raise NotAConfigError(
            None, "show_connections", expected="a PipelineTask class or config, or pipeline= and label="
        )
    else:
        config = resolve_config(pipeline_task_class_or_config, what="show_connections")
        title = type(config).__name__
    return _connections_view(config, title, in_pipeline=pipeline is not None)


def _connections_of(config: Config, *, what: str) -> Any:
    connections_config = getattr(config, "connections", None)
    cls = getattr(connections_config, "ConnectionsClass", None)
    if cls is None:
        raise NotAConfigError(config, what, expected="a PipelineTask config (one with a connections field)")
    return cls(config=config)


def _connections_view(config: Config, title: str, *, in_pipeline: bool) -> ConnectionsView:
    conns = _connections_of(config, what="show_connections")
    defaults: dict[str, str] = {}
    if in_pipeline:
        try:
            default_conns = _connections_of(type(config)(), what="show_connections")
            defaults = {n: c.name for n, c in default_conns.allConnections.items()}
        except Exception as err:  # the defaults alone may not build connections; still show the rest
            _LOG.debug("cannot build default connections for %s: %s", title, err)
    rows = []
    for attr, kind in _KINDS:
        names = getattr(conns, attr)
        # The class keeps the connections in definition order; an instance rebuilds them from sets.
        for name in (n for n in type(conns).allConnections if n in names):
            conn = conns.allConnections[name]
            rows.append(
                ConnectionRow(
                    kind=kind,
                    connection=name,
                    dataset_type=conn.name,
                    default_name=defaults.get(name, ""),
                    storage_class=str(conn.storageClass),
                    dimensions=", ".join(getattr(conn, "dimensions", ()) or ()),
                    notes=_notes(conn),
                    doc=" ".join(str(conn.doc or "").split()),
                )
            )
    return ConnectionsView(
        title=title,
        rows=rows,
        task_dimensions=tuple(sorted(conns.dimensions)),
        in_pipeline=in_pipeline,
    )


def _notes(conn: Any) -> str:
    notes = []
    if getattr(conn, "multiple", False):
        notes.append("multiple")
    if getattr(conn, "deferLoad", False):
        notes.append("deferLoad")
    if getattr(conn, "isCalibration", False):
        notes.append("calibration")
    if getattr(conn, "minimum", 1) not in (1, None):
        notes.append(f"minimum={conn.minimum}")
    if getattr(conn, "deprecated", None):
        notes.append(f"deprecated: {conn.deprecated}")
    return ", ".join(notes)


def task_config(
    task_or_config: Any = None,
    *,
    pipeline: Any = None,
    label: str | None = None,
    config_files: Sequence[str | os.PathLike[str]] = (),
) -> Config:
    """Return the config a task runs with: its defaults, or what a pipeline gives it, plus overrides.

    Parameters
    ----------
    task_or_config
        A task class, a config (class or instance) or a dotted path; may be `None` when
        ``pipeline`` and ``label`` say which task.
    pipeline
        A pipeline YAML path, `~lsst.pipe.base.Pipeline` or
        `~lsst.pipe.base.pipeline_graph.PipelineGraph`: the config is the one it gives the task.
    label
        The task's label in ``pipeline`` (may be left out when one task of the class is in it).
    config_files
        Override files applied in order, as ``pipetask -C label:FILE`` does.

    Returns
    -------
    config : `lsst.pex.config.Config`
        The config; a copy whenever override files were applied to a pipeline's (frozen) config.

    Raises
    ------
    stackclub._exceptions.NotAConfigError
        Neither a task nor a pipeline task was given.
    stackclub._exceptions.PipelineLoadError
        The pipeline cannot be read, or has no such task.
    stackclub._exceptions.ConfigOverrideError
        An override file cannot be applied.

    Examples
    --------
    >>> config = task_config("lsst.pipe.base.PipelineTaskConfig")
    >>> config.saveLogOutput
    True
    """
    if pipeline is not None:
        config, _ = pipeline_task_config(task_or_config, pipeline, label)
        config = config.copy() if config_files else config  # a pipeline's configs are frozen
    elif task_or_config is None:
        raise NotAConfigError(None, "task_config", expected="a task or config, or pipeline= and label=")
    else:
        config = resolve_config(task_or_config, what="task_config")
    for path in config_files:
        try:
            config.load(os.fspath(path))
        except Exception as err:
            raise ConfigOverrideError(os.fspath(path), str(err)) from err
    return config


def pipeline_task_config(task: Any, pipeline: Any, label: str | None) -> tuple[Config, str]:
    """Find a task in a pipeline and return the config the pipeline gives it.

    Parameters
    ----------
    task
        The task class or config (or dotted path) to look for, or `None` to go by ``label`` alone.
    pipeline
        A pipeline YAML path, `~lsst.pipe.base.Pipeline` or
        `~lsst.pipe.base.pipeline_graph.PipelineGraph`.
    label
        The task's label; may be `None` when exactly one task of ``task``'s kind is in the pipeline.

    Returns
    -------
    config : `lsst.pex.config.Config`
        The (frozen) config of the task in the pipeline.
    title : `str`
        ``"label (TaskClass) in source"``, for headings.

    Raises
    ------
    stackclub._exceptions.PipelineLoadError
        The pipeline cannot be read, has no such task, or several and no ``label``.
    """
    graph, source = load_pipeline_graph(pipeline)
    wanted: type | None = None
    if task is not None:
        config = resolve_config(task, what="show_connections")
        wanted = task if isinstance(task, type) and not _is_config_class(task) else None
        if wanted is None:
            matching = [
                lb for lb, node in graph.tasks.items() if isinstance(config, node.task_class.ConfigClass)
            ]
        else:
            matching = [lb for lb, node in graph.tasks.items() if _same_class(node.task_class, wanted)]
        if label is None:
            if len(matching) != 1:
                found = f"{len(matching)} tasks ({', '.join(matching)})" if matching else "no task"
                raise PipelineLoadError(
                    source, f"it has {found} of that kind; pass label= (labels: {', '.join(graph.tasks)})"
                )
            label = matching[0]
    if label is None:
        raise PipelineLoadError(source, f"pass label= to say which task (labels: {', '.join(graph.tasks)})")
    if label not in graph.tasks:
        raise PipelineLoadError(
            source, f"it has no task labelled {label!r}; its labels are: {', '.join(graph.tasks)}"
        )
    node = graph.tasks[label]
    if wanted is not None and not _same_class(node.task_class, wanted):
        raise PipelineLoadError(
            source,
            f"its task {label!r} is {node.task_class_name}, not {wanted.__module__}.{wanted.__qualname__}",
        )
    return node.config, f"{label} ({node.task_class.__name__}) in {source}"


def _is_config_class(obj: type) -> bool:
    from lsst.pex.config import Config

    return issubclass(obj, Config)


def _same_class(a: type, b: type) -> bool:
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


# --------------------------------------------------------------------------------------------------
# show_pipeline
# --------------------------------------------------------------------------------------------------


def load_pipeline_graph(pipeline: Any) -> tuple[PipelineGraph, str]:
    """Return ``(graph, description)`` for a pipeline YAML path, `Pipeline` or `PipelineGraph`.

    Parameters
    ----------
    pipeline
        A pipeline YAML path (optionally with a ``#label`` subset), a
        `~lsst.pipe.base.Pipeline` or a `~lsst.pipe.base.pipeline_graph.PipelineGraph`.

    Returns
    -------
    graph, description : `tuple`
        The graph, and a short description of where it came from.

    Raises
    ------
    stackclub._exceptions.PipelineLoadError
        The pipeline cannot be read, or its graph cannot be built.
    """
    try:
        from lsst.pipe.base import Pipeline
        from lsst.pipe.base.pipeline_graph import PipelineGraph
    except ImportError as err:
        raise MissingStackError("lsst.pipe.base", "Reading a pipeline") from err
    if isinstance(pipeline, PipelineGraph):
        return pipeline, "(pipeline graph)"
    if isinstance(pipeline, str | os.PathLike):
        source = os.fspath(pipeline)
        if "://" not in source and not os.path.exists(source.split("#", 1)[0]):
            raise PipelineLoadError(repr(source), "no such file; give the path of a pipeline YAML file")
        try:
            pipeline = Pipeline.from_uri(source)
        except Exception as err:
            raise PipelineLoadError(repr(source), f"reading it failed: {err}") from err
        described = repr(os.path.basename(source))
    elif isinstance(pipeline, Pipeline):
        described = "(pipeline object)"
    else:
        raise PipelineLoadError(
            repr(pipeline)[:80],
            "expected a pipeline YAML path, an lsst.pipe.base.Pipeline or a PipelineGraph",
        )
    try:
        graph = pipeline.to_graph()
    except Exception as err:
        raise PipelineLoadError(described, f"building its graph failed: {err}") from err
    return graph, described


@dataclass(frozen=True)
class MermaidDiagram:
    r"""Mermaid flowchart text that JupyterLab (≥ 4.1) draws as a picture.

    Examples
    --------
    >>> d = MermaidDiagram("flowchart TD\n  a --> b\n")
    >>> sorted(d._repr_mimebundle_())
    ['text/plain', 'text/vnd.mermaid']
    """

    source: str

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<MermaidDiagram: {len(self.source.splitlines())} lines>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/vnd.mermaid": self.source, "text/plain": self.source}


@dataclass
class PipelineView:
    """A pipeline's tasks in order and the datasets flowing between them (see `show_pipeline`).

    Attributes
    ----------
    graph
        The `~lsst.pipe.base.pipeline_graph.PipelineGraph` everything here is read from.
    tasks
        ``(label, task class, inputs, outputs, dimensions)`` per task, in pipeline order.
    datasets
        ``(dataset type, storage class, produced by, consumed by)`` per dataset type.
    """

    title: str
    graph: Any
    tasks: list[tuple[str, type, list[str], list[str], str]] = field(default_factory=list)
    datasets: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Task labels in pipeline (topological) order."""
        return [t[0] for t in self.tasks]

    def __len__(self) -> int:
        return len(self.tasks)

    def __repr__(self) -> str:
        return f"<PipelineView: {self.title}, {len(self.tasks)} tasks, {len(self.datasets)} dataset types>"

    def task_table(self) -> Table:
        """Return the tasks as a `Table`."""
        rows: list[Sequence[Any]] = [
            [i, label, link_for(cls), ", ".join(ins), ", ".join(outs), dims]
            for i, (label, cls, ins, outs, dims) in enumerate(self.tasks, start=1)
        ]
        return Table(["#", "label", "task", "inputs", "outputs", "dimensions"], rows, title=self.title)

    def dataset_table(self) -> Table:
        """Return the dataset types as a `Table`: who produces and who consumes each."""
        return Table(
            ["dataset type", "storage class", "produced by", "consumed by"],
            [list(d) for d in self.datasets],
            title="datasets",
        )

    def text_graph(self, *, dataset_types: bool = True) -> str:
        """Return the graph drawn as text by pipe_base's ``pipeline_graph.visualization.show``.

        Parameters
        ----------
        dataset_types
            Draw dataset types as nodes of their own.
        """
        from lsst.pipe.base.pipeline_graph import visualization

        stream = io.StringIO()
        visualization.show(self.graph, stream, dataset_types=dataset_types, width=0, color=False)
        return stream.getvalue()

    @property
    def mermaid(self) -> MermaidDiagram:
        """The graph as a Mermaid flowchart (pipe_base's ``show_mermaid``); a picture in JupyterLab."""
        from lsst.pipe.base.pipeline_graph import visualization

        stream = io.StringIO()
        visualization.show_mermaid(self.graph, stream, dataset_types=True)
        return MermaidDiagram(stream.getvalue())

    def plot(self, ax: Any = None) -> Any:
        """Draw the tasks and dataset types with matplotlib (a picture that renders anywhere).

        The graph is pipe_base's own networkx export (``make_bipartite_xgraph``), one row per
        ``networkx.topological_generations`` layer, the figure as wide as the widest row of
        labels: tasks are boxes, dataset types rounded, prerequisite inputs dashed; the
        automatic ``_log``/``_metadata`` outputs are left out.

        Parameters
        ----------
        ax
            Axes to draw on; a new figure is made when `None`.

        Returns
        -------
        ax : `matplotlib.axes.Axes`
            The axes drawn on.
        """
        import matplotlib.pyplot as plt
        import networkx
        from lsst.pipe.base.pipeline_graph import NodeType

        xgraph = self.graph.make_bipartite_xgraph()
        hidden = [
            key
            for key in xgraph
            if key.node_type is NodeType.DATASET_TYPE
            and (edge := self.graph.producing_edge_of(key.name)) is not None
            and edge.connection_name.startswith("_")
        ]
        xgraph.remove_nodes_from(hidden)
        pos, widest = _layered_positions(xgraph, networkx.topological_generations(xgraph))
        n_layers = 1 - min((y for _, y in pos.values()), default=0)
        if ax is None:  # x is in characters of the 9 pt monospace labels (~0.075 inch each)
            fig, ax = plt.subplots(figsize=(max(4.0, 0.075 * widest + 0.6), 0.6 + 0.8 * n_layers))
            fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9)
        arrows: dict[tuple[Any, Any], bool] = {}  # one arrow per node pair; dashed if a prerequisite
        for u, v, key in xgraph.edges(keys=True):
            prerequisite = (
                u.node_type is NodeType.DATASET_TYPE and key in self.graph.tasks[v.name].prerequisite_inputs
            )
            arrows[u, v] = arrows.get((u, v), True) and prerequisite
        by_names = sorted(arrows.items(), key=lambda item: (item[0][0].name, item[0][1].name))
        for (u, v), prerequisite in by_names:  # in name order: the picture is the same in every process
            ax.annotate(
                "",
                xy=pos[v],
                xytext=pos[u],
                arrowprops={"arrowstyle": "-|>", "color": "0.3", "linestyle": "--" if prerequisite else "-",
                            "shrinkA": 14, "shrinkB": 14},
            )  # fmt: skip
        for key, (x, y) in pos.items():
            is_task = key.node_type is NodeType.TASK
            box = {"boxstyle": "square,pad=0.4" if is_task else "round,pad=0.4",
                   "facecolor": "#B1F2EF" if is_task else "#F5F5F5",
                   "edgecolor": "black" if is_task else "#00BABC"}  # fmt: skip
            ax.text(x, y, key.name, ha="center", va="center", fontsize=9, family="monospace", bbox=box,
                    fontweight="bold" if is_task else "normal")  # fmt: skip
        ax.set_xlim(-widest / 2 - 1, widest / 2 + 1)  # text and arrows do not set data limits
        ax.set_ylim(-n_layers + 0.5, 0.5)
        ax.set_axis_off()
        ax.set_title(self.title, fontsize=10)
        return ax

    def __str__(self) -> str:
        return "\n\n".join(
            [
                self.task_table().to_text(max_width=60),
                self.dataset_table().to_text(max_width=60),
                self.text_graph(),
            ]
        )

    def _repr_html_(self) -> str:
        return "\n".join(
            [
                '<div class="stackclub-pipeline">',
                self.task_table().to_html(),
                self.dataset_table().to_html(),
                "<details><summary>graph (<code>pipeline_graph.visualization.show</code>)</summary>",
                f"<pre>{escape(self.text_graph())}</pre>",
                "</details>",
                "</div>",
            ]
        )


def _layered_positions(xgraph: Any, layers: Any) -> tuple[dict[Any, tuple[float, float]], float]:
    """Place each layer on its own row (y = -layer), nodes side by side by label width.

    Within a layer, nodes are ordered by the mean x of their already-placed predecessors
    (one barycentre pass), which keeps most arrows from crossing, then by name (the first layer by
    name alone), so the same pipeline is drawn the same way in every process.  Returns the positions and
    the widest row, both in characters.
    """
    pos: dict[Any, tuple[float, float]] = {}
    widest = 0.0
    for depth, keys in enumerate(layers):

        def barycentre(key: Any) -> float:
            xs = [pos[p][0] for p in xgraph.predecessors(key) if p in pos]
            return sum(xs) / len(xs) if xs else 0.0

        # Sorted by name too: the layers come from a set, whose order changes with Python's string
        # hashing from one process to the next, so the picture would too.
        ordered = sorted(keys, key=lambda k: (barycentre(k) if depth else 0.0, k.name))
        widths = [len(k.name) + 4.0 for k in ordered]
        x = -sum(widths) / 2
        for key, width in zip(ordered, widths, strict=True):
            pos[key] = (x + width / 2, -float(depth))
            x += width
        widest = max(widest, sum(widths))
    return pos, widest


def show_pipeline(path_or_pipeline: Any) -> PipelineView:
    """Show a pipeline's tasks in order, with their labels and the datasets between them.

    Parameters
    ----------
    path_or_pipeline
        A pipeline YAML path (``"pipelines/ProcessCcd.yaml"``, optionally with a ``#label``
        subset), a `~lsst.pipe.base.Pipeline` or a `~lsst.pipe.base.pipeline_graph.PipelineGraph`.

    Returns
    -------
    view : `PipelineView`
        Tables of tasks and dataset types.  Pictures of the same graph: ``view.mermaid``
        (pipe_base's ``show_mermaid``; drawn by JupyterLab), ``view.plot()`` (matplotlib, drawn
        anywhere, e.g. in notebooks read on GitHub) and ``view.text_graph()`` (pipe_base's
        ``show``, also part of ``print(view)``).

    Raises
    ------
    stackclub._exceptions.PipelineLoadError
        The pipeline cannot be read or its graph cannot be built (e.g. a task class that
        cannot be imported).

    Notes
    -----
    Dataset types are resolved with ``graph.resolve(visualization_only=True)`` (the default
    dimension universe, no repository); the ``_config``, ``_log`` and ``_metadata`` datasets
    every task writes are left out of the tables.

    Examples
    --------
    >>> view = show_pipeline("pipelines/ProcessCcd.yaml")  # doctest: +SKIP
    >>> view.labels                                          # doctest: +SKIP
    ['isr', 'calibrateImage']
    """
    graph, source = load_pipeline_graph(path_or_pipeline)
    if graph is path_or_pipeline:
        graph = graph.copy()  # resolving below must not change the caller's graph
    try:
        graph.resolve(visualization_only=True)
    except Exception as err:  # still usable unresolved; storage classes then come from edges
        _LOG.debug("could not resolve %s for display: %s", source, err)
        graph.sort()
    tasks = []
    order: list[str] = []
    produced: dict[str, str] = {}
    consumed: dict[str, list[str]] = {}
    storage: dict[str, str] = {}
    for label, node in graph.tasks.items():
        ins: list[str] = []
        outs: list[str] = []
        # pipe_base yields edges in set order (it changes with PYTHONHASHSEED): list them in the
        # order the task's connections class defines them, so every run shows the same table.
        rank = {n: i for i, n in enumerate(type(node.get_connections()).allConnections)}
        reads = [(e, "") for e in _by_definition(node.iter_all_inputs(), rank)] + [
            (e, " (init)") for e in _by_definition(node.init.iter_all_inputs(), rank)
        ]
        for read, note in reads:
            name = read.parent_dataset_type_name
            if read.connection_name in node.prerequisite_inputs:
                note = " (prerequisite)"
            ins.append(name + note)
            consumed.setdefault(name, []).append(label)
            order.append(name)
            storage.setdefault(name, read.storage_class_name)
        writes = [(e, "") for e in _by_definition(node.iter_all_outputs(), rank)] + [
            (e, " (init)") for e in _by_definition(node.init.iter_all_outputs(), rank)
        ]
        for write, note in writes:
            if write.connection_name.startswith("_"):  # the automatic _config, _log, _metadata
                continue
            name = write.parent_dataset_type_name
            outs.append(name + note)
            order.append(name)
            produced[name] = label
            storage.setdefault(name, write.storage_class_name)
        dims = ", ".join(sorted(node.get_connections().dimensions))
        # A dataset read through two connections (e.g. one reference catalog) is listed once.
        tasks.append((label, node.task_class, sorted(set(ins)), sorted(set(outs)), dims))
    names = list(dict.fromkeys(order))
    datasets = [
        (
            name,
            storage.get(name, ""),
            produced.get(name, "(overall input)"),
            ", ".join(dict.fromkeys(consumed.get(name, []))) or "(final output)",
        )
        for name in names
    ]
    title = f"{source}: {len(tasks)} task" + ("" if len(tasks) == 1 else "s")
    return PipelineView(title=title, graph=graph, tasks=tasks, datasets=datasets)


def _by_definition(edges: Iterable[Edge], rank: Mapping[str, int]) -> list[Edge]:
    """Sort a task's edges in the order its connections class defines them."""
    return sorted(edges, key=lambda e: (rank.get(e.connection_name, len(rank)), e.connection_name))
