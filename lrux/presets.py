"""Training presets: the paper's Table 9 per LRA task, the S4D / S5 recipes, and CPU smoke sizes.

`get_preset(task, model, name)` returns a flat `Preset`; `apply_overrides(preset, ["lr=1e-3",
"depth=4", "r_min=0.5"])` replaces fields (parsed to each field's type) or, for names that
are not fields, sets mixer options (passed to `lrux.registry.make_mixer`).

Sources:
- LRU: paper.md section 3 (Table 9, rings from Table 8, base lr from the S5 run scripts).
- S5: the S5 authors' LRA run scripts (bin/run_experiments/run_lra_*.sh): d_model, layers,
  P (`d_state`), batch, epochs, lr = ssm_lr * lr_factor with the SSM parameters at ssm_lr
  (so our lr_factor = 1 / their lr_factor), weight decay, dropout; bidirectional on every task.
- S4D: the LRA table of the S4 / S4D papers (depth, H, N = 64, dropout, lr, batch, epochs,
  wd 0.05); A, B and the step at lr 0.001 (min(lr, 0.001)), no weight decay.
Iterations are epochs * train size / batch when a recipe is given in epochs.
"""

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
PRESET_NAMES = ("paper", "smoke")

# Table 9 of the LRU paper (paper.md section 3).
_LRU_TABLE9: dict[str, dict[str, Any]] = {
    "image": dict(
        depth=6, d_model=512, d_state=384, steps=180_000, batch_size=50, lr_factor=0.25,
        weight_decay=0.05, dropout=0.1, r_min=0.9, r_max=0.999, max_phase=2 * math.pi,
        lr=0.0045,
    ),
    "listops": dict(
        depth=6, d_model=128, d_state=256, steps=80_000, batch_size=32, lr_factor=0.5,
        weight_decay=0.05, dropout=0.0, r_min=0.0, r_max=0.99, max_phase=2 * math.pi, lr=0.003,
    ),
    "text": dict(
        depth=6, d_model=256, d_state=192, steps=50_000, batch_size=32, lr_factor=0.1,
        weight_decay=0.05, dropout=0.1, r_min=0.5, r_max=0.9, max_phase=2 * math.pi, lr=0.004,
    ),
    "retrieval": dict(
        depth=6, d_model=128, d_state=256, steps=100_000, batch_size=64, lr_factor=0.5,
        weight_decay=0.05, dropout=0.1, r_min=0.5, r_max=0.9, max_phase=2 * math.pi, lr=0.002,
    ),
    "pathfinder": dict(
        depth=6, d_model=192, d_state=256, steps=500_000, batch_size=64, lr_factor=0.25,
        weight_decay=0.05, dropout=0.0, r_min=0.9, r_max=0.999, max_phase=2 * math.pi,
        lr=0.0045,
    ),
    "pathx": dict(
        depth=6, d_model=128, d_state=256, steps=250_000, batch_size=32, lr_factor=0.25,
        weight_decay=0.05, dropout=0.0, r_min=0.999, r_max=0.9999, max_phase=math.pi / 10,
        lr=0.0018,
    ),
}

# Train-set sizes (lra-data.md) to turn epochs into iterations.
_TRAIN_SIZE = {
    "listops": 96_000, "text": 25_000, "retrieval": 147_086, "image": 45_000,
    "pathfinder": 160_000, "pathx": 160_000,
}

# S5 run scripts: (layers, d_model, P, blocks, batch, epochs, ssm_lr, lr_factor, wd, dropout,
# extra S5 options). Their C_init "lecun_normal" maps to our "trunc_standard_normal" (C of
# variance 1/P); all six scripts use bidirectional=True (S5's own: directions summed through
# separate C's) and batch norm.
_S5: dict[str, tuple] = {
    "listops": (8, 128, 16, 8, 50, 40, 0.001, 3.0, 0.04, 0.0, {}),
    "text": (6, 256, 192, 12, 50, 35, 0.001, 4.0, 0.07, 0.1, {}),
    "retrieval": (6, 128, 256, 16, 32, 20, 0.001, 2.0, 0.05, 0.0, {}),
    "image": (6, 512, 384, 3, 50, 250, 0.001, 4.5, 0.07, 0.1, {"clip_eigs": True}),
    "pathfinder": (6, 192, 256, 8, 64, 200, 0.0009, 5.0, 0.03, 0.05, {}),
    "pathx": (6, 128, 256, 16, 32, 75, 0.0006, 3.0, 0.06, 0.0,
              {"c_init": "complex_normal", "dt_min": 0.0001}),
}

