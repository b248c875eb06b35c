"""What is in a Butler repository: collections and chains, dataset types with counts, dimension records.

The successor of the 2018 Stack Club's ``Taster`` (``stackclub/taster.py``), which asked a Gen2
Butler whether a few dataset types (``raw``, ``calexp``, ``src``, ...) existed and counted visits,
sensors and filters with ``queryMetadata``.  A Gen3 repository describes itself: its registry lists
every collection (with its type and, for a chain, its children in search order), every dataset type,
and every dimension record, and the query system counts datasets without fetching them.
`summarize_repo` gathers that into one object that renders as tables in a notebook and as text in
a terminal, with a heat map of the dataset counts (`RepoSummary.plot`).
"""

from __future__ import annotations

__all__ = (
    "CollectionRow",
    "DatasetTypeRow",
    "RepoSummary",
    "summarize_repo",
)

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._exceptions import MissingStackError, StackClubError
from ._render import Table, escape

if TYPE_CHECKING:
    from lsst.daf.butler import Butler
    from matplotlib.axes import Axes


@dataclass(frozen=True)
class CollectionRow:
    """One collection of the repository.

    Attributes
    ----------
    name
        The collection name.
    type
        ``"RUN"``, ``"CHAINED"``, ``"CALIBRATION"`` or ``"TAGGED"``.
    children
        For a CHAINED collection: its children, in search order.
    datasets
        Datasets in it (for a CALIBRATION or TAGGED collection: the associations); 0 for a chain,
        whose datasets are its children's.
    doc
        The collection's documentation string, if it has one.
    """

    name: str
    type: str
    children: tuple[str, ...] = ()
    datasets: int = 0
    doc: str = ""


