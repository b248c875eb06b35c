"""Task facts: connections, ``run()`` signatures and call order, and drp_pipe pipeline configs."""

from __future__ import annotations

__all__ = (
    "PipelineConfig",
    "isr_classes_by_instrument",
    "pipeline_config",
    "plain",
    "run_order",
    "run_signature",
    "struct_fields",
)

import ast
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from .config import FilePath, as_list
from .git import ClassRef, Expr, External, Mirror, ModuleRef, ValueRef
from .source import Sources, ref_name


def run_signature(sources: Sources, task: ClassRef) -> dict[str, Any] | None:
    """Return ``run()``'s arguments and the fields of the Struct it returns.

    Parameters
    ----------
    sources
        The mirrored source.
    task
        The task class.

    Returns
    -------
    signature : dict or None
        ``defined_in``, ``positional``, ``keyword_only`` (with defaults), ``returns``.
    """
    found = sources.class_attr(task, "run")
    if found is None or not isinstance(found[1], ast.FunctionDef):
        return None
    owner, func = found[0], found[1]
    args = func.args
    positional = [a.arg for a in args.posonlyargs + args.args][1:]
    defaults = dict(
        zip(
            reversed(positional),
            reversed([sources.value(owner.module, d) for d in args.defaults]),
            strict=False,
        )
    )
    kwonly = {
        a.arg: sources.value(owner.module, d) if d is not None else "<required>"
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    }
    result: dict[str, Any] = {
        "defined_in": owner.fullname,
        "url": owner.module.url(func.lineno),
        "positional": [
            {"name": p, **({"default": plain(defaults[p])} if p in defaults else {})} for p in positional
        ],
        "keyword_only": {k: plain(v) for k, v in kwonly.items()},
    }
    returns = struct_fields(func)
    if returns:
        result["returns"] = returns
    return result


def struct_fields(func: ast.FunctionDef) -> list[str]:
    """Return the names of the fields of the Struct(s) a function returns.

    Parameters
    ----------
    func
        The function.

    Returns
    -------
    fields : list of str
        ``Struct(a=..., b=...)`` keywords of returned Structs, and ``name.attr = ...``
        assignments to a returned variable, in order of first appearance.
    """
    names: list[str] = []
    returned: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and node.value is not None:
            if isinstance(node.value, ast.Call) and ast.unparse(node.value.func).endswith("Struct"):
                names += [k.arg for k in node.value.keywords if k.arg]
            elif isinstance(node.value, ast.Name):
                returned.add(node.value.id)
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in returned:
                    names.append(t.attr)
                if isinstance(t, ast.Name) and t.id in returned and isinstance(node.value, ast.Call):
                    if ast.unparse(node.value.func).endswith("Struct"):
                        names += [k.arg for k in node.value.keywords if k.arg]
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return seen


def run_order(sources: Sources, task: ClassRef) -> list[str]:
    """Return the steps of ``run()`` in order: its calls of methods, subtasks and step functions.

    Parameters
    ----------
    sources
        The mirrored source.
    task
        The task class.

    Returns
    -------
    steps : list of str
        ``self.<method>``, ``self.<subtask>.run`` and ``<module>.<function>`` calls (the
        module one of the task's own package, e.g. ``isrFunctions.biasCorrection``), in source
        order (a call repeated right after itself is listed once); the calls a private method
        (``self._compute_psf``) makes follow it as ``_compute_psf > psf_repair.run``.
    """
    found = sources.class_attr(task, "run")
    if found is None or not isinstance(found[1], ast.FunctionDef):
        return []
    steps: list[str] = []

    def add(step: str) -> None:
        if not steps or steps[-1] != step:
            steps.append(step)

    owner = found[0]
    package = owner.module.package

    class Visitor(ast.NodeVisitor):
        def __init__(self, prefix: str, depth: int) -> None:
            self.prefix, self.depth = prefix, depth

        def visit_Call(self, node: ast.Call) -> None:
            text = ast.unparse(node.func)
            if re.fullmatch(r"self\.[A-Za-z_]\w*(\.run)?", text) and text not in (
                "self.log",
                "self.metadata",
            ):
                name = text.removeprefix("self.")
                add(self.prefix + name)
                method = sources.class_attr(task, name) if name.startswith("_") and self.depth else None
                if method is not None and isinstance(method[1], ast.FunctionDef):
                    Visitor(f"{self.prefix}{name} > ", self.depth - 1).visit(method[1])
            elif re.fullmatch(r"[A-Za-z_]\w*\.[A-Za-z_]\w*", text):
                ref = sources.resolve(owner.module, node.func.value)  # type: ignore[attr-defined]
                if isinstance(ref, ModuleRef) and ref.name.startswith(package + "."):
                    add(self.prefix + text)
            self.generic_visit(node)

    for stmt in found[1].body:
        Visitor("", 1).visit(stmt)
    return steps


