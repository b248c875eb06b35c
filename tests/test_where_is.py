"""Tests of stackclub.source: where_is, source_url, uses_of and their CLI commands.

Everything runs on the real installed packages; the "no repository" and "VCS install" cases use
small fake distributions written to tmp_path (a METADATA, a RECORD and a module), which
importlib.metadata finds exactly as it finds real ones.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("lsst.pipe.base")

import lsst.pex.config as pex_config
import lsst.pipe.base as pipe_base
import lsst.pipe.base.connectionTypes as cT

from stackclub import uses_of, where_is
from stackclub._exceptions import (
    ArgumentTypeError,
    NoRepositoryError,
    NotInstalledError,
    RemovedArgumentError,
    SourceNotFoundError,
    UnknownNameError,
)
from stackclub.cli import main
from stackclub.source import SourceLink, source_url
from stackclub.source._packages import git_head
from stackclub.source.links import _md_escape
from stackclub.source.rules import MIRRORED, RULES, rule_for

HERE = Path(__file__).resolve()
CHECKOUT = HERE.parent.parent
OUR_REPO = "https://github.com/LSSTScienceCollaborations/StackClub"


# --- a small pipeline task of our own (the real stackclub.pipe tasks are tested below too) ----------


class SampleConnections(pipe_base.PipelineTaskConnections, dimensions=("instrument",)):
    """Connections whose outputs depend on a config field."""

    calexp = cT.Output(
        doc="An output.", name="sample_calexp", storageClass="StructuredDataDict", dimensions=("instrument",)
    )

    def __init__(self, *, config: SampleConfig | None = None) -> None:
        super().__init__(config=config)
        if config is not None and not config.doThing:  # <- use
            del self.calexp


class SampleConfig(pipe_base.PipelineTaskConfig, pipelineConnections=SampleConnections):
    """Config with both spellings of a field declaration."""

    doThing = pex_config.Field[bool](doc="Do the thing.", default=True)  # noqa: N815 - Rubin spelling
    threshold = pex_config.Field(dtype=float, doc="A threshold.", default=5.0)

    def validate(self) -> None:
        super().validate()
        if self.doThing and self.threshold < 0:  # <- use
            raise ValueError("threshold must be >= 0 when doThing is set")


class SampleTask(pipe_base.PipelineTask):
    """A task that mentions config.doThing in its docstring, which must not count."""

    ConfigClass = SampleConfig
    _DefaultName = "sample"

    def run(self) -> pipe_base.Struct:
        # config.doThing in a comment does not count
        text = "self.config.doThing in a string does not count"
        cfg = self.config
        if cfg.doThing:  # <- use
            text += "!"
        self.config.doThing = False  # <- set
        return pipe_base.Struct(text=text, flag=f"{self.config.doThing}")  # <- use

    @classmethod
    def make(cls) -> SampleTask:
        return cls()

    @staticmethod
    def helper() -> int:
        return 1

    @property
    def label(self) -> str:
        return "sample"


# --- helpers ------------------------------------------------------------------------------------


def _line(path: str, lineno: int) -> str:
    return Path(path).read_text(encoding="utf-8").splitlines()[lineno - 1]


def _assert_defines(link: SourceLink, keyword: str, name: str) -> None:
    """The first linked line of the installed file holds that def/class/assignment."""
    assert link.lines is not None
    line = _line(link.path, link.lines[0])
    if keyword == "=":
        assert re.match(rf"\s*{name}\s*[:=]", line), line
    else:
        assert re.match(rf"\s*(async\s+)?{keyword}\s+{name}\b", line), line


def _assert_block_ends(link: SourceLink) -> None:
    """The last linked line is the end of the block: the next code line is indented no deeper than
    the first linked line."""
    assert link.lines is not None
    first, last = link.lines
    lines = Path(link.path).read_text(encoding="utf-8").splitlines()
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    for text in lines[last:]:
        if text.strip():
            assert len(text) - len(text.lstrip()) <= indent, text
            break


def _tag(distribution: str) -> str:
    """The tag the issue's rules give, computed independently of the rule table."""
    version = metadata.version(distribution)
    weekly = re.fullmatch(r"\d+\.(\d{4})\.(\d{2})00", version)
    return f"w.{weekly.group(1)}.{weekly.group(2)}" if weekly else f"v{version}"


def _first_line_of(path: str, pattern: str) -> int:
    for i, text in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if re.match(pattern, text):
            return i
    raise AssertionError(f"{pattern!r} not in {path}")


