"""One registry of every sequence mixer in the zoo, selected by name.

Each `MixerEntry` names the layer class (an `AbstractMixer`), the options that make this rung
of the ladder, and the facts that the rest of lrux needs about the mixer: its family, whether
it takes a ring (r_min, r_max, and max_phase where it has phases), its sequence-length
option, and the paper's accuracies for the rung. What a mixer can do is read from its type
(`lrux.layers.base`): its bidirectional forms (`MixerEntry.combines`) follow from the class,
never from a declared list. `make_mixer` builds an entry by name (`examples/train_lra.py
--model NAME`, the models, benchmarks and notebooks); tests/test_registry.py runs the contract
tests on every entry, chosen by type. Names follow the paper's ablation table (paper.md
section 4) and the SSM comparison. Adding a mixer: docs/architecture.md, "Adding a mixer".

A mixer's options are its constructor's keyword parameters; their annotations (`Literal`
choices included) let `make_mixer` reject an unknown name or value with a `ConfigError` that
names the option, the mixer and the accepted values, before building anything.
"""

import dataclasses
import difflib
import inspect
import math
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, get_args

from jaxtyping import PRNGKeyArray

from lrux.data.spec import TASKS
from lrux.errors import ConfigError
from lrux.layers.base import AbstractDiagonalMixer, AbstractMixer, AbstractRecurrentMixer
from lrux.layers.bidirectional import Bidirectional, SharedBidirectional
from lrux.layers.diagonal import DiagonalRNN
from lrux.layers.lru import LRU
from lrux.layers.rglru import RGLRU
from lrux.layers.rnn import GRU, LSTM, DenseLinearRNN, ElmanRNN
from lrux.layers.s4 import S4
from lrux.layers.s4d import S4D
from lrux.layers.s5 import S5

Combine = Literal["concat", "sum", "shared", "shared_from_next"]
COMBINES: tuple[str, ...] = get_args(Combine)
RING_OPTIONS: tuple[str, ...] = ("r_min", "r_max", "max_phase")
_RING_NEEDED = ("r_min", "r_max")  # max_phase only where the layer has phases
_NOT_OPTIONS = ("self", "d_model", "d_state", "key", "return")
_FAMILY = re.compile(r"[a-z][a-z0-9_-]*")


def _constructor_options(layer: type) -> dict[str, Any]:
    """The keyword parameters of `layer.__init__` (name -> annotation, or `Any` where it has
    none), in order."""
    hints = typing.get_type_hints(layer.__init__)
    params = inspect.signature(layer.__init__).parameters
    return {name: hints.get(name, Any) for name in params
            if name not in _NOT_OPTIONS and params[name].kind is not inspect.Parameter.VAR_KEYWORD}