def plain(value: Any) -> Any:
    """Return a value as YAML-ready data: non-literals as ``{expr: TEXT}``, refs as names.

    Parameters
    ----------
    value
        A value from the interpreter.

    Returns
    -------
    data : object
        Plain lists, dicts, strings and numbers.
    """
    if isinstance(value, Expr):
        text = value.text if len(value.text) <= 100 else value.text[:80] + " ... (see the source)"
        return {"expr": text}
    if isinstance(value, float) and math.isnan(value):
        return float("nan")
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, FilePath):
        return {"path": value.path}
    if isinstance(value, ClassRef | ModuleRef | External | ValueRef):
        return {"expr": ref_name(value)}
    return value


# --------------------------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------------------------


@dataclass
class PipelineConfig:
    """The config blocks a pipeline (with its imports) gives one task label, in order."""

    instrument: str | None
    blocks: list[tuple[str, dict[str, Any]]]  # (file, block)
    klass: str | None
    skipped_imports: list[str]


def pipeline_config(mirror: Mirror, path: str, label: str) -> PipelineConfig:
    """Collect the ``config:`` blocks of task ``label`` in drp_pipe pipeline ``path``.

    Imports are followed depth-first before the file's own blocks, as pipe_base merges them;
    an import that redefines the label with another class drops the earlier blocks.

    Parameters
    ----------
    mirror
        The drp_pipe mirror.
    path
        Pipeline path in the repository.
    label
        Task label.

    Returns
    -------
    config : PipelineConfig
        Instrument, blocks, class and the imports that could not be read (other packages).
    """
    text = mirror.show(path)
    if text is None:
        raise SystemExit(f"drp_pipe has no {path} at {mirror.tag}")
    doc = yaml.safe_load(text)
    result = PipelineConfig(doc.get("instrument"), [], None, [])
    imports = doc.get("imports") or []
    for item in imports if isinstance(imports, list) else [imports]:
        location = item if isinstance(item, str) else item["location"]
        excluded = [] if isinstance(item, str) else as_list(item.get("exclude"))
        if not location.startswith("$DRP_PIPE_DIR/"):
            result.skipped_imports.append(location)
            continue
        if label in excluded:
            continue
        sub = pipeline_config(mirror, location.removeprefix("$DRP_PIPE_DIR/"), label)
        result.skipped_imports += sub.skipped_imports
        if sub.klass is not None:
            if result.klass not in (None, sub.klass):
                result.blocks = []
            result.klass = sub.klass
            result.blocks += sub.blocks
        result.instrument = result.instrument or sub.instrument
    task = (doc.get("tasks") or {}).get(label)
    if task is not None:
        klass = task if isinstance(task, str) else task.get("class")
        if result.klass is not None and klass != result.klass:
            result.blocks = []
        result.klass = klass
        blocks = [] if isinstance(task, str) else task.get("config") or []
        for block in blocks if isinstance(blocks, list) else [blocks]:
            result.blocks.append((path, block))
    if doc.get("instrument"):
        result.instrument = doc["instrument"]
    return result


def isr_classes_by_instrument(mirror: Mirror) -> dict[str, str]:
    """Return which ISR task class each instrument's DRP ingredients pipeline uses.

    Parameters
    ----------
    mirror
        The drp_pipe mirror.

    Returns
    -------
    classes : dict
        ``_ingredients/<instrument>/DRP.yaml`` instrument folder to the ``isr`` class.
    """
    result = {}
    listing = mirror._git("ls-tree", "-r", "--name-only", mirror.tag, "pipelines/_ingredients")
    for path in sorted(listing.split()):
        match = re.fullmatch(r"pipelines/_ingredients/([^/]+)/DRP\.yaml", path)
        if match:
            config = pipeline_config(mirror, path, "isr")
            if config.klass:
                result[match.group(1)] = config.klass
    return result
