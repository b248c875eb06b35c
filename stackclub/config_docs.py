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

The pipeline helpers live in `stackclub.pipeline_docs` and are re-exported here; the row
model (walking every pex_config field kind, defaults, history) in `stackclub._config_model`.

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

from ._config_model import ConfigRow, flatten_config, link_for, resolve_config, resolve_task, same_value
from ._exceptions import ConfigValidationError
from ._render import Table, escape
from .pipeline_docs import ConnectionsView, PipelineView, show_connections, show_pipeline

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

    Parameters
    ----------
    title
        What was shown, e.g. ``"IsrTaskConfig (stackclub.pipe.isr.IsrTaskConfig)"``.
    rows
        The `ConfigRow` of each shown field, parents before their children.
    changed_only
        Whether only fields that differ from their defaults are shown; adds a "set at" column.
    filtered
        Whether a glob or ``changed_only`` selected the rows (nested tables then start open).

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
        """
        heading = f"{self.title}: {_count(len(self.rows), 'field')}"
        rows: list[Sequence[Any]] = [self._cells(r, html=False) for r in self.rows]
        if max_width is not None:
            rows = [[*row[:2], *(_cut(str(c), max_width) for c in row[2:])] for row in rows]
        return Table(self.columns, rows, title=heading)

    def to_text(self, *, max_width: int | None = 60) -> str:
        """Render as aligned text; defaults, values and docs longer than ``max_width`` are cut."""
        return self.to_table(max_width=max_width).to_text()

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self) -> str:
        """Render as HTML: one table per config level, nested levels folded in ``<details>``."""
        children: dict[str, list[ConfigRow]] = {}
        for row in self.rows:
            children.setdefault(row.parent, []).append(row)
        heading = f"{self.title}: {_count(len(self.rows), 'field')}"
        parts = ['<div class="stackclub-config">', f"<p><strong>{escape(heading)}</strong></p>"]
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
    config_or_class: Any,
    *,
    fields: str | Sequence[str] | None = None,
    changed_only: bool = False,
    depth: int | None = None,
    validate: bool = True,
) -> ConfigView:
    """Show a config's fields: dotted path, type, default, current value and doc.

    Parameters
    ----------
    config_or_class
        A `lsst.pex.config.Config` instance or subclass, a `~lsst.pipe.base.Task` class or
        instance (its config is shown), a pipeline-graph task node, or the dotted path of any
        of these classes (``"lsst.pipe.base.PipelineTaskConfig"``).
    fields
        Keep only fields whose name or dotted path matches this glob (or any of these globs),
        e.g. ``"do*"``, and the fields of a matching nested config (``"overscan"``); their
        enclosing configs are kept too.
    changed_only
        Keep only fields whose value differs from the default, and add where each was set
        (file and line, from the history pex_config keeps for every field).
    depth
        How many levels of nested configs to show: ``0`` for the top-level fields only,
        `None` for all.
    validate
        Call ``config.validate()`` first and raise if it fails (pass `False` to look at an
        incomplete config anyway).

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
    stackclub._exceptions.ConfigValidationError
        ``validate`` is true and the config fails ``validate()``.

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
    config = resolve_config(config_or_class, what="show_config")
    if validate:
        _validate(config)
    globs = _globs(fields)
    rows = flatten_config(config, with_defaults=True, depth=depth)
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
    return ConfigView(
        title=_title(config),
        rows=shown,
        changed_only=changed_only,
        filtered=bool(globs) or changed_only,
    )


# --------------------------------------------------------------------------------------------------
# diff_configs
# --------------------------------------------------------------------------------------------------


