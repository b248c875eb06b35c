"""The demo Butler repository: SimCam raws, calibrations, a reference catalog and the truth.

`build_demo_repo` makes (or completes) a repository the way a Rubin operator would:

1. ``Butler.makeRepo`` with a seed config that declares the ``RawExposure`` storage class and
   `~stackclub.simcam.formatters.RawFormatter` (``butler create --seed-config``): `_create_repository`;
2. ``SimCam().register(registry)`` (``butler register-instrument``), the dataset types and RUNs:
   `_register_instrument`;
3. exposure/visit records (what obs_base's ``define-visits`` would insert):
   `~stackclub.simcam.visit_records.define_visits`;
4. raws written as camera-style FITS files and ``butler.ingest``-ed (``butler ingest-raws``):
   `_ingest_raws`;
5. bias, dark, flat, fringe and defects ``butler.put`` into a RUN and *certified* into the
   CALIBRATION collection ``SimCam/calib`` with a validity range (``butler certify-calibrations``):
   `_put_calibrations`;
6. a reference catalog sharded by HTM level 7 (``refcats``, made by
   `~stackclub.simcam.refcat.make_refcat`) and the truth (``SimCam/truth``): `_put_truth_and_refcat`;
7. the CHAINED collection ``SimCam/defaults`` = raws + calibs + refcats + truth: `_chain_defaults`.

Step 6 runs before 4 and 5 (the raws are simulated from its catalog), and 5 and 4 run detector by
detector, so each detector's fixed pattern is computed once.  Every step is idempotent — it looks
first and adds only what is missing — so a second run adds nothing and an interrupted run, run
again, ends with a complete repository. The repository itself
is created in a temporary sibling folder and renamed into place, so a half-created repository is
never left at ``path``.
"""

from __future__ import annotations

__all__ = (
    "DATA_MODEL",
    "DEFAULT_SEED",
    "BuildReport",
    "build_demo_repo",
    "default_demo_repo_path",
    "demo_repo",
)

import dataclasses
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import (
    BadDetectorError,
    DemoRepoError,
    NotADemoRepoError,
    RepoNotWritableError,
    SimCamValueError,
)
from .._render import Table
from .camera import GEOMETRIES, SIMCAM, DetectorGeometry
from .refcat import REFCAT_LEVEL, make_refcat
from .seeds import seeded_rng
from .signature import DetectorSignature
from .sky import simulate_exposure
from .truth import field_radius, make_truth_catalog
from .visit_records import define_visits
from .visits import FIELD_CENTER, Visit, make_visits

if TYPE_CHECKING:
    import astropy.table
    from lsst.daf.butler import Butler, DatasetRef, Timespan

_LOG = logging.getLogger(__name__)

#: What a demo repository holds and how, as this version of Stack Club makes it; a repository
#: recorded with another value is refused with the fix, never silently reused.  Raise it whenever
#: the simulator, the calibrations' units or the datastore configuration change.
#:  1: the first demo repositories (recorded no value);
#:  2: calibrations in ADU with a dark time (legacy IsrTask), lossy16 preliminary_visit_image.
DATA_MODEL = 2

DEFAULT_SEED = 2026
#: Detectors used for a count of N: a 2 x 2 block with the centre first, then the rest.
DETECTOR_ORDER = (0, 1, 3, 4, 2, 5, 6, 7, 8)

RAW_RUN = "SimCam/raw/all"
CALIB_COLLECTION = "SimCam/calib"
CALIB_RUN = "SimCam/calib/20260301"
CURATED_RUN = "SimCam/calib/curated/19700101T000000Z"
REFCAT_CHAIN = "refcats"
REFCAT_RUN = "refcats/simcam"
TRUTH_RUN = "SimCam/truth"
DEFAULTS_CHAIN = "SimCam/defaults"
#: Validity range of the bias, dark, flat and fringe (defects are valid forever, as curated calibs).
CALIB_VALIDITY = ("2026-03-01T00:00:00", "2026-04-01T00:00:00")
REFCAT_NAME = "simcam_refcat"

