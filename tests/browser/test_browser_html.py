"""Every HTML a helper renders, loaded into Chromium with hostile text in it.

The doc strings, values, log messages and command output below carry a ``<script>`` and an
``<img onerror=...>``: in the browser neither may run or become an element (they must show as
text), and every table must have header cells (``<th>``) for screen readers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lsst.pex.config as pexConfig  # noqa: N812 - the Rubin spelling
import lsst.pipe.base as pipeBase  # noqa: N812
import lsst.pipe.base.connectionTypes as cT
import numpy as np
import pytest

PAYLOAD = (
    "<script>window.__xss=(window.__xss||0)+1</script>"
    '<img src=x onerror="window.__xss=(window.__xss||0)+1"> & [b]'
)


class HostileConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument",)):
    calexp = cT.Input(
        doc=PAYLOAD, name="hostile_in", storageClass="StructuredDataDict", dimensions=("instrument",)
    )
    result = cT.Output(
        doc=PAYLOAD, name="hostile_out", storageClass="StructuredDataDict", dimensions=("instrument",)
    )


class LeafTask(pipeBase.Task):
    """A subtask whose doc string is hostile."""

    ConfigClass = pexConfig.Config
    _DefaultName = "leaf"


class HostileConfig(pipeBase.PipelineTaskConfig, pipelineConnections=HostileConnections):
    doThing = pexConfig.Field[bool](doc=PAYLOAD, default=True)  # noqa: N815 - Rubin's doX style
    label = pexConfig.Field[str](doc="A value with markup in it.", default=PAYLOAD)
    mode = pexConfig.ChoiceField[str](doc=PAYLOAD, default="a", allowed={"a": PAYLOAD, "b": "plain"})
    leaf = pexConfig.ConfigurableField(target=LeafTask, doc=PAYLOAD)


class HostileTask(pipeBase.PipelineTask):
    ConfigClass = HostileConfig
    _DefaultName = "hostile"

    def run(self, calexp: Any) -> pipeBase.Struct:
        if self.config.doThing:  # <script>window.__xss=(window.__xss||0)+1</script>
            return pipeBase.Struct(result={})
        return pipeBase.Struct(result=None)


def _logs() -> Any:
    from stackclub import capture_logs

    with capture_logs("INFO", show=False) as logs:
        logging.getLogger(f"__main__.{PAYLOAD}").warning("bad amp %s", PAYLOAD)
    return logs


def _command() -> Any:
    from stackclub import run_command

    return run_command([sys.executable, "-c", f"print({PAYLOAD!r})"], show=False)


def _diff() -> Any:
    from stackclub import diff_configs

    other = HostileConfig()
    other.label = PAYLOAD + "!"
    other.doThing = False
    return diff_configs(HostileConfig(), other, labels=(PAYLOAD, "mine"))


def _mask_table() -> Any:
    from stackclub.display import mask_plane_table

    hot = np.zeros((4, 4), bool)
    hot[1, 2] = True
    return mask_plane_table(np.zeros((4, 4)), mask={PAYLOAD: hot})


def _show(name: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    def build() -> Any:
        import stackclub

        return getattr(stackclub, name)(*args, **kwargs)

    return build


# helper -> (builder, whether the payload text must be shown, whether it renders a table)
CASES: dict[str, tuple[Callable[[], Any], bool, bool]] = {
    "show_config": (_show("show_config", HostileConfig()), True, True),
    "diff_configs": (_diff, True, True),
    "show_task_tree": (_show("show_task_tree", HostileTask), True, True),
    "show_connections": (_show("show_connections", HostileTask), True, True),
    "uses_of": (_show("uses_of", HostileTask, "doThing"), True, True),
    "capture_logs": (_logs, True, False),  # log lines, not a table
    "run_command": (_command, True, False),  # the command's output, not a table
    "mask_plane_table": (_mask_table, True, True),
    "versions": (_show("versions"), False, True),
    "show_pipeline": (lambda: __import__("stackclub").show_pipeline(_pipeline_path()), False, True),
}


def _pipeline_path() -> Path:
    from stackclub.pipe import pipeline_path

    return pipeline_path("ProcessCcd")


@pytest.mark.parametrize("helper", sorted(CASES))
def test_helper_html_is_inert_and_has_headers(page: Any, screenshots: Path, helper: str) -> None:
    build, shows_payload, has_table = CASES[helper]
    html = build()._repr_html_()
    page.set_content(f"<!doctype html><html lang='en'><body>{html}</body></html>", wait_until="load")
    page.wait_for_timeout(200)  # an <img onerror> would fire by now
    ran = page.evaluate("window.__xss === undefined ? 0 : window.__xss")
    assert ran == 0, f"{helper}: a script from the rendered text ran {ran} time(s)"
    injected = page.evaluate("document.querySelectorAll('script, [onerror], img[src=\"x\"]').length")
    assert injected == 0, f"{helper}: the hostile text became {injected} element(s)"
    text = page.inner_text("body")
    if shows_payload:
        assert "<script>window.__xss" in text, f"{helper}: the hostile text is not shown literally"
    tables = page.evaluate(
        """() => [...document.querySelectorAll('table')].map(t => ({
            th: t.querySelectorAll('th').length,
            headerCols: t.rows.length ? t.rows[0].cells.length : 0,
            maxCols: Math.max(0, ...[...t.rows].map(r => r.cells.length)),
        }))"""
    )
    assert bool(tables) == has_table, f"{helper}: {len(tables)} <table> rendered, expected {has_table}"
    headerless = [i for i, t in enumerate(tables) if t["th"] == 0]
    assert not headerless, f"{helper}: tables {headerless} of {len(tables)} have no <th> header cells"
    short = [i for i, t in enumerate(tables) if t["headerCols"] < t["maxCols"]]
    assert not short, f"{helper}: tables {short} have fewer header cells than body columns"
    page.screenshot(path=str(screenshots / f"html_{helper}.png"), full_page=True)
    shown = "payload shown as text" if shows_payload else "no user text"
    print(f"\n{helper}: {len(tables)} table(s), all with <th>; no script ran; {shown}")
