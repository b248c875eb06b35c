"""How fast is `where_is`?  Warm calls must stay well under 5 ms (config tables link every class).

Peer measured in the same run: ``inspect.getsourcelines`` on the same objects, which only finds
the lines in the installed file (no package, version, tag or URL).  Printed: the first (cold)
call, then the median of warm calls, and the ratio to the peer.

Run: ``.venv/bin/python benchmarks/where_is_speed.py``
"""

from __future__ import annotations

import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any


def _median_seconds(func: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import matplotlib.pyplot as plt
    import numpy as np
    from astropy.io import fits
    from lsst.daf.butler import Butler
    from lsst.pipe.base import PipelineTask, PipelineTaskConfig

    from stackclub import where_is

    objects: list[tuple[str, Any, Any]] = [
        ("lsst.pipe.base.PipelineTask", PipelineTask, PipelineTask),
        ("lsst.daf.butler.Butler.get", Butler.get, Butler.get),
        ("astropy.io.fits.open", fits.open, fits.open),
        ("numpy.median", np.median, inspect.unwrap(np.median)),
        ("matplotlib.pyplot.imshow", plt.imshow, plt.imshow),
        ("PipelineTaskConfig.saveLogOutput (field)", PipelineTaskConfig.saveLogOutput, PipelineTaskConfig),
        (
            '"lsst.pipe.base.PipelineTask.runQuantum" (str)',
            "lsst.pipe.base.PipelineTask.runQuantum",
            PipelineTask.runQuantum,
        ),
    ]
    print(f"{'object':48s} {'cold ms':>8s} {'warm ms':>8s} {'peer ms':>8s} {'ratio':>6s}")
    worst = 0.0
    for label, obj, peer_obj in objects:
        start = time.perf_counter()
        where_is(obj)
        cold = time.perf_counter() - start
        warm = _median_seconds(lambda o=obj: where_is(o), 300)
        peer = _median_seconds(lambda o=peer_obj: inspect.getsourcelines(o), 30)
        worst = max(worst, warm)
        print(f"{label:48s} {cold * 1e3:8.2f} {warm * 1e3:8.3f} {peer * 1e3:8.3f} {warm / peer:6.2f}")
    print(f"slowest warm where_is: {worst * 1e3:.3f} ms (budget 5 ms: {'OK' if worst < 5e-3 else 'OVER'})")


if __name__ == "__main__":
    main()