# Dataset type name -> (dimensions, storage class, is_calibration)
DATASET_TYPES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "raw": (("instrument", "exposure", "detector"), "RawExposure", False),
    "bias": (("instrument", "detector"), "MaskedImageV2", True),
    "dark": (("instrument", "detector"), "MaskedImageV2", True),
    "defects": (("instrument", "detector"), "ArrowAstropy", True),
    "flat": (("instrument", "detector", "physical_filter"), "MaskedImageV2", True),
    "fringe": (("instrument", "detector", "physical_filter"), "MaskedImageV2", True),
    REFCAT_NAME: (("htm7",), "ArrowAstropy", False),
    "simcam_truth": (("instrument", "visit", "detector"), "ArrowAstropy", False),
    "simcam_truth_catalog": (("instrument",), "ArrowAstropy", False),
    "simcam_build_info": (("instrument",), "StructuredDataDict", False),
}


# FITS compression of the calibration images: lossless GZIP_2 (the default) costs ~2 s per
# 2k x 2k masked image here; RICE_1 quantized at 1/16 of the noise, in 64-row tiles, ~0.6 s and
# 3x smaller (7 MiB): what the demo repository uses (see benchmarks/demo_repo_build.py).
def _fast_recipe(geometry: DetectorGeometry) -> dict[str, Any]:
    """RICE_1, quantized at 1/16 of the noise, in tiles of 64 full rows (faster than row tiles)."""
    tile = [min(64, geometry.height), geometry.width]
    quantized = {"dither": "SUBTRACTIVE_DITHER_2", "level": 16.0}
    return {
        "image": {"algorithm": "RICE_1", "quantization": quantized, "tile_shape": tile},
        "variance": {"algorithm": "RICE_1", "quantization": quantized, "tile_shape": tile},
        "mask": {"algorithm": "RICE_1"},
    }


COMPRESSIONS = ("lossy", "lossless")


def _seed_config(compression: str, geometry: DetectorGeometry) -> dict[str, Any]:
    from .formatters import SEED_CONFIG

    config: dict[str, Any] = {
        "storageClasses": dict(SEED_CONFIG["storageClasses"]),
        "datastore": {"formatters": dict(SEED_CONFIG["datastore"]["formatters"])},
    }
    if compression == "lossy":
        generic = "lsst.images.formatters.GenericFormatter"
        formatters = config["datastore"]["formatters"]
        formatters["write_recipes"] = {generic: {"simcam_fast": _fast_recipe(geometry)}}
        for name in ("bias", "dark", "flat", "fringe"):
            formatters[name] = {"formatter": generic, "parameters": {"recipe": "simcam_fast"}}
    from .datastore import add_image_output_recipes  # image outputs: Rubin's lossy16 recipe

    return add_image_output_recipes(config, geometry.width)


# --- report -------------------------------------------------------------------------------------


@dataclasses.dataclass
class BuildReport:
    """What `build_demo_repo` found and did.

    Attributes
    ----------
    path
        The repository.
    created
        Whether this run created the repository.
    added
        Datasets added by this run, per dataset type.
    existing
        Datasets that were already there, per dataset type.
    seconds
        Wall-clock time of the run.
    """

    path: str
    created: bool = False
    added: dict[str, int] = dataclasses.field(default_factory=dict)
    existing: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_added(self) -> int:
        """Total number of datasets added."""
        return sum(self.added.values())

    @property
    def summary(self) -> str:
        """One line: what happened."""
        if self.n_added == 0:
            return f"Demo repository {self.path} is already complete: nothing to do."
        verb = "Created" if self.created else "Completed"
        return f"{verb} demo repository {self.path}: added {self.n_added} datasets in {self.seconds:.1f} s."

    def _table(self) -> Table:
        names = sorted(set(self.added) | set(self.existing))
        rows: list[Sequence[Any]] = [[n, self.added.get(n, 0), self.existing.get(n, 0)] for n in names]
        return Table(["dataset type", "added", "already there"], rows, title=self.summary)

    def __str__(self) -> str:
        return str(self._table())

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()

    def __repr__(self) -> str:
        return f"<BuildReport {self.path!r} added={self.n_added}>"


# --- argument checks ----------------------------------------------------------------------------


