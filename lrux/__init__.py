"""lrux: the Linear Recurrent Unit and its relatives in JAX/Equinox.

Layers work on one unbatched sequence (seq, d_model); batch with `jax.vmap`. Names are
imported lazily, so `import lrux.data` (numpy only, used by data workers) does not pay for
importing jax.
"""

import importlib
from typing import TYPE_CHECKING

from lrux._version import __version__

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports on first use
    from lrux.init import disk_init, glorot_matrix, ring_init
    from lrux.layers.base import (
        AbstractDiagonalMixer,
        AbstractLinearMixer,
        AbstractMixer,
        AbstractRecurrentMixer,
        LinearSystem,
    )
    from lrux.layers.bidirectional import Bidirectional, SharedBidirectional
    from lrux.layers.diagonal import DiagonalRNN
    from lrux.layers.lru import LRU
    from lrux.layers.rglru import RGLRU
    from lrux.layers.rnn import GRU, LSTM, DenseLinearRNN, ElmanRNN
    from lrux.layers.s4 import S4
    from lrux.layers.s4d import S4D
    from lrux.layers.s5 import S5
    from lrux.registry import MIXERS, make_mixer, mixer_names
    from lrux.scan import SCAN_MODES, complex_scan_stacked, linear_scan

_EXPORTS = {
    "LRU": "lrux.layers.lru",
    "DiagonalRNN": "lrux.layers.diagonal",
    "ElmanRNN": "lrux.layers.rnn",
    "DenseLinearRNN": "lrux.layers.rnn",
    "GRU": "lrux.layers.rnn",
    "LSTM": "lrux.layers.rnn",
    "S4D": "lrux.layers.s4d",
    "S5": "lrux.layers.s5",
    "S4": "lrux.layers.s4",
    "RGLRU": "lrux.layers.rglru",
    "AbstractMixer": "lrux.layers.base",
    "AbstractRecurrentMixer": "lrux.layers.base",
    "AbstractLinearMixer": "lrux.layers.base",
    "AbstractDiagonalMixer": "lrux.layers.base",
    "LinearSystem": "lrux.layers.base",
    "Bidirectional": "lrux.layers.bidirectional",
    "SharedBidirectional": "lrux.layers.bidirectional",
    "MIXERS": "lrux.registry",
    "make_mixer": "lrux.registry",
    "mixer_names": "lrux.registry",
    "linear_scan": "lrux.scan",
    "complex_scan_stacked": "lrux.scan",
    "SCAN_MODES": "lrux.scan",
    "ring_init": "lrux.init",
    "disk_init": "lrux.init",
    "glorot_matrix": "lrux.init",
}

# a literal list, so that linters and type checkers read it (tests check it against _EXPORTS)
__all__ = [
    "AbstractDiagonalMixer",
    "AbstractLinearMixer",
    "AbstractMixer",
    "AbstractRecurrentMixer",
    "LinearSystem",
    "__version__",
    "Bidirectional",
    "DenseLinearRNN",
    "DiagonalRNN",
    "ElmanRNN",
    "GRU",
    "LRU",
    "LSTM",
    "MIXERS",
    "RGLRU",
    "S4",
    "S4D",
    "S5",
    "SCAN_MODES",
    "SharedBidirectional",
    "complex_scan_stacked",
    "disk_init",
    "glorot_matrix",
    "linear_scan",
    "make_mixer",
    "mixer_names",
    "ring_init",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrux' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
