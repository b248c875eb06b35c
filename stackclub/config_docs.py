"""See a task's configuration: its fields, what changed, its subtasks, its connections and pipeline.

Each helper builds a small model first (rows of plain values) and then renders it, as an HTML
table for notebooks (every value escaped by `stackclub._render`) and as aligned text for
terminals.  They work on any `lsst.pex.config.Config` — ours or the real stack's — given as a
class, an instance, a `~lsst.pipe.base.Task` (class or instance) or a dotted class path.

=====================  ==========================================================================
`show_config`          every field: dotted path, type, default, current value, doc
`diff_configs`         the fields whose values differ between two configs, side by side
`show_task_tree`       the subtask hierarchy and the config path that selects each subtask
`show_connections`     a PipelineTask's inputs and outputs, with a pipeline's effective names
`show_pipeline`        a pipeline's tasks in order and the datasets flowing between them
=====================  ==========================================================================

The pipeline helpers live in `stackclub.pipeline_docs` and `show_task_tree` in
`stackclub.task_tree`, re-exported here; the row model (walking every pex_config field kind,
defaults) in `stackclub._config_model`, and where each value was set ("set at") in
`stackclub._config_origin`.

Compared with the tools learners meet elsewhere: documenteer's ``lsst-task-config-fields``
Sphinx directives also walk ``Config._fields`` and format each field kind, but document a class
(no current values, no history) and only inside a Sphinx build; ``pipetask build --show config``
prints the current values as Python, without types, defaults or docs.  Here one object gives
type, default, value, doc and "set at" for a class or an instance, folded per nested config,
in a notebook or a terminal (``stackclub config``).
"""

from __future__ import annotations

__all__ = (
    "ConfigDiff",
    "ConfigRow",
    "ConfigView",
    "ConnectionsView",
    "PipelineView",
    "TaskTree",
    "TaskTreeRow",
    "diff_configs",
    "show_config",
    "show_connections",
    "show_pipeline",
    "show_task_tree",
)

import fnmatch
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._config_model import (
    ConfigRow,
    flatten_config,
    problem_note,
    resolve_config,
    same_value,
    validation_problem,
)
from ._config_origin import PipelineOrigins
from ._exceptions import ArgumentTypeError, NotAConfigError, PipelineLoadError
from ._render import Table, escape, warning_html, warning_text
from .pipeline_docs import (
    ConnectionsView,
    PipelineView,
    pipeline_task_config,
    show_connections,
    show_pipeline,
)
from .task_tree import TaskTree, TaskTreeRow, show_task_tree

if TYPE_CHECKING:
    from lsst.pex.config import Config

_LOG = logging.getLogger(__name__)

_CHANGED_STYLE = "font-weight: bold"


# --------------------------------------------------------------------------------------------------
# show_config
# --------------------------------------------------------------------------------------------------


