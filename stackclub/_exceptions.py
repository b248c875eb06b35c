"""Exceptions raised by Stack Club helpers.

Every message says what was wrong and what to do instead.
"""

from __future__ import annotations

__all__ = (
    "ArgumentTypeError",
    "BadDetectorError",
    "CleanStartError",
    "CommandError",
    "ConfigDocsError",
    "ConfigOverrideError",
    "ConfigValidationError",
    "DemoRepoError",
    "ExploreError",
    "IsrCalibrationMissingError",
    "MissingStackError",
    "NoRepositoryError",
    "NotAConfigError",
    "NotADemoRepoError",
    "NotInstalledError",
    "PipelineError",
    "PipelineLoadError",
    "QuantumGraphError",
    "RegistryError",
    "RemovedArgumentError",
    "RepoNotWritableError",
    "SimCamError",
    "SimCamValueError",
    "SourceNotFoundError",
    "StackClubError",
    "TaskLogNotFoundError",
    "UnknownNameError",
    "UnloadableClassError",
    "WhereIsError",
)


class StackClubError(Exception):
    """Base class of every error a Stack Club helper raises on purpose."""


class MissingStackError(StackClubError, ImportError):
    """A helper needs a Rubin package (``lsst.*``) that is not installed.

    Parameters
    ----------
    module
        The module that failed to import, e.g. ``"lsst.daf.butler"``.
    needed_for
        What the user was trying to do.
    """

    def __init__(self, module: str, needed_for: str) -> None:
        self.module = module
        self.needed_for = needed_for
        super().__init__(
            f"{needed_for} needs {module!r}, which is not installed. Install the Rubin packages with "
            "`pip install -e '.[stack]'` (or `make lab`), or set up lsst_distrib on a Rubin Science Platform."
        )


# --- stackclub.simcam: the simulated camera and the demo repository ---------------------------------


class SimCamError(StackClubError):
    """Base class of the errors raised by `stackclub.simcam`."""


class BadDetectorError(SimCamError, ValueError):
    """A detector id, or a detector count, that SimCam does not have.

    Parameters
    ----------
    detector
        What was asked for.
    n_detectors
        How many detectors SimCam has (ids ``0 .. n_detectors - 1``).
    """

    def __init__(self, detector: object, n_detectors: int) -> None:
        self.detector = detector
        self.n_detectors = n_detectors
        super().__init__(
            f"SimCam has no detector {detector!r}: its detectors are the integers 0 to {n_detectors - 1}. "
            f"Pass ids from that range (or a count from 1 to {n_detectors})."
        )


class SimCamValueError(SimCamError, ValueError):
    """A bad argument to a SimCam simulator or builder (e.g. a negative visit count)."""


class DemoRepoError(SimCamError):
    """The demo repository cannot be built or used at the given path.

    Parameters
    ----------
    path
        The repository path.
    problem
        What is wrong.
    advice
        What to do instead.
    """

    def __init__(self, path: object, problem: str, advice: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.advice = advice
        super().__init__(f"{problem} ({self.path!r}). {advice}")


class NotADemoRepoError(DemoRepoError):
    """The path exists but is not a Butler repository (and is not an empty folder)."""


class RepoNotWritableError(DemoRepoError, PermissionError):
    """The repository (or its parent folder) cannot be written."""


class PipelineError(StackClubError):
    """Base class of the errors raised by the teaching pipeline, `stackclub.pipe`."""


class IsrCalibrationMissingError(PipelineError, LookupError):
    """ISR was asked to apply a calibration (its ``do*`` switch is on) that it was not given.

    Parameters
    ----------
    dataset
        Dataset type name of the missing calibration, e.g. ``"bias"``.
    data_id
        The data ID of the exposure being processed, as text.
    switch
        The config field that turns the step on, e.g. ``"doBias"``.
    dimensions
        The calibration's dimensions, to say which data ID the Butler looked for.
    """

    def __init__(self, dataset: str, data_id: str, switch: str, dimensions: str) -> None:
        self.dataset = dataset
        self.data_id = data_id
        self.switch = switch
        super().__init__(
            f"ISR needs the {dataset!r} calibration (dimensions: {dimensions}) for {data_id}, but none was "
            f"given. Certify one into the calibration collection, pass it to run(), or turn the step off "
            f"with -c isr:{switch}=False."
        )


class ConfigDocsError(StackClubError):
    """Base class of the errors raised by `stackclub.config_docs`."""


class NotAConfigError(ConfigDocsError, TypeError):
    """A config helper was given something that is not (and does not lead to) a pex_config Config.

    Parameters
    ----------
    obj
        What was given.
    needed_for
        The helper that was called, e.g. ``"show_config"``.
    expected
        What the helper accepts.
    reason
        Why ``obj`` did not work, when known.
    """

    def __init__(
        self,
        obj: object,
        needed_for: str,
        *,
        expected: str = (
            "a pex_config Config (class or instance), a Task (class or instance) or a dotted class path"
        ),
        reason: str | None = None,
    ) -> None:
        self.obj = obj
        shown = repr(obj)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        because = f" ({reason})" if reason else ""
        super().__init__(
            f"{needed_for} needs {expected}; got {shown} of type {type(obj).__name__!r}{because}. "
            "Pass a task class, a config (class or instance, e.g. MyTask.ConfigClass()) or a dotted "
            "path such as 'lsst.pipe.base.PipelineTaskConfig'."
        )


class UnloadableClassError(ConfigDocsError, ImportError):
    """A dotted class path (``"package.module.Class"``) could not be imported.

    Parameters
    ----------
    path
        The path that was given.
    reason
        What went wrong.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"Cannot load {path!r}: {reason}. Check the spelling (package.module.Class) and that the "
            "package is installed in this environment."
        )


class ConfigValidationError(ConfigDocsError, ValueError):
    """A config fails its own ``validate()``.

    Parameters
    ----------
    config_name
        The config class name.
    message
        The message pex_config gave.
    """

    def __init__(self, config_name: str, message: str) -> None:
        self.config_name = config_name
        self.message = message
        super().__init__(
            f"{config_name} does not validate: {message}. Fix that field, or pass validate=False to look "
            "at the config as it is."
        )


class PipelineLoadError(ConfigDocsError, ValueError):
    """A pipeline (YAML file or object) could not be read, or has no task with the given label.

    Parameters
    ----------
    source
        The pipeline path or a description of the object.
    reason
        What went wrong and what to do.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"Cannot use pipeline {source}: {reason}")


