"""Training presets: the paper's Table 9 per LRA task, the S4D / S5 recipes, and CPU smoke sizes.

`get_preset(task, model, name)` returns a flat `Preset`; `apply_overrides(preset, ["lr=1e-3",
"depth=4", "r_min=0.5"])` replaces fields (parsed to each field's type) or, for names that
are not fields, sets mixer options (passed to `lrux.registry.make_mixer`). A name that is
neither a field nor `data.*` / `mixer.*` and looks like a field (a typo) is refused with the
closest field name; whether a mixer accepts its options is checked when the model is built.

Sources:
- LRU: paper.md section 3 (Table 9, rings from Table 8, base lr from the S5 run scripts). The
  ring (r_min, r_max, max_phase) is a mixer option of the mixers that take one (the registry's
  `ring` fact): the LRU and the ring rung of the ladder.
- S5: the S5 authors' LRA run scripts (bin/run_experiments/run_lra_*.sh): layers, d_model,
  P (`d_state`), J blocks, batch, epochs, lr = ssm_lr * lr_factor with the SSM parameters at
  ssm_lr (so our lr_factor = 1 / their lr_factor), weight decay, dropout, C init, activation
  (half_glu1 / half_glu2), `opt_config` and `dt_global` (as `param_groups`), warmup epochs,
  batch-norm momentum; S5's own bidirectional form on every task.
- S4D: state-spaces/s4 at b5dae46 (2022-08-10, the S4D paper's code), its
  configs/experiment/lra/s4-lra-*.yaml with `model/layer=s4d`: layers, d_model, N 64, dropout,
  pre/post-norm and norm type (LayerNorm on Image), a final norm after pre-norm stacks,
  s4's bidirectional flag, full GLU, dt_min, n_ssm (2 on Image), pooling (last position on
  Pathfinder), batch, epochs, lr, weight decay, cosine horizon (`num_training_steps`) and
  warmup steps, bilinear discretization, the schedule from 0 to 0. Layer lr: A and B at their
  `lr` without weight decay (lr_factor), the step at its own `lr` or, where s4 says
  `dt: null`, at the global lr without weight decay; every other parameter (norms, biases,
  the embedding included) AdamW at the global lr; s4's bidirectional form (one kernel
  generator, shared A, B and step, two C, the anti-causal part from the next position:
  combine "shared_from_next"). Deliberate differences (S4D-Lin init, colour sCIFAR, ...) are
  stated with their reasons in docs/results.md; benchmarks/recipe_sources.toml holds every
  source value.
Iterations are epochs * (train size // batch) when a recipe is given in epochs (S5 and s4
drop the last partial batch of an epoch). Every paper
preset evaluates once per epoch of the training split (`eval_every=0`).
"""

import copy
import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any

from lrux.checks import COUNT, POSITIVE, STEP_MAX, STEPS, Range, parse, problem
from lrux.data.spec import TASKS
from lrux.errors import ConfigError

PRESET_NAMES = ("paper", "smoke")
GLUS = ("full", "half", "half2")
NORMS = ("batch", "layer", "none")
POOLINGS = ("mean", "last")
COMBINES = ("default", "concat", "sum", "shared", "shared_from_next")  # + lrux.registry's
GROUPS = ("recurrent", "recurrent_decay", "decay", "no_decay")

# Table 9 of the LRU paper (paper.md section 3); `ring` = (r_min, r_max, max_phase).
_LRU_TABLE9: dict[str, dict[str, Any]] = {
    "image": dict(depth=6, d_model=512, d_state=384, steps=180_000, batch_size=50,
                  lr_factor=0.25, weight_decay=0.05, dropout=0.1, lr=0.0045,
                  ring=(0.9, 0.999, 2 * math.pi)),
    "listops": dict(depth=6, d_model=128, d_state=256, steps=80_000, batch_size=32,
                    lr_factor=0.5, weight_decay=0.05, dropout=0.0, lr=0.003,
                    ring=(0.0, 0.99, 2 * math.pi)),
    "text": dict(depth=6, d_model=256, d_state=192, steps=50_000, batch_size=32,
                 lr_factor=0.1, weight_decay=0.05, dropout=0.1, lr=0.004,
                 ring=(0.5, 0.9, 2 * math.pi)),
    "retrieval": dict(depth=6, d_model=128, d_state=256, steps=100_000, batch_size=64,
                      lr_factor=0.5, weight_decay=0.05, dropout=0.1, lr=0.002,
                      ring=(0.5, 0.9, 2 * math.pi)),
    "pathfinder": dict(depth=6, d_model=192, d_state=256, steps=500_000, batch_size=64,
                       lr_factor=0.25, weight_decay=0.05, dropout=0.0, lr=0.0045,
                       ring=(0.9, 0.999, 2 * math.pi)),
    "pathx": dict(depth=6, d_model=128, d_state=256, steps=250_000, batch_size=32,
                  lr_factor=0.25, weight_decay=0.05, dropout=0.0, lr=0.0018,
                  ring=(0.999, 0.9999, math.pi / 10)),
}