@dataclass
class ConfigView:
    """The fields of one config, as rows, rendered as folding HTML tables or aligned text.

    Build one with `show_config`; it displays itself in a notebook (``_repr_html_``) and in a
    terminal (``str``).  The rows are plain data: iterate over them, index them by dotted path,
    or test them.

    Attributes
    ----------
    title
        What was shown, e.g. ``"IsrTaskConfig (stackclub.pipe.isr.IsrTaskConfig)"``.
    rows
        The `ConfigRow` of each shown field, parents before their children.
    changed_only
        Whether only fields that differ from their defaults are shown; adds a "set at" column.
    filtered
        Whether a glob or ``changed_only`` selected the rows (nested tables then start open).
    problem
        Why the config does not validate (the first line of ``config.validate()``'s error),
        shown above the table; `None` when it validates (or was not validated).

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class DemoConfig(pexConfig.Config):
    ...     doBias = pexConfig.Field[bool](doc="Subtract the bias.", default=True)
    >>> view = show_config(DemoConfig)
    >>> view["doBias"].value
    'True'
    >>> print(view)  # doctest: +NORMALIZE_WHITESPACE
    DemoConfig (stackclub.config_docs.DemoConfig): 1 field
    field  type        default value doc
    ------ ----------- ------- ----- ------------------
    doBias Field[bool] True    True  Subtract the bias.
    """

    title: str
    rows: list[ConfigRow] = field(default_factory=list)
    changed_only: bool = False
    filtered: bool = False
    problem: str | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ConfigRow]:
        return iter(self.rows)

    def __contains__(self, path: object) -> bool:
        return any(row.path == path for row in self.rows)

    def __getitem__(self, path: str) -> ConfigRow:
        for row in self.rows:
            if row.path == path:
                return row
        raise KeyError(f"no field {path!r} is shown; shown fields: {', '.join(self.paths) or '(none)'}")

    @property
    def paths(self) -> list[str]:
        """The dotted paths of the shown fields, in display order."""
        return [row.path for row in self.rows]

    def __repr__(self) -> str:
        return f"<ConfigView: {self.title}, {len(self.rows)} rows>"

    @property
    def columns(self) -> list[str]:
        """Column headings (``set at`` is added when ``changed_only``)."""
        cols = ["field", "type", "default", "value", "doc"]
        return cols + ["set at"] if self.changed_only else cols

    def _cells(self, row: ConfigRow, *, html: bool) -> list[Any]:
        value: Any = row.value
        if html and row.changed:
            value = _styled(row.value)
        cells: list[Any] = [row.path, row.type_cell(), row.default, value, row.doc]
        if self.changed_only:
            cells.append(row.where)
        return cells

    def to_table(self, *, max_width: int | None = None) -> Table:
        """All rows as one flat `Table` (what ``str`` shows).

        ``max_width`` cuts long defaults, values and docs with ``…`` (field paths and types
        are always shown whole).

        Parameters
        ----------
        max_width
            Longest default, value or doc shown whole (`None`: no limit).

        Returns
        -------
        table : `~stackclub._render.Table`
            One flat table of every shown row.
        """
        heading = f"{self.title}: {_count(len(self.rows), 'field')}"
        rows: list[Sequence[Any]] = [self._cells(r, html=False) for r in self.rows]
        if max_width is not None:
            rows = [[*row[:2], *(_cut(str(c), max_width) for c in row[2:])] for row in rows]
        return Table(self.columns, rows, title=heading)

    def to_text(self, *, max_width: int | None = 60) -> str:
        """Render as aligned text; defaults, values and docs longer than ``max_width`` are cut.

        Parameters
        ----------
        max_width
            Longest default, value or doc shown whole (`None`: no limit).

        Returns
        -------
        text : `str`
            The validation problem (if any), the title and the rows.
        """
        text = self.to_table(max_width=max_width).to_text()
        return f"{warning_text(problem_note(self.problem))}\n{text}" if self.problem else text

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self) -> str:
        """Render as HTML: one table per config level, nested levels folded in ``<details>``."""
        children: dict[str, list[ConfigRow]] = {}
        for row in self.rows:
            children.setdefault(row.parent, []).append(row)
        heading = f"{self.title}: {_count(len(self.rows), 'field')}"
        parts = ['<div class="stackclub-config">']
        if self.problem:
            parts.append(warning_html(problem_note(self.problem)))
        parts.append(f"<p><strong>{escape(heading)}</strong></p>")
        self._html_level("", children, parts)
        parts.append("</div>")
        return "\n".join(parts)

    def _html_level(self, parent: str, children: dict[str, list[ConfigRow]], parts: list[str]) -> None:
        rows = children.get(parent, [])
        if not rows:
            return
        parts.append(Table(self.columns, [self._cells(r, html=True) for r in rows]).to_html())
        for row in rows:
            if row.path not in children:
                continue
            opened = " open" if self.filtered else ""
            summary = f"<code>{escape(row.path)}</code> — {row.type_cell().to_html()}"
            parts.append(f'<details{opened} style="margin-left: 1.5em"><summary>{summary}</summary>')
            self._html_level(row.path, children, parts)
            parts.append("</details>")

    def _repr_html_(self) -> str:
        return self.to_html()


