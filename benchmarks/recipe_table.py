"""The training recipes against their sources, field by field, from the built models.

    python benchmarks/recipe_table.py            # print the tables (markdown)
    python benchmarks/recipe_table.py --write    # replace them in docs/results.md
    python benchmarks/recipe_table.py --check    # exit 1 if a field differs unstated, or
                                                 # the page is out of date

The source side is benchmarks/recipe_sources.toml: the values as minimal-LRU / the paper,
the S5 authors' scripts and s4's S4D-era configs state them, with file, line and commit.
`expected()` derives the comparable value of every field from that table alone (steps from
epochs and the batch, a flax momentum from torch's, each optimiser group's learning rate
and weight decay from the source's own grouping rules); it never reads lrux.presets' tables.
The lrux side is read off what lrux builds from `get_preset(task, model)`: the model
(abstractly at full size for the sizes, for real at depth 1 and width 64 for the rest),
its optimiser (each parameter's learning rate and weight decay measured by one update) and
its schedule. `built_facts()` is the one function that knows lrux's attribute names.
"""

import argparse
import dataclasses
import functools
import math
import os
import re
import sys
import tomllib
from typing import Any, NamedTuple, cast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.tree_util import DictKey, GetAttrKey  # noqa: E402

from lrux.presets import TASKS, Preset, get_preset  # noqa: E402

SOURCES_PATH = os.path.join(ROOT, "benchmarks", "recipe_sources.toml")
DOC_PATH = os.path.join(ROOT, "docs", "results.md")
FAMILIES = {"lru": "LRU (the paper's Table 9; minimal-LRU)",
            "s5": "S5 (the S5 authors' run scripts)",
            "s4d": "S4D (s4's configs at the S4D-era commit b5dae46)"}
TOKEN_TASKS = ("listops", "text", "retrieval")
SMALL_WIDTH = 64  # the real build's d_model (depth 1): every fact but the sizes
ROLES = ("A", "gamma", "B", "dt", "C", "D", "norm", "bias", "embedding", "weights")
ROLE_NAMES = {"A": "eigenvalues (A / Lambda / nu, theta)", "gamma": "gamma", "B": "B",
              "dt": "step (log dt)", "C": "C", "D": "D", "norm": "norm scale and shift",
              "bias": "Dense biases", "embedding": "token embedding",
              "weights": "Dense weights (encoder, GLU, decoder, projection)"}
FIELDS = {  # key: label, in the tables' order
    "depth": "depth", "d_model": "d_model (H)", "d_state": "d_state (N; S5's P)",
    "batch": "batch", "steps": "steps (iterations, or epochs x floor(train / batch))",
    "norm": "norm", "placement": "norm placement", "final_norm": "norm after the last block",
    "bn_momentum": "BatchNorm momentum (flax convention)", "dropout": "dropout",
    "dropout_tied": "dropout mask tied over time", "activation": "activation",
    "glu": "GLU", "pooling": "pooling", "encoder": "input encoder",
    "input_channels": "input channels", "retrieval_head": "retrieval head",
    "bidirectional_form": "direction / bidirectional form",
    "ring": "ring [min, max] of abs(lambda)", "max_phase": "max phase",
    "init": "A init", "blocks": "blocks (J)", "c_init": "C init",
    "discretization": "discretization", "conj_sym": "conjugate symmetry",
    "clip_eigs": "eigenvalue clipping", "n_ssm": "(A, B) groups (n_ssm)",
    "dt_min": "dt_min (decade)", "dt_max": "dt_max (decade)",
    **{f"group.{r}": f"lr, weight decay: {ROLE_NAMES[r]}" for r in ROLES},
    "warmup_steps": "warmup steps", "warmup_start": "lr at step 0 (Dense weights)",
    "end_of_warmup": "lr one step after warmup / peak",
    "last_lr": "lr at the last step (Dense weights)",
    "grad_clip": "gradient clipping", "evaluation": "evaluation",
    "padding": "padded length", "bn_over_padding": "padded positions in BatchNorm statistics",
    "ssm_over_padding": "padding seen by the SSM's valid outputs",
}


@functools.cache
def sources() -> dict[str, Any]:
    with open(SOURCES_PATH, "rb") as f:
        return tomllib.load(f)


