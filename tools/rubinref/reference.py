"""The reference data: building it from the mirrors and writing the YAML file."""

from __future__ import annotations

__all__ = ("OUTPUT", "TASKS", "Reference", "build", "dump", "main")

import argparse
import ast
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .config import (
    Context,
    Interpreter,
    Layer,
    Leaf,
    Node,
    Registry,
    UnhandledError,
    as_list,
    materialize_registries,
    owner_name,
)
from .connections import class_dimensions, connections
from .git import ClassRef, Expr, Mirror, Module
from .source import PACKAGES, Sources
from .tasks import (
    isr_classes_by_instrument,
    pipeline_config,
    plain,
    run_order,
    run_signature,
)

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "data" / "rubin_reference.yaml"

EXTRA_REPOS = ("drp_pipe",)

#: The tasks we mirror (and one we contrast with), by their drp_pipe label.
TASKS = {
    "isr": "lsst.ip.isr.IsrTask",
    "calibrateImage": "lsst.pipe.tasks.calibrateImage.CalibrateImageTask",
    "isrLSST": "lsst.ip.isr.IsrTaskLSST",
}
#: The drp_pipe pipeline whose configuration (with its imports) is recorded, and the instrument
#: whose obs package overrides apply (``pipetask`` applies them before the pipeline's).
PIPELINE = "pipelines/HSC/DRP-RC2.yaml"
PIPELINE_LABEL = "hsc_drp"
#: Other pipelines whose dataset type names (``connections.*`` in their config blocks) are
#: recorded: the names Rubin's current (LSSTCam, "v2") DRP gives the same tasks' outputs.
NAME_PIPELINES = ("pipelines/HSC/DRP-RC2.yaml", "pipelines/LSSTCam/DRP.yaml")


# --------------------------------------------------------------------------------------------
# The reference
# --------------------------------------------------------------------------------------------