def show_config(
    config_or_class: Any = None,
    *,
    fields: str | Sequence[str] | None = None,
    changed_only: bool = False,
    depth: int | None = None,
    validate: bool = True,
    pipeline: Any = None,
    label: str | None = None,
) -> ConfigView:
    """Show a config's fields: dotted path, type, default, current value and doc.

    Parameters
    ----------
    config_or_class
        A `lsst.pex.config.Config` instance or subclass, a `~lsst.pipe.base.Task` class or
        instance (its config is shown), a pipeline-graph task node, or the dotted path of any
        of these classes (``"lsst.pipe.base.PipelineTaskConfig"``).  May be `None` when
        ``pipeline`` and ``label`` say which task.
    fields
        Keep only fields whose name or dotted path matches this glob (or any of these globs),
        e.g. ``"do*"``, and the fields of a matching nested config (``"overscan"``); their
        enclosing configs are kept too.
    changed_only
        Keep only fields whose value differs from the default, and add where each was set
        ("set at", from the history pex_config keeps for every field): ``override.py:3`` for a
        file, ``cell In[5], line 2`` for a notebook cell, the pipeline YAML's line for its
        ``config:`` entries, ``file:`` and ``python:`` blocks, the ``-c`` that set a value
        (``-c isr:doFringe=False``), or the line of the run's stored config for a config read
        back from the Butler.
    depth
        How many levels of nested configs to show: ``0`` for the top-level fields only,
        `None` for all.
    validate
        Call ``config.validate()`` first; when it fails, the config is shown all the same
        with the reason above the table (`ConfigView.problem`): a config that does not
        validate is the one a learner most needs to look at.
    pipeline
        A pipeline YAML path, a `~lsst.pipe.base.Pipeline` or a
        `~lsst.pipe.base.pipeline_graph.PipelineGraph`: show the config this pipeline gives
        the task (``label``, or the one task of the class given), and say in "set at" which
        line of the YAML (or which ``-c``) set each value.
    label
        The task's label in ``pipeline``.

    Returns
    -------
    view : `ConfigView`
        Rows that render as HTML in a notebook and as text with ``print``.

    Raises
    ------
    stackclub._exceptions.NotAConfigError
        ``config_or_class`` is not (and does not lead to) a config.
    stackclub._exceptions.UnloadableClassError
        A dotted class path that cannot be imported.
    stackclub._exceptions.PipelineLoadError
        The pipeline cannot be read or has no such task.
    stackclub._exceptions.ArgumentTypeError
        ``fields``, ``depth`` or ``label`` is of the wrong type.

    Notes
    -----
    The *default* of a field is its value in a freshly constructed config of the same class,
    i.e. after the class's ``setDefaults`` ran: that is what the task would use if nothing
    overrode it.  Fields are listed in definition order.  For a `~lsst.pex.config.RegistryField`
    or `~lsst.pex.config.ConfigChoiceField` only the selected configs are expanded, as
    ``Config.compare`` does; for a `~lsst.pex.config.ConfigurableField` the current target's.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class DemoConfig(pexConfig.Config):
    ...     doBias = pexConfig.Field[bool](doc="Subtract the bias.", default=True)
    ...     gain = pexConfig.RangeField[float](doc="Gain.", default=1.0, min=0.0)
    >>> config = DemoConfig()
    >>> config.gain = 2.5
    >>> view = show_config(config, changed_only=True)
    >>> view.paths
    ['gain']
    >>> view["gain"].type, view["gain"].default, view["gain"].value
    ('RangeField[float] [0.0, inf)', '1.0', '2.5')
    """
    globs = _globs(fields, "show_config")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)):
        raise ArgumentTypeError(
            "show_config", "depth", depth, "an int >= 0 (how many levels of nested configs), or None for all"
        )
    config, label, origins = _config_and_origins(config_or_class, pipeline, label)
    problem = validation_problem(config) if validate else None
    rows = flatten_config(config, with_defaults=True, depth=depth, origins=origins, label=label)
    # A field matches a glob when it or an enclosing config does ("overscan" shows its fields).
    selected: dict[str, bool] = {}
    for row in rows:  # parents come before their children
        selected[row.path] = not globs or _matches(row, globs) or selected.get(row.parent, False)
    keep = {row.path for row in rows if selected[row.path] and (not changed_only or row.changed)}
    # A parent stays when any of its descendants stays, so the dotted structure reads well.
    parents = {row.path: row.parent for row in rows}
    for path in list(keep):
        parent = parents[path]
        while parent and parent not in keep:
            keep.add(parent)
            parent = parents[parent]
    shown = [row for row in rows if row.path in keep]
    title = _title(config) if label is None else f"{label}: {_title(config)}"
    return ConfigView(
        title=title,
        rows=shown,
        changed_only=changed_only,
        filtered=bool(globs) or changed_only,
        problem=problem,
    )