class Rate(NamedTuple):
    """An optimiser group's peak learning rate and weight decay."""

    lr: float
    wd: float


@dataclasses.dataclass(frozen=True)
class Expect:
    """A source's value of one field, comparable with lrux's, and where it is stated."""

    value: Any
    at: str


# ----------------------------------------------------------------------------- derivation


def _entries(family: str, task: str) -> dict[str, dict]:
    table = sources()[family]
    return {**table["all"], **table[task]}


def _at(*entries: dict) -> str:
    return "; ".join(dict.fromkeys(e["at"] for e in entries))


def _train(task: str) -> dict:
    return sources()["data"]["train_size"][task]


def _phase(text: str) -> float:
    return float(eval(text.replace(" pi", "*pi"), {"__builtins__": {}}, {"pi": math.pi}))


def _groups(roles: dict[str, tuple[float, float]], default: tuple[float, float], at: str,
            task: str, ssm: tuple[str, ...]) -> dict[str, Expect]:
    """lr and weight decay of every parameter role: `roles`, else `default`. `ssm` names the
    recurrence's own roles (the LRU: A, gamma, B; S5, S4D: A, B, dt)."""
    present = [r for r in ROLES if (r not in ("gamma", "dt") or r in ssm)
               and (r != "embedding" or task in TOKEN_TASKS)]
    return {f"group.{r}": Expect(Rate(*roles.get(r, default)), at) for r in present}


def _lru_expected(task: str) -> dict[str, Expect]:
    e = _entries("lru", task)
    v = {k: x["value"] for k, x in e.items()}
    steps, warm = v["iterations"], round(v["warmup_fraction"] * v["iterations"])
    lo, base = v["warmup_start_lr"], v["base_lr"]
    last = lo + (base - lo) * 0.5 * (1 + math.cos(math.pi * (steps - 1 - warm) / (steps - warm)))
    after = lo + (base - lo) * 0.5 * (1 + math.cos(math.pi / (steps - warm)))
    ssm = (base * v["lr_factor"], 0.0)
    bidi = v["direction"] == "bidirectional"
    out = {
        "depth": Expect(v["depth"], e["depth"]["at"]),
        "d_model": Expect(v["d_model"], e["d_model"]["at"]),
        "d_state": Expect(v["d_state"], e["d_state"]["at"]),
        "batch": Expect(v["batch"], e["batch"]["at"]),
        "steps": Expect(steps, e["iterations"]["at"]),
        "norm": Expect(v["norm"], e["norm"]["at"]),
        "placement": Expect("pre" if v["prenorm"] else "post", e["prenorm"]["at"]),
        "final_norm": Expect(v["final_norm"], e["final_norm"]["at"]),
        "bn_momentum": Expect(v["bn_momentum"], e["bn_momentum"]["at"]),
        "dropout": Expect(v["dropout"], e["dropout"]["at"]),
        "glu": Expect(v["glu"], e["glu"]["at"]),
        "bidirectional_form": Expect(v["bidirectional_form"] if bidi else "causal",
                                     _at(e["direction"], e["bidirectional_form"]) if bidi
                                     else e["direction"]["at"]),
        "ring": Expect(tuple(v["ring"]), e["ring"]["at"]),
        "max_phase": Expect(round(_phase(v["max_phase"]), 4), e["max_phase"]["at"]),
        "warmup_steps": Expect(warm, _at(e["warmup_fraction"], e["iterations"])),
        "warmup_start": Expect(lo, e["warmup_start_lr"]["at"]),
        "end_of_warmup": Expect(after / base, e["end_lr"]["at"]),
        "last_lr": Expect(last, _at(e["end_lr"], e["base_lr"])),
        **_groups({r: ssm for r in v["recurrent_params"]}, (base, v["weight_decay"]),
                  _at(e["recurrent_params"], e["base_lr"], e["lr_factor"],
                      e["weight_decay"]), task, ("A", "gamma", "B")),
    }
    return out | _common_expected(e, task)


def _s5_groups(v: dict, task: str, at: str) -> dict[str, Expect]:
    """S5's opt_config and dt_global (s5/train_helpers.py:141-222) as role -> (lr, wd)."""
    ssm, lr, wd = v["ssm_lr_base"], v["ssm_lr_base"] * v["lr_factor"], v["weight_decay"]
    b = {"standard": (ssm, 0.0), "BandCdecay": (ssm, wd), "BfastandCdecay": (lr, wd)}
    roles = {"A": (ssm, 0.0), "B": b[v["opt_config"]],
             "dt": (lr, wd) if v["dt_global"] else (ssm, 0.0)}
    return _groups(roles, (lr, wd), at, task, ("A", "B", "dt"))