# --- the "done when" list ---------------------------------------------------------------


def test_pipeline_task_exact_url_pinned_to_weekly_tag() -> None:
    link = where_is(pipe_base.PipelineTask)
    first = _first_line_of(link.path, r"class PipelineTask\(")
    assert link.lines is not None and link.lines[0] == first
    tag = _tag("lsst-pipe-base")
    assert link.url == (
        f"https://github.com/lsst/pipe_base/blob/{tag}/python/lsst/pipe/base/pipelineTask.py"
        f"#L{first}-L{link.lines[1]}"
    )
    assert (link.package, link.version, link.ref) == (
        "lsst-pipe-base",
        metadata.version("lsst-pipe-base"),
        tag,
    )
    _assert_defines(link, "class", "PipelineTask")
    _assert_block_ends(link)
    if link.version == "30.2026.4300":
        # Checked against the real repository (git show w.2026.34:python/lsst/pipe/base/pipelineTask.py,
        # byte-identical to the installed file): "class PipelineTask(Task):" is line 50.
        assert link.ref == "w.2026.43"
        assert link.lines[0] == 50


def test_pex_config_field_class() -> None:
    link = where_is(pex_config.Field)
    tag = _tag("lsst-pex-config")
    assert link.url == (
        f"https://github.com/lsst/pex_config/blob/{tag}/python/lsst/pex/config/config.py"
        f"#L{link.lines[0]}-L{link.lines[1]}"
    )
    assert link.name == "lsst.pex.config.Field"
    _assert_defines(link, "class", "Field")
    _assert_block_ends(link)


def test_butler_get_method() -> None:
    from lsst.daf.butler import Butler

    link = where_is(Butler.get)
    tag = _tag("lsst-daf-butler")
    assert link.url == (
        f"https://github.com/lsst/daf_butler/blob/{tag}/python/lsst/daf/butler/_butler.py"
        f"#L{link.lines[0]}-L{link.lines[1]}"
    )
    assert (link.name, link.kind) == ("lsst.daf.butler.Butler.get", "method")
    _assert_defines(link, "def", "get")
    docs = where_is(Butler.get, in_the="docs").url
    assert (
        docs
        == "https://pipelines.lsst.io/v/weekly/py-api/lsst.daf.butler.Butler.html#lsst.daf.butler.Butler.get"
    )


def test_astropy_fits_open_alias() -> None:
    from astropy.io import fits

    link = where_is(fits.open)
    version = metadata.version("astropy")
    assert link.url == (
        f"https://github.com/astropy/astropy/blob/v{version}/astropy/io/fits/hdu/hdulist.py"
        f"#L{link.lines[0]}-L{link.lines[1]}"
    )
    assert link.name == "astropy.io.fits.open"  # the public alias, not hdulist.fitsopen
    _assert_defines(link, "def", "fitsopen")
    assert (
        where_is(fits.open, in_the="docs").url
        == "https://docs.astropy.org/en/stable/api/astropy.io.fits.open.html"
    )


def test_class_whose_module_names_the_public_package() -> None:
    import numpy as np

    assert np.poly1d.__module__ == "numpy"  # numpy's @set_module: the file is elsewhere
    link = where_is(np.poly1d)
    assert link.url.startswith(f"https://github.com/numpy/numpy/blob/v{metadata.version('numpy')}/numpy/lib/")
    _assert_defines(link, "class", "poly1d")


def test_numpy_median_through_array_function_dispatcher() -> None:
    import numpy as np

    link = where_is(np.median)
    version = metadata.version("numpy")
    assert link.url == (
        f"https://github.com/numpy/numpy/blob/v{version}/numpy/lib/_function_base_impl.py"
        f"#L{link.lines[0]}-L{link.lines[1]}"
    )
    _assert_defines(link, "def", "median")
    major, minor = version.split(".")[:2]
    assert where_is(np.median, in_the="docs").url == (
        f"https://numpy.org/doc/{major}.{minor}/reference/generated/numpy.median.html"
    )


def test_matplotlib_pyplot_imshow_under_lib() -> None:
    import matplotlib.pyplot as plt

    link = where_is(plt.imshow)
    version = metadata.version("matplotlib")
    assert link.url == (
        f"https://github.com/matplotlib/matplotlib/blob/v{version}/lib/matplotlib/pyplot.py"
        f"#L{link.lines[0]}-L{link.lines[1]}"
    )
    _assert_defines(link, "def", "imshow")
    assert where_is(plt.imshow, in_the="docs").url == (
        f"https://matplotlib.org/{version}/api/_as_gen/matplotlib.pyplot.imshow.html"
    )