class Reference:
    """Build the reference data for the mirrored tasks.

    Parameters
    ----------
    mirrors
        Mirror by repository name.
    """

    def __init__(self, mirrors: dict[str, Mirror]) -> None:
        self.mirrors = mirrors
        self.sources = Sources(mirrors)

    def task_class(self, fullname: str) -> ClassRef:
        """Resolve a task class by its dotted name (as a pipeline gives it).

        Parameters
        ----------
        fullname
            ``lsst.ip.isr.IsrTask``.

        Returns
        -------
        cls : ClassRef
            The class.
        """
        modname, _, name = fullname.rpartition(".")
        module = self.sources.module(modname)
        ref = self.sources.lookup(module, name) if module else None
        if not isinstance(ref, ClassRef):
            raise SystemExit(f"{fullname} not found in the mirrors")
        return ref

    def task(self, label: str, fullname: str) -> dict[str, Any]:
        """Return the reference record of one task.

        Parameters
        ----------
        label
            The drp_pipe label (``isr``).
        fullname
            Task class.

        Returns
        -------
        record : dict
            Class, source link, ``_DefaultName``, connections, run(), subtasks, config.
        """
        task = self.task_class(fullname)
        config_class = self.sources.config_class_of(task)
        assert config_class is not None
        default_name = self._default_name(task)

        interp = Interpreter(self.sources)
        defaults = interp.build(config_class, None, task.fullname)
        materialize_registries(interp, defaults)
        pipeline = self._pipeline_tree(label, default_name, config_class, task)
        record: dict[str, Any] = {
            "class": fullname,
            "defined_in": task.fullname,
            "url": task.module.url(task.node.lineno),
            "repo": task.module.mirror.repo,
            "tag": task.module.mirror.tag,
            "_DefaultName": default_name,
            "ConfigClass": config_class.fullname,
        }
        conn = interp.connections_class(config_class)
        if conn is not None:
            record["quantum_dimensions"] = class_dimensions(self.sources, conn)
            record["connections"] = {
                name: {k: plain(v) for k, v in info.items() if k != "line"}
                for name, info in connections(self.sources, conn).items()
            }
            record["connections_class"] = conn.fullname
        signature = run_signature(self.sources, task)
        if signature:
            record["run"] = signature
        record["run_order"] = run_order(self.sources, task)
        record["subtasks"] = self._subtasks(defaults)
        if pipeline is not None:
            record[PIPELINE_LABEL] = pipeline["info"]
        names = self._connection_names(label)
        if names:
            record["connection_names_in_pipelines"] = names
        record["config"] = self._config_entries(defaults, pipeline["tree"] if pipeline else None)
        notes = interp.not_interpreted + (pipeline["not_interpreted"] if pipeline else [])
        record["not_interpreted"] = [n for i, n in enumerate(notes) if n not in notes[:i]]
        return record

    def _default_name(self, task: ClassRef) -> str | None:
        found = self.sources.class_attr(task, "_DefaultName")
        if found is None or not isinstance(found[1], ast.Assign):
            return None
        value = self.sources.value(found[0].module, found[1].value)
        return value if isinstance(value, str) else None

    def _pipeline_tree(
        self, label: str, default_name: str | None, config_class: ClassRef, task: ClassRef
    ) -> dict[str, Any] | None:
        drp = self.mirrors.get("drp_pipe")
        if drp is None:
            return None
        pconfig = pipeline_config(drp, PIPELINE, label)
        if pconfig.klass is None:
            return None
        if (
            pconfig.klass != f"{task.module.name.rpartition('.')[0]}.{task.node.name}"
            and not pconfig.klass.endswith("." + task.node.name)
        ):
            return None
        interp = Interpreter(self.sources)
        tree = interp.build(config_class, None, task.fullname)
        interp.phase = "override"
        layers = []
        obs = self.mirrors.get("obs_subaru")
        if pconfig.instrument == "lsst.obs.subaru.HyperSuprimeCam" and obs is not None and default_name:
            for path in (f"config/{default_name}.py", f"config/hsc/{default_name}.py"):
                if obs.show(path) is not None:
                    interp.run_file(obs, path, tree)
                    layers.append(f"obs_subaru:{path}")
        for path, block in pconfig.blocks:
            block = dict(block)
            for file in as_list(block.pop("file", None)):
                rel = file.removeprefix("$DRP_PIPE_DIR/")
                interp.run_file(drp, rel, tree, by=f"drp_pipe:{rel}")
                layers.append(f"drp_pipe:{rel}")
            python = block.pop("python", None)
            if python is not None:
                interp.not_interpreted.append({"where": f"drp_pipe:{path}", "what": "python: block"})
            block.pop("dataId", None)
            for key, value in block.items():
                self._set_path(interp, tree, key, value, f"drp_pipe:{path}")
            if block:
                layers.append(f"drp_pipe:{path}")
        materialize_registries(interp, tree)
        info = {
            "pipeline": f"drp_pipe:{PIPELINE}",
            "instrument": pconfig.instrument,
            "class": pconfig.klass,
            "layers": list(dict.fromkeys(layers)),
        }
        if pconfig.skipped_imports:
            info["imports_not_read"] = sorted(set(pconfig.skipped_imports))
        return {"tree": tree, "info": info, "not_interpreted": interp.not_interpreted}

    def _connection_names(self, label: str) -> dict[str, Any]:
        drp = self.mirrors.get("drp_pipe")
        result: dict[str, Any] = {}
        if drp is None:
            return result
        for path in NAME_PIPELINES:
            pconfig = pipeline_config(drp, path, label)
            names = {
                key.removeprefix("connections."): value
                for _, block in pconfig.blocks
                for key, value in block.items()
                if key.startswith("connections.")
            }
            if pconfig.klass:
                result[f"drp_pipe:{path}"] = {
                    "class": pconfig.klass,
                    "instrument": pconfig.instrument,
                    "names": names,
                }
        return result

    def _set_path(self, interp: Interpreter, tree: Node, key: str, value: Any, by: str) -> None:
        module = Module(f"<{by}>", self.mirrors["drp_pipe"], by.partition(":")[2], ast.parse(""))
        ctx = Context(interp, module, {"config": tree}, by, None, tree)
        try:
            target = ctx.target(ast.parse("config." + key, mode="eval").body)
            ctx.set(target, value)
        except (UnhandledError, SyntaxError) as err:
            interp.not_interpreted.append({"where": by, "what": f"{key}: {err}"})

    def _subtasks(self, node: Node, prefix: str = "") -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in node.values.items():
            path = f"{prefix}{name}"
            if isinstance(value, Node) and value.decl is not None and value.decl.kind == "ConfigurableField":
                result[path] = self._task_info(value)
                result.update(self._subtasks(value, path + "."))
            elif isinstance(value, Node):
                result.update(self._subtasks(value, path + "."))
            elif isinstance(value, Registry):
                for key, entry in sorted(value.entries.items()):
                    entry_path = f'{path}["{key}"]'
                    if entry.target:
                        result[entry_path] = self._task_info(entry)
                    result.update(self._subtasks(entry, entry_path + "."))
        return result

    def _task_info(self, node: Node) -> dict[str, Any]:
        info: dict[str, Any] = {"class": node.target}
        if node.retargeted_by:
            info["retargeted_by"] = node.retargeted_by
        cls = self._class_of(node.target)
        if cls is not None:
            info["url"] = cls.module.url(cls.node.lineno)
            info["repo"], info["tag"] = cls.module.mirror.repo, cls.module.mirror.tag
            name = self._default_name(cls)
            if name is not None:
                info["_DefaultName"] = name
            signature = run_signature(self.sources, cls)
            if signature:
                info["run"] = [p["name"] for p in signature["positional"]] + list(signature["keyword_only"])
                if "returns" in signature:
                    info["returns"] = signature["returns"]
        if node.cls is not None:
            info["ConfigClass"] = node.cls.fullname
        return info

    def _class_of(self, fullname: str | None) -> ClassRef | None:
        if not fullname:
            return None
        modname, _, name = fullname.rpartition(".")
        module = self.sources.module(modname)
        ref = self.sources.lookup(module, name) if module else None
        return ref if isinstance(ref, ClassRef) else None

    def _config_entries(self, defaults: Node, pipeline: Node | None) -> dict[str, Any]:
        entries: dict[str, Any] = {}
        final = dict(self._walk(pipeline)) if pipeline is not None else {}
        for path, item in self._walk(defaults):
            entry = self._entry(item)
            other = final.pop(path, None)
            if pipeline is not None:
                if other is None:
                    entry[PIPELINE_LABEL] = {"expr": "<not present: retargeted>"}
                else:
                    overrides = [layer for layer in _layers(other) if layer.phase == "override"]
                    if overrides:
                        entry["overrides"] = [[layer.by, plain(layer.value)] for layer in overrides]
                    entry[PIPELINE_LABEL] = plain(_effective(other))
            entries[path] = entry
        for path, item in final.items():  # only there after an override (retarget, new entries)
            entry = self._entry(item)
            entry["only_after_overrides"] = True
            overrides = [layer for layer in _layers(item) if layer.phase == "override"]
            if overrides:
                entry["overrides"] = [[layer.by, plain(layer.value)] for layer in overrides]
            entry[PIPELINE_LABEL] = plain(_effective(item))
            entries[path] = entry
        return entries

    def _entry(self, item: Leaf | Node | Registry) -> dict[str, Any]:
        if isinstance(item, Node):
            decl = item.decl
            entry: dict[str, Any] = {"kind": decl.kind if decl else "Config"}
            if decl is not None and decl.kind == "ConfigurableField":
                entry["target"] = item.target
            if item.cls is not None:
                entry["type"] = item.cls.node.name
            else:
                entry["type"] = None
            if decl is not None:
                entry["declared_in"] = owner_name(decl)
            return entry
        if isinstance(item, Registry):
            decl = item.decl
            entry = {"kind": "RegistryField", "multi": decl.extra.get("multi", False)}
            entry["choices"] = sorted(item.choices) or None
            entry["declared_in"] = owner_name(decl)
        else:
            decl = item.decl
            entry = {"kind": decl.kind if decl else "unknown", "type": decl.dtype if decl else None}
            if decl is not None:
                entry["declared_in"] = owner_name(decl)
                for key in ("allowed", "min", "max", "optional", "deprecated"):
                    if key in decl.extra:
                        entry[key] = plain(decl.extra[key])
        layers = _layers(item)
        field_layers = [layer for layer in layers if layer.phase == "field"]
        if field_layers:
            entry["default"] = plain(field_layers[0].value)
        set_defaults = [layer for layer in layers if layer.phase == "setDefaults"]
        if set_defaults:
            entry["setDefaults"] = [[layer.by, plain(layer.value)] for layer in set_defaults]
        task_layers = [layer for layer in layers if layer.phase != "override"]
        entry["task_default"] = plain(task_layers[-1].value) if task_layers else {"expr": "<unknown>"}
        return entry

    def _walk(self, node: Node, prefix: str = "") -> Iterator[tuple[str, Leaf | Node | Registry]]:
        for name, value in node.values.items():
            path = f"{prefix}{name}"
            if isinstance(value, Node):
                yield path, value
                yield from self._walk(value, path + ".")
            elif isinstance(value, Registry):
                yield path + (".names" if value.decl.extra.get("multi") else ".name"), value
                for key, entry in sorted(value.entries.items()):
                    yield from self._walk(entry, f'{path}["{key}"].')
            else:
                yield path, value


