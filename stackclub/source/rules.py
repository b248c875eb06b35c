"""Per-project rules for `~stackclub.where_is`: version -> git ref, file layout, documentation.

Each project that publishes its code differently gets one `ProjectRule` row in `RULES`; the
first row whose ``distributions`` pattern matches the installed distribution's name wins, and
the last row is the catch-all.  To teach `~stackclub.where_is` a new project, add a row: no code
changes.

`MIRRORED` lists the Rubin packages whose tasks the teaching pipeline (`stackclub.pipe`)
re-creates: a name in one of them that cannot be imported here (they are not on PyPI) gets an
answer naming the package's repository and our teaching counterpart.

Template fields available in ``docs``, ``docs_module`` and ``docs_home``:

``{version}``, ``{major}``, ``{minor}``
    The installed version and its first two numeric parts.
``{page}``
    The documented public name of the object (for a member documented on its class page,
    the class), e.g. ``lsst.pipe.base.PipelineTask``.
``{name}``
    The documented public name of the object itself, e.g. ``lsst.pipe.base.PipelineTask.run``.
``{module}``, ``{package}``
    The module's public dotted name, and the import package named by the distribution
    (``lsst-pipe-base`` -> ``lsst.pipe.base``).
"""

from __future__ import annotations

__all__ = (
    "MIRRORED",
    "RULES",
    "MirroredPackage",
    "ProjectRule",
    "mirrored_package",
    "rule_for",
)

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from .._lock import normalize


@dataclass(frozen=True)
class ProjectRule:
    """How one project maps an installed version to its repository, tag, layout and docs.

    Attributes
    ----------
    label
        Short name shown in notes, e.g. ``"Rubin (lsst-*)"``.
    distributions
        `fnmatch` patterns matched against the normalised distribution name (lower case,
        ``-`` separators), e.g. ``("lsst-*",)``.
    tags
        ``(regular expression, template)`` pairs tried in order against the installed
        version; the first match gives the git tag, formatted with the match's named groups
        and ``{version}``.  No match means no tag is known for that version.
    source_root
        Folder of the repository that holds the importable packages (``"python/"`` for
        Rubin packages, ``"lib/"`` for matplotlib, ``""`` for the repository root).
    docs
        URL template of an object's API page, or `None` to use the package's
        ``Documentation`` Project-URL as it is.
    docs_module
        URL template for a module, or `None` to use ``docs_home``.
    docs_home
        URL template of the documentation's front page.
    members_on_class_page
        `True` if methods and attributes are documented on their class's page (linked with a
        ``#anchor``), `False` if each member has a page of its own.
    repository
        Repository URL to use instead of the one in the package metadata.
    eups_repository
        For packages set up with eups (no pip metadata): repository URL template, with
        ``{product}`` the eups product name (``ip_isr``).

    Examples
    --------
    >>> rule = rule_for("lsst-pipe-base")
    >>> rule.tag_for("30.2026.4300"), rule.tag_for("30.0.9"), rule.source_root
    ('w.2026.43', '30.0.9', 'python/')
    >>> rule_for("matplotlib").source_root
    'lib/'
    """

    label: str
    distributions: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]
    source_root: str = ""
    docs: str | None = None
    docs_module: str | None = None
    docs_home: str | None = None
    members_on_class_page: bool = True
    repository: str | None = None
    eups_repository: str | None = None

    def matches(self, distribution: str) -> bool:
        """Return whether this rule applies to ``distribution`` (any spelling).

        Parameters
        ----------
        distribution
            A distribution name.
        """
        name = normalize(distribution)
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.distributions)

    def tag_for(self, version: str) -> str | None:
        """Return the git tag of ``version`` under this rule, or `None` if no pattern matches.

        Parameters
        ----------
        version
            An installed version.

        Examples
        --------
        >>> rule_for("numpy").tag_for("2.5.5")
        'v2.5.5'
        >>> rule_for("lsst-daf-butler").tag_for("30.2026.4300.dev12+g1a2b3c") is None
        True
        """
        for pattern, template in self.tags:
            match = re.fullmatch(pattern, version)
            if match:
                return template.format(version=version, **match.groupdict())
        return None


