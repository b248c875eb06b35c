"""Sphinx directives that render the "what transfers" comparison (``docs/transfers.md``).

The rows come from ``tools/transfers.py``, the same code ``tests/test_rubin_names.py`` runs, over
``docs/transfers.yaml`` (the table of deliberate differences) and
``tests/data/rubin_reference.yaml`` (Rubin's names and defaults at a tag).  Each directive writes
MyST markdown and parses it in place, so the page cannot say something the test does not check.

Directives::

    ```{transfers-task} isr
    ```                        summary, subtasks, differences, what is the same, unexplained
    ```{rubin-sources}
    ```                        which tag of which repository each fact comes from
    ```{rubin-isr-instruments}
    ```                        which ISR task drp_pipe runs for each instrument
    ```{rubin-fields} isr isrLSST
    doFringe
    ```                        whether each named config field exists in each task
    ```{rubin-run-order} isr isrLSST
    ```                        the calls run() makes, in order, per task (and ours)
    ```{rubin-dataset-names} calibrateImage
    ```                        each connection's dataset type name: Rubin's, HSC's and LSSTCam's
                               DRP, ours and our pipeline's
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import transfers  # noqa: E402 - tools/ is not a package

GROUP_TITLES = {
    "config": "config field",
    "default": "default",
    "connection": "connection",
    "default_name": "`_DefaultName`",
    "run": "`run()` argument",
    "table": "table entry",
}


def _code(value: Any) -> str:
    """Render a value as inline code (backticks inside are doubled away)."""
    if isinstance(value, type):
        value = f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, dict) and set(value) == {"expr"}:
        value = value["expr"]
    if isinstance(value, float) and value != value:
        value = "nan"
    text = value if isinstance(value, str) else _flow(value)
    text = text.replace("|", "\\|")
    if not text:
        return "`''`"
    if "`" in text:
        return f"`` {text} ``"
    return f"`{text}`"


def _flow(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def _cell(text: str | None) -> str:
    """Make text safe inside a markdown table cell."""
    return (text or "").replace("\n", " ").replace("|", "\\|")


def _link(text: str, url: str | None) -> str:
    """A markdown link (plain text when there is no address)."""
    return f"[{text}]({url})" if url else text


class _MarkdownDirective(SphinxDirective):
    """A directive that renders generated MyST markdown."""

    def markdown(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        for path in (transfers.TABLE, transfers.REFERENCE, transfers.ROOT / "tools" / "transfers.py"):
            self.env.note_dependency(str(path))
        container = nodes.container(classes=["stackclub-transfers"])
        lines = self.markdown()
        self.state.nested_parse(StringList(lines, source=self.env.docname), self.content_offset, container)
        return container.children


class RubinSources(_MarkdownDirective):
    """The repositories and tags the reference data was read at."""

    def markdown(self) -> list[str]:
        reference = transfers.load_reference()
        lines = ["| repository | tag | commit |", "|---|---|---|"]
        for repo, info in reference["sources"].items():
            url = f"https://github.com/lsst/{repo}/tree/{info['tag']}"
            lines.append(f"| [{repo}]({url}) | `{info['tag']}` | `{info['commit'][:12]}` |")
        return lines


class RubinIsrInstruments(_MarkdownDirective):
    """Which ISR class drp_pipe's DRP runs per instrument."""

    def markdown(self) -> list[str]:
        reference = transfers.load_reference()
        tag = reference["sources"]["drp_pipe"]["tag"]
        lines = [
            f"| instrument (drp_pipe `{tag}`, `pipelines/_ingredients/<instrument>/DRP.yaml`) | `isr` runs |"
        ]
        lines.append("|---|---|")
        for instrument, klass in reference["isr_class_by_instrument"].items():
            url = f"https://github.com/lsst/drp_pipe/blob/{tag}/pipelines/_ingredients/{instrument}/DRP.yaml"
            lines.append(f"| [{instrument}]({url}) | `{klass}` |")
        return lines


class RubinFields(_MarkdownDirective):
    """Whether each config field named in the content exists in each task given as argument."""

    required_arguments = 1
    optional_arguments = 5
    has_content = True

    def markdown(self) -> list[str]:
        reference = transfers.load_reference()
        labels = self.arguments
        tasks = [reference["tasks"][label] for label in labels]
        header = (
            "| field | " + " | ".join(f"`{t['class'].rpartition('.')[2]}` ({t['tag']})" for t in tasks) + " |"
        )
        lines = [header, "|---" * (len(tasks) + 1) + "|"]
        for name in (line.strip() for line in self.content):
            if not name:
                continue
            cells = []
            for task in tasks:
                info = task["config"].get(name)
                if info is None:
                    cells.append("no such field")
                elif info["kind"] == "ConfigurableField":
                    cells.append(f"subtask {_code(info.get('target'))}")
                elif info["kind"] == "ConfigField":
                    cells.append(f"sub-config {_code(info.get('type'))}")
                else:
                    cells.append(f"{info['kind']}, default {_code(info.get('task_default'))}")
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
        return lines


