"""Where is the code of this object?  Links pinned to the installed version, with line anchors.

`where_is` answers "where is the source of this class / function / config field?" with a
link to the exact code that is installed: the public repository at the installed version's
tag (or commit), the lines of the definition, the API documentation page, or the installed
file itself.

Everything is computed from installed package metadata; nothing here uses the network.
How each project maps a version to a git tag, where its files live in the repository and
where its documentation is, is a table of rules in `stackclub.source.rules`.
"""

from __future__ import annotations

__all__ = (
    "SourceLink",
    "Target",
    "source_url",
    "where_is",
)

import logging
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._exceptions import ArgumentTypeError, NoRepositoryError, RemovedArgumentError, SourceNotFoundError
from .._render import escape
from ._packages import package_of
from ._resolve import Resolved, public_name, resolve
from ._urls import blob_url, docs_url, pinned_ref, tree_url

_LOG = logging.getLogger(__name__)

#: What a link points at (`where_is`'s ``in_the``).
Target = Literal["source", "repo", "docs", "file"]
_TARGETS: tuple[str, ...] = ("source", "repo", "docs", "file")

#: Plain values: they have no definition of their own to link.
_VALUES = (int, float, complex, bytes, bytearray, list, tuple, dict, set, frozenset, type(None))

#: The arguments of the 2018 Stack Club's ``where_is(object, in_the, assuming_its_a)`` -> what replaced them.
_REMOVED_2018 = {
    "in_the='technotes'": (
        "technotes are no longer searched. in_the='docs' links the object's API page; Rubin's technical "
        "notes are listed at https://technotes.lsst.io"
    ),
    "assuming_its_a": (
        "command-line tasks (scripts such as makeDiscreteSkyMap.py) were replaced by PipelineTasks run "
        "with pipetask: pass the task class or its dotted name, e.g. "
        "where_is('lsst.pipe.tasks.calibrateImage.CalibrateImageTask'), or a command name, "
        "where_is('pipetask')"
    ),
}


