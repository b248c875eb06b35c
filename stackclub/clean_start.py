"""A clean start for a notebook that writes to the demo repository: remove its earlier outputs.

A notebook that runs a pipeline writes into output collections of its own (``-o u/stackclub/02b_RunningTasks``
makes a CHAINED collection and a RUN inside it).  Run the notebook again and ``pipetask`` or
``SimplePipelineExecutor`` finds those outputs already there.  `start_clean` removes them first, and
nothing else: only collections named after the outputs the notebook passes, under ``u/``, in the
demo repository.
"""

from __future__ import annotations

__all__ = (
    "CleanStart",
    "RemovedCollection",
    "start_clean",
)

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._exceptions import CleanStartError, MissingStackError, NotADemoRepoError
from ._render import Table

if TYPE_CHECKING:
    from lsst.daf.butler import Butler

_LOG = logging.getLogger(__name__)

#: The dataset type every demo repository has (`stackclub.simcam.build_demo_repo` writes it).
DEMO_MARKER = "simcam_build_info"
_GLOB_CHARACTERS = frozenset("*?[]{}")


@dataclass(frozen=True)
class RemovedCollection:
    """One collection `start_clean` removed (or, in a dry run, would remove).

    Attributes
    ----------
    name
        The collection name.
    type
        Its type: ``"CHAINED"``, ``"RUN"``, ``"TAGGED"`` or ``"CALIBRATION"``.
    datasets
        How many datasets it held (for a RUN: removed with their files; for a CHAINED
        collection: 0, its children are counted where they are removed).
    """

    name: str
    type: str
    datasets: int = 0


@dataclass(frozen=True)
class CleanStart:
    """What `start_clean` removed: one row per collection.

    Attributes
    ----------
    outputs
        The output names it was asked to clean.
    removed
        The collections removed (chains first, in the order of removal).
    dry_run
        Whether nothing was removed (only listed).
    """

    outputs: tuple[str, ...]
    removed: list[RemovedCollection] = field(default_factory=list)
    dry_run: bool = False

    def __len__(self) -> int:
        return len(self.removed)

    @property
    def names(self) -> list[str]:
        """Names of the collections removed, in the order of removal."""
        return [r.name for r in self.removed]

    @property
    def n_datasets(self) -> int:
        """Datasets removed with them (with their files)."""
        return sum(r.datasets for r in self.removed)

    @property
    def summary(self) -> str:
        """One line: what was (or would be) removed."""
        asked = ", ".join(self.outputs)
        if not self.removed:
            return f"Nothing to remove for {asked}: a clean start already."
        verb = "Would remove" if self.dry_run else "Removed"
        kinds = sorted({r.type for r in self.removed})
        counts = ", ".join(f"{sum(r.type == k for r in self.removed)} {k}" for k in kinds)
        return (
            f"{verb} {len(self.removed)} collection{'s' if len(self.removed) != 1 else ''} ({counts}) "
            f"holding {self.n_datasets} dataset{'s' if self.n_datasets != 1 else ''}, for {asked}."
        )

    def to_table(self) -> Table:
        """Return the removed collections as a `stackclub._render.Table` (collection, type, datasets)."""
        rows: list[Sequence[Any]] = [[r.name, r.type, r.datasets] for r in self.removed]
        return Table(["collection", "type", "datasets"], rows, title=self.summary)

    def __str__(self) -> str:
        return self.summary if not self.removed else str(self.to_table())

    def _repr_html_(self) -> str:
        return self.to_table()._repr_html_()

    def __repr__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return f"<CleanStart: {verb} {len(self.removed)} collections, {self.n_datasets} datasets>"


def _check_output(name: object) -> str:
    """Return ``name`` if it is an output collection name `start_clean` may clean, else raise."""
    advice = (
        "Pass the output collection your notebook writes, named u/<user>/<something> "
        "(e.g. 'u/stackclub/02b_RunningTasks'), as pipetask -o or SimplePipelineExecutor output= takes it."
    )
    if not isinstance(name, str):
        raise CleanStartError(name, f"an output name is a str, not {type(name).__name__}", advice)
    if not name or name != name.strip():
        raise CleanStartError(name, "an output name cannot be empty or start or end with spaces", advice)
    if _GLOB_CHARACTERS & set(name):
        raise CleanStartError(
            name,
            "an output name cannot hold the glob characters * ? [ ] { } (it would match more than "
            "one notebook's outputs)",
            advice,
        )
    parts = name.split("/")
    if parts[0] != "u" or len(parts) < 3 or not all(parts):
        raise CleanStartError(
            name,
            "only user collections, named u/<user>/<something>, are removed: the demo repository's own "
            "collections (SimCam/defaults, SimCam/raw/all, SimCam/calib, refcats, ...) and a user's whole "
            "u/<user> namespace are never touched",
            advice,
        )
    return name