def test_real_pex_config_field_declared_with_generic_spelling() -> None:
    # PipelineTaskConfig.saveLogOutput is declared as Field[bool](...): its Field.source points
    # into pex_config itself, so the declaration is found by parsing the class.
    fld = pipe_base.PipelineTaskConfig.saveLogOutput
    assert "lsst/pex/config" in fld.source.filename
    link = where_is(fld)
    _assert_defines(link, "=", "saveLogOutput")
    assert link.url.startswith(
        f"https://github.com/lsst/pipe_base/blob/{_tag('lsst-pipe-base')}/python/lsst/pipe/base/config.py#L"
    )
    assert link.name == "lsst.pipe.base.PipelineTaskConfig.saveLogOutput"
    assert link.kind == "config field (Field)"
    assert "Field.source" in link.note


def test_fields_of_both_spellings_link_their_declaration_line() -> None:
    generic = where_is(SampleConfig.doThing, in_the="file")
    plain = where_is(SampleConfig.threshold, in_the="file")
    _assert_defines(generic, "=", "doThing")
    _assert_defines(plain, "=", "threshold")
    # The plain Field(...) spelling records the right frame, so Field.source is used as it is.
    assert plain.lines[0] == SampleConfig.threshold.source.lineno
    assert plain.note == "declaration line from Field.source"
    # Looked up through a subclass or a dotted string, the field is still found on its class.
    sub = type("SubConfig", (SampleConfig,), {})
    assert where_is(sub.doThing, in_the="file").lines == generic.lines
    assert where_is(f"{__name__}.SampleConfig.threshold", in_the="file").lines == plain.lines


def test_dotted_string() -> None:
    link = where_is("lsst.pipe.base.PipelineTask.runQuantum")
    _assert_defines(link, "def", "runQuantum")
    assert link.url.startswith(
        f"https://github.com/lsst/pipe_base/blob/{_tag('lsst-pipe-base')}/python/lsst/pipe/base/"
    )
    assert link.url == where_is(pipe_base.PipelineTask.runQuantum).url
    # As in code, a package attribute wins over a submodule of the same name (script.run is a function).
    run = where_is("lsst.ctrl.mpexec.cli.script.run")
    assert run.kind == "function" and run.url.endswith(
        f"/python/lsst/ctrl/mpexec/cli/script/run.py#L{run.lines[0]}-L{run.lines[1]}"
    )
    _assert_defines(run, "def", "run")
    # A command's name links the function its entry point runs.
    command = where_is("pipetask")
    assert command.name == "lsst.ctrl.mpexec.cli.pipetask.main"
    _assert_defines(command, "def", "main")
    assert where_is("lsst-images-admin").package == "lsst-images"
    module = where_is("lsst.pipe.base", in_the="repo")
    assert module.url == f"https://github.com/lsst/pipe_base/tree/{_tag('lsst-pipe-base')}"


def test_our_own_task_links_the_checkout_head_commit() -> None:
    link = where_is(SampleTask)
    assert link.package == "stackclub"
    assert link.ref is not None and re.fullmatch(r"[0-9a-f]{40}", link.ref)
    # The commit exists in the checkout (HEAD itself may move on while others commit).
    subprocess.run(["git", "-C", str(CHECKOUT), "cat-file", "-e", f"{link.ref}^{{commit}}"], check=True)
    assert link.url == f"{OUR_REPO}/blob/{link.ref}/tests/test_where_is.py#L{link.lines[0]}-L{link.lines[1]}"
    _assert_defines(link, "class", "SampleTask")
    _assert_block_ends(link)


def test_stackclub_pipe_isr_task() -> None:
    isr = pytest.importorskip("stackclub.pipe.isr")
    link = where_is(isr.IsrTask)
    assert link.url.startswith(f"{OUR_REPO}/blob/{link.ref}/stackclub/pipe/isr.py#L")
    _assert_defines(link, "class", "IsrTask")
    # A subtask's config (a ConfigurableInstance) links the subtask class it targets.
    subtask = where_is(isr.IsrTaskConfig().overscan, in_the="file")
    _assert_defines(subtask, "class", isr.IsrTaskConfig().overscan.target.__name__)
    field_link = where_is(isr.IsrTaskConfig.doFringe)
    _assert_defines(field_link, "=", "doFringe")
    # A subtask's field: "overscan.<field>" searches the subtask's own source.
    overscan = isr.IsrTaskConfig.overscan.target
    sub_field = sorted(overscan.ConfigClass._fields)[0]
    assert uses_of(isr.IsrTask, f"overscan.{sub_field}").field == sub_field
    assert uses_of(isr.IsrTask, f"overscan.{sub_field}").searched[0] == overscan.__qualname__
    with pytest.raises(UnknownNameError, match=r"'doFringe.x' does not name a subtask's field.*overscan"):
        uses_of(isr.IsrTask, "doFringe.x")
    uses = uses_of(isr.IsrTask, "doFringe")
    assert len(uses) >= 1
    assert all("doFringe" in u.code for u in uses)


