"""URL building: a file at a git ref with line anchors, a repository at a ref, an API page.

GitHub and GitLab spell these differently (``/blob/`` or ``/-/blob/``, ``#L1-L5`` or ``#L1-5``);
documentation pages come from the templates of `stackclub.source.rules`.
"""

from __future__ import annotations

__all__ = (
    "blob_url",
    "docs_url",
    "line_url",
    "pinned_ref",
    "python_docs",
    "tree_url",
)

import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlparse

from .._exceptions import NoRepositoryError
from .._lock import normalize
from ._packages import Package, git_head, package_of

if TYPE_CHECKING:
    from ._resolve import Resolved


def blob_url(repository: str, ref: str, repo_path: str, lines: tuple[int, int] | None) -> str:
    """Return the URL of a file in ``repository`` at ``ref``, with a line anchor.

    Parameters
    ----------
    repository
        The repository URL (``https://github.com/owner/name``).
    ref
        Git tag or commit.
    repo_path
        The file's path inside the repository.
    lines
        ``(first, last)`` lines to anchor, or `None`.

    Returns
    -------
    url : `str`
        The link.

    Examples
    --------
    >>> blob_url("https://github.com/lsst/pipe_base", "w.2026.43", "python/x.py", (3, 9))
    'https://github.com/lsst/pipe_base/blob/w.2026.43/python/x.py#L3-L9'
    >>> blob_url("https://gitlab.com/a/b", "v1", "x.py", (3, 9))
    'https://gitlab.com/a/b/-/blob/v1/x.py#L3-9'
    """
    quoted = quote(repo_path)
    gitlab = "gitlab" in urlparse(repository).netloc
    url = f"{repository}/-/blob/{ref}/{quoted}" if gitlab else f"{repository}/blob/{ref}/{quoted}"
    if lines:
        first, last = lines
        if gitlab:
            url += f"#L{first}" if first == last else f"#L{first}-{last}"
        else:
            url += f"#L{first}" if first == last else f"#L{first}-L{last}"
    return url


def tree_url(repository: str, ref: str) -> str:
    """Return the URL of ``repository`` at ``ref``.

    Parameters
    ----------
    repository
        The repository URL.
    ref
        Git tag or commit.

    Returns
    -------
    url : `str`
        The link.

    Examples
    --------
    >>> tree_url("https://github.com/lsst/pipe_base", "w.2026.43")
    'https://github.com/lsst/pipe_base/tree/w.2026.43'
    """
    return (
        f"{repository}/-/tree/{ref}"
        if "gitlab" in urlparse(repository).netloc
        else f"{repository}/tree/{ref}"
    )


def pinned_ref(package: Package) -> tuple[str | None, str]:
    """Return the git ref links to ``package`` are pinned to, and how it was found.

    Parameters
    ----------
    package
        The package of a file.

    Returns
    -------
    ref, note : `tuple` [`str` or `None`, `str`]
        The tag or commit (an editable install's HEAD commit, read now), or `None`.
    """
    if package.editable_dir is None:
        return package.ref, package.ref_note
    ref = git_head(package.editable_dir)
    if ref is None:
        return None, f"{package.editable_dir} is an editable install but not a readable git checkout"
    return ref, package.ref_note


def line_url(path: str, module: str, line: int) -> str:
    """Return the pinned source URL of one line, or the file's ``file://`` URL when none can be made.

    Parameters
    ----------
    path
        The installed file.
    module
        The module defined there.
    line
        The line number.

    Returns
    -------
    url : `str`
        The link.
    """
    pkg = package_of(path, module)
    if pkg is not None and pkg.repository:
        ref = pinned_ref(pkg)[0]
        if ref:
            return blob_url(pkg.repository, ref, pkg.repo_path, (line, line))
    return Path(path).as_uri()


def python_docs(page: str) -> str:
    """Return the URL of a page of the running Python's documentation.

    Parameters
    ----------
    page
        The page, e.g. ``"library/json.html"``.

    Returns
    -------
    url : `str`
        The link.
    """
    return f"https://docs.python.org/{sys.version_info.major}.{sys.version_info.minor}/{page}"


def docs_url(resolved: Resolved, pkg: Package | None) -> str:
    """Return the API documentation page of a resolved object.

    Parameters
    ----------
    resolved
        The object.
    pkg
        The package of its file.

    Returns
    -------
    url : `str`
        The link.

    Raises
    ------
    NoRepositoryError
        The package records no documentation URL (and no rule gives one).
    """
    if pkg is None or (pkg.rule.docs is None and not pkg.documentation):
        what = (
            f"{pkg.name} {pkg.version}"
            if pkg
            else f"{resolved.path}, which belongs to no installed distribution,"
        )
        raise NoRepositoryError(
            resolved.name,
            what,
            f"{what} records no documentation URL (Project-URL 'Documentation'); read the docstring with "
            "help(obj), or obj? in IPython",
        )
    rule = pkg.rule
    if rule.docs is None:
        return str(pkg.documentation)
    major, minor = (pkg.version.split(".") + ["0", "0"])[:2]
    package = _package_name(resolved.module, pkg.name)
    values = dict(
        version=pkg.version,
        major=major,
        minor=minor,
        module=resolved.module,
        package=package,
        name=resolved.name,
    )
    if resolved.kind == "module":
        template = rule.docs_module or rule.docs_home or rule.docs
        return template.format(page=resolved.name, **values)
    if resolved.member and rule.members_on_class_page:
        return rule.docs.format(page=resolved.page, **values) + f"#{resolved.name}"
    url = rule.docs.format(page=resolved.name, **values)
    return url if "{page}" in rule.docs else f"{url}#{resolved.name}"


def _package_name(module: str, distribution: str) -> str:
    """Return the import package a distribution is named after (``lsst-pipe-base`` -> ``lsst.pipe.base``)."""
    parts = module.split(".")
    want = normalize(distribution)
    for i in range(len(parts), 0, -1):
        if normalize("-".join(parts[:i])) == want:
            return ".".join(parts[:i])
    return parts[0]
