"""Peak-based deblending, mirroring ``lsst.meas.deblender.SourceDeblendTask``.

Detection gives one footprint per connected group of pixels above threshold, and the peaks it
found inside (`SourceDetectionTask`: the local maxima of the PSF-smoothed image).  Two stars
closer than a few PSF widths share one footprint, so the fainter one is lost unless the footprint
is split among its peaks.  For each footprint with several peaks this task

1. keeps the peaks that are real: those whose smoothed signal-to-noise is at least
   ``minPeakSignificance``, that rise at least ``minPeakProminence`` noise units above the lowest
   point on the straight line to any higher peak (their *prominence*; a cheap stand-in for the
   saddle point) and that are not much sharper than the PSF (``maxPeakSharpness``: cosmic rays the
   repair missed).  Rubin's deblender trusts detection's peaks; its culls differ (see the notes);
2. if more than one peak survives, builds one *template* per peak, the SDSS deblender's symmetric
   template (the minimum of each pixel and its mirror image through the peak, clipped at 0),
   which is also what ``meas_deblender`` starts from;
3. shares the parent's pixels among the children in proportion to their templates (flux is
   conserved), giving each child a *heavy footprint*: its own image over the parent's footprint.

The catalog gets Rubin's columns: ``parent`` (0 for a top-level source, else the parent's ``id``),
``deblend_nChild`` (number of children of a parent), ``deblend_nPeaks`` and ``deblend_skipped``.
Parents are kept (as in Rubin's catalogs); a measurement of a child replaces the parent's pixels
by the child's heavy footprint, so the neighbour does not bias it (the job of Rubin's
``NoiseReplacer``).  Hand-written because photutils' ``deblend_sources`` re-detects peaks by
multi-thresholding each segment (milliseconds per source) instead of using detection's peaks.
"""

from __future__ import annotations

__all__ = ("HeavyFootprint", "SourceDeblendConfig", "SourceDeblendTask")

import dataclasses
import math
from typing import Any

import numpy as np
from lsst.pex.config import Config, Field
from lsst.pipe.base import Struct, Task


@dataclasses.dataclass(frozen=True)
class HeavyFootprint:
    """A deblended child's pixels: its share of the parent's flux over the parent's footprint.

    Attributes
    ----------
    x0, y0
        Array coordinates of the cut-out's first pixel.
    image
        The child's flux (the parent's pixels times the child's template share), 0 off the footprint.
    footprint
        Boolean: the parent's footprint pixels, where ``image`` replaces the exposure's pixels.
    """

    x0: int
    y0: int
    image: np.ndarray
    footprint: np.ndarray

    def insert(self, stamp: np.ndarray, sx0: int, sy0: int) -> None:
        """Replace, in place, the footprint's pixels of a stamp whose first pixel is at ``(sy0, sx0)``.

        Parameters
        ----------
        stamp
            The stamp (modified).
        sx0, sy0
            Array coordinates of its first pixel.

        Examples
        --------
        >>> import numpy as np
        >>> hf = HeavyFootprint(1, 1, np.full((2, 2), 5.0), np.array([[True, False], [True, True]]))
        >>> stamp = np.zeros((3, 3))
        >>> hf.insert(stamp, 0, 0)
        >>> stamp.tolist()
        [[0.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 5.0, 5.0]]
        """
        h, w = self.image.shape
        sh, sw = stamp.shape
        ya, yb = max(self.y0, sy0), min(self.y0 + h, sy0 + sh)
        xa, xb = max(self.x0, sx0), min(self.x0 + w, sx0 + sw)
        if ya >= yb or xa >= xb:
            return
        fp = self.footprint[ya - self.y0 : yb - self.y0, xa - self.x0 : xb - self.x0]
        src = self.image[ya - self.y0 : yb - self.y0, xa - self.x0 : xb - self.x0]
        dst = stamp[ya - sy0 : yb - sy0, xa - sx0 : xb - sx0]
        dst[fp] = src[fp]


class SourceDeblendConfig(Config):
    """Configuration for `SourceDeblendTask` (Rubin's ``maxFootprintArea``; ``maxNumberOfPeaks`` differs)."""

    minPeakSignificance = Field[float](
        doc="A peak must have at least this signal-to-noise in the PSF-smoothed image "
        "(the detection threshold's units).",
        default=5.0,
        check=lambda v: v > 0,
    )
    minPeakProminence = Field[float](
        doc="A peak must rise at least this many noise units (of the smoothed image) above the lowest "
        "point of the straight line to a higher peak; lower ones are noise on a neighbour's wing.",
        default=0.5,
        check=lambda v: v >= 0,
    )
    maxPeakSharpness = Field[float](
        doc="A peak whose pixel exceeds this many times its PSF-smoothed value is sharper than the PSF "
        "(a cosmic ray or hot pixel the repair left) and makes no child; a star's ratio is about 2.",
        default=3.5,
        check=lambda v: v > 0,
    )
    maxNumberOfPeaks = Field[int](
        doc="Footprints with more peaks than this are not deblended (flag deblend_skipped); "
        "0 means no limit.  (Rubin's field of this name deblends only the brightest "
        "maxNumberOfPeaks peaks instead, and its default is 0.)",
        default=20,
        check=lambda v: v >= 0,
    )
    maxFootprintArea = Field[int](
        doc="Footprints larger than this many pixels are not deblended (flag deblend_skipped); "
        "0 means no limit.",
        default=10000,
        check=lambda v: v >= 0,
    )
    growFootprint = Field[float](
        doc="Grow each parent footprint by this many PSF sigmas before sharing its pixels, so the "
        "children also own the faint wings the threshold left out.",
        default=2.0,
        check=lambda v: v >= 0,
    )