@pytest.mark.parametrize("package", ["lsst.pipe.base", "lsst.daf.butler", "lsst.pex.config", "lsst.images"])
def test_every_public_class_and_function_of_a_rubin_package(package: str) -> None:
    """where_is never raises for a class or function defined in an installed package, and the
    first linked line always holds its def/class."""
    import importlib

    module = importlib.import_module(package)
    checked = 0
    for name in sorted(getattr(module, "__all__", None) or vars(module)):
        obj = getattr(module, name, None)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not obj.__module__.startswith(package):
            continue
        link = where_is(obj, in_the="file")
        _assert_defines(link, "class" if inspect.isclass(obj) else "def", obj.__name__)
        assert source_url(obj) is not None
        checked += 1
    assert checked > 10


def test_generated_methods_link_their_class() -> None:
    from lsst.daf.butler import FileDataset

    link = where_is(FileDataset.__repr__)  # written by @dataclass from a string: no lines of its own
    _assert_defines(link, "class", "FileDataset")
    assert "generated at run time" in link.note
    init = where_is("lsst.pipe.base.LabelSpecifier.__init__")
    _assert_defines(init, "class", "LabelSpecifier")


# --- every kind of object -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "kind", "keyword", "name"),
    [
        (SampleTask.run, "method", "def", "run"),
        (SampleTask().run, "method", "def", "run"),
        (SampleTask.make, "classmethod", "def", "make"),
        (SampleTask.helper, "staticmethod", "def", "helper"),
        (SampleTask.__dict__["helper"], "staticmethod", "def", "helper"),
        (SampleTask.label, "property", "def", "label"),
        (SampleTask(), "class", "class", "SampleTask"),
        (SampleConfig(), "class", "class", "SampleConfig"),
        (git_head, "function", "def", "git_head"),
    ],
)
def test_kinds_of_objects(obj: object, kind: str, keyword: str, name: str) -> None:
    link = where_is(obj, in_the="file")
    assert link.kind == kind
    _assert_defines(link, keyword, name)


def test_class_attributes_link_their_assignment() -> None:
    link = where_is("lsst.pipe.base.PipelineTask.canMultiprocess")
    assert link.kind == "class attribute"
    _assert_defines(link, "=", "canMultiprocess")
    # Looked up on a subclass, the attribute is found where it is set.
    own = where_is(f"{__name__}.SampleTask._DefaultName", in_the="file")
    _assert_defines(own, "=", "_DefaultName")
    inherited = where_is(f"{__name__}.SampleTask.canMultiprocess")
    assert inherited.url == link.url


def test_module_and_stdlib() -> None:
    import json

    module = where_is(json)
    version = ".".join(map(str, sys.version_info[:3]))
    assert module.url == f"https://github.com/python/cpython/blob/v{version}/Lib/json/__init__.py"
    assert module.lines is None
    func = where_is(json.dumps)
    _assert_defines(func, "def", "dumps")
    assert where_is(json.dumps, in_the="docs").url.endswith("/library/json.html#json.dumps")


# --- the four targets and the rendering ---------------------------------------------------------