def _s5_expected(task: str) -> dict[str, Expect]:
    e = _entries("s5", task)
    v = {k: x["value"] for k, x in e.items()}
    epoch = _train(task)["value"] // v["bsz"]  # s5/train.py:163
    steps, warm = v["epochs"] * epoch, v["warmup_end"] * epoch
    # lr of step t: the initial lr at t = 0, then the value set after step t - 1: linear
    # warmup (t / warm), then the cosine of the global step over steps - warm
    cos = lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps - warm) / (steps - warm)))
    sched_at = _at(e["warmup"], e["cosine"], e["lr_min"], e["warmup_end"])
    glu = {"half_glu1": "half", "half_glu2": "half2", "full_glu": "full"}
    out = {
        "depth": Expect(v["n_layers"], e["n_layers"]["at"]),
        "d_model": Expect(v["d_model"], e["d_model"]["at"]),
        "d_state": Expect(v["ssm_size_base"], e["ssm_size_base"]["at"]),
        "batch": Expect(v["bsz"], e["bsz"]["at"]),
        "steps": Expect(steps, _at(e["epochs"], e["steps_per_epoch"], _train(task))),
        "norm": Expect("batch" if v["batchnorm"] else "layer", e["batchnorm"]["at"]),
        "placement": Expect("pre" if v["prenorm"] else "post", e["prenorm"]["at"]),
        "final_norm": Expect(v["final_norm"], e["final_norm"]["at"]),
        "bn_momentum": Expect(v["bn_momentum"], e["bn_momentum"]["at"]),
        "dropout": Expect(v["p_dropout"], e["p_dropout"]["at"]),
        "glu": Expect(glu[v["activation_fn"]], e["activation_fn"]["at"]),
        "bidirectional_form": Expect("shared" if v["bidirectional"] else "causal",
                                     _at(e["bidirectional"], e["bidirectional_form"])),
        "blocks": Expect(v["blocks"], e["blocks"]["at"]),
        "c_init": Expect(v["C_init"], e["C_init"]["at"]),
        "discretization": Expect(v["discretization"], e["discretization"]["at"]),
        "conj_sym": Expect(v["conj_sym"], e["conj_sym"]["at"]),
        "clip_eigs": Expect(v["clip_eigs"], e["clip_eigs"]["at"]),
        "dt_min": Expect(v["dt_min"], e["dt_min"]["at"]),
        "dt_max": Expect(v["dt_max"], e["dt_max"]["at"]),
        "warmup_steps": Expect(warm, _at(e["warmup_end"], e["steps_per_epoch"])),
        "warmup_start": Expect(v["ssm_lr_base"] * v["lr_factor"], sched_at),
        "end_of_warmup": Expect(cos(warm), sched_at),
        "last_lr": Expect(v["ssm_lr_base"] * v["lr_factor"] * cos(steps - 2), sched_at),
        **_s5_groups(v, task, _at(e["opt_groups"], e["opt_config"], e["dt_global"],
                                  e["ssm_lr_base"], e["lr_factor"], e["weight_decay"])),
    }
    return out | _common_expected(e, task)


def _s4d_groups(v: dict, task: str, at: str) -> dict[str, Expect]:
    """s4's `register` (kernel.py:75-85): A, B, dt at their layer lr (null: the optimiser's),
    weight decay 0; everything else AdamW (no param grouping at b5dae46)."""
    lr, wd, layer = v["lr"], v["weight_decay"], v["layer_lr"]
    per = layer if isinstance(layer, dict) else {"A": layer, "B": layer, "dt": layer}
    own = {r: (lr if per[r] == "null" else per[r], 0.0) for r in ("A", "B", "dt")}
    return _groups(own, (lr, wd), at, task, ("A", "B", "dt"))