# Train-set sizes (lra-data.md) to turn epochs into iterations and to check the data.
TRAIN_SIZE = {
    "listops": 96_000, "text": 25_000, "retrieval": 147_086, "image": 45_000,
    "pathfinder": 160_000, "pathx": 160_000,
}

# S5's opt_config / dt_global (s5/train_helpers.py) as overrides of lrux's groups:
# "standard" keeps B, Lambda and log_dt at the ssm lr without weight decay (our "recurrent").
_S5_GROUPS = {
    "standard": {},
    "BfastandCdecay": {"B_re": "decay", "B_im": "decay"},  # B at the global lr, with wd
    "BandCdecay": {"B_re": "recurrent_decay", "B_im": "recurrent_decay"},  # ssm lr, with wd
    "dt_global": {"log_dt": "decay"},  # the step at the global lr, with wd
}


@dataclass(frozen=True)
class _S5Script:
    layers: int
    d_model: int
    P: int
    blocks: int
    batch: int
    epochs: int
    ssm_lr: float
    lr_factor: float
    wd: float
    dropout: float
    c_init: str
    activation: str  # half_glu1 -> "half", half_glu2 -> "half2"
    groups: str
    warmup_epochs: int
    bn_momentum: float
    extra: dict[str, Any] = field(default_factory=dict)


_S5: dict[str, _S5Script] = {
    "listops": _S5Script(8, 128, 16, 8, 50, 40, 0.001, 3.0, 0.04, 0.0, "lecun_normal",
                         "half2", "BfastandCdecay", 1, 0.95),
    "text": _S5Script(6, 256, 192, 12, 50, 35, 0.001, 4.0, 0.07, 0.1, "lecun_normal",
                      "half2", "dt_global", 0, 0.95),
    "retrieval": _S5Script(6, 128, 256, 16, 32, 20, 0.001, 2.0, 0.05, 0.0,
                           "trunc_standard_normal", "half", "dt_global", 1, 0.95),
    "image": _S5Script(6, 512, 384, 3, 50, 250, 0.001, 4.5, 0.07, 0.1, "lecun_normal",
                       "half", "BfastandCdecay", 1, 0.95, {"clip_eigs": True}),
    "pathfinder": _S5Script(6, 192, 256, 8, 64, 200, 0.0009, 5.0, 0.03, 0.05,
                            "trunc_standard_normal", "half", "standard", 1, 0.9),
    "pathx": _S5Script(6, 128, 256, 16, 32, 75, 0.0006, 3.0, 0.06, 0.0, "complex_normal",
                       "half", "BandCdecay", 1, 0.9, {"dt_min": 0.0001}),
}


@dataclass(frozen=True)
class _S4Config:
    """One s4 LRA config (b5dae46 configs/experiment/lra/s4-lra-*.yaml), in s4's own terms."""

    n_layers: int
    d_model: int
    d_state: int
    dropout: float
    prenorm: bool
    norm: str
    layer_lr: float | dict[str, float | None]  # model.layer.lr: one lr, or per dt / A / B
    dt_min: float
    n_ssm: int | None  # None: one (A, B) per channel
    decoder: str  # decoder.mode: "pool" (masked mean) or "last"
    batch: int
    lr: float
    weight_decay: float
    training_steps: int  # scheduler.num_training_steps: the cosine horizon
    warmup_steps: int  # scheduler.num_warmup_steps (configs/scheduler/cosine_warmup.yaml: 1000)
    epochs: int  # trainer.max_epochs