def test_targets_and_rendering(capsys: pytest.CaptureFixture[str]) -> None:
    source = where_is(pipe_base.PipelineTask)
    file = where_is(pipe_base.PipelineTask, in_the="file")
    docs = where_is(pipe_base.PipelineTask, in_the="docs")
    repo = where_is(pipe_base.PipelineTask, in_the="repo")
    assert file.url == Path(file.path).as_uri() and file.url.startswith("file:///")
    assert file.location == f"{file.path}:{file.lines[0]}"
    assert file.ref is None and file.lines == source.lines
    assert docs.url == "https://pipelines.lsst.io/v/weekly/py-api/lsst.pipe.base.PipelineTask.html"
    assert repo.url == f"https://github.com/lsst/pipe_base/tree/{source.ref}"
    # Shown once: str and markdown hold the link, nothing was printed.
    assert str(source).count(source.url) == 1
    assert str(file).splitlines()[1].strip() == file.location
    assert source._repr_markdown_().startswith(f"[`lsst.pipe.base.PipelineTask`]({source.url})")
    assert repr(source) == f"<SourceLink source of lsst.pipe.base.PipelineTask: {source.url}>"
    assert capsys.readouterr().out == ""
    assert _md_escape("a <b> & [c]_*") == r"a &lt;b&gt; &amp; \[c\]\_\*"
    with pytest.raises(
        ValueError, match=r"in_the must be one of 'source', 'repo', 'docs', 'file'; got 'github'"
    ):
        where_is(pipe_base.PipelineTask, in_the="github")  # type: ignore[arg-type]


def test_source_url_never_raises() -> None:
    assert source_url(len) is None
    assert source_url("no.such.module") is None
    assert source_url(pipe_base.PipelineTask) == where_is(pipe_base.PipelineTask).url


# --- bad input: clear, specific errors -----------------------------------------------------------


def test_builtins_point_to_python_docs() -> None:
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    with pytest.raises(
        SourceNotFoundError,
        match=rf"len is a Python built-in.*docs.python.org/{minor}/library/functions.html#len",
    ):
        where_is(len)
    with pytest.raises(SourceNotFoundError, match=r"stdtypes.html#dict"):
        where_is(dict)
    with pytest.raises(SourceNotFoundError, match=r"built-in.*exceptions.html#ValueError"):
        where_is(ValueError("x"))
    assert where_is(len, in_the="docs").url == f"https://docs.python.org/{minor}/library/functions.html#len"
    import math

    with pytest.raises(SourceNotFoundError, match=r"part of Python itself.*library/math.html#math.sqrt"):
        where_is(math.sqrt)


def test_compiled_objects_link_their_module() -> None:
    import numpy as np

    tag = f"v{metadata.version('numpy')}"
    with pytest.raises(
        SourceNotFoundError,
        match=rf"compiled code \(a numpy.ufunc object\).*numpy/blob/{tag}/numpy/__init__.py",
    ):
        where_is(np.add)
    with pytest.raises(SourceNotFoundError, match=r"numpy.ndarray is not defined in Python source"):
        where_is(np.ndarray)
    # The documentation needs no source: compiled objects still get their API page.
    assert where_is(np.add, in_the="docs").url.endswith("/reference/generated/numpy.add.html")


def test_objects_defined_in_the_session() -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    code = "def f():\n    return 1\nclass K:\n    pass\n"
    exec(compile(code, "<ipython-input-3-abc>", "exec"), namespace)
    with pytest.raises(
        SourceNotFoundError, match=r"defined in this notebook or interactive session.*obj\?\?"
    ):
        where_is(namespace["f"])
    with pytest.raises(SourceNotFoundError, match=r"__main__.K: it was defined in this notebook"):
        where_is(namespace["K"], in_the="file")
    assert source_url(namespace["f"]) is None


def test_virtual_environment_inside_the_checkout_is_not_our_code() -> None:
    # .venv lives inside the editable checkout: its files belong to their own distributions.
    import _pytest.main

    link = where_is(_pytest.main, in_the="file")
    assert link.package == "pytest"
    assert link.path.startswith(sys.prefix) or "site-packages" in link.path


def test_names_that_do_not_import_suggest_close_matches() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"lsst.pipe.base has no attribute 'PipelineTsk'.*Did you mean: lsst.pipe.base.PipelineTask",
    ):
        where_is("lsst.pipe.base.PipelineTsk")
    with pytest.raises(UnknownNameError, match=r"Did you mean: lsst.pipe.base"):
        where_is("lsst.pipe.bsae.PipelineTask")
    with pytest.raises(UnknownNameError, match=r"no module named 'lsstt'.*Did you mean: lsst.pipe"):
        where_is("lsstt.pipe")
    with pytest.raises(UnknownNameError, match=r"is not a dotted Python name"):
        where_is("not a name")


def _fake_dist(root: Path, name: str, version: str, urls: list[str], direct_url: str | None = None) -> None:
    """A minimal installed distribution: METADATA, RECORD (and direct_url.json) plus its module."""
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def feature():\n    return 1\n\n\nclass Thing:\n    pass\n")
    info = root / f"{name}-{version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Project-URL: {u}" for u in urls]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "RECORD").write_text(f"{name}/__init__.py,,\n{info.name}/METADATA,,\n")
    if direct_url:
        (info / "direct_url.json").write_text(direct_url)