class ConfigOverrideError(ConfigDocsError, ValueError):
    """A config override file (``pipetask -C``) could not be applied.

    Parameters
    ----------
    path
        The override file.
    reason
        What pex_config said.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"Cannot apply config file {path!r}: {reason}. Check the field names in it against the "
            "task's config (stackclub config TASK, or show_config)."
        )


class WhereIsError(StackClubError):
    """Base class of the errors raised by `stackclub.where_is` and `stackclub.uses_of`."""


class SourceNotFoundError(WhereIsError, LookupError):
    """There is no source to link for an object (built-in, compiled, or defined in this session).

    Parameters
    ----------
    name
        The object's dotted name, as far as it is known.
    reason
        Why there is no link, and what to use instead.
    docs_url
        The documentation page that answers instead (a Python built-in's), when one is known.
    compiled
        ``(module, qualname)`` of a compiled object, whose API page can still be linked.
    """

    def __init__(
        self,
        name: str,
        reason: str,
        *,
        docs_url: str | None = None,
        compiled: tuple[str, str] | None = None,
    ) -> None:
        self.name = name
        self.reason = reason
        self.docs_url = docs_url
        self.compiled = compiled
        super().__init__(f"No source link for {name}: {reason}")


class NoRepositoryError(SourceNotFoundError):
    """The package records no repository URL (or no git ref for its version) in its metadata.

    Parameters
    ----------
    name
        The object's dotted name.
    package
        The distribution, with its version, e.g. ``"somepkg 1.2"``.
    reason
        What is missing, and what to use instead.
    """

    def __init__(self, name: str, package: str, reason: str) -> None:
        self.package = package
        super().__init__(name, reason)


class UnknownNameError(WhereIsError, LookupError):
    """A dotted name does not import, or a class has no config field of that name.

    Parameters
    ----------
    name
        The name as given.
    reason
        What failed.
    suggestions
        Close matches that do exist.
    """

    def __init__(self, name: str, reason: str, suggestions: tuple[str, ...] = ()) -> None:
        self.name = name
        self.reason = reason
        self.suggestions = tuple(suggestions)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"{name!r} {reason}.{hint}")


class NotInstalledError(UnknownNameError):
    """A name in a Rubin package that `stackclub.pipe` mirrors, but which is not installed here.

    Parameters
    ----------
    name
        The name as given, e.g. ``"lsst.ip.isr.IsrTask"``.
    module
        The package that is missing, e.g. ``"lsst.ip.isr"``.
    product
        Its Rubin product (repository) name, e.g. ``"ip_isr"``.
    repository
        Where its source is, e.g. ``"https://github.com/lsst/ip_isr"``.
    counterpart
        The Stack Club object that re-creates it, e.g. ``"stackclub.pipe.IsrTask"``.
    """

    def __init__(
        self, name: str, module: str, *, product: str, repository: str, counterpart: str | None
    ) -> None:
        self.module = module
        self.product = product
        self.repository = repository
        self.counterpart = counterpart
        ours = (
            f"Stack Club's teaching counterpart is {counterpart}: where_is({counterpart!r})"
            if counterpart
            else "Stack Club's teaching pipeline re-creates its tasks in stackclub.pipe"
        )
        super().__init__(
            name,
            f"cannot be imported: {module} (Rubin's {product}) is not installed. It is part of the full "
            "LSST Science Pipelines (lsst_distrib, as on a Rubin Science Platform), not of the PyPI "
            f"packages Stack Club runs on. Its source is {repository} (under python/"
            f"{module.replace('.', '/')}/); {ours}",
        )


class RemovedArgumentError(WhereIsError, TypeError):
    """An argument of the 2018 Stack Club's helper that this one replaced.

    Parameters
    ----------
    function
        The helper, e.g. ``"where_is"``.
    argument
        What was passed, e.g. ``"in_the='technotes'"``.
    replacement
        What to use instead.
    """

    def __init__(self, function: str, argument: str, replacement: str) -> None:
        self.function = function
        self.argument = argument
        self.replacement = replacement
        super().__init__(f"{function}({argument}) was the 2018 Stack Club's; {replacement}")


# --- stackclub.logs: log capture --------------------------------------------------------------------


class CommandError(StackClubError):
    """A command run by `stackclub.run_command` failed, timed out or could not be started.

    Parameters
    ----------
    command
        The command, shell-quoted.
    returncode
        Its exit code, or `None` when it never ran.
    output
        Everything it printed.
    tail
        How many of the last output lines to quote in the message.
    reason
        What went wrong, when it is not a plain non-zero exit code.
    """

    def __init__(
        self, command: str, returncode: int | None, output: str, *, tail: int = 20, reason: str | None = None
    ) -> None:
        self.command = command
        self.returncode = returncode
        self.output = output
        lines = output.splitlines()
        self.tail = lines[-tail:] if tail > 0 else []
        what = reason or f"it exited with code {returncode}"
        message = f"Command {command!r} failed: {what}."
        if self.tail:
            shown = "\n".join("    " + line for line in self.tail)
            more = f"last {len(self.tail)} of {len(lines)} lines" if len(lines) > len(self.tail) else "output"
            message += f" Its {more}:\n{shown}"
        elif returncode is not None:
            message += " It printed nothing."
        message += "\nRun it in a terminal to investigate, or read .output on this error."
        super().__init__(message)


class TaskLogNotFoundError(StackClubError, LookupError):
    """`stackclub.show_task_log` found no ``<label>_log`` dataset to show.

    Parameters
    ----------
    label
        The task label asked for.
    data_id
        The data ID asked for.
    reason
        What is missing, and what to do instead.
    """

    def __init__(self, label: str, data_id: object, reason: str) -> None:
        self.label = label
        self.data_id = data_id
        self.reason = reason
        super().__init__(f"No log stored for task {label!r}: {reason}.")


# --- scaling up: quantum graphs, bps, a PostgreSQL registry ------------------------------------------


class RegistryError(SimCamError):
    """A ``--registry`` URL that is not a usable PostgreSQL database, or a server that cannot start."""


class QuantumGraphError(StackClubError):
    """A quantum graph (or its ``pipetask report``) that cannot be read or shown."""


# --- the learner's path: clean start, the task explorer -------------------------------------------


class CleanStartError(StackClubError, ValueError):
    """`stackclub.start_clean` refused to remove something: a bad name, or a collection it must not touch.

    Parameters
    ----------
    name
        The collection (or argument) that was refused.
    problem
        What is wrong with it.
    advice
        What to do instead.
    """

    def __init__(self, name: object, problem: str, advice: str) -> None:
        self.name = name
        self.problem = problem
        self.advice = advice
        super().__init__(f"start_clean refused {name!r}: {problem}. {advice}")


class ExploreError(StackClubError, ValueError):
    """`stackclub.explore_task` cannot set up: a bad argument, or inputs it cannot find.

    Parameters
    ----------
    problem
        What is wrong.
    advice
        What to do instead.
    """

    def __init__(self, problem: str, advice: str) -> None:
        self.problem = problem
        self.advice = advice
        super().__init__(f"{problem}. {advice}")


# --- argument checks of the notebook helpers (logs, commands, config_docs, display) ----------------


def _describe_value(value: object) -> str:
    """Say what was passed, briefly: ``None``, ``a float64 array of shape (4, 4)``, ``int 5``."""
    if value is None:
        return "None"
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    if dtype is not None and shape is not None:
        return f"a {dtype} array of shape {tuple(shape)}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


class ArgumentTypeError(StackClubError, TypeError):
    """A notebook helper was given an argument of the wrong type.

    Parameters
    ----------
    function
        The helper that was called, e.g. ``"show_config"``.
    argument
        The argument's name, e.g. ``"depth"``.
    value
        What was passed.
    expected
        What to pass instead, e.g. ``"an int >= 0, or None for every level"``.
    """

    def __init__(self, function: str, argument: str, value: object, expected: str) -> None:
        self.function = function
        self.argument = argument
        self.value = value
        self.expected = expected
        super().__init__(f"{function}(): {argument} must be {expected}; got {_describe_value(value)}.")
