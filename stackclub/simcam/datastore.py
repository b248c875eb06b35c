"""How the demo repository's datastore compresses the pipeline's image outputs, and what it costs.

Rubin's DRP writes its image products with daf_butler's ``lossy16`` *write recipe*: RICE_1 tile
compression of pixels quantized, with subtractive dithering (``SUBTRACTIVE_DITHER_2``), in steps
of 1/16 of each tile's noise; the mask stays lossless (daf_butler
``configs/datastores/writeRecipes.yaml``, which defines ``lossy16`` for
``lsst.images.formatters.GenericFormatter`` too). drp_pipe turns it on per dataset type in a
datastore config (``bps/compression/LSSTCam/DRP-config/datastores/fileDatastore.yaml``, w.2026.20:
``preliminary_visit_image``, ``visit_image`` and the coadds)::

    formatters:
      preliminary_visit_image:
        formatter: lsst.obs.base.formatters.fitsExposure.FitsExposureFormatter
        parameters:
          recipe: lossy16

The demo repository does the same at ``butler create`` time (`add_image_output_recipes`, called by
`~stackclub.simcam.repo.build_demo_repo`): its ``butler.yaml`` names the formatter and recipe for
each dataset type in `LOSSY16_DATASET_TYPES`. One deliberate difference: our ``lossy16`` is
compressed in tiles of `TILE_ROWS` full rows instead of one row per tile (astropy's tiled
compression pays Python overhead per tile; 64-row tiles write ~1.4x and read ~1.3x faster at
2048 x 4176 pixels, benchmarks/speed.py). The quantization is Rubin's.

``post_isr_image`` keeps the datastore's lossless default (GZIP_2), as in Rubin's DRP, whose
compression list holds only the products that later steps and users keep. It is the image a
learner compares with the truth to judge ISR and the one calibrateImage measures, so it stays exact.
Raws (our `~stackclub.simcam.formatters.RawFormatter`, lossless RICE_1 on integers) and the
calibrations (their own recipe, see `~stackclub.simcam.repo.build_demo_repo`'s ``compression``)
are not touched here.

What quantization costs: uniform dithered quantization in steps of σ/16 adds noise of
σ/(16·√12) ≈ 0.018 σ, which adds to the image noise in quadrature (+0.016 %). `describe_fits_compression`
reads it from a written file; `butler_roundtrip` gives what the Butler returns for an in-memory
image, to compare with the original.
"""

from __future__ import annotations

__all__ = (
    "LOSSY16_DATASET_TYPES",
    "TILE_ROWS",
    "add_image_output_recipes",
    "butler_roundtrip",
    "describe_fits_compression",
    "lossy16_recipe",
)

import math
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._exceptions import SimCamValueError
from .._render import Table

_GENERIC = "lsst.images.formatters.GenericFormatter"
#: The dataset types the demo repository writes with the ``lossy16`` recipe.
LOSSY16_DATASET_TYPES: tuple[str, ...] = ("preliminary_visit_image",)
#: Rows per compression tile (tiles are full rows wide).
TILE_ROWS = 64
#: Storage class of each image type a pipeline output may have, for `butler_roundtrip`.
_STORAGE_CLASSES = {"VisitImage": "VisitImage", "MaskedImage": "MaskedImageV2", "Image": "ImageV2"}


