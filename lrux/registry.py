"""One registry of every sequence mixer in the zoo, selected by name.

Each `MixerEntry` names the layer class (an `AbstractMixer`), the options that make this rung
of the ladder, and the facts that the rest of lrux needs about the mixer: its family, whether
it takes a ring (r_min, r_max, max_phase), its bidirectional forms and its sequence-length
option. `make_mixer` builds an entry by name (`examples/train_lra.py --model NAME`, the
models, benchmarks and notebooks); tests/test_registry.py runs the contract tests on every
entry. Names follow the paper's ablation table (paper.md section 4) and the SSM comparison.
Adding a mixer: docs/architecture.md, "Adding a mixer".

A mixer's options are its constructor's keyword parameters; their annotations (`Literal`
choices included) let `make_mixer` reject an unknown name or value with a `ConfigError` that
names the option, the mixer and the accepted values, before building anything.
"""

import dataclasses
import difflib
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, get_args

from jaxtyping import PRNGKeyArray

from lrux.errors import ConfigError
from lrux.layers.base import AbstractMixer
from lrux.layers.bidirectional import Bidirectional
from lrux.layers.diagonal import DiagonalRNN
from lrux.layers.lru import LRU
from lrux.layers.rglru import RGLRU
from lrux.layers.rnn import GRU, LSTM, DenseLinearRNN, ElmanRNN
from lrux.layers.s4 import S4
from lrux.layers.s4d import S4D
from lrux.layers.s5 import S5

Family = Literal["ladder", "baseline", "ssm"]
Combine = Literal["shared", "concat", "sum"]
FAMILIES: tuple[str, ...] = get_args(Family)
COMBINES: tuple[str, ...] = get_args(Combine)
RING_OPTIONS: tuple[str, ...] = ("r_min", "r_max", "max_phase")
_NOT_OPTIONS = ("self", "d_model", "d_state", "key", "return")


def _constructor_hints(layer: type) -> dict[str, Any]:
    """The annotated keyword parameters of `layer.__init__` (name -> type), in order."""
    hints = typing.get_type_hints(layer.__init__)
    return {name: hint for name, hint in hints.items() if name not in _NOT_OPTIONS}


