"""Presets against their sources: every mixer's paper preset builds on every task, the S5 and
S4D recipes follow their run scripts and configs, evaluation is once per epoch."""

import math

import numpy as np
import pytest

from lrux.presets import TASKS, TRAIN_SIZE, apply_overrides, get_preset, parse_checkpoint_every
from lrux.registry import MIXERS
from lrux.train.benchmark import preset_spec, time_preset
from lrux.train.state import check_model


@pytest.mark.parametrize("model", list(MIXERS))
def test_every_mixer_paper_preset_builds_on_every_task(model):
    for task in TASKS:
        preset = get_preset(task, model, "paper")
        check_model(preset, preset_spec(preset))  # raises a ConfigError naming the problem


@pytest.mark.parametrize("model", ["s5", "s4d"])
@pytest.mark.parametrize("task", TASKS)
def test_comparison_presets_train_a_few_steps_at_reduced_width(model, task):
    preset = get_preset(task, model, "paper")
    small = {"depth": 1, "d_model": 8, "batch_size": 2}
    if task in ("listops", "text", "retrieval"):  # a token task's option (refused elsewhere)
        small["data.load.max_length"] = 64
    if model == "s4d":
        small["d_state"] = 8
    out = time_preset(apply_overrides(preset, small), steps=2, warmup=1)
    assert np.isfinite(out["final_loss"])


def test_s5_presets_follow_the_run_scripts():
    lo = get_preset("listops", "s5", "paper")
    assert lo.glu == "half2" and lo.mixer_options["c_init"] == "lecun_normal"
    assert lo.param_groups == {"B_re": "decay", "B_im": "decay"}  # BfastandCdecay
    assert lo.bn_momentum == 0.95 and lo.bidirectional and lo.combine == "shared"
    assert lo.warmup_frac == pytest.approx((96_000 // 50) / lo.steps)  # one epoch
    text = get_preset("text", "s5", "paper")
    assert text.param_groups == {"log_dt": "decay"} and text.warmup_frac == 0.0  # dt_global
    assert text.glu == "half2"
    px = get_preset("pathx", "s5", "paper")
    assert px.param_groups == {"B_re": "recurrent_decay", "B_im": "recurrent_decay"}
    assert px.mixer_options["dt_min"] == 0.0001 and px.bn_momentum == 0.9
    assert get_preset("pathfinder", "s5", "paper").param_groups == {}


def test_s4d_presets_follow_s4_configs():
    """A few S4D-era facts at the preset level (every field, built, is in
    tests/test_recipe_sources.py): dt: null trains the step at the global lr without weight
    decay (B1); norms, biases and the embedding are decayed (B2)."""
    for task in TASKS:
        p = get_preset(task, "s4d", "paper")
        assert p.bidirectional and p.glu == "full" and p.dropout_tied and p.decay_norm_bias
        assert p.final_norm == p.prenorm and p.min_lr == 0.0
        assert p.mixer_options["discretization"] == "bilinear"
        dt_null = task not in ("pathfinder", "pathx")
        assert p.param_groups == ({"log_dt": "no_decay"} if dt_null else {})
    px = get_preset("pathx", "s4d", "paper")
    assert px.batch_size == 16 and px.mixer_options["dt_min"] == 0.0001 and px.lr_factor == 1
    image = get_preset("image", "s4d", "paper")
    assert image.norm == "layer" and image.mixer_options["n_ssm"] == 2
    assert get_preset("pathfinder", "s4d", "paper").pooling == "last"


def test_paper_presets_evaluate_once_per_epoch_of_their_own_steps():
    text = get_preset("text", "s5", "paper")
    assert text.eval_every == 0
    assert text.eval_interval(TRAIN_SIZE["text"]) == 25_000 // 50
    assert text.steps // text.eval_interval(TRAIN_SIZE["text"]) == 35  # 35 epochs, 35 evals
    for task in TASKS:
        p = get_preset(task, "lru", "paper")
        assert p.eval_interval(TRAIN_SIZE[task]) == TRAIN_SIZE[task] // p.batch_size
        assert p.checkpoint_interval() == (None, 30.0)
    smoke = get_preset("listops", "lru", "smoke")
    assert smoke.eval_interval(1000) == 80 and smoke.checkpoint_interval() == (None, None)


def test_checkpoint_every_parses_steps_and_minutes():
    assert parse_checkpoint_every("500") == (500, None)
    assert parse_checkpoint_every("30min") == (None, 30.0)
    assert parse_checkpoint_every("2h") == (None, 120.0)
    assert parse_checkpoint_every("") == (None, None)
    for bad in ("soon", "-3", "1.5", "0min"):
        with pytest.raises(ValueError, match="checkpoint_every"):
            parse_checkpoint_every(bad)


def test_ring_overrides_reach_the_mixer_options():
    p = apply_overrides(get_preset("pathx", "lru", "smoke"), ["r_min=0.5", "max_phase=pi/5"])
    assert p.mixer_options["r_min"] == 0.5
    assert p.mixer_options["max_phase"] == pytest.approx(math.pi / 5)