def _suggest(word: object, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def forms_of(layer: type) -> tuple[str, ...]:
    """The bidirectional forms a mixer class has, by its type: two independent copies
    (`Bidirectional`: "concat", "sum") for a causal `AbstractRecurrentMixer`, and the shared
    forms (`SharedBidirectional`: "shared", "shared_from_next") for an
    `AbstractDiagonalMixer`; none for a mixer that only reads whole sequences."""
    forms: tuple[str, ...] = ()
    if issubclass(layer, AbstractRecurrentMixer):
        forms += ("concat", "sum")
    if issubclass(layer, AbstractDiagonalMixer):
        forms += ("shared", "shared_from_next")
    return forms


@dataclasses.dataclass(frozen=True, eq=False)
class MixerEntry:
    """A registered mixer: its class, this rung's options, and the facts about it.

    - `layer`: the `AbstractMixer` subclass, built as ``layer(d_model, d_state, key=...,
      **options)``.
    - `options`: this rung's constructor options (e.g. `parameterization="reim"`).
    - `family`: a group name, an open set (a lowercase word): the registry's own are
      "ladder" (the paper's ablation ladder, section 4, in its order), "baseline" (GRU,
      LSTM) and "ssm" (the comparison layers); a new name makes a new family.
    - `ring`: the layer takes the ring options r_min, r_max (and max_phase, where it has
      phases) and honours them (the disk-initialised rungs take the arguments but are the
      unit disk by definition: False).
    - `length_option`: the constructor option that wants the task's sequence length (S4's
      "l_max"), or None.
    - `default_combine`: the bidirectional form `make_mixer` builds when none is asked for
      (None: the first of `combines`, "concat" for every recurrent mixer).
    - `paper`: the paper's test accuracy (%) of this rung per LRA task, as the paper prints
      it ("89.0", "chance", "fails"; paper.md section 4), where the paper has the rung.

    The facts are checked against the constructor when the entry is made (ValueError).
    """

    layer: type[AbstractMixer]
    options: Mapping[str, Any]
    description: str
    family: str
    ring: bool = False
    length_option: str | None = None
    default_combine: str | None = None
    paper: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        problems = self._problems()
        if problems:
            raise ValueError(f"MixerEntry for {self.layer!r}: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        if not (isinstance(self.layer, type) and issubclass(self.layer, AbstractMixer)):
            return [f"layer must be an AbstractMixer subclass, got {self.layer!r}"]
        accepted = _constructor_options(self.layer)
        problems = []
        if not (isinstance(self.family, str) and _FAMILY.fullmatch(self.family)):
            problems.append("family must be a lowercase word (any word: a new one makes a new "
                            f"family), got {self.family!r}")
        missing = [o for o in _RING_NEEDED if o not in accepted]
        if self.ring and missing:
            problems.append(f"ring=True but the constructor does not take {missing}")
        if self.length_option is not None and self.length_option not in accepted:
            problems.append(f"length_option {self.length_option!r} is not a constructor option")
        if self.default_combine is not None and self.default_combine not in forms_of(self.layer):
            problems.append(f"default_combine {self.default_combine!r} is not a form of "
                            f"{self.layer.__name__}: {forms_of(self.layer) or 'it has none'}")
        unknown = [o for o in self.options if o not in accepted]
        if unknown:
            problems.append(f"options {unknown} are not keyword parameters of "
                            f"{self.layer.__name__}.__init__")
        bad_tasks = [t for t in self.paper if t not in TASKS]
        if bad_tasks:
            problems.append(f"paper: {bad_tasks} are not tasks ({', '.join(TASKS)})")
        return problems

    @property
    def module(self) -> str:
        """The module that defines the layer (for display and imports)."""
        return self.layer.__module__

    @property
    def cls(self) -> str:
        """The layer class's name (for display)."""
        return self.layer.__name__

    @property
    def combines(self) -> tuple[str, ...]:
        """The bidirectional forms, by the layer's type (`forms_of`), the default first."""
        forms = forms_of(self.layer)
        first = self.default_combine or (forms[0] if forms else None)
        return tuple(sorted(forms, key=lambda f: f != first))

    @property
    def ring_options(self) -> tuple[str, ...]:
        """The ring options this mixer takes: r_min, r_max (and max_phase where the
        constructor takes it) for a ring mixer, () otherwise."""
        if not self.ring:
            return ()
        return tuple(o for o in RING_OPTIONS if o in _constructor_options(self.layer))

    def ring_kwargs(self, r_min: float, r_max: float, max_phase: float = 2 * math.pi
                    ) -> dict[str, Any]:
        """A ring as this mixer's options ({} for a mixer without a ring), typed to unpack
        into `make_mixer(..., **ring)`."""
        ring = {"r_min": r_min, "r_max": r_max, "max_phase": max_phase}
        return {o: ring[o] for o in self.ring_options}

    def option_names(self) -> tuple[str, ...]:
        """The options `make_mixer` accepts for this mixer."""
        return tuple(_constructor_options(self.layer))

    def option_choices(self) -> dict[str, tuple]:
        """The allowed values of the options typed as a `Literal`."""
        return {
            name: get_args(hint)
            for name, hint in _constructor_options(self.layer).items()
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
_TASK_ORDER = ("image", "listops", "text", "retrieval", "pathfinder", "pathx")  # the paper's


def _paper(*accuracies: str) -> dict[str, str]:
    """A row of the paper's tables (sCIFAR, ListOps, Text, Retrieval, Pathfinder, PathX)."""
    return dict(zip(_TASK_ORDER, accuracies, strict=True))


# the paper's ablation ladder (paper.md section 4, "The ablation ladder") and SSM reruns
# (paper.md section 4, "Results"), as printed; rows before the ring init use the disk init
MIXERS: dict[str, MixerEntry] = {
    "rnn-relu": MixerEntry(
        ElmanRNN, {"nonlinearity": "relu"}, "dense RNN, ReLU", "ladder",
        paper=_paper("69.7", "37.6", "88.0", "88.5", "chance", "chance"),
    ),
    "rnn-tanh": MixerEntry(
        ElmanRNN, {"nonlinearity": "tanh"}, "dense RNN, tanh", "ladder",
        paper=_paper("69.9", "43.9", "87.2", "88.9", "chance", "chance"),
    ),
    "linear-dense": MixerEntry(
        DenseLinearRNN, {}, "dense linear RNN, Glorot A", "ladder",
        paper=_paper("72.2", "50.4", "89.1", "89.1", "fails", "fails"),
    ),
    "diag-reim": MixerEntry(
        DiagonalRNN,
        {"parameterization": "reim", **_DISK},
        "diagonal complex, lambda = a + i b, disk init",
        "ladder",
        paper=_paper("86.5", "58.8", "87.4", "87.8", "fails", "fails"),
    ),
    "diag-exp": MixerEntry(
        DiagonalRNN,
        {"parameterization": "exp", **_DISK},
        "diagonal complex, lambda = exp(nu + i theta), disk init",
        "ladder",
        paper=_paper("85.4", "60.5", "86.5", "89.4", "65.4", "fails"),
    ),
    "diag-stable-exp": MixerEntry(
        DiagonalRNN,
        {"parameterization": "stable-exp", **_DISK},
        "diagonal complex, lambda = exp(-exp(nu_log) + i exp(theta_log)), disk init",
        "ladder",
        paper=_paper("87.2", "59.4", "87.6", "89.1", "93.5", "fails"),
    ),
    "diag-ring": MixerEntry(
        DiagonalRNN,
        {"parameterization": "stable-exp", "init": "ring", "gamma": False},
        "stable exp + ring init (no gamma)",
        "ladder",
        ring=True,
        paper=_paper("88.1", "59.4", "89.4", "90.1", "94.4", "fails"),
    ),
    "lru": MixerEntry(
        LRU, {}, "Linear Recurrent Unit (+ gamma)", "ladder", ring=True,
        paper=_paper("89.0", "60.2", "89.4", "89.9", "95.1", "94.2"),
    ),
    "gru": MixerEntry(GRU, {}, "GRU baseline", "baseline"),
    "lstm": MixerEntry(LSTM, {}, "LSTM baseline", "baseline"),
    "s4d": MixerEntry(
        S4D, {}, "S4D (diagonal SSM, FFT convolution)", "ssm",
        paper=_paper("91.5", "60.2", "86.4", "89.5", "94.2", "97.5"),
    ),
    "s5": MixerEntry(
        S5, {}, "S5 (MIMO diagonal SSM, parallel scan)", "ssm", default_combine="shared",
        paper=_paper("88.8", "58.5", "86.2", "88.9", "95.7", "96.0"),
    ),
    "s4": MixerEntry(S4, {}, "S4 (DPLR, Cauchy kernel)", "ssm", length_option="l_max"),
    "rglru": MixerEntry(RGLRU, {}, "Griffin's RG-LRU", "ssm"),
}


def families() -> list[str]:
    """The families of the registered mixers, in registry order."""
    return list(dict.fromkeys(entry.family for entry in MIXERS.values()))


def layer_modules() -> list[str]:
    """The modules of the registered layers, in registry order, each once (the API docs
    page lists them: docs/_hooks.py)."""
    return list(dict.fromkeys(entry.module for entry in MIXERS.values()))


def mixer_names(family: str | None = None) -> list[str]:
    """The registered names in registry order (ladder, baselines, SSMs), or one family's.

    (User-facing arguments of the registry are typed `str`, so that a bad value is always a
    ConfigError, also under a runtime type checker.)"""
    if family is None:
        return list(MIXERS)
    if family not in families():
        raise ConfigError(f"unknown mixer family {family!r}; expected one of "
                          f"{', '.join(families())}")
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

        with register_mixer("lru-half", MixerEntry(LRU, {"r_min": 0.5}, "...", "ladder")):
            make_mixer("lru-half", 4, 8, key=key)
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
    its default): "concat" and "sum" wrap two independent mixers in `Bidirectional`;
    "shared" and "shared_from_next" read one diagonal mixer both ways with a second read-out
    (`SharedBidirectional`; its arrays other than that read-out are those of the causal
    mixer of the same key). Without `bidirectional`, `combine` is ignored.
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

    def one(k: PRNGKeyArray) -> Any:
        return layer(d_model, d_state, key=k, **kwargs)

    if not bidirectional:
        return _build(name, lambda: one(key))
    forms = entry.combines
    combine = forms[0] if combine is None and forms else combine
    if combine not in forms:
        supported = ", ".join(forms) or "none (it reads whole sequences: no step mode)"
        raise ConfigError(f"mixer {name!r} has no bidirectional form {combine!r}; it "
                          f"supports: {supported}")
    if combine in ("shared", "shared_from_next"):
        return _build(name, lambda: SharedBidirectional.from_factory(
            one, combine="shared_from_next" if combine == "shared_from_next" else "shared",
            key=key))
    return _build(name, lambda: Bidirectional.from_factory(
        one, d_model, combine="sum" if combine == "sum" else "concat", key=key))