_RELEASE = r"(?P<release>\d+(?:\.\d+)+)"

#: The rule table: first match wins; the last row matches everything.
RULES: tuple[ProjectRule, ...] = (
    ProjectRule(
        label="Rubin (lsst-*)",
        distributions=("lsst-*", "astro-metadata-translator"),
        tags=(
            # Weekly pip versions 30.YYYY.WW00 are the git tags w.YYYY.WW; weeks 1-9 have no
            # leading zero on PyPI (30.2026.900 is w.2026.09).
            (r"\d+\.(?P<year>\d{4})\.(?P<week>\d{1,2})00", "w.{year}.{week:0>2}"),
            # eups-style weekly names, as version.py gives them on a Rubin Science Platform.
            (r"w[._](?P<year>\d{4})[._](?P<week>\d{2})", "w.{year}.{week}"),
            # Releases 30.0.9 are the git tags 30.0.9 (no "v": Rubin tags only release
            # candidates such as v30.0.9.rc1 with one, and v30.0.2 by exception).
            (r"(?P<release>\d+\.\d+\.\d+)", "{release}"),
        ),
        source_root="python/",
        docs="https://pipelines.lsst.io/v/weekly/py-api/{page}.html",
        docs_module="https://pipelines.lsst.io/v/weekly/modules/{package}/index.html",
        docs_home="https://pipelines.lsst.io/v/weekly/",
        members_on_class_page=True,
        eups_repository="https://github.com/lsst/{product}",
    ),
    ProjectRule(
        label="astropy",
        distributions=("astropy",),
        tags=((_RELEASE, "v{release}"),),
        source_root="",
        docs="https://docs.astropy.org/en/stable/api/{page}.html",
        docs_home="https://docs.astropy.org/en/stable/",
        members_on_class_page=True,
    ),
    ProjectRule(
        label="numpy",
        distributions=("numpy",),
        tags=((_RELEASE, "v{release}"),),
        source_root="",
        docs="https://numpy.org/doc/{major}.{minor}/reference/generated/{page}.html",
        docs_home="https://numpy.org/doc/{major}.{minor}/reference/index.html",
        members_on_class_page=False,
    ),
    ProjectRule(
        label="matplotlib",
        distributions=("matplotlib",),
        tags=((_RELEASE, "v{release}"),),
        source_root="lib/",
        docs="https://matplotlib.org/{version}/api/_as_gen/{page}.html",
        docs_home="https://matplotlib.org/{version}/api/index.html",
        members_on_class_page=False,
    ),
    ProjectRule(
        label="Python standard library",
        distributions=("python",),
        tags=((_RELEASE, "v{release}"),),
        source_root="Lib/",
        docs="https://docs.python.org/{major}.{minor}/library/{package}.html",
        docs_module="https://docs.python.org/{major}.{minor}/library/{package}.html",
        docs_home="https://docs.python.org/{major}.{minor}/library/index.html",
        members_on_class_page=True,
        repository="https://github.com/python/cpython",
    ),
    ProjectRule(
        label="default (tag v<version>, files at the repository root)",
        distributions=("*",),
        tags=((r"(?P<release>\d+(?:\.\d+)*)", "v{release}"),),
        source_root="",
    ),
)


@lru_cache(maxsize=256)
def rule_for(distribution: str) -> ProjectRule:
    """Return the first rule in `RULES` that matches ``distribution``.

    Parameters
    ----------
    distribution
        A distribution name, in any spelling.

    Examples
    --------
    >>> rule_for("lsst_pex_config").label
    'Rubin (lsst-*)'
    >>> rule_for("some-other-package").label.startswith("default")
    True
    """
    for rule in RULES:
        if rule.matches(distribution):
            return rule
    return RULES[-1]  # pragma: no cover - the last row matches everything