def _check_detectors(detectors: int | Iterable[int]) -> list[int]:
    if isinstance(detectors, bool):
        raise BadDetectorError(detectors, SIMCAM.n_detectors)
    if isinstance(detectors, int):
        if not 1 <= detectors <= SIMCAM.n_detectors:
            raise BadDetectorError(detectors, SIMCAM.n_detectors)
        return sorted(DETECTOR_ORDER[:detectors])
    try:
        ids = list(detectors)
    except TypeError:
        raise BadDetectorError(detectors, SIMCAM.n_detectors) from None
    if not ids:
        raise BadDetectorError(ids, SIMCAM.n_detectors)
    for d in ids:
        SIMCAM.check_detector(d)
    if len(set(ids)) != len(ids):
        raise SimCamValueError(f"Detector ids must be distinct, got {ids}.")
    return sorted(ids)


def _check_geometry(geometry: str | DetectorGeometry) -> DetectorGeometry:
    if isinstance(geometry, DetectorGeometry):
        return geometry
    try:
        return GEOMETRIES[geometry]
    except (KeyError, TypeError):
        raise SimCamValueError(
            f"Unknown geometry {geometry!r}: use one of {sorted(GEOMETRIES)} or a DetectorGeometry."
        ) from None


def _check_path(path: Path) -> bool:
    """Return whether ``path`` already holds a repository; raise if it cannot become one."""
    if path.exists():
        if not path.is_dir():
            raise NotADemoRepoError(
                path,
                "This path exists and is a file, not a Butler repository",
                "Choose another path, or delete the file.",
            )
        if (path / "butler.yaml").exists():
            if not os.access(path, os.W_OK):
                raise RepoNotWritableError(
                    path,
                    "This repository is not writable",
                    "Ask for write access, or build a new one elsewhere.",
                )
            return True
        if any(path.iterdir()):
            raise NotADemoRepoError(
                path,
                "This folder exists, is not empty and is not a Butler repository (no butler.yaml)",
                "Pass a new or empty folder, or the path of an existing demo repository.",
            )
    parent = path if path.exists() else path.parent
    while not parent.exists():
        parent = parent.parent
    try:  # os.access says yes to root even on read-only mounts: try for real.
        probe = tempfile.mkdtemp(prefix=".stackclub-probe-", dir=parent)
        os.rmdir(probe)
    except OSError as err:
        raise RepoNotWritableError(
            path,
            f"Cannot create the repository here: {parent} is not writable ({err.strerror})",
            "Choose a path in a writable folder (e.g. under your home or a temporary folder).",
        ) from None
    return False


# --- helpers ------------------------------------------------------------------------------------


def _remove_stale_partials(path: Path) -> None:
    """Remove half-created repositories left next to ``path`` by a build killed while creating it."""
    if path.parent.exists():
        for stale in path.parent.glob(f"_{path.name.replace('.', '_')}_partial_*"):
            shutil.rmtree(stale, ignore_errors=True)


def _create_repository(
    path: Path, compression: str, geometry: DetectorGeometry, registry: str | None = None
) -> None:
    """Step 1: create an empty repository at ``path``, atomically (made aside, then renamed).

    The seed config declares the ``RawExposure`` storage class, its formatter and the calibrations'
    FITS compression (``butler create --seed-config``).
    """
    from lsst.daf.butler import Butler, Config

    path.parent.mkdir(parents=True, exist_ok=True)
    # No dot in the name: daf_butler would take what follows it for a config file extension.
    safe = path.name.replace(".", "_")
    _remove_stale_partials(path)
    tmp = Path(tempfile.mkdtemp(prefix=f"_{safe}_partial_", dir=path.parent))
    try:
        seed = _seed_config(compression, geometry)
        if registry is not None:
            from ._postgres import prepare_registry, registry_config

            prepare_registry(registry)
            seed.update(registry_config(registry))
        Butler.makeRepo(str(tmp), config=Config(seed))
        if path.exists():  # an empty folder: replace it
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _register_instrument(butler: Butler) -> None:
    """Step 2: the instrument (``butler register-instrument``), the dataset types and the RUNs."""
    from lsst.daf.butler import CollectionType, DatasetType

    from .instrument import SimCam

    SimCam().register(butler.registry)
    for name, (dimensions, storage_class, is_calib) in DATASET_TYPES.items():
        dataset_type = DatasetType(
            name, dimensions, storage_class, universe=butler.dimensions, isCalibration=is_calib
        )
        butler.registry.registerDatasetType(dataset_type)
    registry = butler.registry
    for run in (RAW_RUN, CALIB_RUN, CURATED_RUN, REFCAT_RUN, TRUTH_RUN):
        registry.registerRun(run)
    registry.registerCollection(CALIB_COLLECTION, CollectionType.CALIBRATION)
    registry.registerCollection(REFCAT_CHAIN, CollectionType.CHAINED)
    registry.setCollectionChain(REFCAT_CHAIN, [REFCAT_RUN])


