"""One worker-pool helper for the generators and the PNG decoder: `workers == 1` maps in
this process, more start a `spawn` pool (no forked jax state); a tqdm bar shows progress."""

import contextlib
import numbers
import os
import sys
from collections.abc import Callable, Iterable, Iterator

from lrux.errors import DataError


def resolve_workers(workers: int | None) -> int:
    """None -> every core; otherwise a positive count (0 or less is a DataError, not 1)."""
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise DataError(f"workers={workers}: expected a positive number of processes "
                        "(or None for every core)")
    return int(workers)


@contextlib.contextmanager
def worker_map(fn: Callable, items: Iterable, workers: int, *,
               ordered: bool = True) -> Iterator[Iterator]:
    """`with worker_map(fn, items, workers) as results:` iterates fn(item) for each item.

    `ordered=False` yields results as workers finish them. Leaving the block stops the pool
    (so `items` may be endless: take what you need and leave).
    """
    if workers == 1:
        yield map(fn, items)
        return
    import multiprocessing as mp

    pool = mp.get_context("spawn").Pool(workers)
    try:
        yield (pool.imap if ordered else pool.imap_unordered)(fn, items, chunksize=1)
    finally:
        pool.terminate()
        pool.join()


def progress_bar(total: int | None, desc: str, unit: str, enabled: bool):
    """A tqdm bar on stderr (disabled: a no-op bar with the same methods)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr)
