"""Reading bare git mirrors of Rubin repositories at a tag, and parsing their Python modules."""

from __future__ import annotations

__all__ = ("ClassRef", "Expr", "External", "Mirror", "Module", "ModuleRef", "Ref", "ValueRef")

import ast
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------------------------
# Reading the mirrors
# --------------------------------------------------------------------------------------------


class Mirror:
    """Read files of one bare git mirror at one tag.

    Parameters
    ----------
    repo
        Repository name (``ip_isr``).
    gitdir
        The bare repository.
    tag
        Tag to read at; `None` picks the newest ``w.YYYY.NN`` tag.
    """

    def __init__(self, repo: str, gitdir: Path, tag: str | None) -> None:
        self.repo = repo
        self.gitdir = gitdir
        self.tag = tag or self.newest_weekly()
        self.commit = self._git("rev-parse", f"{self.tag}^{{commit}}").strip()
        self._cache: dict[str, str | None] = {}

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.gitdir), *args], check=True, capture_output=True, text=True
        ).stdout

    def newest_weekly(self) -> str:
        """Return the newest ``w.YYYY.NN`` tag of the mirror.

        Returns
        -------
        tag : str
            The tag name.
        """
        tags = [t for t in self._git("tag", "--list", "w.*").split() if re.fullmatch(r"w\.\d{4}\.\d+", t)]
        if not tags:
            raise SystemExit(f"{self.gitdir}: no w.YYYY.NN tag; pass --tag {self.repo}=TAG")
        return max(tags, key=lambda t: tuple(int(p) for p in t.split(".")[1:]))

    def show(self, path: str) -> str | None:
        """Return the text of ``path`` at the tag, or `None` if it does not exist.

        Parameters
        ----------
        path
            Path inside the repository.

        Returns
        -------
        text : str or None
            The file's text.
        """
        if path not in self._cache:
            proc = subprocess.run(
                ["git", "-C", str(self.gitdir), "show", f"{self.tag}:{path}"], capture_output=True, text=True
            )
            self._cache[path] = proc.stdout if proc.returncode == 0 else None
        return self._cache[path]

    def grep(self, pattern: str, under: str = "python") -> list[str]:
        """Return the paths of files under ``under`` whose text matches ``pattern``.

        Parameters
        ----------
        pattern
            A fixed string.
        under
            Folder of the repository to search.

        Returns
        -------
        paths : list of str
            Matching file paths.
        """
        proc = subprocess.run(
            ["git", "-C", str(self.gitdir), "grep", "-l", "-F", pattern, self.tag, "--", under],
            capture_output=True,
            text=True,
        )
        return [line.split(":", 1)[1] for line in proc.stdout.splitlines()]

    def url(self, path: str, line: int | None = None) -> str:
        """Return the GitHub address of ``path`` at the tag.

        Parameters
        ----------
        path
            Path inside the repository.
        line
            Line to point at.

        Returns
        -------
        url : str
            ``https://github.com/lsst/REPO/blob/TAG/PATH#LNN``.
        """
        return f"https://github.com/lsst/{self.repo}/blob/{self.tag}/{path}" + (f"#L{line}" if line else "")


@dataclass
class Module:
    """One parsed Python module (or config override file) of a mirror."""

    name: str
    mirror: Mirror
    path: str
    tree: ast.Module
    is_package: bool = False
    symbols: dict[str, ast.AST] = field(default_factory=dict)
    stars: list[ast.ImportFrom] = field(default_factory=list)

    def __post_init__(self) -> None:
        for node in self.tree.body:
            self._bind(node)

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            self.symbols[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.symbols[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            self.symbols[node.target.id] = node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                self.symbols[alias.asname or alias.name.split(".")[0]] = alias
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    self.stars.append(node)
                else:
                    alias.module = node.module  # type: ignore[attr-defined]
                    alias.level = node.level  # type: ignore[attr-defined]
                    self.symbols[alias.asname or alias.name] = alias
        elif isinstance(node, ast.If | ast.Try):
            for child in [*node.body, *getattr(node, "orelse", []), *getattr(node, "handlers", [])]:
                self._bind(child)
            for handler in getattr(node, "handlers", []):
                for child in handler.body:
                    self._bind(child)

    @property
    def package(self) -> str:
        """The package that relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def url(self, line: int | None = None) -> str:
        """Return the GitHub address of a line of this module at its tag.

        Parameters
        ----------
        line
            Line number.

        Returns
        -------
        url : str
            The address.
        """
        return self.mirror.url(self.path, line)


# References a name can resolve to.
@dataclass(frozen=True)
class ModuleRef:
    """A module (it may have no file in the mirrors)."""

    name: str


@dataclass(frozen=True)
class ClassRef:
    """A class definition in a mirrored module."""

    module: Module
    node: ast.ClassDef

    @property
    def fullname(self) -> str:
        """Dotted name: module and class."""
        return f"{self.module.name}.{self.node.name}"

    def __hash__(self) -> int:
        return hash(self.fullname)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassRef) and other.fullname == self.fullname


@dataclass(frozen=True)
class ValueRef:
    """A module- or class-level assignment (e.g. a registry)."""

    module: Module
    key: str
    node: ast.AST

    def __hash__(self) -> int:
        return hash((self.module.name, self.key))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValueRef) and (other.module.name, other.key) == (self.module.name, self.key)


@dataclass(frozen=True)
class External:
    """A name outside the mirrored Python source (C++ bindings, other packages)."""

    name: str


Ref = ModuleRef | ClassRef | ValueRef | External


@dataclass
class Expr:
    """A default that is not a literal, kept as its source expression text."""

    text: str
