"""Peak-based deblending, mirroring ``lsst.meas.deblender.SourceDeblendTask``.

Detection gives one footprint per connected group of pixels above threshold, and one peak per
footprint (`SourceDetectionTask`).  Two stars closer than a few PSF widths share one footprint, so
the fainter one is lost unless the footprint is split.  For each footprint this task

1. finds the local maxima of the PSF-smoothed image inside it (``scipy.ndimage.maximum_filter``),
   keeps those whose smoothed signal-to-noise is at least ``minPeakSignificance`` and that rise at
   least ``minPeakProminence`` noise units above the lowest point on the straight line to any
   higher peak (their *prominence*; a cheap stand-in for the saddle point) and that are not much
   sharper than the PSF (``maxPeakSharpness``: cosmic rays the repair missed);
2. if more than one peak survives, builds one *template* per peak, the SDSS deblender's symmetric
   template (the minimum of each pixel and its mirror image through the peak, clipped at 0),
   which is also what Rubin's ``meas_deblender`` (``SourceDeblendTask``) starts from;
3. shares the parent's pixels among the children in proportion to their templates (flux is
   conserved), giving each child a *heavy footprint*: its own image over the parent's footprint.

The catalog gets Rubin's columns: ``parent`` (0 for a top-level source, else the parent's ``id``),
``deblend_nChild`` (number of children of a parent), ``deblend_nPeaks`` and ``deblend_skipped``.
Parents are kept (as in Rubin's catalogs); a measurement of a child replaces the parent's pixels
by the child's heavy footprint, so the neighbour does not bias it (the job of Rubin's
``NoiseReplacer``).

Hand-written because photutils' ``deblend_sources`` (multi-thresholding of every segment) costs
milliseconds per source on a full frame, while only the few footprints with several peaks need
any work; this task smooths and searches each footprint's small cut-out only.
"""

from __future__ import annotations

__all__ = ("HeavyFootprint", "SourceDeblendConfig", "SourceDeblendTask")

import dataclasses
import math
from typing import Any

import numpy as np
from lsst.pex.config import Config, Field
from lsst.pipe.base import Struct, Task

from .detection import gaussianKernel1d


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


class _SmoothingMatrix:
    """Gaussian smoothing of small cut-outs as two matrix products, ``K[:h, :h] @ cut @ K[:w, :w]``.

    On the ~30 x 30 cut-outs of footprints this is several times cheaper than
    ``scipy.ndimage.gaussian_filter``, whose cost there is mostly per call.  Zero outside the
    cut-out (detection's ``mode="constant"``); the kernel reaches 3 sigma, as detection's.
    """

    def __init__(self, sigma: float) -> None:
        self.kernel = gaussianKernel1d(sigma)  # detection's kernel, normalized, 3 sigma wide
        self.matrix = np.zeros((0, 0))

    def smooth(self, cut: np.ndarray) -> np.ndarray:
        h, w = cut.shape
        if max(h, w) > self.matrix.shape[0]:
            # A band matrix: row i holds the kernel centred on column i.
            r = self.kernel.size // 2
            d = np.subtract.outer(np.arange(max(h, w, 64)), np.arange(max(h, w, 64)))
            self.matrix = np.where(np.abs(d) <= r, self.kernel[np.clip(d + r, 0, 2 * r)], 0.0)
        return self.matrix[:h, :h] @ cut @ self.matrix[:w, :w]