# S4D LRA table: (depth, H, N, dropout, lr, batch, epochs, wd, prenorm).
_S4D: dict[str, tuple] = {
    "listops": (8, 128, 64, 0.0, 0.01, 50, 40, 0.05, False),
    "text": (6, 256, 64, 0.0, 0.01, 16, 32, 0.05, True),
    "retrieval": (6, 256, 64, 0.0, 0.01, 64, 20, 0.05, True),
    "image": (6, 512, 64, 0.1, 0.01, 50, 200, 0.05, False),
    "pathfinder": (6, 256, 64, 0.0, 0.004, 64, 200, 0.05, True),
    "pathx": (6, 256, 64, 0.0, 0.0005, 32, 50, 0.05, True),
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
    preset: str = "paper"
    # model
    depth: int = 6
    d_model: int = 128
    d_state: int = 256
    r_min: float = 0.0
    r_max: float = 1.0
    max_phase: float = 2 * math.pi
    bidirectional: bool = False
    combine: str = "concat"
    norm: str = "batch"
    prenorm: bool = True
    glu: str = "full"
    pooling: str = "mean"
    dropout: float = 0.0
    bn_momentum: float = 0.9
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
    grad_clip: float = 0.0
    decay_norm_bias: bool = True
    # loop
    eval_every: int = 1000
    log_every: int = 100
    eval_batch_size: int = 0
    data_shards: int = 0
    # data: {"generate": kwargs of generate_listops / generate_pathfinder when the data is
    # missing, "load": kwargs of lrux.data.load_split}
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def ring_options(self) -> dict[str, float]:
        return {"r_min": self.r_min, "r_max": self.r_max, "max_phase": self.max_phase}


def _paper(task: str, model: str) -> Preset:
    t = _LRU_TABLE9[task]
    common = dict(
        task=task,
        model=model,
        preset="paper",
        bidirectional=task in ("pathfinder", "pathx"),
        glu="half" if task == "pathx" else "full",
        pooling="mean",
        eval_every=min(5000, t["steps"] // 10),
        log_every=100,
    )
    if model == "s5":
        layers, h, p, blocks, bs, epochs, ssm_lr, factor, wd, drop, extra = _S5[task]
        return Preset(
            **(common | dict(bidirectional=False, glu="half")),
            mixer_options={"blocks": blocks, "bidirectional": True, **extra},
            depth=layers, d_model=h, d_state=p, batch_size=bs,
            steps=epochs * _TRAIN_SIZE[task] // bs, lr=ssm_lr * factor, lr_factor=1.0 / factor,
            weight_decay=wd, dropout=drop,
        )
    if model == "s4d":
        depth, h, n, drop, lr, bs, epochs, wd, prenorm = _S4D[task]
        return Preset(
            **common,
            depth=depth, d_model=h, d_state=n, batch_size=bs,
            steps=epochs * _TRAIN_SIZE[task] // bs, lr=lr, lr_factor=min(lr, 0.001) / lr,
            weight_decay=wd, dropout=drop, prenorm=prenorm,
        )
    return Preset(**common, **t)


def _smoke(task: str, model: str) -> Preset:
    t = _LRU_TABLE9[task]
    kw = dict(
        depth=2, d_model=32, d_state=32, r_min=t["r_min"], r_max=t["r_max"],
        max_phase=t["max_phase"], bidirectional=task in ("pathfinder", "pathx"),
        glu="half" if task == "pathx" else "full", dropout=0.0, lr=3e-3, lr_factor=0.5,
        weight_decay=0.05,
    )
    kw.update(copy.deepcopy(_SMOKE[task]))
    return Preset(task=task, model=model, preset="smoke", **kw)


def get_preset(task: str, model: str = "lru", name: str = "paper") -> Preset:
    """The `name` preset ("paper" or "smoke") of `task` for mixer `model`.

    `paper`: Table 9 for the LRU and every other mixer of the zoo (with that mixer), the S5 /
    S4D recipes for `s5` / `s4d`. `smoke`: depth 2, d_model 32, d_state 32, 120 steps on
    short generated data; finishes in well under two minutes on one CPU core.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if name not in PRESET_NAMES:
        raise ValueError(f"unknown preset {name!r}; expected one of {PRESET_NAMES}")
    return _paper(task, model) if name == "paper" else _smoke(task, model)


def _parse_value(text: str, like: Any, name: str) -> Any:
    if isinstance(like, bool):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {name}: expected a boolean, got {text!r}")
    if isinstance(like, int):
        try:
            return int(float(text)) if float(text).is_integer() else int(text)
        except ValueError:
            raise ValueError(f"--set {name}: expected an integer, got {text!r}") from None
    if isinstance(like, float):
        try:
            return float(eval(text, {"__builtins__": {}}, {"pi": math.pi}))  # "pi/10"
        except Exception:
            raise ValueError(f"--set {name}: expected a number, got {text!r}") from None
    if isinstance(like, dict):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"--set {name}: expected a JSON object, got {text!r}") from None
        if not isinstance(value, dict):
            raise ValueError(f"--set {name}: expected a JSON object, got {text!r}")
        return value
    return text


def _parse_any(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(preset: Preset, overrides: list[str] | dict[str, Any]) -> Preset:
    """Replace preset fields from `NAME=VALUE` strings (or a dict of values).

    NAME may be a Preset field, `data.KEY` (a data option), or any other name, which is set
    as a mixer option (given to the mixer's constructor; JSON-parsed when possible).
    """
    items = (
        list(overrides.items())
        if isinstance(overrides, dict)
        else [_split_override(o) for o in overrides]
    )
    fields = {f.name: f for f in dataclasses.fields(Preset)}
    updates: dict[str, Any] = {}
    mixer_options = dict(preset.mixer_options)
    data = copy.deepcopy(preset.data)
    for name, value in items:
        if name in ("task", "model", "preset"):
            raise ValueError(f"--set {name}: use the --{name} flag instead")
        if name.startswith("data."):
            *parents, leaf = name.split(".")[1:]
            node = data
            for part in parents:
                node[part] = dict(node.get(part, {}))
                node = node[part]
            node[leaf] = _parse_any(value) if isinstance(value, str) else value
        elif name.startswith("mixer."):
            mixer_options[name[6:]] = _parse_any(value) if isinstance(value, str) else value
        elif name in fields:
            current = getattr(preset, name)
            updates[name] = _parse_value(value, current, name) if isinstance(value, str) else value
        else:
            mixer_options[name] = _parse_any(value) if isinstance(value, str) else value
    updates.setdefault("mixer_options", mixer_options)
    updates.setdefault("data", data)
    out = dataclasses.replace(preset, **updates)
    validate(out)
    return out


def _split_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ValueError(f"--set expects NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    return name.strip(), value.strip()


def validate(p: Preset) -> None:
    """Raise ValueError naming the field when a preset value is out of range."""
    positive = ("depth", "d_model", "d_state", "batch_size", "steps", "log_every", "eval_every")
    for name in positive:
        if getattr(p, name) < 1:
            raise ValueError(f"preset field {name} must be >= 1, got {getattr(p, name)}")
    if not p.lr > 0:
        raise ValueError(f"preset field lr must be > 0, got {p.lr}")
    if not p.lr_factor > 0:
        raise ValueError(f"preset field lr_factor must be > 0, got {p.lr_factor}")
    if not 0.0 <= p.warmup_frac < 1.0:
        raise ValueError(f"preset field warmup_frac must be in [0, 1), got {p.warmup_frac}")
    if not 0.0 <= p.dropout < 1.0:
        raise ValueError(f"preset field dropout must be in [0, 1), got {p.dropout}")
    if p.weight_decay < 0 or p.grad_clip < 0:
        raise ValueError("preset fields weight_decay and grad_clip must be >= 0")
    if p.norm not in ("batch", "layer", "none"):
        raise ValueError(f"preset field norm must be batch, layer or none, got {p.norm!r}")
    if p.glu not in ("full", "half"):
        raise ValueError(f"preset field glu must be full or half, got {p.glu!r}")
    if p.data_shards < 0:
        raise ValueError(f"preset field data_shards must be >= 0, got {p.data_shards}")
    if p.pooling not in ("mean", "last"):
        raise ValueError(f"preset field pooling must be mean or last, got {p.pooling!r}")
