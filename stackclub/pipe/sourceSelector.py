"""Source selection, mirroring ``lsst.meas.algorithms.sourceSelector`` (``ScienceSourceSelectorTask``).

A selector is configured by a few switches (``doFlags``, ``doUnresolved``, ``doSignalToNoise``,
``doIsolated``), each with a small config that knows how to test a catalog.  Rubin registers its
selectors in ``sourceSelectorRegistry`` and a task picks one by name with a registry field
(``star_selector = sourceSelectorRegistry.makeField(default="science")``), so a config says
``config.star_selector["science"].doUnresolved = True``; ours does the same.
"""

from __future__ import annotations

__all__ = (
    "BaseLimit",
    "RequireFlags",
    "RequireIsolated",
    "RequireUnresolved",
    "ScienceSourceSelectorConfig",
    "ScienceSourceSelectorTask",
    "SignalToNoiseLimit",
    "sourceSelectorRegistry",
)

import warnings
from typing import Any

import numpy as np
from lsst.pex.config import Config, ConfigField, Field, ListField, makeRegistry, registerConfigurable
from lsst.pipe.base import Struct, Task

sourceSelectorRegistry = makeRegistry(  # noqa: N816 (Rubin's name)
    doc="A registry of source selectors (subclasses of Task with a ``run(sourceCat)`` returning "
    "``sourceCat`` and ``selected``)."
)


