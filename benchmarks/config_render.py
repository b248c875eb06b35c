"""Rendering a 300-field config: stackclub.show_config against the text dumps learners use today.

Peers, measured in the same run on the same config:
- ``config.saveToString()`` -- the Python text ``pipetask build --show config`` prints;
- ``pydoc.render_doc(config)`` -- what the original Stack Club notebook sliced.

The issue's target: show_config + HTML render of 300 fields in under 50 ms.
Run: ``.venv/bin/python benchmarks/config_render.py``.
"""

# ruff: noqa: N812 -- Rubin's usual aliases (pexConfig, pipeBase)

from __future__ import annotations

import pydoc
import time
from collections.abc import Callable
from typing import Any

import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
from _timing import best  # benchmarks/_timing.py (this script's folder is on sys.path)

from stackclub.config_docs import diff_configs, show_config

N_SUBTASKS = 10
FIELDS_PER_SUBTASK = 24  # + the ConfigurableField itself = 25 rows per subtask
N_TOP = 50  # top-level leaf fields


def _leaf_fields(prefix: str, n: int) -> dict[str, Any]:
    """``n`` fields cycling through the leaf kinds, docs containing markup to escape."""
    fields: dict[str, Any] = {}
    for i in range(n):
        doc = f"Field {prefix}{i}: a <b>documented</b> & escaped value."
        kind = i % 5
        if kind == 0:
            fields[f"do{prefix}{i}"] = pexConfig.Field[bool](doc=doc, default=bool(i % 2))
        elif kind == 1:
            fields[f"thr{prefix}{i}"] = pexConfig.RangeField[float](doc=doc, default=0.5, min=0.0, max=1.0)
        elif kind == 2:
            fields[f"mode{prefix}{i}"] = pexConfig.ChoiceField[str](
                doc=doc, default="A", allowed={"A": "first", "B": "second"}
            )
        elif kind == 3:
            fields[f"names{prefix}{i}"] = pexConfig.ListField[str](doc=doc, default=["SAT", "BAD", "CR"])
        else:
            fields[f"map{prefix}{i}"] = pexConfig.DictField(
                keytype=str, itemtype=float, doc=doc, default={"g": 1.0, "r": 2.0}
            )
    return fields


def make_config() -> tuple[pexConfig.Config, int]:
    """A config class with 300 fields (10 subtasks of 24 fields, 50 top-level, 10 ConfigurableFields)."""
    top: dict[str, Any] = _leaf_fields("Top", N_TOP)
    for s in range(N_SUBTASKS):
        config_class = type(f"Sub{s}Config", (pexConfig.Config,), _leaf_fields(f"S{s}_", FIELDS_PER_SUBTASK))
        task_class = type(
            f"Sub{s}Task", (pipeBase.Task,), {"ConfigClass": config_class, "_DefaultName": f"sub{s}"}
        )
        top[f"sub{s}"] = pexConfig.ConfigurableField(target=task_class, doc=f"Subtask {s}.")
    config_class = type("BenchConfig", (pexConfig.Config,), top)
    config = config_class()
    n = N_TOP + N_SUBTASKS * (1 + FIELDS_PER_SUBTASK)
    return config, n


def best_of(fn: Callable[[], object], repeat: int = 7) -> float:
    """Minimum wall time of ``repeat`` calls, in seconds (after one warm-up call)."""
    return best(fn, repeat, warmup=True)


def main() -> None:
    config, n_fields = make_config()
    # Override a third of the fields so the history and changed-only paths do real work.
    for i, name in enumerate(list(config._fields)[:N_TOP]):
        if name.startswith("do") and i % 3 == 0:
            setattr(config, name, not getattr(config, name))
    for s in range(N_SUBTASKS):
        sub = getattr(config, f"sub{s}")
        for name in list(sub._fields)[::3]:
            if name.startswith("thr"):
                setattr(sub, name, 0.25)

    # Cold: the first render in a fresh process also builds the class's defaults once (pex_config
    # records a call stack per field) and lets stackclub.where_is index the installed packages.
    t0 = time.perf_counter()
    view = show_config(config)
    view._repr_html_()
    cold = time.perf_counter() - t0
    assert len(view) == n_fields, (len(view), n_fields)
    defaults = type(config)()

    results = {
        "show_config (model only)": best_of(lambda: show_config(config)),
        "show_config + HTML": best_of(lambda: show_config(config)._repr_html_()),
        "show_config + text": best_of(lambda: str(show_config(config))),
        "show_config changed_only + HTML": best_of(
            lambda: show_config(config, changed_only=True)._repr_html_()
        ),
        "diff_configs vs a default config": best_of(lambda: diff_configs(defaults, config)),
        "peer: config.saveToString()": best_of(lambda: config.saveToString()),
        "peer: pydoc.render_doc(config)": best_of(lambda: pydoc.render_doc(config), repeat=3),
    }
    peer = results["peer: config.saveToString()"]
    print(f"config with {n_fields} fields ({len(view.rows)} rows); best of 7, this machine")
    print(f"first show_config + HTML in this process (cold): {cold * 1e3:.0f} ms")
    print(f"{'what':36s} {'ms':>8s} {'× saveToString':>15s}")
    for name, seconds in results.items():
        print(f"{name:36s} {seconds * 1e3:8.2f} {seconds / peer:15.2f}")
    target = results["show_config + HTML"]
    print(
        f"target < 50 ms for show_config + HTML: {'met' if target < 0.050 else 'NOT met'} "
        f"({target * 1e3:.1f} ms)"
    )


if __name__ == "__main__":
    main()
