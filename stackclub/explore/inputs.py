"""Fetch the arguments a PipelineTask's ``run`` gets for one data ID, without running or writing anything.

The task's own ``runQuantum`` decides what ``run`` receives (some tasks add arguments of their
own, e.g. a detector read from a deferred input).  So the fetch goes the way ``pipetask`` goes:
a one-task quantum graph for the data ID (``AllDimensionsQuantumGraphBuilder``, the builder
``SimplePipelineExecutor`` uses), then ``lsst.pipe.base.testUtils.runTestQuantum(mockRun=True)``,
pipe_base's own test helper, which calls the real ``runQuantum`` with ``run`` (and ``put``)
replaced, and so records the arguments without computing or writing anything.
"""

from __future__ import annotations

__all__ = ("FetchedInputs", "fetch_run_arguments", "input_connection_names")

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .._exceptions import ExploreError

if TYPE_CHECKING:
    from lsst.daf.butler import Butler
    from lsst.pex.config import Config
    from lsst.pipe.base import PipelineTaskConfig

#: The RUN a graph is built for: it is never created, nothing is written to it.
UNWRITTEN_RUN = "u/stackclub/explore_task/never-written"


@dataclass(frozen=True)
class FetchedInputs:
    """What ``runQuantum`` passed to ``run`` for one data ID.

    Attributes
    ----------
    args, kwargs
        The positional and keyword arguments.
    connections
        The input connection names (inputs and prerequisites) of the config they were fetched
        with: a config that needs others must fetch again.
    data_id
        The quantum's data ID, as ``key=value`` text (required dimensions only).
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    connections: frozenset[str]
    data_id: str


def input_connection_names(config: Config) -> frozenset[str]:
    """Return the names of the input and prerequisite-input connections of a PipelineTask config.

    Parameters
    ----------
    config
        A ``PipelineTaskConfig``; any other config has no connections (an empty set).

    Returns
    -------
    names
        The connection names, which are also the keyword names ``runQuantum`` passes to ``run``.
    """
    connections_config = getattr(config, "connections", None)
    connections_class = getattr(connections_config, "ConnectionsClass", None)
    if connections_class is None:
        return frozenset()
    connections = connections_class(config=config)
    return frozenset(connections.inputs) | frozenset(connections.prerequisiteInputs)


@contextlib.contextmanager
def _quiet(names: Sequence[str] = ("lsst.pipe.base", "lsst.daf.butler")) -> Iterator[None]:
    """Keep the graph builder's INFO lines out of the notebook cell."""
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _where(butler: Butler, data_id: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    known = set(butler.dimensions.getStaticDimensions().names)
    unknown = sorted(set(data_id) - known)
    if unknown:
        raise ExploreError(
            f"The data ID has keys that are not dimensions of this repository: {unknown}",
            "Use dimension names such as exposure, visit, detector, physical_filter, band.",
        )
    if not data_id:
        raise ExploreError(
            "The data ID is empty", "Pass one, e.g. {'exposure': 2026031500002, 'detector': 0}."
        )
    if "instrument" not in data_id:
        # The Butler's queries need the instrument named whenever a key (exposure, visit,
        # detector) depends on it; with one instrument in the repository, it is that one.
        instruments = sorted(record.name for record in butler.query_dimension_records("instrument"))
        if len(instruments) > 1:
            raise ExploreError(
                f"This repository holds {len(instruments)} instruments {instruments}; "
                "the data ID does not say which",
                f"Add it to the data ID, e.g. {dict(instrument=instruments[0], **data_id)}.",
            )
        if instruments:
            data_id = {"instrument": instruments[0], **data_id}
    bind = {f"stackclub_{key}": value for key, value in data_id.items()}
    where = " AND ".join(f"{key} = stackclub_{key}" for key in data_id)
    return where, bind


def _data_id_text(data_id: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in data_id.items())


def _diagnose_missing(
    butler: Butler, config: Config, collections: Sequence[str], where: str, bind: dict[str, Any]
) -> str:
    """Say which input the collections do not hold for the data ID (the first one found)."""
    from lsst.daf.butler import MissingDatasetTypeError

    connections = config.connections.ConnectionsClass(config=config)  # type: ignore[attr-defined]
    for name in sorted(connections.inputs) + sorted(connections.prerequisiteInputs):
        connection = getattr(connections, name)
        if getattr(connection, "minimum", 1) == 0:
            continue
        what = f"its input {connection.name!r} (connection {name!r})"
        try:
            refs = butler.query_datasets(
                connection.name, collections=collections, where=where, bind=bind, limit=1, explain=False
            )
        except MissingDatasetTypeError:
            return f"{what}, a dataset type this repository does not have (yet)"
        except Exception:  # a prerequisite on other dimensions (e.g. htm7): not diagnosable here
            continue
        if not refs:
            return f"{what}, which the collections {list(collections)} do not hold for it"
    return f"an input that the collections {list(collections)} do not hold for it"


def fetch_run_arguments(
    task_class: type,
    config: Config,
    butler: Butler,
    data_id: Mapping[str, Any],
    collections: Sequence[str],
) -> FetchedInputs:
    """Return the arguments the task's ``runQuantum`` gives ``run`` for ``data_id``; write nothing.

    Parameters
    ----------
    task_class
        A ``PipelineTask`` subclass.
    config
        Its config (decides which inputs it needs).
    butler
        A Butler on the repository (read-only is enough).
    data_id
        Dimension name -> value, e.g. ``{"exposure": 2026031500002, "detector": 0}``.
    collections
        Input collections to search.

    Returns
    -------
    fetched
        The arguments, and the connections they cover.

    Raises
    ------
    stackclub._exceptions.ExploreError
        The data ID matches no quantum (an input is missing: it is named) or more than one.
    """
    from lsst.pipe.base.all_dimensions_quantum_graph_builder import AllDimensionsQuantumGraphBuilder
    from lsst.pipe.base.pipeline_graph import PipelineGraph
    from lsst.pipe.base.testUtils import runTestQuantum

    where, bind = _where(butler, data_id)
    label = getattr(task_class, "_DefaultName", None) or task_class.__name__
    graph = PipelineGraph()
    graph.add_task(label, task_class, cast("PipelineTaskConfig", config))
    failure: Exception | None = None
    quanta = []
    try:
        with _quiet():
            builder = AllDimensionsQuantumGraphBuilder(
                graph,
                butler,
                where=where,
                bind=bind,
                input_collections=list(collections),
                output_run=UNWRITTEN_RUN,
            )
            built = builder.finish(output=None, metadata={}).assemble()
            quanta = list(built.build_execution_quanta().values())
    except Exception as err:  # e.g. an input dataset type the repository does not have
        failure = err
    if not quanta:
        missing = _diagnose_missing(butler, config, collections, where, bind)
        raise ExploreError(
            f"{task_class.__name__} cannot run on {_data_id_text(data_id)}: it needs {missing}",
            "Run the task that writes it first and add its output collection to collections=, or pass "
            "run()'s arguments yourself with inputs={...}",
        ) from failure
    if len(quanta) > 1:
        ids = sorted((dict(q.dataId.required) for q in quanta if q.dataId is not None), key=str)
        more = [k for k in ids[0] if k not in data_id and k != "instrument"]
        raise ExploreError(
            f"The data ID {_data_id_text(data_id)} matches {len(quanta)} quanta of {task_class.__name__} "
            f"(e.g. {_data_id_text(ids[0])})",
            f"Add dimensions until it names one (e.g. {', '.join(f'{k}={ids[0][k]!r}' for k in more)})",
        )
    (quantum,) = quanta
    task = task_class(config=config)
    with _quiet():
        run = runTestQuantum(task, butler, quantum, mockRun=True)
    if run is None or run.call_count != 1:
        raise ExploreError(
            f"{task_class.__name__}.runQuantum did not call run() exactly once",
            "Pass run()'s arguments yourself with inputs={...}",
        )
    args, kwargs = run.call_args
    assert quantum.dataId is not None
    return FetchedInputs(
        args=tuple(args),
        kwargs=dict(kwargs),
        connections=input_connection_names(config),
        data_id=_data_id_text(dict(quantum.dataId.required)),
    )