def _chain_defaults(butler: Butler) -> None:
    """Step 7: the CHAINED collection ``SimCam/defaults`` = raws + calibs + refcats + truth."""
    from lsst.daf.butler import CollectionType

    butler.registry.registerCollection(DEFAULTS_CHAIN, CollectionType.CHAINED)
    butler.registry.setCollectionChain(DEFAULTS_CHAIN, [RAW_RUN, CALIB_COLLECTION, REFCAT_CHAIN, TRUTH_RUN])


def _existing(butler: Butler, name: str, collection: str) -> set[tuple[Any, ...]]:
    """Return the data IDs (value tuples) of the datasets of one type already in a collection."""
    refs = butler.query_datasets(name, collections=collection, find_first=False, explain=False, limit=None)
    order = DATASET_TYPES[name][0]
    return {tuple(ref.dataId[d] for d in order) for ref in refs}


# --- the builder --------------------------------------------------------------------------------


@dataclasses.dataclass
class _Build:
    """What every build step shares: the Butler, the settings, what is there, what was added."""

    butler: Butler
    root: Path
    seed: int
    geometry: DetectorGeometry
    visits: list[Visit]
    detectors: list[int]
    stars_per_detector: int
    report: BuildReport
    have: dict[str, set[tuple[Any, ...]]] = dataclasses.field(default_factory=dict)
    certified: dict[str, set[tuple[Any, ...]]] = dataclasses.field(default_factory=dict)
    _signature: DetectorSignature | None = None
    _catalog: astropy.table.Table | None = None

    def missing(self, name: str, key: tuple[Any, ...]) -> bool:
        """Return whether dataset ``name`` with data ID ``key`` is not there (or not certified)."""
        return key not in self.have[name] or (name in self.certified and key not in self.certified[name])

    def put(self, obj: Any, name: str, run: str, data_id: dict[str, Any], key: tuple[Any, ...]) -> DatasetRef:
        """Put ``obj`` unless it is there already; return its reference either way."""
        if key in self.have[name]:
            ref = self.butler.find_dataset(name, data_id, collections=run)
            assert ref is not None
            return ref
        ref = self.butler.put(obj, name, data_id, run=run)
        self.added(name)
        return ref

    def certify(self, name: str, ref: DatasetRef, key: tuple[Any, ...], timespan: Timespan) -> None:
        """Certify a calibration into ``SimCam/calib`` unless it is already."""
        if key not in self.certified[name]:
            self.butler.registry.certify(CALIB_COLLECTION, [ref], timespan)

    def added(self, name: str) -> None:
        """Count one dataset of type ``name`` as added by this run."""
        self.report.added[name] = self.report.added.get(name, 0) + 1

    def signature(self, detector: int) -> DetectorSignature:
        """Return the detector's fixed pattern (one detector's arrays are kept at a time)."""
        if self._signature is None or self._signature.detector_id != detector:
            self._signature = DetectorSignature(self.seed, detector, self.geometry)
        return self._signature

    @property
    def catalog(self) -> astropy.table.Table:
        """The truth catalog of the field, made on first use (only a build with work to do needs it)."""
        if self._catalog is None:
            geom = self.geometry
            radius = field_radius(geom)
            detector_area = (geom.width * geom.height) * (SIMCAM.pixel_scale_arcsec / 3600.0) ** 2
            n_stars = int(self.stars_per_detector * math.pi * radius**2 / detector_area)
            self._catalog = make_truth_catalog(
                seeded_rng(self.seed, "catalog"),
                center=FIELD_CENTER,
                radius_deg=radius,
                n_stars=n_stars,
                n_galaxies=int(0.4 * n_stars),
            )
        return self._catalog