def test_package_without_repository_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dist(tmp_path, "sc_norepo_pkg", "1.2", ["Documentation, https://example.org/docs"])
    monkeypatch.syspath_prepend(str(tmp_path))
    import sc_norepo_pkg  # type: ignore[import-not-found]

    with pytest.raises(
        NoRepositoryError, match=r"sc_norepo_pkg 1.2 records no repository URL.*in_the='file'"
    ):
        where_is(sc_norepo_pkg.feature)
    assert source_url(sc_norepo_pkg.feature) is None
    file = where_is(sc_norepo_pkg.Thing, in_the="file")  # "file" still works
    assert (file.package, file.version, file.lines) == ("sc_norepo_pkg", "1.2", (5, 6))
    assert where_is(sc_norepo_pkg.feature, in_the="docs").url == "https://example.org/docs"


def test_version_rules_for_other_installs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    _fake_dist(
        tmp_path,
        "sc_vcs_pkg",
        "0.1",
        ["Source, https://github.com/example/vcs"],
        direct_url='{"url": "https://github.com/example/vcs-fork.git", '
        f'"vcs_info": {{"vcs": "git", "commit_id": "{sha}"}}}}',
    )
    _fake_dist(
        tmp_path, "sc_scm_pkg", "2.0.dev3+gabc1234", ["Repository, https://gitlab.com/example/scm.git"]
    )
    _fake_dist(tmp_path, "sc_odd_pkg", "nightly", ["Source, https://github.com/example/odd"])
    monkeypatch.syspath_prepend(str(tmp_path))
    import sc_odd_pkg  # type: ignore[import-not-found]
    import sc_scm_pkg  # type: ignore[import-not-found]
    import sc_vcs_pkg  # type: ignore[import-not-found]

    assert (
        where_is(sc_vcs_pkg.feature).url
        == f"https://github.com/example/vcs-fork/blob/{sha}/sc_vcs_pkg/__init__.py#L1-L2"
    )
    assert (
        where_is(sc_scm_pkg.Thing).url
        == "https://gitlab.com/example/scm/-/blob/abc1234/sc_scm_pkg/__init__.py#L5-6"
    )
    with pytest.raises(NoRepositoryError, match=r"no git tag or commit is known for sc_odd_pkg nightly"):
        where_is(sc_odd_pkg.feature)


def _fake_eups_product(root: Path, product: str, module: str, version_py: str) -> Path:
    """An eups-style product folder: ups/<product>.table and python/<module>/ with a version.py."""
    product_dir = root / product / "w_2026_43"
    (product_dir / "ups").mkdir(parents=True)
    (product_dir / "ups" / f"{product}.table").write_text("setupRequired(utils)\n")
    package = product_dir / "python" / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .core import task_like\n")
    (package / "core.py").write_text("def task_like():\n    return 2\n")
    (package / "version.py").write_text(version_py)
    return product_dir / "python"


def test_eups_set_up_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weekly = _fake_eups_product(
        tmp_path, "sc_eups_weekly", "sc_eups_weekly_mod", '__version__ = "w.2026.43"\n'
    )
    sha = "fedcba9876543210fedcba9876543210fedcba98"
    pinned = _fake_eups_product(
        tmp_path, "sc_eups_sha", "sc_eups_sha_mod", f'__version__ = "g1234"\n__fingerprint__ = "{sha}"\n'
    )
    monkeypatch.syspath_prepend(str(weekly))
    monkeypatch.syspath_prepend(str(pinned))
    import sc_eups_sha_mod  # type: ignore[import-not-found]
    import sc_eups_weekly_mod  # type: ignore[import-not-found]

    link = where_is(sc_eups_weekly_mod.task_like)
    assert link.url == (
        "https://github.com/lsst/sc_eups_weekly/blob/w.2026.43/python/sc_eups_weekly_mod/core.py#L1-L2"
    )
    assert (link.package, link.version, link.name) == (
        "sc_eups_weekly",
        "w.2026.43",
        "sc_eups_weekly_mod.task_like",
    )
    assert where_is(sc_eups_sha_mod.task_like).url == (
        f"https://github.com/lsst/sc_eups_sha/blob/{sha}/python/sc_eups_sha_mod/core.py#L1-L2"
    )


