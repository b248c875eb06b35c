"""CCD assembly: cut each amplifier's imaging pixels out of the raw frame and put them in place.

Mirrors ``lsst.ip.isr.assembleCcdTask.AssembleCcdTask`` (ip_isr w.2026.20): config ``doTrim``,
method ``assembleCcd``, on `lsst.images` types.
"""

from __future__ import annotations

__all__ = ("AssembleCcdConfig", "AssembleCcdTask")

from typing import TYPE_CHECKING

import numpy as np
from lsst.pex.config import Config, Field, FieldValidationError
from lsst.pipe.base import Task

if TYPE_CHECKING:
    from lsst.images import MaskedImage
    from lsst.images.cameras import Detector


class AssembleCcdConfig(Config):
    """Configuration of `AssembleCcdTask`."""

    doTrim = Field[bool](
        doc="Trim out non-data regions? (SimCam's calibrations are trimmed: it must stay True.)",
        default=True,
    )

    def validate(self) -> None:
        super().validate()
        if not self.doTrim:
            raise FieldValidationError(
                AssembleCcdConfig.doTrim, self, "only trimmed assembly is implemented; keep doTrim=True"
            )


class AssembleCcdTask(Task):
    """Assemble the amplifiers of a raw frame into one image of the detector's imaging pixels.

    A raw frame holds each amplifier's pixels as it read them, with its pre-scan and overscans
    and, for an amplifier reading from the other side, mirrored.  Assembly keeps the imaging
    section of each (trimming the rest), flips it if the amplifier's geometry says so, and puts
    it where the amplifier sits on the detector: image, mask and variance alike.

    Examples
    --------
    >>> from lsst.images import Image, MaskedImage
    >>> from stackclub.pipe._masks import make_mask_schema
    >>> from stackclub.simcam.camera import SMALL_GEOMETRY, make_detector, raw_bbox
    >>> detector = make_detector(0, geometry=SMALL_GEOMETRY)
    >>> raw = MaskedImage(Image(1.0, bbox=raw_bbox(SMALL_GEOMETRY)), mask_schema=make_mask_schema())
    >>> AssembleCcdTask().assembleCcd(raw, detector).bbox == detector.bbox
    True
    """

    ConfigClass = AssembleCcdConfig
    _DefaultName = "assembleCcd"
    config: AssembleCcdConfig

    def assembleCcd(self, assembleInput: MaskedImage, detector: Detector) -> MaskedImage:
        """Return the trimmed, assembled detector image.

        Parameters
        ----------
        assembleInput
            The raw frame (all amplifiers, raw coordinates).
        detector
            The detector: each amplifier's ``bbox`` (where it goes) and
            ``assembled_raw_geometry`` (where its data is in the raw frame, and flips).

        Returns
        -------
        assembled
            A new `lsst.images.MaskedImage` over ``detector.bbox`` (same unit, mask schema and
            metadata as the input).
        """
        from lsst.images import Image, Mask, MaskedImage

        # Every pixel of the detector belongs to one amplifier: no need to fill the new planes first.
        shape = detector.bbox.shape
        image = Image(
            np.empty(shape, assembleInput.image.array.dtype), bbox=detector.bbox, unit=assembleInput.unit
        )
        variance = Image(
            np.empty(shape, assembleInput.variance.array.dtype),
            bbox=detector.bbox,
            unit=assembleInput.variance.unit,
        )
        mask = Mask(schema=assembleInput.mask.schema, bbox=detector.bbox)
        for amp in detector.amplifiers:
            geometry = amp.assembled_raw_geometry
            assert geometry is not None
            flip = (
                slice(None, None, -1 if geometry.flip_y else 1),
                slice(None, None, -1 if geometry.flip_x else 1),
            )
            data = assembleInput[geometry.data_bbox]
            image[amp.bbox].array[...] = data.image.array[flip]
            variance[amp.bbox].array[...] = data.variance.array[flip]
            mask[amp.bbox].array[...] = data.mask.array[flip]
        return MaskedImage(image, mask=mask, variance=variance, metadata=dict(assembleInput.metadata.native))