def lossy16_recipe(width: int, *, tile_rows: int = TILE_ROWS) -> dict[str, Any]:
    """Return Rubin's ``lossy16`` write recipe for `lsst.images.formatters.GenericFormatter`, tiled.

    Parameters
    ----------
    width
        Image width in pixels (a tile is ``tile_rows`` full rows).
    tile_rows
        Rows per tile.

    Returns
    -------
    recipe
        ``{"image": ..., "mask": ..., "variance": ...}``: RICE_1 with ``SUBTRACTIVE_DITHER_2``
        quantization at ``level`` 16 for the image and variance, lossless GZIP_2 for the mask.

    Raises
    ------
    SimCamValueError
        ``width`` or ``tile_rows`` is not a positive integer.

    Examples
    --------
    >>> recipe = lossy16_recipe(2048)
    >>> recipe["image"]["algorithm"], recipe["image"]["quantization"]["level"]
    ('RICE_1', 16.0)
    >>> recipe["mask"]
    {'algorithm': 'GZIP_2', 'tile_shape': [64, 2048]}
    """
    for name, value in (("width", width), ("tile_rows", tile_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SimCamValueError(f"{name} must be a positive integer, got {value!r}.")
    tile = [tile_rows, width]
    quantized = {"algorithm": "RICE_1", "quantization": {"dither": "SUBTRACTIVE_DITHER_2", "level": 16.0}}
    return {
        "image": {**quantized, "tile_shape": tile},
        "mask": {"algorithm": "GZIP_2", "tile_shape": tile},
        "variance": {**quantized, "tile_shape": list(tile)},
    }


def add_image_output_recipes(seed_config: dict[str, Any], width: int) -> dict[str, Any]:
    """Add the ``lossy16`` recipe and its dataset types to a repository seed config.

    Parameters
    ----------
    seed_config
        The dict given to ``Butler.makeRepo`` (``butler create --seed-config``); changed in place.
    width
        Detector width in pixels (see `lossy16_recipe`).

    Returns
    -------
    seed_config
        The same dict: ``datastore.formatters`` gains ``write_recipes`` for the generic
        lsst.images formatter and one entry per `LOSSY16_DATASET_TYPES` name.

    Examples
    --------
    >>> config = add_image_output_recipes({}, 2048)
    >>> config["datastore"]["formatters"]["preliminary_visit_image"]
    {'formatter': 'lsst.images.formatters.GenericFormatter', 'parameters': {'recipe': 'lossy16'}}
    """
    formatters = seed_config.setdefault("datastore", {}).setdefault("formatters", {})
    formatters.setdefault("write_recipes", {}).setdefault(_GENERIC, {})["lossy16"] = lossy16_recipe(width)
    for name in LOSSY16_DATASET_TYPES:
        formatters[name] = {"formatter": _GENERIC, "parameters": {"recipe": "lossy16"}}
    return seed_config


def _stored_mib(hdu: Any) -> float:
    return float(hdu.fileinfo()["datSpan"]) / 2**20


def describe_fits_compression(path: str | os.PathLike[str]) -> Table:
    """Tabulate how each image HDU of a FITS file is compressed, and what quantization costs.

    Reads the compression keywords (``ZCMPTYPE``, ``ZQUANTIZ``, ``ZTILEn``) and, for quantized
    HDUs, the per-tile quantization step (the ``ZSCALE`` column) with astropy.io.fits. For an
    ``IMAGE`` HDU next to a ``VARIANCE`` HDU it compares the step with the image noise
    σ = √(median variance): the quantization noise of a uniform step is step/√12.

    Parameters
    ----------
    path
        A FITS file, e.g. ``butler.getURI(ref).ospath`` of a dataset in a local repository.

    Returns
    -------
    table
        One row per compressed HDU: name, algorithm, quantization, tile shape (rows x columns),
        stored and uncompressed MiB, the median step, σ, step/σ and the quantization noise as a
        fraction of σ (blank where not quantized or without a variance HDU).

    Raises
    ------
    SimCamValueError
        No such file, or not a FITS file.

    Examples
    --------
    >>> describe_fits_compression(butler.getURI(ref).ospath)  # doctest: +SKIP
    <Table: 3 rows × 10 columns>
    """
    import astropy.io.fits

    if not os.path.isfile(path):
        raise SimCamValueError(f"No file at {os.fspath(path)!r}: pass the path of a FITS file.")
    rows: list[Sequence[Any]] = []
    try:
        with astropy.io.fits.open(path, disable_image_compression=True) as raw_hdus:
            sigma = None
            if "VARIANCE" in raw_hdus:
                with astropy.io.fits.open(path) as hdus:
                    variance = np.asarray(hdus["VARIANCE"].data, dtype=float)
                sigma = math.sqrt(float(np.median(variance[np.isfinite(variance)])))
            for hdu in raw_hdus[1:]:
                header = hdu.header
                if not header.get("ZIMAGE", False):
                    continue
                name = str(header.get("EXTNAME", ""))
                shape = [int(header[f"ZNAXIS{i}"]) for i in range(int(header["ZNAXIS"]), 0, -1)]
                tile = [int(header.get(f"ZTILE{i}", 1)) for i in range(int(header["ZNAXIS"]), 0, -1)]
                itemsize = abs(int(header["ZBITPIX"])) // 8
                step = frac = ratio = None
                quantized = "ZSCALE" in hdu.columns.names
                if quantized:
                    step = float(np.median(hdu.data["ZSCALE"]))
                    if name == "IMAGE" and sigma:
                        ratio = f"{step / sigma:.4f}"
                        frac = f"{step / math.sqrt(12.0) / sigma:.4f}"
                rows.append(
                    [
                        name,
                        header["ZCMPTYPE"],
                        header.get("ZQUANTIZ", "NO_DITHER") if quantized else "none (lossless)",
                        " x ".join(str(t) for t in tile),
                        f"{_stored_mib(hdu):.2f}",
                        f"{math.prod(shape) * itemsize / 2**20:.2f}",
                        None if step is None else f"{step:.4g}",
                        None if (ratio is None or sigma is None) else f"{sigma:.4g}",
                        ratio,
                        frac,
                    ]
                )
    except OSError as err:
        raise SimCamValueError(f"{os.fspath(path)!r} is not a readable FITS file: {err}") from None
    columns = ["HDU", "algorithm", "quantization", "tile (rows x cols)", "stored MiB", "pixels MiB",
               "step", "sigma", "step / sigma", "quantization noise / sigma"]  # fmt: skip
    return Table(columns, rows, title=f"FITS compression of {os.path.basename(path)}")


def butler_roundtrip(obj: Any, dataset_type: str, *, storage_class: str | None = None) -> Any:
    """Put an image into a throw-away repository configured like the demo one; return what get returns.

    The repository is created in a temporary folder with `add_image_output_recipes`, so a
    ``preliminary_visit_image`` comes back quantized (``lossy16``) and a ``post_isr_image``
    exact, as a pipeline run on the demo repository would leave them. Use it to measure a
    quality figure on what the Butler returns rather than on the in-memory image.

    Parameters
    ----------
    obj
        An `lsst.images.VisitImage`, `~lsst.images.MaskedImage` or `~lsst.images.Image`.
    dataset_type
        The dataset type name to write it as (its recipe applies).
    storage_class
        Storage class; by default from the type of ``obj``.

    Returns
    -------
    returned
        The object ``butler.get`` returns.

    Raises
    ------
    SimCamValueError
        No storage class known for ``type(obj)``: pass ``storage_class``.

    Examples
    --------
    >>> back = butler_roundtrip(result.exposure, "preliminary_visit_image")  # doctest: +SKIP
    >>> float(np.std(back.image.array - result.exposure.image.array))  # doctest: +SKIP
    0.17...
    """
    from lsst.daf.butler import Butler, Config, DatasetType

    if storage_class is None:
        storage_class = next(
            (sc for cls in type(obj).__mro__ if (sc := _STORAGE_CLASSES.get(cls.__name__)) is not None), None
        )
        if storage_class is None:
            raise SimCamValueError(
                f"No storage class known for a {type(obj).__name__}: pass storage_class= "
                f"(one of {sorted(_STORAGE_CLASSES.values())})."
            )
    width = int(obj.bbox.x.size)
    with tempfile.TemporaryDirectory(prefix="stackclub-roundtrip-") as tmp:
        Butler.makeRepo(tmp, config=Config(add_image_output_recipes({}, width)))
        with Butler.from_config(tmp, writeable=True, run="roundtrip") as butler:
            butler.registry.registerDatasetType(
                DatasetType(dataset_type, (), storage_class, universe=butler.dimensions)
            )
            ref = butler.put(obj, dataset_type, {})
            return butler.get(ref)