def build_demo_repo(
    path: str | os.PathLike[str],
    *,
    visits: int = 3,
    detectors: int | Sequence[int] = 4,
    seed: int = DEFAULT_SEED,
    bands: Sequence[str] = ("r", "z"),
    geometry: str | DetectorGeometry = "default",
    exptime: float = 30.0,
    stars_per_detector: int = 150,
    psf_profile: str = "gaussian",
    compression: str = "lossy",
    progress: bool = True,
    registry: str | None = None,
) -> BuildReport:
    """Build (or complete) a SimCam demo repository.

    Parameters
    ----------
    path
        Repository folder: new, empty, or an existing demo repository (which is completed).
    visits
        Number of visits (= exposures), cycling through ``bands``.
    detectors
        A count (1-9: a 2 x 2 block of the 3 x 3 mosaic comes first) or a list of detector ids.
    seed
        Seed of everything random; the same seed gives the same repository.
    bands
        Bands of the visits (flats are made for each; fringes for z and y).
    geometry
        ``"default"`` (2048 x 2048 imaging pixels per detector), ``"small"`` (256 x 256, for tests),
        ``"hsc"`` (2048 x 4176) or a `DetectorGeometry`.
    exptime
        Exposure time of each visit (seconds).
    stars_per_detector
        Star density, as stars per detector area (galaxies are 40 % of that).
    psf_profile
        ``"gaussian"`` or ``"moffat"``.
    compression
        FITS compression of the calibration images for a new repository: ``"lossy"`` (RICE_1,
        quantized at 1/16 of the noise; fast) or ``"lossless"`` (GZIP_2, the datastore default).
    progress
        Show a tqdm progress bar.
    registry
        For a new repository: ``postgresql://USER@HOST:PORT/DBNAME`` puts its registry in that
        (empty) PostgreSQL database, shared by every job of a batch run; the files stay in ``path``.
        `None` (the default): SQLite inside the repository.

    Returns
    -------
    report
        A `BuildReport` (renders as a table in a notebook).

    Raises
    ------
    NotADemoRepoError
        ``path`` is a file, or a non-empty folder that is not a Butler repository.
    RepoNotWritableError
        ``path`` (or its parent folder) is not writable.
    BadDetectorError, SimCamValueError
        Bad arguments (checked before anything is created), or an existing repository that was built
        with another seed or geometry.

    Examples
    --------
    >>> report = build_demo_repo(tmp / "repo", visits=1, detectors=1, geometry="small",
    ...                          progress=False)  # doctest: +SKIP
    >>> print(report.summary)  # doctest: +SKIP
    Created demo repository .../repo: added 9 datasets in 6.1 s.
    """
    t0 = time.perf_counter()
    # Check everything before touching the file system.
    if isinstance(visits, bool) or not isinstance(visits, int) or visits < 1:
        raise SimCamValueError(f"visits must be a positive integer, got {visits!r}.")
    detector_ids = _check_detectors(detectors)
    geom = _check_geometry(geometry)
    bands = tuple(bands.split(",")) if isinstance(bands, str) else tuple(bands)
    if compression not in COMPRESSIONS:
        raise SimCamValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}.")
    if not exptime > 0:
        raise SimCamValueError(f"exptime must be > 0 seconds, got {exptime!r}.")
    visit_list = make_visits(
        seeded_rng(seed, "visits"), visits, bands, exptime=exptime, psf_profile=psf_profile
    )
    if registry is not None:
        from ._postgres import registry_config

        registry_config(registry)  # a bad URL fails here, before anything is created
    root = Path(path).expanduser().absolute()
    exists = _check_path(root)

    from lsst.daf.butler import Butler

    report = BuildReport(path=str(root), created=not exists)
    _remove_stale_partials(root)
    if not exists:
        _LOG.info("Creating a Butler repository at %s", root)
        _create_repository(root, compression, geom, registry)  # step 1
    butler = Butler.from_config(str(root), writeable=True)
    try:
        _register_instrument(butler)  # step 2
        build_info = {
            "data_model": DATA_MODEL,
            "seed": int(seed),
            "geometry": dataclasses.asdict(geom),
            "stars_per_detector": int(stars_per_detector),
            "psf_profile": psf_profile,
        }
        _check_build_info(butler, root, build_info)
        define_visits(butler, visit_list, detector_ids, geom)  # step 3
        build = _Build(butler, root, seed, geom, visit_list, detector_ids, int(stars_per_detector), report)
        _take_stock(build)
        bar = _progress_bar_class()(
            total=len(detector_ids) + 1,
            desc="SimCam demo repository",
            unit="step",
            disable=not progress,
            leave=False,
        )
        try:
            _put_truth_and_refcat(build)  # step 6 first: the raws are simulated from its catalog
            bar.update()
            for detector in detector_ids:  # detector-major: each detector's signature is made once
                _put_calibrations(build, detector)  # step 5
                _ingest_raws(build, detector)  # step 4
                bar.update()
        finally:
            bar.close()
        _chain_defaults(butler)  # step 7
    finally:
        shutil.rmtree(root / ".staging", ignore_errors=True)
        butler.close()
    report.seconds = time.perf_counter() - t0
    _LOG.info("%s", report.summary)
    return report


