"""Read back what a task logged in a pipeline run: `show_task_log`.

``pipetask run`` (and `~lsst.pipe.base.simple_pipeline_executor.SimplePipelineExecutor`) store
each quantum's log records as the dataset ``<label>_log``
(`~lsst.daf.butler.logging.ButlerLogRecords`).  `show_task_log` reads one and returns it as
`~stackclub.log_records.LogRecords`, which renders like `~stackclub.logs.capture_logs` does.
"""

from __future__ import annotations

__all__ = ("show_task_log",)

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._exceptions import MissingStackError, TaskLogNotFoundError
from .log_records import LogEntry, LogRecords, parse_level

if TYPE_CHECKING:  # pragma: no cover
    from lsst.daf.butler import Butler


def show_task_log(
    butler: Butler,
    label: str,
    data_id: Mapping[str, Any] | Any | None = None,
    *,
    collections: str | Sequence[str] | None = None,
    level: int | str = 0,
) -> LogRecords:
    """Show what a task logged in a pipeline run, read back from the Butler.

    ``pipetask run`` (and `~lsst.pipe.base.simple_pipeline_executor.SimplePipelineExecutor`)
    store each quantum's log records as the dataset ``<label>_log``
    (`~lsst.daf.butler.logging.ButlerLogRecords`).  This reads one and renders it like
    `capture_logs` does, so you can see what a batch run said without re-running it.

    Parameters
    ----------
    butler
        The Butler to read from.
    label
        The task label in the pipeline, e.g. ``"isr"``.
    data_id
        The quantum's data ID, e.g. ``{"instrument": "SimCam", "exposure": 1, "detector": 0}``;
        `None` or ``{}`` for a task without dimensions.
    collections
        Collections to search; the Butler's default collections when `None`.
    level
        Show only records at this level or above.

    Returns
    -------
    log : `LogRecords`
        The records, titled with the dataset and data ID.

    Raises
    ------
    TaskLogNotFoundError
        If the repository has no ``<label>_log`` dataset type (the message lists the labels
        that have one) or no such dataset for this data ID in these collections.

    Notes
    -----
    The stored log holds only what the run's log level let through: ``pipetask``'s
    ``--log-level`` applies to ``lsst.*`` only, so a task in another package (``stackclub.isr``)
    needs ``--log-level stackclub=INFO`` for its INFO records to be stored.

    Examples
    --------
    >>> from stackclub import show_task_log
    >>> show_task_log(butler, "isr", {"instrument": "SimCam", "exposure": 1, "detector": 0})  # doctest: +SKIP
    """
    try:
        from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError
    except ImportError as err:  # pragma: no cover - exercised only without the stack
        raise MissingStackError("lsst.daf.butler", "show_task_log") from err

    dataset_type = f"{label}_log"
    data_id = {} if data_id is None else data_id
    if collections is None:
        searched = list(butler.collections.defaults)
    elif isinstance(collections, str):
        searched = [collections]
    else:
        searched = list(collections)
    try:
        ref = butler.find_dataset(dataset_type, data_id, collections=collections)
    except MissingDatasetTypeError:
        known = sorted(
            dt.name.removesuffix("_log")
            for dt in butler.registry.queryDatasetTypes("*_log")
            if dt.storageClass_name == "ButlerLogRecords"
        )
        raise TaskLogNotFoundError(
            label,
            data_id,
            f"this repository has no dataset type {dataset_type!r}; task labels with a stored log: "
            f"{', '.join(known) if known else 'none (no pipeline has run here yet)'}",
        ) from None
    except MissingCollectionError as err:
        raise TaskLogNotFoundError(
            label,
            data_id,
            f"{err} (searched {searched!r}); `butler query-collections REPO` lists the collections",
        ) from None
    if ref is None:
        shown_id = dict(getattr(data_id, "mapping", data_id))
        raise TaskLogNotFoundError(
            label,
            data_id,
            f"no {dataset_type!r} dataset for data ID {shown_id!r} in collections {searched!r}; "
            "pass collections= (the run's output collection) and check the data ID",
        )
    stored = butler.get(ref)
    minimum = parse_level(level, function="show_task_log")
    entries = [LogEntry.from_butler(r) for r in stored if r.levelno >= minimum]
    where = f" {ref.dataId}" if ref.dataId.mapping else ""
    return LogRecords(entries, title=f"{dataset_type}{where}")