_DT_NULL = {"dt": None, "A": 0.001, "B": 0.001}
_S4D: dict[str, _S4Config] = {
    "listops": _S4Config(8, 128, 64, 0.0, False, "batch", _DT_NULL, 0.001, None, "pool", 50,
                         0.01, 0.05, 80_000, 1000, 40),
    "text": _S4Config(6, 256, 64, 0.0, True, "batch", _DT_NULL, 0.001, None, "pool", 16, 0.01,
                      0.05, 50_000, 1000, 32),
    "retrieval": _S4Config(6, 256, 64, 0.0, True, "batch", _DT_NULL, 0.001, None, "pool", 64,
                           0.01, 0.05, 50_000, 2500, 20),
    "image": _S4Config(6, 512, 64, 0.1, False, "layer", _DT_NULL, 0.001, 2, "pool", 50, 0.01,
                       0.05, 200_000, 1000, 200),
    "pathfinder": _S4Config(6, 256, 64, 0.0, True, "batch", 0.001, 0.001, None, "last", 64,
                            0.004, 0.03, 500_000, 2500, 200),
    "pathx": _S4Config(6, 256, 64, 0.0, True, "batch", 0.0005, 0.0001, None, "pool", 16,
                       0.0005, 0.05, 500_000, 10_000, 50),
}

# Smoke runs: short generated data (ListOps, Pathfinder, PathX) or capped real-format data,
# and per-task sizes chosen so each run finishes in well under two minutes on one CPU.
_SMOKE: dict[str, dict[str, Any]] = {
    "listops": dict(
        batch_size=32, steps=240, eval_every=80, log_every=20, lr=5e-3,
        data={"generate": dict(train=1000, val=128, test=128, min_length=20, max_length=100,
                               workers=1, progress=False),
              "load": dict(max_length=128, progress=False)},
    ),
    "text": dict(batch_size=16, steps=60, eval_every=30, log_every=10,
                 data={"load": dict(max_length=256, progress=False)}),
    "retrieval": dict(batch_size=16, steps=40, eval_every=20, log_every=10,
                      data={"load": dict(max_length=256, progress=False)}),
    "image": dict(batch_size=16, steps=40, eval_every=20, log_every=10,
                  data={"load": dict(progress=False)}),
    "pathfinder": dict(
        batch_size=16, steps=60, eval_every=30, log_every=10,
        data={"generate": dict(size=32, difficulty=14, num=400, workers=1, progress=False),
              "load": dict(progress=False, workers=1)},
    ),
    "pathx": dict(
        d_model=16, d_state=16, batch_size=8, steps=16, eval_every=8, log_every=4,
        data={"generate": dict(size=128, difficulty=14, num=80, workers=1, progress=False),
              "load": dict(progress=False, workers=1)},
    ),
}


