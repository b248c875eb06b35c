"""Package provenance: which distribution installed a file, its version, repository and git ref.

Everything comes from installed metadata, never the network: pip's ``RECORD`` and
``direct_url.json`` (editable and VCS installs), the ``Project-URL`` entries, setuptools-scm's
``+g<sha>`` versions, an eups product's ``ups/*.table`` and ``version.py`` (a Rubin Science
Platform), a git checkout's ``.git`` files, and the version -> tag rules of
`stackclub.source.rules`.
"""

from __future__ import annotations

__all__ = (
    "Package",
    "git_head",
    "is_stdlib",
    "package_of",
)

import functools
import json
import os
import platform
import re
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .._lock import normalize
from .rules import ProjectRule, rule_for

_FORGES = ("github.com", "gitlab.com", "bitbucket.org")
_REPO_LABELS = ("source", "source code", "sourcecode", "repository", "code", "github", "homepage", "home")
_DOCS_LABELS = ("documentation", "docs", "doc")


@dataclass
class _Dist:
    name: str
    version: str
    root: Path  # folder the RECORD paths are relative to (site-packages)
    urls: dict[str, str]  # Project-URL label (lower case) -> URL
    direct_url: dict[str, Any]
    dist: metadata.Distribution = field(repr=False)

    @functools.cached_property
    def files(self) -> frozenset[str]:
        # Read RECORD ourselves: Distribution.files stats every listed file (slow for big packages).
        record = self.dist.read_text("RECORD")
        if record:
            return frozenset(line.rsplit(",", 2)[0].strip('"') for line in record.splitlines() if line)
        return frozenset(str(f).replace("\\", "/") for f in (self.dist.files or ()))

    @functools.cached_property
    def editable_dir(self) -> Path | None:
        info = self.direct_url
        if not info.get("dir_info", {}).get("editable"):
            return None
        url = urlparse(info.get("url", ""))
        return Path(unquote(url.path)).resolve() if url.scheme == "file" else None

    def owns(self, path: str) -> bool:
        if self.editable_dir is not None and _in_checkout(path, self.editable_dir):
            return True
        try:
            rel = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return False
        return rel in self.files

    @property
    def repository(self) -> str | None:
        for label in _REPO_LABELS:
            url = self.urls.get(label)
            if url and (label != "homepage" and label != "home" or _on_forge(url)):
                return _clean_repo_url(url)
        for url in self.urls.values():
            if _on_forge(url):
                return _clean_repo_url(url)
        home = self.dist.metadata.get("Home-page")
        return _clean_repo_url(home) if home and _on_forge(home) else None

    @property
    def documentation(self) -> str | None:
        for label in _DOCS_LABELS:
            if label in self.urls:
                return self.urls[label]
        return None


def _in_checkout(path: str, checkout: Path) -> bool:
    """Whether ``path`` is part of the editable checkout: under it, but not in a virtual
    environment or site-packages that happens to live inside it (``.venv/``).
    """
    if not _is_under(path, checkout):
        return False
    parts = Path(path).resolve().relative_to(checkout).parts
    return not any(p in ("site-packages", "dist-packages") or p.startswith(".venv") for p in parts) and not (
        _is_under(path, Path(sys.prefix).resolve()) and Path(sys.prefix).resolve() != checkout
    )


