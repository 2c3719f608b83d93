"""The causal LRU computes what it computed before issue 24 (a long ListOps run of record was
started with that code: its first losses must replay on this one).

Oracle: tests/fixtures/causal_lru.json, written by lrux at commit 6496ba9
(tests/fixtures/make_fixtures.py): one layer's output for a fixed key and input, and a
paper-size ListOps LRU model's initial parameters (sum and absolute sum of every array, by
path) and first six train-step losses on synthetic batches.
"""

import json
import os

import equinox as eqx
import jax
import numpy as np

from lrux.registry import make_mixer

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "causal_lru.json")


def _fixture() -> dict:
    with open(FIXTURE) as f:
        return json.load(f)


def test_the_causal_lru_layer_gives_the_recorded_output():
    rec = _fixture()["layer"]
    layer = make_mixer("lru", 4, 8, key=jax.random.key(0), r_min=0.4, r_max=0.95)
    y = layer(jax.numpy.asarray(rec["x"], jax.numpy.float32))
    np.testing.assert_allclose(np.asarray(y), np.asarray(rec["y"]), rtol=1e-6, atol=1e-6)


def test_the_paper_listops_lru_replays_its_initial_parameters_and_first_losses():
    from lrux.presets import apply_overrides, get_preset
    from lrux.train import init_train_state, make_mesh, make_train_step
    from lrux.train.benchmark import preset_spec, synthetic_batch
    from lrux.train.sharding import global_batch

    rec = _fixture()["paper_listops"]
    preset = apply_overrides(get_preset("listops", "lru", "paper"), rec["overrides"])
    mesh = make_mesh()
    spec = preset_spec(preset)
    setup = init_train_state(preset, spec, mesh, seed=rec["seed"])
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(setup.state.model, eqx.is_array))[0]
    sums = {jax.tree_util.keystr(p): [float(np.sum(np.asarray(v, np.float64))),
                                      float(np.sum(np.abs(np.asarray(v, np.float64))))]
            for p, v in leaves}
    assert sorted(sums) == sorted(rec["param_sums"])  # the same parameter paths
    for path, want in rec["param_sums"].items():
        np.testing.assert_allclose(sums[path], want, rtol=1e-6, err_msg=path)
    step = make_train_step(setup.tx, mesh)
    rng = np.random.default_rng(rec["batch_rng"])
    state, losses = setup.state, []
    for _ in rec["losses"]:
        batch = synthetic_batch(spec, preset.batch_size, rng)
        state, metrics = step(state, global_batch(batch, mesh))
        losses.append(float(metrics.loss))
    np.testing.assert_allclose(losses, rec["losses"], rtol=1e-6)
