"""Run full-frame array work in row blocks on a few threads.

numpy's ufuncs and ``scipy.ndimage``'s filters release the GIL while they loop over pixels, so
the rows of a 2048 x 4176 frame split into one block per core are processed in parallel by plain
threads, with no copies and no pickling.  Rubin's own tasks are single-threaded (production scales
with processes, one quantum each); the teaching pipeline also runs one detector at a time in a
notebook on a laptop, where the second core would otherwise sit idle.

The number of threads is the number of cores this process may use, at most 4, or
``$STACKCLUB_NUM_THREADS`` (``1`` turns threading off).  Results do not depend on it: each block
sees ``halo`` extra rows on either side, so a filter whose kernel reaches no further than ``halo``
gives exactly the whole-frame answer.
"""

from __future__ import annotations

__all__ = ("for_each_row_block", "num_threads")

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import cache


def num_threads() -> int:
    """Return how many threads `for_each_row_block` uses.

    Examples
    --------
    >>> import os
    >>> os.environ["STACKCLUB_NUM_THREADS"] = "1"
    >>> num_threads()
    1
    >>> del os.environ["STACKCLUB_NUM_THREADS"]
    """
    env = os.environ.get("STACKCLUB_NUM_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"STACKCLUB_NUM_THREADS must be a whole number >= 1; got {env!r}.") from None
        if value < 1:
            raise ValueError(f"STACKCLUB_NUM_THREADS must be a whole number >= 1; got {env!r}.")
        return value
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


@cache
def _pool(n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="stackclub-rows")


def for_each_row_block(
    func: Callable[[slice, slice], None],
    n_rows: int,
    *,
    halo: int = 0,
    block_rows: int | None = None,
    min_rows: int = 256,
) -> None:
    """Call ``func(rows, padded)`` once per block of rows, the blocks in parallel threads.

    Parameters
    ----------
    func
        Called with ``rows`` (the block's own rows, a `slice`, whose results it must write) and
        ``padded`` (the same rows plus up to ``halo`` rows on either side, clipped to the frame,
        that it may read).  It must only write inside ``rows``: blocks run at the same time.
    n_rows
        Number of rows of the frame.
    halo
        Rows of context each block needs on either side (a filter's kernel radius).
    block_rows
        Rows per block; `None` makes one block per thread.  Blocks of a few dozen rows fit in
        the processor's cache, so a function that makes several passes over its block reads
        the frame from memory only once.
    min_rows
        Frames shorter than this many rows per thread run in one block, in this thread.

    Raises
    ------
    Exception
        Whatever ``func`` raised in any block (after all blocks have finished).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(12.0).reshape(6, 2)
    >>> out = np.empty_like(image)
    >>> def double(rows, padded):
    ...     out[rows] = 2 * image[rows]
    >>> for_each_row_block(double, 6, min_rows=1)
    >>> bool((out == 2 * image).all())
    True
    """
    if halo < 0:
        raise ValueError(f"halo must be >= 0; got {halo}.")
    if block_rows is not None and block_rows < 1:
        raise ValueError(f"block_rows must be >= 1; got {block_rows}.")
    threads = min(num_threads(), max(1, n_rows // max(min_rows, 1)))
    if block_rows is None:
        edges = [round(i * n_rows / threads) for i in range(threads + 1)]
    else:
        edges = [*range(0, n_rows, block_rows), n_rows]
    blocks = [
        (slice(lo, hi), slice(max(lo - halo, 0), min(hi + halo, n_rows)))
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        if hi > lo
    ]
    if threads == 1 or len(blocks) == 1:
        for rows, padded in blocks:
            func(rows, padded)
        return
    futures = [_pool(threads).submit(func, rows, padded) for rows, padded in blocks]
    wait(futures)
    for future in futures:
        future.result()
