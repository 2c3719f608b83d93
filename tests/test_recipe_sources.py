"""The recipes against their sources: every field of the LRU, S5 and S4D paper presets, as
lrux BUILDS them (model, optimiser groups, schedule), equals the value that the sources state
(benchmarks/recipe_sources.toml: the paper and minimal-LRU, the S5 scripts, s4 at b5dae46),
or differs where benchmarks/recipe_sources.toml states so with a reason. Mutations of the
presets, of the preset tables and of the block show that a one-field change is caught; the
recipe section of docs/results.md is the table's output."""

import dataclasses
import functools
import importlib.util
import math
import os
import re

import jax
import pytest

import lrux.presets as presets
from lrux.presets import TASKS, get_preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.cache
def recipe_table():
    path = os.path.join(ROOT, "benchmarks", "recipe_table.py")
    spec = importlib.util.spec_from_file_location("recipe_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FAMILIES = ("lru", "s5", "s4d")
# what every family's table must cover (the fields the audit found unchecked included)
REQUIRED = ("depth", "d_model", "d_state", "batch", "steps", "norm", "placement", "final_norm",
            "bn_momentum", "dropout", "dropout_tied", "activation", "glu", "pooling",
            "encoder", "bidirectional_form", "warmup_steps", "warmup_start", "end_of_warmup",
            "last_lr", "grad_clip", "evaluation", "group.A", "group.B", "group.C", "group.D",
            "group.norm", "group.bias", "group.weights")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("family", FAMILIES)
def test_built_preset_equals_its_sources_or_states_why(family, task):
    rt = recipe_table()
    rows = rt.rows_of(family, task)
    assert rt.problems(rows) == []
    fields = {r.field for r in rows}
    assert set(REQUIRED) <= fields, set(REQUIRED) - fields
    if task in ("listops", "text", "retrieval"):
        assert {"group.embedding", "padding", "bn_over_padding"} <= fields
    for r in rows:
        if r.status == "stated":
            assert len(r.reason) > 20, r


def test_source_table_cites_a_file_and_line_for_every_value():
    rt = recipe_table()
    src = rt.sources()
    repos = "|".join(k for k in src["sources"] if k not in ("paper", "lradata"))
    cite = re.compile(r"(paper|lradata|(" + repos + r"):[\w./-]+):\d+(-\d+)?(,\d+(-\d+)?)*")
    for family in FAMILIES:
        for task, entries in src[family].items():
            for name, entry in entries.items():
                assert cite.fullmatch(entry["at"]), (family, task, name, entry["at"])
    for family, entries in src["stated"].items():
        for name, entry in entries.items():
            assert set(entry) <= {"lrux", "reason", "tasks"} and entry["reason"], (family, name)
            assert set(entry.get("tasks", TASKS)) <= set(TASKS), (family, name)


def _mutated(family, task, **fields):
    return dataclasses.replace(get_preset(task, family, "paper"), **fields)


def _options(family, task, **options):
    p = get_preset(task, family, "paper")
    return dataclasses.replace(p, mixer_options={**p.mixer_options, **options})


# (family, task, mutated preset, the field whose row must fail); the audit's four first
MUTATIONS = [
    ("lru", "listops", lambda: _mutated("lru", "listops", prenorm=False), "placement"),
    ("lru", "listops", lambda: _mutated("lru", "listops", pooling="last"), "pooling"),
    ("lru", "text", lambda: _mutated("lru", "text", bn_momentum=0.5), "bn_momentum"),
    ("s4d", "image", lambda: _mutated("s4d", "image", norm="batch"), "norm"),
    ("lru", "image", lambda: _mutated("lru", "image", norm="layer"), "norm"),
    ("s4d", "image", lambda: _mutated("s4d", "image", prenorm=True), "placement"),
    ("s4d", "text", lambda: _mutated("s4d", "text", final_norm=False), "final_norm"),
    ("s4d", "pathfinder", lambda: _mutated("s4d", "pathfinder", pooling="mean"), "pooling"),
    ("lru", "text", lambda: _mutated("lru", "text", dropout_tied=False), "dropout_tied"),
    ("lru", "text", lambda: _mutated("lru", "text", dropout=0.0), "dropout"),
    ("lru", "pathx", lambda: _mutated("lru", "pathx", glu="full"), "glu"),
    ("s5", "listops", lambda: _mutated("s5", "listops", glu="half"), "glu"),
    ("lru", "pathfinder", lambda: _mutated("lru", "pathfinder", combine="shared"),
     "bidirectional_form"),
    ("s5", "text", lambda: _mutated("s5", "text", combine="concat"), "bidirectional_form"),
    ("s4d", "listops", lambda: _mutated("s4d", "listops", combine="shared"),
     "bidirectional_form"),  # s4's form starts its anti-causal part at t + 1, not at t
    ("lru", "listops", lambda: _mutated("lru", "listops", depth=4), "depth"),
    ("s4d", "text", lambda: _mutated("s4d", "text", d_model=128), "d_model"),
    ("s5", "retrieval", lambda: _mutated("s5", "retrieval", d_state=128), "d_state"),
    ("lru", "listops", lambda: _mutated("lru", "listops", batch_size=64), "batch"),
    ("s4d", "retrieval", lambda: _mutated("s4d", "retrieval", steps=45_964), "steps"),
    ("lru", "listops", lambda: _options("lru", "listops", r_max=0.9), "ring"),
    ("lru", "pathx", lambda: _options("lru", "pathx", max_phase=2 * math.pi), "max_phase"),
    ("s5", "listops", lambda: _options("s5", "listops", blocks=4), "blocks"),
    ("s5", "listops", lambda: _options("s5", "listops", c_init="trunc_standard_normal"),
     "c_init"),
    ("s5", "image", lambda: _options("s5", "image", clip_eigs=False), "clip_eigs"),
    ("s4d", "listops", lambda: _options("s4d", "listops", discretization="zoh"),
     "discretization"),
    ("s4d", "image", lambda: _options("s4d", "image", n_ssm=None), "n_ssm"),
    ("s4d", "pathx", lambda: _options("s4d", "pathx", dt_min=0.001), "dt_min"),
    ("s4d", "listops", lambda: _options("s4d", "listops", init="legs"), "init"),
    # the optimiser: B1 (the step at the A, B lr), B2 (norms, biases, embedding undecayed)
    ("s4d", "listops", lambda: _mutated("s4d", "listops", param_groups={}), "group.dt"),
    ("s4d", "listops", lambda: _mutated("s4d", "listops", decay_norm_bias=False),
     "group.norm"),
    ("s4d", "text", lambda: _mutated("s4d", "text", decay_norm_bias=False), "group.embedding"),
    ("s4d", "listops", lambda: _mutated("s4d", "listops", lr_factor=1.0), "group.A"),
    ("s4d", "pathfinder", lambda: _mutated("s4d", "pathfinder", weight_decay=0.05),
     "group.weights"),
    ("lru", "text", lambda: _mutated("lru", "text", lr=0.003), "group.C"),
    ("s5", "text", lambda: _mutated("s5", "text", param_groups={}), "group.dt"),
    ("s5", "pathx", lambda: _mutated("s5", "pathx", param_groups={}), "group.B"),
    # the schedule
    ("s4d", "listops", lambda: _mutated("s4d", "listops", warmup_frac=0.1), "warmup_steps"),
    ("s4d", "listops", lambda: _mutated("s4d", "listops", min_lr=1e-7), "warmup_start"),
    ("s4d", "listops", lambda: _mutated("s4d", "listops", schedule_steps=0), "last_lr"),
    ("s5", "image", lambda: _mutated("s5", "image", min_lr=0.0), "last_lr"),
    ("lru", "listops", lambda: _mutated("lru", "listops", warmup_frac=0.05), "warmup_steps"),
    # the loop
    ("lru", "listops", lambda: _mutated("lru", "listops", eval_every=100), "evaluation"),
    ("lru", "listops", lambda: _mutated("lru", "listops", grad_clip=1.0), "grad_clip"),
]


@pytest.mark.parametrize("family,task,make,field", MUTATIONS,
                         ids=[f"{m[0]}-{m[1]}-{m[3]}" for m in MUTATIONS])
def test_a_one_field_change_is_caught(family, task, make, field):
    rt = recipe_table()
    rows = rt.compare(family, task, make())
    failed = {r.field for r in rows if r.status in ("DIFFERS", "STALE")}
    assert field in failed, [r for r in rows if r.field == field]


def test_edits_of_the_preset_tables_and_the_block_are_caught(monkeypatch):
    """Mutating lrux itself (not a returned preset): the S4D table, the shared preset
    fields, and the block's activation."""
    rt = recipe_table()
    image = presets._S4D["image"]
    monkeypatch.setitem(presets._S4D, "image", dataclasses.replace(image, norm="batch"))
    assert "norm" in {r.field for r in rt.compare("s4d", "image") if r.status == "DIFFERS"}
    monkeypatch.undo()

    common = presets._common
    monkeypatch.setattr(presets, "_common", lambda *a, **k: common(*a, **k) | {"glu": "half"})
    assert "glu" in {r.field for r in rt.compare("lru", "text") if r.status == "DIFFERS"}
    monkeypatch.undo()

    gelu = jax.nn.gelu
    monkeypatch.setattr(jax.nn, "gelu", functools.partial(gelu, approximate=False))
    rows = rt.compare("lru", "retrieval")
    assert "activation" in {r.field for r in rows if r.status == "DIFFERS"}


def test_results_page_is_the_tables_output():
    rt = recipe_table()
    assert rt.page_section() == rt.markdown(), (
        "docs/results.md's recipe tables are out of date: python benchmarks/recipe_table.py "
        "--write")
    # the numbers the section's prose states, from the built presets
    text = open(rt.DOC_PATH).read()
    prose = text[text.index("## The training recipe against its sources"):
                 text.index(rt.BEGIN)]
    built = {(r.family, r.task, r.field): r.lrux for f in FAMILIES for r in rt.table(f)}
    warm = sorted({built[("s4d", t, "warmup_steps")] for t in TASKS})
    assert "warmup of " + " / ".join(f"{w:,}" for w in warm) + " steps" in prose
    horizon = rt.sources()["s4d"]["listops"]["num_training_steps"]["value"]
    assert f"({horizon:,} for ListOps' {built[('s4d', 'listops', 'steps')]:,} steps)" in prose
    assert f"S5 Retrieval to {built[('s5', 'retrieval', 'steps')]:,} steps" in prose
