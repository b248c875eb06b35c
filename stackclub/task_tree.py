"""See a task's subtasks, nested, with the config path that selects each one: `show_task_tree`.

The tree is read from the configuration (a `~lsst.pex.config.ConfigurableField` is a subtask
with its current target, a `~lsst.pex.config.RegistryField` one with its selected entry), as
``makeSubtask`` builds them, so it works for tasks that need a schema or a Butler to be
constructed; for a task instance it is read from the task's own ``getTaskDict()``.
"""

from __future__ import annotations

__all__ = (
    "TaskTree",
    "TaskTreeRow",
    "show_task_tree",
)

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._config_model import link_for, problem_note, resolve_task, validation_problem
from ._render import Table, warning_html, warning_text

if TYPE_CHECKING:
    from lsst.pex.config import Config


@dataclass(frozen=True)
class TaskTreeRow:
    """One task in a `TaskTree`.

    Attributes
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

    Attributes
    ----------
    title
        What the tree is of, e.g. ``"IsrTask subtasks"``.
    rows
        One `TaskTreeRow` per task, parents before their subtasks.
    problem
        Why the task's config does not validate, shown above the tree; `None` when it does.

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
    problem: str | None = None

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
        """Return the tree as a `Table`; names are indented by level.

        Parameters
        ----------
        html
            Indent with non-breaking spaces (for HTML).

        Returns
        -------
        table : `~stackclub._render.Table`
            One row per task.
        """
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
        text = self.to_table().to_text(max_width=70)
        return f"{warning_text(problem_note(self.problem))}\n{text}" if self.problem else text

    def _repr_html_(self) -> str:
        html = self.to_table(html=True).to_html()
        return f"<div>{warning_html(problem_note(self.problem))}{html}</div>" if self.problem else html


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
        One row per task, parents before their subtasks.  When the config does not
        validate, the tree is shown all the same with the reason above it
        (`TaskTree.problem`).

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
    return TaskTree(title=f"{task_class.__name__} subtasks", rows=rows, problem=validation_problem(config))


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


def _first_line(doc: str | None) -> str:
    if not doc:
        return ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
