"""The demo repository's datastore: lossy16 for preliminary_visit_image, everything else lossless.

Real parts only: SimCam repositories built in temporary folders, the real pipeline run by
``SimplePipelineExecutor``, and the written FITS files read back with astropy.io.fits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lsst.daf.butler", reason="the datastore tests need the Rubin middleware")

from stackclub._exceptions import SimCamValueError
from stackclub.simcam.datastore import (
    LOSSY16_DATASET_TYPES,
    TILE_ROWS,
    add_image_output_recipes,
    butler_roundtrip,
    describe_fits_compression,
    lossy16_recipe,
)


def _headers(path: str) -> dict[str, dict[str, object]]:
    """The compression keywords of each compressed HDU of a FITS file, by EXTNAME."""
    import astropy.io.fits

    out = {}
    with astropy.io.fits.open(path, disable_image_compression=True) as hdus:
        for hdu in hdus[1:]:
            if hdu.header.get("ZIMAGE"):
                keys = ("ZCMPTYPE", "ZQUANTIZ", "ZTILE1", "ZTILE2", "ZBITPIX")
                out[str(hdu.header.get("EXTNAME"))] = {k: hdu.header.get(k) for k in keys}
    return out


def _uri(butler: object, name: str, **where: object) -> str:
    ref = butler.query_datasets(name, limit=1, **where)[0]  # type: ignore[attr-defined]
    return butler.getURI(ref).ospath  # type: ignore[attr-defined]


def _masked_image(
    rng: np.random.Generator, sigma: float = 5.0, shape: tuple[int, int] = (300, 200)
) -> object:
    from lsst.images import Image, MaskedImage, MaskPlane, MaskSchema

    image = Image(rng.normal(100.0, sigma, shape).astype(np.float32))
    variance = Image(np.full(shape, sigma**2, dtype=np.float32))
    return MaskedImage(image, variance=variance, mask_schema=MaskSchema([MaskPlane("BAD", "Bad pixel.")]))


# --- the recipe and the seed config --------------------------------------------------------------


def test_lossy16_recipe_is_rubins_quantization_in_row_blocks_and_validates() -> None:
    from lsst.images.formatters import GenericFormatter

    recipe = lossy16_recipe(256)
    for plane in ("image", "variance"):
        assert recipe[plane]["algorithm"] == "RICE_1"
        assert recipe[plane]["quantization"] == {"dither": "SUBTRACTIVE_DITHER_2", "level": 16.0}
        assert recipe[plane]["tile_shape"] == [TILE_ROWS, 256]
    assert recipe["mask"] == {"algorithm": "GZIP_2", "tile_shape": [TILE_ROWS, 256]}
    # lsst.images' own validation of a recipe (what the datastore runs when it reads the config).
    assert GenericFormatter.validate_write_recipes({"lossy16": recipe}) == {"lossy16": recipe}
    with pytest.raises(SimCamValueError, match="width must be a positive integer, got 0"):
        lossy16_recipe(0)
    with pytest.raises(SimCamValueError, match="tile_rows must be a positive integer, got True"):
        lossy16_recipe(10, tile_rows=True)


def test_add_image_output_recipes_keeps_what_the_seed_config_had() -> None:
    generic = "lsst.images.formatters.GenericFormatter"
    seed = {"datastore": {"formatters": {"write_recipes": {generic: {"mine": {}}}, "bias": "x"}}}
    config = add_image_output_recipes(seed, 128)
    formatters = config["datastore"]["formatters"]
    assert formatters["bias"] == "x"
    assert sorted(formatters["write_recipes"][generic]) == ["lossy16", "mine"]
    assert LOSSY16_DATASET_TYPES == ("preliminary_visit_image",)
    for name in LOSSY16_DATASET_TYPES:
        assert formatters[name] == {"formatter": generic, "parameters": {"recipe": "lossy16"}}
    assert "post_isr_image" not in formatters, "post_isr_image keeps the lossless default, as in Rubin's DRP"


# --- the demo repository, end to end ---------------------------------------------------------------


def test_pipeline_outputs_in_the_demo_repository_are_compressed_as_configured(small_repo: str) -> None:
    from lsst.daf.butler import Butler, Config
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    from stackclub.pipe import pipeline_path
    from stackclub.simcam.testing import SMALL_REPO_SETTINGS

    # Where it is configured: the repository's own butler.yaml.
    config = Config(str(Path(small_repo) / "butler.yaml"))
    assert config["datastore", "formatters", "preliminary_visit_image", "parameters", "recipe"] == "lossy16"

    butler = SimplePipelineExecutor.prep_butler(
        small_repo, inputs=["SimCam/defaults"], output="u/test/lossy16"
    )
    executor = SimplePipelineExecutor.from_pipeline_filename(
        str(pipeline_path()), butler=butler, where="band = 'r'"
    )
    assert len(executor.run(register_dataset_types=True)) == 2
    width = 256
    assert SMALL_REPO_SETTINGS["geometry"] == "small"
    reader = Butler.from_config(small_repo, collections=["u/test/lossy16", "SimCam/defaults"])

    visit = _headers(_uri(reader, "preliminary_visit_image"))
    for plane in ("IMAGE", "VARIANCE"):
        assert visit[plane]["ZCMPTYPE"] == "RICE_1"
        assert visit[plane]["ZQUANTIZ"] == "SUBTRACTIVE_DITHER_2"
        assert (visit[plane]["ZTILE2"], visit[plane]["ZTILE1"]) == (TILE_ROWS, width)
    assert visit["MASK"]["ZCMPTYPE"] == "GZIP_2" and visit["MASK"]["ZQUANTIZ"] is None

    # Lossless everywhere else: no HDU quantized (ZQUANTIZ is only written for quantized floats).
    post_isr = _headers(_uri(reader, "post_isr_image"))
    assert {h["ZCMPTYPE"] for h in post_isr.values()} == {"GZIP_2"}
    raw = _headers(_uri(reader, "raw", where="band = 'r'"))
    assert raw and all(h["ZQUANTIZ"] is None and int(h["ZBITPIX"]) > 0 for h in raw.values())

    # What it costs, read from the file: steps of sigma/16, noise sigma/(16*sqrt(12)) = 0.018 sigma.
    table = describe_fits_compression(_uri(reader, "preliminary_visit_image"))
    image = next(row for row in table.rows if row[0] == "IMAGE")
    assert image[1:4] == ["RICE_1", "SUBTRACTIVE_DITHER_2", f"{TILE_ROWS} x {width}"]
    assert 0.012 < float(image[9]) < 0.025, image
    assert float(image[4]) < float(image[5]) / 2, "the quantized image is stored at less than half its size"
    assert next(row for row in table.rows if row[0] == "MASK")[2] == "none (lossless)"


def test_calibrations_stay_as_the_build_asked(tmp_path: Path) -> None:
    """A lossless build keeps its calibrations lossless; the image outputs still get lossy16."""
    from lsst.daf.butler import Butler, Config

    from stackclub.simcam.repo import build_demo_repo

    repo = tmp_path / "repo"
    build_demo_repo(repo, visits=1, detectors=[4], bands=("r",), geometry="small", compression="lossless",
                    progress=False, seed=3)  # fmt: skip
    config = Config(str(repo / "butler.yaml"))
    assert config["datastore", "formatters", "preliminary_visit_image", "parameters", "recipe"] == "lossy16"
    butler = Butler.from_config(str(repo), collections="SimCam/defaults")
    for name in ("bias", "dark", "flat"):
        headers = _headers(_uri(butler, name))
        assert {h["ZCMPTYPE"] for h in headers.values()} == {"GZIP_2"}, name
        assert all(h["ZQUANTIZ"] is None for h in headers.values()), name


# --- the round trip and the report ----------------------------------------------------------------


def test_butler_roundtrip_quantizes_only_the_lossy16_types() -> None:
    rng = np.random.default_rng(5)
    original = _masked_image(rng)
    exact = butler_roundtrip(original, "post_isr_image")
    np.testing.assert_array_equal(exact.image.array, original.image.array)
    np.testing.assert_array_equal(exact.variance.array, original.variance.array)

    lossy = butler_roundtrip(original, "preliminary_visit_image")
    diff = lossy.image.array.astype(float) - original.image.array
    assert 0.015 < np.std(diff) / 5.0 < 0.021  # 1 / (16 * sqrt(12)) = 0.018
    assert abs(np.mean(diff)) < 0.002 * 5.0, "dithered quantization is unbiased"
    assert np.max(np.abs(diff)) <= 0.51 * 5.0 / 16 * 1.2, "no pixel moves by more than half a step"
    np.testing.assert_array_equal(lossy.mask.array, original.mask.array)


def test_butler_roundtrip_and_report_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(SimCamValueError, match="No storage class known for a list: pass storage_class="):
        butler_roundtrip([1, 2], "preliminary_visit_image")
    with pytest.raises(SimCamValueError, match="No file at .*missing.fits"):
        describe_fits_compression(tmp_path / "missing.fits")
    (tmp_path / "junk.fits").write_text("not FITS")
    with pytest.raises(SimCamValueError, match="junk.fits' is not a readable FITS file"):
        describe_fits_compression(tmp_path / "junk.fits")