def _config_and_origins(
    obj: Any, pipeline: Any, label: str | None
) -> tuple[Config, str | None, PipelineOrigins | None]:
    """Resolve what `show_config` was given to a config, its pipeline label and the pipeline's overrides."""
    if label is not None and not isinstance(label, str):
        raise ArgumentTypeError("show_config", "label", label, "a task label such as 'isr', or None")
    if pipeline is None:
        if label is not None:
            raise PipelineLoadError("(none given)", f"label={label!r} needs pipeline= as well")
        if obj is None:
            raise NotAConfigError(None, "show_config", expected="a config or task, or pipeline= and label=")
        config = resolve_config(obj, what="show_config")
        node_label = getattr(obj, "label", None) if hasattr(obj, "task_class") else None
        return config, node_label if isinstance(node_label, str) else None, None
    config, title = pipeline_task_config(obj, pipeline, label)
    label = label or title.split(" ", 1)[0]
    try:
        origins = PipelineOrigins.read(pipeline, label)
    except Exception as err:  # "set at" then says less; the config itself is right
        _LOG.debug("could not read the overrides of %r in %r: %s", label, pipeline, err)
        origins = None
    return config, label, origins


# --------------------------------------------------------------------------------------------------
# diff_configs
# --------------------------------------------------------------------------------------------------


@dataclass
class ConfigDiff:
    """The fields whose values differ between two configs (see `diff_configs`).

    Attributes
    ----------
    labels
        Headings of the two value columns.
    titles
        What each side is (config class names).
    rows
        ``(path, type, a, b, doc)`` tuples; ``a`` or ``b`` is empty where that side lacks the field.
    set_at
        For each row, where ``b``'s value was set (see `show_config`'s "set at"); empty when
        pex_config kept no history of it.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class DemoConfig(pexConfig.Config):
    ...     doBias = pexConfig.Field[bool](doc="Subtract the bias.", default=True)
    >>> b = DemoConfig()
    >>> b.doBias = False
    >>> print(diff_configs(DemoConfig(), b))  # doctest: +ELLIPSIS
    1 field differs: a = DemoConfig, b = DemoConfig
    field  type        a    b     doc                b set at
    ------ ----------- ---- ----- ------------------ --------...
    doBias Field[bool] True False Subtract the bias. ...
    """

    labels: tuple[str, str]
    titles: tuple[str, str]
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    set_at: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[str, str, str, str, str]]:
        return iter(self.rows)

    @property
    def paths(self) -> list[str]:
        """The dotted paths that differ."""
        return [row[0] for row in self.rows]

    def __getitem__(self, path: str) -> tuple[str, str]:
        for row in self.rows:
            if row[0] == path:
                return row[2], row[3]
        raise KeyError(f"{path!r} does not differ; differing fields: {', '.join(self.paths) or '(none)'}")

    def __repr__(self) -> str:
        return f"<ConfigDiff: {len(self.rows)} differing fields>"

    def to_table(self) -> Table:
        """Return the differences as a `Table`."""
        a, b = self.labels
        verb = "differs" if len(self.rows) == 1 else "differ"
        title = f"{_count(len(self.rows), 'field')} {verb}: {a} = {self.titles[0]}, {b} = {self.titles[1]}"
        set_at = self.set_at if len(self.set_at) == len(self.rows) else [""] * len(self.rows)
        rows: list[Sequence[Any]] = [[*row, where] for row, where in zip(self.rows, set_at, strict=True)]
        return Table(["field", "type", a, b, "doc", f"{b} set at"], rows, title=title)

    def __str__(self) -> str:
        return self.to_table().to_text(max_width=60)

    def _repr_html_(self) -> str:
        return self.to_table().to_html()


