"""Where a config value was set, said so a reader can go and look: the "set at" column.

pex_config keeps, for every field, the history of its values as ``(value, stack, label)``
entries (``config._history[name]``; `lsst.pex.config.history` formats it); ``stack`` is the
call stack of `lsst.pex.config.callStack.StackFrame` (file, line, function) at the moment of the
change.  The innermost frame outside pex_config says where the value came from, but not in
words a reader can use:

- a ``config.x = ...`` line in a notebook cell is a file such as ``/tmp/ipykernel_123/456.py``:
  IPython knows which cell that is (``In[5]``);
- an override file given to ``pipetask -C``, a pipeline's ``file:`` entry, a pipeline's
  ``python:`` block and a config read back from the Butler are all executed from a string, so
  their frames say ``<string>``; the frames around them tell these apart (pipe_base's
  ``ConfigOverrides.applyTo`` loading a file, or running a Python snippet; pex_config's
  ``Config._fromPython`` reading a saved config, under the Butler's ``PexConfigFormatter``);
- a pipeline's ``config:`` entry and ``pipetask -c`` are both an assignment in
  ``ConfigOverrides.applyTo``.

`where_set` turns a history entry into one of these, and with `PipelineOrigins` (what the
pipeline YAML itself says, read with its line numbers) into the YAML file and line or the
``-c`` that set the value.
"""

from __future__ import annotations

__all__ = (
    "PipelineOrigins",
    "where_set",
)

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsst.pex.config import Config

# Frames that are the machinery of setting a value, not its origin.
_INTERNAL = (
    "lsst/pex/config/",
    "stackclub/_config_model.py",
    "stackclub/_config_origin.py",
    "stackclub/config_docs.py",
)
# pipe_base applying a pipeline's overrides (config: entries, file:/-C files, python: blocks, -c).
_PIPELINE_OVERRIDES = "lsst/pipe/base/configOverrides.py"
# pipe_base's Butler formatter reading a stored ``<label>_config`` dataset.
_BUTLER_FORMATTER = "lsst/pipe/base/formatters/pexConfig.py"


def _posix(filename: str) -> str:
    return filename.replace(os.sep, "/")


def _is_internal(filename: str) -> bool:
    name = _posix(filename)
    return name.startswith("<frozen") or any(part in name for part in _INTERNAL)


# --------------------------------------------------------------------------------------------------
# Naming a file or a notebook cell without the machine's paths
# --------------------------------------------------------------------------------------------------


def _cell_name(filename: str) -> str | None:
    """``"cell In[5]"`` for code IPython compiled from a cell of this kernel, else None."""
    name = _posix(filename)
    if not ("/ipykernel_" in name or name.startswith("<ipython-input")):
        return None
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    compiler = getattr(shell, "compile", None)
    if compiler is not None and hasattr(compiler, "format_code_name"):
        try:
            named = compiler.format_code_name(filename)
        except Exception:  # pragma: no cover - another IPython's internals
            named = None
        if named:
            return f"cell {named[1]}"
    return "a notebook cell"


def short_file(filename: str) -> str:
    """Name a file the way a reader can find it, without this machine's directories.

    A file under a `sys.path` entry is named by its import path (``lsst/pipe/base/config.py``,
    ``stackclub/simcam/config/isr.py``); a file under the working directory by its relative
    path; any other file by its name alone.

    Parameters
    ----------
    filename
        A path.

    Returns
    -------
    name : `str`
        The shortened name.

    Examples
    --------
    >>> short_file("/no/such/dir/override.py")
    'override.py'
    """
    if filename.startswith("<"):
        return filename
    path = os.path.abspath(filename)
    best = ""
    for entry in sys.path:
        root = os.path.abspath(entry or os.curdir)
        if path.startswith(root.rstrip(os.sep) + os.sep) and len(root) > len(best):
            best = root
    cwd = os.getcwd()
    if path.startswith(cwd.rstrip(os.sep) + os.sep) and len(cwd) >= len(best):
        best = cwd
    if best:
        return _posix(os.path.relpath(path, best))
    return os.path.basename(path)


# --------------------------------------------------------------------------------------------------
# What a pipeline YAML says about one task's config, with line numbers
# --------------------------------------------------------------------------------------------------