@dataclass(frozen=True)
class MirroredPackage:
    """A Rubin package whose tasks `stackclub.pipe` mirrors.

    Attributes
    ----------
    product
        The Rubin product (repository) name, e.g. ``"ip_isr"``.
    module
        Its import package, e.g. ``"lsst.ip.isr"``.
    counterparts
        The last part of a Rubin name (a class or module) -> the dotted name of the Stack Club
        object that re-creates it, e.g. ``{"IsrTask": "stackclub.pipe.IsrTask"}``.

    Examples
    --------
    >>> isr = mirrored_package("lsst.ip.isr.isrTask.IsrTask")
    >>> isr.product, isr.repository
    ('ip_isr', 'https://github.com/lsst/ip_isr')
    >>> isr.counterpart("lsst.ip.isr.isrTask.IsrTask.run")
    'stackclub.pipe.IsrTask'
    """

    product: str
    module: str
    counterparts: Mapping[str, str]

    @property
    def repository(self) -> str:
        """The product's repository, from the Rubin row of `RULES`."""
        template = rule_for(f"lsst-{self.product.replace('_', '-')}").eups_repository
        return (template or "https://github.com/lsst/{product}").format(product=self.product)

    def counterpart(self, name: str) -> str | None:
        """Return the Stack Club object that re-creates (a part of) ``name``, or `None`.

        Parameters
        ----------
        name
            A dotted name in this package; its last part that has a counterpart is used.

        Returns
        -------
        counterpart : `str` or `None`
            Dotted name of the Stack Club class or module.
        """
        parts = name.split(".")[len(self.module.split(".")) :]
        return next((self.counterparts[p] for p in reversed(parts) if p in self.counterparts), None)


def _same(*names: str) -> dict[str, str]:
    return {name: f"stackclub.pipe.{name}" for name in names}


#: The Rubin packages whose tasks the teaching pipeline mirrors (`stackclub.pipe`'s docstrings
#: name the Rubin class each of its tasks re-creates).
MIRRORED: tuple[MirroredPackage, ...] = (
    MirroredPackage(
        "ip_isr",
        "lsst.ip.isr",
        {
            **_same("FringeTask", "IsrTask", "IsrTaskConfig", "OverscanCorrectionTask"),
            "IsrTaskLSST": "stackclub.pipe.IsrTask",
            "IsrTaskLSSTConfig": "stackclub.pipe.IsrTaskConfig",
            "isrFunctions": "stackclub.pipe.isrFunctions",
        },
    ),
    MirroredPackage(
        "pipe_tasks",
        "lsst.pipe.tasks",
        _same(
            "CalibrateImageConfig",
            "CalibrateImageTask",
            "ComputeExposureSummaryStatsTask",
            "MeasurePsfTask",
            "PhotoCalTask",
            "RepairTask",
        ),
    ),
    MirroredPackage(
        "meas_algorithms", "lsst.meas.algorithms", _same("SourceDetectionTask", "SubtractBackgroundTask")
    ),
    MirroredPackage("meas_astrom", "lsst.meas.astrom", _same("AstrometryTask")),
    MirroredPackage("meas_base", "lsst.meas.base", _same("SingleFrameMeasurementTask")),
    MirroredPackage("meas_deblender", "lsst.meas.deblender", _same("SourceDeblendTask")),
)


def mirrored_package(name: str) -> MirroredPackage | None:
    """Return the row of `MIRRORED` whose package holds the dotted ``name``, or `None`.

    Parameters
    ----------
    name
        A dotted name, e.g. ``"lsst.ip.isr.IsrTask"``.

    Examples
    --------
    >>> mirrored_package("lsst.meas.base.SingleFrameMeasurementTask").product
    'meas_base'
    >>> mirrored_package("lsst.pipe.base.PipelineTask") is None
    True
    """
    for package in MIRRORED:
        if name == package.module or name.startswith(package.module + "."):
            return package
    return None