def _s4d_expected(task: str) -> dict[str, Expect]:
    e = _entries("s4d", task)
    v = {k: x["value"] for k, x in e.items()}
    steps = v["max_epochs"] * (_train(task)["value"] // v["batch_size"])  # drop_last
    warm, horizon = v["num_warmup_steps"], v["num_training_steps"]
    # transformers' cosine with warmup: lambda(t) = t / warm, then 0.5 (1 + cos(pi progress))
    cos = lambda t: max(0.0, 0.5 * (1 + math.cos(math.pi * (t - warm) / (horizon - warm))))
    sched_at = _at(e["scheduler"], e["num_warmup_steps"], e["num_training_steps"])
    n_ssm = "per channel" if v["n_ssm"] in ("d_model", v["d_model"]) else v["n_ssm"]
    layer_norm = v["norm"] == "layer"
    out = {
        "depth": Expect(v["n_layers"], e["n_layers"]["at"]),
        "d_model": Expect(v["d_model"], e["d_model"]["at"]),
        "d_state": Expect(v["d_state"], e["d_state"]["at"]),
        "batch": Expect(v["batch_size"], e["batch_size"]["at"]),
        "steps": Expect(steps, _at(e["max_epochs"], e["drop_last"], _train(task))),
        "norm": Expect(v["norm"], e["norm"]["at"]),
        "placement": Expect("pre" if v["prenorm"] else "post", e["prenorm"]["at"]),
        "final_norm": Expect(v["prenorm"] and v["final_norm_if_prenorm"],
                             _at(e["final_norm_if_prenorm"], e["prenorm"])),
        "bn_momentum": Expect(None if layer_norm else 1.0 - v["bn_momentum_torch"],
                              e["norm"]["at"] if layer_norm else e["bn_momentum_torch"]["at"]),
        "dropout": Expect(v["dropout"], e["dropout"]["at"]),
        "glu": Expect("full" if v["postact"] == "glu" else v["postact"], e["postact"]["at"]),
        "bidirectional_form": Expect(v["bidirectional_form"] if v["bidirectional"] else
                                     "causal", _at(e["bidirectional"],
                                                   e["bidirectional_form"])),
        "init": Expect(v["measure"], e["measure"]["at"]),
        "c_init": Expect(v["c_init"], e["c_init"]["at"]),
        "discretization": Expect(v["discretization"], e["discretization"]["at"]),
        "n_ssm": Expect(n_ssm, e["n_ssm"]["at"]),
        "dt_min": Expect(v["dt_min"], e["dt_min"]["at"]),
        "dt_max": Expect(v["dt_max"], e["dt_max"]["at"]),
        "warmup_steps": Expect(warm, e["num_warmup_steps"]["at"]),
        "warmup_start": Expect(0.0, sched_at),
        "end_of_warmup": Expect(cos(warm + 1), sched_at),
        "last_lr": Expect(v["lr"] * cos(steps - 1), sched_at),
        **_s4d_groups(v, task, _at(e["layer_lr_rule"], e["param_grouping"], e["layer_lr"],
                                   e["lr"], e["weight_decay"])),
    }
    if "grayscale" in e:
        out["input_channels"] = Expect(1 if v["grayscale"] else 3, e["grayscale"]["at"])
    return out | _common_expected(e, task)


def _common_expected(e: dict, task: str) -> dict[str, Expect]:
    """The fields every family states the same way (or only on some tasks)."""
    v = {k: x["value"] for k, x in e.items()}
    tokens = task in TOKEN_TASKS
    pool = v.get("pooling", v.get("mode", v.get("decoder_mode")))
    pool_key = next(k for k in ("pooling", "mode", "decoder_mode") if k in e)
    dropout_key = "dropout_tied" if "dropout_tied" in e else "tie_dropout"
    enc = "encoder_tokens" if tokens else "encoder_pixels"
    out = {
        "dropout_tied": Expect(v[dropout_key], e[dropout_key]["at"]),
        "activation": Expect(v["activation"], e["activation"]["at"]),
        "pooling": Expect("mean" if pool in ("mean", "pool") else pool, e[pool_key]["at"]),
        "encoder": Expect(v[enc], e[enc]["at"]),
        "grad_clip": Expect(v["grad_clip"], e["grad_clip"]["at"]),
        "evaluation": Expect(v["evaluation"], e["evaluation"]["at"]),
    }
    if "input_channels" in e:
        out["input_channels"] = Expect(v["input_channels"], e["input_channels"]["at"])
    if task == "retrieval":
        out["retrieval_head"] = Expect(v["retrieval_head"], e["retrieval_head"]["at"])
    if tokens:
        for key in ("padding", "bn_over_padding", "padding_in_ssm"):
            if key in e:
                name = "ssm_over_padding" if key == "padding_in_ssm" else key
                out[name] = Expect(v[key], e[key]["at"])
    return out


def expected(family: str, task: str) -> dict[str, Expect]:
    """Every compared field's source value for `family` on `task`, from the sources alone."""
    return {"lru": _lru_expected, "s5": _s5_expected, "s4d": _s4d_expected}[family](task)


# ------------------------------------------------------------------------------ the adapter


def _decade(x: float, up: bool = False) -> float:
    """The power of ten at or below x (at or above with `up`), float32 rounding forgiven."""
    e = math.log10(x)
    return 10.0 ** (math.ceil(e - 1e-6) if up else math.floor(e + 1e-6))


def _c_init(std: float, d_model: int, d_state: int) -> str:
    """The C law whose standard deviation (of Re C) is within 20% of `std`, else the std."""
    laws = {"lecun_normal": 1 / math.sqrt(d_model * d_state),
            "trunc_standard_normal": 1 / math.sqrt(d_state), "complex_normal": math.sqrt(0.5)}
    name, law = min(laws.items(), key=lambda kv: abs(math.log(std / kv[1])))
    return name if abs(std / law - 1) < 0.2 else f"std {std:.3g}"


def _updates(tx, params, step: int, grads, at) -> Any:
    """tx's update of every leaf at optimiser step `step` (the schedules' counts set to it)."""
    state = tx.init(params)
    state = jax.tree_util.tree_map(
        lambda s: optax.ScaleByScheduleState(count=jnp.asarray(step, jnp.int32))
        if isinstance(s, optax.ScaleByScheduleState) else s,
        state, is_leaf=lambda s: isinstance(s, optax.ScaleByScheduleState))
    return tx.update(grads, state, at)[0]


def _group_rates(tx, params, role_of, step: int) -> dict[str, Any]:
    """(lr, weight decay) of each role at `step`, measured on the optimiser: a first Adam step
    with g = 1 at p = 0 moves p by -lr; with g = 0 at p = 1, AdamW moves it by -lr * wd.
    Every leaf is probed as a (1,) array (the groups depend on the tree, not the shapes)."""
    one = jax.tree_util.tree_map(lambda _: jnp.ones((1,)), params)
    zero = jax.tree_util.tree_map(lambda _: jnp.zeros((1,)), params)
    lr_u = _updates(tx, zero, step, one, zero)
    wd_u = _updates(tx, zero, step, zero, one)
    out: dict[str, set] = {}
    leaves = zip(jax.tree_util.tree_leaves_with_path(lr_u), jax.tree_util.tree_leaves(wd_u),
                 strict=True)
    for (path, a), b in leaves:
        lr = -float(a[0]) * (1 + 1e-8)  # Adam's eps
        wd = -float(b[0]) / lr if lr > 0 else 0.0
        out.setdefault(role_of(path), set()).add(Rate(_round(lr), _round(wd)))
    return {r: v.pop() if len(v) == 1 else tuple(sorted(v)) for r, v in out.items()}


def _round(x: float) -> float:
    return float(f"{x:.4g}") + 0.0  # no -0.0


def _warmup_end(schedule, steps: int) -> int:
    """The first step from which the schedule stops rising (its warmup length)."""
    lrs = np.asarray(jax.jit(jax.vmap(schedule))(jnp.arange(steps + 1)))
    return int(np.argmax(np.diff(lrs) <= 0))


def built_facts(preset: Preset) -> dict[str, Any]:
    """THE adapter: every compared fact, read off the model, optimiser and schedule that lrux
    builds for `preset`. The only place that knows block, model and layer attribute names."""
    from lrux.blocks import BatchNorm, BlockConfig, ResidualBlock
    from lrux.layers.base import AbstractLinearMixer
    from lrux.layers.bidirectional import Bidirectional, SharedBidirectional
    from lrux.models import RetrievalDualEncoder
    from lrux.train.benchmark import preset_spec
    from lrux.train.state import build_model, preset_optimizer

    spec, key = preset_spec(preset), jax.random.PRNGKey(0)
    full = eqx.filter_eval_shape(build_model, preset, spec, key=key)[0].encoder
    small = dataclasses.replace(preset, depth=1, d_model=SMALL_WIDTH)
    model = build_model(small, spec, key=key)[0]
    enc, block = model.encoder, model.encoder.blocks[0]
    mixer, knobs = block.mixer, block.config

    def inner_of(m) -> Any:  # the mixer a bidirectional form wraps (the forward one of two)
        return m.forward if isinstance(m, Bidirectional) else (
            m.mixer if isinstance(m, SharedBidirectional) else m)

    inner = inner_of(mixer)
    norm = type(block.norm).__name__
    probe = ResidualBlock(lambda x: x, 1, BlockConfig(norm="none", glu="half"), key=key)
    probe = eqx.tree_at(lambda b: (b.out1.weight, b.out1.bias), probe,
                        (jnp.zeros((1, 1)), jnp.full((1,), 40.0)))
    state = eqx.nn.State(probe)
    gelu1 = float(probe(jnp.ones((1, 1)), state, inference=True)[0][0, 0]) - 1  # x + gelu(x)
    facts = {
        "depth": len(full.blocks), "d_model": full.blocks[0].out1.weight.shape[0],
        "d_state": inner_of(full.blocks[0].mixer).d_state,
        "norm": {"BatchNorm": "batch", "LayerNorm": "layer"}.get(norm, "none"),
        "placement": "pre" if knobs.prenorm else "post",
        "final_norm": enc.final_norm is not None,
        "bn_momentum": block.norm.momentum if isinstance(block.norm, BatchNorm) else None,
        "dropout": knobs.dropout, "dropout_tied": knobs.dropout_tied, "glu": knobs.glu,
        "activation": "gelu_tanh" if abs(gelu1 - 0.841192) < 3e-5 else
                      "gelu_exact" if abs(gelu1 - 0.841345) < 3e-5 else f"gelu(1)={gelu1}",
        "pooling": enc.pooling, "encoder": "linear" if enc.embedding is None else "embedding",
        "input_channels": None if enc.encoder is None else enc.encoder.weight.shape[1],
        "retrieval_head": "[u, v, u*v, u-v] -> MLP" if isinstance(model, RetrievalDualEncoder)
                          and model.hidden.weight.shape[1] == 4 * SMALL_WIDTH else None,
        "bidirectional_form": mixer.combine if isinstance(mixer, Bidirectional |
                                                          SharedBidirectional) else "causal",
        "batch": preset.batch_size, "steps": preset.steps, "grad_clip": preset.grad_clip,
        "evaluation": "every epoch" if preset.eval_every == 0 else
                      f"every {preset.eval_every} steps",
    }
    if isinstance(inner, AbstractLinearMixer):
        lam = np.asarray(inner.eigenvalues())
        facts |= {"ring": (float(np.abs(lam).min()), float(np.abs(lam).max())),
                  "max_phase": round(float(np.mod(np.angle(lam), 2 * np.pi).max()), 4)}
    if hasattr(inner, "log_dt"):
        ssm = cast(Any, inner)  # an SSM: step sizes, C, discretization
        directions: list[Any] = ([mixer.forward, mixer.backward]
                                 if isinstance(mixer, Bidirectional) else [inner])
        dts = np.exp(np.concatenate([np.asarray(m.log_dt) for m in directions]))
        facts |= {"dt_min": _decade(dts.min()), "dt_max": _decade(dts.max(), up=True),
                  "c_init": _c_init(float(np.std(np.asarray(ssm.C_re))), SMALL_WIDTH,
                                    ssm.d_state),
                  "discretization": ssm.discretization}
    for name in ("blocks", "conj_sym", "clip_eigs", "init"):
        if hasattr(inner, name):
            facts[name] = getattr(inner, name)
    full_inner = inner_of(full.blocks[0].mixer)
    if hasattr(full_inner, "n_ssm"):  # a static field: the full-size build shows it
        facts["n_ssm"] = ("per channel" if full_inner.n_ssm == full_inner.d_model
                          else full_inner.n_ssm)
    names = {"nu_log": "A", "theta_log": "A", "Lambda_re": "A", "Lambda_im": "A",
             "A_re_log": "A", "A_im": "A", "gamma_log": "gamma", "B_re": "B", "B_im": "B",
             "log_dt": "dt", "C_re": "C", "C_im": "C", "D": "D",
             "embedding": "embedding", "bias": "bias", "weight": "weights"}

    def role_of(path) -> str:
        # field names, and the keys of a dict field (a shared form's backward read-out)
        attrs = [k.name if isinstance(k, GetAttrKey) else str(k.key) for k in path
                 if isinstance(k, GetAttrKey | DictKey)]
        return "norm" if {"norm", "final_norm"} & set(attrs) else names[attrs[-1]]

    tx, schedule = preset_optimizer(model, small)
    params = eqx.filter(model, eqx.is_inexact_array)
    warm = _warmup_end(schedule, preset.steps)
    rates = {s: _group_rates(tx, params, role_of, s)
             for s in (0, warm, warm + 1, preset.steps - 1)}
    peak = rates[warm]["weights"].lr
    facts |= {f"group.{r}": v for r, v in rates[warm].items()}
    facts |= {"warmup_steps": warm, "warmup_start": rates[0]["weights"].lr,
              "end_of_warmup": rates[warm + 1]["weights"].lr / peak,
              "last_lr": rates[preset.steps - 1]["weights"].lr}
    return facts


# ----------------------------------------------------------------------------- comparison


@dataclasses.dataclass(frozen=True)
class Row:
    """One (family, task, field): the source's value, lrux's, and the verdict."""

    family: str
    task: str
    field: str
    source: Any
    lrux: Any
    at: str
    status: str  # "equal", "stated" (a deliberate difference), "DIFFERS", "STALE"
    reason: str = ""


def same(a: Any, b: Any) -> bool:
    """Equal: integers exactly, floats to 1e-3 relative (1e-9 absolute), tuples element by
    element."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, int) and isinstance(b, int):  # sizes, steps, counts: exactly
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-9)
    return a == b


def _fills(field: str, src: Any, got: Any) -> bool:
    """Sampled init laws: the built abs(lambda)^2 fill the source's ring [r_min^2, r_max^2]
    (uniform in area, Lemma 2), and the phases [0, max_phase], each extreme within 5% of the
    range (256 or more samples: missing it by chance has odds below 1e-5)."""
    if got is None:
        return False
    if field == "max_phase":
        return 0.95 * src <= got <= src * (1 + 1e-4)
    lo, hi = src[0] ** 2, src[1] ** 2
    tol = 0.05 * (hi - lo)
    g_lo, g_hi = got[0] ** 2, got[1] ** 2
    return lo - 1e-6 <= g_lo <= lo + tol and hi - tol <= g_hi <= hi + 1e-6


def _stated(family: str, task: str, field: str) -> dict | None:
    """lrux's stated difference of `field` on `task` ({"lrux": ..., "reason": ...}), or None."""
    entry = sources()["stated"].get(family, {}).get(field)
    if entry is None or task not in entry.get("tasks", TASKS):
        return None
    return entry


def compare(family: str, task: str, preset: Preset | None = None) -> list[Row]:
    """Every field of `family` on `task`: its source value against lrux's built value.

    "equal": lrux equals the source; "stated": lrux differs and equals its stated value;
    "DIFFERS": lrux differs otherwise; "STALE": a stated difference that lrux no longer has.
    """
    preset = get_preset(task, family, "paper") if preset is None else preset
    facts = built_facts(preset)
    rows = []
    for field, exp in expected(family, task).items():
        stated = _stated(family, task, field)
        if field not in facts:  # no built model shows it: lrux's value is only stated
            status = "stated" if stated else "DIFFERS"
            rows.append(Row(family, task, field, exp.value, stated and stated["lrux"],
                            exp.at, status, stated["reason"] if stated else ""))
            continue
        got = facts[field]
        if (_fills(field, exp.value, got) if field in ("ring", "max_phase")
                else same(exp.value, got)):
            status = "STALE" if stated else "equal"
        else:
            status = "stated" if stated and same(stated["lrux"], got) else "DIFFERS"
        rows.append(Row(family, task, field, exp.value, got, exp.at, status,
                        stated["reason"] if stated else ""))
    return rows


@functools.cache
def rows_of(family: str, task: str) -> tuple[Row, ...]:
    """`compare` of the paper preset (cached: building takes seconds)."""
    return tuple(compare(family, task))


def table(family: str) -> tuple[Row, ...]:
    """`rows_of` every task of `family`."""
    return tuple(r for task in TASKS for r in rows_of(family, task))


def problems(rows) -> list[str]:
    """The rows where lrux differs from its source unstated, or no longer differs where a
    difference is stated."""
    return [f"{r.family} {r.task} {r.field}: {r.status}: source {r.source!r} ({r.at}), "
            f"lrux {r.lrux!r}" for r in rows if r.status in ("DIFFERS", "STALE")]


# ---------------------------------------------------------------------------------- pages


SHOWN = {  # the comparison's tokens, in words
    "causal": "causal", "concat": "two mixers, concatenated, Linear(2H, H)",
    "sum": "two mixers, summed", "shared": "shared A, B, step; reversed scan from t; two C",
    "shared_from_next": "one kernel: shared A, B, step; anti-causal from t+1; two C",
    "gelu_tanh": "GELU (tanh form)", "gelu_exact": "GELU (erf form)",
}


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return SHOWN.get(v, v)
    if isinstance(v, bool) or v is None:
        return {True: "yes", False: "no", None: "-"}[v]
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, Rate):
        return f"lr {v.lr:.4g}, wd {v.wd:.4g}"
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _cell(r: Row | None) -> str:
    if r is None:
        return ""
    if r.status == "equal":
        return _fmt(r.source)
    mark = "" if r.status == "stated" else " (!)"
    return f"**{_fmt(r.source)} / {_fmt(r.lrux)}**{mark}"