@dataclass(frozen=True)
class DatasetTypeRow:
    """One dataset type of the repository, with its datasets counted per collection.

    Attributes
    ----------
    name
        The dataset type name.
    dimensions
        Its required dimensions, e.g. ``("instrument", "exposure", "detector")``.
    storage_class
        Its storage class name, e.g. ``"RawExposure"``.
    is_calibration
        Whether it may be certified into CALIBRATION collections.
    datasets
        Number of datasets of this type (summed over the RUN collections: each dataset is in
        exactly one).
    counts
        Collection name -> number of datasets of this type in it (RUN, CALIBRATION and TAGGED
        collections only; collections without any are left out).
    """

    name: str
    dimensions: tuple[str, ...]
    storage_class: str
    is_calibration: bool
    datasets: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class RepoSummary:
    """What is in a Butler repository: collections, dataset types with counts, dimension records.

    Attributes
    ----------
    collections
        One row per collection, sorted by name.
    dataset_types
        One row per dataset type, sorted by name: every registered one, or (when `summarize_repo`
        was given collection patterns) those in the collections summarized.
    dimensions
        Dimension element name -> number of records, for the elements that have records
        (sky pixelizations such as ``htm7`` have none: they are computed, not stored).
    empty_dimensions
        The elements (with tables) that have no records.
    """

    collections: list[CollectionRow]
    dataset_types: list[DatasetTypeRow]
    dimensions: dict[str, int]
    empty_dimensions: list[str] = field(default_factory=list)

    # --- derived views ----------------------------------------------------------------------

    @property
    def chains(self) -> dict[str, tuple[str, ...]]:
        """CHAINED collection -> its children, in search order."""
        return {c.name: c.children for c in self.collections if c.type == "CHAINED"}

    @property
    def n_datasets(self) -> int:
        """Number of datasets in the repository (each is in exactly one RUN collection)."""
        return sum(c.datasets for c in self.collections if c.type == "RUN")

    def count(self, dataset_type: str, collection: str | None = None) -> int:
        """Return how many datasets of a type there are, in one collection or in all RUN collections.

        Parameters
        ----------
        dataset_type
            The dataset type name.
        collection
            A RUN, CALIBRATION or TAGGED collection; `None` counts all the RUN collections.

        Returns
        -------
        n
            The number of datasets (0 for a dataset type or collection without any).

        Examples
        --------
        >>> s = RepoSummary([CollectionRow("run", "RUN", datasets=2)],
        ...                 [DatasetTypeRow("raw", ("instrument",), "RawExposure", False, 2, {"run": 2})], {})
        >>> s.count("raw"), s.count("raw", "run"), s.count("bias")
        (2, 2, 0)
        """
        for row in self.dataset_types:
            if row.name == dataset_type:
                return row.datasets if collection is None else row.counts.get(collection, 0)
        return 0

    @property
    def headline(self) -> str:
        """One line: how many collections, dataset types, datasets and dimension records."""
        kinds: dict[str, int] = {}
        for c in self.collections:
            kinds[c.type] = kinds.get(c.type, 0) + 1
        kind_text = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        used = sum(1 for d in self.dataset_types if d.counts)
        n_records = sum(self.dimensions.values())
        return (
            f"Butler repository: {_plural(len(self.collections), 'collection')}"
            f"{f' ({kind_text})' if kind_text else ''}, {_plural(len(self.dataset_types), 'dataset type')} "
            f"({used} with datasets), {_plural(self.n_datasets, 'dataset')}, "
            f"{_plural(n_records, 'dimension record')} in {_plural(len(self.dimensions), 'element')}."
        )

    # --- tables -------------------------------------------------------------------------------

    def collections_table(self) -> Table:
        """Return the collections as a table: name, type, datasets, children of a chain in search order."""
        with_doc = any(c.doc for c in self.collections)
        rows: list[Sequence[Any]] = [
            [c.name, c.type, "" if c.type == "CHAINED" else c.datasets, " → ".join(c.children)]
            + ([c.doc] if with_doc else [])
            for c in self.collections
        ]
        columns = ["collection", "type", "datasets", "chain: searches in order"] + (
            ["doc"] if with_doc else []
        )
        return Table(columns, rows, title="Collections")

    def dataset_types_table(self) -> Table:
        """Return the dataset types as a table: dimensions, storage class, counts per collection."""
        rows: list[Sequence[Any]] = []
        for d in self.dataset_types:
            where = ", ".join(f"{c} ({n})" for c, n in sorted(d.counts.items()))
            rows.append(
                [
                    d.name + (" (calibration)" if d.is_calibration else ""),
                    ", ".join(d.dimensions),
                    d.storage_class,
                    d.datasets,
                    where,
                ]
            )
        return Table(
            ["dataset type", "dimensions", "storage class", "datasets", "in collections (count)"],
            rows,
            title="Dataset types",
        )

    def dimensions_table(self) -> Table:
        """Return the dimension elements that have records, with their record counts."""
        rows: list[Sequence[Any]] = [[name, n] for name, n in self.dimensions.items()]
        title = "Dimension records"
        if self.empty_dimensions:
            title += f" (none in: {', '.join(self.empty_dimensions)})"
        return Table(["dimension element", "records"], rows, title=title)

    def tables(self) -> list[Table]:
        """Return the three tables: collections, dataset types, dimension records."""
        return [self.collections_table(), self.dataset_types_table(), self.dimensions_table()]

    # --- rendering ------------------------------------------------------------------------------

    def __str__(self) -> str:
        return "\n\n".join([self.headline] + [t.to_text() for t in self.tables()])

    def _repr_html_(self) -> str:
        parts = ['<div class="stackclub-repo-summary">', f"<p><b>{escape(self.headline)}</b></p>"]
        parts += [t.to_html() for t in self.tables()]
        parts.append("</div>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (
            f"<RepoSummary: {len(self.collections)} collections, {len(self.dataset_types)} dataset types, "
            f"{self.n_datasets} datasets>"
        )

    # --- the picture ----------------------------------------------------------------------------

    def count_matrix(self) -> tuple[list[str], list[str], list[list[int]]]:
        """Return the dataset counts as (dataset types, collections, counts[type][collection]).

        Only dataset types with datasets, and RUN/CALIBRATION/TAGGED collections that hold any.
        """
        types = [d for d in self.dataset_types if d.counts]
        columns = sorted({c for d in types for c in d.counts})
        return (
            [d.name for d in types],
            columns,
            [[d.counts.get(c, 0) for c in columns] for d in types],
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw a heat map of the number of datasets per dataset type and collection.

        Parameters
        ----------
        ax
            Axes to draw on; by default a new figure sized to the table.

        Returns
        -------
        ax
            The axes drawn on (``ax.images[0]`` holds the counts).

        Examples
        --------
        .. plot::

            import stackclub
            ax = stackclub.summarize_repo(stackclub.demo_repo()).plot()
        """
        import numpy as np

        names, columns, counts = self.count_matrix()
        if ax is None:
            import matplotlib.pyplot as plt

            width = 2.5 + 0.75 * max(len(columns), 1)
            height = 1.8 + 0.35 * max(len(names), 1)
            _, ax = plt.subplots(figsize=(width, height), layout="constrained")
        if not names:
            ax.text(0.5, 0.5, "no datasets", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            return ax
        data = np.array(counts, dtype=float)
        shown = np.ma.masked_equal(data, 0)
        ax.imshow(
            np.ma.log10(shown), cmap="Blues", aspect="auto", vmin=-0.5, vmax=math.log10(data.max()) + 0.3
        )
        for i, row in enumerate(counts):
            for j, n in enumerate(row):
                if n:
                    ax.text(j, i, str(n), ha="center", va="center", fontsize=8)
        kinds = {c.name: c.type for c in self.collections}
        labels = [c if kinds.get(c, "RUN") == "RUN" else f"{c} [{kinds[c]}]" for c in columns]
        ax.set_xticks(range(len(columns)), labels, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title("Datasets per dataset type and collection", fontsize=10)
        return ax


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _open(repo: str | os.PathLike[str] | Butler) -> tuple[Butler, bool]:
    try:
        from lsst.daf.butler import Butler
    except ImportError as err:
        raise MissingStackError("lsst.daf.butler", "summarize_repo") from err
    if isinstance(repo, Butler):
        return repo, False
    if isinstance(repo, str | os.PathLike):
        return Butler.from_config(os.fspath(repo)), True
    raise StackClubError(
        f"summarize_repo takes a repository path or a Butler, not {type(repo).__name__}. "
        "Pass the path stackclub.demo_repo() returns, or Butler.from_config(path)."
    )


def summarize_repo(
    repo: str | os.PathLike[str] | Butler, *, collections: str | Sequence[str] = "*"
) -> RepoSummary:
    """Summarize a Butler repository: collections and chains, dataset types with counts, dimensions.

    Parameters
    ----------
    repo
        The repository path, or a ``lsst.daf.butler.Butler``.
    collections
        Collection names or globs (``["SimCam/*", "refcats*"]``) to look at only part of the
        repository; then only the dataset types found in those collections are listed.  The
        default, ``"*"``, looks at every collection and lists every registered dataset type,
        also those without datasets.

    Returns
    -------
    summary : `RepoSummary`
        Renders as three tables (collections, dataset types, dimension records) in a notebook
        and as text in a terminal; ``summary.plot()`` draws the dataset counts as a heat map;
        ``summary.count("raw")`` and ``summary.chains`` answer questions directly.

    Raises
    ------
    stackclub._exceptions.StackClubError
        ``repo`` is neither a path nor a Butler.

    Notes
    -----
    Datasets are *counted* by the registry (``butler.query().datasets(...).count()``) and only for
    the (collection, dataset type) pairs the collection summaries list, so a repository with
    millions of datasets is summarized without fetching any.  Sky pixelization dimensions
    (``htm7``, ``healpix10``, ...) hold no records and are left out.  The summary holds names and
    counts only (no paths, no timings), so a notebook that shows it gives the same output on every
    machine.  The command-line tools ``butler query-collections``, ``butler query-dataset-types``
    and ``butler query-dimension-records`` show the same information one kind at a time.

    Examples
    --------
    >>> import stackclub
    >>> summary = stackclub.summarize_repo(stackclub.demo_repo())  # doctest: +SKIP
    >>> summary.chains["SimCam/defaults"]  # doctest: +SKIP
    ('SimCam/raw/all', 'SimCam/calib', 'refcats', 'SimCam/truth')
    >>> summary.count("raw")  # doctest: +SKIP
    12
    """
    butler, opened = _open(repo)
    try:
        return _summarize(butler, collections)
    finally:
        if opened:
            butler.close()


def _summarize(butler: Butler, pattern: str | Sequence[str]) -> RepoSummary:
    from lsst.daf.butler import CollectionType

    infos = sorted(
        butler.collections.query_info(pattern, include_chains=True, include_summary=True, include_doc=True),
        key=lambda i: i.name,
    )
    runs = frozenset(i.name for i in infos if i.type is CollectionType.RUN)
    everything = pattern == "*" or (not isinstance(pattern, str) and list(pattern) == ["*"])
    in_summaries = {name for i in infos for name in (i.dataset_types or ())}
    counts: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    with butler.query() as query:
        for info in infos:
            if info.type is CollectionType.CHAINED:
                continue
            total = 0
            for name in sorted(info.dataset_types or ()):
                n = query.datasets(name, collections=[info.name], find_first=False).count(exact=True)
                if n:
                    counts.setdefault(name, {})[info.name] = n
                    total += n
            totals[info.name] = total
    collection_rows = [
        CollectionRow(
            name=i.name,
            type=i.type.name,
            children=tuple(i.children),
            datasets=totals.get(i.name, 0),
            doc=i.doc or "",
        )
        for i in infos
    ]
    type_rows = [
        DatasetTypeRow(
            name=dt.name,
            dimensions=tuple(dt.dimensions.required),
            storage_class=dt.storageClass_name,
            is_calibration=dt.isCalibration(),
            datasets=sum(n for c, n in counts.get(dt.name, {}).items() if c in runs),
            counts=dict(sorted(counts.get(dt.name, {}).items())),
        )
        for dt in sorted(butler.registry.queryDatasetTypes(), key=lambda dt: dt.name)
        if not dt.isComponent() and (everything or dt.name in in_summaries)
    ]
    dimensions, empty = _dimension_counts(butler)
    return RepoSummary(collection_rows, type_rows, dimensions, empty)


def _dimension_counts(butler: Butler) -> tuple[dict[str, int], list[str]]:
    """Record counts of the dimension elements that store records (not the sky pixelizations)."""
    universe = butler.dimensions
    skypix = {d.name for d in universe.skypix_dimensions}
    counts: dict[str, int] = {}
    empty: list[str] = []
    with butler.query() as query:
        for name in sorted(e.name for e in universe.elements):
            if name in skypix:
                continue
            n = query.dimension_records(name).count(exact=True)
            if n:
                counts[name] = n
            else:
                empty.append(name)
    return counts, empty