def _is_under(path: str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def _on_forge(url: str) -> bool:
    return urlparse(url).netloc.lower().removeprefix("www.") in _FORGES


def _clean_repo_url(url: str) -> str:
    url = url.strip().removeprefix("git+").rstrip("/")
    url = url.removesuffix(".git")
    if url.startswith("git@"):  # git@github.com:owner/repo
        host, _, rest = url[4:].partition(":")
        url = f"https://{host}/{rest}"
    return url.replace("http://", "https://", 1)


def _make_dist(dist: metadata.Distribution) -> _Dist:
    meta = dist.metadata
    urls: dict[str, str] = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls.setdefault(label.strip().lower(), url.strip())
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except (OSError, ValueError):
        direct = {}
    return _Dist(
        name=meta["Name"],
        version=meta["Version"],
        root=Path(str(dist.locate_file(""))),
        urls=urls,
        direct_url=direct,
        dist=dist,
    )


@functools.lru_cache(maxsize=512)
def _dists_named(name: str) -> tuple[_Dist, ...]:
    """Installed distributions called ``name``; those with a ``direct_url.json`` first (an editable
    install's ``.egg-info`` left in the source folder is found too, but says less).
    """
    found = [_make_dist(d) for d in metadata.distributions(name=name)]
    return tuple(sorted(found, key=lambda d: not d.direct_url))


@functools.lru_cache(maxsize=1)
def _top_level_map() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


@functools.lru_cache(maxsize=1)
def _editable_dists() -> tuple[_Dist, ...]:
    out = []
    for dist in metadata.distributions():
        try:
            text = dist.read_text("direct_url.json")
        except OSError:
            continue
        if text and '"editable": true' in text.replace(" ", "").replace(
            '"editable":true', '"editable": true'
        ):
            out.append(_make_dist(dist))
    return tuple(out)


@functools.lru_cache(maxsize=2048)
def _distribution_for(path: str, module: str) -> _Dist | None:
    parts = [p for p in module.split(".") if p]
    tried: set[str] = set()
    guesses = ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]
    for guess in guesses:
        tried.add(normalize(guess))
        for dist in _dists_named(guess):
            if dist.owns(path):
                return dist
    for name in _top_level_map().get(parts[0] if parts else "", []):
        if normalize(name) in tried:
            continue
        tried.add(normalize(name))
        for dist in _dists_named(name):
            if dist.owns(path):
                return dist
    for dist in _editable_dists():  # e.g. a test module inside an editable checkout
        if dist.editable_dir is not None and _in_checkout(path, dist.editable_dir):
            return dist
    return None


@dataclass(frozen=True)
class Package:
    """Where one installed file comes from.

    Attributes
    ----------
    name
        The distribution (``"lsst-pipe-base"``), eups product, or ``"python"``.
    version
        Its installed version.
    repository
        Its repository URL, or `None` when its metadata records none.
    repo_path
        Path of the file inside the repository.
    ref
        The git tag or commit of the installed version, or `None` when none is known (an
        editable install's commit is read when a link is made, see `editable_dir`).
    ref_note
        How the ref was found, or why none was.
    rule
        The `~stackclub.source.rules.ProjectRule` of the project.
    documentation
        The ``Documentation`` Project-URL, if any.
    editable_dir
        The git checkout of an editable install (or an eups product), whose HEAD is the ref.
    """

    name: str
    version: str
    repository: str | None
    repo_path: str
    ref: str | None
    ref_note: str
    rule: ProjectRule
    documentation: str | None
    editable_dir: Path | None = None


def is_stdlib(path: str) -> str | None:
    """Return ``path`` relative to the standard library folder, or `None` if it is not in it.

    Parameters
    ----------
    path
        An absolute file path.

    Returns
    -------
    relative : `str` or `None`
        The path inside the standard library, with ``/`` separators.
    """
    stdlib = sysconfig.get_paths()["stdlib"]
    if not path.startswith(stdlib + os.sep):
        return None
    rel = os.path.relpath(path, stdlib)
    return None if rel.split(os.sep)[0] in ("site-packages", "dist-packages") else rel.replace(os.sep, "/")