def family_markdown(family: str, rows) -> str:
    """One family's table (fields x tasks), its stated differences and its citations."""
    cells = {(r.field, r.task): r for r in rows}
    fields = [f for f in FIELDS if any(k[0] == f for k in cells)]
    lines = [f"#### {FAMILIES[family]}", "",
             "Each cell: the source's value, or **source / lrux** where lrux differs on "
             "purpose (reasons below the table).", "",
             "| field | " + " | ".join(TASKS) + " |", "|---|" + "---|" * len(TASKS)]
    for f in fields:
        lines.append(f"| {FIELDS[f]} | " +
                     " | ".join(_cell(cells.get((f, t))) for t in TASKS) + " |")
    reasons = dict.fromkeys((FIELDS[r.field], r.reason) for r in rows if r.status == "stated")
    lines += ["", "Deliberate differences:", ""]
    lines += [f"- {label}: {reason}." for label, reason in reasons] or ["- none."]
    lines += ["", "Where each value is stated:", ""]
    for f in fields:
        ats = dict.fromkeys(a for t in TASKS if (r := cells.get((f, t))) for a in
                            r.at.split("; "))
        lines.append(f"- {FIELDS[f]}: " + ", ".join(f"`{a}`" for a in ats))
    lines += [""]
    return "\n".join(lines)


