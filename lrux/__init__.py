"""lrux: the Linear Recurrent Unit and its relatives in JAX/Equinox.

Layers work on one unbatched sequence (seq, d_model); batch with `jax.vmap`.
"""

from lrux.init import disk_init, glorot_matrix, ring_init
from lrux.layers.bidirectional import Bidirectional
from lrux.layers.lru import LRU
from lrux.registry import MIXERS, make_mixer, mixer_names
from lrux.scan import SCAN_MODES, linear_scan

__all__ = [
    "LRU",
    "MIXERS",
    "SCAN_MODES",
    "Bidirectional",
    "disk_init",
    "glorot_matrix",
    "linear_scan",
    "make_mixer",
    "mixer_names",
    "ring_init",
]
