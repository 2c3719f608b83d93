"""One parametrised test of every mixer in `lrux.registry.MIXERS` (the memorax habit).

For each registered name: output shape and dtype, jit == eager, vmap == a loop over the
batch, finite gradients that reach the recurrent parameters, step mode == the full call,
`recurrent_params` naming real fields, and the bidirectional wrapper. A name whose module
is not in the package yet is skipped with the reason; every other failure is a failure.
"""

import dataclasses
import importlib.util

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrux.registry import MIXERS, make_mixer, mixer_class, mixer_names

H, N, L, BATCH = 4, 8, 12, 3
NAMES = list(MIXERS)


def _require_module(name: str) -> None:
    module = MIXERS[name].module
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"mixer {name!r}: module {module} does not exist yet")


def _mixer(name: str, seed: int = 0, **kw):
    _require_module(name)
    return make_mixer(name, H, N, key=jax.random.key(seed), **kw)


def _x(seed: int = 0, shape=(L, H)) -> jax.Array:
    return jax.random.normal(jax.random.key(1000 + seed), shape)


def _close(a, b, rtol=1e-4):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("name", NAMES)
def test_shapes_jit_vmap(name):
    m = _mixer(name)
    x = _x(1)
    y = m(x)  # eager
    assert y.shape == (L, H), f"{name}: {y.shape}"
    assert y.dtype == jnp.float32, f"{name}: {y.dtype}"
    assert bool(jnp.all(jnp.isfinite(y)))
    call = eqx.filter_jit(lambda mod, u: mod(u))
    _close(call(m, x), y)
    xb = _x(2, (BATCH, L, H))
    yb = eqx.filter_jit(lambda mod, u: jax.vmap(mod)(u))(m, xb)
    assert yb.shape == (BATCH, L, H)
    for i in range(BATCH):
        _close(yb[i], call(m, xb[i]))
    # causal: the output at k does not depend on inputs after k
    _close(call(m, x.at[L // 2 :].set(0.0))[: L // 2], y[: L // 2])


@pytest.mark.parametrize("name", NAMES)
def test_gradients_finite(name):
    m = _mixer(name, seed=3)
    xb = _x(4, (BATCH, L, H))
    grads = eqx.filter_jit(eqx.filter_grad(lambda mod: jnp.mean(jax.vmap(mod)(xb) ** 2)))(m)
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(grads, eqx.is_array))
    assert leaves, f"{name}: no differentiable parameters"
    for path, g in leaves:
        assert bool(jnp.all(jnp.isfinite(g))), f"{name}: non-finite gradient at {path}"
    for field in type(m).recurrent_params:
        g = getattr(grads, field)
        if g is None:  # a field of an unused option (e.g. DiagonalRNN's other lambdas)
            continue
        norm = sum(float(jnp.abs(leaf).sum()) for leaf in jax.tree_util.tree_leaves(g))
        assert norm > 0.0, f"{name}: zero gradient for recurrent parameter {field}"


@pytest.mark.parametrize("name", NAMES)
def test_step_equals_call(name):
    m = _mixer(name, seed=5)
    x = _x(6)

    @eqx.filter_jit
    def run_steps(mod, u):
        return jax.lax.scan(lambda s, u_t: mod.step(s, u_t), mod.init_state(), u)[1]

    ys = run_steps(m, x)
    assert ys.shape == (L, H)
    _close(ys, m(x))


@pytest.mark.parametrize("name", NAMES)
def test_recurrent_params_are_fields(name):
    m = _mixer(name)
    names = type(m).recurrent_params
    assert isinstance(names, tuple) and names, f"{name}: recurrent_params must be a tuple"
    fields = {f.name for f in dataclasses.fields(m)}
    assert set(names) <= fields, f"{name}: {set(names) - fields} are not fields"
    present = [getattr(m, f) for f in names if getattr(m, f) is not None]
    assert present and all(
        eqx.is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.floating)
        for p in present
        for leaf in jax.tree_util.tree_leaves(p)
    ), f"{name}: recurrent params must be real arrays"


@pytest.mark.parametrize("name", NAMES)
def test_bidirectional(name):
    _require_module(name)
    _require_module("lru")
    if importlib.util.find_spec("lrux.layers.bidirectional") is None:
        pytest.skip("lrux.layers.bidirectional does not exist yet")
    m = make_mixer(name, H, N, key=jax.random.key(7), bidirectional=True)
    call = eqx.filter_jit(lambda mod, u: mod(u))
    x = _x(8)
    y = call(m, x)
    assert y.shape == (L, H) and bool(jnp.all(jnp.isfinite(y)))
    # anti-causal half: changing the last input changes the first output
    assert not np.allclose(call(m, x.at[-1].add(1.0))[0], y[0])


def test_names_and_ladder_options():
    assert mixer_names() == NAMES
    expected = {
        "rnn-relu": ("ElmanRNN", {"nonlinearity": "relu"}),
        "rnn-tanh": ("ElmanRNN", {"nonlinearity": "tanh"}),
        "linear-dense": ("DenseLinearRNN", {}),
        "diag-reim": ("DiagonalRNN", {"parameterization": "reim", "init": "disk", "gamma": False}),
        "diag-exp": ("DiagonalRNN", {"parameterization": "exp", "init": "disk", "gamma": False}),
        "diag-stable-exp": (
            "DiagonalRNN",
            {"parameterization": "stable-exp", "init": "disk", "gamma": False},
        ),
        "diag-ring": (
            "DiagonalRNN",
            {"parameterization": "stable-exp", "init": "ring", "gamma": False},
        ),
        "lru": ("LRU", {}),
        "gru": ("GRU", {}),
        "lstm": ("LSTM", {}),
    }
    for name, (cls, options) in expected.items():
        m = make_mixer(name, H, N, key=jax.random.key(0))
        assert type(m).__name__ == cls == mixer_class(name).__name__
        for option, value in options.items():
            assert getattr(m, option) == value, (name, option)


def test_options_override_the_rung_defaults():
    m = make_mixer("diag-ring", H, 64, key=jax.random.key(0), r_min=0.8, r_max=0.9)
    r = np.abs(np.asarray(m.eigenvalues()))
    assert r.min() >= 0.8 - 1e-6 and r.max() <= 0.9 + 1e-6


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="unknown mixer"):
        make_mixer("rnn-sigmoid", H, N, key=jax.random.key(0))