class BaseLimit(Config):
    """A ``minimum``/``maximum`` limit on some value of each source (exclusive, as Rubin's)."""

    minimum = Field[float](doc="Select objects with value greater than this.", optional=True)
    maximum = Field[float](doc="Select objects with value less than this.", optional=True)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Return which values pass the limits.

        Parameters
        ----------
        values
            One value per source.

        Returns
        -------
        selected
            Boolean array.

        Examples
        --------
        >>> import numpy as np
        >>> limit = BaseLimit(minimum=1.0)
        >>> limit.apply(np.array([0.5, 2.0, np.nan])).tolist()
        [False, True, False]
        """
        selected = np.ones(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.minimum is not None:
                selected &= values > self.minimum
            if self.maximum is not None:
                selected &= values < self.maximum
        return selected


class SignalToNoiseLimit(BaseLimit):
    """Select on a flux's signal-to-noise ratio."""

    fluxField = Field[str](doc="Name of the source flux column.", default="flux")
    errField = Field[str](doc="Name of the source flux error column.", default="flux_err")

    def apply(self, catalog: Any) -> np.ndarray:
        """Return which sources pass the signal-to-noise limits (a NaN ratio never does).

        Parameters
        ----------
        catalog
            `astropy.table.Table` of sources.

        Returns
        -------
        selected
            Boolean array.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            snr = np.asarray(catalog[self.fluxField], float) / np.asarray(catalog[self.errField], float)
        return ~np.isnan(snr) & super().apply(snr)


class RequireFlags(Config):
    """Select on flag columns that must be set (``good``) or must not be (``bad``)."""

    good = ListField[str](doc="Flag columns that must be set for a source to be used.", default=[])
    bad = ListField[str](doc="Flag columns that must NOT be set for a source to be used.", default=[])

    def apply(self, catalog: Any) -> np.ndarray:
        """Return which sources have every ``good`` flag and no ``bad`` one.

        Parameters
        ----------
        catalog
            `astropy.table.Table` of sources.

        Returns
        -------
        selected
            Boolean array.
        """
        selected = np.ones(len(catalog), dtype=bool)
        for flag in self.good:
            selected &= np.asarray(catalog[flag], bool)
        for flag in self.bad:
            selected &= ~np.asarray(catalog[flag], bool)
        return selected


class RequireUnresolved(BaseLimit):
    """Select point sources by a star/galaxy separation column (below ``maximum`` is unresolved)."""

    name = Field[str](doc="Column for star/galaxy separation.", default="sizeExtendedness_value")

    def setDefaults(self) -> None:
        super().setDefaults()
        self.maximum = 0.1

    def apply(self, catalog: Any) -> np.ndarray:
        """Return which sources are unresolved.

        Parameters
        ----------
        catalog
            `astropy.table.Table` of sources.

        Returns
        -------
        selected
            Boolean array.
        """
        return super().apply(np.asarray(catalog[self.name], float))


class RequireIsolated(Config):
    """Select sources that are neither deblended parents nor children."""

    parentName = Field[str](doc="Column of the parent's id.", default="parent")
    nChildName = Field[str](doc="Column of the number of children.", default="deblend_nChild")

    def apply(self, catalog: Any) -> np.ndarray:
        """Return which sources are isolated.

        Parameters
        ----------
        catalog
            `astropy.table.Table` of sources.

        Returns
        -------
        selected
            Boolean array.
        """
        return (np.asarray(catalog[self.parentName]) == 0) & (np.asarray(catalog[self.nChildName]) == 0)


class ScienceSourceSelectorConfig(Config):
    """Configuration of `ScienceSourceSelectorTask` (names and defaults as in ``meas_algorithms``)."""

    doFlags = Field[bool](doc="Apply flag limitation?", default=False)
    doUnresolved = Field[bool](doc="Apply unresolved limitation?", default=False)
    doSignalToNoise = Field[bool](doc="Apply signal-to-noise limit?", default=False)
    doIsolated = Field[bool](doc="Apply isolated limitation?", default=False)
    flags = ConfigField[RequireFlags](dtype=RequireFlags, doc="Flags to require.")
    unresolved = ConfigField[RequireUnresolved](
        dtype=RequireUnresolved, doc="Star/galaxy separation to apply."
    )
    signalToNoise = ConfigField[SignalToNoiseLimit](
        dtype=SignalToNoiseLimit, doc="Signal-to-noise limit to apply."
    )
    isolated = ConfigField[RequireIsolated](dtype=RequireIsolated, doc="Isolated criteria to apply.")

    def setDefaults(self) -> None:
        super().setDefaults()
        self.flags.bad = ["flag_edge", "flag_saturated", "psfFlux_flag"]
        self.signalToNoise.fluxField = "psfFlux_instFlux"
        self.signalToNoise.errField = "psfFlux_instFluxErr"


@registerConfigurable("science", sourceSelectorRegistry)
class ScienceSourceSelectorTask(Task):
    """Select sources by flags, star/galaxy separation, signal-to-noise and isolation.

    Examples
    --------
    >>> from astropy.table import Table
    >>> cat = Table({"psfFlux_instFlux": [100.0, 5.0], "psfFlux_instFluxErr": [1.0, 1.0]})
    >>> task = ScienceSourceSelectorTask()
    >>> task.config.doSignalToNoise = True
    >>> task.config.signalToNoise.minimum = 10.0
    >>> task.run(cat).selected.tolist()
    [True, False]
    """

    ConfigClass = ScienceSourceSelectorConfig
    _DefaultName = "sourceSelector"
    config: ScienceSourceSelectorConfig

    def run(self, sourceCat: Any) -> Struct:
        """Select sources.

        Parameters
        ----------
        sourceCat
            `astropy.table.Table` of measured sources.

        Returns
        -------
        result
            ``sourceCat`` (the selected rows) and ``selected`` (boolean over the input).
        """
        cfg = self.config
        selected = np.ones(len(sourceCat), dtype=bool)
        if cfg.doFlags:
            selected &= cfg.flags.apply(sourceCat)
        if cfg.doUnresolved:
            selected &= cfg.unresolved.apply(sourceCat)
        if cfg.doSignalToNoise:
            selected &= cfg.signalToNoise.apply(sourceCat)
        if cfg.doIsolated:
            selected &= cfg.isolated.apply(sourceCat)
        self.log.info("Selected %d/%d sources", int(selected.sum()), len(sourceCat))
        return Struct(sourceCat=sourceCat[selected], selected=selected)