@dataclass
class PipelineOrigins:
    """The overrides a pipeline gives one task, and where in its YAML each is written.

    Attributes
    ----------
    label
        The task's label in the pipeline.
    yaml_name
        The YAML file's name as shown (`None` when the pipeline did not come from a file).
    values
        Config key (``"connections.outputExposure"``) -> ``(file name, line)`` of its
        ``config:`` entry.
    files
        Override files of the task (``file:`` entries and ``-C``): path -> how it was given,
        e.g. ``"file: of isr in ProcessCcd.yaml"``.
    python
        The task's ``python:`` blocks: ``(file name, line of the block's first line, text)``.

    Examples
    --------
    >>> PipelineOrigins("isr").label
    'isr'
    """

    label: str
    yaml_name: str | None = None
    values: dict[str, tuple[str, int]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    python: list[tuple[str, int, str]] = field(default_factory=list)

    @classmethod
    def read(cls, pipeline: Any, label: str) -> PipelineOrigins:
        """Read what ``pipeline`` (a YAML path or a `~lsst.pipe.base.Pipeline`) says about ``label``.

        Parameters
        ----------
        pipeline
            A pipeline YAML path (or URI) or a `~lsst.pipe.base.Pipeline`.
        label
            The task's label.

        Returns
        -------
        origins : `PipelineOrigins`
            With line numbers when the YAML could be read; overrides added in Python (or by
            ``pipetask -c``/``-C``) are those the YAML does not have.
        """
        from lsst.pipe.base import Pipeline

        origins = cls(label)
        source = None
        if isinstance(pipeline, str | os.PathLike):
            source = os.fspath(pipeline).split("#", 1)[0]
            pipeline = Pipeline.from_uri(os.fspath(pipeline))
        if source is not None:
            origins._read_yaml(source, set())
        task_ir = getattr(getattr(pipeline, "_pipelineIR", None), "tasks", {}).get(label)
        for config_ir in getattr(task_ir, "config", None) or []:
            for path in config_ir.file or []:
                origins.files.setdefault(os.path.expandvars(path), f"-C {label}:{short_file(path)}")
        return origins

    def _read_yaml(self, source: str, seen: set[str]) -> None:
        """Record the ``config:`` keys, ``file:`` entries and ``python:`` blocks of our task."""
        import yaml
        from lsst.resources import ResourcePath

        if source in seen or len(seen) > 20:
            return
        seen.add(source)
        try:
            uri = ResourcePath(source)
            text = uri.read().decode()
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except Exception:  # an unreadable import: say less rather than fail
            return
        name = uri.basename()
        self.yaml_name = self.yaml_name or name
        top = _mapping(root)
        for block in _config_blocks(_mapping(top.get("tasks")).get(self.label)):
            for key_node, value_node in block.value:
                key = str(key_node.value)
                if key == "file":
                    items = value_node.value if isinstance(value_node.value, list) else [value_node]
                    for item in items:
                        path = os.path.expandvars(str(item.value))
                        self.files[path] = f"file: of {self.label} in {name}"
                elif key == "python":
                    first = value_node.start_mark.line + 1  # 0-based line of the scalar's start
                    if value_node.style in ("|", ">"):
                        first += 1  # the text starts on the line after the indicator
                    self.python.append((name, first, str(value_node.value)))
                elif key != "dataId":
                    self.values.setdefault(key, (name, key_node.start_mark.line + 1))
        imports = top.get("imports")
        for item in imports.value if imports is not None and isinstance(imports.value, list) else []:
            location = _mapping(item).get("location") if hasattr(item, "value") else None
            target = location.value if location is not None else getattr(item, "value", None)
            if isinstance(target, str):
                resolved = os.path.expandvars(target)
                if "://" not in resolved and not os.path.isabs(resolved):
                    resolved = os.path.join(os.path.dirname(source), resolved)
                self._read_yaml(resolved, seen)


def _mapping(node: Any) -> dict[str, Any]:
    """Return a YAML mapping node's ``{key: value node}`` (empty for anything else)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        return {str(k.value): v for k, v in node.value}
    return {}


def _config_blocks(task_node: Any) -> list[Any]:
    """Return the mapping nodes of a task's ``config:`` (one block, or a list of blocks)."""
    import yaml

    config = _mapping(task_node).get("config")
    if isinstance(config, yaml.MappingNode):
        return [config]
    if isinstance(config, yaml.SequenceNode):
        return [n for n in config.value if isinstance(n, yaml.MappingNode)]
    return []


# --------------------------------------------------------------------------------------------------
# where_set
# --------------------------------------------------------------------------------------------------


def _mentions(text: str, lineno: int, name: str) -> bool:
    lines = text.splitlines()
    return 1 <= lineno <= len(lines) and name in lines[lineno - 1]


def _file_text(path: str) -> str:
    try:
        from lsst.resources import ResourcePath

        return ResourcePath(path).read().decode()
    except Exception:
        return ""


def _from_string(
    frames: list[Any], lineno: int, name: str, origins: PipelineOrigins | None, label: str | None
) -> str:
    """Say where a value set by code executed from a string (``<string>``, line ``lineno``) came from."""
    outer = [f for f in frames[:-1]]
    callers = [_posix(str(f.filename)) for f in outer]
    functions = [str(getattr(f, "function", "")) for f in outer]
    via_pex = any("lsst/pex/config/" in c for c in callers[-4:])
    if any(c.endswith(_BUTLER_FORMATTER) for c in callers):
        return f"the run's stored config (read from the Butler), line {lineno}"
    if "_fromPython" in functions or "unreduceConfig" in functions:
        return f"a saved config read back, line {lineno}"
    outside = [f for f in outer if not _is_internal(str(f.filename))]
    if outside and _posix(str(outside[-1].filename)).endswith(_PIPELINE_OVERRIDES):
        task = origins.label if origins is not None else label
        if via_pex:  # ConfigOverrides.applyTo -> config.loadFromString(file contents)
            if origins is not None:
                for path, how in origins.files.items():
                    if _mentions(_file_text(path), lineno, name) or len(origins.files) == 1:
                        return f"{short_file(path)}, line {lineno} ({how})"
            of = f" of {task}" if task else ""
            return f"a config file{of} (pipeline file: or pipetask -C), line {lineno}"
        if origins is not None:  # ConfigOverrides.applyTo -> exec(python snippet)
            for yaml_name, first, text in origins.python:
                if _mentions(text, lineno, name) or len(origins.python) == 1:
                    return f"{yaml_name}, line {first + lineno - 1} (python: of {origins.label})"
        of = f" of {task}" if task else ""
        return f"the pipeline's python: block{of}, line {lineno}"
    if outside:  # config.loadFromString(...) called by our own code or a notebook cell
        return f"a string loaded at {_frame_text(outside[-1])}, line {lineno} of it"
    return f"a string, line {lineno}"


def _frame_text(frame: Any) -> str:
    filename = str(frame.filename)
    cell = _cell_name(filename)
    if cell is not None:
        return f"{cell}, line {frame.lineno}"
    return f"{short_file(filename)}:{frame.lineno}"


def where_set(
    config: Config,
    name: str,
    *,
    path: str | None = None,
    origins: PipelineOrigins | None = None,
    label: str | None = None,
) -> str:
    """Say where the current value of field ``name`` of ``config`` was set.

    Parameters
    ----------
    config
        The config (or nested config) that holds the field.
    name
        The field's name in ``config``.
    path
        The field's dotted path from the task's config (``"star_detection.thresholdValue"``),
        as a pipeline's ``config:`` keys and ``-c`` name it; ``name`` when `None`.
    origins
        What the pipeline that made this config says about its task, when known.
    label
        The task's label in its pipeline, when known (for the ``-c`` it would take).

    Returns
    -------
    where : `str`
        ``"override.py:3"``, ``"cell In[5], line 2"``, ``"ProcessCcd.yaml, line 12 (config: of
        isr)"``, ``"-c isr:doFringe=False"``, ``"the run's stored config (read from the Butler),
        line 74"``; the history label is added in parentheses unless it is a plain assignment
        (``"(retarget)"``, ``"(insert)"``).  Empty when pex_config kept no history.
    """
    history = config._history.get(name) or []
    if not history:
        return ""
    value, stack, how = history[-1]
    if how == "default":  # the value the field got when the config was made
        return "its default"
    frames = list(stack or [])
    key = path or name
    suffix = "" if how in ("assignment", "default") else f" ({how})"
    if frames and str(getattr(frames[-1], "filename", "")) == "<string>":
        return _from_string(frames, frames[-1].lineno, name, origins, label) + suffix
    outside = [f for f in frames if not _is_internal(str(getattr(f, "filename", "")))]
    if not outside:
        return str(how)
    frame = outside[-1]
    if _posix(str(frame.filename)).endswith(_PIPELINE_OVERRIDES):
        # A config: entry of the pipeline YAML, or pipetask -c (pipeline.addConfigOverride).
        task = origins.label if origins is not None else label
        if origins is not None and key in origins.values:
            yaml_name, line = origins.values[key]
            return f"{yaml_name}, line {line} (config: of {origins.label})" + suffix
        override = f"-c {task}:{key}={_plain_text(value)}" if task else "-c"
        if origins is not None and origins.yaml_name is not None:
            return override + suffix  # not in the YAML: added on the command line or in Python
        return f"a pipeline config: entry or {override}" + suffix
    return _frame_text(frame) + suffix


def _plain_text(value: Any) -> str:
    """Write a value as ``-c`` takes it: ``False``, ``2.5``, ``post_isr_image``."""
    if isinstance(value, str):
        return value
    return repr(value) if not isinstance(value, bool | int | float) else str(value)