def _suggest(word: object, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclasses.dataclass(frozen=True, eq=False)
class MixerEntry:
    """A registered mixer: its class, this rung's options, and the facts about it.

    - `layer`: the `AbstractMixer` subclass, built as ``layer(d_model, d_state, key=...,
      **options)``.
    - `options`: this rung's constructor options (e.g. `parameterization="reim"`).
    - `family`: "ladder" (the paper's ablation ladder, section 4), "baseline" (GRU, LSTM) or
      "ssm" (the comparison layers).
    - `ring`: the layer takes the ring options r_min, r_max, max_phase and honours them (the
      disk-initialised rungs take the arguments but are the unit disk by definition: False).
    - `combines`: the bidirectional forms it supports, the first being the default: "shared"
      (the layer's own form, built with ``bidirectional=True``: one recurrence read in both
      directions), "concat" or "sum" (`Bidirectional`: two independent mixers).
    - `length_option`: the constructor option that wants the task's sequence length (S4's
      "l_max"), or None.

    The facts are checked against the constructor when the entry is made (ValueError).
    """

    layer: type[AbstractMixer]
    options: Mapping[str, Any]
    description: str
    family: Family
    ring: bool = False
    combines: tuple[Combine, ...] = ("concat", "sum")
    length_option: str | None = None

    def __post_init__(self):
        accepted = _constructor_hints(self.layer)
        problems = []
        if not (isinstance(self.layer, type) and issubclass(self.layer, AbstractMixer)):
            problems.append(f"layer must be an AbstractMixer subclass, got {self.layer!r}")
        if self.family not in FAMILIES:
            problems.append(f"family must be one of {FAMILIES}, got {self.family!r}")
        if not self.combines or not set(self.combines) <= set(COMBINES):
            problems.append(f"combines must be a non-empty tuple of {COMBINES}")
        if "shared" in self.combines and "bidirectional" not in accepted:
            problems.append("combine 'shared' needs a `bidirectional` constructor option")
        missing = [o for o in RING_OPTIONS if o not in accepted]
        if self.ring and missing:
            problems.append(f"ring=True but the constructor does not take {missing}")
        if self.length_option is not None and self.length_option not in accepted:
            problems.append(f"length_option {self.length_option!r} is not a constructor option")
        unknown = [o for o in self.options if o not in accepted]
        if unknown:
            problems.append(f"options {unknown} are not constructor options")
        if problems:
            raise ValueError(f"MixerEntry for {self.layer!r}: " + "; ".join(problems))

    @property
    def module(self) -> str:
        """The module that defines the layer (for display and imports)."""
        return self.layer.__module__

    @property
    def cls(self) -> str:
        """The layer class's name (for display)."""
        return self.layer.__name__

    def option_names(self) -> tuple[str, ...]:
        """The options `make_mixer` accepts for this mixer (`bidirectional` is its own
        argument, not an option)."""
        return tuple(n for n in _constructor_hints(self.layer) if n != "bidirectional")

    def option_choices(self) -> dict[str, tuple]:
        """The allowed values of the options typed as a `Literal`."""
        hints = _constructor_hints(self.layer)
        return {
            name: get_args(hint)
            for name, hint in hints.items()
            if typing.get_origin(hint) is Literal
        }

    def check_options(self, name: str, options: Mapping[str, Any]) -> None:
        """ConfigError unless every option is accepted and every `Literal` value allowed."""
        accepted = self.option_names()
        choices = self.option_choices()
        for option, value in options.items():
            if option not in accepted:
                raise ConfigError(
                    f"mixer {name!r} has no option {option!r}{_suggest(option, accepted)}; "
                    f"its options: {', '.join(accepted)}"
                )
            if option in choices and value not in choices[option]:
                allowed = choices[option]
                raise ConfigError(
                    f"mixer {name!r}: {option}={value!r} is not one of "
                    f"{', '.join(map(repr, allowed))}{_suggest(value, map(str, allowed))}"
                )


_DISK = {"init": "disk", "gamma": False}

MIXERS: dict[str, MixerEntry] = {
    "rnn-relu": MixerEntry(ElmanRNN, {"nonlinearity": "relu"}, "dense RNN, ReLU", "ladder"),
    "rnn-tanh": MixerEntry(ElmanRNN, {"nonlinearity": "tanh"}, "dense RNN, tanh", "ladder"),
    "linear-dense": MixerEntry(DenseLinearRNN, {}, "dense linear RNN, Glorot A", "ladder"),
    "diag-reim": MixerEntry(
        DiagonalRNN,
        {"parameterization": "reim", **_DISK},
        "diagonal complex, lambda = a + i b, disk init",
        "ladder",
    ),
    "diag-exp": MixerEntry(
        DiagonalRNN,
        {"parameterization": "exp", **_DISK},
        "diagonal complex, lambda = exp(nu + i theta), disk init",
        "ladder",
    ),
    "diag-stable-exp": MixerEntry(
        DiagonalRNN,
        {"parameterization": "stable-exp", **_DISK},
        "diagonal complex, lambda = exp(-exp(nu_log) + i exp(theta_log)), disk init",
        "ladder",
    ),
    "diag-ring": MixerEntry(
        DiagonalRNN,
        {"parameterization": "stable-exp", "init": "ring", "gamma": False},
        "stable exp + ring init (no gamma)",
        "ladder",
        ring=True,
    ),
    "lru": MixerEntry(
        LRU,
        {},
        "Linear Recurrent Unit (+ gamma)",
        "ladder",
        ring=True,
        combines=("concat", "sum", "shared"),
    ),
    "gru": MixerEntry(GRU, {}, "GRU baseline", "baseline"),
    "lstm": MixerEntry(LSTM, {}, "LSTM baseline", "baseline"),
    "s4d": MixerEntry(S4D, {}, "S4D (diagonal SSM, FFT convolution)", "ssm"),
    "s5": MixerEntry(
        S5,
        {},
        "S5 (MIMO diagonal SSM, parallel scan)",
        "ssm",
        combines=("shared", "concat", "sum"),
    ),
    "s4": MixerEntry(S4, {}, "S4 (DPLR, Cauchy kernel)", "ssm", length_option="l_max"),
    "rglru": MixerEntry(RGLRU, {}, "Griffin's RG-LRU", "ssm"),
}


def mixer_names(family: str | None = None) -> list[str]:
    """The registered names in registry order (ladder, baselines, SSMs), or one family's.

    (User-facing arguments of the registry are typed `str`, so that a bad value is always a
    ConfigError, also under a runtime type checker.)"""
    if family is None:
        return list(MIXERS)
    if family not in FAMILIES:
        raise ConfigError(f"unknown mixer family {family!r}; expected one of {FAMILIES}")
    return [name for name, entry in MIXERS.items() if entry.family == family]


def mixer_entry(name: str) -> MixerEntry:
    """The entry registered as `name` (ConfigError naming the closest names otherwise)."""
    if name not in MIXERS:
        raise ConfigError(
            f"unknown mixer {name!r}{_suggest(name, MIXERS)}; expected one of: "
            f"{', '.join(MIXERS)}"
        )
    return MIXERS[name]


def mixer_class(name: str) -> type[AbstractMixer]:
    """The class behind a registered name."""
    return mixer_entry(name).layer


class Registration:
    """A mixer registered by `register_mixer`; `remove()` or leaving the `with` block
    unregisters it."""

    def __init__(self, name: str):
        self.name = name

    def remove(self) -> None:
        MIXERS.pop(self.name, None)

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *exc) -> None:
        self.remove()


