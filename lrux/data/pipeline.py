"""Old home of the pipeline's numpy half: deprecated, removed in lrux 0.2. `finish_batch`
here returns the old dict of arrays; new code uses `lrux.data.finish_batch` (a `Batch`)."""

import warnings

from .batch import SplitSource  # noqa: F401
from .batch import finish_batch as _finish_batch

warnings.warn("lrux.data.pipeline is deprecated and goes in lrux 0.2; use lrux.data "
              "(finish_batch returns a Batch, make_loader)", DeprecationWarning, stacklevel=2)


def finish_batch(batch: dict, **kwargs) -> dict:
    """`lrux.data.finish_batch` as a dict (inputs, lengths, labels, valid)."""
    return _finish_batch(batch, **kwargs)._asdict()


def make_loader(*args, **kwargs):
    """`lrux.data.make_loader` (imports grain)."""
    from .loader import make_loader as _make_loader

    return _make_loader(*args, **kwargs)
