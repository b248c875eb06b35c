"""The timing rule every benchmark script uses: the minimum wall time of a few runs.

The minimum is the run least disturbed by the rest of a shared machine; peers are timed the same
way in the same run, so the printed ratios compare like with like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_run(
    fn: Callable[[], Any],
    repeat: int = 3,
    *,
    warmup: bool = False,
    clock: Callable[[], float] = time.perf_counter,
    cleanup: Callable[[], Any] | None = None,
) -> tuple[float, Any]:
    """Call ``fn`` ``repeat`` times; return the shortest time and the last call's result.

    Parameters
    ----------
    fn
        What to time.
    repeat
        Number of timed calls.
    warmup
        Make one untimed call first (imports, caches).
    clock
        ``time.perf_counter`` (wall) or ``time.process_time`` (CPU seconds of this process).
    cleanup
        Called, untimed, after each timed call (e.g. closing matplotlib figures).
    """
    if warmup:
        fn()
    times = []
    result = None
    for _ in range(repeat):
        t0 = clock()
        result = fn()
        times.append(clock() - t0)
        if cleanup is not None:
            cleanup()
    return min(times), result


def best(fn: Callable[[], Any], repeat: int = 3, **kwargs: Any) -> float:
    """The shortest time of ``repeat`` calls of ``fn`` (options as `best_run`)."""
    return best_run(fn, repeat, **kwargs)[0]