def _take_stock(build: _Build) -> None:
    """Find the datasets (and certifications) already in the repository."""
    runs = {
        "raw": RAW_RUN,
        "bias": CALIB_RUN,
        "dark": CALIB_RUN,
        "flat": CALIB_RUN,
        "fringe": CALIB_RUN,
        "defects": CURATED_RUN,
        "simcam_truth": TRUTH_RUN,
        "simcam_truth_catalog": TRUTH_RUN,
        REFCAT_NAME: REFCAT_RUN,
    }
    build.have = {name: _existing(build.butler, name, run) for name, run in runs.items()}
    build.certified = {
        name: _existing(build.butler, name, CALIB_COLLECTION)
        for name in ("bias", "dark", "flat", "fringe", "defects")
    }
    build.report.existing = {n: len(s) for n, s in build.have.items() if s}


def _put_truth_and_refcat(build: _Build) -> None:
    """Step 6: the truth catalog (``SimCam/truth``) and the reference catalog's htm7 shards."""
    key = (SIMCAM.name,)
    if not build.missing("simcam_truth_catalog", key) and build.have[REFCAT_NAME]:
        return
    build.put(build.catalog, "simcam_truth_catalog", TRUTH_RUN, {"instrument": SIMCAM.name}, key)
    for pix, shard in make_refcat(build.catalog, build.seed).items():
        build.put(shard, REFCAT_NAME, REFCAT_RUN, {f"htm{REFCAT_LEVEL}": pix}, (pix,))


def _put_calibrations(build: _Build, detector: int) -> None:
    """Step 5: one detector's defects, bias, dark, flats and fringes, put and certified."""
    from lsst.daf.butler import Timespan

    from .calibs import simulate_calibs

    instrument = SIMCAM.name
    key = (instrument, detector)
    data_id = {"instrument": instrument, "detector": detector}
    if build.missing("defects", key):  # curated: valid forever
        ref = build.put(build.signature(detector).defects_table(), "defects", CURATED_RUN, data_id, key)
        build.certify("defects", ref, key, Timespan(None, None))
    validity = Timespan(*(_tai(t) for t in CALIB_VALIDITY))
    if build.missing("bias", key) or build.missing("dark", key):
        signature = build.signature(detector)
        calibs = simulate_calibs(
            build.geometry, detector_id=detector, bands=(), seed=build.seed, signature=signature
        )
        for name in ("bias", "dark"):
            build.certify(name, build.put(calibs[name], name, CALIB_RUN, data_id, key), key, validity)
    for pf in sorted({v.physical_filter for v in build.visits}):
        band = pf.split("-")[1].lower()
        names = ("flat", "fringe") if band in ("z", "y") else ("flat",)
        filter_key = (instrument, detector, pf)
        if not any(build.missing(n, filter_key) for n in names):
            continue
        calibs = simulate_calibs(
            build.geometry,
            seeded_rng(build.seed, "calib", detector, SIMCAM.bands.index(band) + 1),
            detector_id=detector,
            bands=(band,),
            seed=build.seed,
            signature=build.signature(detector),
        )
        for name in names:
            filter_id = {**data_id, "physical_filter": pf}
            ref = build.put(calibs[name][pf], name, CALIB_RUN, filter_id, filter_key)
            build.certify(name, ref, filter_key, validity)