def _open(repo: str | os.PathLike[str] | Butler) -> tuple[Butler, bool]:
    """Return a writeable Butler for ``repo`` and whether this function opened it (and must close it)."""
    try:
        from lsst.daf.butler import Butler
    except ImportError as err:
        raise MissingStackError("lsst.daf.butler", "start_clean") from err
    if isinstance(repo, Butler):
        if not repo.isWriteable():
            raise CleanStartError(
                "butler",
                "this Butler is read-only",
                "Pass the repository path, or Butler.from_config(repo, writeable=True).",
            )
        return repo, False
    if not isinstance(repo, str | os.PathLike):
        raise CleanStartError(
            repo,
            f"the repository is given as a path or a Butler, not {type(repo).__name__}",
            "Pass the path that stackclub.demo_repo() returns, or a writeable Butler.",
        )
    return Butler.from_config(os.fspath(repo), writeable=True), True


def _check_demo(butler: Butler) -> None:
    from lsst.daf.butler import MissingDatasetTypeError

    try:
        butler.get_dataset_type(DEMO_MARKER)
    except MissingDatasetTypeError:
        raise NotADemoRepoError(
            "this repository",
            f"This is not a Stack Club demo repository (it has no {DEMO_MARKER!r} dataset type), so "
            "start_clean leaves it alone",
            "To remove collections from another repository, use `butler remove-runs` and "
            "`butler remove-collections`, which ask before they delete.",
        ) from None


def _collections_under(butler: Butler, outputs: Iterable[str]) -> dict[str, Any]:
    """Find the collections named ``output`` or ``output/...`` for each output, by name (with parents)."""
    found: dict[str, Any] = {}
    for output in outputs:
        # A plain name that does not exist raises; a glob matches nothing quietly.
        for info in butler.collections.query_info(f"{output}*", include_parents=True):
            if info.name == output or info.name.startswith(output + "/"):
                found[info.name] = info
    return found


def _count(butler: Butler, collection: str, dataset_types: Iterable[str]) -> int:
    with butler.query() as query:
        return sum(
            query.datasets(name, collections=[collection], find_first=False).count(exact=True)
            for name in dataset_types
        )


def _check_not_shared(butler: Butler, found: dict[str, Any], runs: list[str]) -> None:
    """Refuse when something outside ``found`` still refers to what would be removed."""
    from lsst.daf.butler import CollectionType

    for info in found.values():
        foreign = sorted(set(info.parents or ()) - set(found))
        if foreign:
            raise CleanStartError(
                info.name,
                f"it is also in the chain {foreign[0]!r}, which start_clean did not create",
                f"Remove it from there first (butler.collections.remove_from_chain({foreign[0]!r}, "
                f"{info.name!r})), or clean that chain too.",
            )
    if not runs:
        return
    run_types: set[str] = set()
    for info in butler.collections.query_info(runs, include_summary=True):
        run_types |= set(info.dataset_types or ())
    associating = butler.collections.query_info(
        "*", collection_types={CollectionType.TAGGED, CollectionType.CALIBRATION}, include_summary=True
    )
    run_set = set(runs)
    for info in associating:
        if info.name in found:
            continue
        for name in sorted(run_types & set(info.dataset_types or ())):
            refs = butler.query_datasets(
                name, collections=info.name, find_first=False, explain=False, limit=None
            )
            shared = sorted({ref.run for ref in refs} & run_set)
            if shared:
                raise CleanStartError(
                    shared[0],
                    f"its {name!r} datasets are also in the {info.type.name} collection {info.name!r}, "
                    "which start_clean did not create (removing the run would take them out of it)",
                    "Decertify or disassociate them first, or keep this run.",
                )


def _removal_order(found: dict[str, Any]) -> list[Any]:
    """Chains (each before the chains it holds), then TAGGED/CALIBRATION collections, then RUNs."""
    from lsst.daf.butler import CollectionType

    chains = {n: i for n, i in found.items() if i.type is CollectionType.CHAINED}
    ordered: list[Any] = []
    while chains:
        # A chain can go once no remaining chain of ours holds it.
        ready = sorted(n for n, i in chains.items() if not (set(i.parents or ()) & set(chains)))
        if not ready:  # a cycle cannot happen in a registry; be safe anyway
            ready = sorted(chains)
        for name in ready:
            ordered.append(chains.pop(name))
    others = [i for i in found.values() if i.type not in (CollectionType.CHAINED, CollectionType.RUN)]
    runs = [i for i in found.values() if i.type is CollectionType.RUN]
    return ordered + sorted(others, key=lambda i: i.name) + sorted(runs, key=lambda i: i.name)


