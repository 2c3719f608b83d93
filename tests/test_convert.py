"""Checkpoints of the bidirectional LRU / S5 written by lrux 0.1 load into today's layout.

Oracle: run directories and logits written by lrux at commit 6496ba9, before issue 24 moved
the shared form's second read-out into `SharedBidirectional`
(tests/fixtures/make_fixtures.py): the converted model must give the logits the old code
gave on the same inputs.
"""

import json
import os
import shutil

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrux.errors import ConfigError
from lrux.layers.bidirectional import Bidirectional, SharedBidirectional
from lrux.models import Classifier, batched_apply
from lrux.train import load_model
from lrux.train.convert import from_lrux_0_1

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
with open(os.path.join(FIXTURES, "bidirectional_checkpoints.json")) as f:
    RUNS = json.load(f)["runs"]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_an_old_checkpoint_loads_and_gives_the_old_logits(name):
    rec = RUNS[name]
    model, bn_state = load_model(os.path.join(FIXTURES, name))
    assert isinstance(model, Classifier)
    mixer = model.encoder.blocks[0].mixer
    want = SharedBidirectional if name.endswith("shared") else Bidirectional
    assert type(mixer) is want
    logits, _ = batched_apply(model, bn_state, jnp.asarray(rec["inputs"]),
                              jnp.asarray(rec["lengths"]), key=None, inference=True)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(rec["logits"]), rtol=1e-5,
                               atol=1e-6)


def test_the_conversion_moves_the_second_readout_beside_the_causal_layer():
    old = {"head": {"w": np.ones(2)},
           "blocks": {"0": {"mixer": {"nu_log": np.zeros(3), "C_re": np.ones(3),
                                      "C2_re": np.full(3, 2.0), "C2_im": np.full(3, 3.0)}}}}
    new = from_lrux_0_1(old)
    mixer = new["blocks"]["0"]["mixer"]
    assert set(mixer) == {"mixer", "backward_readout"}
    assert set(mixer["mixer"]) == {"nu_log", "C_re"}
    np.testing.assert_array_equal(mixer["backward_readout"]["C_re"], 2.0)
    np.testing.assert_array_equal(mixer["backward_readout"]["C_im"], 3.0)
    assert new["head"] == old["head"]


def test_a_checkpoint_of_another_model_is_refused_naming_the_paths(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(os.path.join(FIXTURES, "bidir_lru_shared"), run)
    with open(run / "config.json") as f:
        config = json.load(f)
    config["preset"]["d_state"] = 8  # a model the checkpoint is not of
    with open(run / "config.json", "w") as f:
        json.dump(config, f)
    with pytest.raises(ConfigError, match=r"config.json does not match the checkpoint of step 2 "
                       r"\(a checkpoint of lrux 0.1 of another model; .*: encoder/blocks/0/mix"):
        load_model(str(run))


def test_todays_checkpoint_is_read_as_it_is(tmp_path):
    """A run written by today's code round-trips through the same path (no conversion)."""
    from lrux.train.checkpoint import Checkpointer

    model, bn_state = load_model(os.path.join(FIXTURES, "bidir_s5_shared"))
    run = tmp_path / "run"
    shutil.copytree(os.path.join(FIXTURES, "bidir_s5_shared"), run,
                    ignore=shutil.ignore_patterns("checkpoints"))
    ckpt = Checkpointer(str(run / "checkpoints"))
    ckpt.save(2, {"model": eqx.filter(model, eqx.is_array), "bn_state": bn_state}, {})
    ckpt.close()
    again, _ = load_model(str(run))
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(again, eqx.is_array)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
