"""The exposure and visit records of the demo repository: what ``butler define-visits`` would insert.

A Rubin repository learns about exposures when raws are ingested (``butler ingest-raws`` reads
each raw's header through the instrument's metadata translator) and about visits from obs_base's
``define-visits``, which groups exposures into visits and gives each visit, and each detector in
it, a *region* on the sky. `define_visits` inserts the same records for SimCam's planned visits
(`~stackclub.simcam.visits.make_visits`) directly, with regions from the pointing the pipeline
knows before astrometry: the commanded one, without the pointing error.
"""

from __future__ import annotations

__all__ = ("define_visits",)

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .camera import SIMCAM, DetectorGeometry
from .visits import Visit, true_wcs

if TYPE_CHECKING:
    from lsst.daf.butler import Butler


def _polygon(wcs: Any, width: int, height: int, pad: float) -> Any:
    from lsst.sphgeom import ConvexPolygon, LonLat, UnitVector3d

    xs = np.array([-pad, width + pad, width + pad, -pad]) - 0.5
    ys = np.array([-pad, -pad, height + pad, height + pad]) - 0.5
    ra, dec = wcs.all_pix2world(xs, ys, 0)
    return ConvexPolygon(
        [UnitVector3d(LonLat.fromDegrees(float(a), float(d))) for a, d in zip(ra, dec, strict=True)]
    )


def _nominal_wcs(visit: Visit, detector_id: int, geometry: DetectorGeometry) -> Any:
    """Return what the pipeline knows before astrometry: the commanded pointing, no rotation error."""
    nominal = dataclasses.replace(visit, true_ra=visit.ra, true_dec=visit.dec, true_rotation_deg=0.0)
    return true_wcs(nominal, detector_id, geometry)


def define_visits(
    butler: Butler, visits: Sequence[Visit], detectors: Sequence[int], geometry: DetectorGeometry
) -> None:
    """Insert the exposure and visit records of SimCam visits (what ``define-visits`` would insert).

    For each visit: its ``day_obs``, ``group``, ``exposure`` and ``visit`` records (one exposure
    per visit, same id), the ``visit_definition`` and ``visit_system_membership`` that tie them,
    and a ``visit_detector_region`` for each detector.  The visit's region covers the whole
    camera, so it does not depend on which detectors are simulated.  Records already there are
    left as they are (``syncDimensionData``), so running it again adds nothing.

    Parameters
    ----------
    butler
        A writeable Butler whose registry knows the SimCam instrument
        (``SimCam().register(butler.registry)``).
    visits
        The visits (`~stackclub.simcam.visits.make_visits`).
    detectors
        The detectors that get a ``visit_detector_region``.
    geometry
        The detectors' pixel layout (it sets the regions' size).

    Examples
    --------
    >>> visits = make_visits(seeded_rng(2026, "visits"), 3, ("r", "z"))  # doctest: +SKIP
    >>> define_visits(butler, visits, [0, 1, 3, 4], DEFAULT_GEOMETRY)  # doctest: +SKIP
    >>> butler.query_dimension_records("visit")[0].physical_filter  # doctest: +SKIP
    'SimCam-R'
    """
    from astropy.time import Time, TimeDelta
    from lsst.daf.butler import Timespan
    from lsst.sphgeom import ConvexPolygon

    registry = butler.registry
    instrument = SIMCAM.name
    pad = 50.0  # pixels: covers the pointing error
    with registry.transaction():
        for v in visits:
            begin = Time(v.datetime_begin, scale="utc").tai
            span = Timespan(begin, begin + TimeDelta(v.exptime, format="sec"))
            day = str(v.day_obs)
            day_begin = Time(f"{day[:4]}-{day[4:6]}-{day[6:]}T10:00:00", scale="utc").tai
            registry.syncDimensionData(
                "day_obs",
                {
                    "instrument": instrument,
                    "id": v.day_obs,
                    "timespan": Timespan(day_begin, day_begin + TimeDelta(1.0, format="jd")),
                },
            )
            group = f"SC_{v.day_obs}_{v.seq_num:06d}"
            registry.syncDimensionData("group", {"instrument": instrument, "name": group})
            zenith = math.degrees(math.acos(1.0 / v.airmass))
            registry.syncDimensionData(
                "exposure",
                {
                    "instrument": instrument,
                    "id": v.exposure_id,
                    "day_obs": v.day_obs,
                    "group": group,
                    "physical_filter": v.physical_filter,
                    "obs_id": group,
                    "exposure_time": v.exptime,
                    "dark_time": v.dark_time,
                    "observation_type": "science",
                    "observation_reason": "science",
                    "seq_num": v.seq_num,
                    "seq_start": v.seq_num,
                    "seq_end": v.seq_num,
                    "target_name": "SIMFIELD",
                    "science_program": "stackclub",
                    "tracking_ra": v.ra,
                    "tracking_dec": v.dec,
                    "sky_angle": 0.0,
                    "azimuth": 0.0,
                    "zenith_angle": zenith,
                    "has_simulated": True,
                    "can_see_sky": True,
                    "timespan": span,
                },
            )
            # The visit's region covers the whole camera, so it does not depend on which
            # detectors this build simulates.
            corners = []
            for d in range(SIMCAM.n_detectors):
                corners.extend(
                    _polygon(_nominal_wcs(v, d, geometry), geometry.width, geometry.height, pad).getVertices()
                )
            registry.syncDimensionData(
                "visit",
                {
                    "instrument": instrument,
                    "id": v.exposure_id,
                    "day_obs": v.day_obs,
                    "physical_filter": v.physical_filter,
                    "name": group,
                    "seq_num": v.seq_num,
                    "exposure_time": v.exptime,
                    "target_name": "SIMFIELD",
                    "observation_reason": "science",
                    "science_program": "stackclub",
                    "azimuth": 0.0,
                    "zenith_angle": zenith,
                    "region": ConvexPolygon.convexHull(corners),
                    "timespan": span,
                },
            )
            registry.syncDimensionData(
                "visit_definition",
                {"instrument": instrument, "exposure": v.exposure_id, "visit": v.exposure_id},
            )
            registry.syncDimensionData(
                "visit_system_membership",
                {"instrument": instrument, "visit_system": 0, "visit": v.exposure_id},
            )
            for d in detectors:
                registry.syncDimensionData(
                    "visit_detector_region",
                    {
                        "instrument": instrument,
                        "visit": v.exposure_id,
                        "detector": d,
                        "region": _polygon(
                            _nominal_wcs(v, d, geometry), geometry.width, geometry.height, pad
                        ),
                    },
                )