def test_rule_table() -> None:
    rubin = rule_for("lsst-pipe-base")
    assert rubin.tag_for("30.2026.4300") == "w.2026.43"
    # Rubin's release tags have no "v" (30.0.9; only release candidates do: v30.0.9.rc1), and
    # PyPI's weeks 1-9 have no leading zero (30.2026.900 is w.2026.09): both read off the
    # mirrors of lsst/pipe_base and lsst/daf_butler.
    assert rubin.tag_for("30.0.9") == "30.0.9"
    assert rubin.tag_for("30.2026.900") == "w.2026.09"
    assert rubin.tag_for("30.2026.1000") == "w.2026.10"
    assert rubin.tag_for("w.2026.43") == "w.2026.43"  # eups-style names
    assert rule_for("astro_metadata_translator") is rubin
    assert rule_for("matplotlib").source_root == "lib/"
    assert rule_for("astropy").tag_for("8.0.2") == "v8.0.2"
    assert rule_for("unknown-thing") is RULES[-1]


def test_git_head_reads_refs_without_git(tmp_path: Path) -> None:
    sha1, sha2 = "a" * 40, "b" * 40
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(sha1 + "\n")
    assert git_head(tmp_path) == sha1
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{sha2} refs/heads/main\n")
    assert git_head(tmp_path) == sha2
    (git / "HEAD").write_text(sha1 + "\n")  # detached
    assert git_head(tmp_path) == sha1
    assert git_head(tmp_path / "nowhere") is None


# --- uses_of --------------------------------------------------------------------------------------


def test_uses_of_finds_code_not_comments_or_strings() -> None:
    uses = uses_of(SampleTask, "doThing")
    lines = HERE.read_text(encoding="utf-8").splitlines()
    expected = sorted(
        i for i, text in enumerate(lines, start=1) if text.rstrip().endswith(("# <- use", "# <- set"))
    )
    assert sorted(u.line for u in uses) == expected
    by_line = {u.line: u for u in uses}
    set_line = next(i for i in expected if lines[i - 1].rstrip().endswith("# <- set"))
    assert by_line[set_line].access == "set"
    assert {u.access for u in uses} == {"read", "set"}
    assert {u.function for u in uses} == {"run", "validate", "__init__"}
    assert all(u.url.startswith(f"{OUR_REPO}/blob/") and u.url.endswith(f"#L{u.line}") for u in uses)
    assert all("doThing" in u.code for u in uses)
    text = str(uses)
    assert text.splitlines()[0].startswith(f"{len(expected)} uses of config.doThing in SampleTask")
    html = uses._repr_html_()
    assert "&lt;" not in text and "<table>" in html and 'href="https://github.com/' in html
    # The same answer from an instance, from the config class and from a dotted name.
    assert len(uses_of(SampleTask(), "doThing")) == len(expected)
    assert len(uses_of(f"{__name__}.SampleTask", "doThing")) == len(expected)


def test_uses_of_bad_input() -> None:
    with pytest.raises(
        UnknownNameError, match=r"'doThnig' is not a field of .*SampleConfig. Did you mean: doThing"
    ):
        uses_of(SampleTask, "doThnig")
    with pytest.raises(TypeError, match=r"uses_of\(\): cls_or_task must be a task or config class"):
        uses_of(3, "doThing")
    with pytest.raises(UnknownNameError, match=r"Did you mean"):
        uses_of("lsst.pipe.base.PipelineTsk", "doThing")
    empty = uses_of(pipe_base.PipelineTask, "doThing")
    assert len(empty) == 0 and str(empty).startswith("No uses of config.doThing")


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_where_is_and_uses_of() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["where-is", "lsst.pipe.base.PipelineTask"])
    assert result.exit_code == 0, result.output
    assert where_is(pipe_base.PipelineTask).url in result.output
    result = runner.invoke(main, ["where-is", "lsst.pipe.base.PipelineTask", "--in-the", "file"])
    assert result.exit_code == 0 and "pipelineTask.py:" in result.output
    result = runner.invoke(main, ["where-is", "lsst.pipe.base.PipelineTsk"])
    assert result.exit_code == 1
    assert "Error: 'lsst.pipe.base.PipelineTsk' does not import" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["uses-of", f"{__name__}.SampleTask", "doThing"])
    assert result.exit_code == 0 and "uses of config.doThing" in result.output
    result = runner.invoke(main, ["uses-of", f"{__name__}.SampleTask", "nope"])
    assert result.exit_code == 1 and "is not a field of" in result.output


# --- hardening: packages we mirror but that are not installed, wrong arguments, 2018 arguments -----