@dataclass(frozen=True)
class SourceLink:
    """Where an object's code (or documentation) is: one link, shown once.

    Attributes
    ----------
    name
        Public dotted name of the object, e.g. ``"lsst.pipe.base.PipelineTask"``.
    kind
        ``"class"``, ``"function"``, ``"method"``, ``"property"``, ``"module"``,
        ``"config field (Field)"``, ...
    target
        What the link points at: ``"source"``, ``"repo"``, ``"docs"`` or ``"file"``.
    url
        The link.  For ``"file"`` it is an absolute ``file://`` URL (no line anchor: file
        URLs have none; the line is in `location`).
    path
        Absolute path of the installed file that defines the object (``""`` if none).
    lines
        ``(first, last)`` line of the definition in `path` (1-based, inclusive; the first is
        the ``def``/``class`` line, not a decorator), or `None` for a module.
    package
        Distribution that installed the file (``"lsst-pipe-base"``), or `None`.
    version
        Installed version of `package`.
    ref
        Git tag or commit the ``"source"`` and ``"repo"`` links are pinned to, or `None`.
    repository
        Repository URL from the package metadata (or the rule table), or `None`.
    note
        How the ref (or lines) were found, when that is worth knowing.

    Examples
    --------
    >>> from stackclub import where_is
    >>> link = where_is("stackclub.where_is", in_the="file")
    >>> link.kind, link.path.endswith("links.py"), link.url.startswith("file:///")
    ('function', True, True)
    """

    name: str
    kind: str
    target: str
    url: str
    path: str
    lines: tuple[int, int] | None
    package: str | None
    version: str | None
    ref: str | None
    repository: str | None = None
    note: str = ""

    @property
    def location(self) -> str:
        """The ``path:line`` of the definition in the installed file (as editors and tracebacks show it)."""
        return f"{self.path}:{self.lines[0]}" if self.lines else self.path

    @property
    def file_url(self) -> str:
        """The absolute ``file://`` URL of the installed file."""
        return Path(self.path).as_uri() if self.path else ""

    def _summary(self) -> str:
        what = f"{self.kind}"
        if self.package:
            what += f" in {self.package} {self.version or ''}".rstrip()
        if self.target in ("source", "repo") and self.ref:
            what += f" at {self.ref}"
        if self.lines and self.target in ("source", "file"):
            first, last = self.lines
            what += f", line {first}" if first == last else f", lines {first}-{last}"
        return what

    def __str__(self) -> str:
        lines = [f"{self.name}: {self._summary()}"]
        if self.target == "file":
            lines.append(f"  {self.location}")
        lines.append(f"  {self.url}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<SourceLink {self.target} of {self.name}: {self.url}>"

    def _repr_markdown_(self) -> str:
        text = self.location if self.target == "file" else self.name
        summary = _md_escape(self._summary())
        return f"[`{text.replace('`', '')}`]({_md_url(self.url)}) — {summary}"


def _md_escape(text: str) -> str:
    text = escape(text)  # &, <, >, quotes
    return re.sub(r"([\\`*_\[\]{}()#+!|~])", r"\\\1", text)


def _md_url(url: str) -> str:
    return (
        url.replace(" ", "%20")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("<", "%3C")
        .replace(">", "%3E")
    )




def where_is(obj: object, in_the: Target = "source", **removed: object) -> SourceLink:
    """Return a link to where ``obj`` is defined, pinned to the installed version.

    Parameters
    ----------
    obj
        A module, class, function, method (bound or not), property, classmethod or
        staticmethod, a pex_config field (``IsrTaskConfig.doFringe``), a task or config
        *instance* (its class is linked), a subtask's config (``config.overscan``: the
        subtask class it targets is linked), or a dotted name such as
        ``"lsst.pipe.base.PipelineTask.runQuantum"`` (a dotted name may also end in a class
        attribute, ``"lsst.pipe.base.PipelineTask.canMultiprocess"``: its assignment is linked),
        or the name of a console command (``"pipetask"``: the function it runs is linked).
    in_the
        ``"source"``: the file in the project's public repository at the installed version's
        tag or commit, with ``#Lstart-Lend`` covering the definition;
        ``"repo"``: the repository at that tag or commit;
        ``"docs"``: the API documentation page;
        ``"file"``: the installed file, as an absolute ``file://`` URL plus ``path:line``
        (works offline; JupyterLab's own file browser paths are relative to where the server
        was started, which a library cannot know, so the absolute form is the one that is
        always right).
    **removed
        Arguments of the 2018 Stack Club's ``where_is`` (``assuming_its_a=``) raise an error that
        names what replaced them.

    Returns
    -------
    link : `SourceLink`
        Renders as a Markdown link in a notebook and as plain text in a terminal; its
        ``url``, ``path``, ``lines``, ``package``, ``version`` and ``ref`` are attributes.

    Raises
    ------
    UnknownNameError
        A dotted name does not import (close matches are suggested).
    SourceNotFoundError
        Built-ins (the Python docs are suggested), compiled objects (the module is linked
        where possible) and objects defined in this session have no source to link.
    NoRepositoryError
        ``"source"``/``"repo"`` for a package whose metadata has no repository URL, or whose
        version maps to no known tag or commit; ``"file"`` still works.
    ValueError
        ``in_the`` is not one of the four targets.
    ArgumentTypeError
        ``obj`` is a plain value (a number, a list, ...), which has no definition to link.
    RemovedArgumentError
        An argument of the 2018 Stack Club's ``where_is`` (``in_the="technotes"``,
        ``assuming_its_a="cmdlinetask"``).

    Notes
    -----
    The git ref is, in order: the HEAD commit of an editable install's git checkout (read
    from ``.git`` without running git; a commit that was not pushed will not be on the
    server), the commit of a VCS install (``direct_url.json``), the ``+g<sha>`` of a
    setuptools-scm development version, else the tag the project's rule makes of the
    version (``30.2026.4300`` -> ``w.2026.43`` for Rubin packages).

    Examples
    --------
    >>> from stackclub import where_is
    >>> link = where_is("lsst.pipe.base.PipelineTask")  # doctest: +SKIP
    >>> link.url  # doctest: +SKIP
    'https://github.com/lsst/pipe_base/blob/w.2026.43/python/lsst/pipe/base/pipelineTask.py#L50-L193'
    >>> where_is(len, in_the="docs").url  # doctest: +ELLIPSIS
    'https://docs.python.org/3.../library/functions.html#len'
    """
    _check_arguments(obj, in_the, removed)
    try:
        resolved = resolve(obj)
    except SourceNotFoundError as err:
        if in_the == "docs" and err.docs_url:  # built-ins: the Python documentation is the answer
            return SourceLink(
                name=err.name,
                kind="built-in",
                target="docs",
                url=err.docs_url,
                path="",
                lines=None,
                package="python",
                version=platform.python_version(),
                ref=None,
            )
        if in_the == "docs" and err.compiled is not None:
            link = _compiled_docs(err)
            if link is not None:
                return link
        raise
    return _link(resolved, in_the)


def source_url(obj: object) -> str | None:
    """Return the pinned ``"source"`` URL of ``obj``, or `None` when none can be made; never raises.

    For callers that link many names at once (config tables, task trees) and should simply
    show plain text where no link exists.

    Parameters
    ----------
    obj
        Anything `where_is` accepts.

    Returns
    -------
    url : `str` or `None`
        The link, or `None`.

    Examples
    --------
    >>> from stackclub.source import source_url
    >>> source_url(len) is None
    True
    """
    try:
        return where_is(obj, in_the="source").url
    except Exception as err:  # a link is a nicety here: never let it break the caller
        _LOG.debug("no source URL for %r: %s", obj, err)
        return None


def _check_arguments(obj: object, in_the: object, removed: dict[str, object]) -> None:
    """Refuse plain values and the 2018 Stack Club's arguments, each with what to pass instead."""
    for name in removed:
        if name in _REMOVED_2018:
            raise RemovedArgumentError("where_is", f"{name}=...", _REMOVED_2018[name])
        raise TypeError(f"where_is() got an unexpected keyword argument {name!r}")
    if in_the == "technotes":
        raise RemovedArgumentError("where_is", "in_the='technotes'", _REMOVED_2018["in_the='technotes'"])
    if in_the not in _TARGETS:
        raise ValueError(f"in_the must be one of {', '.join(map(repr, _TARGETS))}; got {in_the!r}")
    if isinstance(obj, _VALUES):  # bool is an int
        raise ArgumentTypeError(
            "where_is",
            "obj",
            obj,
            "a module, class, function, method, config field, task or config instance, or a dotted name "
            "such as 'lsst.pipe.base.PipelineTask'",
        )


def _link(r: Resolved, in_the: str) -> SourceLink:
    pkg = package_of(r.path, r.module)
    common: dict[str, Any] = dict(
        name=r.name,
        kind=r.kind,
        target=in_the,
        path=r.path,
        lines=r.lines,
        package=pkg.name if pkg else None,
        version=pkg.version if pkg else None,
        repository=pkg.repository if pkg else None,
    )
    if in_the == "file":
        return SourceLink(url=Path(r.path).as_uri(), ref=None, note=r.note, **common)
    if in_the == "docs":
        return SourceLink(url=docs_url(r, pkg), ref=None, note=r.note, **common)
    if pkg is None:
        raise NoRepositoryError(
            r.name,
            "?",
            f"{r.path} belongs to no installed distribution, so no repository or version is known. "
            "in_the='file' links the file itself.",
        )
    ref, note = pinned_ref(pkg)
    label = f"{pkg.name} {pkg.version}"
    if not pkg.repository:
        raise NoRepositoryError(
            r.name,
            label,
            f"{label} records no repository URL in its metadata (no Project-URL 'Source', 'Repository' or "
            "a GitHub/GitLab 'Homepage'), so there is no public source to link. in_the='file' links the "
            "installed file; to teach where_is this project, add a row to stackclub.source.rules.RULES.",
        )
    if not ref:
        raise NoRepositoryError(
            r.name,
            label,
            f"no git tag or commit is known for {label}: {note}. in_the='file' links the installed "
            "file; in_the='docs' may help; a rule in stackclub.source.rules.RULES can map this version.",
        )
    notes = "; ".join(n for n in (note, r.note) if n)
    if in_the == "repo":
        return SourceLink(url=tree_url(pkg.repository, ref), ref=ref, note=notes, **common)
    return SourceLink(
        url=blob_url(pkg.repository, ref, pkg.repo_path, r.lines), ref=ref, note=notes, **common
    )


def _compiled_docs(err: SourceNotFoundError) -> SourceLink | None:
    """Link the API page of a compiled object (e.g. ``numpy.add``), found through its package."""
    if err.compiled is None:
        return None
    module, qualname = err.compiled
    top = module
    while top:
        path = getattr(sys.modules.get(top), "__file__", None)
        if path and path.endswith(".py"):
            break
        top = top.rpartition(".")[0]
    else:
        return None
    member = "." in qualname
    page = public_name(module, qualname.rpartition(".")[0]) if member else public_name(module, qualname)
    name = f"{page}.{qualname.rpartition('.')[2]}" if member else page
    resolved = Resolved(
        name=name, kind="compiled", module=module, path=path, lines=None, page=page, member=member
    )
    link = _link(resolved, "docs")
    return SourceLink(
        name=name,
        kind="compiled",
        target="docs",
        url=link.url,
        path="",
        lines=None,
        package=link.package,
        version=link.version,
        ref=None,
    )
