"""One registry of every sequence mixer in the zoo, selected by name.

`examples/train_lra.py --model NAME`, the notebooks and the parametrised tests all build
mixers through `make_mixer`, so adding a layer means adding one line here. Names follow the
paper's ablation table (paper.md section 4) and the SSM comparison layers.
"""

import importlib
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
from jaxtyping import PRNGKeyArray


class MixerEntry(NamedTuple):
    """Where a mixer lives and the options that make this rung."""

    module: str
    cls: str
    options: dict[str, Any]
    description: str


MIXERS: dict[str, MixerEntry] = {
    "rnn-relu": MixerEntry(
        "lrux.layers.rnn", "ElmanRNN", {"nonlinearity": "relu"}, "dense RNN, ReLU"
    ),
    "rnn-tanh": MixerEntry(
        "lrux.layers.rnn", "ElmanRNN", {"nonlinearity": "tanh"}, "dense RNN, tanh"
    ),
    "linear-dense": MixerEntry(
        "lrux.layers.rnn", "DenseLinearRNN", {}, "dense linear RNN, Glorot A"
    ),
    "diag-reim": MixerEntry(
        "lrux.layers.diagonal",
        "DiagonalRNN",
        {"parameterization": "reim", "init": "disk", "gamma": False},
        "diagonal complex, lambda = a + i b, disk init",
    ),
    "diag-exp": MixerEntry(
        "lrux.layers.diagonal",
        "DiagonalRNN",
        {"parameterization": "exp", "init": "disk", "gamma": False},
        "diagonal complex, lambda = exp(nu + i theta), disk init",
    ),
    "diag-stable-exp": MixerEntry(
        "lrux.layers.diagonal",
        "DiagonalRNN",
        {"parameterization": "stable-exp", "init": "disk", "gamma": False},
        "diagonal complex, lambda = exp(-exp(nu_log) + i exp(theta_log)), disk init",
    ),
    "diag-ring": MixerEntry(
        "lrux.layers.diagonal",
        "DiagonalRNN",
        {"parameterization": "stable-exp", "init": "ring", "gamma": False},
        "stable exp + ring init (no gamma)",
    ),
    "lru": MixerEntry("lrux.layers.lru", "LRU", {}, "Linear Recurrent Unit (+ gamma)"),
    "gru": MixerEntry("lrux.layers.rnn", "GRU", {}, "GRU baseline"),
    "lstm": MixerEntry("lrux.layers.rnn", "LSTM", {}, "LSTM baseline"),
    "s4d": MixerEntry("lrux.layers.s4d", "S4D", {}, "S4D (diagonal SSM, FFT convolution)"),
    "s5": MixerEntry("lrux.layers.s5", "S5", {}, "S5 (MIMO diagonal SSM, parallel scan)"),
    "s4": MixerEntry("lrux.layers.s4", "S4", {}, "S4 (DPLR, Cauchy kernel)"),
    "rglru": MixerEntry("lrux.layers.rglru", "RGLRU", {}, "Griffin's RG-LRU"),
}


def mixer_names() -> list[str]:
    """Every registered mixer name, in ladder order then SSMs."""
    return list(MIXERS)


def mixer_class(name: str) -> Callable[..., eqx.Module]:
    """The class behind a registered name."""
    if name not in MIXERS:
        raise ValueError(f"unknown mixer {name!r}; expected one of: {', '.join(MIXERS)}")
    entry = MIXERS[name]
    return getattr(importlib.import_module(entry.module), entry.cls)


def make_mixer(
    name: str,
    d_model: int,
    d_state: int,
    *,
    key: PRNGKeyArray,
    bidirectional: bool = False,
    combine: str = "concat",
    **options: Any,
) -> eqx.Module:
    """Build the mixer registered as `name`: (seq, d_model) -> (seq, d_model).

    `options` override the rung's defaults (e.g. r_min, r_max, max_phase for the LRU).
    With `bidirectional=True` a mixer that has its own bidirectional form (S5: one Lambda,
    B and step shared by both directions, separate C's summed) is built with it; any other
    mixer is wrapped in `Bidirectional` (forward pass plus a pass over the reversed
    sequence by a second mixer, combined by `combine`: "concat" then a linear projection,
    or "sum").
    """
    cls = mixer_class(name)
    kwargs = {**MIXERS[name].options, **options}
    if bidirectional and "bidirectional" in inspect.signature(cls).parameters:
        return cls(d_model, d_state, key=key, bidirectional=True, **kwargs)
    if not bidirectional:
        return cls(d_model, d_state, key=key, **kwargs)
    from lrux.layers.bidirectional import Bidirectional

    return Bidirectional.from_factory(
        lambda k: cls(d_model, d_state, key=k, **kwargs), d_model, combine=combine, key=key
    )