def markdown() -> str:
    refs = sources()["sources"]
    head = ["Sources (`at` prefixes): " +
            "; ".join(f"`{k}` {v}" for k, v in refs.items()) + ".", ""]
    return "\n".join(head + [family_markdown(f, table(f)) for f in FAMILIES])


BEGIN, END = "<!-- recipe-table:begin -->", "<!-- recipe-table:end -->"


def page_section(path: str = DOC_PATH) -> str:
    text = open(path).read()
    m = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, flags=re.S)
    return m.group(1) if m else ""


def write(path: str = DOC_PATH) -> None:
    text = open(path).read()
    block = f"{BEGIN}\n{markdown()}\n{END}"
    if BEGIN not in text:
        raise SystemExit(f"error: {path} has no {BEGIN} ... {END} markers")
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    with open(path, "w") as f:
        f.write(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="update docs/results.md in place")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 on an unstated difference or an out-of-date page")
    args = ap.parse_args()
    bad = [p for f in FAMILIES for p in problems(table(f))]
    for p in bad:
        print("differs:", p, file=sys.stderr)
    if args.write:
        write()
    elif args.check:
        if page_section() != markdown():
            print("error: docs/results.md's recipe tables are out of date; run "
                  "python benchmarks/recipe_table.py --write", file=sys.stderr)
            return 1
    else:
        print(markdown())
    return 1 if bad and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
