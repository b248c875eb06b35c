"""Tests for stackclub.config_docs on real pex_config configs, real tasks and real pipelines."""

# Config fields and aliases mirror Rubin's spelling (doBias, pexConfig), as stackclub/pipe does.
# ruff: noqa: N802, N812, N815

from __future__ import annotations

import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import pytest
from click.testing import CliRunner

import stackclub
from stackclub._config_model import link_for
from stackclub._exceptions import (
    ArgumentTypeError,
    NotAConfigError,
    PipelineLoadError,
    UnloadableClassError,
)
from stackclub.cli import main
from stackclub.config_docs import (
    diff_configs,
    show_config,
    show_connections,
    show_pipeline,
    show_task_tree,
)

# --------------------------------------------------------------------------------------------------
# A config with every pex_config field kind, and ConfigurableFields nested two levels deep.
# --------------------------------------------------------------------------------------------------


class DeepConfig(pexConfig.Config):
    threshold = pexConfig.Field[float](doc="Detection threshold <script>alert(1)</script>.", default=5.0)


class DeepTask(pipeBase.Task):
    ConfigClass = DeepConfig
    _DefaultName = "deep"


class OtherDeepTask(pipeBase.Task):
    ConfigClass = DeepConfig
    _DefaultName = "otherDeep"


class MiddleConfig(pexConfig.Config):
    doThing = pexConfig.Field[bool](doc="Do the middle thing.", default=True)
    deep = pexConfig.ConfigurableField(target=DeepTask, doc="Deep subtask.")


class MiddleTask(pipeBase.Task):
    ConfigClass = MiddleConfig
    _DefaultName = "middle"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.makeSubtask("deep")


class PlainConfig(pexConfig.Config):
    a = pexConfig.Field[int](doc="A number.", default=1)


class AlgAConfig(pexConfig.Config):
    x = pexConfig.Field[int](doc="x of A.", default=1)


class AlgBConfig(pexConfig.Config):
    y = pexConfig.Field[str](doc="y of B.", default="b")


ALGORITHMS = pexConfig.makeRegistry(doc="Test algorithms.")


@pexConfig.registerConfigurable("a", ALGORITHMS)
class AlgA:
    ConfigClass = AlgAConfig

    def __init__(self, config: AlgAConfig) -> None:
        self.config = config


@pexConfig.registerConfigurable("b", ALGORITHMS)
class AlgB:
    ConfigClass = AlgBConfig

    def __init__(self, config: AlgBConfig) -> None:
        self.config = config


class TopConfig(pexConfig.Config):
    doBias = pexConfig.Field[bool](doc="Subtract the bias.", default=True)
    gain = pexConfig.RangeField[float](doc="Gain.", default=0.5, min=0.0, max=1.0, inclusiveMax=False)
    mode = pexConfig.ChoiceField[str](
        doc="Statistic.", default="MEDIAN", allowed={"MEDIAN": "the median", "MEAN": "the <mean>"}
    )
    planes = pexConfig.ListField[str](doc="Mask planes.", default=["SAT", "BAD"])
    scales = pexConfig.DictField(keytype=str, itemtype=float, doc="Scale per band.", default={"g": 1.0})
    plain = pexConfig.ConfigField(dtype=PlainConfig, doc="A plain nested config.")
    middle = pexConfig.ConfigurableField(target=MiddleTask, doc="Middle subtask.")
    algorithm = ALGORITHMS.makeField(doc="Algorithm to run.", default="a")
    choice = pexConfig.ConfigChoiceField(
        doc="A choice of configs.", typemap={"plain": PlainConfig, "deep": DeepConfig}, default="plain"
    )
    perBand = pexConfig.ConfigDictField(doc="Config per band.", keytype=str, itemtype=PlainConfig, default={})
    label = pexConfig.Field[str](doc="Optional label.", default=None, optional=True)


class TopTask(pipeBase.Task):
    ConfigClass = TopConfig
    _DefaultName = "top"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.makeSubtask("middle")


class StrictConfig(pexConfig.Config):
    required = pexConfig.Field[int](doc="Must be set.", default=None, optional=False)


# --------------------------------------------------------------------------------------------------
# A PipelineTask pair in an importable module, and a pipeline YAML that renames a dataset type.
# --------------------------------------------------------------------------------------------------

TOY_TASKS = """
import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import lsst.pipe.base.connectionTypes as cT

DIMS = ("instrument", "exposure", "detector")


class ToyIsrConnections(pipeBase.PipelineTaskConnections, dimensions=DIMS):
    ccdExposure = cT.Input(name="raw", storageClass="ImageV2", dimensions=DIMS, doc="Raw <frame> & more.")
    bias = cT.PrerequisiteInput(name="bias", storageClass="ImageV2", dimensions=("instrument", "detector"),
                                isCalibration=True, doc="Bias frame.")
    outputExposure = cT.Output(name="postISRCCD", storageClass="ImageV2", dimensions=DIMS, doc="ISR output.")


class ToyIsrConfig(pipeBase.PipelineTaskConfig, pipelineConnections=ToyIsrConnections):
    doBias = pexConfig.Field[bool](doc="Subtract the bias.", default=True)


class ToyIsrTask(pipeBase.PipelineTask):
    ConfigClass = ToyIsrConfig
    _DefaultName = "toyIsr"


class ToyDetectConnections(pipeBase.PipelineTaskConnections, dimensions=DIMS):
    exposure = cT.Input(name="postISRCCD", storageClass="ImageV2", dimensions=DIMS, doc="Image to search.")
    raw = cT.Input(name="raw", storageClass="ImageV2", dimensions=DIMS, doc="The raw, for its metadata.")
    rawAgain = cT.Input(name="raw", storageClass="ImageV2", dimensions=DIMS, doc="The same raw again.")
    sources = cT.Output(name="src", storageClass="ArrowAstropy", dimensions=DIMS, doc="Detected sources.")
    schema = cT.InitOutput(name="src_schema", storageClass="ArrowAstropy", doc="Empty source table.")


class ToyDetectConfig(pipeBase.PipelineTaskConfig, pipelineConnections=ToyDetectConnections):
    threshold = pexConfig.Field[float](doc="Threshold.", default=5.0)


class ToyDetectTask(pipeBase.PipelineTask):
    ConfigClass = ToyDetectConfig
    _DefaultName = "toyDetect"
"""