@dataclass(frozen=True)
class Preset:
    """Every knob of one training run (model, optimiser, loop, data). All overridable."""

    task: str
    model: str = "lru"
    name: str = "paper"
    # model
    depth: int = 6
    d_model: int = 128
    d_state: int = 256
    bidirectional: bool = False
    combine: str = "default"  # bidirectional form: the default, concat, sum, shared(_from_next)
    norm: str = "batch"
    prenorm: bool = True
    glu: str = "full"
    pooling: str = "mean"
    dropout: float = 0.0
    dropout_tied: bool = True
    bn_momentum: float = 0.9
    final_norm: bool = False  # a norm after the last block (s4's pre-norm stacks)
    mixer_options: dict[str, Any] = field(default_factory=dict)
    remat: bool = False
    # optimisation
    batch_size: int = 32
    steps: int = 1000
    lr: float = 1e-3
    lr_factor: float = 1.0
    weight_decay: float = 0.05
    warmup_frac: float = 0.1
    min_lr: float = 1e-7
    schedule_steps: int = 0  # the cosine's end (s4's num_training_steps); 0: at `steps`
    grad_clip: float = 0.0
    decay_norm_bias: bool = True
    param_groups: dict[str, str] = field(default_factory=dict)  # field name -> group
    # loop
    eval_every: int = 0  # 0: once per epoch of the training split
    log_every: int = 100
    eval_batch_size: int = 0  # 0: batch_size
    checkpoint_every: str = "30min"  # also "N" steps, "" (only at evaluations)
    data_shards: int = 0
    # each batch padded to its longest sequence rounded up to this multiple (0: to the
    # task's maximum); the results do not depend on it (padding never reaches an output)
    pad_multiple: int = 256
    # data: {"generate": kwargs of generate_listops / generate_pathfinder when the data is
    # missing, "load": kwargs of lrux.data.load_split}
    data: dict[str, Any] = field(default_factory=dict)
    require_full_data: bool = False  # refuse a training split much smaller than the paper's

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def eval_interval(self, train_size: int) -> int:
        """Steps between evaluations: `eval_every`, or one epoch of `train_size` when 0."""
        return self.eval_every or max(1, train_size // self.batch_size)

    def checkpoint_interval(self) -> tuple[int | None, float | None]:
        """(steps, minutes) of `checkpoint_every`; None where that cadence is off."""
        return parse_checkpoint_every(self.checkpoint_every)


def parse_checkpoint_every(text: str) -> tuple[int | None, float | None]:
    """"500" -> (500, None); "30min" / "2h" -> (None, minutes); "" or "0" -> (None, None)."""
    t = str(text).strip().lower().replace(" ", "")
    if t in ("", "0", "none", "off"):
        return None, None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(min|m|h|s)?", t)
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(
            f"checkpoint_every={text!r}: expected a number of steps (e.g. 2000), a time "
            "(e.g. 30min, 2h) or '' for checkpoints only at evaluations"
        )
    value, unit = float(m.group(1)), m.group(2)
    if unit is None:
        if not value.is_integer():
            raise ConfigError(f"checkpoint_every={text!r}: a step count must be an integer")
        return int(value), None
    return None, value * {"s": 1 / 60, "m": 1, "min": 1, "h": 60}[unit]


def takes_ring(model: str) -> bool:
    """Whether mixer `model` takes the ring options r_min, r_max, max_phase (registry fact)."""
    from lrux.registry import MIXERS

    entry = MIXERS.get(model)
    return bool(entry is not None and entry.ring)


def _ring_options(task: str, model: str) -> dict[str, float]:
    """Table 9's ring of `task` as the options mixer `model` takes (registry fact)."""
    from lrux.registry import MIXERS

    entry = MIXERS.get(model)
    return {} if entry is None else entry.ring_kwargs(*_LRU_TABLE9[task]["ring"])


def _common(task: str, model: str, **overrides: Any) -> dict[str, Any]:
    """The fields every paper preset shares, with `overrides` replacing some of them."""
    common: dict[str, Any] = dict(
        task=task, model=model, name="paper", bidirectional=task in ("pathfinder", "pathx"),
        glu="half" if task == "pathx" else "full", pooling="mean", eval_every=0,
        log_every=100, require_full_data=True,
    )
    return common | overrides


def _s5_preset(task: str) -> Preset:
    s = _S5[task]
    epoch = TRAIN_SIZE[task] // s.batch  # s5/train.py: steps_per_epoch = int(train / bsz)
    steps = s.epochs * epoch
    groups = dict(_S5_GROUPS[s.groups])
    return Preset(
        **_common(task, "s5", bidirectional=True, combine="shared", glu=s.activation),
        mixer_options={"blocks": s.blocks, "c_init": s.c_init, **s.extra},
        depth=s.layers, d_model=s.d_model, d_state=s.P, batch_size=s.batch, steps=steps,
        lr=s.ssm_lr * s.lr_factor, lr_factor=1.0 / s.lr_factor, weight_decay=s.wd,
        dropout=s.dropout, bn_momentum=s.bn_momentum, param_groups=groups,
        warmup_frac=s.warmup_epochs * epoch / steps,
    )


def _s4d_preset(task: str) -> Preset:
    c = _S4D[task]
    steps = c.epochs * (TRAIN_SIZE[task] // c.batch)  # drop_last: configs/loader/default.yaml
    ab_lr = c.layer_lr["A"] if isinstance(c.layer_lr, dict) else c.layer_lr
    assert ab_lr is not None  # A and B always have their own lr in s4's configs
    assert not isinstance(c.layer_lr, dict) or c.layer_lr["B"] == ab_lr  # one lr_factor
    dt_global = isinstance(c.layer_lr, dict) and c.layer_lr["dt"] is None
    options: dict[str, Any] = {"discretization": "bilinear"}  # SSKernelDiag's default
    if c.dt_min != 0.001:
        options["dt_min"] = c.dt_min
    if c.n_ssm is not None and c.n_ssm != c.d_model:
        options["n_ssm"] = c.n_ssm
    return Preset(
        **_common(task, "s4d", bidirectional=True, combine="shared_from_next", glu="full",
                  pooling="mean" if c.decoder == "pool" else "last"),
        mixer_options=options, depth=c.n_layers, d_model=c.d_model, d_state=c.d_state,
        norm=c.norm, prenorm=c.prenorm, final_norm=c.prenorm, dropout=c.dropout,
        batch_size=c.batch, steps=steps, lr=c.lr, lr_factor=ab_lr / c.lr,
        param_groups={"log_dt": "no_decay"} if dt_global else {},  # dt: null: the global lr
        weight_decay=c.weight_decay, warmup_frac=c.warmup_steps / steps, min_lr=0.0,
        schedule_steps=c.training_steps,
    )


def _paper(task: str, model: str) -> Preset:
    if model == "s5":
        return _s5_preset(task)
    if model == "s4d":
        return _s4d_preset(task)
    t = {k: v for k, v in _LRU_TABLE9[task].items() if k != "ring"}
    return Preset(**_common(task, model), mixer_options=_ring_options(task, model), **t)


def _smoke(task: str, model: str) -> Preset:
    kw: dict[str, Any] = dict(
        depth=2, d_model=32, d_state=32, bidirectional=task in ("pathfinder", "pathx"),
        glu="half" if task == "pathx" else "full", dropout=0.0, lr=3e-3, lr_factor=0.5,
        weight_decay=0.05, checkpoint_every="", mixer_options=_ring_options(task, model),
    )
    kw.update(copy.deepcopy(_SMOKE[task]))
    return Preset(task=task, model=model, name="smoke", **kw)


def get_preset(task: str, model: str = "lru", name: str = "paper") -> Preset:
    """The `name` preset ("paper" or "smoke") of `task` for mixer `model`.

    `paper`: Table 9 for the LRU and every other mixer of the zoo (with that mixer), the S5 /
    S4D recipes for `s5` / `s4d`. `smoke`: depth 2, d_model 32, d_state 32, a few dozen to
    240 steps on short generated (or capped) data; well under two minutes on one CPU core.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if name not in PRESET_NAMES:
        raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(PRESET_NAMES)}")
    from lrux.registry import MIXERS

    if model not in MIXERS:
        raise ConfigError(f"unknown model {model!r}{_suggest(model, MIXERS)}; expected one of: "
                          f"{', '.join(MIXERS)}")
    return _paper(task, model) if name == "paper" else _smoke(task, model)


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# The range of each numeric field; an int field not named here is a count (>= 0), a float
# field not named here any finite number. Every int fits in int64, every float is finite.
FIELD_RANGES: dict[str, Range] = {
    "depth": POSITIVE, "d_model": POSITIVE, "d_state": POSITIVE, "batch_size": POSITIVE,
    "steps": STEPS, "log_every": Range(1, STEP_MAX),
    "eval_every": Range(0, STEP_MAX, why="(0: once per epoch)"),
    "eval_batch_size": Range(0, why="(0: batch_size)"),
    "data_shards": Range(0, why="(0: one per process)"),
    "pad_multiple": Range(0, why="(0: pad to the task's maximum)"),
    "schedule_steps": Range(0, STEP_MAX, why="(0: at steps)"),
    "lr": Range(0, lo_open=True), "lr_factor": Range(0, lo_open=True),
    "warmup_frac": Range(0, 1, hi_open=True), "dropout": Range(0, 1, hi_open=True),
    "bn_momentum": Range(0, 1, hi_open=True),
    "weight_decay": COUNT, "grad_clip": COUNT, "min_lr": COUNT,
}

_FIELDS = {f.name: f for f in dataclasses.fields(Preset)}
_LOCKED = ("task", "model", "name", "preset")


def field_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be preset field `name` ("preset field depth must be >= 1, got 0"),
    judged by the field's declared type and `FIELD_RANGES`; None if it can."""
    kind = _FIELDS[name].type
    base = typing.get_origin(kind) or kind
    rng = FIELD_RANGES.get(name, COUNT if base is int else None)
    why = problem(value, kind)
    if why is not None:
        huge = base is int and isinstance(value, int) and not isinstance(value, bool)
        bounded = huge and rng is not None and rng.hi is not None
        return f"preset field {name}: {problem(value, kind, rng) if bounded else why}"
    if rng is not None and base in (int, float) and not rng.holds(value):
        return f"preset field {name} must be {rng.text()}, got {value!r}"
    return None


def _parse_any(text: str) -> Any:
    """A JSON value, a number written with pi ("pi/10"), or the text itself."""
    return parse(text, Any)


def mixer_option_types(model: str) -> dict[str, Any]:
    """The options mixer `model` takes, name -> declared type (its constructor's
    annotations); {} for a name that is not registered."""
    from lrux.registry import MIXERS

    entry = MIXERS.get(model)
    if entry is None:
        return {}
    hints = typing.get_type_hints(entry.layer.__init__)
    return {n: hints[n] for n in entry.option_names() if n in hints}


def _option_value(label: str, text: Any, option: str, model: str) -> Any:
    """A mixer option's value, read and checked as its constructor annotation says."""
    kind = mixer_option_types(model).get(option)
    value = (parse(text, kind) if kind is not None else _parse_any(text)) \
        if isinstance(text, str) else text
    why = problem(value, kind) if kind is not None else None
    if why is not None:
        raise ConfigError(f"{label}: mixer {model!r} option {option}: {why}")
    return value


def field_names() -> list[str]:
    """Every preset field that `--set NAME=VALUE` can change."""
    return [n for n in _FIELDS if n not in _LOCKED]


def _set_data(data: dict, label: str, name: str, value: Any, task: str) -> None:
    from lrux.data.ensure import data_option_problem

    *parents, leaf = name.split(".")[1:]
    if len(parents) != 1 or not leaf or not parents[0]:
        raise ConfigError(f"{label}: expected data.generate.KEY=VALUE or data.load.KEY=VALUE")
    section = parents[0]
    kind = _data_kind(task, section, leaf)
    if isinstance(value, str):
        value = parse(value, kind) if kind is not None else _parse_any(value)
    why = data_option_problem(task, section, leaf, value)
    if why is not None:
        raise ConfigError(f"{label}: {why}")
    data[section] = {**data.get(section, {}), leaf: value}


def _data_kind(task: str, section: str, key: str) -> Any:
    from lrux.data.ensure import data_option_kinds

    if section not in ("load", "generate"):
        return None
    kind = data_option_kinds(task, section).get(key)
    return kind[0] if kind else None


def _looks_like_field(name: str) -> str | None:
    close = difflib.get_close_matches(name, field_names(), n=1, cutoff=0.8)
    return close[0] if close else None


def _label(name: str, value: Any) -> str:
    """How an override is named in messages: `--set NAME=VALUE` (text) or `NAME=VALUE`."""
    return f"--set {name}={value}" if isinstance(value, str) else f"{name}={value!r}"


def _field_value(name: str, value: Any) -> Any:
    """Preset field `name` from an override (text read as the field's declared type)."""
    kind = _FIELDS[name].type
    parsed = parse(value, kind) if isinstance(value, str) else value
    why = field_problem(name, parsed)
    if why is not None:
        why = why.replace(f"preset field {name}: ", "")
        raise ConfigError(f"{_label(name, value)}: {why}")
    return parsed


def apply_overrides(
    preset: Preset, overrides: list[str] | dict[str, Any], *, mixer_options: set | None = None
) -> Preset:
    """Replace preset fields from `NAME=VALUE` strings (or a dict of values).

    NAME may be a Preset field, `data.KEY` (a data option), `mixer.NAME` (a mixer option), or
    any other name, which is set as a mixer option. When `mixer_options` (the names the mixer
    accepts) is given, a name that is none of these is refused, with the closest name; without
    it, a name that looks like a mistyped field (e.g. `deph`) is refused. Every value is read
    and checked against its declared type and range here (preset fields: `Preset`'s
    annotations and `FIELD_RANGES`; data options: `lrux.data.ensure.data_option_kinds`; mixer
    options: the mixer constructor's annotations), with a ConfigError naming the override.
    """
    items = (
        list(overrides.items())
        if isinstance(overrides, dict)
        else [_split_override(o) for o in overrides]
    )
    updates: dict[str, Any] = {}
    mixer = dict(preset.mixer_options)
    data = copy.deepcopy(preset.data)
    for name, value in items:
        label = _label(name, value)
        if name in _LOCKED:
            flag = "preset" if name == "name" else name
            raise ConfigError(f"--set {name}: use the --{flag} flag instead")
        if name.startswith("data."):
            _set_data(data, label, name, value, preset.task)
        elif name.startswith("mixer."):
            mixer[name[6:]] = _option_value(label, value, name[6:], preset.model)
        elif name in _FIELDS:
            updates[name] = _field_value(name, value)
        else:
            if name not in mixer:
                _check_mixer_option(name, preset.model, mixer_options)
            mixer[name] = _option_value(label, value, name, preset.model)
    updates.setdefault("mixer_options", mixer)
    updates.setdefault("data", data)
    out = dataclasses.replace(preset, **updates)
    validate(out)
    return out


def _check_mixer_option(name: str, model: str, accepted: set | None) -> None:
    if accepted is not None and name in accepted:
        return
    if accepted is not None:
        close = difflib.get_close_matches(name, sorted(accepted) + field_names(), n=1,
                                          cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"--set {name}: not a preset field, data.* option or option of mixer {model!r}"
            f"{hint}. Preset fields: {', '.join(field_names())}; {model} options: "
            f"{', '.join(sorted(accepted)) or 'none'}"
        )
    field_like = _looks_like_field(name)
    if field_like:
        raise ConfigError(f"--set {name}: not a preset field (did you mean {field_like!r}?); "
                          "a mixer option can be set as mixer.NAME=VALUE")


def _split_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"--set expects NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    name = name.strip()
    if not name:
        raise ConfigError(f"--set expects NAME=VALUE, got {text!r}")
    return name, value.strip()


def _check_choice(p: Preset, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(p, name)
    if value not in choices:
        raise ConfigError(f"preset field {name} must be one of {', '.join(choices)}, got "
                          f"{value!r}{_suggest(str(value), choices)}")


def _check_data(p: Preset) -> None:
    from lrux.data.ensure import data_option_problem

    if set(p.data) - {"generate", "load"}:
        raise ConfigError(f"preset field data: expected keys 'generate' and 'load', got "
                          f"{sorted(set(p.data) - {'generate', 'load'})}")
    for section, options in p.data.items():
        if not isinstance(options, dict):
            raise ConfigError(f"preset field data.{section}: expected a JSON object, got "
                              f"{options!r}")
        for key, value in options.items():
            why = data_option_problem(p.task, section, key, value)
            if why is not None:
                raise ConfigError(f"preset field data.{section}.{key}={value!r}: {why}")


def _check_mixer_options(p: Preset) -> None:
    kinds = mixer_option_types(p.model)
    for option, value in p.mixer_options.items():
        why = problem(value, kinds[option]) if option in kinds else None
        if why is not None:
            raise ConfigError(f"preset field mixer_options: mixer {p.model!r} option "
                              f"{option}: {why}")


def validate(p: Preset) -> None:
    """Raise ConfigError naming the field when a preset value is not of its declared type
    or out of its range (`field_problem`), a choice is unknown, or a data or mixer option's
    value is not what the option declares."""
    for name in _FIELDS:
        why = field_problem(name, getattr(p, name))
        if why is not None:
            raise ConfigError(why)
    _check_choice(p, "norm", NORMS)
    _check_choice(p, "glu", GLUS)
    _check_choice(p, "pooling", POOLINGS)
    _check_choice(p, "combine", COMBINES)
    for fname, group in p.param_groups.items():
        if group not in GROUPS:
            raise ConfigError(f"preset field param_groups: group {group!r} for {fname!r} must "
                              f"be one of {', '.join(GROUPS)}")
    parse_checkpoint_every(p.checkpoint_every)
    _check_data(p)
    _check_mixer_options(p)