def _layers(item: Leaf | Node | Registry) -> list[Layer]:
    if isinstance(item, Leaf):
        layers = item.layers
    elif isinstance(item, Registry):
        layers = item.selection.layers
    else:
        return []
    # One layer per consecutive statement group of one source (a loop filling a dict).
    merged: list[Layer] = []
    for layer in layers:
        if merged and merged[-1].by == layer.by and merged[-1].phase == layer.phase:
            merged[-1] = layer
        else:
            merged.append(layer)
    return merged


def _effective(item: Leaf | Node | Registry) -> Any:
    if isinstance(item, Node):
        return (
            item.target
            if item.decl is not None and item.decl.kind == "ConfigurableField"
            else item.cls.node.name
            if item.cls
            else None
        )
    layers = _layers(item)
    return layers[-1].value if layers else Expr("<unknown>")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

HEADER = """\
# Rubin reference data for the tasks stackclub.pipe mirrors: names and values only.
#
# GENERATED by tools/rubin_reference.py -- do not edit by hand.  Regenerate after moving to a new
# weekly (mirrors of github.com/lsst/<repo> as bare clones in MIRRORS/lsst+<repo>/repo):
#     .venv/bin/python tools/rubin_reference.py --mirrors MIRRORS [--tag REPO=TAG ...]
# and check that the committed file is current with --check.
#
# Read from the source (git show TAG:path, parsed with Python's ast; nothing is imported or run):
{sources}#
# Per task: the class, _DefaultName, connections (dataset type name, storage class, dimensions),
# run() arguments and returned Struct fields, its subtasks (by config path), and `config`: every
# config field path, one line each, with
#   kind/type      pex_config field kind and dtype; declared_in: the config class declaring it
#   default        the field's own default
#   setDefaults    [[Class.setDefaults, value], ...] in the order they run (inner configs first)
#   task_default   what `TaskClass.ConfigClass()` gives (default, then setDefaults)
#   overrides      [[file, value], ...]: obs_subaru config/<_DefaultName>.py (pipetask applies an
#                  instrument's overrides first), then drp_pipe's {pipeline} with its imports
#   {label}        the value a `pipetask run -p {pipeline}` would use
# Registry fields appear as PATH.name (PATH.names if multi) and their entries as PATH["key"].field;
# plugin configs whose classes are C++ (measurement plugins) list only the fields set explicitly.
# Values that are not literals are written as {{expr: SOURCE_TEXT}}.  not_interpreted lists the
# statements the generator could not follow (check those values in the source).
"""


