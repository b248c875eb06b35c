"""SimCam's random streams: one seeded `numpy.random.Generator` per purpose (pure numpy).

Every random number of the simulation comes from `seeded_rng` (seed, kind, keys): the truth catalog,
the visits, each detector's instrument signature, each exposure's noise, each calibration and the
reference catalog draw from streams of their own, so one part can be made again, alone or in any
order, and gives the same numbers.
"""

from __future__ import annotations

__all__ = ("seeded_rng",)

import numpy as np

_KIND = {"catalog": 1, "visits": 2, "signature": 3, "exposure": 4, "calib": 5, "refcat": 6}


def seeded_rng(seed: int, kind: str, *keys: int) -> np.random.Generator:
    """Return a generator that depends only on (seed, kind, keys): order-independent, reproducible.

    Parameters
    ----------
    seed
        The build's seed.
    kind
        What the numbers are for: ``"catalog"``, ``"visits"``, ``"signature"``, ``"exposure"``,
        ``"calib"`` or ``"refcat"``.
    *keys
        Further integers (exposure id, detector ...).

    Returns
    -------
    rng
        A `numpy.random.Generator`.

    Examples
    --------
    >>> float(seeded_rng(1, "exposure", 7, 2).random()) == float(seeded_rng(1, "exposure", 7, 2).random())
    True
    """
    return np.random.default_rng([int(seed), _KIND[kind], *(int(k) for k in keys)])