class RubinRunOrder(_MarkdownDirective):
    """The calls each task's run() makes, in order (Rubin's from the reference, ours live)."""

    required_arguments = 1
    optional_arguments = 5
    option_spec = {"ours": lambda text: text}

    def markdown(self) -> list[str]:
        reference = transfers.load_reference()
        columns: list[tuple[str, list[str]]] = []
        for label in self.arguments:
            task = reference["tasks"][label]
            title = _link(f"`{task['class'].rpartition('.')[2]}.run` ({task['tag']})", task["run"]["url"])
            columns.append((title, task.get("run_order", [])))
        if "ours" in self.options:
            ours = transfers._import(self.options["ours"])
            columns.append((f"ours: `{ours.__name__}.run`", transfers.run_order_of(ours)))
        depth = max(len(c[1]) for c in columns)
        lines = ["| | " + " | ".join(c[0] for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for i in range(depth):
            row = [_code(c[1][i]) if i < len(c[1]) else "" for c in columns]
            lines.append(f"| {i + 1} | " + " | ".join(row) + " |")
        return lines


class TransfersTask(_MarkdownDirective):
    """Everything the comparison knows about one of our tasks."""

    required_arguments = 1

    def markdown(self) -> list[str]:
        label = self.arguments[0]
        table = transfers.load_table()
        reference = transfers.load_reference()
        entry = table["tasks"][label]
        rubin = reference["tasks"][entry["rubin"]]
        rows = transfers.compare(label, table, reference)
        ours = transfers._import(entry["ours"])
        lines: list[str] = []
        lines += [
            entry.get("summary", "").strip(),
            "",
            f"- **Ours**: `{entry['ours']}` (`_DefaultName` `{ours._DefaultName}`).",
            f"- **Rubin's**: {_link('`' + rubin['class'] + '`', rubin['url'])}, read at "
            f"{rubin['repo']} `{rubin['tag']}` (`_DefaultName` `{rubin['_DefaultName']}`).",
            f"- **Compared**: {_counts(rows)}.",
            "",
        ]
        lines += self._subtasks(entry, rubin, ours)
        lines += self._not_implemented(label, table, reference)
        lines += self._differences(rows, listed=True)
        lines += self._same(rows)
        lines += self._differences(rows, listed=False)
        return lines

    def _subtasks(self, entry: dict[str, Any], rubin: dict[str, Any], ours: Any) -> list[str]:
        notes = entry.get("subtasks") or {}
        ours_subtasks = transfers.our_subtasks(ours.ConfigClass())
        if not ours_subtasks:
            return []
        lines = [
            "**Subtasks** (ours by config path, and the Rubin class at the same path; a registry "
            'entry such as `star_selector["science"]` is the subtask the registry field selects):',
            "",
            "| config path | ours | Rubin's (source at the tag) | what ours keeps or simplifies |",
            "|---|---|---|---|",
        ]
        for path, target in ours_subtasks:
            theirs = rubin.get("subtasks", {}).get(path)
            if theirs is None:
                rubin_cell = "*(no subtask at this path)*"
            else:
                name = theirs["class"].rpartition(".")[2]
                rubin_cell = (
                    _link(f"`{name}`", theirs.get("url")) + f" ({theirs.get('repo')} `{theirs.get('tag')}`)"
                )
            lines.append(f"| `{path}` | `{target.__name__}` | {rubin_cell} | {_cell(notes.get(path))} |")
        return [*lines, ""]

    def _not_implemented(self, label: str, table: dict[str, Any], reference: dict[str, Any]) -> list[str]:
        items = transfers.not_implemented(label, table, reference)
        if not items:
            return []
        lines = [
            "**Not implemented here** (what Rubin's task has and ours leaves out, where it matters to "
            "a learner; Rubin's task default, then what HSC's DRP runs with):",
            "",
            "| Rubin's config path | Rubin's | HSC DRP | what it does, and what ours does instead |",
            "|---|---|---|---|",
        ]
        for item in items:
            value = item["rubin"]
            if item["kind"] == "ConfigurableField" and isinstance(value, str):
                rubin_cell = f"subtask `{value.rpartition('.')[2]}`"
                hsc_cell = ""
            elif item["kind"] == "ConfigField":
                rubin_cell = f"sub-config `{value}`" if value else "sub-config"
                hsc_cell = ""
            else:
                rubin_cell = _code(value) if item["kind"] else ""
                hsc = item["hsc_drp"]
                hsc_cell = (
                    _code(hsc) if hsc is not None and hsc != value else ("the same" if item["kind"] else "")
                )
            lines.append(f"| `{item['path']}` | {rubin_cell} | {hsc_cell} | {_cell(item['reason'])} |")
        return [*lines, ""]

    def _differences(self, rows: list[transfers.Row], *, listed: bool) -> list[str]:
        wanted = ("listed",) if listed else ("unlisted", "stale")
        chosen = [r for r in rows if r.status in wanted]
        if not chosen:
            if listed:
                return ["**Deliberate differences**: none.", ""]
            return ["Every difference is explained above (`tests/test_rubin_names.py` passes).", ""]
        if listed:
            lines = [
                "**Deliberate differences** (from `docs/transfers.yaml`; Rubin's value is the task "
                "default — field default, then `setDefaults` — and HSC's DRP the value "
                "`pipetask` uses with drp_pipe's HSC pipeline):",
                "",
                "| what | name | ours | Rubin's | HSC DRP | why |",
                "|---|---|---|---|---|---|",
            ]
            for r in chosen:
                hsc = (r.extra or {}).get("hsc_drp") if r.group == "default" else None
                ours, theirs = _values(r)
                lines.append(
                    f"| {GROUP_TITLES[r.group]} | `{r.item}` | {ours} | {theirs} | "
                    f"{_code(hsc) if hsc is not None else ''} | {_cell(r.reason)} |"
                )
            return [*lines, ""]
        lines = [
            "```{admonition} Not explained yet",
            ":class: warning",
            "",
            f"{len(chosen)} difference(s) are neither Rubin's name nor listed in `docs/transfers.yaml`, "
            "so `tests/test_rubin_names.py` fails on them.  Each says what to do:",
            "",
        ]
        for r in chosen:
            lines.append(f"- {GROUP_TITLES[r.group]}: {_cell(_escape_md(r.message or ''))}")
        return [*lines, "```", ""]

    def _same(self, rows: list[transfers.Row]) -> list[str]:
        lines = ["**The same as Rubin's**:", ""]
        for group, title in (
            ("config", "config paths"),
            ("default", "defaults"),
            ("connection", "connections (name, storage class, dimensions)"),
            ("default_name", "`_DefaultName`s"),
            ("run", "`run()` arguments"),
        ):
            same = [r.item for r in rows if r.group == group and r.status == "same"]
            if same:
                lines.append(f"- {title} ({len(same)}): " + ", ".join(f"`{s}`" for s in same))
        return [*lines, ""]


class RubinDatasetNames(_MarkdownDirective):
    """The dataset type name of each connection: Rubin's class default, HSC's and LSSTCam's DRP, ours."""

    required_arguments = 1

    def markdown(self) -> list[str]:
        label = self.arguments[0]
        reference = transfers.load_reference()
        tag = reference["sources"]["drp_pipe"]["tag"]
        rows = transfers.dataset_names(label, reference)
        lines = [
            f"| connection | Rubin's class default | HSC DRP (drp_pipe `{tag}`) | LSSTCam DRP | "
            "ours (class default) | our `ProcessCcd.yaml` |",
            "|---|---|---|---|---|---|",
        ]
        rubin_only = []
        for row in rows:
            if row["ours"] is None:
                rubin_only.append(row)
                continue
            cells = [_code(row[k]) if row[k] is not None else "*(none)*" for k in ("rubin", "hsc", "lsstcam")]
            cells += [_code(row["ours"]), _code(row["pipeline"])]
            lines.append(f"| `{row['connection']}` | " + " | ".join(cells) + " |")
        if rubin_only:
            names = ", ".join(f"`{r['connection']}` → {_code(r['hsc'])}" for r in rubin_only)
            lines += [
                "",
                "Rubin's task only (ours has no such connection), with the dataset name HSC's DRP "
                f"gives it: {names}.",
            ]
        return lines


def _values(row: transfers.Row) -> tuple[str, str]:
    if row.group == "connection" and isinstance(row.ours, dict):
        differs = (row.extra or {}).get("differs") or []
        aspects = [a for a in differs if a in row.ours] or ["name"]
        ours = "; ".join(f"{a} {_code(row.ours[a])}" for a in aspects)
        theirs = "; ".join(f"{a} {_code(row.rubin[a])}" for a in aspects) if row.rubin else "*(none)*"
        return ours, theirs
    ours = _code(row.ours) if row.ours is not None else "*(none)*"
    theirs = _code(row.rubin) if row.rubin is not None else "*(none)*"
    if row.group == "config" and row.rubin is None:
        theirs = "*(no such field)*"
    return ours, theirs


def _counts(rows: list[transfers.Row]) -> str:
    total = len([r for r in rows if r.group != "table"])
    same = len([r for r in rows if r.status == "same"])
    listed = len([r for r in rows if r.status == "listed"])
    open_ = len([r for r in rows if r.status in ("unlisted", "stale")])
    return (
        f"{total} names and defaults: {same} the same, {listed} deliberate differences, "
        f"{open_} not explained yet"
    )


def _escape_md(text: str) -> str:
    return text.replace("*", "\\*").replace("_", "\\_") if "`" not in text else text


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives.

    Parameters
    ----------
    app
        The Sphinx application.

    Returns
    -------
    metadata : dict
        Extension metadata.
    """
    app.add_directive("transfers-task", TransfersTask)
    app.add_directive("rubin-sources", RubinSources)
    app.add_directive("rubin-isr-instruments", RubinIsrInstruments)
    app.add_directive("rubin-fields", RubinFields)
    app.add_directive("rubin-run-order", RubinRunOrder)
    app.add_directive("rubin-dataset-names", RubinDatasetNames)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