class SourceDeblendTask(Task):
    """Split footprints holding several significant peaks into children with heavy footprints.

    Examples
    --------
    >>> import numpy as np
    >>> from stackclub.pipe import SourceDetectionTask
    >>> y, x = np.mgrid[0:40, 0:60]
    >>> g = lambda x0, y0, f: f * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / 8.0) / (8 * np.pi)
    >>> image = g(25.0, 20.0, 4000.0) + g(33.0, 20.0, 2000.0)
    >>> det = SourceDetectionTask().run(image, np.full(image.shape, 0.01), psfSigma=2.0)
    >>> len(det.sources), len(det.peaks)
    (1, 2)
    >>> result = SourceDeblendTask().run(image, det.sources, det.peaks, det.labels, psfSigma=2.0,
    ...                                  smoothed=det.smoothed, noise=det.noise)
    >>> result.sources["id", "parent", "deblend_nChild", "x"].pformat()[2:]
    ['  1      0              2  25', '  2      1              0  25', '  3      1              0  33']
    """

    ConfigClass = SourceDeblendConfig
    _DefaultName = "sourceDeblend"
    config: SourceDeblendConfig

    def run(
        self,
        imageArray: np.ndarray,
        sources: Any,
        peaks: Any,
        labels: np.ndarray,
        *,
        psfSigma: float,
        smoothed: np.ndarray,
        noise: float,
    ) -> Struct:
        """Deblend the footprints of ``sources`` among their peaks.

        Parameters
        ----------
        imageArray
            Background-subtracted image.
        sources
            `astropy.table.Table` from `SourceDetectionTask` (one row per footprint: ``id``, ``x``,
            ``y``, ``nPeaks``, footprint box); other columns are copied to the children.
        peaks
            Detection's peaks (``parent``: the footprint's ``id``, ``x``, ``y``, ``significance``).
        labels
            Footprint label image (a footprint's pixels hold its ``id``).
        psfSigma
            PSF Gaussian sigma (pixels): how far a parent footprint is grown.
        smoothed
            Detection's PSF-smoothed image (for the peaks' prominence and sharpness).
        noise
            Noise of the smoothed image (detection's ``noise``).

        Returns
        -------
        result
            ``sources``: the input rows (parents and unblended sources) followed by the children,
            with ``parent``, ``deblend_nChild``, ``deblend_nPeaks``, ``deblend_skipped`` columns;
            ``heavyFootprints``: dict from child ``id`` to `HeavyFootprint`; ``nBlends``.
        """
        from astropy.table import Table
        from scipy import ndimage

        if psfSigma <= 0 or noise <= 0:
            raise ValueError(f"psfSigma and noise must be positive; got {psfSigma} and {noise}.")
        cfg = self.config
        n = len(sources)
        # Plain arrays while working (astropy column access is slow in a loop); one Table at the end.
        cols = {name: np.asarray(sources[name]) for name in sources.colnames}
        cols["parent"] = np.zeros(n, dtype=np.int64)
        cols["deblend_nChild"] = np.zeros(n, dtype=np.int32)
        cols["deblend_nPeaks"] = np.asarray(sources["nPeaks"], dtype=np.int32).copy()
        cols["deblend_skipped"] = np.zeros(n, dtype=bool)
        heavies: dict[int, HeavyFootprint] = {}
        ids = np.asarray(sources["id"], dtype=np.int64)
        peakParent = np.asarray(peaks["parent"], dtype=np.int64)
        peakStart = np.searchsorted(peakParent, ids)
        pad = int(math.ceil(3 * psfSigma)) + 1
        grow = int(round(cfg.growFootprint * psfSigma))
        ny, nx = imageArray.shape
        nextId = int(ids.max()) + 1 if n else 1
        children = []
        for row in np.flatnonzero(cols["deblend_nPeaks"] > 1):
            parentId = int(ids[row])
            y0, y1, x0, x1 = (
                int(sources[c][row]) for c in ("footprint_y0", "footprint_y1", "footprint_x0", "footprint_x1")
            )
            ya, yb = max(y0 - pad, 0), min(y1 + pad, ny)
            xa, xb = max(x0 - pad, 0), min(x1 + pad, nx)
            cut = np.asarray(imageArray[ya:yb, xa:xb], dtype=np.float64)
            fp = labels[ya:yb, xa:xb] == parentId
            sl = slice(peakStart[row], peakStart[row] + cols["deblend_nPeaks"][row])
            candidates = [
                (int(y) - ya, int(x) - xa) for y, x in zip(peaks["y"][sl], peaks["x"][sl], strict=True)
            ]
            kept = self._cullPeaks(cut, smoothed[ya:yb, xa:xb] / noise, candidates, noise)
            nPeaks = len(kept)
            cols["deblend_nPeaks"][row] = nPeaks
            if nPeaks <= 1:
                continue
            if (cfg.maxNumberOfPeaks and nPeaks > cfg.maxNumberOfPeaks) or (
                cfg.maxFootprintArea and int(fp.sum()) > cfg.maxFootprintArea
            ):
                cols["deblend_skipped"][row] = True
                continue
            if grow:
                others = (labels[ya:yb, xa:xb] > 0) & ~fp
                fp = ndimage.binary_dilation(fp, iterations=grow) & ~others
            shares = self._templates(cut, fp, kept)
            cols["deblend_nChild"][row] = nPeaks
            owner = shares.argmax(axis=0)  # the child with the largest share of each pixel
            for k, (pyk, pxk, sig) in enumerate(kept):
                child = {name: col[row] for name, col in cols.items()}
                child.update(
                    id=nextId,
                    x=xa + pxk,
                    y=ya + pyk,
                    parent=parentId,
                    deblend_nChild=0,
                    deblend_nPeaks=1,
                    deblend_skipped=False,
                    peakSignificance=sig,
                    npix=int(np.sum(fp & (owner == k))),
                    nPeaks=1,
                )
                children.append({name: child[name] for name in cols})
                heavies[nextId] = HeavyFootprint(xa, ya, np.where(fp, cut * shares[k], 0.0), fp)
                nextId += 1
        nBlends = int(np.sum(cols["deblend_nChild"] > 0))
        if children:
            cols = {
                name: np.concatenate([col, np.array([c[name] for c in children], dtype=col.dtype)])
                for name, col in cols.items()
            }
        out = Table(cols, meta=sources.meta)
        self.log.info("Deblended %d parents into %d children", nBlends, len(children))
        return Struct(sources=out, heavyFootprints=heavies, nBlends=nBlends)

    def _cullPeaks(
        self, cut: np.ndarray, smooth: np.ndarray, candidates: list[tuple[int, int]], noise: float
    ) -> list[tuple[int, int, float]]:
        """Keep detection's peaks that are significant, prominent and PSF-like, brightest first."""
        cfg = self.config
        kept: list[tuple[int, int, float]] = []
        for y, x in candidates:  # brightest first (detection's order)
            height = float(smooth[y, x])
            if height < cfg.minPeakSignificance:
                continue
            # Peaks much sharper than the PSF (cosmic rays the repair left) make no child: a star's
            # peak pixel is ~2x its PSF-smoothed value; one hot pixel's ~2 pi sigma^2.
            if cut[y, x] > cfg.maxPeakSharpness * height * noise:
                continue
            # Highest "col" on the straight lines to the peaks already kept (all higher).
            col = -np.inf
            for ky, kx, _ in kept:
                m = max(abs(ky - y), abs(kx - x)) + 1
                ly = np.rint(np.linspace(y, ky, m)).astype(int)
                lx = np.rint(np.linspace(x, kx, m)).astype(int)
                col = max(col, float(smooth[ly, lx].min()))
            if height - col >= cfg.minPeakProminence:
                kept.append((y, x, height))
        return kept

    @staticmethod
    def _templates(cut: np.ndarray, fp: np.ndarray, peaks: list[tuple[int, int, float]]) -> np.ndarray:
        """Each child's share of every pixel, from symmetric templates; shape ``(nPeaks, *cut.shape)``."""
        h, w = cut.shape
        yy, xx = np.mgrid[0:h, 0:w]
        data = np.where(fp, cut, 0.0)
        templates = np.empty((len(peaks), h, w))
        for k, (py, px, _) in enumerate(peaks):
            my, mx = 2 * py - yy, 2 * px - xx  # mirror image through the peak
            inside = (my >= 0) & (my < h) & (mx >= 0) & (mx < w)
            mirror = np.zeros_like(data)
            mirror[inside] = data[my[inside], mx[inside]]
            templates[k] = np.clip(np.minimum(data, mirror), 0.0, None)
        total = templates.sum(axis=0)
        # Pixels no template claims (noise below zero, far wings) go to the nearest peak.
        nearest = np.argmin(np.stack([(yy - py) ** 2 + (xx - px) ** 2 for py, px, _ in peaks]), axis=0)
        fallback = (np.arange(len(peaks))[:, None, None] == nearest[None]).astype(float)
        return np.where(total[None] > 0, templates / np.where(total > 0, total, 1.0)[None], fallback)