TOY_PIPELINE = """
description: Toy pipeline whose YAML renames postISRCCD as Rubin's DRP pipelines do
tasks:
  isr:
    class: cfgdocs_toy_tasks.ToyIsrTask
    config:
      connections.outputExposure: post_isr_image
      doBias: false
  detect:
    class: cfgdocs_toy_tasks.ToyDetectTask
    config:
      connections.exposure: post_isr_image
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    """The toy tasks module (importable as ``cfgdocs_toy_tasks``) and the toy pipeline path."""
    root = tmp_path_factory.mktemp("toy")
    (root / "cfgdocs_toy_tasks.py").write_text(TOY_TASKS)
    (root / "toy.yaml").write_text(TOY_PIPELINE)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        import cfgdocs_toy_tasks

        yield cfgdocs_toy_tasks, root / "toy.yaml"
    sys.modules.pop("cfgdocs_toy_tasks", None)


# --------------------------------------------------------------------------------------------------
# show_config
# --------------------------------------------------------------------------------------------------


def test_rows_for_every_field_kind() -> None:
    view = show_config(TopConfig)
    expected = {
        "doBias": ("Field[bool]", "True"),
        "gain": ("RangeField[float] [0.0, 1.0)", "0.5"),
        "mode": ("ChoiceField[str] {'MEDIAN', 'MEAN'}, optional", "'MEDIAN'"),
        "planes": ("ListField[str]", "['SAT', 'BAD']"),
        "scales": ("DictField[str, float]", "{'g': 1.0}"),
        "plain": ("ConfigField → PlainConfig", "PlainConfig"),
        "plain.a": ("Field[int]", "1"),
        "middle": ("ConfigurableField → MiddleTask", "MiddleTask"),
        "middle.doThing": ("Field[bool]", "True"),
        "middle.deep": ("ConfigurableField → DeepTask", "DeepTask"),
        "middle.deep.threshold": ("Field[float]", "5.0"),
        "algorithm": ("RegistryField {'a', 'b'}", "'a'"),
        "algorithm['a'].x": ("Field[int]", "1"),
        "choice": ("ConfigChoiceField {'plain', 'deep'}", "'plain'"),
        "choice['plain'].a": ("Field[int]", "1"),
        "perBand": ("ConfigDictField[str, PlainConfig]", "[]"),
        "label": ("Field[str], optional", "None"),
    }
    assert view.paths == list(expected)
    for path, (type_text, value) in expected.items():
        row = view[path]
        assert (row.type, row.value, row.default) == (type_text, value, value), path
        assert not row.changed
    assert view["mode"].doc == "Statistic. Allowed: 'MEDIAN': the median; 'MEAN': the <mean>."
    assert view["middle.deep.threshold"].level == 2
    assert view["middle.deep.threshold"].parent == "middle.deep"
    assert view["algorithm['a'].x"].parent == "algorithm"
    assert view["middle"].is_group and not view["doBias"].is_group
    assert view["middle.deep"].type_class is DeepTask
    assert "middle.deep" in view and "nothing" not in view
    with pytest.raises(KeyError, match="no field 'nothing' is shown"):
        view["nothing"]


def test_overrides_from_load_and_assignment_are_found_with_where(tmp_path: Path) -> None:
    override = tmp_path / "override.py"
    override.write_text("config.gain = 0.25\nconfig.planes.append('CR')\nconfig.algorithm.name = 'b'\n")
    config = TopConfig()
    config.doBias = False
    config.middle.deep.threshold = 3.0
    config.load(str(override))
    view = show_config(config, changed_only=True)
    # Changed leaves plus the nested configs that lead to them.
    assert view.paths == [
        "doBias",
        "gain",
        "planes",
        "middle",
        "middle.deep",
        "middle.deep.threshold",
        "algorithm",
    ]
    assert view["gain"].default == "0.5" and view["gain"].value == "0.25"
    assert view["planes"].value == "['SAT', 'BAD', 'CR']"
    assert view["algorithm"].value == "'b'"
    assert view["gain"].where.endswith("override.py:1")
    assert view["planes"].where.endswith("override.py:2 (insert)")
    assert view["algorithm"].where.endswith("override.py:3")
    assert view["doBias"].where.endswith(f"test_config_docs.py:{_line_of('config.doBias = False')}")
    assert view["middle.deep.threshold"].where.endswith(f"test_config_docs.py:{_line_of('threshold = 3.0')}")
    assert not view["middle"].changed and view["middle.deep.threshold"].changed
    assert view.columns[-1] == "set at"
    # The newly selected registry entry's fields get the registry's defaults.
    full = show_config(config)
    assert full["algorithm['b'].y"].default == "'b'" and not full["algorithm['b'].y"].changed


def _line_of(text: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if text in line and "_line_of" not in line)


def test_where_names_notebook_cells_without_a_kernel() -> None:
    config = TopConfig()
    cell = compile("config.doBias = False\nconfig.gain = 0.75\n", "/tmp/ipykernel_4242/123456789.py", "exec")
    exec(cell, {"config": config})
    view = show_config(config, changed_only=True)
    assert view["doBias"].where == "a notebook cell, line 1"
    assert view["gain"].where == "a notebook cell, line 2"


def test_where_names_the_cell_in_a_real_kernel(tmp_path: Path) -> None:
    """In a kernel, a ``config.x = ...`` line is named as IPython names it: ``cell In[2], line 2``."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    outputs: list[str] = []

    def run(code: str) -> None:
        def hook(msg: dict[str, object]) -> None:
            content = msg["content"]
            assert isinstance(content, dict)
            if msg["msg_type"] == "stream":
                outputs.append(str(content["text"]))
            elif msg["msg_type"] == "error":
                outputs.append(f"ERROR {content['ename']}: {content['evalue']}")

        kc.execute_interactive(code, output_hook=hook, timeout=120)

    try:
        run("import lsst.pex.config as pexConfig\nfrom stackclub import show_config\n"
            "class C(pexConfig.Config):\n"
            "    a = pexConfig.Field[int](doc='A.', default=1)\n"
            "    b = pexConfig.Field[int](doc='B.', default=2)\n"
            "config = C()")  # fmt: skip
        run("# a comment line first\nconfig.a = 10\nconfig.loadFromString('\\nconfig.b = 20')")
        run("view = show_config(config, changed_only=True)\nprint(view['a'].where, '|', view['b'].where)")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert outputs == ["cell In[2], line 2 | a string loaded at cell In[2], line 3, line 2 of it\n"]


