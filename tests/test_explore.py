# ruff: noqa: N812, N815 - the tiny task below is spelled as Rubin's are (pexConfig, doScale).
"""The task explorer: controls found in the config, the model (config -> run -> frame), the panel.

The model is tested without widgets on a tiny in-memory task and on the real teaching pipeline
with inputs fetched from the tests' small SimCam repository; the panel with real ipywidgets (no
frontend needed to change a checkbox); the notebook behaviour by executing a small notebook and
checking it with nbval.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("lsst.pipe.base")

import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase

from stackclub import explore_task
from stackclub._exceptions import ExploreError
from stackclub.explore import (
    DEFAULT_SLIDER,
    ExplorerFrame,
    TaskExplorer,
    TaskRunModel,
    find_switches,
    slider_control,
)
from stackclub.explore.controls import config_copy, config_get, config_has, config_set

Z_EXPOSURE = 2026031500002  # the small repository's z-band visit: fringes to remove
DATA_ID = {"exposure": Z_EXPOSURE, "detector": 4}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- a tiny task, all in memory -----------------------------------------------------------------


class ScaleConfig(pexConfig.Config):
    doScale = pexConfig.Field[bool](doc="Multiply by the gain. Then more words.", default=True)
    doOffset = pexConfig.Field[bool](doc="Add the offset.", default=False)
    saveLog = pexConfig.Field[bool](doc="Not a switch: no 'do' prefix.", default=True)
    gain = pexConfig.RangeField[float](doc="Gain.", default=2.0, min=0.5, max=8.0)
    offset = pexConfig.Field[float](doc="Offset.", default=10.0)
    nIter = pexConfig.Field[int](doc="Iterations.", default=4)
    failWith = pexConfig.Field[str](doc="Raise this message in run() when set.", default="")


class ScaleTask(pipeBase.Task):
    ConfigClass = ScaleConfig
    _DefaultName = "scale"

    def run(self, image: np.ndarray) -> pipeBase.Struct:
        if self.config.failWith:
            raise ValueError(self.config.failWith)
        out = image.astype(float)
        if self.config.doScale:
            out = out * self.config.gain
        if self.config.doOffset:
            out = out + self.config.offset
        self.log.info("Scaled <%d> pixels & more", out.size)
        return pipeBase.Struct(outputImage=out, nPixels=out.size, total=float(out.sum()))


@pytest.fixture
def ramp() -> np.ndarray:
    return np.arange(48, dtype=np.float32).reshape(6, 8)


def test_switches_are_found_in_the_config() -> None:
    switches = find_switches(ScaleConfig())
    assert [(c.path, c.kind, c.value) for c in switches] == [
        ("doScale", "switch", True),
        ("doOffset", "switch", False),
    ]
    assert switches[0].doc == "Multiply by the gain."
    assert [c.path for c in find_switches(ScaleConfig(), ["save*", "doOff*"])] == ["doOffset", "saveLog"]
    with pytest.raises(ExploreError, match="matches no boolean field of ScaleConfig") as info:
        find_switches(ScaleConfig(), "doNothing")
    assert "doScale, doOffset, saveLog" in str(info.value)


def test_isr_switches_are_discovered_not_listed() -> None:
    from stackclub.pipe import IsrTask

    switches = find_switches(IsrTask.ConfigClass())
    paths = [c.path for c in switches]
    assert {"doBias", "doDark", "doFlat", "doFringe", "doDefect"} <= set(paths)
    assert all(isinstance(c.value, bool) for c in switches)
    assert all(c.path.rsplit(".", 1)[-1].startswith("do") for c in switches)
    assert len(paths) == len(set(paths))


def test_slider_ranges() -> None:
    gain = slider_control(ScaleConfig(), "gain")  # a RangeField: its own range
    assert (gain.value, gain.minimum, gain.maximum, gain.integer) == (2.0, 0.5, 8.0, False)
    offset = slider_control(ScaleConfig(), ("offset", 0.0, 100.0))
    assert (offset.minimum, offset.maximum, offset.step) == (0.0, 100.0, 1.0)
    n = slider_control(ScaleConfig(), "nIter")
    assert (n.value, n.minimum, n.maximum, n.step, n.integer) == (4, 1, 16, 1.0, True)
    with pytest.raises(ExploreError, match="not a field of ScaleConfig") as info:
        slider_control(ScaleConfig(), "gian")
    assert "gain" in str(info.value)
    with pytest.raises(ExploreError, match="not a finite number"):
        slider_control(ScaleConfig(), "doScale")
    with pytest.raises(ExploreError, match="does not hold"):
        slider_control(ScaleConfig(), ("gain", 3.0, 4.0))


def test_config_paths_reach_into_subtasks() -> None:
    from stackclub.pipe import CalibrateImageTask

    config = CalibrateImageTask.ConfigClass()
    nested = [c.path for c in find_switches(config) if "." in c.path]
    assert nested, "the calibrateImage subtasks have do* switches of their own"
    path = nested[0]
    assert config_has(config, path) and not config_has(config, path + "x")
    assert not config_has(config, "no_such_subtask.doIt")
    copy = config_copy(config)
    config_set(copy, path, not config_get(config, path))
    assert config_get(copy, path) is not config_get(config, path)  # the copy is independent


def test_model_runs_in_memory_and_diffs_against_the_defaults(ramp: np.ndarray) -> None:
    model = TaskRunModel(ScaleTask, {"image": ramp})
    first = model.run()
    assert isinstance(first, ExplorerFrame) and first.error is None
    assert first.shown == "outputImage" and not first.residual
    np.testing.assert_array_equal(first.pixels, ramp * 2.0)
    assert first.outputs == [("outputImage", "ndarray, 6 × 8 pixels"), ("nPixels", "48"), ("total", "2256")]
    assert len(first.diff) == 0 and first.changes == {}
    assert first.logs.text.endswith("scale INFO: Scaled <48> pixels & more")

    second = model.run({"doOffset": True, "gain": 3.0})
    np.testing.assert_array_equal(second.pixels, ramp * 3.0 + 10.0)
    assert second.diff.paths == ["doOffset", "gain"]
    assert second.title == "ScaleTask on the given inputs: doOffset=True, gain=3.0"
    np.testing.assert_array_equal(model.run().pixels, first.pixels)  # no state leaks between runs
    np.testing.assert_array_equal(ramp, np.arange(48).reshape(6, 8))  # the inputs are untouched


def test_a_failing_run_is_a_frame_not_a_crash(ramp: np.ndarray) -> None:
    model = TaskRunModel(ScaleTask, {"image": ramp})
    frame = model.run({"failWith": "<b>bad</b> & [x]"})
    assert frame.error == "ValueError: <b>bad</b> & [x]" and frame.result is None and frame.pixels is None
    html = frame._repr_html_()
    assert "&lt;b&gt;bad&lt;/b&gt; &amp; [x]" in html and "<b>bad</b>" not in html
    assert "run() failed: ValueError: <b>bad</b> & [x]" in str(frame)
    assert frame.png()[:8] == PNG_SIGNATURE  # a picture that says so
    bad_value = model.run({"gain": 100.0})  # outside the RangeField: pex_config refuses it
    assert bad_value.error is not None and bad_value.error.startswith("FieldValidationError")
    with pytest.raises(ExploreError, match="'gian' is not a field of ScaleConfig"):
        model.run({"gian": 3.0})


def test_frame_html_escapes_the_log(ramp: np.ndarray) -> None:
    frame = TaskRunModel(ScaleTask, {"image": ramp}).run({"doOffset": True})
    html = frame._repr_html_()
    assert "Scaled &lt;48&gt; pixels &amp; more" in html
    assert "<table>" in html and "doOffset" in html


def test_reference_gives_the_residual(ramp: np.ndarray) -> None:
    model = TaskRunModel(ScaleTask, {"image": ramp}, reference=ramp * 2.0)
    assert model.run().residual
    np.testing.assert_array_equal(model.run().pixels, np.zeros((6, 8)))
    np.testing.assert_array_equal(model.run({"doOffset": True}).pixels, np.full((6, 8), 10.0))
    wrong = TaskRunModel(ScaleTask, {"image": ramp}, reference=np.zeros((3, 3))).run()
    assert wrong.error == "ExploreError: the reference is 3 × 3 pixels, outputImage is 6 × 8"
    with pytest.raises(ExploreError, match="not an image"):
        TaskRunModel(ScaleTask, {"image": ramp}, reference="truth")
    with pytest.raises(ExploreError, match="show='nope' is not a field"):
        TaskRunModel(ScaleTask, {"image": ramp}, show="nope").run()


class ElectronTask(pipeBase.Task):
    ConfigClass = ScaleConfig
    _DefaultName = "electrons"

    def run(self, image: np.ndarray) -> pipeBase.Struct:
        import astropy.units as u
        from lsst.images import Image

        return pipeBase.Struct(outputImage=Image(image * np.float32(self.config.gain), unit=u.electron))


def test_the_colour_bar_names_the_unit(ramp: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    frame = TaskRunModel(ElectronTask, {"image": ramp}).run()
    assert frame.unit == "electron"
    assert frame.plot().images[0].colorbar.ax.get_ylabel() == "electron"
    residual = TaskRunModel(ElectronTask, {"image": ramp}, reference=ramp).run()
    np.testing.assert_array_equal(residual.pixels, ramp)
    assert residual.plot().images[0].colorbar.ax.get_ylabel() == "residual [electron]"
    # No unit (a bare array): no label.
    assert TaskRunModel(ScaleTask, {"image": ramp}).run().unit is None


def test_explore_task_from_inputs(ramp: np.ndarray) -> None:
    explorer = explore_task(ScaleTask, inputs={"image": ramp}, slider="gain")
    assert [c.path for c in explorer.switches] == ["doScale", "doOffset"]
    assert explorer.slider is not None and explorer.slider.path == "gain"
    assert explorer.headline == (
        "Task explorer: ScaleTask on the given inputs; 2 switches (doScale, doOffset); slider gain."
    )
    frame = explorer.set(doScale=False)
    np.testing.assert_array_equal(frame.pixels, ramp)
    assert explorer.changes() == {"doScale": False} and explorer.frame is frame
    frame = explorer.set({"doScale": True, "gain": 4.0})
    assert explorer.changes() == {"gain": 4.0}
    with pytest.raises(ExploreError, match="'failWith': not a control"):
        explorer.set(failWith="x")
    assert explorer.run(failWith="x").error == "ValueError: x"  # any field: run() leaves the panel alone
    assert explorer.changes() == {"gain": 4.0}
    assert "Widgets need a Jupyter frontend" in str(explorer)
    assert repr(explorer) == "<TaskExplorer: ScaleTask on the given inputs, 2 switches, slider gain>"


def test_explore_task_arguments_are_checked(ramp: np.ndarray) -> None:
    with pytest.raises(ExploreError, match="either data_id= .* or inputs="):
        explore_task(ScaleTask)
    with pytest.raises(ExploreError, match="either data_id="):
        explore_task(ScaleTask, DATA_ID, inputs={"image": ramp})
    with pytest.raises(ExploreError, match="Pass a task class"):
        explore_task(42, inputs={"image": ramp})
    no_slider = explore_task(ScaleTask, inputs={"image": ramp})
    assert no_slider.slider is None  # ScaleConfig has no DEFAULT_SLIDER


# --- the panel ------------------------------------------------------------------------------------


def test_the_panel_reruns_on_a_checkbox(ramp: np.ndarray) -> None:
    pytest.importorskip("ipywidgets")
    explorer = explore_task(ScaleTask, inputs={"image": ramp}, slider="gain")
    panel = explorer.widget
    parts = panel._stackclub
    image, details = parts["image"], parts["details"]
    before = image.value
    assert before[:8] == PNG_SIGNATURE and "Config: the task" in details.value

    parts["controls"]["doOffset"].value = True  # what a click does
    assert explorer.values["doOffset"] is True and explorer.frame.changes == {"doOffset": True}
    assert image.value != before and "doOffset" in details.value
    assert not any(w.disabled for w in parts["controls"].values())

    parts["controls"]["gain"].value = 5.0  # the slider
    assert explorer.frame.changes == {"doOffset": True, "gain": 5.0}

    explorer.set(doOffset=False)  # from code: the checkbox follows
    assert parts["controls"]["doOffset"].value is False
    assert explorer.frame.changes == {"gain": 5.0}


def test_the_display_bundle(ramp: np.ndarray) -> None:
    pytest.importorskip("ipywidgets")
    bundle = explore_task(ScaleTask, inputs={"image": ramp})._repr_mimebundle_()
    again = explore_task(ScaleTask, inputs={"image": ramp})._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/png", "application/vnd.jupyter.widget-view+json"}
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] != again["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert bundle["text/plain"] == again["text/plain"]  # what nbval compares: the same on every run
    assert "\n" not in bundle["text/plain"] and "Live in JupyterLab (ipywidgets)" in bundle["text/plain"]
    assert base64.b64decode(bundle["image/png"])[:8] == PNG_SIGNATURE


def test_without_ipywidgets_a_static_frame_and_a_message(
    ramp: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    explorer = explore_task(ScaleTask, inputs={"image": ramp})
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/png"}
    assert "ipywidgets is not installed" in bundle["text/plain"]
    from stackclub._exceptions import MissingStackError

    with pytest.raises(MissingStackError, match="ipywidgets"):
        explorer.widget  # noqa: B018 - the property raises


# --- the real pipeline, inputs from the repository ------------------------------------------------


@pytest.fixture(scope="module")
def isr_explorer(small_repo: str) -> TaskExplorer:
    from stackclub.pipe import IsrTask

    return explore_task(IsrTask, DATA_ID, repo=small_repo)


def _collections(path: str) -> set[str]:
    from lsst.daf.butler import Butler

    with Butler.from_config(path) as butler:
        return set(butler.collections.query("*"))


def test_isr_from_a_data_id(isr_explorer: TaskExplorer, small_repo: str) -> None:
    frame = isr_explorer.frame
    assert frame.error is None, frame.error
    assert frame.data_id == f"instrument='SimCam', detector=4, exposure={Z_EXPOSURE}"
    assert frame.shown is not None and frame.pixels is not None and frame.pixels.shape == (256, 256)
    assert any(e.name.startswith("stackclub.isr") for e in frame.logs)
    assert isr_explorer.slider is None  # IsrTask has no DEFAULT_SLIDER threshold
    no_fringe = isr_explorer.run(doFringe=False)
    assert no_fringe.diff.paths == ["doFringe"]
    assert not np.array_equal(no_fringe.pixels, frame.pixels)
    np.testing.assert_array_equal(isr_explorer.run().pixels, frame.pixels)  # inputs are reused unchanged
    assert not any(name.startswith("u/stackclub/explore_task") for name in _collections(small_repo))


def test_isr_against_a_reference(isr_explorer: TaskExplorer, small_repo: str) -> None:
    from stackclub.pipe import IsrTask

    reference = isr_explorer.frame.pixels
    explorer = explore_task(IsrTask, DATA_ID, repo=small_repo, reference=reference)
    assert explorer.frame.residual and np.all(explorer.frame.pixels == 0)
    no_flat = explorer.run(doFlat=False)
    assert no_flat.residual and np.abs(no_flat.pixels).max() > 1.0


def test_a_switch_that_needs_another_input_fetches_it(small_repo: str, isr_explorer: TaskExplorer) -> None:
    """Starting with doBias off, the bias was not fetched; turning it on fetches it then."""
    from stackclub.explore.inputs import input_connection_names
    from stackclub.pipe import IsrTask

    config = IsrTask.ConfigClass()
    config.doBias = False
    if input_connection_names(config) == input_connection_names(IsrTask.ConfigClass()):
        pytest.skip("this IsrTask keeps its bias connection with doBias=False")
    explorer = explore_task(IsrTask, DATA_ID, repo=small_repo, config=config)
    frame = explorer.set(doBias=True)
    assert frame.error is None and len(explorer.model._fetched) == 2
    np.testing.assert_array_equal(frame.pixels, isr_explorer.frame.pixels)


def test_data_id_errors(small_repo: str) -> None:
    from stackclub.pipe import CalibrateImageTask, IsrTask

    with pytest.raises(ExploreError, match=r"not dimensions of this repository: \['detectr'\]"):
        explore_task(IsrTask, {"exposure": Z_EXPOSURE, "detectr": 4}, repo=small_repo)
    with pytest.raises(ExploreError, match="matches 2 quanta of IsrTask") as info:
        explore_task(IsrTask, {"detector": 4}, repo=small_repo)
    assert "e.g. exposure=" in str(info.value)
    with pytest.raises(ExploreError, match="it needs its input 'post_isr_image'") as info:
        explore_task(CalibrateImageTask, {"visit": Z_EXPOSURE, "detector": 4}, repo=small_repo)
    assert "collections=" in str(info.value) and "inputs=" in str(info.value)


def test_calibrate_image_after_isr_as_pipetask_would_feed_it(small_repo: str, tmp_path: Path) -> None:
    """ISR written by the real executor; calibrateImage explored from it; the explorer matches it."""
    from lsst.daf.butler import Butler
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    from stackclub.pipe import CalibrateImageTask, IsrTask, pipeline_path

    repo = str(tmp_path / "repo")
    shutil.copytree(small_repo, repo)
    output = "u/test/isr"
    butler = SimplePipelineExecutor.prep_butler(
        repo, inputs=["SimCam/defaults"], output=output, output_run=f"{output}/run"
    )
    SimplePipelineExecutor.from_pipeline_filename(
        str(pipeline_path("Isr")), butler=butler, where=f"exposure = {Z_EXPOSURE} AND detector = 4"
    ).run(register_dataset_types=True)

    isr = explore_task(IsrTask, DATA_ID, repo=repo)
    with Butler.from_config(repo, collections=[output]) as reader:
        written = reader.get("post_isr_image", DATA_ID)
    np.testing.assert_array_equal(isr.frame.pixels, written.image.array)  # same inputs, same run

    calibrate = explore_task(
        CalibrateImageTask, {"visit": Z_EXPOSURE, "detector": 4}, repo=repo, collections=[output]
    )
    assert calibrate.frame.error is None, calibrate.frame.error
    if not config_has(CalibrateImageTask.ConfigClass(), DEFAULT_SLIDER):
        pytest.skip(f"this CalibrateImageTask has no {DEFAULT_SLIDER}")
    assert calibrate.slider is not None and calibrate.slider.path == DEFAULT_SLIDER

    def rows(frame: ExplorerFrame) -> int:
        return sum(len(v) for v in frame.result.getDict().values() if hasattr(v, "colnames"))

    low, high = calibrate.frame, calibrate.set({DEFAULT_SLIDER: calibrate.slider.value * 4})
    assert high.error is None and rows(high) < rows(low)  # a higher threshold finds fewer sources


# --- in a notebook, under nbval ---------------------------------------------------------------


def _notebook(repo: str) -> Any:
    from nbformat import v4

    cells = [
        "import stackclub\nfrom stackclub.pipe import IsrTask",
        f"explorer = stackclub.explore_task(IsrTask, {DATA_ID!r}, repo={repo!r})\nexplorer",
        "explorer.set(doFringe=False).diff.paths",
    ]
    nb = v4.new_notebook(cells=[v4.new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_a_notebook_cell_is_deterministic_under_nbval(small_repo: str, tmp_path: Path) -> None:
    """Execute a notebook (as `make notebooks` does), then check it with nbval (as `make test` does)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("nbval")
    pytest.importorskip("ipywidgets")
    path = tmp_path / "explore.ipynb"
    nb = _notebook(small_repo)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    nbformat.write(nb, path)

    outputs = nb.cells[1].outputs
    assert len(outputs) == 1, outputs
    data = outputs[0]["data"]
    assert set(data) == {"text/plain", "image/png", "application/vnd.jupyter.widget-view+json"}
    assert data["text/plain"].startswith("Task explorer: IsrTask on instrument='SimCam', detector=4")
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "['doFringe']"
    assert "widgets" in nb.metadata  # the widget state, for static renderers

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(path), "-p", "no:cacheprovider", "-o", "addopts=",
         "--rootdir", str(tmp_path), "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
    stored = json.loads(path.read_text())["cells"][1]["outputs"][0]["data"]
    assert "".join(stored["text/plain"]) == data["text/plain"]