@dataclass
class ConfigDiff:
    """The fields whose values differ between two configs (see `diff_configs`).

    Parameters
    ----------
    labels
        Headings of the two value columns.
    titles
        What each side is (config class names).
    rows
        ``(path, type, a, b, doc)`` tuples; ``a`` or ``b`` is empty where that side lacks the field.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> class DemoConfig(pexConfig.Config):
    ...     doBias = pexConfig.Field[bool](doc="Subtract the bias.", default=True)
    >>> b = DemoConfig()
    >>> b.doBias = False
    >>> print(diff_configs(DemoConfig(), b))
    1 field differs: a = DemoConfig, b = DemoConfig
    field  type        a    b     doc
    ------ ----------- ---- ----- ------------------
    doBias Field[bool] True False Subtract the bias.
    """

    labels: tuple[str, str]
    titles: tuple[str, str]
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

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
        """The differences as a `Table`."""
        a, b = self.labels
        verb = "differs" if len(self.rows) == 1 else "differ"
        title = f"{_count(len(self.rows), 'field')} {verb}: {a} = {self.titles[0]}, {b} = {self.titles[1]}"
        return Table(["field", "type", a, b, "doc"], [list(r) for r in self.rows], title=title)

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
    config_a = resolve_config(a, what="diff_configs")
    config_b = resolve_config(b, what="diff_configs")
    rows_a = {row.path: row for row in flatten_config(config_a, with_defaults=False)}
    rows_b = {row.path: row for row in flatten_config(config_b, with_defaults=False)}
    order = list(rows_a) + [p for p in rows_b if p not in rows_a]
    out = []
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
    return ConfigDiff(
        labels=(labels[0], labels[1]),
        titles=(_title(config_a, short=True), _title(config_b, short=True)),
        rows=out,
    )


# --------------------------------------------------------------------------------------------------
# show_task_tree
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskTreeRow:
    """One task in a `TaskTree`.

    Parameters
    ----------
    name
        Full dotted task name, e.g. ``"isr.overscan"`` (the top-level task has its default name).
    level
        Nesting depth (0 for the top-level task).
    task_class
        The task (or configurable) class.
    config_path
        The config field that configures and selects it, e.g. ``"config.overscan"``.
    how_to_change
        The statement that selects another implementation, e.g.
        ``"config.overscan.retarget(OtherTask)"``.
    doc
        The selecting field's doc string.
    """

    name: str
    level: int
    task_class: type
    config_path: str
    how_to_change: str
    doc: str

    @property
    def class_name(self) -> str:
        """``module.Class`` of the task."""
        return f"{self.task_class.__module__}.{self.task_class.__qualname__}"