def dump(data: dict[str, Any]) -> str:
    """Render the reference as YAML: block style, one flow-style line per config path.

    Parameters
    ----------
    data
        ``{"sources": ..., "tasks": ...}``.

    Returns
    -------
    text : str
        The file's text (without the header).
    """
    out: list[str] = []

    def flow(value: Any) -> str:
        return (
            yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False)
            .strip()
            .removesuffix("...")
            .strip()
        )

    for key, value in data.items():
        if key != "tasks":
            out.append(yaml.safe_dump({key: value}, sort_keys=False, width=100).rstrip())
            continue
        out.append("tasks:")
        for label, task in value.items():
            out.append(f"  {label}:")
            for tkey, tvalue in task.items():
                if tkey in ("config", "subtasks", "connections") and tvalue:
                    out.append(f"    {tkey}:")
                    for path, entry in tvalue.items():
                        out.append(f"      {_key(path)}: {flow(entry)}")
                else:
                    block = yaml.safe_dump({tkey: tvalue}, sort_keys=False, width=100).rstrip()
                    out.append("\n".join("    " + line for line in block.splitlines()))
    return "\n".join(out) + "\n"


def _key(path: str) -> str:
    """Write a config path as a YAML key, quoted when it holds ``["registry entry"]``."""
    if re.fullmatch(r"[A-Za-z_][\w.]*", path):
        return path
    return yaml.safe_dump(path, default_style="'").strip().removesuffix("...").strip()