def test_data_id_names_the_instrument_of_a_repository_with_several(small_repo: str, tmp_path: Path) -> None:
    # The Butler needs the instrument named in a query on exposure/visit/detector once a repository
    # holds two; the explorer adds it when there is one and asks for it when there are several.
    from lsst.daf.butler import Butler

    from stackclub.pipe import CalibrateImageTask, IsrTask

    repo = str(tmp_path / "repo")
    shutil.copytree(small_repo, repo)
    with pytest.raises(ExploreError, match="it needs its input 'post_isr_image'"):
        explore_task(CalibrateImageTask, {"visit": Z_EXPOSURE, "detector": 4}, repo=repo)
    butler = Butler.from_config(repo, writeable=True)
    (simcam,) = butler.query_dimension_records("instrument")
    other = simcam.toDict() | {"name": "OtherCam"}
    butler.registry.insertDimensionData("instrument", other)
    with pytest.raises(ExploreError, match=r"holds 2 instruments \['OtherCam', 'SimCam'\]") as info:
        explore_task(IsrTask, DATA_ID, repo=repo)
    assert "'instrument': 'OtherCam'" in str(info.value)
    explorer = explore_task(IsrTask, {"instrument": simcam.name, **DATA_ID}, repo=repo)
    assert explorer.frame.error is None