@functools.lru_cache(maxsize=2048)
def package_of(path: str, module: str) -> Package | None:
    """Return the package that installed ``path`` (defining ``module``), or `None`.

    Parameters
    ----------
    path
        The installed file.
    module
        The dotted name of the module defined there (to guess the distribution's name).

    Returns
    -------
    package : `Package` or `None`
        `None` when no installed distribution or eups product owns the file.
    """
    rel_std = is_stdlib(path)
    if rel_std is not None:
        rule = rule_for("python")
        version = platform.python_version()
        return Package(
            name="python",
            version=version,
            repository=rule.repository,
            repo_path=rule.source_root + rel_std,
            ref=rule.tag_for(version),
            ref_note="CPython tag of the running interpreter",
            rule=rule,
            documentation=None,
        )
    dist = _distribution_for(path, module)
    if dist is None:
        return _eups_package(path)
    rule = rule_for(dist.name)
    repository = rule.repository or dist.repository
    if dist.editable_dir is not None:
        rel = Path(path).resolve().relative_to(dist.editable_dir).as_posix()
        return Package(
            name=dist.name,
            version=dist.version,
            repository=repository,
            repo_path=rel,
            ref=None,
            ref_note="HEAD commit of the editable install's git checkout",
            rule=rule,
            documentation=dist.documentation,
            editable_dir=dist.editable_dir,
        )
    rel = Path(path).resolve().relative_to(dist.root.resolve()).as_posix()
    vcs = dist.direct_url.get("vcs_info") or {}
    if vcs.get("commit_id"):
        vcs_repo = _clean_repo_url(dist.direct_url.get("url", ""))
        sub = dist.direct_url.get("subdirectory", "")
        prefix = f"{sub.strip('/')}/" if sub else ""
        return Package(
            name=dist.name,
            version=dist.version,
            repository=vcs_repo if _on_forge(vcs_repo) else repository,
            repo_path=prefix + rule.source_root + rel,
            ref=vcs["commit_id"],
            ref_note="commit recorded in direct_url.json (a VCS install)",
            rule=rule,
            documentation=dist.documentation,
        )
    scm = re.search(r"\+g([0-9a-f]{7,40})\b", dist.version)
    if scm:
        ref, note = scm.group(1), f"commit g{scm.group(1)} from the development version {dist.version}"
    else:
        ref = rule.tag_for(dist.version)
        note = (
            f"tag from version {dist.version} by the rule {rule.label!r}"
            if ref
            else (f"no tag pattern of the rule {rule.label!r} matches version {dist.version}")
        )
    return Package(
        name=dist.name,
        version=dist.version,
        repository=repository,
        repo_path=rule.source_root + rel,
        ref=ref,
        ref_note=note,
        rule=rule,
        documentation=dist.documentation,
    )


def _eups_package(path: str) -> Package | None:
    """Find the package of a file set up with eups (a Rubin Science Platform): no pip metadata.

    The file lives in ``<product dir>/python/...``, the product's name is its
    ``ups/<product>.table`` and its version is in the package's generated ``version.py``
    (``__fingerprint__`` is the git commit when it has one).
    """
    marker = path.rfind("/python/")
    if marker < 0:
        return None
    product_dir = Path(path[:marker])
    tables = sorted((product_dir / "ups").glob("*.table"))
    if not tables:
        return None
    product = tables[0].stem
    rule = rule_for(f"lsst-{product.replace('_', '-')}")
    if rule.eups_repository is None:
        return None
    version, fingerprint = _eups_version(Path(path).parent, product_dir / "python")
    checkout = product_dir if (product_dir / ".git").exists() else None
    ref: str | None
    if fingerprint:
        ref, note = fingerprint, f"commit {fingerprint} from the eups product's version.py"
    else:
        ref = rule.tag_for(version) if version else None
        note = (
            f"tag from eups version {version} by the rule {rule.label!r}"
            if ref
            else f"no tag is known for eups version {version or '(none in version.py)'}"
        )
    return Package(
        name=product,
        version=version or "unknown",
        repository=rule.eups_repository.format(product=product),
        repo_path=path[marker + 1 :],
        ref=ref,
        ref_note="HEAD commit of the eups product's git checkout" if checkout else note,
        rule=rule,
        documentation=None,
        editable_dir=checkout,
    )


def _eups_version(folder: Path, root: Path) -> tuple[str | None, str | None]:
    """``__version__`` and a hex ``__fingerprint__`` from the nearest ``version.py`` above ``folder``."""
    while folder != root and root in folder.parents:
        candidate = folder / "version.py"
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            version = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", text, re.M)
            finger = re.search(r"^__fingerprint__\s*=\s*[\"']([0-9a-f]{7,40})[\"']", text, re.M)
            return (version.group(1) if version else None, finger.group(1) if finger else None)
        folder = folder.parent
    return None, None


def git_head(checkout: Path) -> str | None:
    """Return the commit HEAD points at, read from ``.git`` files (no subprocess, no network).

    Parameters
    ----------
    checkout
        The folder holding ``.git`` (a folder, or a file pointing at one: a worktree).

    Returns
    -------
    commit : `str` or `None`
        The 40-hex-digit commit, or `None` if it cannot be read.
    """
    git = checkout / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = git.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            git = (checkout / text.partition(":")[2].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head if re.fullmatch(r"[0-9a-f]{40}", head) else None
        ref = head.partition(":")[2].strip()
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text().strip()).resolve()
        for base in (git, common):
            loose = base / ref
            if loose.is_file():
                sha = loose.read_text().strip()
                return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref:
                    return sha
    except OSError:
        return None
    return None