def start_clean(repo: str | os.PathLike[str] | Butler, *outputs: str, dry_run: bool = False) -> CleanStart:
    """Remove what an earlier run of a notebook wrote to the demo repository, so it can run again.

    For each output name, removes the collection of that name (the CHAINED collection that
    ``pipetask run -o`` or ``SimplePipelineExecutor.prep_butler(output=...)`` made, or a RUN of
    your own) and every collection named ``<output>/...`` (the RUNs inside the chain, also those
    an interrupted run left without a chain), with their datasets and files.  Nothing else: the
    inputs a chain points to (``SimCam/defaults``, raws, calibrations, reference catalogs) are
    children, never removed.

    Parameters
    ----------
    repo
        The demo repository: its path (`stackclub.demo_repo` returns it) or a writeable
        ``lsst.daf.butler.Butler`` on it.
    *outputs
        Output collection names, each ``u/<user>/<something>``, e.g. ``"u/stackclub/02b_RunningTasks"``.
    dry_run
        List what would be removed, and remove nothing.

    Returns
    -------
    report : `CleanStart`
        What was removed (collection, type, number of datasets); renders as a table.

    Raises
    ------
    stackclub._exceptions.CleanStartError
        No output name, or one that is not ``u/<user>/<something>`` or holds glob characters;
        a read-only Butler; a collection to remove that a collection it did not create still
        uses (a chain of someone else's, a tag or a certification).  Nothing is removed then.
    stackclub._exceptions.NotADemoRepoError
        The repository is not a Stack Club demo repository (it has no ``simcam_build_info``).

    Notes
    -----
    It uses the Butler's own calls: ``butler.collections.x_remove`` for chains, tags and
    calibration collections, ``butler.removeRuns`` for runs (which deletes their files).  On the
    command line, ``butler remove-collections`` and ``butler remove-runs`` do the same.  What it
    removes depends on earlier runs, so a notebook under nbval shows something that does not
    (e.g. how many of its collections are left afterwards), not the report itself.

    Examples
    --------
    >>> import stackclub
    >>> repo = stackclub.demo_repo(progress=False)  # doctest: +SKIP
    >>> stackclub.start_clean(repo, "u/stackclub/02b_RunningTasks")  # doctest: +SKIP
    <CleanStart: removed 2 collections, 11 datasets>
    >>> stackclub.start_clean(repo, "SimCam/defaults")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    stackclub._exceptions.CleanStartError: start_clean refused 'SimCam/defaults': only user collections, ...
    """
    if not outputs:
        raise CleanStartError(
            "outputs",
            "no output collection was given",
            "Pass at least one, e.g. start_clean(repo, 'u/stackclub/02b_RunningTasks').",
        )
    names = tuple(dict.fromkeys(_check_output(name) for name in outputs))
    if not isinstance(dry_run, bool):
        raise CleanStartError(dry_run, "dry_run is True or False", "Pass dry_run=True to only list.")
    butler, opened = _open(repo)
    try:
        _check_demo(butler)
        from lsst.daf.butler import CollectionType

        found = _collections_under(butler, names)
        runs = sorted(n for n, i in found.items() if i.type is CollectionType.RUN)
        _check_not_shared(butler, found, runs)
        order = _removal_order(found)
        summaries = (
            {i.name: i for i in butler.collections.query_info(list(found), include_summary=True)}
            if found
            else {}
        )
        removed = [
            RemovedCollection(
                info.name,
                info.type.name,
                0
                if info.type is CollectionType.CHAINED
                else _count(butler, info.name, sorted(summaries[info.name].dataset_types or ())),
            )
            for info in order
        ]
        if not dry_run:
            for info in order:
                if info.type is not CollectionType.RUN:
                    butler.collections.x_remove(info.name)
            if runs:
                butler.removeRuns(runs)
            for row in removed:
                _LOG.info("Removed %s collection %s (%d datasets)", row.type, row.name, row.datasets)
        return CleanStart(outputs=names, removed=removed, dry_run=dry_run)
    finally:
        if opened:
            butler.close()