def _ingest_raws(build: _Build, detector: int) -> None:
    """Step 4: one detector's raws, written as camera-style FITS files and ingested, and their truth."""
    from lsst.daf.butler import DatasetRef, FileDataset

    from .formatters import RawFormatter

    instrument = SIMCAM.name
    for visit in build.visits:
        key = (instrument, visit.exposure_id, detector)
        if not (build.missing("raw", key) or build.missing("simcam_truth", key)):
            continue
        raw, truth = simulate_exposure(
            build.geometry,
            detector_id=detector,
            visit=visit,
            catalog=build.catalog,
            seed=build.seed,
            signature=build.signature(detector),
        )
        if build.missing("raw", key):
            # Written as the camera would, then ingested (never into the datastore by hand).
            staging = build.root / ".staging"
            staging.mkdir(exist_ok=True)
            file = staging / f"SC_{visit.exposure_id}_{detector:03d}.fits"
            raw.write_fits(file)
            data_id = build.butler.registry.expandDataId(
                instrument=instrument, exposure=visit.exposure_id, detector=detector
            )
            ref = DatasetRef(build.butler.get_dataset_type("raw"), data_id, run=RAW_RUN)
            build.butler.ingest(FileDataset(str(file), [ref], formatter=RawFormatter), transfer="move")
            build.added("raw")
        truth_id = {"instrument": instrument, "visit": visit.exposure_id, "detector": detector}
        build.put(truth, "simcam_truth", TRUTH_RUN, truth_id, key)


def _tai(isot: str) -> Any:
    from astropy.time import Time

    return Time(isot, scale="utc").tai


def _check_build_info(butler: Butler, root: Path, info: dict[str, Any]) -> None:
    """Record the build's data model, seed and geometry, or check them against the recorded ones."""
    ref = butler.find_dataset("simcam_build_info", {"instrument": SIMCAM.name}, collections=TRUTH_RUN)
    if ref is None:
        butler.put(info, "simcam_build_info", {"instrument": SIMCAM.name}, run=TRUTH_RUN)
        return
    recorded = butler.get(ref)
    if recorded.get("data_model") != info["data_model"]:
        raise DemoRepoError(
            root,
            f"This demo repository was made by another version of Stack Club (data model "
            f"{recorded.get('data_model', 1)!r}; this version makes {info['data_model']!r}): its "
            "calibrations, exposure records or datastore configuration differ from what the teaching "
            "pipeline now expects",
            f"Remove it (rm -r {root}) and run the same command again to build a new one.",
        )
    mismatched = {k: (recorded.get(k), v) for k, v in info.items() if recorded.get(k) != v}
    if mismatched:
        details = ", ".join(
            f"{k}: repository has {old!r}, asked for {new!r}" for k, (old, new) in mismatched.items()
        )
        raise DemoRepoError(
            root,
            f"This demo repository was built with other settings ({details})",
            "Build with the same settings to complete it, or choose a new path.",
        )


# --- the default repository ---------------------------------------------------------------------


def _progress_bar_class() -> type:
    """Return tqdm's notebook widget class when ipywidgets is installed, else its text bar.

    ``tqdm.auto`` without ipywidgets warns "IProgress not found" in every notebook.
    """
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm


def default_demo_repo_path() -> Path:
    """Where `demo_repo` keeps the default repository.

    ``$STACKCLUB_DEMO_REPO`` if set; else ``<checkout>/demo_repo`` when Stack Club runs from a git
    checkout (the folder is git-ignored); else ``~/.stackclub/demo_repo``.

    Examples
    --------
    >>> import os
    >>> os.environ["STACKCLUB_DEMO_REPO"] = "/tmp/somewhere"
    >>> str(default_demo_repo_path())
    '/tmp/somewhere'
    >>> del os.environ["STACKCLUB_DEMO_REPO"]
    """
    env = os.environ.get("STACKCLUB_DEMO_REPO")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / ".git").exists() and (checkout / "pyproject.toml").exists():
        return checkout / "demo_repo"
    return Path.home() / ".stackclub" / "demo_repo"


def demo_repo(path: str | os.PathLike[str] | None = None, *, progress: bool = True) -> str:
    """Return the path of the default demo repository, building or completing it first if needed.

    Every notebook starts with ``repo = stackclub.simcam.demo_repo()`` and then
    ``Butler.from_config(repo, collections="SimCam/defaults")``.

    Parameters
    ----------
    path
        Use this repository instead of `default_demo_repo_path`.
    progress
        Show a progress bar while building.

    Returns
    -------
    path
        The repository path, as a string.
    """
    root = Path(path) if path is not None else default_demo_repo_path()
    build_demo_repo(root, progress=progress)
    return str(root)