def diff_configs(a: Any, b: Any, *, labels: tuple[str, str] = ("a", "b")) -> ConfigDiff:
    """Show the fields whose values differ between two configs, side by side.

    Parameters
    ----------
    a, b
        Configs to compare, given as anything `show_config` accepts; usually two instances of
        one class (e.g. a task's defaults and a pipeline's config for it).
    labels
        Headings of the two value columns.

    Returns
    -------
    diff : `ConfigDiff`
        One row per differing field; ``len(diff) == 0`` when the configs agree.

    Raises
    ------
    stackclub._exceptions.NotAConfigError
        ``a`` or ``b`` is not a config.
    stackclub._exceptions.ArgumentTypeError
        ``labels`` is not two strings.

    Notes
    -----
    Like ``Config.compare``, only the selected configs of a registry or choice field are
    compared (the others do not affect a run).  Floats are compared exactly; ``nan`` equals
    ``nan``.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class DemoConfig(pexConfig.Config):
    ...     planes = pexConfig.ListField[str](doc="Mask planes.", default=["SAT"])
    >>> b = DemoConfig()
    >>> b.planes.append("CR")
    >>> diff_configs(DemoConfig(), b, labels=("default", "mine"))["planes"]
    ("['SAT']", "['SAT', 'CR']")
    """
    if (
        isinstance(labels, str)
        or not isinstance(labels, Sequence)
        or len(labels) != 2
        or not all(isinstance(x, str) for x in labels)
    ):
        raise ArgumentTypeError(
            "diff_configs", "labels", labels, "two column headings, e.g. labels=('default', 'mine')"
        )
    config_a = resolve_config(a, what="diff_configs")
    config_b = resolve_config(b, what="diff_configs")
    rows_a = {row.path: row for row in flatten_config(config_a, with_defaults=False)}
    rows_b = {row.path: row for row in flatten_config(config_b, with_defaults=False, where_all=True)}
    order = list(rows_a) + [p for p in rows_b if p not in rows_a]
    out = []
    set_at = []
    for path in order:
        ra, rb = rows_a.get(path), rows_b.get(path)
        if ra is not None and rb is not None and same_value(ra.raw, rb.raw):
            continue
        ref = ra if ra is not None else rb
        assert ref is not None
        out.append(
            (
                path,
                ref.type,
                ra.value if ra is not None else "",
                rb.value if rb is not None else "",
                ref.doc,
            )
        )
        set_at.append(rb.where if rb is not None else "")
    return ConfigDiff(
        labels=(labels[0], labels[1]),
        titles=(_title(config_a, short=True), _title(config_b, short=True)),
        rows=out,
        set_at=set_at,
    )


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------


def _title(config: Config, *, short: bool = False) -> str:
    cls = type(config)
    if short:
        return cls.__name__
    return f"{cls.__name__} ({cls.__module__}.{cls.__qualname__})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _globs(fields: str | Sequence[str] | None, function: str) -> list[str]:
    expected = "a glob such as 'do*', a list of globs, or None for every field"
    if fields is None:
        return []
    if isinstance(fields, str):
        return [fields]
    if not isinstance(fields, Sequence | set | frozenset) or not all(isinstance(f, str) for f in fields):
        raise ArgumentTypeError(function, "fields", fields, expected)
    return list(fields)


def _matches(row: ConfigRow, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(row.name, g) or fnmatch.fnmatchcase(row.path, g) for g in globs)


def _cut(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _styled(text: str) -> Any:
    from ._render import Styled

    return Styled(text, _CHANGED_STYLE)