@pytest.mark.parametrize("package", MIRRORED, ids=lambda p: p.product)
def test_mirrored_rubin_package_that_is_not_installed(package: object) -> None:
    """A name in ip_isr, pipe_tasks, meas_* (not on PyPI) says where its source is and what mirrors it."""
    import importlib.util

    from stackclub.source.rules import MirroredPackage

    assert isinstance(package, MirroredPackage)
    try:
        installed = importlib.util.find_spec(package.module) is not None
    except ImportError:
        installed = False
    if installed:
        pytest.skip(f"{package.module} is installed here")
    name, ours = next(iter(package.counterparts.items()))
    dotted = f"{package.module}.{name}"
    with pytest.raises(NotInstalledError) as caught:
        where_is(dotted)
    message = str(caught.value)
    assert f"{package.module} (Rubin's {package.product}) is not installed" in message
    assert f"https://github.com/lsst/{package.product}" in message
    assert f"teaching counterpart is {ours}" in message
    assert isinstance(caught.value, UnknownNameError)
    # show_config resolves dotted names its own way, through the same check: the same answer.
    from stackclub import show_config

    with pytest.raises(NotInstalledError) as again:
        show_config(dotted)
    assert str(again.value) == message
    with pytest.raises(NotInstalledError):
        uses_of(dotted, "doFringe")
    result = CliRunner().invoke(main, ["config", dotted])
    assert result.exit_code == 1 and f"https://github.com/lsst/{package.product}" in result.output


def test_isr_task_names_its_counterpart_and_repository() -> None:
    pytest.importorskip("stackclub.pipe")
    import importlib.util

    try:
        if importlib.util.find_spec("lsst.ip.isr") is not None:
            pytest.skip("lsst.ip.isr is installed here")
    except ImportError:
        pass
    with pytest.raises(NotInstalledError, match=r"github.com/lsst/ip_isr.*stackclub\.pipe\.IsrTask"):
        where_is("lsst.ip.isr.IsrTask")
    # The counterpart is real: where_is follows it to our teaching source.
    import stackclub.pipe

    for package in MIRRORED:
        for ours in package.counterparts.values():
            folder = str(Path(stackclub.pipe.__file__).parent)
            assert where_is(ours, in_the="file").path.startswith(folder), ours


def test_wrong_argument_types_name_the_argument() -> None:
    with pytest.raises(ArgumentTypeError, match=r"uses_of\(\): field_name must be the name of a config"):
        uses_of(SampleTask, 5)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"uses_of\(\): cls_or_task must be a task or config class"):
        uses_of(None, "doThing")
    with pytest.raises(ArgumentTypeError, match=r"where_is\(\): obj must be a module, class.*; got int 5"):
        where_is(5)
    with pytest.raises(ArgumentTypeError, match=r"got list \[1, 2\]"):
        where_is([1, 2])
    assert issubclass(ArgumentTypeError, TypeError)


def test_arguments_of_the_2018_where_is_name_their_replacement() -> None:
    # The 2018 Stack Club: where_is(object, in_the='source'|'repo'|'technotes', assuming_its_a=None).
    with pytest.raises(RemovedArgumentError, match=r"in_the='technotes'.*in_the='docs'.*technotes.lsst.io"):
        where_is(pipe_base.PipelineTask, in_the="technotes")  # type: ignore[arg-type]
    with pytest.raises(RemovedArgumentError, match=r"assuming_its_a=.*PipelineTasks run with pipetask"):
        where_is("makeDiscreteSkyMap.py", in_the="source", assuming_its_a="cmdlinetask")
    with pytest.raises(UnknownNameError, match=r"command-line task scripts such as makeDiscreteSkyMap.py"):
        where_is("makeDiscreteSkyMap.py")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'colour'"):
        where_is(pipe_base.PipelineTask, colour="red")


def test_public_names_are_functions_not_modules() -> None:
    """No public function shares its name with a module: importing every submodule changes nothing."""
    import importlib
    import pkgutil

    import stackclub

    for info in pkgutil.walk_packages(stackclub.__path__, "stackclub."):
        if info.name.endswith("__main__") or ".pipe" in info.name or ".simcam" in info.name:
            continue
        importlib.import_module(info.name)
    for name in ("where_is", "uses_of", "doctor", "versions", "show_connections", "show_pipeline"):
        assert inspect.isfunction(getattr(stackclub, name)), name
    assert type(stackclub) is type(sys)  # a plain module: no module-class swap
    assert stackclub.where_is is where_is