def test_config_dict_entries() -> None:
    config = TopConfig()
    config.perBand["g"] = PlainConfig()
    config.perBand["r"] = PlainConfig()
    config.perBand["r"].a = 7
    view = show_config(config, fields="perBand")
    assert view.paths == ["perBand", "perBand['g'].a", "perBand['r'].a"]
    assert (view["perBand"].default, view["perBand"].value) == ("[]", "['g', 'r']")
    # Entries the default config does not have are changes, with no default to show.
    assert (view["perBand['r'].a"].default, view["perBand['r'].a"].value) == ("", "7")
    assert view["perBand['g'].a"].changed and view["perBand['g'].a"].parent == "perBand"


def test_retarget_is_a_change() -> None:
    config = TopConfig()
    config.middle.deep.retarget(OtherDeepTask)
    view = show_config(config, changed_only=True)
    assert view["middle.deep"].value == "OtherDeepTask"
    assert view["middle.deep"].default == "DeepTask"
    assert view["middle.deep"].changed
    assert view["middle.deep"].where.endswith(
        f"test_config_docs.py:{_line_of('retarget(OtherDeepTask)')} (retarget)"
    )


def test_configurable_actions_and_multi_choice() -> None:
    from lsst.pex.config.configurableActions import (
        ConfigurableAction,
        ConfigurableActionField,
        ConfigurableActionStructField,
    )

    class ScaleAction(ConfigurableAction):
        factor = pexConfig.Field[int](doc="Factor.", default=2)

        def __call__(self) -> int:
            return self.factor

    class ActionConfig(pexConfig.Config):
        one = ConfigurableActionField(doc="One action.", default=ScaleAction)
        many = ConfigurableActionStructField(doc="Named actions.", default={"a": ScaleAction})
        multi = pexConfig.ConfigChoiceField(
            doc="Several at once.",
            typemap={"plain": PlainConfig, "deep": DeepConfig},
            multi=True,
            default=["plain"],
        )

    config = ActionConfig()
    config.one.factor = 5
    config.many.b = ScaleAction
    config.multi.names = ["plain", "deep"]
    view = show_config(config)
    assert view.paths == [
        "one",
        "one.factor",
        "many",
        "many.a.factor",
        "many.b.factor",
        "multi",
        "multi['deep'].threshold",
        "multi['plain'].a",
    ]
    assert view["one"].type == "ConfigurableActionField → ConfigurableAction"
    assert view["many"].type == "ConfigurableActionStructField"
    assert (view["many"].default, view["many"].value) == ("['a']", "['a', 'b']")
    assert view["multi"].type == "ConfigChoiceField {'plain', 'deep'} (multi)"
    assert (view["multi"].default, view["multi"].value) == ("['plain']", "['deep', 'plain']")
    changed = show_config(config, changed_only=True)
    # Selecting 'deep' changes 'multi'; the newly selected config's fields keep their defaults.
    assert changed.paths == ["one", "one.factor", "many", "many.b.factor", "multi"]
    assert diff_configs(ActionConfig(), config).paths == [
        "one.factor",
        "many",
        "multi",
        "many.b.factor",
        "multi['deep'].threshold",
    ]


def test_setdefaults_counts_as_default() -> None:
    class TunedConfig(TopConfig):
        def setDefaults(self) -> None:
            super().setDefaults()
            self.middle.doThing = False

    view = show_config(TunedConfig(), changed_only=True)
    assert len(view) == 0
    assert show_config(TunedConfig)["middle.doThing"].default == "False"


def test_fields_glob_and_depth() -> None:
    view = show_config(TopConfig, fields="do*")
    assert view.paths == ["doBias", "middle", "middle.doThing"]
    assert show_config(TopConfig, fields=["gain", "middle.deep.*"]).paths == [
        "gain",
        "middle",
        "middle.deep",
        "middle.deep.threshold",
    ]
    assert show_config(TopConfig, fields="nomatch*").paths == []
    # A matching nested config brings its fields along.
    assert show_config(TopConfig, fields="middle").paths == [
        "middle",
        "middle.doThing",
        "middle.deep",
        "middle.deep.threshold",
    ]
    top = show_config(TopConfig, depth=0)
    assert all("." not in p and "[" not in p for p in top.paths)
    assert len(top) == 11
    one = show_config(TopConfig, depth=1)
    assert "middle.deep" in one and "middle.deep.threshold" not in one
    with pytest.raises(ValueError, match="depth must be None or >= 0, got -1"):
        show_config(TopConfig, depth=-1)