@dataclass
class TaskTree:
    """A task's subtask hierarchy (see `show_task_tree`).

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> import lsst.pipe.base as pipeBase
    >>> class LeafTask(pipeBase.Task):
    ...     ConfigClass = pexConfig.Config
    ...     _DefaultName = "leaf"
    >>> tree = show_task_tree(LeafTask)
    >>> tree.names
    ['leaf']
    """

    title: str
    rows: list[TaskTreeRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[TaskTreeRow]:
        return iter(self.rows)

    @property
    def names(self) -> list[str]:
        """Full dotted names of the tasks, parents first."""
        return [row.name for row in self.rows]

    def __getitem__(self, name: str) -> TaskTreeRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no subtask {name!r}; the tree has: {', '.join(self.names)}")

    def __repr__(self) -> str:
        return f"<TaskTree: {self.title}, {len(self.rows)} tasks>"

    def to_table(self, *, html: bool = False) -> Table:
        """The tree as a `Table`; names are indented by level."""
        indent = "\u00a0\u00a0" if html else "  "
        rows: list[Sequence[Any]] = [
            [
                indent * r.level + r.name,
                link_for(r.task_class),
                r.config_path,
                r.how_to_change,
                r.doc,
            ]
            for r in self.rows
        ]
        return Table(["task", "class", "config", "to change it", "doc"], rows, title=self.title)

    def __str__(self) -> str:
        return self.to_table().to_text(max_width=70)

    def _repr_html_(self) -> str:
        return self.to_table(html=True).to_html()


def show_task_tree(task_or_class: Any) -> TaskTree:
    """Show a task's subtasks, nested, with the config path that selects each one.

    This is the modern answer to poking at ``isr_task.fringe``: it reads the configuration
    (no task is constructed for a class), so it works for tasks that need a schema or a
    Butler to be built.

    Parameters
    ----------
    task_or_class
        A `~lsst.pipe.base.Task` subclass or instance, its config (class or instance), or a
        dotted class path.  For an instance the tree is read from the task's own
        ``getTaskDict()`` (the subtasks it really made).

    Returns
    -------
    tree : `TaskTree`
        One row per task, parents before their subtasks.

    Raises
    ------
    stackclub._exceptions.NotAConfigError
        The argument does not lead to a task config.
    stackclub._exceptions.UnloadableClassError
        A dotted class path that cannot be imported.

    Notes
    -----
    From a config, a subtask is any `~lsst.pex.config.ConfigurableField` (its current
    target) or `~lsst.pex.config.RegistryField` (its selected entry), as ``makeSubtask``
    builds them.  Targets that are not tasks (plain configurables) are listed too.

    Examples
    --------
    >>> import lsst.pex.config as pexConfig
    >>> import lsst.pipe.base as pipeBase
    >>> class LeafTask(pipeBase.Task):
    ...     ConfigClass = pexConfig.Config
    ...     _DefaultName = "leaf"
    >>> class TopConfig(pexConfig.Config):
    ...     leaf = pexConfig.ConfigurableField(target=LeafTask, doc="A subtask.")
    >>> class TopTask(pipeBase.Task):
    ...     ConfigClass = TopConfig
    ...     _DefaultName = "top"
    >>> tree = show_task_tree(TopTask)
    >>> tree.names
    ['top', 'top.leaf']
    >>> tree["top.leaf"].how_to_change
    'config.leaf.retarget(NewTask)'
    """
    task_class, task, config = resolve_task(task_or_class, what="show_task_tree")
    top_name = getattr(task, "getFullName", lambda: None)() or getattr(task_class, "_DefaultName", None)
    top_name = top_name or task_class.__name__
    rows = [TaskTreeRow(top_name, 0, task_class, "config", "", _first_line(task_class.__doc__))]
    _walk_subtasks(config, top_name, "config", 1, rows)
    if task is not None:
        rows = _only_made(task, rows)
    return TaskTree(title=f"{task_class.__name__} subtasks", rows=rows)


def _walk_subtasks(config: Config, name: str, path: str, level: int, rows: list[TaskTreeRow]) -> None:
    import lsst.pex.config as pex_config

    for fname, fld in config._fields.items():
        value = getattr(config, fname)
        fpath = f"{path}.{fname}"
        if isinstance(fld, pex_config.ConfigurableField):
            target = value.target
            rows.append(
                TaskTreeRow(
                    f"{name}.{fname}",
                    level,
                    target,
                    fpath,
                    f"{fpath}.retarget(NewTask)",
                    fld.doc,
                )
            )
            _walk_subtasks(value.value, f"{name}.{fname}", fpath, level + 1, rows)
        elif isinstance(fld, pex_config.RegistryField) and not fld.multi and value.name is not None:
            target = value.registry[value.name]
            target = getattr(target, "_target", target)
            choices = ", ".join(repr(k) for k in value.registry)
            rows.append(
                TaskTreeRow(
                    f"{name}.{fname}",
                    level,
                    target,
                    f"{fpath}[{value.name!r}]",
                    f"{fpath}.name = one of {choices}",
                    fld.doc,
                )
            )
            _walk_subtasks(value.active, f"{name}.{fname}", f"{fpath}[{value.name!r}]", level + 1, rows)


def _only_made(task: Any, rows: list[TaskTreeRow]) -> list[TaskTreeRow]:
    """Keep the subtasks a task instance really made, adding any its config does not describe."""
    made = {name: ref() for name, ref in task.getTaskDict().items()}
    kept = [row for row in rows if row.name in made]
    known = {row.name for row in kept}
    for full_name in sorted(made):
        sub = made[full_name]
        if sub is None or full_name in known:
            continue
        kept.append(
            TaskTreeRow(
                full_name, full_name.count("."), type(sub), "", "(made in __init__, not by config)", ""
            )
        )
    return kept


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------


def _validate(config: Config) -> None:
    try:
        config.validate()
    except Exception as err:
        # pex_config appends where the field and config were defined; the first line says what is wrong.
        message = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigValidationError(_title(config, short=True), message) from err


def _title(config: Config, *, short: bool = False) -> str:
    cls = type(config)
    if short:
        return cls.__name__
    return f"{cls.__name__} ({cls.__module__}.{cls.__qualname__})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _globs(fields: str | Sequence[str] | None) -> list[str]:
    if fields is None:
        return []
    if isinstance(fields, str):
        return [fields]
    return list(fields)


def _matches(row: ConfigRow, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(row.name, g) or fnmatch.fnmatchcase(row.path, g) for g in globs)


def _cut(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _styled(text: str) -> Any:
    from ._render import Styled

    return Styled(text, _CHANGED_STYLE)


def _first_line(doc: str | None) -> str:
    if not doc:
        return ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