class SourceDeblendConfig(Config):
    """Configuration for `SourceDeblendTask` (``maxNumberOfPeaks``, ``maxFootprintArea`` as in Rubin)."""

    minPeakSignificance = Field[float](
        doc="A peak must have at least this signal-to-noise in the PSF-smoothed image "
        "(the detection threshold's units).",
        default=5.0,
        check=lambda v: v > 0,
    )
    minPeakProminence = Field[float](
        doc="A peak must rise at least this many noise units (of the smoothed image) above the lowest "
        "point of the straight line to a higher peak; lower ones are noise on a neighbour's wing.",
        default=1.5,
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
        "0 means no limit.",
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
    >>> from scipy import ndimage
    >>> from astropy.table import Table
    >>> y, x = np.mgrid[0:40, 0:60]
    >>> g = lambda x0, y0, f: f * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / 8.0) / (8 * np.pi)
    >>> image = g(25.0, 20.0, 4000.0) + g(33.0, 20.0, 2000.0)
    >>> labels, _ = ndimage.label(image > 1.0)
    >>> sources = Table({"id": [1], "x": [25], "y": [20], "npix": [int((labels > 0).sum())]})
    >>> result = SourceDeblendTask().run(image, sources, labels, psfSigma=2.0, noise=0.05)
    >>> result.sources["id", "parent", "deblend_nChild", "x"].pformat()[2:]
    ['  1      0              2  25', '  2      1              0  25', '  3      1              0  33']
    """

    ConfigClass = SourceDeblendConfig
    _DefaultName = "deblend"
    config: SourceDeblendConfig

    def run(
        self,
        imageArray: np.ndarray,
        sources: Any,
        labels: np.ndarray,
        *,
        psfSigma: float,
        noise: float,
        badArray: np.ndarray | None = None,
    ) -> Struct:
        """Deblend the footprints of ``sources``.

        Parameters
        ----------
        imageArray
            Background-subtracted image.
        sources
            `astropy.table.Table` from `SourceDetectionTask`: ``id``, ``x``, ``y`` (peak pixel)
            and ``npix``; other columns are copied to the children.
        labels
            Footprint label image (0: not detected); the label under each source's peak is its
            footprint.
        psfSigma
            PSF Gaussian sigma (pixels): the smoothing kernel for the peak search.
        noise
            Noise of the PSF-smoothed image (`SourceDetectionTask`'s ``noise``).
        badArray
            Pixels that cannot host a peak (saturated, bad, no data).

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
        cols["deblend_nPeaks"] = np.ones(n, dtype=np.int32)
        cols["deblend_skipped"] = np.zeros(n, dtype=bool)
        heavies: dict[int, HeavyFootprint] = {}
        if n == 0:
            return Struct(sources=Table(cols, meta=sources.meta), heavyFootprints=heavies, nBlends=0)
        px = np.asarray(sources["x"], dtype=np.int64)
        py = np.asarray(sources["y"], dtype=np.int64)
        lab = labels[py, px]
        boxNames = ("footprint_y0", "footprint_y1", "footprint_x0", "footprint_x1")
        if all(c in sources.colnames for c in boxNames):
            # Detection's footprint boxes: no pass over the whole label image.
            boxes = np.column_stack([np.asarray(sources[c], dtype=np.int64) for c in boxNames])
        else:
            found = ndimage.find_objects(labels)
            boxes = np.array(
                [
                    (f[0].start, f[0].stop, f[1].start, f[1].stop) if f is not None else (0, 0, 0, 0)
                    for f in found
                ]
                or [(0, 0, 0, 0)],
                dtype=np.int64,
            )[np.clip(lab - 1, 0, None)]
        ids = np.asarray(sources["id"], dtype=np.int64)
        pad = int(math.ceil(3 * psfSigma)) + 1
        smoother = _SmoothingMatrix(psfSigma)
        grow = int(round(cfg.growFootprint * psfSigma))
        ny, nx = imageArray.shape
        nextId = int(np.max(sources["id"])) + 1
        children = []
        for row in range(n):
            label = int(lab[row])
            y0, y1, x0, x1 = (int(v) for v in boxes[row])
            if label <= 0 or (y1 - y0) * (x1 - x0) < 4:
                continue
            ya, yb = max(y0 - pad, 0), min(y1 + pad, ny)
            xa, xb = max(x0 - pad, 0), min(x1 + pad, nx)
            cut = np.asarray(imageArray[ya:yb, xa:xb], dtype=np.float64)
            fp = labels[ya:yb, xa:xb] == label
            peaks = self._findPeaks(
                cut, fp, smoother, noise, None if badArray is None else badArray[ya:yb, xa:xb]
            )
            nPeaks = len(peaks)
            if nPeaks <= 1:
                continue
            cols["deblend_nPeaks"][row] = nPeaks
            area = int(fp.sum())
            if (cfg.maxNumberOfPeaks and nPeaks > cfg.maxNumberOfPeaks) or (
                cfg.maxFootprintArea and area > cfg.maxFootprintArea
            ):
                cols["deblend_skipped"][row] = True
                continue
            if grow:
                others = (labels[ya:yb, xa:xb] > 0) & ~fp
                fp = ndimage.binary_dilation(fp, iterations=grow) & ~others
            shares = self._templates(cut, fp, peaks)
            cols["deblend_nChild"][row] = nPeaks
            parentId = int(ids[row])
            owner = shares.argmax(axis=0)  # the child with the largest share of each pixel
            for k, (pyk, pxk, sig) in enumerate(peaks):
                child = {name: col[row] for name, col in cols.items()}
                child.update(
                    id=nextId,
                    x=xa + pxk,
                    y=ya + pyk,
                    parent=parentId,
                    deblend_nChild=0,
                    deblend_nPeaks=1,
                    deblend_skipped=False,
                )
                if "peakSignificance" in child:
                    child["peakSignificance"] = sig
                if "npix" in child:
                    child["npix"] = int(np.sum(fp & (owner == k)))
                children.append(child)
                heavies[nextId] = HeavyFootprint(xa, ya, np.where(fp, cut * shares[k], 0.0), fp)
                nextId += 1
        nBlends = int(np.sum(cols["deblend_nChild"] > 0))
        if children:
            cols = {
                name: np.concatenate([col, np.array([c[name] for c in children], dtype=col.dtype)])
                for name, col in cols.items()
            }
        out = Table(cols, meta=sources.meta)
        for name in sources.colnames:
            if sources[name].unit is not None:
                out[name].unit = sources[name].unit
        self.log.info("Deblended %d parents into %d children", nBlends, len(children))
        return Struct(sources=out, heavyFootprints=heavies, nBlends=nBlends)

    def _findPeaks(
        self,
        cut: np.ndarray,
        fp: np.ndarray,
        smoother: _SmoothingMatrix,
        noise: float,
        bad: np.ndarray | None,
    ) -> list[tuple[int, int, float]]:
        """Significant, prominent local maxima of the smoothed cut-out in the footprint, brightest first."""
        from scipy import ndimage

        cfg = self.config
        smooth = smoother.smooth(cut) / noise
        isMax = fp & (smooth >= cfg.minPeakSignificance)
        # Local maxima: not lower than any of their 8 neighbours.
        h, w = smooth.shape
        isMax[0, :] = isMax[-1, :] = isMax[:, 0] = isMax[:, -1] = False
        inner = isMax[1:-1, 1:-1]
        centre = smooth[1:-1, 1:-1]
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    inner &= centre >= smooth[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]
        if bad is not None and bad.any():
            isMax &= ~ndimage.binary_dilation(bad, iterations=2)
        ys, xs = np.nonzero(isMax)
        if ys.size <= 1:
            return [(int(y), int(x), float(smooth[y, x])) for y, x in zip(ys, xs, strict=True)]
        # Peaks much sharper than the PSF (cosmic rays the repair left) do not make children.
        # For a Gaussian star the peak pixel is ~2x its PSF-smoothed value; for one hot pixel ~2 pi sigma^2.
        broad = cut[ys, xs] <= cfg.maxPeakSharpness * smooth[ys, xs] * noise
        ys, xs = ys[broad], xs[broad]
        if ys.size <= 1:
            return [(int(y), int(x), float(smooth[y, x])) for y, x in zip(ys, xs, strict=True)]
        order = np.argsort(-smooth[ys, xs])
        ys, xs = ys[order], xs[order]
        kept: list[tuple[int, int, float]] = [(int(ys[0]), int(xs[0]), float(smooth[ys[0], xs[0]]))]
        for y, x in zip(ys[1:], xs[1:], strict=True):
            height = float(smooth[y, x])
            # Highest "col" on the straight lines to the peaks already kept (all higher).
            col = -np.inf
            for ky, kx, _ in kept:
                m = max(abs(ky - y), abs(kx - x)) + 1
                ly = np.rint(np.linspace(y, ky, m)).astype(int)
                lx = np.rint(np.linspace(x, kx, m)).astype(int)
                col = max(col, float(smooth[ly, lx].min()))
            if height - col >= cfg.minPeakProminence:
                kept.append((int(y), int(x), height))
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