def build(mirrors: dict[str, Mirror]) -> str:
    """Build the whole reference file.

    Parameters
    ----------
    mirrors
        Mirror by repository name.

    Returns
    -------
    text : str
        Header and YAML.
    """
    reference = Reference(mirrors)
    tasks = {}
    for label, fullname in TASKS.items():
        tasks[label] = reference.task(label, fullname)
    sources_text = "".join(
        f"#   {name:<22} {m.tag:<11} {m.commit[:12]}\n" for name, m in sorted(mirrors.items())
    )
    data: dict[str, Any] = {
        "sources": {name: {"tag": m.tag, "commit": m.commit} for name, m in sorted(mirrors.items())},
    }
    drp = mirrors.get("drp_pipe")
    if drp is not None:
        data["isr_class_by_instrument"] = isr_classes_by_instrument(drp)
    data["tasks"] = tasks
    header = HEADER.format(sources=sources_text, pipeline=PIPELINE, label=PIPELINE_LABEL)
    return header + dump(data)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success; 1 if ``--check`` finds the committed file stale.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mirrors", type=Path, default=Path(os.environ.get("RUBIN_MIRRORS", "/work/.mirror"))
    )
    parser.add_argument("--tag", action="append", default=[], metavar="REPO=TAG")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)
    tags = dict(t.split("=", 1) for t in args.tag)
    mirrors = {}
    for repo in sorted({*PACKAGES.values(), *EXTRA_REPOS}):
        gitdir = args.mirrors / f"lsst+{repo}" / "repo"
        if not gitdir.is_dir():
            print(f"warning: no mirror of {repo} at {gitdir}; its classes will be missing", file=sys.stderr)
            continue
        mirrors[repo] = Mirror(repo, gitdir, tags.get(repo))
    text = build(mirrors)
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run tools/rubin_reference.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0