def test_html_escapes_and_folds() -> None:
    config = TopConfig()
    config.label = "<b>bold</b> & [x]"
    view = show_config(config)
    html = view._repr_html_()
    assert "<script>" not in html and "<b>bold" not in html
    assert "Detection threshold &lt;script&gt;alert(1)&lt;/script&gt;." in html
    assert "&#x27;&lt;b&gt;bold&lt;/b&gt; &amp; [x]&#x27;" in html
    assert "the &lt;mean&gt;" in html
    # One folded <details> per nested config that has rows: plain, middle, middle.deep,
    # algorithm, choice (perBand is empty).
    assert html.count("<details") == 5
    assert "<details open" not in html
    assert '<span style="font-weight: bold">' in html  # the changed value
    assert "<details open" in show_config(config, fields="thr*")._repr_html_()
    assert repr(view) == "<ConfigView: TopConfig (test_config_docs.TopConfig), 17 rows>" or repr(
        view
    ).startswith("<ConfigView: TopConfig (")


class _TagChecker(HTMLParser):
    """Collects the tag nesting of an HTML fragment, failing on a mismatched end tag."""

    VOID = frozenset({"br", "hr", "img", "meta", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.summaries: list[tuple[int, str]] = []  # (details depth, summary text)
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "summary":
            self._in_summary = True
            self.summaries.append((self.stack.count("details"), ""))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag == "summary":
            self._in_summary = False

    def handle_data(self, data: str) -> None:
        if self._in_summary:
            depth, text = self.summaries[-1]
            self.summaries[-1] = (depth, text + data)


def test_html_is_well_formed_and_nested() -> None:
    checker = _TagChecker()
    checker.feed(show_config(TopConfig)._repr_html_())
    checker.close()
    assert checker.stack == []
    # middle.deep folds inside middle; both summaries name the path and the target class.
    summaries = {text.split(" — ")[0]: depth for depth, text in checker.summaries}
    assert summaries == {"plain": 1, "middle": 1, "middle.deep": 2, "algorithm": 1, "choice": 1}
    for html in (
        diff_configs(TopConfig(), TopConfig())._repr_html_(),
        show_task_tree(TopTask)._repr_html_(),
    ):
        checker = _TagChecker()
        checker.feed(html)
        assert checker.stack == []


def test_text_rendering() -> None:
    text = str(show_config(TopConfig, depth=0))
    lines = text.splitlines()
    assert lines[0].startswith("TopConfig (") and lines[0].endswith("11 fields")
    assert lines[1].split() == ["field", "type", "default", "value", "doc"]
    assert lines[3].split()[:3] == ["doBias", "Field[bool]", "True"]
    assert all(len(line) < 400 for line in lines)


def test_real_middleware_config() -> None:
    view = show_config("lsst.pipe.base.PipelineTaskConfig")
    assert view["saveLogOutput"].type == "Field[bool]"
    assert view["saveLogOutput"].value == "True"
    assert view["saveLogOutput"].doc.startswith("Flag to enable/disable saving of log output")
    assert show_config(pipeBase.PipelineTaskConfig).paths == view.paths == ["saveLogOutput"]
    # pipe_base's own test PipelineTask: its connections config is a generated ConfigField.
    task = "lsst.pipe.base.tests.no_dimensions.NoDimensionsTestTask"
    real = show_config(task)
    assert real["connections"].type == "ConfigField → NoDimensionsTestConfigConnections"
    assert real["connections.output"].value == "'output'"
    assert real["outputSC"].value == "'StructuredDataDict'"
    conns = show_connections(task)
    assert conns.dataset_types == {"input": "input", "output": "output"}
    assert conns["output"].storage_class == "StructuredDataDict"
    assert show_task_tree(task).names == ["noDimensionsTest"]


def test_accepts_tasks_instances_and_subconfigs() -> None:
    config = TopConfig()
    config.middle.doThing = False
    assert show_config(TopTask).paths == show_config(TopConfig).paths
    assert show_config(TopTask(config=config))["middle.doThing"].value == "False"
    assert show_config(config.middle).paths == ["doThing", "deep", "deep.threshold"]
    assert show_config(config.algorithm).paths == ["x"]
    assert show_config("test_config_docs.TopConfig" if "test_config_docs" in sys.modules else TopConfig)


def test_bad_inputs() -> None:
    with pytest.raises(
        NotAConfigError, match=r"show_config needs a pex_config Config .* got 42 of type 'int'"
    ):
        show_config(42)
    with pytest.raises(NotAConfigError, match="of type 'type'"):
        show_config(dict)
    with pytest.raises(
        UnloadableClassError, match=r"Cannot load 'no_such_pkg\.Config': no module 'no_such_pkg'"
    ):
        show_config("no_such_pkg.Config")
    with pytest.raises(UnloadableClassError, match="module 'lsst.pipe.base' has no attribute 'NoSuchConfig'"):
        show_config("lsst.pipe.base.NoSuchConfig")
    with pytest.raises(UnloadableClassError, match="expected a dotted path"):
        show_config("Config")
    assert show_config(StrictConfig, validate=False)["required"].value == "None"
    with pytest.raises(NotAConfigError, match="diff_configs needs"):
        diff_configs(TopConfig(), object())


def test_top_level_api_and_lazy_names() -> None:
    assert stackclub.show_config is show_config
    assert stackclub.diff_configs is diff_configs
    assert stackclub.show_task_tree is show_task_tree
    assert stackclub.show_connections is show_connections
    assert stackclub.show_pipeline is show_pipeline


def test_links_use_where_is_when_present() -> None:
    link = link_for(pipeBase.PipelineTask)
    assert link.text == "lsst.pipe.base.pipelineTask.PipelineTask"
    try:
        from stackclub.source import source_url
    except ImportError:
        assert link.url is None
    else:
        assert link.url == source_url(pipeBase.PipelineTask)
        assert link.url is None or link.url.startswith("https://")


# --------------------------------------------------------------------------------------------------
# diff_configs
# --------------------------------------------------------------------------------------------------


def test_diff_configs() -> None:
    a, b = TopConfig(), TopConfig()
    assert len(diff_configs(a, b)) == 0
    b.doBias = False
    b.scales["r"] = 2.0
    b.middle.deep.threshold = float("nan")
    a.middle.deep.threshold = float("nan")
    b.choice.name = "deep"
    diff = diff_configs(a, b, labels=("default", "mine"))
    assert diff.paths == ["doBias", "scales", "choice", "choice['plain'].a", "choice['deep'].threshold"]
    assert diff["doBias"] == ("True", "False")
    assert diff["scales"] == ("{'g': 1.0}", "{'g': 1.0, 'r': 2.0}")
    assert diff["choice['plain'].a"] == ("1", "")
    text = str(diff)
    assert text.splitlines()[0] == "5 fields differ: default = TopConfig, mine = TopConfig"
    assert text.splitlines()[1].split()[:4] == ["field", "type", "default", "mine"]
    assert "&lt;script&gt;" in diff._repr_html_()
    with pytest.raises(KeyError, match="'gain' does not differ"):
        diff["gain"]


# --------------------------------------------------------------------------------------------------
# show_task_tree
# --------------------------------------------------------------------------------------------------


def test_task_tree_from_class_and_instance() -> None:
    tree = show_task_tree(TopTask)
    assert tree.names == ["top", "top.middle", "top.middle.deep", "top.algorithm"]
    assert tree["top.middle.deep"].task_class is DeepTask
    assert tree["top.middle.deep"].config_path == "config.middle.deep"
    assert tree["top.middle.deep"].how_to_change == "config.middle.deep.retarget(NewTask)"
    assert tree["top.middle.deep"].level == 2
    assert tree["top.algorithm"].config_path == "config.algorithm['a']"
    assert tree["top.algorithm"].task_class is AlgA
    # An instance shows what it really made (TopTask makes no 'algorithm' subtask).
    config = TopConfig()
    config.middle.deep.retarget(OtherDeepTask)
    made = show_task_tree(TopTask(config=config))
    assert made.names == ["top", "top.middle", "top.middle.deep"]
    assert made["top.middle.deep"].task_class is OtherDeepTask
    text = str(made).splitlines()
    assert text[4].startswith("  top.middle ") and text[5].startswith("    top.middle.deep ")
    assert "OtherDeepTask" in made._repr_html_()
    with pytest.raises(NotAConfigError, match="show_task_tree needs a Task class or instance"):
        show_task_tree(TopConfig())
    with pytest.raises(UnloadableClassError):
        show_task_tree("lsst.pipe.base.NoSuchTask")


# --------------------------------------------------------------------------------------------------
# show_connections and show_pipeline
# --------------------------------------------------------------------------------------------------


def test_connections_of_a_task(toy: tuple[object, Path]) -> None:
    module, _ = toy
    view = show_connections(module.ToyIsrTask)  # type: ignore[attr-defined]
    assert [(r.kind, r.connection, r.dataset_type) for r in view] == [
        ("input", "ccdExposure", "raw"),
        ("prerequisite", "bias", "bias"),
        ("output", "outputExposure", "postISRCCD"),
    ]
    assert view["bias"].dimensions == "instrument, detector"
    assert view["bias"].notes == "calibration"
    assert view["ccdExposure"].storage_class == "ImageV2"
    assert view.task_dimensions == ("detector", "exposure", "instrument")
    assert "Raw &lt;frame&gt; &amp; more." in view._repr_html_()
    assert show_connections("cfgdocs_toy_tasks.ToyIsrConfig").dataset_types == view.dataset_types
    with pytest.raises(NotAConfigError, match="a PipelineTask config"):
        show_connections(TopConfig)


def test_connections_in_a_pipeline_show_effective_names(toy: tuple[object, Path]) -> None:
    module, pipeline = toy
    view = show_connections(module.ToyIsrTask, pipeline=pipeline)  # type: ignore[attr-defined]
    row = view["outputExposure"]
    assert row.dataset_type == "post_isr_image" and row.default_name == "postISRCCD" and row.renamed
    assert not view["ccdExposure"].renamed
    assert '<span style="font-weight: bold">post_isr_image</span>' in view._repr_html_()
    assert "postISRCCD" in str(view)
    detect = show_connections(pipeline=str(pipeline), label="detect")
    assert detect.dataset_types == {
        "exposure": "post_isr_image",
        "raw": "raw",
        "rawAgain": "raw",
        "sources": "src",
        "schema": "src_schema",
    }
    assert detect["schema"].kind == "init-output" and detect["schema"].dimensions == ""


def test_connections_bad_pipeline_inputs(toy: tuple[object, Path], tmp_path: Path) -> None:
    module, pipeline = toy
    with pytest.raises(PipelineLoadError, match="no task labelled 'nope'; its labels are: isr, detect"):
        show_connections(pipeline=pipeline, label="nope")
    with pytest.raises(PipelineLoadError, match="its task 'detect' is .*ToyDetectTask, not .*ToyIsrTask"):
        show_connections(module.ToyIsrTask, pipeline=pipeline, label="detect")  # type: ignore[attr-defined]
    with pytest.raises(PipelineLoadError, match="pass label="):
        show_connections(pipeline=pipeline)
    with pytest.raises(PipelineLoadError, match="label='isr' needs pipeline="):
        show_connections(module.ToyIsrTask, label="isr")  # type: ignore[attr-defined]
    with pytest.raises(PipelineLoadError, match="no such file"):
        show_connections(pipeline=tmp_path / "missing.yaml", label="isr")
    broken = tmp_path / "broken.yaml"
    broken.write_text("description: x\ntasks:\n  a:\n    class: no_such_pkg.Task\n")
    with pytest.raises(PipelineLoadError, match="Cannot use pipeline 'broken.yaml'"):
        show_pipeline(broken)


def test_show_pipeline(toy: tuple[object, Path]) -> None:
    module, pipeline = toy
    view = show_pipeline(pipeline)
    assert view.labels == ["isr", "detect"]
    assert view.tasks[0][1] is module.ToyIsrTask  # type: ignore[attr-defined]
    assert view.tasks[0][2] == ["bias (prerequisite)", "raw"]
    assert view.tasks[0][3] == ["post_isr_image"]
    assert view.tasks[1][3] == ["src", "src_schema (init)"]
    flows = {d[0]: d[2:] for d in view.datasets}
    assert flows["post_isr_image"] == ("isr", "detect")
    assert flows["raw"] == ("(overall input)", "isr, detect")  # once, though detect reads it twice
    assert view.tasks[1][2] == ["post_isr_image", "raw"]
    assert flows["src"] == ("detect", "(final output)")
    assert "post_isr_image" in view.text_graph()
    mermaid = view.mermaid
    assert str(mermaid).startswith("flowchart TD") and "post_isr_image" in str(mermaid)
    assert mermaid._repr_mimebundle_()["text/vnd.mermaid"] == str(mermaid)
    html = view._repr_html_()
    assert "<details>" in html and "post_isr_image" in html
    assert "postISRCCD" not in html
    assert show_pipeline(pipeBase.Pipeline.from_uri(str(pipeline))).labels == ["isr", "detect"]
    graph = pipeBase.Pipeline.from_uri(str(pipeline)).to_graph()
    assert show_pipeline(graph).labels == ["isr", "detect"]
    assert not graph.is_fully_resolved  # the caller's graph is left as it was
    for html in (view._repr_html_(), show_connections(pipeline=pipeline, label="isr")._repr_html_()):
        checker = _TagChecker()
        checker.feed(html)
        assert checker.stack == []


def test_pipeline_plot(toy: tuple[object, Path]) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, pipeline = toy
    ax = show_pipeline(pipeline).plot()
    try:
        labels = {text.get_text() for text in ax.texts} - {""}  # arrows are empty annotations
        assert labels == {"raw", "bias", "isr", "post_isr_image", "detect", "src"}  # no _log/_metadata
        arrows = [a for a in ax.texts if a.get_text() == "" and a.arrow_patch is not None]
        assert len(arrows) == 6  # raw -> detect drawn once for its two connections
        assert sum(a.arrow_patch.get_linestyle() == "--" for a in arrows) == 1  # the bias prerequisite
        y = {text.get_text(): text.get_position()[1] for text in ax.texts if text.get_text()}
        assert y["raw"] > y["isr"] > y["post_isr_image"] > y["detect"] > y["src"]
    finally:
        plt.close(ax.figure)


def test_show_config_of_a_pipeline_task_node(toy: tuple[object, Path]) -> None:
    _, pipeline = toy
    graph = pipeBase.Pipeline.from_uri(str(pipeline)).to_graph()
    view = show_config(graph.tasks["isr"], changed_only=True)
    assert view["doBias"].value == "False"
    assert view["connections.outputExposure"].value == "'post_isr_image'"
    assert view["connections.outputExposure"].default == "'postISRCCD'"
    assert view["doBias"].where == "a pipeline config: entry or -c isr:doBias=False"
    assert view.title.startswith("isr: ToyIsrConfig")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def test_cli_config(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["config", "lsst.pipe.base.PipelineTaskConfig", "--fields", "save*"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[3].split()[:3] == ["saveLogOutput", "Field[bool]", "True"]
    override = tmp_path / "o.py"
    override.write_text("config.saveLogOutput = False\n")
    result = runner.invoke(
        main, ["config", "lsst.pipe.base.PipelineTaskConfig", "--changed-only", "-C", str(override)]
    )
    assert result.exit_code == 0, result.output
    assert "saveLogOutput" in result.output and "o.py:1" in result.output
    result = runner.invoke(main, ["config", "no_such_pkg.Thing"])
    assert result.exit_code == 1
    assert "Error: Cannot load 'no_such_pkg.Thing'" in result.output
    bad = tmp_path / "bad.py"
    bad.write_text("config.nosuchfield = 1\n")
    result = runner.invoke(main, ["config", "lsst.pipe.base.PipelineTaskConfig", "-C", str(bad)])
    assert result.exit_code == 1 and "Cannot apply config file" in result.output


def test_cli_config_with_a_pipeline(toy: tuple[object, Path], tmp_path: Path) -> None:
    _, pipeline = toy
    runner = CliRunner()
    result = runner.invoke(main, ["config", "-p", str(pipeline), "--label", "isr", "--changed-only"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[3:]}
    assert rows["doBias"][2:4] == ["True", "False"]
    assert rows["connections.outputExposure"][2:4] == ["'postISRCCD'", "'post_isr_image'"]
    assert f"toy.yaml, line {_yaml_line(TOY_PIPELINE, 'doBias:')} (config: of isr)" in result.output
    override = tmp_path / "more.py"
    override.write_text("config.doBias = True\n")
    result = runner.invoke(
        main, ["config", "-p", str(pipeline), "--label", "isr", "--changed-only", "-C", str(override)]
    )
    assert result.exit_code == 0, result.output
    assert "doBias" not in result.output  # back to its default
    result = runner.invoke(
        main, ["config", "cfgdocs_toy_tasks.ToyDetectTask", "-p", str(pipeline), "--connections"]
    )
    assert result.exit_code == 0, result.output
    assert "post_isr_image" in result.output and "postISRCCD" in result.output
    result = runner.invoke(main, ["config", "-p", str(pipeline), "--label", "nope"])
    assert result.exit_code == 1 and "no task labelled 'nope'" in result.output
    result = runner.invoke(main, ["config"])
    assert result.exit_code == 2 and "Give TASK_OR_CONFIG_CLASS, or --pipeline and --label." in result.output


def test_cli_config_tree() -> None:
    result = CliRunner().invoke(main, ["config", "test_config_docs.TopTask", "--tree"])
    if "test_config_docs" not in sys.modules:  # pragma: no cover - depends on the import mode
        pytest.skip("tests are not importable as modules here")
    assert result.exit_code == 0, result.output
    assert "top.middle.deep" in result.output


# --------------------------------------------------------------------------------------------------
# Our teaching pipeline (stackclub.pipe), when it is there
# --------------------------------------------------------------------------------------------------


def test_teaching_pipeline_tasks() -> None:
    pipe = pytest.importorskip("stackclub.pipe")
    view = show_config(pipe.IsrTask)
    assert view["doBias"].type == "Field[bool]"
    assert view["overscan"].type == "ConfigurableField → OverscanCorrectionTask"
    assert view["overscan.fitType"].kind == "ChoiceField"
    html = view._repr_html_()
    assert "<details" in html
    tree = show_task_tree(pipe.IsrTask)
    assert {"isr", "isr.overscan", "isr.fringe"} <= set(tree.names)
    assert tree["isr.overscan"].task_class is pipe.OverscanCorrectionTask
    conns = show_connections(pipe.IsrTask)
    assert conns["outputExposure"].kind == "output"
    assert conns["ccdExposure"].dataset_type == "raw"


def test_every_teaching_pipeline_task_renders() -> None:
    pipe = pytest.importorskip("stackclub.pipe")
    tasks = [
        obj
        for name in pipe.__all__
        if isinstance(obj := getattr(pipe, name), type) and issubclass(obj, pipeBase.PipelineTask)
    ]
    assert tasks, "stackclub.pipe exports no PipelineTask"
    for task in tasks:
        view = show_config(task)
        assert len(view) > 1 and all(row.type for row in view)
        checker = _TagChecker()
        checker.feed(view._repr_html_())
        assert checker.stack == [], task
        tree = show_task_tree(task)
        assert tree.rows[0].task_class is task
        assert all(issubclass(row.task_class, pipeBase.Task) for row in tree), task
        connections = show_connections(task)
        assert {row.kind for row in connections} >= {"input", "output"}, task


def test_teaching_pipeline_yaml() -> None:
    pipe = pytest.importorskip("stackclub.pipe")
    path = Path(pipe.PIPELINES_DIR) / "ProcessCcd.yaml"
    if not path.exists():
        pytest.skip("ProcessCcd.yaml is not written yet")
    try:
        view = show_pipeline(path)
    except PipelineLoadError as err:
        if isinstance(err.__cause__, ImportError):  # a piece (instrument, task) not committed yet
            pytest.skip(f"the teaching pipeline is not importable yet: {err}")
        raise
    assert view.labels[0] == "isr"
    isr = show_connections(pipeline=path, label="isr")
    assert isr["outputExposure"].dataset_type == "post_isr_image"
    assert isr["outputExposure"].dataset_type in {d[0] for d in view.datasets}
    flows = {d[0]: d[2:] for d in view.datasets}
    assert flows["post_isr_image"][0] == "isr"


def test_cli_help_lists_config() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "config" in result.output
    help_text = CliRunner().invoke(main, ["config", "--help"]).output
    for option in (
        "--changed-only",
        "--fields GLOB",
        "-C, --config-file FILE",
        "-p, --pipeline YAML",
        "--tree",
    ):
        assert option in help_text


def test_connection_and_pipeline_rows_do_not_depend_on_the_hash_seed() -> None:
    """pipe_base rebuilds connections from sets; our tables keep definition order (nbval needs it)."""
    import os
    import subprocess
    import sys

    pytest.importorskip("stackclub.pipe")
    code = (
        "import stackclub; from stackclub.pipe import pipeline_path, CalibrateImageTask\n"
        "print(stackclub.show_pipeline(str(pipeline_path('ProcessCcd'))))\n"
        "print(stackclub.show_connections(CalibrateImageTask))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert "post_isr_image" in outputs.pop()


# --------------------------------------------------------------------------------------------------
# "set at": every origin a learner meets, named so a reader can go and look
# --------------------------------------------------------------------------------------------------

ORIGINS_PIPELINE = """\
description: Every way a pipeline overrides a config
tasks:
  isr:
    class: cfgdocs_toy_tasks.ToyIsrTask
    config:
      connections.outputExposure: post_isr_image
      file: override_file.py
      python: |
        # a python: block
        config.connections.ccdExposure = "raw_from_python"
  detect:
    class: cfgdocs_toy_tasks.ToyDetectTask
"""


def _yaml_line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.fixture
def origins_pipeline(toy: tuple[object, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # pipe_base reads a file: entry relative to the working directory
    (tmp_path / "override_file.py").write_text("# from file:\n\nconfig.doBias = False\n")
    (tmp_path / "minus_C.py").write_text("config.connections.bias = 'bias_from_C'\n")
    path = tmp_path / "origins.yaml"
    path.write_text(ORIGINS_PIPELINE)
    return path


def test_set_at_names_the_pipeline_yaml_lines(origins_pipeline: Path) -> None:
    view = show_config(pipeline=origins_pipeline, label="isr", changed_only=True)
    where = {row.path: row.where for row in view if row.where}
    value_line = _yaml_line(ORIGINS_PIPELINE, "connections.outputExposure:")
    python_line = _yaml_line(ORIGINS_PIPELINE, "raw_from_python")
    assert where == {
        "connections.outputExposure": f"origins.yaml, line {value_line} (config: of isr)",
        "doBias": "override_file.py, line 3 (file: of isr in origins.yaml)",
        "connections.ccdExposure": f"origins.yaml, line {python_line} (python: of isr)",
    }
    assert view.title == "isr: ToyIsrConfig (cfgdocs_toy_tasks.ToyIsrConfig)"
    # The class alone finds its label when the pipeline has one task of it.
    assert show_config(
        "cfgdocs_toy_tasks.ToyIsrTask", pipeline=origins_pipeline, changed_only=True
    ).paths == (view.paths)


def test_set_at_names_the_minus_c_and_minus_C_that_set_a_value(origins_pipeline: Path) -> None:
    """``pipetask -c isr:doBias=False -C isr:minus_C.py`` adds these overrides to the pipeline."""
    pipeline = pipeBase.Pipeline.from_uri(str(origins_pipeline))
    pipeline.addConfigOverride("isr", "doBias", True)
    pipeline.addConfigOverride("detect", "threshold", 2.5)
    pipeline.addConfigFile("isr", "minus_C.py")
    graph = pipeline.to_graph()
    # Given the graph's task node alone, the pipeline's YAML is unknown: both readings are said.
    detect = show_config(graph.tasks["detect"], changed_only=True)
    assert detect["threshold"].where == "a pipeline config: entry or -c detect:threshold=2.5"
    isr = show_config(graph.tasks["isr"], changed_only=True)
    assert isr["connections.bias"].where == "a config file of isr (pipeline file: or pipetask -C), line 1"
    assert isr["connections.ccdExposure"].where == "the pipeline's python: block of isr, line 2"
    # Given the pipeline object, the -C file is named (it is not in the YAML's file: entries).
    view = show_config(pipeline=pipeline, label="isr", changed_only=True)
    assert view["connections.bias"].where == "minus_C.py, line 1 (-C isr:minus_C.py)"
    assert "doBias" not in view  # -c isr:doBias=True put the default back


def test_set_at_for_a_config_read_back_from_the_butler(tmp_path: Path) -> None:
    """What ``butler.get("isr_config")`` returns: every value comes from the run's stored config."""
    from lsst.daf.butler import Butler, DatasetType

    Butler.makeRepo(str(tmp_path / "repo"))
    butler = Butler.from_config(str(tmp_path / "repo"), writeable=True, run="u/test/run")
    butler.registry.registerDatasetType(DatasetType("top_config", (), "Config", universe=butler.dimensions))
    config = TopConfig()
    config.gain = 0.125
    butler.put(config, "top_config")
    stored = butler.get("top_config")
    view = show_config(stored, changed_only=True)
    saved = config.saveToString().splitlines()
    line = next(i for i, text in enumerate(saved, start=1) if text.startswith("config.gain="))
    assert view["gain"].where == f"the run's stored config (read from the Butler), line {line}"
    diff = diff_configs(TopConfig(), stored, labels=("default", "in the run"))
    assert diff.set_at == [f"the run's stored config (read from the Butler), line {line}"]
    assert "in the run set at" in str(diff)
    # A saved config read back some other way (a pickle, Config._fromPython) says so too.
    again = pexConfig.Config._fromPython(config.saveToString())
    assert show_config(again, changed_only=True)["gain"].where == f"a saved config read back, line {line}"


def test_set_at_shows_no_machine_paths(tmp_path: Path) -> None:
    override = tmp_path / "deep" / "override.py"
    override.parent.mkdir()
    override.write_text("config.gain = 0.25\n")
    config = TopConfig()
    config.load(str(override))
    assert show_config(config, changed_only=True)["gain"].where == "override.py:1"
    b = TopConfig()
    a = TopConfig()
    a.gain = 0.75
    assert diff_configs(a, b).set_at == ["its default"]


# --------------------------------------------------------------------------------------------------
# A config that does not validate is shown, with the reason at the top
# --------------------------------------------------------------------------------------------------


class StrictTask(pipeBase.Task):
    ConfigClass = StrictConfig
    _DefaultName = "strict"


def test_a_config_that_does_not_validate_is_shown_with_the_reason_first() -> None:
    view = show_config(StrictConfig)
    assert view["required"].value == "None"
    assert view.problem is not None and view.problem.startswith("StrictConfig does not validate: ")
    assert "required" in view.problem
    text = str(view).splitlines()
    assert text[0].startswith("⚠ StrictConfig does not validate: ") and text[1].startswith("StrictConfig (")
    html = view._repr_html_()
    assert html.index('class="stackclub-problem"') < html.index("<table")
    assert show_config(StrictConfig, validate=False).problem is None
    assert show_config(TopConfig).problem is None
    tree = show_task_tree(StrictTask)
    assert tree.names == ["strict"] and tree.problem == view.problem
    assert (
        str(tree).startswith("⚠ StrictConfig does not validate") and "stackclub-problem" in tree._repr_html_()
    )
    assert show_task_tree(MiddleTask).problem is None


# --------------------------------------------------------------------------------------------------
# Wrong argument types name the argument and what to pass
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: show_config(TopConfig, depth="x"),
            r"show_config\(\): depth must be an int >= 0 \(how many levels of nested configs\), or None "
            r"for all; got str 'x'\.",
        ),
        (lambda: show_config(TopConfig, fields=5), r"show_config\(\): fields must be a glob such as 'do\*'"),
        (lambda: show_config(TopConfig, fields=["do*", 3]), r"fields must be .*; got list \['do\*', 3\]"),
        (
            lambda: diff_configs(TopConfig(), TopConfig(), labels=("one",)),
            r"diff_configs\(\): labels must be two column headings, e.g. labels=\('default', 'mine'\); "
            r"got tuple \('one',\)\.",
        ),
        (lambda: diff_configs(TopConfig(), TopConfig(), labels="ab"), r"labels must be two column headings"),
        (lambda: show_config(pipeline="x.yaml", label=3), r"label must be a task label such as 'isr'"),
    ],
)
def test_wrong_argument_types(call: object, match: str) -> None:
    assert callable(call)
    with pytest.raises(ArgumentTypeError, match=match):
        call()
    with pytest.raises(ValueError, match="depth must be None or >= 0"):
        show_config(TopConfig, depth=-1)


@pytest.mark.parametrize(
    "module", ["config_docs", "task_tree", "_config_model", "_config_origin", "_config_resolve", "_render"]
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(f"stackclub.{module}"), optionflags=flags)
    assert result.failed == 0 and result.attempted >= 1
