"""lrux: the Linear Recurrent Unit and its relatives in JAX/Equinox.

Layers work on one unbatched sequence (seq, d_model); batch with `jax.vmap`. Names are
imported lazily, so `import lrux.data` (numpy only, used by data workers) does not pay for
importing jax.
"""

import importlib

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
    "Bidirectional": "lrux.layers.bidirectional",
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

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrux' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