def register_mixer(name: str, entry: MixerEntry) -> Registration:
    """Add `entry` as `name`; as a context manager, only for the `with` block:

        with register_mixer("diag-real", MixerEntry(DiagReal, {}, "...", "ladder", ring=True)):
            make_mixer("diag-real", 4, 8, key=key)
    """
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"a mixer name must be a non-empty string without spaces, got {name!r}")
    if name in MIXERS:
        raise ValueError(f"mixer {name!r} is already registered")
    if not isinstance(entry, MixerEntry):
        raise TypeError(f"register_mixer expects a MixerEntry, got {type(entry).__name__}")
    MIXERS[name] = entry
    return Registration(name)


def _build(name: str, build):
    """build(), with a layer's ValueError about a bad option value as a ConfigError."""
    try:
        return build()
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(f"mixer {name!r}: {e}") from e


def make_mixer(
    name: str,
    d_model: int,
    d_state: int,
    *,
    key: PRNGKeyArray,
    bidirectional: bool = False,
    combine: str | None = None,
    **options: Any,
) -> AbstractMixer:
    """Build the mixer registered as `name`: (seq, d_model) -> (seq, d_model).

    `options` override the rung's defaults (e.g. r_min, r_max, max_phase for the LRU).
    With `bidirectional=True`, `combine` picks the form among the entry's `combines` (None:
    its default, the first): "shared" builds the mixer's own bidirectional form (S5, LRU: one
    recurrence read forwards and backwards, two readouts summed); "concat" and "sum" wrap two
    independent mixers in `Bidirectional`. Without `bidirectional`, `combine` is ignored.
    Unknown names, options, option values or forms raise `lrux.errors.ConfigError`.
    (`combine` is one of `COMBINES`; typed `str` so that a bad value is a ConfigError.)
    """
    entry = mixer_entry(name)
    kwargs = {**entry.options, **options}
    entry.check_options(name, kwargs)
    if combine is not None and combine not in COMBINES:
        raise ConfigError(f"combine must be one of {COMBINES}{_suggest(combine, COMBINES)}")

    # every registered class takes (d_model, d_state, *, key, **options); type[AbstractMixer]
    # alone does not say so
    layer = typing.cast(Callable[..., AbstractMixer], entry.layer)

    def one(k):
        return layer(d_model, d_state, key=k, **kwargs)

    if not bidirectional:
        return _build(name, lambda: one(key))
    combine = entry.combines[0] if combine is None else combine
    if combine not in entry.combines:
        raise ConfigError(
            f"mixer {name!r} has no bidirectional form {combine!r}; it supports: "
            f"{', '.join(entry.combines)}"
        )
    if combine == "shared":
        return _build(
            name, lambda: layer(d_model, d_state, key=key, bidirectional=True, **kwargs)
        )
    return _build(
        name, lambda: Bidirectional.from_factory(one, d_model, combine=combine, key=key)
    )
